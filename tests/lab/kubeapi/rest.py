"""The REST verbs on resource paths: get, list, watch, create, update, patch, delete, deletecollection."""
from __future__ import annotations

from typing import Optional

from ..lifecycle import LIFECYCLE
from .errors import ApiError, bad_request, method_not_allowed
from .eviction import evict, pdb_selects
from .faults import LAB_USER_AGENT
from .messages import Reply, Request, Response, StreamResponse
from .registry import Registry
from .resources import NODES, PDBS, PODS, ResourceType
from .routing import ResourceTarget
from .selectors import FieldSelector, LabelSelector
from .store import ObjectStore
from .strategy import scale_view
from .tables import as_table, requested_table_version
from .watch import DEFAULT_TIMEOUT_SECONDS, WatchRequest, open_watch

TRUE_VALUES = ("true", "1", "t")


class ResourceHandler:
    def __init__(self, registry: Registry, store: ObjectStore):
        self.registry = registry
        self.store = store

    def handle(self, request: Request, target: ResourceTarget) -> Reply:
        if target.name is None:
            return self._collection(request, target)
        if target.subresource == "eviction":
            return self._evict(request, target)
        if target.subresource == "binding":
            return self._bind(request, target)
        if target.subresource is not None:
            return self._subresource(request, target)
        return self._item(request, target)

    # ---------------------------------------------------------------- collections

    def _collection(self, request: Request, target: ResourceTarget) -> Reply:
        if target.resource.namespaced and target.namespace is None and request.method != "GET":
            raise method_not_allowed()  # the all-namespaces path only lists and watches
        if request.method == "GET":
            if target.legacy_watch or request.query.get("watch", "").lower() in TRUE_VALUES:
                return self._watch(request, target)
            return self._list(request, target)
        if request.method == "POST":
            created = self.registry.create(target.resource, target.namespace, request.json(), _dry_run(request))
            return Response(201, self._render(request, target.resource, created))
        if request.method == "DELETE" and "deletecollection" in target.resource.verbs:
            options = _delete_options(request)
            dry_run = _dry_run(request) or "All" in (options.get("dryRun") or [])
            before = {obj["metadata"]["name"]: obj for obj in self.store.list(target.resource, target.namespace)}
            deleted = self.registry.delete_collection(target.resource, target.namespace, *_selectors(request), dry_run=dry_run, options=options)
            if not dry_run:
                for obj in deleted:
                    record_deletion(target.resource, before.get(obj["metadata"]["name"]), obj, "delete", _actor(request))
            return Response(200, _list_body(target.resource, [_without_type(obj) for obj in deleted], {}))
        raise method_not_allowed()

    def _list(self, request: Request, target: ResourceTarget) -> Response:
        result = self.registry.list(target.resource, target.namespace, *_selectors(request),
                                    limit=_int_param(request, "limit", 0), continue_token=request.query.get("continue", ""))
        metadata: dict = {"resourceVersion": result.resource_version}
        if result.continue_token:
            metadata.update({"continue": result.continue_token, "remainingItemCount": result.remaining})
        table_version = requested_table_version(request.header("Accept"))
        if table_version:
            return Response(200, as_table(target.resource, result.items, table_version, request.query.get("includeObject", "Metadata"), metadata))
        # kube-apiserver leaves apiVersion and kind out of list items
        return Response(200, _list_body(target.resource, [_without_type(obj) for obj in result.items], metadata))

    def _watch(self, request: Request, target: ResourceTarget) -> StreamResponse:
        labels, fields = _selectors(request)
        if target.legacy_watch and target.name is not None:
            fields = FieldSelector.parse(f"metadata.name={target.name}")
        watch = WatchRequest(target.resource, target.namespace, labels, fields, request.query.get("resourceVersion", ""),
                             float(_int_param(request, "timeoutSeconds", int(DEFAULT_TIMEOUT_SECONDS))))
        events = open_watch(self.store, watch)
        table_version = requested_table_version(request.header("Accept"))
        if table_version:
            events = _events_as_tables(events, target.resource, table_version, request.query.get("includeObject", "Metadata"))
        return StreamResponse(events)

    # ---------------------------------------------------------------- single objects

    def _item(self, request: Request, target: ResourceTarget) -> Reply:
        if target.legacy_watch:
            return self._watch(request, target)
        resource, namespace, name = target.resource, target.namespace, target.name or ""
        dry_run = _dry_run(request)
        if request.method == "GET":
            obj = self.registry.get(resource, namespace, name)
        elif request.method == "PUT":
            obj = self.registry.update(resource, namespace, name, request.json(), dry_run=dry_run)
        elif request.method == "PATCH":
            obj = self.registry.patch(resource, namespace, name, request.content_type, request.json(), dry_run=dry_run)
        elif request.method == "DELETE":
            return self._delete(request, target)
        else:
            raise method_not_allowed()
        return Response(200, self._render(request, resource, obj))

    def _delete(self, request: Request, target: ResourceTarget) -> Response:
        options = _delete_options(request)
        dry_run = _dry_run(request) or "All" in (options.get("dryRun") or [])
        before = self.store.get(target.resource, target.namespace, target.name or "")
        obj, gone = self.registry.delete(target.resource, target.namespace, target.name or "", options, dry_run)
        if not dry_run:
            record_deletion(target.resource, before, obj, "delete", _actor(request))
        if gone and not target.resource.return_deleted_object:
            details = {"name": obj["metadata"]["name"], "kind": target.resource.plural, "uid": obj["metadata"].get("uid")}
            if target.resource.group:
                details["group"] = target.resource.group
            return Response(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
        return Response(200, obj)

    def _subresource(self, request: Request, target: ResourceTarget) -> Response:
        resource, namespace, name, sub = target.resource, target.namespace, target.name or "", target.subresource
        dry_run = _dry_run(request)
        if request.method == "GET":
            obj = self.registry.get(resource, namespace, name)
        elif request.method == "PUT":
            obj = self.registry.update(resource, namespace, name, request.json(), sub, dry_run)
        elif request.method == "PATCH":
            obj = self.registry.patch(resource, namespace, name, request.content_type, request.json(), sub, dry_run)
        else:
            raise method_not_allowed()
        return Response(200, scale_view(obj) if sub == "scale" else obj)

    def _evict(self, request: Request, target: ResourceTarget) -> Response:
        """pods/eviction: a deletion that a PodDisruptionBudget may refuse (see eviction.py)."""
        if request.method != "POST":
            raise method_not_allowed()
        namespace, name, actor = target.namespace or "", target.name or "", _actor(request)
        before = self.store.get(target.resource, namespace, name)
        dry_run = _dry_run(request)
        try:
            outcome = evict(self.registry, namespace, name, request.json(default={}), dry_run)
        except ApiError as error:
            if before is not None:
                record_eviction(before, False, _budget_of(before, self.store), error.code, error.message, dry_run, actor)
            raise
        record_eviction(before or outcome.pod, True, outcome.pdb, 201, "", dry_run, actor)
        if not dry_run:
            record_deletion(target.resource, before, outcome.pod, "eviction", actor)
        return _created_status()

    def _bind(self, request: Request, target: ResourceTarget) -> Response:
        if request.method != "POST":
            raise method_not_allowed()
        self.registry.bind_pod(target.namespace or "", target.name or "", request.json(default={}), _dry_run(request))
        return _created_status()

    def _render(self, request: Request, resource: ResourceType, obj: dict) -> dict:
        table_version = requested_table_version(request.header("Accept"))
        if table_version and request.method == "GET":
            return as_table(resource, [obj], table_version, request.query.get("includeObject", "Metadata"))
        return obj


def _delete_options(request: Request) -> dict:
    """DeleteOptions from the body, or else from the query (``?gracePeriodSeconds=0``), as kube-apiserver decodes them."""
    body = request.json(default={}) or {}
    if body:
        return body
    options: dict = {}
    if request.query.get("gracePeriodSeconds", "") != "":
        options["gracePeriodSeconds"] = _int_param(request, "gracePeriodSeconds", 0)
    if request.query.get("propagationPolicy"):
        options["propagationPolicy"] = request.query["propagationPolicy"]
    return options


def _actor(request: Request) -> str:
    return "lab" if LAB_USER_AGENT in (request.header("User-Agent") or "") else "client"


def _budget_of(pod: dict, store: ObjectStore) -> Optional[str]:
    """The budget (or the comma-separated budgets) that select the pod."""
    namespace = pod["metadata"].get("namespace")
    return ",".join(pdb["metadata"]["name"] for pdb in store.list(PDBS, namespace) if pdb_selects(pdb, pod)) or None


def record_eviction(pod: dict, allowed: bool, pdb: Optional[str], code: int, message: str, dry_run: bool, actor: str) -> None:
    metadata = pod.get("metadata") or {}
    LIFECYCLE.record("eviction", namespace=metadata.get("namespace"), pod=metadata.get("name"), node=(pod.get("spec") or {}).get("nodeName"),
                     allowed=allowed, pdb=pdb, code=code, message=message, dry_run=dry_run, actor=actor)


def record_deletion(resource: ResourceType, before: Optional[dict], after: dict, via: str, actor: str) -> None:
    """The first deletion request of a pod (not the kubelet's removal of a terminating one), and node deletions."""
    if before is None:
        return
    metadata = before["metadata"]
    if resource == NODES:
        LIFECYCLE.record("node_delete", node=metadata["name"], actor=actor)
    elif resource == PODS and not metadata.get("deletionTimestamp"):
        LIFECYCLE.record("pod_delete", namespace=metadata.get("namespace"), pod=metadata["name"], node=(before.get("spec") or {}).get("nodeName"),
                         via=via, grace_seconds=(after.get("metadata") or {}).get("deletionGracePeriodSeconds", 0), actor=actor)


def _created_status() -> Response:
    return Response(201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})


def _selectors(request: Request) -> tuple[LabelSelector, FieldSelector]:
    return LabelSelector.parse(request.query.get("labelSelector")), FieldSelector.parse(request.query.get("fieldSelector"))


def _dry_run(request: Request) -> bool:
    value = request.query.get("dryRun", "")
    if value not in ("", "All"):
        raise bad_request(f'unsupported dry run option "{value}": the only supported value is "All"')
    return value == "All"


def _int_param(request: Request, name: str, default: int) -> int:
    value = request.query.get(name, "")
    if not value:
        return default
    try:
        return int(value)
    except ValueError as error:
        raise bad_request(f"{name}: invalid value {value!r}: must be an integer") from error


def _without_type(obj: dict) -> dict:
    return {key: value for key, value in obj.items() if key not in ("apiVersion", "kind")}


def _list_body(resource: ResourceType, items: list[dict], metadata: dict) -> dict:
    return {"kind": resource.list_kind, "apiVersion": resource.api_version, "metadata": metadata, "items": items}


def _events_as_tables(events, resource: ResourceType, table_version: str, include_object: str):
    for event in events:
        if event["type"] == "ERROR":
            yield event
        else:
            yield {"type": event["type"], "object": as_table(resource, [event["object"]], table_version, include_object)}
