"""HTTP/1.1 plumbing: keep-alive connections, request bodies, JSON and chunked watch responses."""
from __future__ import annotations

import json
import logging
import ssl
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .errors import ApiError
from .messages import Reply, Request, Response, StreamResponse

LOG = logging.getLogger("lab.kubeapi.http")
DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, ssl.SSLError, TimeoutError)
MAX_BODY_BYTES = 16 * 1024 * 1024


class BodyError(Exception):
    """The request body cannot be read; the connection cannot be reused."""


class KubeApiRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Without TCP_NODELAY, Nagle plus delayed ACKs cost about 40 ms per keep-alive request.
    disable_nagle_algorithm = True
    timeout = 300  # idle keep-alive connections are closed after this many seconds
    server_version = "kube-apiserver-lab"

    def do_GET(self) -> None:  # pylint: disable=invalid-name
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _handle(self) -> None:
        # Read the whole body before anything else, even for requests that fail early:
        # unread bytes would be parsed as the next request on this keep-alive connection.
        try:
            body = self._read_body()
        except BodyError as error:
            self.close_connection = True
            self._send(Response(400, ApiError(400, "BadRequest", str(error)).status()))
            return
        url = urlsplit(self.path)
        request = Request(self.command, url.path, dict(parse_qsl(url.query, keep_blank_values=True)), self.headers, body)
        reply = self.server.api.handle(request)
        try:
            self._send(reply)
        except DISCONNECTS:
            self.close_connection = True
        except Exception:  # pylint: disable=broad-except  # a watch failing mid-stream can only drop the connection
            LOG.exception("internal error streaming %s %s", self.command, self.path)
            self.close_connection = True

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked_body()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError as error:
            raise BodyError("invalid Content-Length") from error
        if length < 0 or length > MAX_BODY_BYTES:
            raise BodyError("request body too large")
        return self.rfile.read(length) if length else b""

    def _read_chunked_body(self) -> bytes:
        parts = []
        while True:
            size_line = self.rfile.readline(1024).split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError as error:
                raise BodyError("invalid chunk size") from error
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _send(self, reply: Reply) -> None:
        if isinstance(reply, StreamResponse):
            self._stream(reply)
            return
        data, content_type = reply.encoded()
        self.send_response(reply.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self._send_extra_headers(reply.headers)
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, reply: StreamResponse) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self._send_extra_headers(reply.headers)
        self.end_headers()
        for event in reply.events:
            self._write_chunk(event)
        self.wfile.write(b"0\r\n\r\n")

    def _write_chunk(self, event: Any) -> None:
        data = json.dumps(event, separators=(",", ":")).encode() + b"\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _send_extra_headers(self, headers: dict[str, str]) -> None:
        for name, value in headers.items():
            self.send_header(name, value)

    def log_message(self, format: str, *args: Any) -> None:  # pylint: disable=redefined-builtin
        LOG.debug("%s " + format, self.address_string(), *args)
