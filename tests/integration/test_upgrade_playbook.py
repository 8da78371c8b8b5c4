"""The upgrade playbook end to end on labs of its own: a newer AMI with each strategy while the sample application and
its PodDisruptionBudget keep a Ready replica, a control-plane upgrade followed by the nodes', and the requests it refuses
before any change."""

import json

import threading

import pytest
import yaml
from kubernetes import client as kclient

from integration_helpers import WINDOWS_2022_FAMILY, AnsibleRunner, publish_newer_ami, recap, user_env
from test_drain import ReadySampler, SampleApp
from test_stack_ownership import stack_args

pytestmark = pytest.mark.long

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
FAST_KNOBS = {"join_delay": 0.5, "ready_delay": 0.3, "interval": 0.2}
FAMILY = WINDOWS_2022_FAMILY
LAUNCH = {"cluster_name": "lab", "nodegroup_name": "win", "node_type": "m5.large", "nodes": 2,
          "node_ami_family": "WindowsServer2022CoreContainer"}
UPGRADE = {"cluster_name": "lab", "nodegroup_name": "win", "eviction_timeout": 120, "max_grace_period": 1, "wait_timeout": 300}


def launched_lab(lab_factory, **options):
    lab = lab_factory(**{"join_delay": 0.5, "ready_delay": 0.3, **options})
    lab.control.set_nodesim(interval=0.2)
    ansible = AnsibleRunner(lab.env)
    launched = ansible.playbook("eksnodes.windows.launch", extra_vars=LAUNCH, callback="default")
    assert launched.returncode == 0, launched.stdout[-4000:] + launched.stderr[-2000:]
    return lab, ansible


def stack(lab, name):
    stacks = lab.aws_client("cloudformation").describe_stacks()["Stacks"]
    return next((s for s in stacks if s["StackName"] == name and s["StackStatus"] != "DELETE_COMPLETE"), None)


def stack_parameter(lab, name, key):
    return next(p["ParameterValue"] for p in stack(lab, name)["Parameters"] if p["ParameterKey"] == key)


def output(found, key):
    return next(o["OutputValue"] for o in found["Outputs"] if o["OutputKey"] == key)


def group_instances(lab, stack_name):
    """instance id -> AMI of the node group's Auto Scaling group's in-service instances."""
    group = output(stack(lab, stack_name), "NodeAutoScalingGroup")
    described = lab.aws_client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0]
    ids = [i["InstanceId"] for i in described["Instances"] if i["LifecycleState"] == "InService"]
    reservations = lab.aws_client("ec2").describe_instances(InstanceIds=ids)["Reservations"] if ids else []
    return {i["InstanceId"]: i["ImageId"] for r in reservations for i in r["Instances"]}


def windows_nodes(lab):
    nodes = kclient.CoreV1Api(lab.kube_api_client()).list_node(label_selector="kubernetes.io/os=windows").items
    return {n.spec.provider_id.rsplit("/", 1)[-1]: n for n in nodes}


def is_ready(node):
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])


def mapped_roles(lab):
    core = kclient.CoreV1Api(lab.kube_api_client())
    return [entry["rolearn"] for entry in yaml.safe_load(core.read_namespaced_config_map("aws-auth", "kube-system").data["mapRoles"])]


def config_map_state(core, name):
    """A kube-system ConfigMap's resourceVersion and data; None when there is none (aws-auth in the API mode)."""
    try:
        found = core.read_namespaced_config_map(name, "kube-system")
    except kclient.exceptions.ApiException as error:
        if error.status == 404:
            return None
        raise
    return found.metadata.resource_version, found.data


def lab_state(lab):
    """What a refused upgrade must leave as it was, byte for byte."""
    core = kclient.CoreV1Api(lab.kube_api_client())
    stacks = sorted((s["StackName"], s["StackStatus"], str(s.get("LastUpdatedTime")), tuple(sorted((t["Key"], t["Value"]) for t in s.get("Tags") or [])))
                    for s in lab.aws_client("cloudformation").describe_stacks()["Stacks"])
    instances = sorted((i["InstanceId"], i["State"]["Name"], i["ImageId"])
                       for r in lab.aws_client("ec2").describe_instances()["Reservations"] for i in r["Instances"])
    config_maps = {name: config_map_state(core, name) for name in ("aws-auth", "amazon-vpc-cni")}
    nodes = sorted((n.metadata.name, bool(n.spec.unschedulable), str(n.spec.taints)) for n in core.list_node().items)
    return {"stacks": stacks, "instances": instances, "config_maps": config_maps, "nodes": nodes}


