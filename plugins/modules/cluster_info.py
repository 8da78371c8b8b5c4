#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: cluster_info
version_added: 0.1.0
short_description: Describe an EKS cluster, optionally wait until it is ACTIVE, and connect to its API server
description:
  - Describes an Amazon EKS cluster and returns what the later steps of a Windows node launch need, in
    one shape (RV(cluster)).
  - With O(wait=true), waits until the cluster is V(ACTIVE). Nodes launched before that never register.
    The wait fails at once when the cluster is V(FAILED) or V(DELETING), and fails with the last status at
    O(wait_timeout).
  - Connects to the cluster's Kubernetes API server when O(check_kubernetes=true). Without any Kubernetes
    connection option it uses the cluster's endpoint and certificate authority with a token minted from
    the AWS credentials (the C(aws eks get-token) scheme), so only AWS credentials are needed; a
    kubeconfig or another connection option, when given, is used instead.
  - Returns a kubeconfig for the cluster (RV(kubeconfig)) that the C(kubernetes.core) modules accept as
    their O(kubeconfig) option.
  - Checks the region against botocore's endpoint data. A name of no AWS partition's shape (such as C(us-east1))
    fails before any call. A name of a partition's shape that botocore does not list for EKS (such as
    C(eu-nowhere-9)) fails, naming the region, when no cluster is found there or the endpoint cannot be reached; when
    the cluster is found there (a region newer than the installed botocore), the module warns and goes on.
author:
  - eksnodes.windows maintainers (@eksnodes)
options:
  name:
    description:
      - Name of the EKS cluster.
    type: str
    required: true
    aliases: [cluster_name]
  wait:
    description:
      - Wait until the cluster is V(ACTIVE).
      - When the cluster does not exist, the module fails with O(wait=true) and returns RV(exists=false) otherwise.
    type: bool
    default: false
  wait_timeout:
    description:
      - How many seconds to wait for V(ACTIVE) when O(wait=true).
    type: int
    default: 1200
  wait_sleep:
    description:
      - Seconds between two looks at the cluster's status while waiting.
    type: int
    default: 10
  check_kubernetes:
    description:
      - Connect to the Kubernetes API server and return its version and how the connection was made in RV(kubernetes).
      - The module fails when the API server cannot be reached or refuses the credentials.
    type: bool
    default: false
  kubeconfig_auth:
    description:
      - How the user of the returned RV(kubeconfig) authenticates.
      - V(exec) runs C(aws eks get-token) whenever a client needs a token (the AWS CLI must be installed where it is used).
      - V(token) embeds a bearer token minted now from the AWS credentials, for short tasks on hosts without the AWS
        CLI. The token is a live credential for the cluster for up to 15 minutes, so it is only returned with
        O(return_token=true) on a task with the C(no_log) keyword set.
    type: str
    choices: [exec, token]
    default: exec
  return_token:
    description:
      - With O(kubeconfig_auth=token), return the minted token in RV(kubeconfig). Required with O(kubeconfig_auth=token).
      - Ansible shows module results with C(-v), in callbacks and in logs, and the module cannot hide a value it returns
        (values marked C(no_log) are replaced by C(********) in the result too). So the module refuses, before any call,
        unless the task itself sets the C(no_log) keyword; the registered variable still holds the token for the next tasks.
    type: bool
    default: false
extends_documentation_fragment:
  - eksnodes.windows.kubernetes
  - eksnodes.windows.attributes.info_module
  - eksnodes.windows.attributes.action
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Describe the cluster and wait until it is ACTIVE
  eksnodes.windows.cluster_info:
    name: prod
    region: us-east-1
    wait: true
    wait_timeout: 1800
  register: prod

- name: Show the DNS service IP the Windows bootstrap needs
  ansible.builtin.debug:
    msg: "{{ prod.cluster.dns_cluster_ip }} in {{ prod.cluster.service_ipv4_cidr }}"

- name: Check that the AWS credentials alone reach the API server
  eksnodes.windows.cluster_info:
    name: prod
    check_kubernetes: true
  register: prod_api

- name: Use the returned kubeconfig with kubernetes.core (token minted for this short task, never shown)
  eksnodes.windows.cluster_info:
    name: prod
    kubeconfig_auth: token
    return_token: true
  register: prod_token
  no_log: true

- name: List the nodes
  kubernetes.core.k8s_info:
    kind: Node
    kubeconfig: "{{ prod_token.kubeconfig }}"
"""

RETURN = r"""
exists:
  description: Whether the cluster exists.
  returned: always
  type: bool
  sample: true
