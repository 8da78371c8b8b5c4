"""Names and numbers of the lab's AWS side, shared by the seed, the EKS extension and the tests."""

from __future__ import annotations

ACCOUNT_ID = "123456789012"  # moto's default account; every unsigned-looking access key maps to it
DEFAULT_REGION = "us-east-1"

CLUSTER_NAME = "lab"
DEFAULT_KUBERNETES_VERSION = "1.31"
DEFAULT_PLATFORM_VERSION = "eks.20"
AUTHENTICATION_MODES = ("CONFIG_MAP", "API_AND_CONFIG_MAP", "API")

CLUSTER_ROLE_NAME = "lab-cluster-role"
LINUX_NODE_ROLE_NAME = "lab-linux-node-role"
LINUX_NODE_PROFILE_NAME = "lab-linux-node-profile"
LINUX_NODE_SG_NAME = "lab-linux-node-sg"
CONTROL_PLANE_SG_NAME = "lab-control-plane-sg"
LINUX_NODEGROUP_NAME = "lab-linux"
KEY_NAME = "lab-key"

VPC_CIDR = "10.0.0.0/16"
PRIVATE_SUBNET_CIDRS = ("10.0.0.0/19", "10.0.32.0/19")
PUBLIC_SUBNET_CIDRS = ("10.0.128.0/20", "10.0.144.0/20")
AZ_SUFFIXES = ("a", "b")

AWS_POLICY_PREFIX = "arn:aws:iam::aws:policy/"
CLUSTER_POLICY_ARNS = (
    AWS_POLICY_PREFIX + "AmazonEKSClusterPolicy",
    AWS_POLICY_PREFIX + "AmazonEKSVPCResourceController",
)
NODE_POLICY_ARNS = (
    AWS_POLICY_PREFIX + "AmazonEKSWorkerNodePolicy",
    AWS_POLICY_PREFIX + "AmazonEC2ContainerRegistryReadOnly",
    AWS_POLICY_PREFIX + "AmazonEKS_CNI_Policy",
)

EKS_TRUST_POLICY = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
                    '"Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}')
EC2_TRUST_POLICY = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
                    '"Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}')

# EKS-optimized Windows AMIs are published by more than one account (see eks-windows-facts.md, section 5):
# the lab alternates them so that nothing can depend on a single owner id.
WINDOWS_AMI_OWNERS = ("801119661308", "957547624766")
WINDOWS_KUBERNETES_VERSIONS = ("1.29", "1.30", "1.31", "1.32", "1.33", "1.34", "1.35")
WINDOWS_RELEASE_DATES = ("2026.10.14", "2026.11.12")  # oldest first; the last one is "latest"
WINDOWS_ROOT_VOLUME_GIB = 50
LINUX_AMI_OWNER = "602401143452"
