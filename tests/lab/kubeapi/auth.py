"""Bearer-token authentication: static tokens, and EKS IAM tokens as ``aws eks get-token`` makes them.

An EKS token is ``k8s-aws-v1.`` + base64url (unpadded) of a presigned STS GetCallerIdentity URL whose
signed headers include ``x-k8s-aws-id`` (the cluster name). The real authenticator sends that URL to
STS; this one cannot, so it checks the shape and the age of the URL and trusts the signature.

Accepted STS hosts: ``sts.*`` over https, or a loopback host (``127.0.0.1``, ``localhost``, ``::1``)
over http or https, for tokens minted against the lab's local AWS endpoint.

Without a principal resolver, an EKS token's identity is ``aws-iam:<access key id>`` in
``system:authenticated``. With one (the lab's enforcing mode), the access key is mapped as EKS maps
the principal it belongs to: through an access entry or aws-auth ``mapUsers``/``mapRoles`` to a
username and groups; a principal that nothing maps is refused (401), as EKS refuses it.
"""
from __future__ import annotations

import base64
import binascii
import datetime
import hmac
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional
from urllib.parse import parse_qsl, urlsplit

EKS_TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_ID_HEADER = "x-k8s-aws-id"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
DEFAULT_EKS_TOKEN_TTL_SECONDS = 900.0  # aws-iam-authenticator accepts a token for 15 minutes
ALLOWED_CLOCK_SKEW_SECONDS = 60.0


class AuthenticationError(Exception):
    """The request is not authenticated; the message goes into the 401 Status."""


@dataclass(frozen=True)
class Identity:
    username: str
    groups: tuple[str, ...]


ADMIN = Identity("kubernetes-admin", ("system:masters", "system:authenticated"))
AUTHENTICATED_GROUP = "system:authenticated"
# access key id -> the identity EKS maps its principal to, or None when nothing maps it.
PrincipalResolver = Callable[[str], Optional[Identity]]


class TokenAuthenticator:
    """Accepts the static tokens it was given and well-formed, fresh EKS IAM tokens."""

    def __init__(self, static_tokens: Iterable[str] = (), eks_token_ttl_seconds: float = DEFAULT_EKS_TOKEN_TTL_SECONDS,
                 clock: Callable[[], float] = time.time, principal_resolver: Optional[PrincipalResolver] = None):
        self.static_tokens = frozenset(static_tokens)
        self.principal_resolver = principal_resolver
        self.eks_token_ttl_seconds = eks_token_ttl_seconds
        self.clock = clock

    def authenticate(self, authorization: Optional[str]) -> Identity:
        """Check an ``Authorization`` header value."""
        scheme, _space, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("Unauthorized")
        return self.authenticate_token(token.strip())

    def authenticate_token(self, token: str) -> Identity:
        if any(hmac.compare_digest(token.encode(), known.encode()) for known in self.static_tokens):
            return ADMIN
        if token.startswith(EKS_TOKEN_PREFIX):
            return self._authenticate_eks_token(token[len(EKS_TOKEN_PREFIX):])
        raise AuthenticationError("Unauthorized")

    def _authenticate_eks_token(self, encoded_url: str) -> Identity:
        url = _decode_presigned_url(encoded_url)
        query = {key.lower(): value for key, value in parse_qsl(url.query)}
        _check_sts_endpoint(url.scheme, url.hostname or "", url.path)
        if query.get("action") != "GetCallerIdentity":
            raise _rejected("the presigned URL is not for sts:GetCallerIdentity")
        if CLUSTER_ID_HEADER not in query.get("x-amz-signedheaders", "").lower().split(";"):
            raise _rejected(f"{CLUSTER_ID_HEADER} is not among the signed headers")
        if not query.get("x-amz-signature") or not query.get("x-amz-credential"):
            raise _rejected("the presigned URL is not signed")
        self._check_age(query.get("x-amz-date", ""))
        access_key_id = query["x-amz-credential"].split("/", 1)[0]
        if self.principal_resolver is None:
            return Identity(f"aws-iam:{access_key_id}", (AUTHENTICATED_GROUP,))
        identity = self.principal_resolver(access_key_id)
        if identity is None:
            raise AuthenticationError("Unauthorized")
        groups = identity.groups if AUTHENTICATED_GROUP in identity.groups else (*identity.groups, AUTHENTICATED_GROUP)
        return Identity(identity.username, tuple(groups))

    def _check_age(self, amz_date: str) -> None:
        try:
            signed_at = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
        except ValueError as error:
            raise _rejected(f"X-Amz-Date {amz_date!r} is not a date") from error
        age = self.clock() - signed_at
        if age > self.eks_token_ttl_seconds:
            raise _rejected(f"token expired: X-Amz-Date {amz_date} is {int(age)} s old, more than {self.eks_token_ttl_seconds:g} s")
        if age < -ALLOWED_CLOCK_SKEW_SECONDS:
            raise _rejected(f"X-Amz-Date {amz_date} is in the future")


def _rejected(why: str) -> AuthenticationError:
    return AuthenticationError(f"Unauthorized: invalid EKS token: {why}")


def _decode_presigned_url(encoded: str):
    try:
        text = base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as error:
        raise _rejected("input token was not properly formatted") from error
    return urlsplit(text)


def _check_sts_endpoint(scheme: str, host: str, path: str) -> None:
    loopback = host in LOOPBACK_HOSTS
    if not (host.startswith("sts.") or loopback):
        raise _rejected(f"unexpected STS host {host!r}")
    if scheme != "https" and not (loopback and scheme == "http"):
        raise _rejected(f"unexpected scheme {scheme!r}")
    if path != "/":
        raise _rejected(f"unexpected path {path!r}")


def mint_eks_token(sts_client: Any, cluster_name: str) -> str:
    """A token the way ``aws eks get-token`` makes it, from a boto3 STS client (no request is sent)."""
    def add_cluster_id(request, **kwargs):
        request.headers[CLUSTER_ID_HEADER] = cluster_name

    event = "before-sign.sts.GetCallerIdentity"
    sts_client.meta.events.register(event, add_cluster_id)
    try:
        url = sts_client.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    finally:
        sts_client.meta.events.unregister(event, add_cluster_id)
    return EKS_TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
