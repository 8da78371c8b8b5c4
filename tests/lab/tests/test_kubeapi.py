"""Contract tests of the lab Kubernetes API server, driven by the official Python client, kubectl and EKS tokens.

They pin the kube-apiserver behaviours the collection depends on: resourceVersion and 409s, patches,
selectors, watches, discovery for the DynamicClient (what kubernetes.core uses), subresources, dry runs,
authentication, and the lab's fault and concurrent-writer hooks.
"""
from __future__ import annotations

import base64
import functools
import http.client
import itertools
import json
import shutil
import ssl
import subprocess
import threading
import time

import boto3
import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

from lab.kubeapi import KubeApiServer, TokenAuthenticator, mint_eks_token
from lab.kubeapi.auth import AuthenticationError, EKS_TOKEN_PREFIX

ADMIN_TOKEN = "lab-admin-token"
EKS_TOKEN_TTL_SECONDS = 900
WINDOWS = "kubernetes.io/os=windows"
NODES = {
    "ip-10-0-0-10.ec2.internal": {"kubernetes.io/os": "linux", "eks.amazonaws.com/nodegroup": "ng"},
    "ip-10-0-0-11.ec2.internal": {"kubernetes.io/os": "windows", "eks.amazonaws.com/nodegroup": "ng"},
    "ip-10-0-0-12.ec2.internal": {"kubernetes.io/os": "windows", "eks.amazonaws.com/nodegroup": "win"},
}
_names = itertools.count(1)


class _Clock:
    """The authenticator's clock, which tests can move forward."""

    def __init__(self):
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture(scope="module")
def kubeapi_clock():
    return _Clock()


@pytest.fixture(scope="module")
def kubeapi_tls_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("kubeapi-tls")


@pytest.fixture(scope="module")
def kubeapi_server(kubeapi_tls_dir, kubeapi_clock):
    authenticator = TokenAuthenticator(static_tokens={ADMIN_TOKEN}, eks_token_ttl_seconds=EKS_TOKEN_TTL_SECONDS, clock=kubeapi_clock)
    server = KubeApiServer(tls_dir=kubeapi_tls_dir, authenticator=authenticator, kubernetes_version="1.31").start()
    for name, labels in NODES.items():
        server.seed({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
                     "spec": {"providerID": f"aws:///us-east-1a/i-{name[10:12]}"}})
    yield server
    server.stop()


def _api_client(server: KubeApiServer, token: str | None = ADMIN_TOKEN) -> client.ApiClient:
    configuration = client.Configuration()
    configuration.host = server.url
    configuration.ssl_ca_cert = str(server.ca_file)
    if token:
        configuration.api_key = {"authorization": f"Bearer {token}"}
    return client.ApiClient(configuration)


@pytest.fixture(scope="module")
def kubeapi_client(kubeapi_server):
    with _api_client(kubeapi_server) as api_client:
        yield api_client


@pytest.fixture
def kubeapi_core(kubeapi_client):
    return client.CoreV1Api(kubeapi_client)


@pytest.fixture
def kubeapi_apps(kubeapi_client):
    return client.AppsV1Api(kubeapi_client)


@pytest.fixture
def kubeapi_namespace(kubeapi_core):
    """A fresh namespace per test, so that tests sharing the module's server do not see each other."""
    name = f"test-{next(_names)}"
    kubeapi_core.create_namespace({"metadata": {"name": name}})
    return name


@pytest.fixture
def kubeapi_dynamic(kubeapi_client, tmp_path):
    return DynamicClient(kubeapi_client, cache_file=str(tmp_path / "discovery.json"))


def _config_map(name: str, data: dict | None = None, labels: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels or {}}, "data": data or {"k": "v"}}


def _deployment(name: str, replicas: int = 2) -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": name, "image": f"{name}:1", "ports": [{"containerPort": 53}]}]}}}}


def _status_of(error: ApiException) -> dict:
    return json.loads(error.body)


def _connection(server: KubeApiServer) -> http.client.HTTPSConnection:
    return http.client.HTTPSConnection("127.0.0.1", server.port, context=ssl.create_default_context(cafile=str(server.ca_file)))


def _raw(server: KubeApiServer, method: str, path: str, body=None, token: str | None = ADMIN_TOKEN, headers: dict | None = None,
         connection: http.client.HTTPSConnection | None = None):
    """One request over HTTPS (on ``connection`` when given); returns (status, headers, decoded body)."""
    conn = connection or _connection(server)
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    payload = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=payload, headers=all_headers)
    response = conn.getresponse()
    data = response.read()
    if connection is None:
        conn.close()
    decoded = json.loads(data) if response.getheader("Content-Type", "").startswith("application/json") else data.decode()
    return response.status, response.headers, decoded


# ---------------------------------------------------------------------------- object metadata and conflicts

