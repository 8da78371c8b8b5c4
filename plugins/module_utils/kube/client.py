# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Kubernetes API clients for the collection's modules.

Two ways in, as users have them:
- the kubernetes.core connection options (kubeconfig, context, host, api_key, ...), from the
  task or from K8S_AUTH_* environment variables; when any is given, it wins;
- otherwise, when the module knows the EKS cluster, the cluster's endpoint and CA with a token
  minted from the caller's AWS credentials (no kubeconfig needed, the usual AWX case).
"""

import atexit
import base64
import json
import os
import tempfile
from typing import Any, Dict, Optional

try:
    import kubernetes
    from kubernetes.client.rest import ApiException
except ImportError:
    kubernetes = None
    ApiException = Exception

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client

from .token import TokenSource, mint_token

# validate_certs is left out: the AWS options already own that name. K8S_AUTH_VERIFY_SSL still applies.
KUBE_AUTH_OPTIONS = ("kubeconfig", "context", "host", "api_key", "ca_cert", "client_cert", "client_key", "proxy", "no_proxy")
KUBE_AUTH_ARG_SPEC = {name: dict(AUTH_ARG_SPEC[name]) for name in KUBE_AUTH_OPTIONS}
EXPLICIT_AUTH_ENV = ("K8S_AUTH_KUBECONFIG", "K8S_AUTH_CONTEXT", "K8S_AUTH_HOST", "K8S_AUTH_API_KEY")


class KubeClientError(Exception):
    pass


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


def api_client(params: Dict[str, Any], cluster: Optional[Dict[str, Any]] = None, sts_client=None):
    """A kubernetes.client.ApiClient.

    cluster is the collection's cluster facts (endpoint, certificate_authority, name); it and
    sts_client are used only when no explicit Kubernetes connection option is set.
    """
    if kubernetes is None:
        raise KubeClientError("the kubernetes Python library is required: pip install 'kubernetes>=24.2.0'")
    if not has_explicit_kube_auth(params) and cluster and sts_client is not None:
        name = cluster["name"]
        source = TokenSource(lambda: mint_token(sts_client, name))
        return kubernetes.client.ApiClient(eks_configuration(cluster["endpoint"], cluster["certificate_authority"], source))
    try:
        configuration = get_api_client(**kube_auth_params(params)).configuration
    except Exception as error:  # kubernetes.core raises several types for a bad kubeconfig
        raise KubeClientError(f"cannot build a Kubernetes client: {error}") from error
    return kubernetes.client.ApiClient(configuration)


def api_error_message(error: Exception) -> str:
    """The API server's own message from a Status body, else the exception text."""
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
