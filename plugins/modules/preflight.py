#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: preflight
version_added: 0.1.0
short_description: Check that an EKS cluster and the planned Windows node group can work, before anything is changed
description:
  - Runs every check below against the cluster and the planned node group, reads only, and returns the
    findings as a list of RV(findings) with the check's name, V(error) or V(warning), what is wrong and how to fix it.
  - Fails when any error is found, unless O(fail_on_error=false).
  - C(cluster_name) and C(nodegroup_name) - the cluster name has only letters, digits and hyphens and starts with a letter
    (at most 100 characters); the node group name (O(nodegroup_name)) has at most 63 characters, starts with a letter or digit,
    then letters, digits, hyphens and underscores.
  - C(cluster_status) - the cluster exists and is V(ACTIVE).
  - C(platform_version) - the Kubernetes version is 1.24 or later and the EKS platform version has Windows support
    in the control plane (for example eks.4 for 1.31).
  - C(ip_family) - the cluster is not IPv6.
  - C(windows_release) - the Windows Server release (O(windows_release)) exists for the Kubernetes version
    (2022 needs 1.24 or later, 2025 needs 1.35 or later).
  - C(cluster_role_policy) - the cluster role has the C(AmazonEKSVPCResourceController) managed policy. Skipped with a
    warning when the caller may not read IAM.
  - C(kubernetes_access) - the Kubernetes API server answers. Without Kubernetes connection options the module
    connects with the cluster's endpoint and certificate authority and a token minted from the AWS credentials.
  - C(linux_nodes) - at least one Linux node is Ready (a warning when only one is; two are recommended), since CoreDNS runs on Linux.
  - C(coredns) - the CoreDNS Deployment C(kube-system/coredns) exists (a warning when none of its replicas is ready).
  - C(legacy_controllers) - the legacy data-plane C(vpc-resource-controller) and C(vpc-admission-webhook) are absent. Once
    C(kube-system/amazon-vpc-cni) has C(enable-windows-ipam) C("true"), what they leave behind is looked for only when a legacy
    Deployment or webhook configuration is still there.
  - C(subnets) - each subnet of O(subnets) (default the cluster's private subnets, or all of its subnets if it has no
    private one) exists and is in the cluster's VPC; public subnets auto-assign public IPv4 addresses; private subnets
    route to a NAT gateway (or a NAT instance, transit gateway or Outposts local gateway); subnets with no internet route
    have the VPC endpoints a private cluster needs (ec2, ecr.api, ecr.dkr, s3) and the cluster has private endpoint access.
    Outposts, Wavelength and Local Zone subnets are recognised and allowed.
  - C(key_pair) - the key pair O(key_name) exists, when one is named.
  - C(node_role) - the Windows node role O(windows_node_role), when given, is not the role of any Linux node (managed
    node groups, aws-auth C(mapRoles) entries without C(eks:kube-proxy-windows), C(EC2_LINUX) access entries).
  - C(instance_type) - the instance type O(instance_type) exists, is offered in the region, and is one Windows nodes can
    use (x86_64, more than one IPv4 address per network interface).
author:
  - eksnodes.windows maintainers (@eksnodes)