def test_create_sets_uid_timestamp_and_resource_version(kubeapi_core, kubeapi_namespace):
    created = kubeapi_core.create_namespaced_config_map(kubeapi_namespace, _config_map("aws-auth"))
    assert created.metadata.uid and created.metadata.creation_timestamp
    assert created.metadata.resource_version.isdigit()
    assert created.metadata.generation is None  # only types with a spec to observe carry a generation


def test_resource_versions_come_from_one_global_counter(kubeapi_core, kubeapi_namespace):
    first = kubeapi_core.create_namespaced_config_map(kubeapi_namespace, _config_map("a")).metadata.resource_version
    second = kubeapi_core.create_namespaced_config_map(kubeapi_namespace, _config_map("b")).metadata.resource_version
    assert int(second) > int(first)
    assert int(kubeapi_core.list_namespace().metadata.resource_version) >= int(second)


def test_duplicate_create_is_already_exists(kubeapi_core, kubeapi_namespace):
    kubeapi_core.create_namespaced_config_map(kubeapi_namespace, _config_map("aws-auth"))
    with pytest.raises(ApiException) as caught:
        kubeapi_core.create_namespaced_config_map(kubeapi_namespace, _config_map("aws-auth"))
    assert caught.value.status == 409
    assert _status_of(caught.value)["reason"] == "AlreadyExists"
    assert _status_of(caught.value)["message"] == 'configmaps "aws-auth" already exists'


def test_put_with_current_version_succeeds_and_stale_version_conflicts(kubeapi_core, kubeapi_namespace):
    created = kubeapi_core.create_namespaced_config_map(kubeapi_namespace, _config_map("aws-auth", {"mapRoles": "a"}))
    created.data["mapRoles"] = "b"
    replaced = kubeapi_core.replace_namespaced_config_map("aws-auth", kubeapi_namespace, created)
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    stale = _config_map("aws-auth", {"mapRoles": "stale"})
    stale["metadata"]["resourceVersion"] = created.metadata.resource_version
    with pytest.raises(ApiException) as caught:
        kubeapi_core.replace_namespaced_config_map("aws-auth", kubeapi_namespace, stale)
    status = _status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (409, "Conflict")
    assert "the object has been modified" in status["message"]
    assert kubeapi_core.read_namespaced_config_map("aws-auth", kubeapi_namespace).data == {"mapRoles": "b"}


def test_patch_with_stale_resource_version_conflicts(kubeapi_core, kubeapi_namespace):
    created = kubeapi_core.create_namespaced_config_map(kubeapi_namespace, _config_map("aws-auth"))
    kubeapi_core.patch_namespaced_config_map("aws-auth", kubeapi_namespace, {"data": {"k": "changed"}})
    with pytest.raises(ApiException) as caught:
        stale = {"metadata": {"resourceVersion": created.metadata.resource_version}, "data": {"k": "stale"}}
        kubeapi_core.patch_namespaced_config_map("aws-auth", kubeapi_namespace, stale)
    assert (caught.value.status, _status_of(caught.value)["reason"]) == (409, "Conflict")


def test_noop_writes_keep_the_resource_version(kubeapi_core, kubeapi_namespace):
    created = kubeapi_core.create_namespaced_config_map(kubeapi_namespace, _config_map("aws-auth"))
    patched = kubeapi_core.patch_namespaced_config_map("aws-auth", kubeapi_namespace, {"data": {"k": "v"}})
    replaced = kubeapi_core.replace_namespaced_config_map("aws-auth", kubeapi_namespace, patched)
    assert created.metadata.resource_version == patched.metadata.resource_version == replaced.metadata.resource_version


# ---------------------------------------------------------------------------- patches

def test_json_merge_patch_adds_keys_and_null_deletes(kubeapi_core, kubeapi_namespace):
    kubeapi_core.create_namespaced_config_map(kubeapi_namespace, _config_map("aws-auth", {"mapRoles": "a", "old": "x"}))
    patched = kubeapi_core.patch_namespaced_config_map("aws-auth", kubeapi_namespace, {"data": {"new": "y", "old": None}},
                                                       _content_type="application/merge-patch+json")
    assert patched.data == {"mapRoles": "a", "new": "y"}


def test_strategic_merge_patch_merges_lists_by_merge_key(kubeapi_apps, kubeapi_namespace):
    kubeapi_apps.create_namespaced_deployment(kubeapi_namespace, _deployment("coredns"))
    containers_patch = [{"name": "coredns", "env": [{"name": "A", "value": "1"}]}, {"name": "sidecar", "image": "sidecar:1"}]
    patch = {"spec": {"template": {"spec": {"containers": containers_patch}}}}
    patched = kubeapi_apps.patch_namespaced_deployment("coredns", kubeapi_namespace, patch)
    containers = {c.name: c for c in patched.spec.template.spec.containers}
    assert containers["coredns"].image == "coredns:1" and containers["coredns"].env[0].name == "A"
    assert containers["coredns"].ports[0].container_port == 53
    assert containers["sidecar"].image == "sidecar:1"
    delete_sidecar = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}
    deleted = kubeapi_apps.patch_namespaced_deployment("coredns", kubeapi_namespace, delete_sidecar)
    assert [c.name for c in deleted.spec.template.spec.containers] == ["coredns"]


