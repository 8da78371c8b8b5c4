"""The lab's own clients, in the process that serves the endpoints, hand their requests to the servers' handlers.

The node simulator and the controllers read AWS with boto3 and the cluster with the official Kubernetes client, ten
or so requests a pass, several passes a second while the lab is busy. Over sockets, the HTTP on both sides (TLS,
parsing, a server thread per connection) was about a third of an active lab's CPU. Once ``serve_in_process`` has named
an endpoint, clients made for it in this process keep their whole stack (signing, serialization, the official client's
models) but skip the network: a boto3 client answers from the lab's WSGI application through botocore's ``before-send``
event (as moto's own mock does), a Kubernetes client through a pool manager that calls the API server's handler. The
servers do what they do for any request (authentication, authorization, faults, which spare the lab's clients as
before, and the write hooks). Clients in other processes (tests, the collection) are unaffected.
"""

from __future__ import annotations

import email.message
import functools
from typing import Any, Optional
from urllib.parse import parse_qsl, urlencode, urlsplit

from botocore.awsrequest import AWSResponse
from werkzeug.test import EnvironBuilder, run_wsgi_app

from lab.kubeapi.messages import Request, StreamResponse

_HANDLERS: dict[str, Any] = {}


def serve_in_process(url: str, handler: Any) -> None:
    """Requests of this process's lab clients made from now on for ``url`` go to ``handler``: the AWS endpoint's WSGI
    application, or the API server's ``KubeApi``."""
    _HANDLERS[url.rstrip("/")] = handler


def stop_serving_in_process(url: str) -> None:
    """Clients made from now on for ``url`` use the network again."""
    _HANDLERS.pop(url.rstrip("/"), None)


def handler_for(url: str) -> Optional[Any]:
    return _HANDLERS.get(url.rstrip("/"))


# --------------------------------------------------------------------------- AWS


def attach_aws(client: Any, app: Any) -> Any:
    client.meta.events.register("before-send", functools.partial(_send_to_wsgi, app))
    return client


def _send_to_wsgi(app: Any, request: Any, **_kwargs: Any) -> AWSResponse:
    url = urlsplit(request.url)
    body = request.body
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    headers = [(name, value.decode() if isinstance(value, bytes) else value) for name, value in request.headers.items()]
    environ = EnvironBuilder(method=request.method, base_url=f"{url.scheme}://{url.netloc}", path=url.path, query_string=url.query,
                             headers=headers, data=body or b"").get_environ()
    app_iter, status, response_headers = run_wsgi_app(app, environ, buffered=True)
    data = b"".join(app_iter)
    return AWSResponse(request.url, int(status.split()[0]), dict(response_headers), _Raw(data))


class _Raw:
    """The body of an AWSResponse, as botocore reads it."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_kwargs: Any) -> Any:
        yield self.data


# --------------------------------------------------------------------------- Kubernetes


def attach_kube(api_client: Any, api: Any) -> Any:
    api_client.rest_client.pool_manager = KubePool(api)
    return api_client


class KubeResponse:
    """What the official client reads of urllib3's response."""

    def __init__(self, status: int, data: bytes, headers: dict[str, str]) -> None:
        self.status, self.data, self.headers = status, data, headers
        self.reason = "OK" if status < 400 else "Error"

    def getheaders(self) -> dict[str, str]:
        return self.headers

    def getheader(self, name: str, default: Optional[str] = None) -> Optional[str]:
        return next((value for key, value in self.headers.items() if key.lower() == name.lower()), default)


class KubePool:
    """Stands in for urllib3's PoolManager in a Kubernetes ApiClient."""

    def __init__(self, api: Any) -> None:
        self.api = api

    def request(self, method: str, url: str, fields: Any = None, body: Any = None, headers: Optional[dict] = None, **_kwargs: Any) -> KubeResponse:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        if fields:  # a GET's query parameters, which urllib3 would encode
            query += parse_qsl(urlencode(fields), keep_blank_values=True)
        message = email.message.Message()  # case-insensitive, like the server's http.client.HTTPMessage
        for name, value in (headers or {}).items():
            message[name] = value
        if isinstance(body, str):
            body = body.encode()
        reply = self.api.handle(Request(method, parts.path, dict(query), message, body or b""))
        if isinstance(reply, StreamResponse):
            raise NotImplementedError("watches are not served in process")
        data, content_type = reply.encoded()
        return KubeResponse(reply.status, data, {"Content-Type": content_type, **reply.headers})