def no_pod_deleted_without_eviction(lab, mark, app):
    records = [r for r in lab.control.lifecycle(mark, ["eviction", "pod_delete"]) if r.get("namespace") == app.namespace]
    deletions = [r for r in records if r["kind"] == "pod_delete" and r["actor"] == "client"]
    evicted = {r["pod"] for r in records if r["kind"] == "eviction" and r["allowed"]}
    assert deletions, records
    assert all(d["via"] == "eviction" and d["pod"] in evicted for d in deletions), records
    assert not [r for r in records if r["kind"] == "pod_delete" and r["via"] != "eviction"], records


@pytest.mark.parametrize("strategy", ["blue_green", "rolling"])
def test_a_newer_ami_reaches_every_node_and_the_app_keeps_a_ready_replica(lab_factory, strategy):
    lab, ansible = launched_lab(lab_factory)
    old_role = output(stack(lab, "lab-nodegroup-win"), "NodeInstanceRole")
    old_instances = group_instances(lab, "lab-nodegroup-win")
    app = SampleApp(lab, ansible)
    app.deploy(replicas=2, minAvailable=1)
    app.wait_ready(2)
    new_image = publish_newer_ami(lab)
    assert new_image not in old_instances.values()

    old_image = stack_parameter(lab, "lab-nodegroup-win", "NodeImageId")
    if strategy == "rolling":
        # A launch rerun keeps the AMI the group runs and says a newer one exists: moving to it is the upgrade's job
        # (or the launch's with node_ami_update, which check mode previews). Once is enough: the strategy plays no part.
        rerun = ansible.playbook("eksnodes.windows.launch", extra_vars=LAUNCH, callback="default")
        assert rerun.returncode == 0 and recap(rerun.stdout) == (0, 0), rerun.stdout[-3000:]
        warning = " ".join((rerun.stdout + rerun.stderr).split())
        assert f"A newer EKS optimized Windows AMI exists: {new_image} ({FAMILY}-1.31-2026.12.01" in warning, warning[-3000:]
        assert f"The node group keeps {old_image}" in warning and "days left before AWS retires it" in warning
        assert "node_ami_update: true" in warning
        launch_preview = ansible.playbook("eksnodes.windows.launch", extra_vars={**LAUNCH, "node_ami_update": True}, check=True, diff=True,
                                          callback="default")
        assert launch_preview.returncode == 0, launch_preview.stdout[-4000:]
        assert f"-NodeImageId: {old_image}" in launch_preview.stdout and f"+NodeImageId: {new_image}" in launch_preview.stdout
    assert stack_parameter(lab, "lab-nodegroup-win", "NodeImageId") == old_image and group_instances(lab, "lab-nodegroup-win") == old_instances

    preview = ansible.playbook("eksnodes.windows.upgrade", extra_vars={**UPGRADE, "upgrade_strategy": strategy}, check=True, diff=True,
                               callback="default")
    assert preview.returncode == 0, preview.stdout[-4000:]
    assert new_image in preview.stdout and "ip-" in preview.stdout
    assert recap(preview.stdout) == (1, 0), "check mode must report the change the run would make"
    assert group_instances(lab, "lab-nodegroup-win") == old_instances, "check mode replaced nodes"

    mark = lab.control.lifecycle_mark()
    with ReadySampler(app) as sampler:
        upgraded = ansible.playbook("eksnodes.windows.upgrade", extra_vars={**UPGRADE, "upgrade_strategy": strategy}, callback="default",
                                    timeout=900)
    assert upgraded.returncode == 0, upgraded.stdout[-5000:] + upgraded.stderr[-2000:]
    assert sampler.min_ready >= 1, sampler.samples
    if strategy == "rolling":
        # The upgrade's own replacement, with its drain options (taint), does the work, not the nodegroup role's.
        replaced = upgraded.stdout.split("TASK [Replace the old instances a batch at a time, each drained first]", 1)[1].split("TASK [", 1)[0]
        assert "replacing ip-" in replaced and "tainted" in replaced, replaced
    no_pod_deleted_without_eviction(lab, mark, app)

    new_stack = "lab-nodegroup-win-v2" if strategy == "blue_green" else "lab-nodegroup-win"
    instances = group_instances(lab, new_stack)
    assert len(instances) == 2 and set(instances.values()) == {new_image}, instances
    assert not set(instances) & set(old_instances)
    nodes = windows_nodes(lab)
    assert set(nodes) == set(instances) and all(is_ready(node) for node in nodes.values()), nodes
    app.wait_ready(2)
    assert {p.spec.node_name for p in app.ready_pods()} <= {n.metadata.name for n in nodes.values()}

    if strategy == "blue_green":
        assert stack(lab, "lab-nodegroup-win") is None
        # The new group is win-v2 in its parameters and marker, although nodegroup_name=win came as an extra variable.
        new_group = stack(lab, new_stack)
        assert stack_parameter(lab, new_stack, "NodeGroupName") == "win-v2"
        assert {t["Key"]: t["Value"] for t in new_group["Tags"]}["eksnodes.windows/nodegroup-name"] == "win-v2"
        roles = mapped_roles(lab)
        assert old_role not in roles and output(stack(lab, new_stack), "NodeInstanceRole") in roles
        assert lab.facts["linux_node_role_arn"] in roles
        # A rerun with the old name has nothing left to do, and the new name is up to date.
        for name in ("win", "win-v2"):
            again = ansible.playbook("eksnodes.windows.upgrade", extra_vars={**UPGRADE, "nodegroup_name": name}, callback="default")
            assert again.returncode == 0 and recap(again.stdout) == (0, 0), again.stdout[-3000:]
        # A remove by the old name would change nothing and leave win-v2 running: it is refused, naming the new group.
        before = lab_state(lab)
        removed = ansible.playbook("eksnodes.windows.remove", extra_vars={"cluster_name": "lab", "nodegroup_name": "win"}, callback="default")
        assert removed.returncode != 0 and recap(removed.stdout) == (0, 1), removed.stdout[-3000:]
        assert ("Node group win of cluster lab has no stack: a blue/green upgrade replaced it with node group win-v2" in removed.stdout
                and "set nodegroup_name=win-v2" in removed.stdout), removed.stdout[-3000:]
        assert lab_state(lab) == before
    else:
        again = ansible.playbook("eksnodes.windows.upgrade", extra_vars={**UPGRADE, "upgrade_strategy": strategy}, callback="default")
        assert again.returncode == 0 and recap(again.stdout) == (0, 0), again.stdout[-3000:]
        assert "nothing to do" in again.stdout


