"""Fixtures of the Kubernetes client tests."""

import pytest
import yaml

KUBE_AUTH_ENV = ("K8S_AUTH_KUBECONFIG", "K8S_AUTH_CONTEXT", "K8S_AUTH_HOST", "K8S_AUTH_API_KEY", "KUBECONFIG")


@pytest.fixture
def no_kube_auth_env(monkeypatch):
    """None of the variables that would choose the API server instead of the options given."""
    for name in KUBE_AUTH_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def kubeconfig_server():
    return "https://api.example.test"


@pytest.fixture
def kubeconfig(tmp_path, no_kube_auth_env, kubeconfig_server):  # pylint: disable=unused-argument,redefined-outer-name
    """The path of a kubeconfig for kubeconfig_server with a bearer token."""
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "lab",
        "clusters": [{"name": "lab", "cluster": {"server": kubeconfig_server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "lab", "user": {"token": "secret-token"}}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "lab"}}]}))
    return str(path)
