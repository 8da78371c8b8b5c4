"""Helpers for the lab's own tests: node groups built directly with boto3, and Kubernetes shortcuts.

The lab fixtures themselves (``lab``, ``lab_factory``, ``fresh_lab``) come from
``lab.pytest_plugin``, which the root conftest.py loads.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

import pytest
import yaml
from kubernetes import client as kclient
from kubernetes.client.rest import ApiException

FAST_KNOBS = {"join_delay": 0.5, "ready_delay": 0.3, "interval": 0.2}
NODE_GROUPS = ["system:bootstrappers", "system:nodes"]
WINDOWS_GROUPS = NODE_GROUPS + ["eks:kube-proxy-windows"]
MERGE_PATCH = "application/merge-patch+json"
TRUST_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def windows_user_data(cluster_name: str = "lab", quote: str = '"', extra: str = "") -> str:
    """The official template's <powershell> block (section 1.4 of the facts), base64-encoded."""
    script = f"""<powershell>
[string]$EKSBinDir = "$env:ProgramFiles\\Amazon\\EKS"
[string]$EKSBootstrapScriptName = 'Start-EKSBootstrap.ps1'
[string]$EKSBootstrapScriptFile = "$EKSBinDir\\$EKSBootstrapScriptName"
[string]$cfn_signal = "$env:ProgramFiles\\Amazon\\cfn-bootstrap\\cfn-signal.exe"
& $EKSBootstrapScriptFile -EKSClusterName {quote}{cluster_name}{quote} {extra} 3>&1 4>&1 5>&1 6>&1
$LastError = if ($?) {{ 0 }} else {{ $Error[0].Exception.HResult }}
& $cfn_signal --exit-code=$LastError `
  --stack="lab-windows-ng" `
  --resource="NodeGroup" `
  --region=us-east-1
</powershell>
"""
    return base64.b64encode(script.encode()).decode()


@dataclass
class NodeGroup:
    """A self-managed node group made of plain AWS resources."""

    name: str
    role_name: str
    role_arn: str
    profile_name: str
    profile_arn: str
    launch_template_id: str
    asg_name: str
    instance_ids: list = field(default_factory=list)


