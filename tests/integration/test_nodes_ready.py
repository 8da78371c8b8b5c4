"""eksnodes.windows.nodes_ready against the lab: the wait, its progress lines, token renewal, and the diagnosis
of every cause of "nodes fail to join" the module knows, each injected into a node group of its own.

The node groups are built with boto3 (the lab's AWS endpoint), as the nodegroup stack would leave them, so
each fault can be injected alone.
"""

import base64
import json
import re
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client as kclient

from integration_helpers import REPO, PlaybookResult, unused_octet

MODULE = "eksnodes.windows.nodes_ready"
NODE_GROUPS = ["system:bootstrappers", "system:nodes"]
WINDOWS_GROUPS = NODE_GROUPS + ["eks:kube-proxy-windows"]
FAST_KNOBS = {"join_delay": 0.5, "ready_delay": 0.3, "interval": 0.2}
FAST_LAB = {"join_delay": 0.5, "ready_delay": 0.3}
KUBECONFIG_ENV = ("K8S_AUTH_KUBECONFIG", "KUBECONFIG")
TRUST_POLICY = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
                '"Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}')
BUILDS = {"2019": "10.0.17763", "2022": "10.0.20348"}


def windows_user_data(cluster_name):
    """The <powershell> block of the EKS Windows nodegroup template, base64-encoded."""
    script = f"""<powershell>
[string]$EKSBinDir = "$env:ProgramFiles\\Amazon\\EKS"
[string]$EKSBootstrapScriptName = 'Start-EKSBootstrap.ps1'
[string]$EKSBootstrapScriptFile = "$EKSBinDir\\$EKSBootstrapScriptName"
& $EKSBootstrapScriptFile -EKSClusterName {cluster_name} 3>&1 4>&1 5>&1 6>&1
</powershell>
"""
    return base64.b64encode(script.encode()).decode()


