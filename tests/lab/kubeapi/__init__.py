"""A Kubernetes API server for the local lab: HTTPS on 127.0.0.1, bearer tokens, the REST API the collection uses.

See README.md in this directory for what it implements and what it leaves out.
"""
from .auth import AuthenticationError, Identity, TokenAuthenticator, mint_eks_token
from .errors import ApiError
from .server import KubeApiServer

__all__ = ["ApiError", "AuthenticationError", "Identity", "KubeApiServer", "TokenAuthenticator", "mint_eks_token"]
