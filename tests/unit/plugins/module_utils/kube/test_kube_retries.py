"""The Kubernetes retry policy, through a real kubernetes.client stack whose only fake is the connection pool."""

import json

import kubernetes
import pytest
from kubernetes.client.rest import ApiException
from urllib3 import HTTPResponse
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import api_client, api_error_message
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.retries import (
    MAX_ATTEMPTS,
    KubeConnectionError,
    KubeRequest,
    KubeRetry,
    install,
    retry_after,
    safe_to_repeat,
)

HOST = "https://api.example.test"
CONFIG_MAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "ns", "resourceVersion": "7"}, "data": {}}


def status(code, message="injected"):
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "message": message}


class Pool:
    """Stands in for urllib3's PoolManager: plays a script of (status, body, headers) or exceptions, records requests."""

    def __init__(self, *script):
        self.script = list(script)
        self.requests = []

    def request(self, method, url, body=None, preload_content=True, **_kwargs):
        self.requests.append((method, url, body))
        step = self.script.pop(0) if self.script else (200, dict(CONFIG_MAP, items=[]), {})  # a ConfigMap, or an empty list
        if isinstance(step, BaseException):
            raise step  # pylint: disable=raising-bad-type
        code, payload, headers = step if len(step) == 3 else (*step, {})
        return HTTPResponse(body=json.dumps(payload).encode(), status=code, headers=headers, preload_content=preload_content)


class Policy(KubeRetry):
    """The policy with a recorded sleep, a clock that sleeping moves, and the largest jitter."""

    def __init__(self, **kwargs):
        self.now = 0.0
        self.slept = []
        super().__init__(sleep=self._sleep, clock=lambda: self.now, rand=lambda low, high: high, **kwargs)

    def _sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def core(*script, policy=None):
    client = kubernetes.client.ApiClient(kubernetes.client.Configuration(host=HOST))
    pool = Pool(*script)
    client.rest_client.pool_manager = pool
    policy = policy or Policy()
    install(client, policy, source="from the host option", fix="set host to the cluster's endpoint.")
    return kubernetes.client.CoreV1Api(client), pool, policy


@pytest.mark.parametrize("code", [429, 500, 502, 503, 504])
def test_a_read_answered_with_a_transient_status_is_sent_again(code):
    api, pool, policy = core((code, status(code)))
    assert api.read_namespaced_config_map("a", "ns").metadata.resource_version == "7"
    assert len(pool.requests) == 2 and len(policy.slept) == 1


@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 410, 422])
def test_other_errors_are_not_retried(code):
    api, pool, policy = core((code, status(code, "the server's own words")))
    with pytest.raises(ApiException) as raised:
        api.read_namespaced_config_map("a", "ns")
    assert raised.value.status == code and "the server's own words" in api_error_message(raised.value)
    assert len(pool.requests) == 1 and policy.slept == []


def written(version, data):
    return dict(CONFIG_MAP, metadata=dict(CONFIG_MAP["metadata"], resourceVersion=version), data=data)


def test_a_replace_that_failed_reads_back_and_is_sent_again_when_the_object_is_unchanged():
    api, pool, _policy = core((500, status(500)), (200, CONFIG_MAP))
    api.replace_namespaced_config_map("a", "ns", written("7", {"k": "new"}))
    assert [method for method, _url, _body in pool.requests] == ["PUT", "GET", "PUT"]
    assert all(json.loads(body)["metadata"]["resourceVersion"] == "7" for method, _url, body in pool.requests if method == "PUT")


def test_a_replace_applied_before_its_error_is_not_sent_again_and_answers_with_the_object():
    api, pool, _policy = core((504, status(504)), (200, written("8", {"k": "new"})))
    result = api.replace_namespaced_config_map("a", "ns", written("7", {"k": "new"}))
    assert [method for method, _url, _body in pool.requests] == ["PUT", "GET"]
    assert result.metadata.resource_version == "8" and result.data == {"k": "new"}


@pytest.mark.parametrize("read_back", [(200, written("8", {"k": "someone else's"})), (404, status(404))])
def test_a_replace_overtaken_by_another_writer_is_a_conflict_for_the_caller_to_read_again(read_back):
    api, pool, _policy = core((503, status(503)), read_back)
    with pytest.raises(ApiException) as raised:
        api.replace_namespaced_config_map("a", "ns", written("7", {"k": "new"}))
    assert raised.value.status == 409 and "changed by another writer while this write failed with 503" in api_error_message(raised.value)
    assert [method for method, _url, _body in pool.requests] == ["PUT", "GET"]


