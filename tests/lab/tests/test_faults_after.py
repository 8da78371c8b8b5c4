"""Faults injected after the request took effect: the write is committed, only its answer is an error."""

from __future__ import annotations

import uuid

import pytest
from kubernetes import client as kclient
from kubernetes.client.rest import ApiException


@pytest.fixture(name="core")
def fixture_core(lab):
    lab.control.clear_kube_faults()
    yield kclient.CoreV1Api(lab.kube_api_client())
    lab.control.clear_kube_faults()


def test_a_write_failed_after_it_took_effect_is_committed(lab, core):
    name = f"after-{uuid.uuid4().hex[:8]}"
    created = core.create_namespaced_config_map("default", {"metadata": {"name": name}, "data": {"k": "before"}})
    try:
        lab.control.kube_fault("PUT", f"/namespaces/default/configmaps/{name}$", 504, count=1, after=True)
        created.data = {"k": "after"}
        with pytest.raises(ApiException) as raised:
            core.replace_namespaced_config_map(name, "default", created)
        assert raised.value.status == 504
        stored = core.read_namespaced_config_map(name, "default")
        assert stored.data == {"k": "after"}
        assert int(stored.metadata.resource_version) > int(created.metadata.resource_version)
        assert lab.control.kube_faults() == []
    finally:
        core.delete_namespaced_config_map(name, "default")


def test_without_after_the_write_is_not_committed(lab, core):
    name = f"before-{uuid.uuid4().hex[:8]}"
    created = core.create_namespaced_config_map("default", {"metadata": {"name": name}, "data": {"k": "before"}})
    try:
        lab.control.kube_fault("PUT", f"/namespaces/default/configmaps/{name}$", 504, count=1)
        changed = core.read_namespaced_config_map(name, "default")
        changed.data = {"k": "after"}
        with pytest.raises(ApiException):
            core.replace_namespaced_config_map(name, "default", changed)
        stored = core.read_namespaced_config_map(name, "default")
        assert (stored.data, stored.metadata.resource_version) == ({"k": "before"}, created.metadata.resource_version)
    finally:
        core.delete_namespaced_config_map(name, "default")
