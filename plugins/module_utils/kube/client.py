# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Kubernetes API clients for the collection's modules.

Two ways in, as users have them:
- the kubernetes.core connection options (kubeconfig, context, host, api_key, ...), from the
  task or from K8S_AUTH_* environment variables; when any is given, it wins;
- otherwise, when the module knows the EKS cluster, the cluster's endpoint and CA with a token
  minted from the caller's AWS credentials (no kubeconfig needed, the usual AWX case).

Either way every request goes through the collection's retry policy (retries.install), and an API
server that cannot be reached, or a kubeconfig that does not exist, is reported with where the address
or path came from and the fix.
"""

import atexit
import base64
import json
import os
import tempfile
from typing import Any, Dict, Optional, Tuple

try:
    import kubernetes
    from kubernetes.client.rest import ApiException
except ImportError:
    kubernetes = None
    ApiException = Exception

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC

from .retries import KubeConnectionError, install
from .token import TokenSource, mint_token

# validate_certs is left out: the AWS options already own that name. K8S_AUTH_VERIFY_SSL still applies.
KUBE_AUTH_OPTIONS = ("kubeconfig", "context", "host", "api_key", "ca_cert", "client_cert", "client_key", "proxy", "no_proxy")
KUBE_AUTH_ARG_SPEC = {name: dict(AUTH_ARG_SPEC[name]) for name in KUBE_AUTH_OPTIONS}
EXPLICIT_AUTH_ENV = ("K8S_AUTH_KUBECONFIG", "K8S_AUTH_CONTEXT", "K8S_AUTH_HOST", "K8S_AUTH_API_KEY")


class KubeClientError(Exception):
    """No client could be built; fix, when known, says what to change."""

    def __init__(self, problem: str, fix: str = ""):
        super().__init__(problem)
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.problem}. Fix: {self.fix}" if self.fix else self.problem


def kube_auth_params(params: Dict[str, Any]) -> Dict[str, Any]:
    return {name: params.get(name) for name in KUBE_AUTH_OPTIONS if params.get(name) is not None}


def has_explicit_kube_auth(params: Dict[str, Any]) -> bool:
    return bool(kube_auth_params(params)) or any(os.environ.get(name) for name in EXPLICIT_AUTH_ENV)


def _write_ca_file(certificate_authority_b64: str) -> str:
    handle, path = tempfile.mkstemp(prefix="eksnodes-ca-", suffix=".crt")
    with os.fdopen(handle, "wb") as ca_file:
        ca_file.write(base64.b64decode(certificate_authority_b64))
    atexit.register(lambda: os.path.exists(path) and os.unlink(path))
    return path


def eks_configuration(endpoint: str, certificate_authority_b64: str, token_source: TokenSource):
    configuration = kubernetes.client.Configuration()
    configuration.host = endpoint.rstrip("/")
    configuration.ssl_ca_cert = _write_ca_file(certificate_authority_b64)
    configuration.api_key = {"authorization": token_source.bearer()}
    configuration.refresh_api_key_hook = token_source.refresh_hook
    return configuration


def kubeconfig_source(params: Dict[str, Any]) -> Tuple[str, str]:
    """(the variable the kubeconfig path comes from, the path) as kubernetes.core resolves it; ("", "") when none.

    A kubeconfig given as a dictionary (in memory) has no path: ("kubeconfig", "").
    """
    if params.get("kubeconfig") is not None:
        value = params["kubeconfig"]
        return "kubeconfig", value if isinstance(value, str) else ""
    for name in ("K8S_AUTH_KUBECONFIG", "KUBECONFIG"):
        if os.environ.get(name):
            return name, os.environ[name]
    return "", ""


def connection_source(params: Dict[str, Any]) -> str:
    """Where the API server's address comes from, named by the variable the user set."""
    if params.get("host"):
        return "from the host option"
    if os.environ.get("K8S_AUTH_HOST"):
        return "from K8S_AUTH_HOST"
    name, path = kubeconfig_source(params)
    context = params.get("context") or os.environ.get("K8S_AUTH_CONTEXT")
    return f"from the kubeconfig {kubeconfig_name(name, path)}" + (f", context {context}" if context else "")


def kubeconfig_name(name: str, path: str) -> str:
    if not name:
        return "~/.kube/config"
    return f"{name}={path}" if path else f"given in {name}"


def explicit_fix(params: Dict[str, Any]) -> str:
    """What to do when the API server named by the kubernetes.core options cannot be reached."""
    if params.get("host") or os.environ.get("K8S_AUTH_HOST"):
        name = "host" if params.get("host") else "K8S_AUTH_HOST"
        return f"set {name} to the cluster's endpoint, reachable from this machine (aws eks describe-cluster --name <cluster> --query cluster.endpoint)."
    return (f"check the server of the cluster in the kubeconfig {kubeconfig_name(*kubeconfig_source(params))}: it must be the API server's "
            f"address and reachable from this machine (aws eks update-kubeconfig --name <cluster> writes the cluster's endpoint).")