def test_after_a_control_plane_upgrade_the_nodes_follow_and_a_kubelet_ahead_is_refused(lab_factory):
    lab, ansible = launched_lab(lab_factory)
    lab.control.upgrade_control_plane("1.32")
    assert lab.aws_client("eks").describe_cluster(name="lab")["cluster"]["version"] == "1.32"

    before = lab_state(lab)
    ahead = ansible.playbook("eksnodes.windows.upgrade", extra_vars={**UPGRADE, "kubernetes_version": "1.33"}, callback="default")
    assert ahead.returncode != 0
    assert "[kubernetes_version] kubernetes_version 1.33 is newer than the control plane's 1.32" in ahead.stdout, ahead.stdout[-3000:]
    assert lab_state(lab) == before

    upgraded = ansible.playbook("eksnodes.windows.upgrade", extra_vars=UPGRADE, callback="default", timeout=900)
    assert upgraded.returncode == 0, upgraded.stdout[-5000:] + upgraded.stderr[-2000:]
    images = lab.aws_client("ec2").describe_images(ImageIds=list(set(group_instances(lab, "lab-nodegroup-win-v2").values())))["Images"]
    assert [image["Name"].rsplit("-", 1)[0] for image in images] == [f"{FAMILY}-1.32"], images
    nodes = windows_nodes(lab)
    assert len(nodes) == 2 and all(n.status.node_info.kubelet_version.startswith("v1.32.") for n in nodes.values())
    assert all(is_ready(node) for node in nodes.values())