def test_json_patch(kubeapi_core, kubeapi_namespace):
    kubeapi_core.create_namespaced_config_map(kubeapi_namespace, _config_map("aws-auth", {"mapRoles": "a"}))
    operations = [{"op": "add", "path": "/data/mapUsers", "value": "u"}, {"op": "remove", "path": "/data/mapRoles"}]
    patched = kubeapi_core.patch_namespaced_config_map("aws-auth", kubeapi_namespace, operations)
    assert patched.data == {"mapUsers": "u"}
    with pytest.raises(ApiException) as caught:
        kubeapi_core.patch_namespaced_config_map("aws-auth", kubeapi_namespace, [{"op": "remove", "path": "/data/missing"}])
    assert (caught.value.status, _status_of(caught.value)["reason"]) == (422, "Invalid")


# ---------------------------------------------------------------------------- selectors and lists

@pytest.mark.parametrize("selector, expected", [
    (WINDOWS, {"ip-10-0-0-11.ec2.internal", "ip-10-0-0-12.ec2.internal"}),
    ("kubernetes.io/os==windows,eks.amazonaws.com/nodegroup=win", {"ip-10-0-0-12.ec2.internal"}),
    ("kubernetes.io/os!=windows,eks.amazonaws.com/nodegroup in (ng)", {"ip-10-0-0-10.ec2.internal"}),
    ("eks.amazonaws.com/nodegroup notin (ng, other)", {"ip-10-0-0-12.ec2.internal"}),
    ("eks.amazonaws.com/nodegroup", set(NODES)),
    ("!eks.amazonaws.com/nodegroup", set()),
])
def test_label_selectors(kubeapi_core, kubeapi_server, selector, expected):
    assert {node.metadata.name for node in kubeapi_core.list_node(label_selector=selector).items} == expected


@pytest.mark.parametrize("selector, expected", [
    ("metadata.name=ip-10-0-0-11.ec2.internal", {"ip-10-0-0-11.ec2.internal"}),
    ("metadata.name!=ip-10-0-0-11.ec2.internal,spec.providerID=aws:///us-east-1a/i-10", {"ip-10-0-0-10.ec2.internal"}),
])
def test_field_selectors(kubeapi_core, kubeapi_server, selector, expected):
    assert {node.metadata.name for node in kubeapi_core.list_node(field_selector=selector).items} == expected


def test_field_selector_on_namespace_across_namespaces(kubeapi_core, kubeapi_namespace):
    kubeapi_core.create_namespaced_config_map(kubeapi_namespace, _config_map("aws-auth"))
    items = kubeapi_core.list_config_map_for_all_namespaces(field_selector=f"metadata.namespace={kubeapi_namespace}").items
    assert [(cm.metadata.namespace, cm.metadata.name) for cm in items] == [(kubeapi_namespace, "aws-auth")]


def test_list_is_typed_with_numeric_version_and_untyped_items(kubeapi_server, kubeapi_namespace):
    status, _headers, body = _raw(kubeapi_server, "GET", "/api/v1/nodes")
    assert status == 200 and (body["kind"], body["apiVersion"]) == ("NodeList", "v1")
    assert body["metadata"]["resourceVersion"].isdigit()
    assert all("kind" not in item for item in body["items"])  # as kube-apiserver: list items carry no apiVersion/kind


def test_list_pages_with_limit_and_continue(kubeapi_core, kubeapi_namespace):
    for index in range(3):
        kubeapi_core.create_namespaced_config_map(kubeapi_namespace, _config_map(f"cm-{index}"))
    first = kubeapi_core.list_namespaced_config_map(kubeapi_namespace, limit=2)
    second = kubeapi_core.list_namespaced_config_map(kubeapi_namespace, limit=2, _continue=first.metadata.to_dict()["_continue"])
    assert [cm.metadata.name for cm in first.items + second.items] == ["cm-0", "cm-1", "cm-2"]
    assert second.metadata.to_dict()["_continue"] is None


# ---------------------------------------------------------------------------- watch

