"""REST semantics over the object store, as kube-apiserver's generic registry applies them:
preconditions and conflicts, no-op writes, dry runs, finalizers and namespace lifecycle."""
from __future__ import annotations

import base64
import binascii
import copy
import datetime
import json
import random
import uuid
from dataclasses import dataclass
from typing import Any, Optional

from .decoding import check_decodes
from .errors import ApiError, already_exists, bad_request, conflict, forbidden, invalid, not_found
from .patches import apply_patch
from .resources import NAMESPACES, PODS, ResourceType, for_object
from .selectors import FieldSelector, LabelSelector, object_matches
from .store import ObjectStore
from .strategy import DEFAULT_TERMINATION_GRACE_SECONDS, apply_defaults, prepare_for_create, prepare_for_update, scale_view
from .validation import validate

INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")
_GENERATE_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def now_timestamp() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def timestamp_in(seconds: int) -> str:
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod_grace_seconds(pod: dict, options: Optional[dict]) -> int:
    """The grace period kube-apiserver applies to a pod deletion: 0 (removed at once) for a pod that no
    kubelet runs (unscheduled, or finished), else DeleteOptions.gracePeriodSeconds or the pod's own."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
        return 0
    requested = (options or {}).get("gracePeriodSeconds")
    if requested is None:
        requested = spec.get("terminationGracePeriodSeconds", DEFAULT_TERMINATION_GRACE_SECONDS)
    try:
        return max(int(requested), 0)
    except (TypeError, ValueError) as error:
        raise bad_request(f"gracePeriodSeconds: invalid value {requested!r}: must be an integer") from error


@dataclass
class ListResult:
    items: list[dict]
    resource_version: str
    continue_token: str = ""
    remaining: Optional[int] = None


class Registry:
    """Create, read, update, patch and delete objects of the known resource types."""

    def __init__(self, store: ObjectStore):
        self.store = store
        for name in INITIAL_NAMESPACES:
            self.create(NAMESPACES, None, {"metadata": {"name": name}})

    # ---------------------------------------------------------------- reads

    def get(self, resource: ResourceType, namespace: Optional[str], name: str) -> dict:
        obj = self.store.get(resource, namespace, name)
        if obj is None:
            raise not_found(resource, name)
        return obj

    def list(self, resource: ResourceType, namespace: Optional[str], labels: LabelSelector, fields: FieldSelector,
             limit: int = 0, continue_token: str = "") -> ListResult:
        """Matching objects in (namespace, name) order; pages follow the current state, not a snapshot."""
        with self.store.lock:
            items = [obj for obj in self.store.list(resource, namespace) if object_matches(obj, labels, fields)]
            resource_version = str(self.store.resource_version)
        if continue_token:
            start_after = _decode_continue(continue_token)
            items = [obj for obj in items if _sort_key(obj) > start_after]
        if limit <= 0 or len(items) <= limit:
            return ListResult(items, resource_version)
        page = items[:limit]
        return ListResult(page, resource_version, _encode_continue(_sort_key(page[-1])), len(items) - limit)

    # ---------------------------------------------------------------- writes

    def create(self, resource: ResourceType, namespace: Optional[str], body: Any, dry_run: bool = False, keep_status: bool = False) -> dict:
        with self.store.lock:
            obj = _incoming(resource, namespace, body)
            metadata = obj["metadata"]
            if not metadata.get("name") and metadata.get("generateName"):
                metadata["name"] = metadata["generateName"] + "".join(random.choices(_GENERATE_NAME_ALPHABET, k=5))
            name = metadata.get("name") or ""
            if not name:
                raise invalid(resource, "", [{"reason": "FieldValueRequired", "field": "metadata.name",
                                              "message": "Required value: name or generateName is required"}])
            self._admit_into_namespace(resource, namespace, name)
            status = obj.get("status")
            prepare_for_create(resource, obj)
            if keep_status and status is not None:
                obj["status"] = status
                apply_defaults(resource, obj)
            metadata["uid"] = str(uuid.uuid4())
            metadata["creationTimestamp"] = now_timestamp()
            validate(resource, obj)
            if self.store.get(resource, namespace, name) is not None:
                raise already_exists(resource, name)
            if dry_run:
                return obj
            return self.store.write(resource, obj, None)

    def update(self, resource: ResourceType, namespace: Optional[str], name: str, body: Any,
               subresource: Optional[str] = None, dry_run: bool = False) -> dict:
        """PUT: replace the object, or only what the subresource covers (status, or spec.replicas for scale)."""
        with self.store.lock:
            old = self.get(resource, namespace, name)
            if subresource == "scale":
                incoming = _incoming(resource, namespace, body, kind="Scale", api_version="autoscaling/v1")
            else:
                incoming = _incoming(resource, namespace, body)
            _check_name(incoming, name)
            _check_preconditions(resource, old, incoming["metadata"])
            new = prepare_for_update(resource, incoming, old, subresource)
            return self._commit(resource, old, new, dry_run)

    def patch(self, resource: ResourceType, namespace: Optional[str], name: str, content_type: str, patch: Any,
              subresource: Optional[str] = None, dry_run: bool = False) -> dict:
        """The patched object carries the current resourceVersion unless the patch set one: then it is a precondition."""
        with self.store.lock:
            old = self.get(resource, namespace, name)
            base = scale_view(old) if subresource == "scale" else old
            return self.update(resource, namespace, name, apply_patch(content_type, base, patch), subresource, dry_run)

    def delete(self, resource: ResourceType, namespace: Optional[str], name: str, options: Optional[dict] = None,
               dry_run: bool = False) -> tuple[dict, bool]:
        """Returns the object and whether it is gone now (False while finalizers hold it)."""
        with self.store.lock:
            old = self.get(resource, namespace, name)
            preconditions = (options or {}).get("preconditions") or {}
            _check_preconditions(resource, old, preconditions, stated=True)
            if resource == NAMESPACES:
                return self._delete_namespace(old, dry_run)
            if resource == PODS:
                grace = pod_grace_seconds(old, options)
                if grace > 0:
                    return self._delete_pod_gracefully(old, grace, dry_run)
            return self._delete_object(resource, old, dry_run)

    def delete_collection(self, resource: ResourceType, namespace: Optional[str], labels: LabelSelector, fields: FieldSelector,
                          dry_run: bool = False, options: Optional[dict] = None) -> list[dict]:
        with self.store.lock:
            matching = [obj for obj in self.store.list(resource, namespace) if object_matches(obj, labels, fields)]
            if resource == PODS:
                return [self._delete_pod(obj, options, dry_run) for obj in matching]
            return [self._delete_object(resource, obj, dry_run)[0] for obj in matching]

    def _delete_pod(self, pod: dict, options: Optional[dict], dry_run: bool) -> dict:
        grace = pod_grace_seconds(pod, options)
        return (self._delete_pod_gracefully(pod, grace, dry_run) if grace > 0 else self._delete_object(PODS, pod, dry_run))[0]

    def bind_pod(self, namespace: str, name: str, binding: Any, dry_run: bool = False) -> dict:
        """pods/binding, what the scheduler does: set spec.nodeName once and mark the pod PodScheduled."""
        with self.store.lock:
            pod = self.get(PODS, namespace, name)
            node_name = ((binding or {}).get("target") or {}).get("name") if isinstance(binding, dict) else None
            if not node_name:
                raise bad_request("a Binding needs target.name, the node to bind to")
            assigned = (pod.get("spec") or {}).get("nodeName")
            if assigned or pod["metadata"].get("deletionTimestamp"):
                why = f'pod {name} is already assigned to node "{assigned}"' if assigned else "pod is being deleted, cannot be assigned to a host"
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on pods/binding "{name}": {why}',
                               {"name": name, "kind": "pods/binding"})
            bound = copy.deepcopy(pod)
            bound.setdefault("spec", {})["nodeName"] = node_name
            conditions = [c for c in (bound.setdefault("status", {}).get("conditions") or []) if c.get("type") != "PodScheduled"]
            bound["status"]["conditions"] = conditions + [{"type": "PodScheduled", "status": "True", "lastTransitionTime": now_timestamp()}]
            return bound if dry_run else self.store.write(PODS, bound, pod)

    def touch(self, resource: ResourceType, namespace: Optional[str], name: str) -> dict:
        """Write the object back unchanged under a new resourceVersion, as a concurrent writer would."""
        with self.store.lock:
            old = self.get(resource, namespace, name)
            return self.store.write(resource, copy.deepcopy(old), old)

    def seed(self, manifest: dict) -> dict:
        """Create or replace an object as given, status included, creating its namespace if needed."""
        resource = for_object(manifest)
        body = copy.deepcopy(manifest)
        metadata = body.setdefault("metadata", {})
        namespace = (metadata.get("namespace") or "default") if resource.namespaced else None
        with self.store.lock:
            if namespace and self.store.get(NAMESPACES, None, namespace) is None:
                self.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
            old = self.store.get(resource, namespace, metadata.get("name", ""))
            if old is None:
                return self.create(resource, namespace, body, keep_status=True)
            incoming = _incoming(resource, namespace, body)
            new = prepare_for_update(resource, incoming, old, None)
            if "status" in body:
                new["status"] = body["status"]
                apply_defaults(resource, new)
            return self._commit(resource, old, new, dry_run=False)

    # ---------------------------------------------------------------- internals

    def _admit_into_namespace(self, resource: ResourceType, namespace: Optional[str], name: str) -> None:
        """The NamespaceLifecycle admission plugin: no new content in a missing or terminating namespace."""
        if not resource.namespaced:
            return
        owner = self.store.get(NAMESPACES, None, namespace or "")
        if owner is None:
            raise not_found(NAMESPACES, namespace or "")
        if owner["metadata"].get("deletionTimestamp"):
            raise forbidden(resource, name, f"unable to create new content in namespace {namespace} because it is being terminated")

    def _commit(self, resource: ResourceType, old: dict, new: dict, dry_run: bool) -> dict:
        validate(resource, new, old)
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if new == old or dry_run:
            return old if new == old else new  # a no-op write keeps the resourceVersion and sends no event
        released = new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers")
        if released and resource != NAMESPACES:
            return self._remove(resource, new, old)
        stored = self.store.write(resource, new, old)
        if released:
            self._finalize_namespace(new["metadata"]["name"])
        return stored

    def _delete_object(self, resource: ResourceType, old: dict, dry_run: bool) -> tuple[dict, bool]:
        metadata = old["metadata"]
        if not metadata.get("finalizers"):
            return (old, True) if dry_run else (self._remove(resource, copy.deepcopy(old), old), True)
        if metadata.get("deletionTimestamp"):
            return old, False
        marked = _marked_for_deletion(resource, old)
        return (marked if dry_run else self.store.write(resource, marked, old)), False

    def _delete_pod_gracefully(self, old: dict, grace: int, dry_run: bool) -> tuple[dict, bool]:
        """A pod on a node is only marked (deletionTimestamp = now + grace): its kubelet removes it once stopped.

        A later request may shorten the grace period, never lengthen it.
        """
        metadata = old["metadata"]
        current = metadata.get("deletionGracePeriodSeconds")
        if metadata.get("deletionTimestamp") and current is not None and current <= grace:
            return old, False
        marked = copy.deepcopy(old)
        marked["metadata"]["deletionTimestamp"] = timestamp_in(grace)
        marked["metadata"]["deletionGracePeriodSeconds"] = grace
        return (marked if dry_run else self.store.write(PODS, marked, old)), False

    def _delete_namespace(self, old: dict, dry_run: bool) -> tuple[dict, bool]:
        name = old["metadata"]["name"]
        if name in PROTECTED_NAMESPACES:
            raise forbidden(NAMESPACES, name, "this namespace may not be deleted")
        if old["metadata"].get("deletionTimestamp"):
            return old, False
        terminating = _marked_for_deletion(NAMESPACES, old)
        terminating["status"] = {"phase": "Terminating"}
        if dry_run:
            return terminating, False
        terminating = self.store.write(NAMESPACES, terminating, old)
        for resource, obj in self.store.objects_in_namespace(name):  # what the namespace controller does
            self._delete_object(resource, obj, dry_run=False)
        self._finalize_namespace(name)
        return terminating, self.store.get(NAMESPACES, None, name) is None

    def _remove(self, resource: ResourceType, final_state: dict, old: dict) -> dict:
        removed = self.store.remove(resource, final_state, old)
        if resource.namespaced:
            self._finalize_namespace(old["metadata"]["namespace"])
        return removed

    def _finalize_namespace(self, name: str) -> None:
        """Remove a terminating namespace once it is empty and no metadata finalizer holds it."""
        namespace = self.store.get(NAMESPACES, None, name)
        if namespace is None or not namespace["metadata"].get("deletionTimestamp"):
            return
        if namespace["metadata"].get("finalizers") or self.store.objects_in_namespace(name):
            return
        final_state = copy.deepcopy(namespace)
        final_state.setdefault("spec", {})["finalizers"] = []
        self.store.remove(NAMESPACES, final_state, namespace)


def _incoming(resource: ResourceType, namespace: Optional[str], body: Any, kind: str = "", api_version: str = "") -> dict:
    """A private copy of a request body, with apiVersion, kind and metadata.namespace settled."""
    kind = kind or resource.kind
    if not isinstance(body, dict):
        raise bad_request(f"the body of the request must be a {kind} object")
    if body.get("kind") and body["kind"] != kind:
        raise bad_request(f'the object provided is unrecognized (must be of type {kind}): kind {body["kind"]!r}')
    obj = copy.deepcopy(body)
    obj["apiVersion"] = api_version or resource.api_version
    obj["kind"] = kind
    check_decodes(resource, obj)
    metadata = obj.setdefault("metadata", {})
    if not isinstance(metadata, dict):
        raise bad_request("metadata must be an object")
    if resource.namespaced:
        if metadata.get("namespace") and metadata["namespace"] != namespace:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        metadata["namespace"] = namespace
    else:
        metadata.pop("namespace", None)
    return obj


def _check_name(obj: dict, name: str) -> None:
    given = obj["metadata"].get("name")
    if given and given != name:
        raise bad_request(f"the name of the object ({given}) does not match the name on the URL ({name})")
    obj["metadata"]["name"] = name


def _check_preconditions(resource: ResourceType, old: dict, preconditions: dict, stated: bool = False) -> None:
    """``stated`` preconditions come from DeleteOptions; otherwise they are the body's own metadata."""
    name, current = old["metadata"]["name"], old["metadata"]
    uid = preconditions.get("uid")
    if uid and uid != current.get("uid"):
        raise conflict(resource, name, f"Precondition failed: UID in precondition: {uid}, UID in object meta: {current.get('uid')}")
    version = preconditions.get("resourceVersion")
    if version and version != current["resourceVersion"]:
        if stated:
            raise conflict(resource, name, f"Precondition failed: ResourceVersion in precondition: {version}, "
                                           f"ResourceVersion in object meta: {current['resourceVersion']}")
        raise conflict(resource, name)


def _marked_for_deletion(resource: ResourceType, old: dict) -> dict:
    marked = copy.deepcopy(old)
    metadata = marked["metadata"]
    metadata["deletionTimestamp"] = now_timestamp()
    metadata["deletionGracePeriodSeconds"] = 0
    if resource.tracks_generation:
        metadata["generation"] = metadata.get("generation", 1) + 1
    return marked


def _sort_key(obj: dict) -> tuple[str, str]:
    return obj["metadata"].get("namespace") or "", obj["metadata"]["name"]


def _encode_continue(last: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": list(last)}).encode()).decode()


def _decode_continue(token: str) -> tuple[str, str]:
    try:
        namespace, name = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise ApiError(400, "BadRequest", f"invalid continue token: {error}") from error
    return str(namespace), str(name)