REFUSALS = [
    ({"upgrade_strategy": "fast"}, "upgrade_strategy"),
    ({"batch_size": 0}, "[batch_size] batch_size 0 replaces no node"),
    ({"batch_size": 3}, "[batch_size] batch_size 3 is larger than node group 'win', which has 2 node(s)"),
    ({"upgrade_strategy": "rolling", "min_in_service": 2}, "[min_in_service] min_in_service 2 keeps every node"),
    ({"nodegroup_name": "nothere"}, "[nodegroup_name] node group 'nothere' has no stack lab-nodegroup-nothere"),
    ({"node_ami_family": "WindowsServer2025CoreContainer"},
     "[node_ami_family] Windows Server 2025 EKS optimized AMIs need Kubernetes 1.35 or later"),
    ({"kubernetes_version": "1.32"}, "[kubernetes_version] kubernetes_version 1.32 is newer than the control plane's 1.31"),
    ({"new_nodegroup_name": "win"}, "[new_nodegroup_name] new_nodegroup_name is the old group's name"),
    ({"new_nodegroup_name": "win_v2"}, "[new_nodegroup_name] new_nodegroup_name 'win_v2' is not a node group name"),
    ({"max_grace_period": -1}, "max_grace_period (-1) must be a number of seconds, 0 or more, or empty"),
    ({"max_grace_period": "soon"}, "max_grace_period (soon) must be a number of seconds, 0 or more"),
    ({"eviction_timeout": -1}, "eviction_timeout (-1) must be 0 seconds or more"),
    ({"wait_timeout": 0}, "wait_timeout (0) must be 1 second or more"),
    # The node authorization step's refusals, found in the plan (before the new node group's stack is created).
    ({"node_auth_mechanism": "access_entry"}, "Cluster lab is in authentication mode CONFIG_MAP, where access_entry does not authorize nodes"),
    ({"node_auth_linux_role_arns": ["linux-nodes"]}, "node_auth_linux_role_arns: 'linux-nodes' is not an IAM role ARN"),
]


def refuse_bad_requests(lab, ansible):
    for extra, message in REFUSALS:
        before = lab_state(lab)
        refused = ansible.playbook("eksnodes.windows.upgrade", extra_vars={**UPGRADE, **extra}, callback="default")
        assert refused.returncode != 0, (extra, refused.stdout[-3000:])
        assert message in refused.stdout, (extra, refused.stdout[-3000:])
        assert lab_state(lab) == before, extra
    refuse_a_stack_of_another_group(lab, ansible)


def refuse_a_stack_of_another_group(lab, ansible):
    """The stack under the group's name belongs to another node group (its marker tags say so): its nodes are not the
    upgrade's to drain, nor is a replacement launched for it."""
    made = ansible.task("eksnodes.windows.nodegroup_stack", stack_args(lab, "other", stack_name="lab-nodegroup-taken"))
    assert made.get("changed") and not made.get("failed"), made
    before = lab_state(lab)
    refused = ansible.playbook("eksnodes.windows.upgrade", extra_vars={**UPGRADE, "nodegroup_name": "taken"}, callback="default")
    assert refused.returncode != 0, refused.stdout[-3000:]
    assert ("[nodegroup_name] stack lab-nodegroup-taken is not that of node group 'taken': its marker tags say it belongs to node group 'other'"
            in refused.stdout), refused.stdout[-3000:]
    assert lab_state(lab) == before
    client = lab.aws_client("cloudformation")
    client.delete_stack(StackName="lab-nodegroup-taken")
    client.get_waiter("stack_delete_complete").wait(StackName="lab-nodegroup-taken", WaiterConfig={"Delay": 1})