def test_watch_from_list_version_sees_added_then_modified_and_ends_at_timeout(kubeapi_core, kubeapi_namespace):
    since = kubeapi_core.list_namespaced_config_map(kubeapi_namespace).metadata.resource_version

    def writer():
        time.sleep(0.2)
        kubeapi_core.create_namespaced_config_map(kubeapi_namespace, _config_map("aws-auth", labels={"watched": "yes"}))
        kubeapi_core.create_namespaced_config_map(kubeapi_namespace, _config_map("ignored"))
        kubeapi_core.patch_namespaced_config_map("aws-auth", kubeapi_namespace, {"data": {"k": "2"}})

    thread = threading.Thread(target=writer)
    thread.start()
    started = time.monotonic()
    events = [(event["type"], event["object"].metadata.name, (event["object"].data or {}).get("k"))
              for event in watch.Watch().stream(kubeapi_core.list_namespaced_config_map, kubeapi_namespace, resource_version=since,
                                                label_selector="watched=yes", timeout_seconds=1)]
    elapsed = time.monotonic() - started
    thread.join()
    assert events == [("ADDED", "aws-auth", "v"), ("MODIFIED", "aws-auth", "2")]
    assert 0.9 <= elapsed < 2.5


def test_watch_reports_objects_entering_and_leaving_the_selector(kubeapi_core, kubeapi_namespace):
    kubeapi_core.create_namespaced_config_map(kubeapi_namespace, _config_map("aws-auth"))
    since = kubeapi_core.list_namespaced_config_map(kubeapi_namespace).metadata.resource_version
    kubeapi_core.patch_namespaced_config_map("aws-auth", kubeapi_namespace, {"metadata": {"labels": {"tier": "a"}}})
    kubeapi_core.patch_namespaced_config_map("aws-auth", kubeapi_namespace, {"metadata": {"labels": {"tier": "b"}}})
    stream = watch.Watch()
    events = []
    for event in stream.stream(kubeapi_core.list_namespaced_config_map, kubeapi_namespace, resource_version=since, label_selector="tier=a",
                               timeout_seconds=5):
        events.append(event["type"])
        if len(events) == 2:
            stream.stop()
    assert events == ["ADDED", "DELETED"]


def test_watch_without_resource_version_starts_with_synthetic_added(kubeapi_core, kubeapi_namespace):
    kubeapi_core.create_namespaced_config_map(kubeapi_namespace, _config_map("aws-auth"))
    stream = watch.Watch()
    for event in stream.stream(kubeapi_core.list_namespaced_config_map, kubeapi_namespace, timeout_seconds=5):
        assert (event["type"], event["object"].metadata.name) == ("ADDED", "aws-auth")
        stream.stop()


def test_watch_from_a_compacted_version_is_gone(kubeapi_tls_dir):
    authenticator = TokenAuthenticator(static_tokens={ADMIN_TOKEN})
    with KubeApiServer(tls_dir=kubeapi_tls_dir, authenticator=authenticator, watch_history=3) as server, _api_client(server) as api_client:
        core_api = client.CoreV1Api(api_client)
        for index in range(5):
            core_api.create_namespaced_config_map("default", _config_map(f"cm-{index}"))
        with pytest.raises(ApiException) as caught:
            list(watch.Watch().stream(core_api.list_namespaced_config_map, "default", resource_version="2", timeout_seconds=1))
    assert caught.value.status == 410


# ---------------------------------------------------------------------------- discovery and the dynamic client

def test_version_reports_the_configured_kubernetes_version(kubeapi_server):
    status, _headers, body = _raw(kubeapi_server, "GET", "/version", token=None)
    assert status == 200
    assert (body["major"], body["minor"], body["gitVersion"]) == ("1", "31", "v1.31.0-eks-lab")


def test_dynamic_client_discovers_and_lists_config_maps_and_deployments(kubeapi_dynamic, kubeapi_core, kubeapi_apps, kubeapi_namespace):
    kubeapi_core.create_namespaced_config_map(kubeapi_namespace, _config_map("aws-auth"))
    kubeapi_apps.create_namespaced_deployment(kubeapi_namespace, _deployment("coredns"))
    config_maps = kubeapi_dynamic.resources.get(api_version="v1", kind="ConfigMap")
    deployments = kubeapi_dynamic.resources.get(api_version="apps/v1", kind="Deployment")
    assert config_maps.namespaced and deployments.group_version == "apps/v1"
    assert kubeapi_dynamic.resources.get(api_version="admissionregistration.k8s.io/v1", kind="MutatingWebhookConfiguration")
    assert [cm.metadata.name for cm in config_maps.get(namespace=kubeapi_namespace).items] == ["aws-auth"]
    listed = deployments.get(namespace=kubeapi_namespace)
    assert listed.kind == "DeploymentList" and [d.metadata.name for d in listed.items] == ["coredns"]
    nodes = kubeapi_dynamic.resources.get(api_version="v1", kind="Node").get(label_selector=WINDOWS)
    assert len(nodes.items) == 2