cluster:
  description: The cluster's facts, as every later step of the collection takes them. Empty when the cluster does not exist.
  returned: always
  type: dict
  contains:
    name:
      description: Cluster name.
      type: str
      returned: when the cluster exists
      sample: prod
    arn:
      description: Cluster ARN.
      type: str
      returned: when the cluster exists
      sample: arn:aws:eks:us-east-1:123456789012:cluster/prod
    version:
      description: Kubernetes version.
      type: str
      returned: when the cluster exists
      sample: "1.31"
    platform_version:
      description: EKS platform version.
      type: str
      returned: when the cluster exists
      sample: eks.20
    status:
      description: Cluster status, V(CREATING), V(ACTIVE), V(UPDATING), V(DELETING) or V(FAILED).
      type: str
      returned: when the cluster exists
      sample: ACTIVE
    endpoint:
      description: URL of the Kubernetes API server. Empty while the cluster is being created.
      type: str
      returned: when the cluster exists
      sample: https://0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com
    certificate_authority:
      description: Base64-encoded certificate authority of the API server.
      type: str
      returned: when the cluster exists
      sample: LS0tLS1CRUdJTi...
    role_arn:
      description: ARN of the cluster's IAM role.
      type: str
      returned: when the cluster exists
      sample: arn:aws:iam::123456789012:role/prod-cluster
    authentication_mode:
      description: V(CONFIG_MAP), V(API_AND_CONFIG_MAP) or V(API); V(CONFIG_MAP) for clusters that predate access entries.
      type: str
      returned: when the cluster exists
      sample: API_AND_CONFIG_MAP
    vpc_id:
      description: The cluster's VPC.
      type: str
      returned: when the cluster exists
      sample: vpc-0123456789abcdef0
    subnet_ids:
      description: The cluster's subnets.
      type: list
      elements: str
      returned: when the cluster exists
      sample: [subnet-0123456789abcdef0, subnet-0fedcba9876543210]
    cluster_security_group_id:
      description: The security group EKS created for the cluster.
      type: str
      returned: when the cluster exists
      sample: sg-0123456789abcdef0
    security_group_ids:
      description: The additional control-plane security groups (the C(ClusterControlPlaneSecurityGroup) of the node template).
      type: list
      elements: str
      returned: when the cluster exists
      sample: [sg-0fedcba9876543210]
    endpoint_public_access:
      description: Whether the API server endpoint is reachable from the internet.
      type: bool
      returned: when the cluster exists
      sample: true
    endpoint_private_access:
      description: Whether the API server endpoint is reachable from inside the VPC.
      type: bool
      returned: when the cluster exists
      sample: false
    service_ipv4_cidr:
      description: The Kubernetes service range.
      type: str
      returned: when the cluster exists
      sample: 172.20.0.0/16
    dns_cluster_ip:
      description: The cluster DNS service IP (the tenth address of the service range), the C(-DNSClusterIP) of the Windows bootstrap.
      type: str
      returned: when the cluster exists
      sample: 172.20.0.10
    ip_family:
      description: V(ipv4) or V(ipv6).
      type: str
      returned: when the cluster exists
      sample: ipv4
    oidc_issuer:
      description: The cluster's OpenID Connect issuer URL.
      type: str
      returned: when the cluster exists
      sample: https://oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF
    tags:
      description: The cluster's tags.
      type: dict
      returned: when the cluster exists
      sample: {team: platform}
kubeconfig:
  description:
    - A kubeconfig for the cluster, usable as the O(kubeconfig) option of the C(kubernetes.core) modules or written to a file.
    - Its user runs C(aws eks get-token), or carries a minted token when O(kubeconfig_auth=token) and O(return_token=true).
  returned: when the cluster exists and has an endpoint
  type: dict
  sample:
    apiVersion: v1
    kind: Config
    current-context: arn:aws:eks:us-east-1:123456789012:cluster/prod
    clusters:
      - name: arn:aws:eks:us-east-1:123456789012:cluster/prod
        cluster:
          server: https://0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com
          certificate-authority-data: LS0tLS1CRUdJTi...
    users:
      - name: arn:aws:eks:us-east-1:123456789012:cluster/prod
        user:
          exec:
            apiVersion: client.authentication.k8s.io/v1beta1
            command: aws
            args: [--region, us-east-1, eks, get-token, --cluster-name, prod, --output, json]
    contexts:
      - name: arn:aws:eks:us-east-1:123456789012:cluster/prod
        context:
          cluster: arn:aws:eks:us-east-1:123456789012:cluster/prod
          user: arn:aws:eks:us-east-1:123456789012:cluster/prod
kubernetes:
  description: The Kubernetes API server as the module reached it.
  returned: when O(check_kubernetes=true)
  type: dict
  contains:
    host:
      description: The API server URL that was used.
      type: str
      sample: https://0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com
    auth_method:
      description:
        - V(eks_token) when a token was minted from the AWS credentials.
        - V(kubeconfig) when the Kubernetes connection options or E(K8S_AUTH_*) variables were used.
      type: str
      sample: eks_token
    server_version:
      description: The API server's version (C(gitVersion)).
      type: str
      sample: v1.31.2-eks-7f9249a