def missing_kubeconfig(params: Dict[str, Any]) -> Optional[KubeClientError]:
    """The error for a kubeconfig path that does not exist, or None."""
    name, value = kubeconfig_source(params)
    if not value or params.get("host") or os.environ.get("K8S_AUTH_HOST"):
        return None
    paths = value.split(os.pathsep) if name == "KUBECONFIG" else [value]
    missing = [path for path in paths if path and not os.path.exists(os.path.expanduser(path))]
    if not missing or (name == "KUBECONFIG" and len(missing) < len([path for path in paths if path])):
        return None  # kubectl skips the missing files of a KUBECONFIG list while one exists
    return KubeClientError(
        f"{name}: the kubeconfig file {missing[0]} does not exist",
        f"set {name} to an existing kubeconfig (aws eks update-kubeconfig --name <cluster> --kubeconfig {missing[0]} writes one), "
        f"or unset it so that modules given cluster_name connect with the cluster's endpoint and your AWS credentials.",
    )


def eks_endpoint_fix(cluster: Dict[str, Any]) -> str:
    name = cluster.get("name")
    return (f"this machine must reach the endpoint of EKS cluster {name}: a cluster with private endpoint access only is reached from "
            f"inside its VPC or a connected network; or enable public access (aws eks update-cluster-config --name {name} "
            f"--resources-vpc-config endpointPublicAccess=true); or set kubeconfig (K8S_AUTH_KUBECONFIG) to reach it another way.")


def _explicit_client(params: Dict[str, Any]):
    """An ApiClient as the kubernetes.core options describe it, with the headers (impersonation) they ask for.

    kubernetes.core's client module is imported here, on this path only: it brings kubernetes.dynamic and the apply
    support (0.05 s to 0.1 s of CPU a module run), which the EKS token path never uses.
    """
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s import client as core_client

    options = kube_auth_params(params)
    # get_api_client() builds a DynamicClient, which asks the server for /version and discovery while it is being
    # built, outside any retry, and is not needed here: only its configuration is. These are the functions
    # get_api_client() itself builds it with, so the options mean exactly what they mean there.
    building = ("_create_auth_spec", "_create_configuration", "_create_headers", "_set_header")
    if not all(hasattr(core_client, name) for name in building):
        return kubernetes.client.ApiClient(core_client.get_api_client(**options).configuration)
    # pylint: disable=protected-access
    client = kubernetes.client.ApiClient(core_client._create_configuration(core_client._create_auth_spec(**options)))
    for header, value in core_client._create_headers(**options).items():
        core_client._set_header(client, header, value)
    return client


def api_client(params: Dict[str, Any], cluster: Optional[Dict[str, Any]] = None, sts_client=None):
    """A kubernetes.client.ApiClient whose requests go through the collection's retry policy.

    cluster is the collection's cluster facts (endpoint, certificate_authority, name); it and
    sts_client are used only when no explicit Kubernetes connection option is set.
    """
    if kubernetes is None:
        raise KubeClientError("the kubernetes Python library is required: pip install 'kubernetes>=24.2.0'")
    if not has_explicit_kube_auth(params) and cluster and sts_client is not None:
        name = cluster["name"]
        source = TokenSource(lambda: mint_token(sts_client, name))
        client = kubernetes.client.ApiClient(eks_configuration(cluster["endpoint"], cluster["certificate_authority"], source))
        return install(client, source=f"the endpoint of EKS cluster {name}", fix=eks_endpoint_fix(cluster))
    missing = missing_kubeconfig(params)
    if missing is not None:
        raise missing
    try:
        client = _explicit_client(params)
    except Exception as error:  # kubernetes.core raises several types for a bad kubeconfig
        raise KubeClientError(f"cannot build a Kubernetes client ({connection_source(params)}): {error}") from error
    return install(client, source=connection_source(params), fix=explicit_fix(params))


def api_error_message(error: Exception) -> str:
    """The API server's own message from a Status body, else the exception text."""
    if isinstance(error, KubeConnectionError):
        return str(error)
    body = getattr(error, "body", None)
    if body:
        try:
            status = json.loads(body)
            return f"{status.get('reason', '')}: {status.get('message', body)}".strip(": ")
        except (TypeError, ValueError):
            return str(body)
    return str(error)


def is_status(error: Exception, code: int) -> bool:
    return isinstance(error, ApiException) and getattr(error, "status", None) == code
