"""Test-only control endpoints under ``/_lab/`` (no authentication): faults, concurrent writes, seeding."""
from __future__ import annotations

from .errors import bad_request, method_not_allowed, unknown_path
from .faults import FaultInjector
from .messages import Request, Response
from .registry import Registry
from .routing import parse_resource_path

CONTROL_PREFIX = "/_lab/"


class LabControl:
    def __init__(self, registry: Registry, faults: FaultInjector):
        self.registry = registry
        self.faults = faults

    def handle(self, request: Request) -> Response:
        endpoint = request.path[len(CONTROL_PREFIX):].strip("/")
        handlers = {"healthz": self._healthz, "faults": self._faults, "bump": self._bump, "seed": self._seed}
        if endpoint not in handlers:
            raise unknown_path()
        return handlers[endpoint](request)

    def _healthz(self, request: Request) -> Response:
        if request.method != "GET":
            raise method_not_allowed()
        return Response(200, "ok")

    def _faults(self, request: Request) -> Response:
        """POST adds {method, path (regex), status, count, message, reason} or {method, path, share, statuses, seed};
        DELETE clears both kinds; GET lists both (share-based ones with "share", "seen" and "injected")."""
        if request.method == "POST":
            self.faults.add(request.json(default={}))
        elif request.method == "DELETE":
            self.faults.clear()
        elif request.method != "GET":
            raise method_not_allowed()
        return Response(200, {"faults": self.faults.describe() + self.faults.describe_shares()})

    def _bump(self, request: Request) -> Response:
        """POST {"path": "<object path>"}: rewrite the object unchanged, so its resourceVersion moves on."""
        if request.method != "POST":
            raise method_not_allowed()
        path = (request.json(default={}) or {}).get("path", "")
        target = parse_resource_path(path)
        if target is None or target.name is None or target.subresource is not None:
            raise bad_request(f"bump needs the path of one object, not {path!r}")
        return Response(200, self.registry.touch(target.resource, target.namespace, target.name))

    def _seed(self, request: Request) -> Response:
        """POST a manifest, a list of manifests or {"items": [...]}: created, or replaced when present."""
        if request.method != "POST":
            raise method_not_allowed()
        body = request.json(default=[])
        manifests = body.get("items", [body]) if isinstance(body, dict) else body
        if not isinstance(manifests, list) or not all(isinstance(m, dict) for m in manifests):
            raise bad_request("seed takes a manifest, a list of manifests or {\"items\": [...]}")
        return Response(200, {"items": [self.registry.seed(manifest) for manifest in manifests]})
