"""Registers the lab's backend subclasses with moto and resets moto's process-wide state.

moto creates each service's backends lazily from the class held by its ``BackendDict``; pointing that at a
subclass (before any backend of the service exists) is all it takes for moto's request handling, models and
cross-service calls (CloudFormation creating instances, Auto Scaling launching them) to use the lab's code.
"""

from __future__ import annotations

from moto.cloudformation.models import cloudformation_backends
from moto.ec2.models import ec2_backends
from moto.eks.models import eks_backends
from moto.moto_api._internal.models import moto_api_backend

from lab.aws.cloudformation.models import LabCloudFormationBackend
from lab.aws.ec2 import LabEc2Backend
from lab.aws.eks.models import LabEksBackend
from lab.aws.patches import install_all


def install() -> None:
    """Patch moto and register the lab's backends; idempotent."""
    install_all()
    eks_backends.backend = LabEksBackend
    cloudformation_backends.backend = LabCloudFormationBackend
    ec2_backends.backend = LabEc2Backend


def reset_moto() -> None:
    """Forget every resource of every service (what ``POST /moto-api/reset`` does)."""
    moto_api_backend.reset()