class Fleet:
    """Windows node groups made of plain AWS resources, and the aws-auth entries for them; all removed afterwards."""

    def __init__(self, lab):
        self.lab = lab
        self.ec2 = lab.aws_client("ec2")
        self.iam = lab.aws_client("iam")
        self.autoscaling = lab.aws_client("autoscaling")
        self.core = kclient.CoreV1Api(lab.kube_api_client())
        self.groups = []
        self.mapped = []

    def role(self, name, path="/"):
        arn = self.iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=TRUST_POLICY)["Role"]["Arn"]
        profile = self.iam.create_instance_profile(InstanceProfileName=f"{name}-profile", Path=path)["InstanceProfile"]
        self.iam.add_role_to_instance_profile(InstanceProfileName=f"{name}-profile", RoleName=name)
        return arn, profile["Arn"]

    def create(self, size=1, release="2022", user_data=None, subnets=None, role_path="/", instance_type="m5.large", image=None):
        name = f"nr-{uuid.uuid4().hex[:8]}"
        role_arn, profile_arn = self.role(f"{name}-role", role_path)
        ssm = self.lab.aws_client("ssm")
        parameter = f"/aws/service/ami-windows-latest/Windows_Server-{release}-English-Core-EKS_Optimized-{self.lab.info['kubernetes_version']}/image_id"
        image = image or ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
        template = self.ec2.create_launch_template(LaunchTemplateName=f"{name}-lt", LaunchTemplateData={
            "ImageId": image, "InstanceType": instance_type, "IamInstanceProfile": {"Arn": profile_arn},
            "UserData": user_data or windows_user_data(self.lab.cluster_name)})["LaunchTemplate"]
        asg = f"{name}-NodeGroup"
        tags = [{"Key": "Name", "Value": f"{name}-Node"}, {"Key": f"kubernetes.io/cluster/{self.lab.cluster_name}", "Value": "owned"}]
        self.autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=asg, LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"], "Version": "$Latest"},
            MinSize=size, MaxSize=size + 1, DesiredCapacity=size,
            VPCZoneIdentifier=",".join(subnets or self.lab.facts["private_subnet_ids"]),
            Tags=[dict(t, PropagateAtLaunch=True, ResourceId=asg, ResourceType="auto-scaling-group") for t in tags])
        group = {"name": asg, "role_arn": role_arn, "profile_arn": profile_arn, "instance_ids": self.instance_ids(asg)}
        self.groups.append(group)
        return group

    def instance_ids(self, asg):
        groups = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[asg])["AutoScalingGroups"]
        return sorted(i["InstanceId"] for i in groups[0]["Instances"])

    def instance(self, instance_id):
        return self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]

    def subnet(self, internet_gateway=False):
        """A subnet of the lab VPC with a route table of its own: no default route, or one to the internet gateway."""
        vpc_id = self.lab.facts["vpc_id"]
        cidr = f"10.0.{unused_octet(self.ec2, vpc_id)}.0/28"
        subnet_id = self.ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=f"{self.lab.region}a")["Subnet"]["SubnetId"]
        table_id = self.ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
        self.ec2.associate_route_table(RouteTableId=table_id, SubnetId=subnet_id)
        if internet_gateway:
            gateway = self.ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"][0]
            self.ec2.create_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway["InternetGatewayId"])
        return subnet_id

    # aws-auth ------------------------------------------------------------------------------------------
    def _aws_auth(self):
        return self.core.read_namespaced_config_map("aws-auth", "kube-system")

    def _write_map_roles(self, change):
        current = self._aws_auth()
        entries = yaml.safe_load((current.data or {}).get("mapRoles") or "[]") or []
        current.data = dict(current.data or {}, mapRoles=yaml.safe_dump(change(entries), sort_keys=False))
        self.core.replace_namespaced_config_map("aws-auth", "kube-system", current)

    def map(self, arn, groups=None):
        entry = {"rolearn": arn, "username": "system:node:{{EC2PrivateDNSName}}", "groups": list(groups or WINDOWS_GROUPS)}
        self._write_map_roles(lambda entries: [e for e in entries if e.get("rolearn") != arn] + [entry])
        self.mapped.append(arn)

    def cleanup(self):
        if self.mapped:
            self._write_map_roles(lambda entries: [e for e in entries if e.get("rolearn") not in self.mapped])
        for group in self.groups:
            try:
                self.autoscaling.delete_auto_scaling_group(AutoScalingGroupName=group["name"], ForceDelete=True)
                if group["instance_ids"]:
                    self.ec2.terminate_instances(InstanceIds=group["instance_ids"])
            except self.autoscaling.exceptions.ClientError:
                continue


class Settings:
    """Changes to what the lab's tests share (simulator knobs, Windows IPAM), put back afterwards."""

    def __init__(self, lab):
        self.lab = lab
        self.core = kclient.CoreV1Api(lab.kube_api_client())
        self._knobs = None
        self._ipam = None

    def knobs(self, **values):
        if self._knobs is None:
            self._knobs = {k: v for k, v in self.lab.control.nodesim()["knobs"].items() if k in ("join_delay", "ready_delay", "interval", "paused")}
        self.lab.control.set_nodesim(**values)

    def ipam(self, value):
        if self._ipam is None:
            self._ipam = (self.core.read_namespaced_config_map("amazon-vpc-cni", "kube-system").data or {}).get("enable-windows-ipam", "false")
        self._set_ipam(value)

    def _set_ipam(self, value):
        self.core.patch_namespaced_config_map("amazon-vpc-cni", "kube-system", {"data": {"enable-windows-ipam": value}})

    def restore(self):
        if self._knobs is not None:
            self.lab.control.set_nodesim(**self._knobs)
        if self._ipam is not None:
            self._set_ipam(self._ipam)


@pytest.fixture
def fleet(lab):
    handle = Fleet(lab)
    try:
        yield handle
    finally:
        handle.cleanup()


@pytest.fixture
def settings(lab):
    handle = Settings(lab)
    try:
        yield handle
    finally:
        handle.restore()


def wait_task(args, name="wait"):
    return {"name": name, MODULE: args, "register": "waited", "ignore_errors": True}