def test_a_replace_without_a_resource_version_is_not_retried():
    unconditional = dict(CONFIG_MAP, metadata={"name": "a", "namespace": "ns"})
    api, pool, _policy = core((503, status(503)))
    with pytest.raises(ApiException) as raised:
        api.replace_namespaced_config_map("a", "ns", unconditional)
    assert raised.value.status == 503 and len(pool.requests) == 1


def test_a_conflict_on_a_conditional_replace_is_left_to_the_caller():
    api, pool, _policy = core((409, status(409, "the object has been modified")))
    with pytest.raises(ApiException) as raised:
        api.replace_namespaced_config_map("a", "ns", CONFIG_MAP)
    assert raised.value.status == 409 and len(pool.requests) == 1


def test_a_create_is_not_retried_on_a_server_error_but_is_on_too_many_requests():
    api, pool, _policy = core((500, status(500)))
    with pytest.raises(ApiException):
        api.create_namespaced_config_map("ns", CONFIG_MAP)
    assert len(pool.requests) == 1
    api, pool, _policy = core((429, status(429)))
    api.create_namespaced_config_map("ns", CONFIG_MAP)
    assert len(pool.requests) == 2


def test_an_eviction_refused_by_a_disruption_budget_is_left_to_the_drain():
    api, pool, policy = core((429, status(429, "Cannot evict pod as it would violate the pod's disruption budget."), {"Retry-After": "10"}))
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p", "namespace": "ns"}}
    with pytest.raises(ApiException) as raised:
        api.create_namespaced_pod_eviction("p", "ns", eviction)
    assert raised.value.status == 429 and len(pool.requests) == 1 and policy.slept == []


@pytest.mark.parametrize("content_type, retried", [
    ("application/merge-patch+json", True),
    ("application/strategic-merge-patch+json", False),
])
def test_merge_patches_are_idempotent_strategic_ones_without_a_resource_version_are_not(content_type, retried):
    api, pool, _policy = core((503, status(503)))

    def call():
        return api.patch_namespaced_config_map("a", "ns", {"data": {"k": "v"}}, _content_type=content_type)
    if retried:
        call()
    else:
        with pytest.raises(ApiException):
            call()
    assert len(pool.requests) == (2 if retried else 1)


def test_a_delete_is_retried():
    api, pool, _policy = core((504, status(504)))
    api.delete_namespaced_config_map("a", "ns")
    assert [method for method, _url, _body in pool.requests] == ["DELETE", "DELETE"]


def test_retry_after_is_honoured():
    api, _pool, policy = core((429, status(429), {"Retry-After": "3"}), (503, status(503)))
    api.list_node()
    assert policy.slept == [3.0, 1.0]  # then the backoff's second step: 0.5 * 2, full jitter at its largest


def test_retry_after_as_an_http_date():
    error = ApiException(status=503)
    error.headers = {"Retry-After": "Wed, 21 Oct 2026 07:28:10 GMT"}
    assert retry_after(error, now=lambda: 1792567680.0) == pytest.approx(10.0)


def test_attempts_are_bounded_and_the_last_answer_is_raised():
    always = [(503, status(503, f"attempt {n}")) for n in range(1, 20)]
    api, pool, policy = core(*always)
    with pytest.raises(ApiException) as raised:
        api.list_node()
    assert len(pool.requests) == MAX_ATTEMPTS and len(policy.slept) == MAX_ATTEMPTS - 1
    assert f"attempt {MAX_ATTEMPTS}" in api_error_message(raised.value)


def test_the_total_time_is_bounded():
    always = [(503, status(503)) for _attempt in range(20)]
    api, pool, policy = core(*always, policy=Policy(max_attempts=100, max_seconds=12.0))
    with pytest.raises(ApiException):
        api.list_node()
    assert policy.now <= 12.0
    assert policy.slept == [0.5, 1.0, 2.0, 4.0]  # the next wait (8 s) would end after 12 s
    assert len(pool.requests) == 5


