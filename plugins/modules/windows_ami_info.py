#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: windows_ami_info
short_description: Find the Amazon EKS optimized Windows AMI for a Kubernetes version
version_added: 0.1.0
description:
  - Finds the EKS optimized Windows Server AMI for a Kubernetes version, a Windows Server release
    (2019, 2022 or 2025) and an edition (Core or Full).
  - Reads the SSM public parameter
    C(/aws/service/ami-windows-latest/Windows_Server-<release>-English-<Core|Full>-EKS_Optimized-<version>/image_id).
  - When that parameter does not exist or cannot be read, falls back to C(DescribeImages) by name.
    It takes the newest public, available image named
    C(Windows_Server-<release>-English-<Core|Full>-EKS_Optimized-<version>-<date>) of a trusted owner, by
    default Amazon's (owner alias C(amazon), and the accounts EKS has published these images from,
    C(801119661308), C(957547624766) and C(055183720277) in the commercial partition, C(077303321853)
    in GovCloud), or those listed in O(owners).
  - Anyone can publish a public AMI with any name, so an image of another owner is never taken for its
    name alone. A newer image of that name by another owner is refused with a warning naming the owner;
    when only such images exist, the module fails, naming them and how to allow their owner.
  - Rejects a release that EKS does not publish for the Kubernetes version (Windows Server 2022 needs
    Kubernetes 1.24 or later, Windows Server 2025 needs 1.35 or later) before any lookup.
  - Warns when the AMI is close to being made private; EKS keeps its Windows AMIs public for about
    four months after their release.
author:
  - eksnodes.windows maintainers (@eksnodes)