def play(*tasks):
    return [{"hosts": "localhost", "gather_facts": False, "tasks": list(tasks)}]


def progress_lines(stdout):
    return re.findall(r"^\[localhost\] (\d+/\d+ .*) after \S+$", stdout, re.MULTILINE)


def all_ready_at(core, names, stop, seen):
    """A thread that records in seen['all_ready'] when every named node was first seen Ready (polling every 20 ms)."""
    def poll():
        while not stop.is_set():
            nodes = {n.metadata.name: n for n in core.list_node().items}
            ready = [n for n in names if n in nodes and any(c.type == "Ready" and c.status == "True" for c in nodes[n].status.conditions or [])]
            if len(ready) == len(names):
                seen["all_ready"] = time.monotonic()
                return
            time.sleep(0.02)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    return thread


# --------------------------------------------------------------------------- waiting


def stream_playbook(ansible, plays, on_line, timeout=300):
    """Run a playbook like ansible.playbook, calling on_line(line) for each line of output as it comes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "playbook.yml"
        path.write_text(yaml.safe_dump(plays, sort_keys=False))
        command = [str(REPO / ".venv/bin/ansible-playbook"), "-i", "localhost,", "-c", "local", str(path)]
        with subprocess.Popen(command, env=ansible.environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
            timer = threading.Timer(timeout, process.kill)
            timer.start()
            lines = []
            for line in process.stdout:
                lines.append(line)
                on_line(line.rstrip("\n"))
            stderr = process.stderr.read()
            process.wait()
            timer.cancel()
    stdout = "".join(lines)
    return PlaybookResult(process.returncode, stdout, stderr, json.loads(stdout[stdout.index("{"):]))


def test_waits_for_the_group_and_prints_progress_as_nodes_join(lab, ansible, fleet, settings):
    # The simulator is held until the first progress line is out, so that every transition is seen live.
    settings.knobs(join_delay=1.0, ready_delay=1.0, interval=0.2, paused=True)
    settings.ipam("true")
    group = fleet.create(size=3)
    fleet.map(group["role_arn"])
    names = {fleet.instance(i)["PrivateDnsName"]: i for i in group["instance_ids"]}
    stop = threading.Event()
    seen = {}
    watcher = []

    def on_line(line):
        if progress_lines(line) and not watcher:
            seen["first_line"] = time.monotonic()
            watcher.append(all_ready_at(fleet.core, list(names), stop, seen))
            lab.control.set_nodesim(paused=False)

    started = time.monotonic()
    run = stream_playbook(ansible, play(wait_task({"cluster_name": lab.cluster_name, "autoscaling_group_name": group["name"],
                                                   "wait_timeout": 120, "progress_interval": 30})), on_line)
    ended = time.monotonic()
    stop.set()
    for thread in watcher:
        thread.join(5)
    result = run.result("wait")
    assert not result.get("failed"), result
    assert result["done"] is True and result["changed"] is False
    assert result["expected"] == 3 and result["ready_count"] == 3 and result["unregistered"] == []
    assert sorted(result["instance_ids"]) == group["instance_ids"]
    assert {n["name"]: n["instance_id"] for n in result["nodes"]} == names
    for node in result["nodes"]:
        assert node["ready"] is True and node["os"] == "windows" and node["windows_build"] == BUILDS["2022"]
        assert node["instance_type"] == "m5.large" and node["zone"].startswith(lab.region)
        assert node["provider_id"] == f"aws:///{node['zone']}/{node['instance_id']}"
        assert {"type": "Ready", "status": "True"}.items() <= next(c for c in node["conditions"] if c["type"] == "Ready").items()
    lines = progress_lines(run.stdout)
    assert lines[0] == f"0/3 Windows nodes Ready (not registered: {', '.join(group['instance_ids'])})", run.stdout
    assert lines[-1].startswith("3/3 Windows nodes Ready (ready: ") and len(lines) >= 2, run.stdout
    assert result["summary"] == lines[-1]
    if "all_ready" in seen:
        print(f"\nnodes_ready: {len(lines)} progress lines; first line {seen['first_line'] - started:.1f}s after the start; "
              f"wait {result['elapsed']:.1f}s; last node Ready -> ansible-playbook exit {ended - seen['all_ready']:.2f}s")


def test_other_ways_to_name_the_nodes_and_check_mode(lab, ansible, fleet, settings):
    settings.knobs(**FAST_KNOBS)
    settings.ipam("true")
    group = fleet.create(size=1, release="2019")
    fleet.map(group["role_arn"])
    common = {"cluster_name": lab.cluster_name, "wait_timeout": 60}
    run = ansible.playbook(play(
        wait_task(dict(common, instance_ids=group["instance_ids"]), "by instance ids"),
        wait_task(dict(common, label_selectors=["kubernetes.io/os=windows", "node.kubernetes.io/windows-build=10.0.17763"], expected=1),
                  "by label selectors"),
        wait_task(dict(common, autoscaling_group_name=group["name"], label_selectors=["kubernetes.io/os=linux"], wait_timeout=1),
                  "group and a selector that excludes it"),
        wait_task(dict(common, autoscaling_group_name=group["name"], expected=2, wait_timeout=1), "more than the group has"),
    ), check=True)
    by_ids = run.result("by instance ids")
    assert not by_ids.get("failed"), by_ids
    assert by_ids["done"] and by_ids["nodes"][0]["windows_build"] == BUILDS["2019"]
    by_selector = run.result("by label selectors")
    assert not by_selector.get("failed"), by_selector
    assert by_selector["ready_count"] >= 1 and all(n["windows_build"] == BUILDS["2019"] for n in by_selector["nodes"])
    excluded = run.result("group and a selector that excludes it")
    assert excluded["failed"] and excluded["ready_count"] == 0 and excluded["unregistered"] == group["instance_ids"]
    short = run.result("more than the group has")
    assert short["failed"] and short["ready_count"] == 1
    group_entry = next(e for e in short["diagnosis"] if e["state"] == "group")
    assert group_entry["causes"][0]["code"] == "group_short_of_instances"
    assert f"{group['name']} has 1 of the 2 instances expected" in short["msg"]


def test_bad_arguments_and_a_missing_group(lab, ansible):
    run = ansible.playbook(play(
        wait_task({"cluster_name": lab.cluster_name, "label_selectors": ["kubernetes.io/os=windows"]}, "selector without count"),
        wait_task({"cluster_name": lab.cluster_name, "autoscaling_group_name": "no-such-group"}, "missing group"),
        wait_task({"cluster_name": "no-such-cluster", "autoscaling_group_name": "x"}, "missing cluster"),
    ))
    assert "expected is required when label_selectors alone pick the nodes" in run.result("selector without count")["msg"]
    assert run.result("missing group")["msg"] == "Auto Scaling group no-such-group does not exist"
    assert run.result("missing cluster")["msg"] == "cluster no-such-cluster does not exist"


def test_an_expired_token_is_renewed_during_the_wait(lab_factory, ansible):
    short = lab_factory(eks_token_ttl=3, **FAST_LAB)
    fleet = Fleet(short)
    group = fleet.create(size=1)  # never mapped: the wait runs to its end, then diagnoses
    env = dict(short.env)
    run = ansible.playbook(play(wait_task({"cluster_name": short.cluster_name, "autoscaling_group_name": group["name"],
                                           "wait_timeout": 14, "progress_interval": 14})),
                           env=env, drop_env=KUBECONFIG_ENV)
    result = run.result("wait")
    assert result["failed"] and "Timed out after 14s" in result["msg"]
    assert result["reconnects"] >= 1, result
    assert [c["code"] for c in result["diagnosis"][0]["causes"]] == ["role_not_mapped"]
    assert result["diagnosis"][0]["unchecked"] == []


# --------------------------------------------------------------------------- diagnosis


def diagnosis_of(result, instance_id):
    return next(e for e in result["diagnosis"] if e["instance_id"] == instance_id)


def codes(entry):
    return [c["code"] for c in entry["causes"]]


@pytest.fixture(scope="module")
def broken(lab, ansible):
    """One node group per fault, and one nodes_ready run over all their instances."""
    fleet, settings = Fleet(lab), Settings(lab)
    try:
        settings.knobs(**FAST_KNOBS)
        settings.ipam("true")
        groups = {}
        groups["unmapped"] = fleet.create()
        groups["path"] = fleet.create(role_path="/eks/windows/")
        fleet.map(groups["path"]["role_arn"])
        groups["profile"] = fleet.create()
        fleet.map(groups["profile"]["profile_arn"])
        groups["other_cluster"] = fleet.create(user_data=windows_user_data("lab-old"))
        fleet.map(groups["other_cluster"]["role_arn"])
        groups["no_route"] = fleet.create(subnets=[fleet.subnet()])
        fleet.map(groups["no_route"]["role_arn"])
        groups["no_public_ip"] = fleet.create(subnets=[fleet.subnet(internet_gateway=True)])
        fleet.map(groups["no_public_ip"]["role_arn"])
        groups["kube_proxy"] = fleet.create()
        fleet.map(groups["kube_proxy"]["role_arn"], NODE_GROUPS)
        base_image = lab.control.aws.add_image("Windows_Server-2022-English-Core-Base-2026.11.12", platform="windows")
        groups["base_image"] = fleet.create(image=base_image)
        fleet.map(groups["base_image"]["role_arn"])
        groups["stopped"] = fleet.create()
        fleet.ec2.stop_instances(InstanceIds=groups["stopped"]["instance_ids"])
        ids = {name: group["instance_ids"][0] for name, group in groups.items()}
        for name, instance_id in ids.items():
            if name != "stopped":
                lab.control.wait_for_settled(instance_id)
        lab.control.wait_for_verdict(ids["kube_proxy"], "joined")
        run = ansible.playbook(play(wait_task({"cluster_name": lab.cluster_name, "instance_ids": list(ids.values()), "wait_timeout": 1})))
        yield ids, groups, run.result("wait")
    finally:
        settings.restore()
        fleet.cleanup()


def test_the_diagnosis_is_the_failure(broken):
    ids, result = broken[0], broken[2]
    assert result["failed"] and result["done"] is False and result["ready_count"] == 0
    assert result["msg"].startswith("Timed out after 1s: 0/9 Windows nodes Ready")
    assert sorted(e["instance_id"] for e in result["diagnosis"]) == sorted(ids.values())
    assert all(e["unchecked"] == [] for e in result["diagnosis"])
    assert result["msg"].count("  Fix: ") == 9


def test_instance_not_running(broken):
    ids, result = broken[0], broken[2]
    entry = diagnosis_of(result, ids["stopped"])
    assert entry["state"] == "not_running" and codes(entry) == ["instance_not_running"]
    assert "is stopped" in entry["causes"][0]["cause"]


def test_role_not_mapped(broken):
    ids, groups, result = broken
    entry = diagnosis_of(result, ids["unmapped"])
    assert entry["state"] == "not_registered" and codes(entry) == ["role_not_mapped"]
    assert groups["unmapped"]["role_arn"] in entry["causes"][0]["fix"]


def test_role_mapped_with_its_path(broken):
    ids, groups, result = broken
    entry = diagnosis_of(result, ids["path"])
    assert codes(entry) == ["role_mapped_with_path"]
    assert ":role/eks/windows/" in entry["causes"][0]["cause"] and ":role/eks/windows/" not in entry["causes"][0]["fix"]
    assert groups["path"]["role_arn"].replace("/eks/windows/", "/") in entry["causes"][0]["fix"]


def test_instance_profile_mapped_instead_of_the_role(broken):
    ids, groups, result = broken
    entry = diagnosis_of(result, ids["profile"])
    assert codes(entry) == ["instance_profile_mapped"]
    assert groups["profile"]["profile_arn"] in entry["causes"][0]["cause"] and groups["profile"]["role_arn"] in entry["causes"][0]["fix"]


def test_bootstrap_names_another_cluster(broken):
    ids, result = broken[0], broken[2]
    entry = diagnosis_of(result, ids["other_cluster"])
    assert codes(entry) == ["bootstrap_other_cluster"] and "'lab-old', not 'lab'" in entry["causes"][0]["cause"]


def test_an_image_without_the_eks_bootstrap(broken):
    ids, groups, result = broken
    entry = diagnosis_of(result, ids["base_image"])
    assert codes(entry) == ["image_not_eks_optimized"]
    assert "Windows_Server-2022-English-Core-Base-2026.11.12" in entry["causes"][0]["cause"]


def test_no_route_out_of_the_subnet(broken):
    ids, result = broken[0], broken[2]
    entry = diagnosis_of(result, ids["no_route"])
    assert codes(entry) == ["no_route_out"] and "no 0.0.0.0/0 route" in entry["causes"][0]["cause"]


def test_public_subnet_without_a_public_ip(broken):
    ids, result = broken[0], broken[2]
    entry = diagnosis_of(result, ids["no_public_ip"])
    assert codes(entry) == ["no_public_ip"]


def test_registered_but_kube_proxy_windows_missing(broken):
    ids, result = broken[0], broken[2]
    entry = diagnosis_of(result, ids["kube_proxy"])
    assert entry["state"] == "not_ready" and entry["node_name"].endswith(".ec2.internal")
    assert codes(entry) == ["kube_proxy_windows_missing"]
    node = next(n for n in result["nodes"] if n["instance_id"] == ids["kube_proxy"])
    assert node["ready"] is False and "eks:kube-proxy-windows" in node["ready_message"]


def test_registered_but_windows_ipam_off(lab, ansible, fleet, settings):
    settings.knobs(**FAST_KNOBS)
    settings.ipam("false")
    group = fleet.create()
    fleet.map(group["role_arn"])
    lab.control.wait_for_verdict(group["instance_ids"][0], "joined")
    result = ansible.task(MODULE, {"cluster_name": lab.cluster_name, "autoscaling_group_name": group["name"], "wait_timeout": 1})
    entry = diagnosis_of(result, group["instance_ids"][0])
    assert entry["state"] == "not_ready" and codes(entry) == ["windows_ipam_disabled"]
    assert "enable-windows-ipam: 'false'" in entry["causes"][0]["cause"]


def test_cluster_not_active_when_the_instance_launched(lab, ansible, fleet, settings):
    settings.knobs(**FAST_KNOBS)
    settings.ipam("true")
    lab.control.aws.set_cluster_status(lab.cluster_name, "CREATING")
    try:
        group = fleet.create()
        fleet.map(group["role_arn"])
        lab.control.wait_for_verdict(group["instance_ids"][0], "while cluster lab was CREATING")
        result = ansible.task(MODULE, {"cluster_name": lab.cluster_name, "autoscaling_group_name": group["name"], "wait_timeout": 1})
        # With the cluster facts given (they stand in for the first look only), the history and the diagnosis are the same.
        facts = ansible.task("eksnodes.windows.cluster_info", {"name": lab.cluster_name})["cluster"]
        given = ansible.task(MODULE, {"cluster_name": lab.cluster_name, "cluster": facts, "autoscaling_group_name": group["name"],
                                      "wait_timeout": 1})
    finally:
        lab.control.aws.set_cluster_status(lab.cluster_name, "ACTIVE")
    for outcome in (result, given):
        assert [h["status"] for h in outcome["cluster_history"]] == ["CREATING"], outcome
        entry = diagnosis_of(outcome, group["instance_ids"][0])
        assert codes(entry) == ["cluster_not_active_at_launch"]
        assert "while cluster lab was CREATING and still is" in entry["causes"][0]["cause"]
        assert f"start-instance-refresh --auto-scaling-group-name {group['name']}" in entry["causes"][0]["fix"]


def test_access_entry_causes(lab_factory, ansible):
    api = lab_factory(auth_mode="API", **FAST_LAB)
    api.control.set_nodesim(**FAST_KNOBS)
    kclient.CoreV1Api(api.kube_api_client()).patch_namespaced_config_map("amazon-vpc-cni", "kube-system", {"data": {"enable-windows-ipam": "true"}})
    fleet = Fleet(api)
    eks = api.aws_client("eks")
    groups = {"none": fleet.create(), "standard": fleet.create(), "linux": fleet.create(), "windows": fleet.create()}
    eks.create_access_entry(clusterName=api.cluster_name, principalArn=groups["standard"]["role_arn"], type="STANDARD")
    eks.create_access_entry(clusterName=api.cluster_name, principalArn=groups["linux"]["role_arn"], type="EC2_LINUX")
    eks.create_access_entry(clusterName=api.cluster_name, principalArn=groups["windows"]["role_arn"], type="EC2_WINDOWS")
    ids = {name: group["instance_ids"][0] for name, group in groups.items()}
    for instance_id in ids.values():
        api.control.wait_for_settled(instance_id)
    api.control.wait_for_verdict(ids["linux"], "joined")
    result = AnsibleEnv(ansible, api).task({"cluster_name": api.cluster_name, "instance_ids": list(ids.values()), "wait_timeout": 1})
    assert result["failed"] and result["ready_count"] == 1
    assert sorted(e["instance_id"] for e in result["diagnosis"]) == sorted([ids["none"], ids["standard"], ids["linux"]])
    assert codes(diagnosis_of(result, ids["none"])) == ["no_access_entry"]
    assert codes(diagnosis_of(result, ids["standard"])) == ["access_entry_not_node"]
    linux = diagnosis_of(result, ids["linux"])
    assert linux["state"] == "not_ready" and codes(linux) == ["kube_proxy_windows_missing"]
    assert "EC2_LINUX access entry" in linux["causes"][0]["cause"]


class AnsibleEnv:
    """The session's ansible runner pointed at another lab."""

    def __init__(self, ansible, other_lab):
        self.ansible = ansible
        self.env = other_lab.env

    def task(self, args):
        run = self.ansible.playbook(play(wait_task(args)), env=self.env)
        return run.result("wait")


