"""Kubernetes API clients: kubernetes.core's client module is imported only for the kubernetes.core options."""

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
from ansible_collections.kubernetes.core.plugins.module_utils.k8s import client as core_client

from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import KubeClientError, api_client

CORE_CLIENT = "ansible_collections.kubernetes.core.plugins.module_utils.k8s.client"


def test_the_eks_token_path_imports_neither_kubernetes_cores_client_nor_the_dynamic_client():
    code = f"""
import json, sys
import ansible_collections.eksnodes.windows.plugins.module_utils.kube.client
print(json.dumps([name for name in ("kubernetes.dynamic", {CORE_CLIENT!r}) if name in sys.modules]))
"""
    proc = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": os.pathsep.join(sys.path)}, capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout) == []


def test_a_kubeconfig_builds_the_client_kubernetes_core_would_configure_with_the_retry_policy(kubeconfig, kubeconfig_server):
    client = api_client({"kubeconfig": kubeconfig})
    assert client.configuration.host == kubeconfig_server
    assert client.configuration.api_key == {"BearerToken": "Bearer secret-token"}
    assert client.rest_client.eksnodes_retry is not None


def test_a_kubernetes_core_without_the_builders_gives_get_api_clients_configuration(kubeconfig, monkeypatch):
    from kubernetes.client import Configuration  # pylint: disable=import-outside-toplevel

    configuration = Configuration()
    configuration.host = "https://from-get-api-client.example"
    asked = []
    monkeypatch.delattr(core_client, "_create_headers")
    monkeypatch.setattr(core_client, "get_api_client", lambda **options: asked.append(options) or SimpleNamespace(configuration=configuration))
    client = api_client({"kubeconfig": kubeconfig})
    assert asked == [{"kubeconfig": kubeconfig}]
    assert client.configuration.host == "https://from-get-api-client.example"
    assert client.rest_client.eksnodes_retry is not None


def test_a_client_the_options_describe_but_that_cannot_be_built_names_where_they_came_from(no_kube_auth_env):
    with pytest.raises(KubeClientError, match=r"^cannot build a Kubernetes client \(from the host option\): .*\[bad"):
        api_client({"host": "https://127.0.0.1:6443", "api_key": "token", "proxy": "http://[bad"})