options:
  kubernetes_version:
    description:
      - The Kubernetes version of the cluster, for example V(1.31).
      - Mutually exclusive with O(cluster_name).
    type: str
  cluster_name:
    description:
      - The EKS cluster whose Kubernetes version to use; the module reads it with C(DescribeCluster).
      - Mutually exclusive with O(kubernetes_version).
    type: str
  os_version:
    description:
      - The Windows Server release.
      - When neither this nor O(ami_family) is set, V(2022) is used.
    type: str
    choices: ['2019', '2022', '2025']
  edition:
    description:
      - The Windows Server edition, V(core) (Server Core) or V(full) (Desktop Experience).
      - When neither this nor O(ami_family) is set, V(core) is used.
    type: str
    choices: [core, full]
  ami_family:
    description:
      - The release and edition under eksctl's C(amiFamily) name, instead of O(os_version) and O(edition).
    type: str
    choices:
      - WindowsServer2019CoreContainer
      - WindowsServer2019FullContainer
      - WindowsServer2022CoreContainer
      - WindowsServer2022FullContainer
      - WindowsServer2025CoreContainer
      - WindowsServer2025FullContainer
  lookup:
    description:
      - How to find the AMI.
      - V(auto) reads the SSM public parameter and falls back to C(DescribeImages) when the parameter is
        missing or not readable.
      - V(ssm) reads only the SSM public parameter.
      - V(describe_images) searches only with C(DescribeImages).
    type: str
    choices: [auto, ssm, describe_images]
    default: auto
  owners:
    description:
      - The owner account IDs or aliases (such as V(amazon) or V(self)) whose images the C(DescribeImages) fallback may take.
      - By default V(amazon) and the accounts EKS has published its Windows AMIs from in the region's partition (see
        above). List an owner here only if you trust it; the list replaces the default, so keep V(amazon) in it to
        still accept Amazon's images.
    type: list
    elements: str
  image_id:
    description:
      - Check this AMI instead of looking one up. It must exist, be available, run Windows and, unless
        O(custom_image) is set, be an EKS optimized Windows AMI built for the cluster's Kubernetes version.
      - The module fails, naming what is wrong, when it is not; nothing is looked up in SSM.
    type: str
  custom_image:
    description:
      - With O(image_id), accept an image whose name is not an EKS optimized Windows AMI's (an image built from
        one, with the EKS bootstrap script); it must still exist, be available and run Windows.
    type: bool
    default: false
  current_image_id:
    description:
      - The AMI that the node group runs now (its stack's C(NodeImageId)).
      - When it is of the asked release and edition, it is returned as RV(image_id) even if a newer AMI exists, so
        that a rerun never replaces nodes by surprise; RV(update_available) and a warning say that a newer one
        exists. Set O(update) to move to the newest.
      - When it is of another release or edition than asked, the newest AMI of the asked one is returned, since the
        family was changed on purpose.
    type: str
  update:
    description:
      - With O(current_image_id), return the newest AMI even when the current one is of the asked family.
    type: bool
    default: false
  expiry_warning_days:
    description:
      - Warn when the AMI reaches its deprecation time, or the end of the about four months EKS keeps it
        public, within this many days.
    type: int
    default: 30
notes:
  - Needs C(ssm:GetParameter) and C(ec2:DescribeImages), and C(eks:DescribeCluster) with O(cluster_name).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - eksnodes.windows.attributes.info_module
  - eksnodes.windows.attributes.action
"""

EXAMPLES = r"""
- name: Find the Windows Server 2022 Core AMI for Kubernetes 1.31
  eksnodes.windows.windows_ami_info:
    kubernetes_version: "1.31"
  register: ami

- name: Find the AMI for the cluster's version, with eksctl's family name
  eksnodes.windows.windows_ami_info:
    cluster_name: my-cluster
    ami_family: WindowsServer2019FullContainer
  register: ami

- name: Show it
  ansible.builtin.debug:
    msg: "{{ ami.image_id }} ({{ ami.image.name }}, resolved by {{ ami.resolved_by }})"

- name: Keep the AMI a node group runs, and learn whether a newer one exists
  eksnodes.windows.windows_ami_info:
    cluster_name: my-cluster
    ami_family: WindowsServer2022CoreContainer
    current_image_id: ami-0123456789abcdef0
  register: ami

- name: Check an AMI given by the user before launching anything
  eksnodes.windows.windows_ami_info:
    kubernetes_version: "1.31"
    image_id: ami-0123456789abcdef0

- name: Search by name only, among images of two known owner accounts
  eksnodes.windows.windows_ami_info:
    kubernetes_version: "1.35"
    os_version: "2025"
    edition: full
    lookup: describe_images
    owners: ["801119661308", "957547624766"]
"""

RETURN = r"""
image_id:
  description: The AMI ID.
  returned: always
  type: str
  sample: ami-0123456789abcdef0
ssm_parameter:
  description:
    - The SSM public parameter of this AMI family and Kubernetes version, whether or not it was used.
    - Pass it as O(eksnodes.windows.nodegroup_stack#module:image_ssm_parameter) when RV(resolved_by) is V(ssm).
  returned: when O(image_id) is not set
  type: str
  sample: /aws/service/ami-windows-latest/Windows_Server-2022-English-Core-EKS_Optimized-1.31/image_id
resolved_by:
  description:
    - How the AMI was found, V(ssm) or V(describe_images); V(current) when O(current_image_id) was kept, V(image_id)
      when O(image_id) was checked.
  returned: always
  type: str
  sample: ssm
fallback_reason:
  description: Why the SSM parameter was not used, when the AMI was found with C(DescribeImages).
  returned: always
  type: str
  sample: the SSM parameter /aws/service/ami-windows-latest/Windows_Server-2025-English-Core-EKS_Optimized-1.35/image_id does not exist
refused_images:
  description:
    - Newer images of the family's exact name that the C(DescribeImages) fallback refused because their owner is not trusted
      (neither Amazon's nor listed in O(owners)). A warning names them.
  returned: always
  type: list
  elements: str
  sample: ["ami-0123456789abcdef1 (Windows_Server-2022-English-Core-EKS_Optimized-1.31-2026.12.01, owner 111122223333)"]
kubernetes_version:
  description: The Kubernetes version (major.minor) the AMI is for.
  returned: always
  type: str
  sample: "1.31"
os_version:
  description: The Windows Server release.
  returned: always
  type: str
  sample: "2022"
edition:
  description: The Windows Server edition.
  returned: always
  type: str
  sample: core
ami_family:
  description: The eksctl C(amiFamily) name of the release and edition.
  returned: always
  type: str
  sample: WindowsServer2022CoreContainer
image:
  description: The image, as C(DescribeImages) reports it.
  returned: always
  type: dict
  contains:
    image_id:
      description: The AMI ID.
      type: str
      sample: ami-0123456789abcdef0
    name:
      description: The AMI name; it ends with the release date.
      type: str
      sample: Windows_Server-2022-English-Core-EKS_Optimized-1.31-2026.11.12
    description:
      description: The AMI description.
      type: str
      sample: Microsoft Windows Server 2022 Core optimized for EKS and Kubernetes 1.31
    creation_date:
      description: When the AMI was created.
      type: str
      sample: "2026-11-12T08:00:00.000Z"
    deprecation_time:
      description: The AMI's deprecation time, if it has one.
      type: str
      sample: "2028-11-12T08:00:00.000Z"
    owner_id:
      description: The account that owns the AMI.
      type: str
      sample: "957547624766"
    owner_alias:
      description: The owner alias, V(amazon) for AWS-owned images.
      type: str
      sample: amazon
    platform:
      description: The platform details.
      type: str
      sample: Windows
    architecture:
      description: The architecture.
      type: str
      sample: x86_64
    root_device_name:
      description: The root device; C(/dev/sda1) for Windows.
      type: str
      sample: /dev/sda1
    state:
      description: The image state.
      type: str
      sample: available
    public:
      description: Whether the image is public.
      type: bool
      sample: true
expected_private_after:
  description: About four months after the AMI's creation, when EKS usually makes it private.
  returned: when the creation date is known
  type: str
  sample: "2027-03-14T08:00:00+00:00"
days_until_retirement:
  description: Days until the earlier of RV(expected_private_after) and the deprecation time.
  returned: when the creation date or deprecation time is known
  type: int
  sample: 108
newest_image_id:
  description: The newest EKS optimized AMI of the asked release, edition and Kubernetes version.
  returned: when O(image_id) is not set
  type: str
  sample: ami-0fedcba9876543210
newest_creation_date:
  description: When RV(newest_image_id) was created.
  returned: when O(image_id) is not set
  type: str
  sample: "2026-11-12T08:00:00.000Z"
kept_current:
  description: Whether RV(image_id) is O(current_image_id), kept although a newer AMI may exist.
  returned: always
  type: bool
  sample: true
update_available:
  description: Whether a newer AMI of the node group's family than O(current_image_id) exists (or its Kubernetes version moved).
  returned: always
  type: bool
  sample: false
"""

# AnsibleAWSModule.warn() also copies warnings into the result, which ansible-core 2.19 reports as deprecated.
from ansible.module_utils.common.warnings import warn

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_module import AWSModule
from ansible_collections.eksnodes.windows.plugins.module_utils.ami import families
from ansible_collections.eksnodes.windows.plugins.module_utils.ami.choose import DEFAULTS, choose
from ansible_collections.eksnodes.windows.plugins.module_utils.ami.lookup import LOOKUPS, AmiLookupError
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.clusters import describe_cluster


def kubernetes_version_of(module):
    if module.params["kubernetes_version"]:
        return module.params["kubernetes_version"]
    name = module.params["cluster_name"]
    cluster = describe_cluster(module.client("eks"), name)
    if cluster is None:
        module.fail_json(msg=f"cluster_name {name!r}: no EKS cluster has this name in {module.region}")
    return cluster["version"]


def main():
    argument_spec = dict(
        kubernetes_version=dict(type="str"),
        cluster_name=dict(type="str"),
        os_version=dict(type="str", choices=list(families.RELEASES)),
        edition=dict(type="str", choices=list(families.EDITIONS)),
        ami_family=dict(type="str", choices=list(families.AMI_FAMILIES)),
        lookup=dict(type="str", choices=list(LOOKUPS), default="auto"),
        owners=dict(type="list", elements="str"),
        image_id=dict(type="str"),
        custom_image=dict(type="bool", default=False),
        current_image_id=dict(type="str"),
        update=dict(type="bool", default=False),
        expiry_warning_days=dict(type="int", default=30),
    )
    module = AWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("kubernetes_version", "cluster_name"), ("ami_family", "os_version"), ("ami_family", "edition"),
                            ("image_id", "current_image_id")],
        required_one_of=[("kubernetes_version", "cluster_name")],
    )
    params = module.params
    try:
        release, edition = families.select(params["os_version"], params["edition"], params["ami_family"])
        if params["kubernetes_version"]:
            families.check_supported(release, params["kubernetes_version"])
        result = choose(module.client, release, edition, kubernetes_version_of(module), {key: params[key] for key in DEFAULTS}, warn)
    except families.AmiSelectionError as error:
        module.fail_json(msg=str(error))
    except AmiLookupError as error:
        module.fail_json(msg=error.message, **error.facts)
    except AnsibleAWSError as error:
        module.fail_json_aws_error(error)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