def test_kubernetes_errors_are_reported(lab, ansible, fleet, settings):
    group = fleet.create()
    settings.knobs(paused=True)  # the simulator lists nodes too: keep it from taking the fault
    lab.control.kube_fault("GET", "^/api/v1/nodes$", 403, count=1)
    try:
        result = ansible.task(MODULE, {"cluster_name": lab.cluster_name, "autoscaling_group_name": group["name"], "wait_timeout": 1})
    finally:
        lab.control.clear_kube_faults()
    assert result["failed"] and result["msg"].startswith("cannot list nodes:"), result["msg"]


def test_the_role_can_report_instead_of_failing(lab, ansible, fleet, settings):
    settings.knobs(**FAST_KNOBS)
    group = fleet.create()  # not mapped
    lab.control.wait_for_settled(group["instance_ids"][0])
    run = ansible.playbook(play(
        {"name": "cluster facts", "eksnodes.windows.cluster_info": {"name": lab.cluster_name}, "register": "cluster"},
        {"name": "readiness", "ansible.builtin.include_role": {"name": "eksnodes.windows.node_readiness"},
         "vars": {"node_readiness_cluster": "{{ cluster.cluster }}", "node_readiness_autoscaling_group": group["name"],
                  "node_readiness_wait_timeout": 1, "node_readiness_fail_on_timeout": False}},
        {"name": "outcome", "ansible.builtin.debug": {"var": "node_readiness_outcome"}},
    ))
    assert run.returncode == 0, run.stdout + run.stderr
    outcome = run.result("outcome")["node_readiness_outcome"]
    assert outcome["done"] is False and outcome["ready_count"] == 0 and outcome["expected"] == 1
    assert [c["code"] for c in outcome["diagnosis"][0]["causes"]] == ["role_not_mapped"]
    report = run.result("eksnodes.windows.node_readiness : Report why nodes are not Ready")["msg"]
    assert report[0].startswith("Timed out after 1s: 0/1 Windows nodes Ready") and any(line.startswith("  Fix: ") for line in report)