options:
  cluster_name:
    description:
      - Name of the EKS cluster.
    type: str
    required: true
  nodegroup_name:
    description:
      - Name of the planned Windows node group; its name is checked when given.
    type: str
  windows_release:
    description:
      - The Windows Server release of the planned nodes; checked against the cluster's Kubernetes version when given.
    type: str
    choices: ['2019', '2022', '2025']
  subnets:
    description:
      - IDs of the subnets the Windows nodes will be launched in.
      - When not given, the cluster's private subnets are checked (all of its subnets if it has no private one);
        RV(node_subnet_ids) lists the ones that were.
    type: list
    elements: str
  key_name:
    description:
      - Name of the EC2 key pair the nodes will get; its existence is checked when given.
    type: str
  windows_node_role:
    description:
      - Name or ARN of the IAM role the Windows nodes will use, when it already exists.
    type: str
  instance_type:
    description:
      - The instance type of the planned nodes, for example V(m5.large).
    type: str
  disable_pod_imds:
    description:
      - Whether the planned nodes will keep pods from the instance metadata service (IMDSv2 required, hop limit 1; the
        nodegroup role's C(nodegroup_disable_pod_imds), the launch playbook's C(disable_pod_imds)).
      - With V(true), the C(pod_imds) check warns about the pods on the cluster's Windows nodes that have no AWS identity
        of their own (no C(AWS_ROLE_ARN) or C(AWS_CONTAINER_CREDENTIALS_FULL_URI) from an IAM role for their service
        account or an EKS Pod Identity association), which use the node role through IMDS and would lose it. It also
        names the pods with the host's network (HostProcess pods), which keep reaching IMDS.
    type: bool
    default: false
    version_added: 0.2.0
  skip_checks:
    description:
      - Checks not to run. Their status in RV(checks) is V(skipped), with the reason in RV(skip_reasons).
    type: list
    elements: str
    default: []
    choices: [cluster_name, nodegroup_name, cluster_status, platform_version, ip_family, windows_release, cluster_role_policy,
              kubernetes_access, linux_nodes, coredns, legacy_controllers, pod_imds, subnets, key_pair, node_role, instance_type]
  fail_on_error:
    description:
      - Fail the task when any check finds an error. With V(false) the findings are only returned.
    type: bool
    default: true
  wait:
    description:
      - Wait until the cluster is V(ACTIVE) before the checks, as M(eksnodes.windows.cluster_info) does with O(wait=true).
        A cluster still being created or updated is waited for; one that is V(FAILED) or V(DELETING) fails the task at once.
      - A cluster that does not exist is reported by the C(cluster_status) check, as without O(wait).
    type: bool
    default: false
    version_added: 0.2.0
  wait_timeout:
    description:
      - How many seconds to wait with O(wait=true) before failing.
    type: int
    default: 1200
    version_added: 0.2.0
  wait_sleep:
    description:
      - Seconds between two looks at the cluster while waiting.
    type: int
    default: 10
    version_added: 0.2.0
extends_documentation_fragment:
  - eksnodes.windows.kubernetes
  - eksnodes.windows.attributes.info_module
  - eksnodes.windows.attributes.action
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Warnings are also shown as task warnings.
  - The module only reads. Needed permissions are C(eks:DescribeCluster), C(eks:ListAddons), C(eks:ListNodegroups), C(eks:DescribeNodegroup),
    C(eks:ListAccessEntries), C(eks:DescribeAccessEntry), C(iam:ListAttachedRolePolicies), C(ec2:DescribeSubnets),
    C(ec2:DescribeRouteTables), C(ec2:DescribeAvailabilityZones), C(ec2:DescribeVpcEndpoints), C(ec2:DescribeKeyPairs),
    C(ec2:DescribeInstanceTypes), C(ec2:DescribeInstanceTypeOfferings), and read access to nodes, Deployments and
    ConfigMaps in the cluster (and to list pods in all namespaces with O(disable_pod_imds=true)).
"""

EXAMPLES = r"""
- name: Check the cluster and the planned node group
  eksnodes.windows.preflight:
    cluster_name: prod
    nodegroup_name: windows-ng
    windows_release: "2022"
    subnets: [subnet-0123456789abcdef0, subnet-0fedcba9876543210]
    key_name: prod-windows
    instance_type: m5.large

- name: Collect the findings without failing, and show them
  eksnodes.windows.preflight:
    cluster_name: prod
    fail_on_error: false
  register: preflight

- name: Show each finding with its fix
  ansible.builtin.debug:
    msg: "{{ item.severity }} [{{ item.check }}] {{ item.message }} Fix: {{ item.fix }}"
  loop: "{{ preflight.findings }}"

- name: Wait until a cluster being created is ACTIVE, then check it
  eksnodes.windows.preflight:
    cluster_name: prod
    wait: true
    wait_timeout: 1800

- name: Skip the IAM check when another team owns the cluster role
  eksnodes.windows.preflight:
    cluster_name: prod
    skip_checks: [cluster_role_policy]
