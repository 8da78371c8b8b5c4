"""Kubernetes API clients: kubernetes.core's client module is imported only for the kubernetes.core options."""

import json
import subprocess
import sys
from pathlib import Path

import yaml

from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import api_client

COLLECTIONS = Path(__file__).resolve().parents[5] / ".collections"
CORE_CLIENT = "ansible_collections.kubernetes.core.plugins.module_utils.k8s.client"


def test_the_eks_token_path_imports_neither_kubernetes_cores_client_nor_the_dynamic_client():
    code = f"""
import json, sys
import ansible_collections.eksnodes.windows.plugins.module_utils.kube.client
print(json.dumps([name for name in ("kubernetes.dynamic", {CORE_CLIENT!r}) if name in sys.modules]))
"""
    proc = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(COLLECTIONS)}, capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout) == []


def test_a_kubeconfig_builds_the_client_kubernetes_core_would_configure_with_the_retry_policy(tmp_path, monkeypatch):
    for name in ("K8S_AUTH_KUBECONFIG", "K8S_AUTH_CONTEXT", "K8S_AUTH_HOST", "K8S_AUTH_API_KEY", "KUBECONFIG"):
        monkeypatch.delenv(name, raising=False)
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "lab",
        "clusters": [{"name": "lab", "cluster": {"server": "https://127.0.0.1:6443", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "lab", "user": {"token": "secret-token"}}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "lab"}}]}))
    client = api_client({"kubeconfig": str(kubeconfig)})
    assert client.configuration.host == "https://127.0.0.1:6443"
    assert client.configuration.api_key == {"BearerToken": "Bearer secret-token"}
    assert client.rest_client.eksnodes_retry is not None