"""

import json

try:
    # First, so that kubernetes is then imported name by name (module_utils/kube/lazy.py).
    from ansible_collections.eksnodes.windows.plugins.module_utils.kube import lazy  # noqa: F401  pylint: disable=unused-import
    from kubernetes import client as kclient
except ImportError:
    kclient = None  # api_client() reports the missing library

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_module import AWSModule
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.kubeconfig import kubeconfig
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.lookup import WAIT_ARGUMENT_SPEC
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.lookup import check_wait_options
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.lookup import find_cluster_as_asked
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.names import eks_api_cluster_name_problem
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.transformations import cluster_facts
from ansible_collections.eksnodes.windows.plugins.module_utils.ipam.kube import REQUEST_TIMEOUT
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import KUBE_AUTH_ARG_SPEC
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import KubeClientError
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import KubeConnectionError
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import api_client
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import api_error_message
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import has_explicit_kube_auth
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.token import mint_token


def validate(module):
    params = module.params
    problem = eks_api_cluster_name_problem(params["name"])
    if problem:
        module.fail_json(msg=f"name: {problem}. Fix: give the exact name of an existing cluster (aws eks list-clusters).")
    problem = token_problem(params["kubeconfig_auth"], params["return_token"], module.no_log)
    if problem:
        module.fail_json(msg=problem)
    check_wait_options(module)


def token_problem(kubeconfig_auth, return_token, task_no_log):
    """Why a minted token may not be returned, or None: it must be asked for, by a task whose output Ansible hides."""
    if kubeconfig_auth == "token" and not return_token:
        return ("kubeconfig_auth=token returns a live bearer token for the cluster (valid up to 15 minutes). Fix: set return_token: "
                "true on a task with no_log: true, or use kubeconfig_auth: exec (the kubeconfig then runs aws eks get-token).")
    if return_token and kubeconfig_auth != "token":
        return "return_token=true needs kubeconfig_auth: token. Fix: set kubeconfig_auth: token, or remove return_token."
    if return_token and not task_no_log:
        return ("return_token=true: the task must set no_log: true, or Ansible shows the token with -v, in callbacks and in logs. "
                "Fix: add no_log: true to the task (its registered result keeps the token), or use kubeconfig_auth: exec.")
    return None


def kubernetes_check(module, facts, sts):
    params = module.params
    try:
        client = api_client(params, cluster=facts, sts_client=sts)
        response = kclient.VersionApi(client).get_code(_preload_content=False, _request_timeout=REQUEST_TIMEOUT)
        version = json.loads(response.data or b"{}")
    except (KubeClientError, KubeConnectionError) as error:
        module.fail_json(msg=f"Cannot connect to the API server of cluster {facts['name']}: {error}", cluster=facts)
    except Exception as error:  # pylint: disable=broad-exception-caught
        # ApiException, urllib3 and SSL errors all mean the same here: the API server was not usable.
        module.fail_json(
            msg=f"The API server of cluster {facts['name']} could not be used: {api_error_message(error)}. Fix: give the caller "
            "access to the cluster (an access entry, or an aws-auth mapping), or pass a kubeconfig that has it.",
            cluster=facts,
        )
    return {
        "host": client.configuration.host,
        "auth_method": "kubeconfig" if has_explicit_kube_auth(params) else "eks_token",
        "server_version": version.get("gitVersion"),
    }


def main():
    argument_spec = dict(
        name=dict(type="str", required=True, aliases=["cluster_name"]),
        **WAIT_ARGUMENT_SPEC,
        check_kubernetes=dict(type="bool", default=False),
        kubeconfig_auth=dict(type="str", choices=["exec", "token"], default="exec"),
        return_token=dict(type="bool", default=False),
    )
    argument_spec.update(KUBE_AUTH_ARG_SPEC)
    module = AWSModule(argument_spec=argument_spec, supports_check_mode=True)
    validate(module)
    params = module.params
    name = params["name"]
    eks = module.client("eks")
    described = find_cluster_as_asked(module, eks, name)
    if described is None:
        if params["wait"]:
            module.fail_json(msg=f"Cluster {name} in {module.region}: the cluster does not exist. Fix: check the name and the region "
                             f"(aws eks list-clusters --region {module.region}).", exists=False, cluster={})
        module.exit_json(changed=False, exists=False, cluster={})
    facts = cluster_facts(described)
    result = {"changed": False, "exists": True, "cluster": facts}
    if facts.get("endpoint") and facts.get("certificate_authority"):
        sts = module.client("sts") if params["kubeconfig_auth"] == "token" or params["check_kubernetes"] else None
        token = mint_token(sts, name) if params["kubeconfig_auth"] == "token" else None
        result["kubeconfig"] = kubeconfig(facts, module.region, token=token, profile=params.get("profile"))
        if params["check_kubernetes"]:
            result["kubernetes"] = kubernetes_check(module, facts, sts)
    elif params["check_kubernetes"]:
        module.fail_json(msg=f"Cluster {name} is {facts['status']} and has no API server endpoint yet. Fix: run with wait=true.", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