"""

RETURN = r"""
findings:
  description: What the checks found, errors and warnings; empty when every check passed.
  returned: always
  type: list
  sample:
    - check: subnets
      severity: error
      message: subnet subnet-0123456789abcdef0 is public (0.0.0.0/0 goes to igw-0123456789abcdef0) but does
        not auto-assign public IPv4 addresses, so nodes launched there get no public IP and cannot join the cluster.
      fix: 'Turn it on with: aws ec2 modify-subnet-attribute --subnet-id subnet-0123456789abcdef0 --map-public-ip-on-launch;
        or launch the nodes in private subnets routed to a NAT gateway.'
  elements: dict
  contains:
    check:
      description: The check's name, as in RV(checks).
      type: str
      sample: subnets
    severity:
      description: V(error) (the nodes would not work) or V(warning) (they would, with a risk or an unverified part).
      type: str
      sample: error
    message:
      description: What is wrong.
      type: str
      sample: subnet subnet-0123456789abcdef0 is public (0.0.0.0/0 goes to igw-0123456789abcdef0) but does not auto-assign public IPv4
        addresses, so nodes launched there get no public IP and cannot join the cluster.
    fix:
      description: How to fix it.
      type: str
      sample: "Turn it on with: aws ec2 modify-subnet-attribute --subnet-id subnet-0123456789abcdef0 --map-public-ip-on-launch;
        or launch the nodes in private subnets routed to a NAT gateway."
error_count:
  description: Number of errors found.
  returned: always
  type: int
  sample: 0
warning_count:
  description: Number of warnings found.
  returned: always
  type: int
  sample: 1
checks:
  description: Each check's outcome, V(passed), V(failed), V(warning) or V(skipped).
  returned: always
  type: dict
  sample: {cluster_name: passed, cluster_status: passed, linux_nodes: warning, subnets: passed, key_pair: skipped}
skip_reasons:
  description: Why each skipped check was skipped.
  returned: always
  type: dict
  sample: {kubernetes_access: the cluster is CREATING, so its API server cannot be asked}
cluster:
  description: The cluster's facts, in the shape M(eksnodes.windows.cluster_info) returns them; empty when the cluster was not found.
  returned: always
  type: dict
  sample: {name: prod, status: ACTIVE, version: "1.31", vpc_id: vpc-0123456789abcdef0}