def test_bad_requests_are_refused_then_a_node_that_will_not_drain_stops_the_upgrade_and_a_rerun_continues(lab_factory):
    # One launched lab for both (each end-to-end launch costs CI a minute): the refusals first, with a newer AMI
    # published so that every refused request would otherwise have had something to do.
    lab, ansible = launched_lab(lab_factory)
    new_image = publish_newer_ami(lab)
    refuse_bad_requests(lab, ansible)

    old_instances = group_instances(lab, "lab-nodegroup-win")
    app = SampleApp(lab, ansible)
    app.deploy(replicas=2, maxUnavailable=0)
    app.wait_ready(2)
    policy = kclient.PolicyV1Api(lab.kube_api_client())

    mark = lab.control.lifecycle_mark()
    stopped = ansible.playbook("eksnodes.windows.upgrade", extra_vars={**UPGRADE, "eviction_timeout": 4}, callback="default")
    assert stopped.returncode != 0
    assert app.budget in stopped.stdout and 'The upgrade stopped at "Taint the old nodes NoSchedule and drain them"' in stopped.stdout
    assert "Node group win still runs beside win-v2" in stopped.stdout and "run the same" in stopped.stdout, stopped.stdout[-3000:]
    # Stopped between the two groups: both stacks, the old instances still there, no pod evicted or deleted.
    assert stack(lab, "lab-nodegroup-win") is not None and group_instances(lab, "lab-nodegroup-win") == old_instances
    assert set(group_instances(lab, "lab-nodegroup-win-v2").values()) == {new_image}
    records = [r for r in lab.control.lifecycle(mark, ["eviction", "pod_delete"]) if r.get("namespace") == app.namespace]
    assert records and all(r["kind"] == "eviction" and not r["allowed"] and r["pdb"] == app.budget for r in records), records
    # Cordoned and tainted, the old nodes still serve: both pods run there, Ready.
    pods = app.pods()
    assert len(pods) == 2 and all(p.status.phase == "Running" and p.metadata.deletion_timestamp is None for p in pods), pods
    assert len(app.ready_pods()) == 2, pods

    mark = lab.control.lifecycle_mark()
    policy.patch_namespaced_pod_disruption_budget(app.budget, app.namespace, {"spec": {"maxUnavailable": 1}})
    app.wait_budget_observed()
    with ReadySampler(app) as sampler:
        continued = ansible.playbook("eksnodes.windows.upgrade", extra_vars=UPGRADE, callback="default", timeout=900)
    assert continued.returncode == 0, continued.stdout[-5000:]
    assert "(continuing: it exists)" in continued.stdout
    assert sampler.min_ready >= 1, sampler.samples
    no_pod_deleted_without_eviction(lab, mark, app)
    assert stack(lab, "lab-nodegroup-win") is None and "lab-nodegroup-win-v3" not in str(lab_state(lab)["stacks"])
    assert set(group_instances(lab, "lab-nodegroup-win-v2").values()) == {new_image}
    app.wait_ready(2)