def test_backoff_grows_exponentially_up_to_its_cap():
    policy = KubeRetry(base=0.5, cap=10.0, rand=lambda low, high: high)
    assert [policy.delay(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    jittered = KubeRetry(base=0.5, cap=10.0)
    assert all(0.0 <= jittered.delay(4) <= 4.0 for _attempt in range(50))


@pytest.mark.parametrize("reset", [
    ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer")),
    MaxRetryError(None, "/api/v1/nodes", ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))),
])
def test_a_connection_reset_on_a_read_is_retried(reset):
    api, pool, _policy = core(reset)
    api.list_node()
    assert len(pool.requests) == 2


def test_a_connection_reset_on_a_create_is_not_retried_and_names_the_host():
    reset = ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))
    api, pool, _policy = core(reset)
    with pytest.raises(KubeConnectionError, match="api.example.test"):
        api.create_namespaced_config_map("ns", CONFIG_MAP)
    assert len(pool.requests) == 1


def test_an_unreachable_host_is_not_retried_and_says_where_it_came_from_and_the_fix():
    refused = MaxRetryError(None, "/api/v1/nodes", NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused"))
    api, pool, policy = core(refused)
    with pytest.raises(KubeConnectionError) as raised:
        api.list_node()
    message = str(raised.value)
    assert message.startswith(f"cannot reach the Kubernetes API server at {HOST} (from the host option): ")
    assert "Connection refused" in message and message.endswith("Fix: set host to the cluster's endpoint.")
    assert raised.value.status == 0 and len(pool.requests) == 1 and policy.slept == []


def test_installing_twice_does_not_retry_twice():
    api, pool, _policy = core(*[(503, status(503)) for _attempt in range(20)])
    install(api.api_client)
    with pytest.raises(ApiException):
        api.list_node()
    assert len(pool.requests) == MAX_ATTEMPTS


@pytest.mark.parametrize("request_, safe", [
    (KubeRequest("GET"), True),
    (KubeRequest("POST", body=CONFIG_MAP), False),
    (KubeRequest("PUT", body=CONFIG_MAP), True),
    (KubeRequest("PUT", body={"metadata": {"name": "a"}}), False),
    (KubeRequest("PATCH", body={"metadata": {"resourceVersion": "3"}}, content_type="application/strategic-merge-patch+json"), True),
    (KubeRequest("PATCH", body=[{"op": "add", "path": "/data/x", "value": "1"}], content_type="application/json-patch+json"), False),
    (KubeRequest("DELETE", body={"preconditions": {"resourceVersion": "3"}}), True),
])
def test_which_requests_are_safe_to_repeat(request_, safe):
    assert safe_to_repeat(request_) is safe


def test_a_missing_kubeconfig_is_named_with_the_variable_that_set_it(monkeypatch, tmp_path, no_kube_auth_env):
    missing = tmp_path / "nowhere" / "config"
    monkeypatch.setenv("K8S_AUTH_KUBECONFIG", str(missing))
    with pytest.raises(Exception) as raised:
        api_client({})
    assert str(raised.value).startswith(f"K8S_AUTH_KUBECONFIG: the kubeconfig file {missing} does not exist. Fix: set K8S_AUTH_KUBECONFIG to")
    with pytest.raises(Exception) as raised:
        api_client({"kubeconfig": str(missing)})
    assert str(raised.value).startswith(f"kubeconfig: the kubeconfig file {missing} does not exist")


def test_clients_built_from_a_kubeconfig_retry(monkeypatch, kubeconfig):
    client = api_client({"kubeconfig": kubeconfig})
    pool = Pool((503, status(503)))
    client.rest_client.pool_manager = pool
    monkeypatch.setattr(client.rest_client.eksnodes_retry, "sleep", lambda seconds: None)
    kubernetes.client.CoreV1Api(client).list_node()
    assert len(pool.requests) == 2, "building the client asked the server nothing, and the list was retried"


def test_an_in_memory_kubeconfig_is_not_mistaken_for_a_missing_file_and_an_unreachable_server_names_it(monkeypatch, no_kube_auth_env):
    client = api_client({"kubeconfig": {
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": HOST, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
    }, "context": "c"})
    client.rest_client.pool_manager = Pool(MaxRetryError(None, "/api/v1/nodes", NewConnectionError(None, "Connection refused")))
    with pytest.raises(KubeConnectionError) as raised:
        kubernetes.client.CoreV1Api(client).list_node()
    assert str(raised.value).startswith(f"cannot reach the Kubernetes API server at {HOST} (from the kubeconfig given in kubeconfig, context c): ")
    assert "Fix: check the server of the cluster in the kubeconfig given in kubeconfig" in str(raised.value)
