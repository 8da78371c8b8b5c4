"""EKS role ARN validation without building a boto3 session per call.

AWS: CreateCluster and CreateNodegroup reject a malformed role ARN (InvalidParameterException).
moto 5.2.5: does the same, but ``validate_role_arn`` creates a new ``boto3.Session`` on every call to list the
partitions, which costs about 0.2 s per CreateCluster/CreateNodegroup; the partitions are now read once.
"""

from __future__ import annotations

import functools
import re

import moto.eks.models
from moto.core.base_backend import AccountSpecificBackend
from moto.eks.exceptions import InvalidParameterException

ROLE_ARN = re.compile(r"arn:(?P<partition>.+):iam::(?P<account_id>[0-9]{12}):role/.+")


@functools.lru_cache(maxsize=1)
def _partitions() -> frozenset[str]:
    return frozenset(AccountSpecificBackend.get_session().get_available_partitions())  # the session moto keeps anyway


def validate_role_arn(arn: str) -> None:
    """Replacement for ``moto.eks.models.validate_role_arn``, with the same checks and message."""
    match = ROLE_ARN.match(arn or "")
    if not (arn and match and match.group("partition") in _partitions()):
        raise InvalidParameterException(message="Invalid Role Arn: '" + str(arn) + "'")


def install() -> None:
    moto.eks.models.validate_role_arn = validate_role_arn