def test_blue_green_in_api_mode_moves_the_access_entry(lab_factory):
    # With only the shipped permissions (docs/iam): the launch as the launch user, the upgrade as the upgrade user. An
    # EC2_WINDOWS access entry takes iam:PassRole on its node role.
    lab, ansible = launched_lab(lab_factory, auth_mode="API", enforce_iam=True)
    assert lab.env["AWS_ACCESS_KEY_ID"] == lab.info["iam"]["users"]["launch"]["access_key_id"]
    eks = lab.aws_client("eks")
    old_role = output(stack(lab, "lab-nodegroup-win"), "NodeInstanceRole")
    # The launch in the API authentication mode: access entries, no aws-auth entry.
    assert eks.describe_access_entry(clusterName="lab", principalArn=old_role)["accessEntry"]["type"] == "EC2_WINDOWS"
    assert eks.describe_access_entry(clusterName="lab", principalArn=lab.facts["linux_node_role_arn"])["accessEntry"]["type"] == "EC2_LINUX"
    assert len(windows_nodes(lab)) == 2 and all(is_ready(node) for node in windows_nodes(lab).values())
    new_image = publish_newer_ami(lab)
    as_upgrader = user_env(lab, "upgrade")

    # The access entries are checked in the plan, with the upgrade user's permissions: a Linux node role whose entry
    # has another type is refused before the new node group's stack is created.
    ops = lab.aws_client("iam").create_role(RoleName="ops", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    eks.create_access_entry(clusterName="lab", principalArn=ops, type="STANDARD")
    before, entries_before = lab_state(lab), eks.list_access_entries(clusterName="lab")["accessEntries"]
    refused = ansible.playbook("eksnodes.windows.upgrade", extra_vars={**UPGRADE, "node_auth_linux_role_arns": [ops]}, callback="default",
                               env=as_upgrader)
    assert refused.returncode != 0 and recap(refused.stdout) == (0, 1), refused.stdout[-3000:]
    assert f"node_auth_linux_role_arns: The access entry for {ops} has type STANDARD, not EC2_LINUX" in refused.stdout, refused.stdout[-3000:]
    assert lab_state(lab) == before and eks.list_access_entries(clusterName="lab")["accessEntries"] == entries_before
    eks.delete_access_entry(clusterName="lab", principalArn=ops)

    upgraded = ansible.playbook("eksnodes.windows.upgrade", extra_vars=UPGRADE, callback="default", timeout=900, env=as_upgrader)
    assert upgraded.returncode == 0, upgraded.stdout[-5000:]
    entries = eks.list_access_entries(clusterName="lab")["accessEntries"]
    new_role = output(stack(lab, "lab-nodegroup-win-v2"), "NodeInstanceRole")
    assert old_role not in entries and new_role in entries and lab.facts["linux_node_role_arn"] in entries
    assert eks.describe_access_entry(clusterName="lab", principalArn=new_role)["accessEntry"]["type"] == "EC2_WINDOWS"
    assert set(group_instances(lab, "lab-nodegroup-win-v2").values()) == {new_image}
    assert len(windows_nodes(lab)) == 2 and all(is_ready(node) for node in windows_nodes(lab).values())


class ExtraOldNode(threading.Thread):
    """Once the upgrade has planned (the new group's stack exists), the old group launches one more node, as a health
    replacement or a scaler would: whether that node is cordoned before its instance goes."""

    def __init__(self, lab):
        super().__init__(daemon=True)
        self.lab, self.stopped = lab, threading.Event()
        self.node_name, self.cordoned, self.error = None, False, None
        self.group = output(stack(lab, "lab-nodegroup-win"), "NodeAutoScalingGroup")

    def run(self):
        try:
            self._watch()
        except Exception as error:  # pylint: disable=broad-except
            self.error = error

    def _watch(self):
        while not self.stopped.wait(0.1) and stack(self.lab, "lab-nodegroup-win-v2") is None:
            pass
        before = self._instances()
        self.lab.aws_client("autoscaling").set_desired_capacity(AutoScalingGroupName=self.group, DesiredCapacity=len(before) + 1)
        core = kclient.CoreV1Api(self.lab.kube_api_client())
        while not self.stopped.wait(0.1):
            extra = self._instances() - before
            nodes = [n for n in core.list_node().items if n.spec.provider_id and n.spec.provider_id.rsplit("/", 1)[-1] in extra]
            if nodes:
                self.node_name = self.node_name or nodes[0].metadata.name
                self.cordoned = self.cordoned or bool(nodes[0].spec.unschedulable)
            elif self.node_name:
                return

    def _instances(self):
        """The old group's live instances; none once the group is gone."""
        groups = self.lab.aws_client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[self.group])["AutoScalingGroups"]
        return {i["InstanceId"] for group in groups for i in group["Instances"] if i["LifecycleState"] in ("Pending", "InService")}


def test_blue_green_drains_a_node_the_old_group_launched_after_the_plan(lab_factory):
    lab, ansible = launched_lab(lab_factory)
    new_image = publish_newer_ami(lab)
    watcher = ExtraOldNode(lab)
    watcher.start()
    try:
        upgraded = ansible.playbook("eksnodes.windows.upgrade", extra_vars=UPGRADE, callback="default", timeout=900)
    finally:
        watcher.stopped.set()
        watcher.join()
    assert upgraded.returncode == 0, upgraded.stdout[-5000:]
    assert watcher.error is None, watcher.error
    assert watcher.node_name, "the old group's extra node never joined"
    assert watcher.cordoned, f"{watcher.node_name} went with the old stack without being cordoned and drained"
    assert stack(lab, "lab-nodegroup-win") is None and set(group_instances(lab, "lab-nodegroup-win-v2").values()) == {new_image}