subnets:
  description: Every subnet looked at (the cluster's and O(subnets)), with how it reaches the internet.
  returned: always
  type: list
  sample:
    - subnet_id: subnet-0123456789abcdef0
      vpc_id: vpc-0123456789abcdef0
      availability_zone: us-east-1a
      zone_type: availability-zone
      kind: private
      egress: nat-gateway
      default_route_target: nat-0123456789abcdef0
      route_table_id: rtb-0123456789abcdef0
      map_public_ip_on_launch: false
      cidr_block: 10.0.0.0/19
      outpost_arn: null
      blackhole: false
  elements: dict
  contains:
    subnet_id:
      description: Subnet ID.
      type: str
      sample: subnet-0123456789abcdef0
    vpc_id:
      description: The subnet's VPC.
      type: str
      sample: vpc-0123456789abcdef0
    availability_zone:
      description: The subnet's zone.
      type: str
      sample: us-east-1a
    zone_type:
      description: V(availability-zone), V(local-zone), V(wavelength-zone) or V(outpost).
      type: str
      sample: availability-zone
    kind:
      description: V(public) (default route to an internet or carrier gateway), V(private) (default route elsewhere) or V(isolated) (no working default route).
      type: str
      sample: private
    egress:
      description: Where the default route goes, for example V(nat-gateway), V(internet-gateway), V(transit-gateway); null without one.
      type: str
      sample: nat-gateway
    default_route_target:
      description: The ID the default route points at.
      type: str
      sample: nat-0123456789abcdef0
    route_table_id:
      description: The route table that applies to the subnet (its own, else the VPC's main one).
      type: str
      sample: rtb-0123456789abcdef0
    map_public_ip_on_launch:
      description: Whether the subnet auto-assigns public IPv4 addresses.
      type: bool
      sample: false
    cidr_block:
      description: The subnet's IPv4 range.
      type: str
      sample: 10.0.0.0/19
    outpost_arn:
      description: The Outpost of the subnet, if any.
      type: str
      sample: arn:aws:outposts:us-east-1:123456789012:outpost/op-0123456789abcdef0
    blackhole:
      description: Whether the default route points at a target that no longer exists.
      type: bool
      sample: false
node_subnet_ids:
  description: The subnets checked as the nodes' subnets (O(subnets), or the default choice described there).
  returned: always
  type: list
  elements: str
  sample: [subnet-0123456789abcdef0, subnet-0fedcba9876543210]
vpc_cni:
  description:
    - How the cluster's VPC CNI stands, as read by the checks, for the step that enables Windows IPAM
      (M(eksnodes.windows.windows_ipam)); the prerequisites role skips that step when it would change nothing.
  returned: always
  type: dict
  version_added: 0.2.0
  contains:
    managed_addon:
      description: Whether VPC CNI is the managed C(vpc-cni) add-on; null when the add-ons could not be listed.
      type: bool
      sample: false
    config_map_data:
      description:
        - The data of C(kube-system/amazon-vpc-cni); null when it was not read (the C(legacy_controllers) check did not run,
          or the caller may not read it), empty when the ConfigMap does not exist.
      type: dict
      sample: {enable-windows-ipam: "true"}
"""

import re

from ansible.module_utils.common.warnings import warn

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_module import AWSModule
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.lookup import WAIT_ARGUMENT_SPEC
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.lookup import check_wait_options
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.lookup import find_cluster_as_asked
from ansible_collections.eksnodes.windows.plugins.module_utils.ipam.kube import KubeApiError
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import KUBE_AUTH_ARG_SPEC
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import api_client
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import has_explicit_kube_auth
from ansible_collections.eksnodes.windows.plugins.module_utils.preflight.findings import failure_message
from ansible_collections.eksnodes.windows.plugins.module_utils.preflight.findings import warnings
from ansible_collections.eksnodes.windows.plugins.module_utils.preflight.runner import CHECKS
from ansible_collections.eksnodes.windows.plugins.module_utils.preflight.runner import Preflight

SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")


class Clients(dict):
    """boto3 clients made on first use: a run that needs no IAM or STS call does not pay for their models."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def __missing__(self, service):
        self[service] = self.module.client(service)
        return self[service]


def validate(module):
    params = module.params
    bad = [subnet for subnet in params.get("subnets") or [] if not SUBNET_ID.match(subnet)]
    if bad:
        module.fail_json(msg=f"subnets: {', '.join(bad)} is not a subnet ID. Fix: give IDs like subnet-0123456789abcdef0.")
    if params.get("subnets") is not None and not params["subnets"]:
        module.fail_json(msg="subnets: the list is empty. Fix: give at least one subnet ID, or leave subnets out to check the cluster's.")
    for option in ("nodegroup_name", "key_name", "windows_node_role", "instance_type"):
        if params.get(option) is not None and not params[option].strip():
            module.fail_json(msg=f"{option}: the value is empty. Fix: give a value or leave {option} out.")
    check_wait_options(module)


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        nodegroup_name=dict(type="str"),
        windows_release=dict(type="str", choices=["2019", "2022", "2025"]),
        subnets=dict(type="list", elements="str"),
        key_name=dict(type="str", no_log=False),
        windows_node_role=dict(type="str"),
        instance_type=dict(type="str"),
        disable_pod_imds=dict(type="bool", default=False),
        skip_checks=dict(type="list", elements="str", default=[], choices=list(CHECKS)),
        fail_on_error=dict(type="bool", default=True),
        **WAIT_ARGUMENT_SPEC,
    )
    argument_spec.update(KUBE_AUTH_ARG_SPEC)
    module = AWSModule(argument_spec=argument_spec, supports_check_mode=True)
    validate(module)
    clients = Clients(module)

    def kube_client(cluster):
        sts = None if has_explicit_kube_auth(module.params) else clients["sts"]
        return api_client(module.params, cluster=cluster, sts_client=sts)

    preflight = Preflight(module.params, module.region, clients, kube_client, lambda name: find_cluster_as_asked(module, clients["eks"], name))
    try:
        result = preflight.run()
    except AnsibleAWSError as error:
        module.fail_json_aws_error(error)
    except KubeApiError as error:
        module.fail_json(msg=str(error))
    for item in warnings(result["findings"]):
        warn(f"[{item['check']}] {item['message']} Fix: {item['fix']}")
    if result["error_count"] and module.params["fail_on_error"]:
        module.fail_json(msg=failure_message(result["findings"]), changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