def test_dynamic_client_strategic_merge_patch_like_kubernetes_core(kubeapi_dynamic, kubeapi_core, kubeapi_namespace):
    kubeapi_core.create_namespaced_config_map(kubeapi_namespace, _config_map("aws-auth", {"mapRoles": "a"}))
    resource = kubeapi_dynamic.resources.get(api_version="v1", kind="ConfigMap")
    patched = resource.patch(body={"metadata": {"name": "aws-auth"}, "data": {"mapUsers": "u"}}, name="aws-auth",
                             namespace=kubeapi_namespace, content_type="application/strategic-merge-patch+json")
    assert dict(patched.data) == {"mapRoles": "a", "mapUsers": "u"}


def test_legacy_vpc_admission_webhook_configuration_can_be_found_and_deleted(kubeapi_dynamic):
    resource = kubeapi_dynamic.resources.get(api_version="admissionregistration.k8s.io/v1", kind="MutatingWebhookConfiguration")
    resource.create(body={"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
                          "metadata": {"name": "vpc-admission-webhook-cfg"}, "webhooks": []})
    assert resource.get(name="vpc-admission-webhook-cfg").metadata.generation == 1
    resource.delete(name="vpc-admission-webhook-cfg")
    with pytest.raises(Exception) as caught:
        resource.get(name="vpc-admission-webhook-cfg")
    assert getattr(caught.value, "status", None) == 404


# ---------------------------------------------------------------------------- subresources, generation, dry run, deletion

def test_node_status_subresource_is_isolated_from_the_main_resource(kubeapi_core, kubeapi_server):
    name = "ip-10-0-0-11.ec2.internal"
    kubeapi_core.patch_node_status(name, {"metadata": {"labels": {"sneaky": "1"}}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    kubeapi_core.patch_node(name, {"metadata": {"labels": {"role": "w"}}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}})
    node = kubeapi_core.read_node(name)
    assert "sneaky" not in node.metadata.labels and node.metadata.labels["role"] == "w"
    assert [(c.type, c.status) for c in node.status.conditions] == [("Ready", "True")]
    assert node.spec.provider_id == "aws:///us-east-1a/i-11"


def test_deployment_generation_status_and_scale(kubeapi_apps, kubeapi_namespace):
    created = kubeapi_apps.create_namespaced_deployment(kubeapi_namespace, {**_deployment("coredns"), "status": {"readyReplicas": 2}})
    assert created.metadata.generation == 1 and created.status.ready_replicas is None  # status is reset on create
    observed = kubeapi_apps.patch_namespaced_deployment_status("coredns", kubeapi_namespace, {"status": {"observedGeneration": 1, "readyReplicas": 2}})
    assert observed.metadata.generation == 1
    new_image = {"spec": {"template": {"spec": {"containers": [{"name": "coredns", "image": "coredns:2"}]}}}}
    changed = kubeapi_apps.patch_namespaced_deployment("coredns", kubeapi_namespace, new_image)
    assert changed.metadata.generation == 2 and changed.status.observed_generation == 1
    scale = kubeapi_apps.patch_namespaced_deployment_scale("coredns", kubeapi_namespace, {"spec": {"replicas": 3}})
    assert (scale.spec.replicas, scale.status.selector) == (3, "app=coredns")
    scaled = kubeapi_apps.read_namespaced_deployment("coredns", kubeapi_namespace)
    assert (scaled.spec.replicas, scaled.metadata.generation, scaled.status.ready_replicas) == (3, 3, 2)


def test_dry_run_persists_nothing(kubeapi_core, kubeapi_namespace):
    dry = kubeapi_core.create_namespaced_config_map(kubeapi_namespace, _config_map("aws-auth"), dry_run="All")
    assert dry.metadata.uid and not dry.metadata.resource_version
    assert kubeapi_core.list_namespaced_config_map(kubeapi_namespace).items == []
    kubeapi_core.create_namespaced_config_map(kubeapi_namespace, _config_map("aws-auth"))
    kubeapi_core.patch_namespaced_config_map("aws-auth", kubeapi_namespace, {"data": {"k": "dry"}}, dry_run="All")
    kubeapi_core.delete_namespaced_config_map("aws-auth", kubeapi_namespace, dry_run="All")
    assert kubeapi_core.read_namespaced_config_map("aws-auth", kubeapi_namespace).data == {"k": "v"}


def test_finalizers_hold_objects_and_namespace_deletion_cascades(kubeapi_core, kubeapi_namespace):
    kubeapi_core.create_namespaced_config_map(kubeapi_namespace, {**_config_map("held"), "metadata": {"name": "held", "finalizers": ["lab/hold"]}})
    kubeapi_core.create_namespaced_config_map(kubeapi_namespace, _config_map("free"))
    kubeapi_core.delete_namespace(kubeapi_namespace)
    assert kubeapi_core.read_namespace(kubeapi_namespace).status.phase == "Terminating"
    assert [cm.metadata.name for cm in kubeapi_core.list_namespaced_config_map(kubeapi_namespace).items] == ["held"]
    assert kubeapi_core.read_namespaced_config_map("held", kubeapi_namespace).metadata.deletion_timestamp
    with pytest.raises(ApiException) as caught:
        kubeapi_core.create_namespaced_config_map(kubeapi_namespace, _config_map("late"))
    assert (caught.value.status, _status_of(caught.value)["reason"]) == (403, "Forbidden")
    kubeapi_core.patch_namespaced_config_map("held", kubeapi_namespace, {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as caught:
        kubeapi_core.read_namespace(kubeapi_namespace)
    assert caught.value.status == 404


def test_pod_binding_assigns_a_node_once_and_the_pod_spec_is_immutable(kubeapi_core, kubeapi_namespace):
    kubeapi_core.create_namespaced_pod(kubeapi_namespace, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "c:1"}]}})
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"}, "target": {"kind": "Node", "name": "ip-10-0-0-11.ec2.internal"}}
    kubeapi_core.create_namespaced_pod_binding("p", kubeapi_namespace, binding, _preload_content=False)
    pod = kubeapi_core.read_namespaced_pod("p", kubeapi_namespace)
    assert pod.spec.node_name == "ip-10-0-0-11.ec2.internal" and pod.status.phase == "Pending"
    with pytest.raises(ApiException) as caught:
        kubeapi_core.create_namespaced_pod_binding("p", kubeapi_namespace, binding, _preload_content=False)
    assert caught.value.status == 409
    with pytest.raises(ApiException) as caught:
        kubeapi_core.patch_namespaced_pod("p", kubeapi_namespace, {"spec": {"nodeName": "elsewhere"}})
    assert (caught.value.status, _status_of(caught.value)["reason"]) == (422, "Invalid")
    new_image = {"spec": {"containers": [{"name": "c", "image": "c:2"}]}}
    assert kubeapi_core.patch_namespaced_pod("p", kubeapi_namespace, new_image).spec.containers[0].image == "c:2"


