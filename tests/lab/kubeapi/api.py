"""Request dispatch: control endpoints, authentication, injected faults, discovery, then the REST verbs."""
from __future__ import annotations

import logging
from typing import Optional

from . import discovery
from .auth import AuthenticationError, TokenAuthenticator
from .control import CONTROL_PREFIX, LabControl
from .errors import ApiError, method_not_allowed, unauthorized, unknown_path
from .faults import LAB_USER_AGENT, FaultInjector
from .messages import Reply, Request, Response
from .registry import Registry
from .rest import ResourceHandler
from .rbac import RbacAuthorizer
from .routing import parse_resource_path
from .store import ObjectStore

LOG = logging.getLogger("lab.kubeapi")
# EKS keeps anonymous access to these (system:public-info-viewer); a bad token still gets 401.
PUBLIC_PATHS = ("/version", "/healthz", "/livez", "/readyz")
HEALTH_PATHS = ("/healthz", "/livez", "/readyz")


def is_lab_client(user_agent: Optional[str]) -> bool:
    """The lab's own simulator and controllers say so in User-Agent; injected faults are for the code under test."""
    return LAB_USER_AGENT in (user_agent or "")


class KubeApi:
    def __init__(self, store: ObjectStore, registry: Registry, authenticator: TokenAuthenticator, faults: FaultInjector,
                 version: dict, server_address: str, authorizer: Optional[RbacAuthorizer] = None):
        self.authenticator = authenticator
        self.authorizer = authorizer
        self.faults = faults
        self.version = version
        self.server_address = server_address
        self.resources = ResourceHandler(registry, store)
        self.control = LabControl(registry, faults)

    def handle(self, request: Request) -> Reply:
        """The reply to a request; a bug answers 500, like a panic in kube-apiserver."""
        try:
            return self._handle(request)
        except Exception as error:  # pylint: disable=broad-except
            LOG.exception("internal error serving %s %s", request.method, request.path)
            return Response(500, ApiError(500, "InternalError", f"Internal error occurred: {error}").status())

    def _handle(self, request: Request) -> Reply:
        try:
            if request.path.startswith(CONTROL_PREFIX):
                return self.control.handle(request)
            self._authenticate(request)
            fault = None if is_lab_client(request.header("User-Agent")) else self.faults.take(request.method, request.path)
            if fault is not None:
                if getattr(fault, "after", False):
                    self._route(request)  # the write is committed; only its answer is lost
                raise fault
            return self._route(request)
        except ApiError as error:
            return Response(error.code, error.status(), dict(error.headers))

    def _authenticate(self, request: Request) -> None:
        authorization = request.header("Authorization")
        if not authorization and request.method == "GET" and request.path in PUBLIC_PATHS:
            return
        try:
            identity = self.authenticator.authenticate(authorization)
        except AuthenticationError as error:
            raise unauthorized(str(error)) from error
        LOG.debug("%s %s as %s", request.method, request.path, identity.username)
        if self.authorizer is not None:
            self.authorizer.authorize(identity, request.method, request.query, parse_resource_path(request.path))

    def _route(self, request: Request) -> Reply:
        target = parse_resource_path(request.path)
        if target is not None:
            return self.resources.handle(request, target)
        if request.method != "GET":
            raise method_not_allowed()
        body = self._discovery(request.path.rstrip("/") or "/")
        if body is None:
            raise unknown_path()
        return Response(200, body)

    def _discovery(self, path: str):
        segments = path.strip("/").split("/")
        if path in HEALTH_PATHS:
            return "ok"
        if path == "/version":
            return self.version
        if path == "/api":
            return discovery.api_versions(self.server_address)
        if path == "/apis":
            return discovery.api_group_list()
        if path == "/":
            return {"paths": ["/api", "/api/v1", "/apis", "/version", "/healthz", "/livez", "/readyz"]
                    + [f"/apis/{group['name']}" for group in discovery.api_group_list()["groups"]]}
        if segments[0] == "api" and len(segments) == 2:
            return discovery.api_resource_list("", segments[1])
        if segments[0] == "apis" and len(segments) == 2:
            return discovery.api_group(segments[1])
        if segments[0] == "apis" and len(segments) == 3:
            return discovery.api_resource_list(segments[1], segments[2])
        return None