class NodeGroups:
    """Builds and removes node groups with boto3 against the lab (no collection code)."""

    def __init__(self, lab: Any) -> None:
        self.lab = lab
        self.ec2 = lab.aws_client("ec2")
        self.iam = lab.aws_client("iam")
        self.autoscaling = lab.aws_client("autoscaling")
        self.eks = lab.aws_client("eks")
        self.created: list = []

    def windows_ami(self, release: str = "2022", flavour: str = "Core") -> str:
        ssm = self.lab.aws_client("ssm")
        name = f"/aws/service/ami-windows-latest/Windows_Server-{release}-English-{flavour}-EKS_Optimized-{self.lab.info['kubernetes_version']}/image_id"
        return ssm.get_parameter(Name=name)["Parameter"]["Value"]

    def role(self, name: str, path: str = "/") -> tuple:
        role_arn = self.iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=TRUST_POLICY)["Role"]["Arn"]
        profile = self.iam.create_instance_profile(InstanceProfileName=f"{name}-profile", Path=path)["InstanceProfile"]
        self.iam.add_role_to_instance_profile(InstanceProfileName=f"{name}-profile", RoleName=name)
        return role_arn, profile["InstanceProfileName"], profile["Arn"]

    def create(self, *, user_data: Optional[str] = None, subnets: Optional[list] = None, role_path: str = "/", size: int = 1,
               release: str = "2022", instance_type: str = "m5.large", cluster_tag: bool = True, role: Optional[tuple] = None) -> NodeGroup:
        name = f"ng-{uuid.uuid4().hex[:8]}"
        role_name = f"{name}-role"
        role_arn, profile_name, profile_arn = role or self.role(role_name, role_path)
        template = self.ec2.create_launch_template(LaunchTemplateName=f"{name}-lt", LaunchTemplateData={
            "ImageId": self.windows_ami(release), "InstanceType": instance_type, "IamInstanceProfile": {"Arn": profile_arn},
            "UserData": user_data if user_data is not None else windows_user_data(),
            "MetadataOptions": {"HttpTokens": "optional", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled"},
            "BlockDeviceMappings": [{"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 50, "VolumeType": "gp3", "DeleteOnTermination": True}}]})
        template_id = template["LaunchTemplate"]["LaunchTemplateId"]
        tags = [{"Key": "Name", "Value": f"lab-{name}-Node", "PropagateAtLaunch": True}]
        if cluster_tag:
            tags.append({"Key": f"kubernetes.io/cluster/{self.lab.cluster_name}", "Value": "owned", "PropagateAtLaunch": True})
        asg_name = f"{name}-asg"
        self.autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=asg_name, LaunchTemplate={"LaunchTemplateId": template_id, "Version": "$Latest"},
            MinSize=size, MaxSize=size + 1, DesiredCapacity=size, VPCZoneIdentifier=",".join(subnets or self.lab.facts["private_subnet_ids"]),
            Tags=[{**t, "ResourceId": asg_name, "ResourceType": "auto-scaling-group"} for t in tags])
        group = NodeGroup(name=name, role_name=role_name, role_arn=role_arn, profile_name=profile_name, profile_arn=profile_arn,
                          launch_template_id=template_id, asg_name=asg_name, instance_ids=self.instance_ids(asg_name))
        self.created.append(group)
        return group

    def instance_ids(self, asg_name: str) -> list:
        groups = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[asg_name])["AutoScalingGroups"]
        return [i["InstanceId"] for i in groups[0]["Instances"]] if groups else []

    def node_name(self, instance_id: str) -> str:
        return self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["PrivateDnsName"]

    def delete(self, group: NodeGroup) -> None:
        self.autoscaling.delete_auto_scaling_group(AutoScalingGroupName=group.asg_name, ForceDelete=True)
        if group.instance_ids:
            self.ec2.terminate_instances(InstanceIds=group.instance_ids)

    def cleanup(self) -> None:
        for group in self.created:
            try:
                self.delete(group)
            except self.autoscaling.exceptions.ClientError:
                continue


class Kube:
    """Kubernetes shortcuts over the official client (admin kubeconfig of the lab)."""

    def __init__(self, lab: Any) -> None:
        api_client = lab.kube_api_client()
        self.core = kclient.CoreV1Api(api_client)
        self.apps = kclient.AppsV1Api(api_client)

    def config_map(self, name: str, namespace: str = "kube-system") -> Optional[Any]:
        try:
            return self.core.read_namespaced_config_map(name, namespace)
        except ApiException as err:
            if err.status == 404:
                return None
            raise

    def set_ipam(self, value: str) -> None:
        self.core.patch_namespaced_config_map("amazon-vpc-cni", "kube-system", {"data": {"enable-windows-ipam": value}}, _content_type=MERGE_PATCH)

    def map_role(self, role_arn: str, groups: list) -> None:
        """Add or replace the role's aws-auth entry (read-modify-write; creates aws-auth if absent)."""
        current = self.config_map("aws-auth")
        entries = yaml.safe_load((current.data or {}).get("mapRoles") or "[]") if current else []
        entries = [e for e in entries if e.get("rolearn") != role_arn]
        entries.append({"rolearn": role_arn, "username": "system:node:{{EC2PrivateDNSName}}", "groups": list(groups)})
        data = {"mapRoles": yaml.safe_dump(entries, sort_keys=False)}
        if current is None:
            self.core.create_namespaced_config_map("kube-system", {"metadata": {"name": "aws-auth", "namespace": "kube-system"}, "data": data})
        else:
            current.data = {**(current.data or {}), **data}
            self.core.replace_namespaced_config_map("aws-auth", "kube-system", current)

    def node(self, name: str) -> Optional[Any]:
        try:
            return self.core.read_node(name)
        except ApiException as err:
            if err.status == 404:
                return None
            raise

    def wait(self, what: str, check: Callable[[], Any], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            time.sleep(0.1)

    def wait_node_ready(self, name: str, status: str = "True", message: str = "", timeout: float = 10.0) -> Any:
        def check() -> Any:
            node = self.node(name)
            ready = ready_of(node) if node else None
            return node if ready and ready.status == status and message in (ready.message or "") else None
        return self.wait(f"node {name} Ready={status} {message!r}", check, timeout)


def ready_of(node: Any) -> Any:
    return next((c for c in (node.status.conditions or []) if c.type == "Ready"), None)


@pytest.fixture(scope="session")
def fast_lab(lab: Any) -> Any:  # pylint: disable=redefined-outer-name
    """The session lab with short simulator delays."""
    lab.control.set_nodesim(**FAST_KNOBS)
    return lab


@pytest.fixture(scope="session")
def kube(fast_lab: Any) -> Kube:  # pylint: disable=redefined-outer-name
    return Kube(fast_lab)


@pytest.fixture
def node_groups(fast_lab: Any) -> Iterator[NodeGroups]:  # pylint: disable=redefined-outer-name
    groups = NodeGroups(fast_lab)
    try:
        yield groups
    finally:
        groups.cleanup()