def test_secret_string_data_is_folded_into_data(kubeapi_core, kubeapi_namespace):
    secret = kubeapi_core.create_namespaced_secret(kubeapi_namespace, {"metadata": {"name": "s"}, "stringData": {"password": "hunter2"}})
    assert (secret.data, secret.string_data, secret.type) == ({"password": "aHVudGVyMg=="}, None, "Opaque")


# ---------------------------------------------------------------------------- errors

def test_error_bodies_are_status_objects_with_the_right_reason(kubeapi_server, kubeapi_namespace):
    path = f"/api/v1/namespaces/{kubeapi_namespace}/configmaps"
    status, _headers, body = _raw(kubeapi_server, "GET", f"{path}/nope")
    assert (status, body["kind"], body["reason"], body["details"]) == (404, "Status", "NotFound", {"name": "nope", "kind": "configmaps"})
    status, _headers, body = _raw(kubeapi_server, "POST", path, _config_map("Not_Valid"))
    assert (status, body["reason"], body["details"]["causes"][0]["field"]) == (422, "Invalid", "metadata.name")
    status, _headers, body = _raw(kubeapi_server, "POST", f"{path}/nope", _config_map("nope"))
    assert (status, body["reason"]) == (405, "MethodNotAllowed")
    status, _headers, body = _raw(kubeapi_server, "GET", "/apis/apps/v1/namespaces/x/nothings")
    assert (status, body["reason"]) == (404, "NotFound")


