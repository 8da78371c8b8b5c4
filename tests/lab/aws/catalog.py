"""The parts of the seeded world that AWS's own API cannot write, put straight into moto's backends.

* public SSM parameters under ``/aws/service/...`` (PutParameter refuses reserved names, on AWS as in moto);
* public images owned by AWS accounts (RegisterImage always makes a private image of the caller's account);
* AWS managed IAM policies (moto only loads them with MOTO_IAM_LOAD_MANAGED_POLICIES=true, read per backend;
  loading them here costs about 60 ms and leaves the process environment alone).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Optional

from moto.ec2.models import ec2_backends
from moto.ec2.models.amis import Ami
from moto.ec2.utils import random_ami_id
from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam.models import AWSManagedPolicy, iam_backends
from moto.ssm.models import Parameter, ssm_backends

from lab.aws.constants import (
    ACCOUNT_ID,
    LINUX_AMI_OWNER,
    WINDOWS_AMI_OWNERS,
    WINDOWS_KUBERNETES_VERSIONS,
    WINDOWS_RELEASE_DATES,
    WINDOWS_ROOT_VOLUME_GIB,
)

WINDOWS_SSM_ROOT = "/aws/service/ami-windows-latest"
EKS_SSM_ROOT = "/aws/service/eks/optimized-ami"


class LabImage(Ami):
    """A public AMI whose root snapshot has a real size (moto reports 15 GiB for every AMI)."""

    def __init__(self, ec2_backend: Any, ami_id: str, root_volume_gib: int, **kwargs: Any) -> None:
        super().__init__(ec2_backend, ami_id, **kwargs)
        self.root_volume_gib = root_volume_gib
        self.ebs_snapshot.volume.size = root_volume_gib

    @property
    def block_device_mappings(self) -> list[dict[str, Any]]:
        return [{"DeviceName": self.root_device_name,
                 "Ebs": {"SnapshotId": self.ebs_snapshot.id, "VolumeSize": self.root_volume_gib, "DeleteOnTermination": True,
                         "VolumeType": "gp2", "Encrypted": False}}]


@dataclass(frozen=True)
class ImageSpec:
    """An image to publish in the lab."""

    name: str
    owner_id: str
    creation_date: dt.datetime
    description: str = ""
    platform: Optional[str] = None
    public: bool = True
    root_volume_gib: int = 20
    root_device_name: str = "/dev/xvda"


@dataclass(frozen=True)
class WindowsFamily:
    """One EKS-optimized Windows AMI family, e.g. Windows_Server-2022-English-Core-EKS_Optimized-1.31."""

    release: str
    flavour: str
    kubernetes_version: str

    @property
    def name(self) -> str:
        return f"Windows_Server-{self.release}-English-{self.flavour}-EKS_Optimized-{self.kubernetes_version}"

    @property
    def ssm_parameter(self) -> str:
        return f"{WINDOWS_SSM_ROOT}/{self.name}"


def windows_releases(kubernetes_version: str) -> tuple[str, ...]:
    """Windows Server releases EKS publishes for a Kubernetes version (2025 from 1.35 on)."""
    minor = int(kubernetes_version.split(".")[1])
    return ("2019", "2022", "2025") if minor >= 35 else ("2019", "2022")


def windows_families(kubernetes_versions: tuple[str, ...]) -> list[WindowsFamily]:
    return [WindowsFamily(release, flavour, version)
            for version in kubernetes_versions for release in windows_releases(version) for flavour in ("Core", "Full")]


def release_timestamp(release_date: str, serial: int = 0) -> dt.datetime:
    """2026.11.12 -> that day 08:00 UTC (plus ``serial`` seconds, to keep creation dates distinct)."""
    day = dt.datetime.strptime(release_date, "%Y.%m.%d").replace(tzinfo=dt.timezone.utc)
    return day + dt.timedelta(hours=8, seconds=serial)


# Accounts whose public images carry the owner alias "amazon" (DescribeImages ImageOwnerAlias, Owners=["amazon"]). Any
# other owner publishes without an alias, as on AWS: a stranger who names an image like an EKS AMI, or 055183720277,
# whose EKS Windows AMIs Owners=["amazon"] did not find in 2023 (eks-windows-facts.md, section 5).
AMAZON_ALIASED_OWNERS = frozenset(WINDOWS_AMI_OWNERS + (LINUX_AMI_OWNER,))


def register_public_image(region: str, spec: ImageSpec) -> str:
    """Publish an image owned by ``spec.owner_id`` (alias amazon for AWS's accounts); returns its id."""
    backend = ec2_backends[ACCOUNT_ID][region]
    image_id = random_ami_id()
    alias = "amazon" if spec.owner_id in AMAZON_ALIASED_OWNERS else None
    backend.amis[image_id] = LabImage(
        backend, image_id, spec.root_volume_gib, name=spec.name, description=spec.description, owner_id=spec.owner_id,
        owner_alias=alias, public=spec.public, platform=spec.platform, architecture="x86_64", virtualization_type="hvm",
        root_device_type="ebs", root_device_name=spec.root_device_name, hypervisor="xen", creation_date=spec.creation_date,
        image_location=f"{alias or spec.owner_id}/{spec.name}", region_name=f"{region}a")
    return image_id


def remove_image(region: str, image_id: str) -> bool:
    """Forget an image entirely (as if AWS had made it private or deleted it)."""
    return ec2_backends[ACCOUNT_ID][region].amis.pop(image_id, None) is not None


def put_public_parameter(region: str, name: str, value: str, data_type: str = "text") -> None:
    """Create or overwrite a reserved-name SSM parameter (a new version, as AWS does when it publishes)."""
    store = ssm_backends[ACCOUNT_ID][region]._parameters  # pylint: disable=protected-access
    versions = store[name]
    versions.append(Parameter(account_id=ACCOUNT_ID, name=name, value=value, parameter_type="String", description=None,  # type: ignore[abstract]
                              allowed_pattern=None, keyid=None, last_modified_date=dt.datetime.now(dt.timezone.utc),
                              version=len(versions) + 1, data_type=data_type))


def delete_public_parameter(region: str, name: str) -> bool:
    store = ssm_backends[ACCOUNT_ID][region]._parameters  # pylint: disable=protected-access
    return store.pop(name, None) is not None


def load_aws_managed_policies() -> int:
    """Make every AWS managed policy attachable in the lab account; returns how many there are."""
    backend = iam_backends[ACCOUNT_ID]["aws"]
    if not backend.aws_managed_policies:
        data = json.loads(aws_managed_policies_data)
        backend.aws_managed_policies = [AWSManagedPolicy.from_data(name, ACCOUNT_ID, "us-east-1", item) for name, item in data.items()]
        backend.managed_policies.update({policy.arn: policy for policy in backend.aws_managed_policies})
    return len(backend.aws_managed_policies)


def publish_windows_family(region: str, family: WindowsFamily, release_dates: tuple[str, ...], serial: int) -> dict[str, Any]:
    """Publish one image per release date and point the family's SSM parameters at the newest; returns its facts."""
    images = []
    for index, release_date in enumerate(release_dates):
        name = f"{family.name}-{release_date}"
        owner = WINDOWS_AMI_OWNERS[(serial + index) % len(WINDOWS_AMI_OWNERS)]
        description = f"Microsoft Windows Server {family.release} {family.flavour} optimized for EKS and Kubernetes {family.kubernetes_version}"
        spec = ImageSpec(name=name, owner_id=owner, creation_date=release_timestamp(release_date, serial), description=description,
                         platform="windows", root_volume_gib=WINDOWS_ROOT_VOLUME_GIB, root_device_name="/dev/sda1")
        images.append({"image_id": register_public_image(region, spec), "image_name": name, "owner_id": owner,
                       "release_version": f"{family.kubernetes_version}-{release_date}"})
    newest = images[-1]
    put_public_parameter(region, f"{family.ssm_parameter}/image_id", newest["image_id"])
    put_public_parameter(region, family.ssm_parameter, json.dumps(
        {"image_id": newest["image_id"], "image_name": newest["image_name"], "release_version": newest["release_version"]}))
    return {"image_id": newest["image_id"], "image_name": newest["image_name"], "release_version": newest["release_version"],
            "ssm_parameter": f"{family.ssm_parameter}/image_id", "images": images}


def publish_windows_images(region: str, kubernetes_versions: tuple[str, ...] = WINDOWS_KUBERNETES_VERSIONS,
                           release_dates: tuple[str, ...] = WINDOWS_RELEASE_DATES) -> dict[str, dict[str, Any]]:
    """Every EKS-optimized Windows family of these Kubernetes versions, keyed by family name."""
    return {family.name: publish_windows_family(region, family, release_dates, serial)
            for serial, family in enumerate(windows_families(kubernetes_versions))}


def publish_linux_image(region: str, kubernetes_version: str, release_date: str = WINDOWS_RELEASE_DATES[-1]) -> dict[str, str]:
    """The EKS-optimized Amazon Linux 2023 image of a Kubernetes version and its recommended SSM parameter."""
    stamp = release_date.replace(".", "")
    name = f"amazon-eks-node-al2023-x86_64-standard-{kubernetes_version}-v{stamp}"
    spec = ImageSpec(name=name, owner_id=LINUX_AMI_OWNER, creation_date=release_timestamp(release_date),
                     description=f"EKS-optimized Kubernetes node based on Amazon Linux 2023, (k8s: {kubernetes_version}, containerd)")
    image_id = register_public_image(region, spec)
    parameter = f"{EKS_SSM_ROOT}/{kubernetes_version}/amazon-linux-2023/x86_64/standard/recommended/image_id"
    put_public_parameter(region, parameter, image_id)
    return {"image_id": image_id, "image_name": name, "ssm_parameter": parameter}
