"""The lab API server refuses objects a real cluster cannot store, on create, update and patch, and keeps the old state."""
from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from lab.kubeapi import KubeApiServer, TokenAuthenticator

ADMIN_TOKEN = "lab-admin-token"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def core(tmp_path_factory):
    server = KubeApiServer(tls_dir=tmp_path_factory.mktemp("kubeapi-limits-tls"),
                           authenticator=TokenAuthenticator(static_tokens={ADMIN_TOKEN}), kubernetes_version="1.31").start()
    configuration = client.Configuration()
    configuration.host = server.url
    configuration.ssl_ca_cert = str(server.ca_file)
    configuration.api_key = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    try:
        with client.ApiClient(configuration) as api_client:
            yield client.CoreV1Api(api_client)
    finally:
        server.stop()


def _refused(call) -> dict:
    with pytest.raises(ApiException) as raised:
        call()
    return json.loads(raised.value.body)


def _config_map(name: str, data: dict) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def test_config_map_data_over_1_mib_is_invalid_on_create_update_and_patch(core):
    exactly = {"a": "x" * (MIB - 10), "b": "y" * 10}  # the limit counts the values: exactly 1 MiB is accepted
    created = core.create_namespaced_config_map("default", _config_map("limit", exactly))
    too_big = {"a": "x" * (MIB - 10), "b": "y" * 11}

    refusals = [
        _refused(lambda: core.create_namespaced_config_map("default", _config_map("limit-new", too_big))),
        _refused(lambda: core.replace_namespaced_config_map("limit", "default", dict(_config_map("limit", too_big)))),
        _refused(lambda: core.patch_namespaced_config_map("limit", "default", {"data": {"c": "z"}})),
    ]
    for status in refusals:
        assert status["code"] == 422 and status["reason"] == "Invalid"
        assert status["message"].endswith('" is invalid: []: Too long: must have at most 1048576 bytes')
    after = core.read_namespaced_config_map("limit", "default")
    assert after.metadata.resource_version == created.metadata.resource_version and after.data == exactly
    assert _refused(lambda: core.read_namespaced_config_map("limit-new", "default"))["code"] == 404
    # multi-byte characters count as the bytes they take
    assert _refused(lambda: core.create_namespaced_config_map("default", _config_map("limit-utf8", {"a": "é" * (MIB // 2 + 1)})))["code"] == 422


def test_any_object_etcd_cannot_store_is_refused(core):
    big_annotation = {"example.com/blob": "x" * (MIB + MIB // 2)}
    created = core.create_namespaced_service_account("default", {"metadata": {"name": "limit-sa"}})
    create = _refused(lambda: core.create_namespaced_service_account("default", {"metadata": {"name": "limit-sa2", "annotations": big_annotation}}))
    patch = _refused(lambda: core.patch_namespaced_service_account("limit-sa", "default", {"metadata": {"annotations": big_annotation}}))
    for status in (create, patch):
        assert status["code"] == 500 and status["message"] == "etcdserver: request is too large"
    assert core.read_namespaced_service_account("limit-sa", "default").metadata.resource_version == created.metadata.resource_version
    # a ConfigMap whose data fits but whose annotations (a kubectl last-applied copy, say) do not
    config_map = core.create_namespaced_config_map("default", _config_map("limit-annotated", {"a": "x" * (MIB - 1)}))
    status = _refused(lambda: core.patch_namespaced_config_map("limit-annotated", "default", {"metadata": {"annotations": {"copy": "x" * (MIB - 1)}}}))
    assert status["code"] == 500
    assert core.read_namespaced_config_map("limit-annotated", "default").metadata.resource_version == config_map.metadata.resource_version