def test_deployment_selector_must_match_template_labels(kubeapi_apps, kubeapi_namespace):
    broken = _deployment("coredns")
    broken["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    with pytest.raises(ApiException) as caught:
        kubeapi_apps.create_namespaced_deployment(kubeapi_namespace, broken)
    assert (caught.value.status, _status_of(caught.value)["details"]["causes"][0]["field"]) == (422, "spec.template.metadata.labels")


def test_a_field_of_the_wrong_json_type_is_refused_as_kube_apiserver_decodes_it(kubeapi_server, kubeapi_namespace):
    """What ansible-core before 2.19 makes of "{{ replicas | int }}" in a definition: text where the API takes a number."""
    deployments = f"/apis/apps/v1/namespaces/{kubeapi_namespace}/deployments"
    as_text = _deployment("web")
    as_text["spec"]["replicas"] = "3"
    status, _headers, body = _raw(kubeapi_server, "POST", deployments, as_text)
    assert (status, body["reason"]) == (400, "BadRequest")
    assert body["message"] == ('Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct '
                               'field DeploymentSpec.spec.replicas of type int64')
    numeric_label = _config_map("numbers", labels={"tier": 3})
    status, _headers, body = _raw(kubeapi_server, "POST", f"/api/v1/namespaces/{kubeapi_namespace}/configmaps", numeric_label)
    assert (status, body["message"]) == (400, 'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number '
                                              'into Go struct field ObjectMeta.metadata.labels of type string')
    flag_as_text = _deployment("flag")
    flag_as_text["spec"]["template"]["spec"]["hostNetwork"] = "true"
    status, _headers, body = _raw(kubeapi_server, "POST", deployments, flag_as_text)
    assert (status, body["message"].partition(": json: ")[2]) == (400, "cannot unmarshal string into Go struct field "
                                                                       "PodSpec.spec.template.spec.hostNetwork of type bool")
    # A patch is decoded once applied: the same refusal, and the stored object is untouched.
    status, _headers, created = _raw(kubeapi_server, "POST", deployments, _deployment("patched"))
    assert status == 201
    status, _headers, body = _raw(kubeapi_server, "PATCH", f"{deployments}/patched", {"spec": {"replicas": "4"}},
                                  headers={"Content-Type": "application/merge-patch+json"})
    assert (status, body["reason"]) == (400, "BadRequest")
    assert _raw(kubeapi_server, "GET", f"{deployments}/patched")[2] == created
    # What the schema leaves open takes either (IntOrString), and a Quantity takes a number.
    open_ended = _deployment("open")
    container = open_ended["spec"]["template"]["spec"]["containers"][0]
    container["resources"] = {"limits": {"cpu": 1, "memory": "512Mi"}}
    container["readinessProbe"] = {"httpGet": {"port": "http", "path": "/"}}
    open_ended["spec"]["strategy"] = {"rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}}
    status, _headers, body = _raw(kubeapi_server, "POST", deployments, open_ended)
    assert status == 201, body


def test_keep_alive_connection_survives_an_early_error_with_a_body(kubeapi_server):
    connection = _connection(kubeapi_server)
    body_to_drain = {"metadata": {"name": "default"}, "padding": "x" * 5000}
    status, _headers, _body = _raw(kubeapi_server, "PUT", "/api/v1/namespaces/default", body_to_drain, token=None, connection=connection)
    assert status == 401
    status, _headers, body = _raw(kubeapi_server, "GET", "/api/v1/namespaces/default", connection=connection)
    assert (status, body["metadata"]["name"]) == (200, "default")
    connection.close()


# ---------------------------------------------------------------------------- authentication

def test_requests_without_a_valid_token_are_unauthorized(kubeapi_server):
    for token in (None, "not-the-token"):
        with _api_client(kubeapi_server, token) as api_client, pytest.raises(ApiException) as caught:
            client.CoreV1Api(api_client).list_namespace()
        assert (caught.value.status, _status_of(caught.value)["reason"]) == (401, "Unauthorized")
    status, _headers, _body = _raw(kubeapi_server, "GET", "/version", token="not-the-token")
    assert status == 401


@functools.lru_cache(maxsize=None)
def _sts_client(endpoint_url: str = "https://sts.us-east-1.amazonaws.com"):
    """An STS client with made-up credentials: presigning needs no network."""
    return boto3.client("sts", region_name="us-east-1", endpoint_url=endpoint_url,
                        aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")


def _eks_token(cluster: str = "lab") -> str:
    return mint_eks_token(_sts_client(), cluster)


def test_fresh_eks_token_is_accepted_and_expired_one_is_unauthorized(kubeapi_server, kubeapi_clock):
    token = _eks_token()
    with _api_client(kubeapi_server, token) as api_client:
        core_api = client.CoreV1Api(api_client)
        assert core_api.list_namespace().items
        kubeapi_clock.offset = EKS_TOKEN_TTL_SECONDS + 1
        try:
            with pytest.raises(ApiException) as caught:
                core_api.list_namespace()
        finally:
            kubeapi_clock.offset = 0
    assert caught.value.status == 401 and "expired" in _status_of(caught.value)["message"]


def _reencoded(token: str, old: str, new: str) -> str:
    encoded = token[len(EKS_TOKEN_PREFIX):]
    url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode().replace(old, new)
    return EKS_TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


@pytest.mark.parametrize("mangle, why", [
    (lambda t: t + "%%%", "not properly formatted"),
    (lambda t: _reencoded(t, "Action=GetCallerIdentity", "Action=AssumeRole"), "GetCallerIdentity"),
    (lambda t: _reencoded(t, "host%3Bx-k8s-aws-id", "host"), "x-k8s-aws-id"),
    (lambda t: _reencoded(t, "sts.us-east-1.amazonaws.com", "evil.example.com"), "host"),
    (lambda t: _reencoded(t, "https://", "http://"), "scheme"),
])
def test_malformed_eks_tokens_are_rejected(mangle, why):
    with pytest.raises(AuthenticationError, match=why):
        TokenAuthenticator().authenticate_token(mangle(_eks_token()))


def test_eks_token_from_a_local_sts_endpoint_and_future_dates():
    authenticator = TokenAuthenticator()
    local_token = mint_eks_token(_sts_client("http://127.0.0.1:5000"), "lab")
    assert authenticator.authenticate(f"Bearer {local_token}").username == "aws-iam:AKIAIOSFODNN7EXAMPLE"
    future = TokenAuthenticator(clock=lambda: time.time() - 3600)
    with pytest.raises(AuthenticationError, match="future"):
        future.authenticate_token(_eks_token())


# ---------------------------------------------------------------------------- lab control hooks

def test_injected_conflict_fails_once_then_the_write_succeeds(kubeapi_core, kubeapi_server, kubeapi_namespace):
    kubeapi_core.create_namespaced_config_map(kubeapi_namespace, _config_map("aws-auth"))
    fault = {"method": "PUT", "path": f"/namespaces/{kubeapi_namespace}/configmaps/aws-auth$", "status": 409, "count": 1}
    assert _raw(kubeapi_server, "POST", "/_lab/faults", fault, token=None)[0] == 200
    current = kubeapi_core.read_namespaced_config_map("aws-auth", kubeapi_namespace)
    with pytest.raises(ApiException) as caught:
        kubeapi_core.replace_namespaced_config_map("aws-auth", kubeapi_namespace, current)
    assert (caught.value.status, _status_of(caught.value)["reason"]) == (409, "Conflict")
    current.data["k"] = "after-retry"
    assert kubeapi_core.replace_namespaced_config_map("aws-auth", kubeapi_namespace, current).data["k"] == "after-retry"


def test_injected_throttling_carries_retry_after_and_faults_can_be_cleared(kubeapi_server):
    _raw(kubeapi_server, "POST", "/_lab/faults", {"method": "GET", "path": "^/api/v1/nodes$", "status": 429, "count": 5}, token=None)
    status, headers, body = _raw(kubeapi_server, "GET", "/api/v1/nodes")
    assert (status, body["reason"], headers["Retry-After"]) == (429, "TooManyRequests", "1")
    assert _raw(kubeapi_server, "DELETE", "/_lab/faults", token=None)[2] == {"faults": []}
    assert _raw(kubeapi_server, "GET", "/api/v1/nodes")[0] == 200


def test_bump_moves_the_resource_version_like_a_concurrent_writer(kubeapi_core, kubeapi_server, kubeapi_namespace):
    before = kubeapi_core.create_namespaced_config_map(kubeapi_namespace, _config_map("aws-auth"))
    path = f"/api/v1/namespaces/{kubeapi_namespace}/configmaps/aws-auth"
    status, _headers, bumped = _raw(kubeapi_server, "POST", "/_lab/bump", {"path": path}, token=None)
    assert status == 200 and int(bumped["metadata"]["resourceVersion"]) > int(before.metadata.resource_version)
    assert bumped["data"] == {"k": "v"}
    with pytest.raises(ApiException) as caught:
        kubeapi_core.replace_namespaced_config_map("aws-auth", kubeapi_namespace, before)
    assert caught.value.status == 409
    assert _raw(kubeapi_server, "GET", "/_lab/healthz", token=None)[:1] == (200,)


# ---------------------------------------------------------------------------- kubectl

@pytest.fixture(scope="module")
def kubeapi_kubectl(kubeapi_server, tmp_path_factory):
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    kubeconfig = tmp_path_factory.mktemp("kubeapi-kubeconfig") / "kubeconfig"
    kubeconfig.write_text(json.dumps(kubeapi_server.kubeconfig(ADMIN_TOKEN)))

    def run(*args: str) -> str:
        result = subprocess.run([kubectl, "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True, timeout=30, check=False)
        assert result.returncode == 0, result.stderr
        return result.stdout
    return run


def test_kubectl_get_configmaps_in_all_namespaces(kubeapi_kubectl, kubeapi_core, kubeapi_namespace):
    kubeapi_core.create_namespaced_config_map(kubeapi_namespace, _config_map("aws-auth", {"mapRoles": "a", "mapUsers": "b"}))
    rows = [line.split() for line in kubeapi_kubectl("get", "configmaps", "-A").splitlines()]
    assert rows[0][:3] == ["NAMESPACE", "NAME", "DATA"]
    assert [kubeapi_namespace, "aws-auth", "2"] in [row[:3] for row in rows]


def test_kubectl_get_windows_nodes(kubeapi_kubectl, kubeapi_server):
    output = kubeapi_kubectl("get", "nodes", "-l", WINDOWS, "-o", "name")
    assert sorted(output.split()) == ["node/ip-10-0-0-11.ec2.internal", "node/ip-10-0-0-12.ec2.internal"]
    assert kubeapi_kubectl("get", "nodes", "-l", WINDOWS).splitlines()[0].split()[:2] == ["NAME", "STATUS"]
