"""The launch playbook end to end on a lab of its own, as users run it (with the CNI policy moved to aws-node's own
role), then the remove playbook on what it launched.

As production should run them: from the built tarball, with only the shipped permissions (docs/iam) on the lab's
enforcing mode. The lab's env gives the launch user's AWS key and no kubeconfig, so the collection mints EKS tokens
that aws-auth maps to the group docs/iam/kubernetes-rbac.yaml binds; AWS checks every call (and CloudFormation's
calls on the caller's behalf) and the API server applies RBAC. The remove playbook runs with the remove user's key.

The launch as an AWX job is in test_awx_job_templates.py, the launch in the API authentication mode in
test_upgrade_playbook.py::test_blue_green_in_api_mode_moves_the_access_entry (each end-to-end run costs CI a minute)."""

import re
import time

import pytest
import yaml

from integration_helpers import NODE_INPUT_READS, AnsibleRunner, ReadinessSampler, recap, user_env

pytestmark = pytest.mark.long

# The guide's optional last steps, under the shipped permissions too: cni_identity=irsa, and pods kept from IMDS.
LAUNCH_VARS = {"cluster_name": "lab", "nodegroup_name": "win", "node_type": "m5.large", "nodes": 2,
               "node_ami_family": "WindowsServer2022CoreContainer", "cni_identity": "irsa", "disable_pod_imds": True}
CNI_POLICY = "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"
PLAN_TASK = "eksnodes.windows.nodegroup : Create or update the node group stack (plan, in check mode, before any change)"
PROGRESS = re.compile(r"\d/2 Windows nodes Ready")


def windows_nodes(lab):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    nodes = client.CoreV1Api(lab.kube_api_client()).list_node(label_selector="kubernetes.io/os=windows").items
    return {node.metadata.name: node for node in nodes}


def is_ready(node):
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])


def windows_role_arn(lab):
    outputs = lab.aws_client("cloudformation").describe_stacks(StackName="lab-nodegroup-win")["Stacks"][0]["Outputs"]
    return next(o["OutputValue"] for o in outputs if o["OutputKey"] == "NodeInstanceRole")


def deploy_windows_workload(lab):
    """Two pods on the Windows nodes and a budget over them (which lets the drain of the whole group through), for the drain to evict."""
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    api = lab.kube_api_client()
    labels = {"app": "launch-web"}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "launch-web", "namespace": "default"},
                  "spec": {"replicas": 2, "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {
                      "nodeSelector": {"kubernetes.io/os": "windows"},
                      "containers": [{"name": "web", "image": "mcr.microsoft.com/windows/servercore/iis:windowsservercore-ltsc2022"}]}}}}
    client.AppsV1Api(api).create_namespaced_deployment("default", deployment)
    budget = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "launch-web", "namespace": "default"},
              "spec": {"maxUnavailable": 2, "selector": {"matchLabels": labels}}}
    client.PolicyV1Api(api).create_namespaced_pod_disruption_budget("default", budget)
    core = client.CoreV1Api(api)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pods = core.list_namespaced_pod("default", label_selector="app=launch-web").items
        if len(pods) == 2 and all(p.spec.node_name and p.status.phase == "Running" for p in pods):
            return
        time.sleep(0.5)
    raise AssertionError(f"the workload did not run on the Windows nodes: {[(p.metadata.name, p.spec.node_name, p.status.phase) for p in pods]}")


def deploy_pod_with_its_own_role(lab):
    """One pod on the Windows nodes whose service account has an IAM role: the pod identity webhook gives it AWS_ROLE_ARN."""
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    api = lab.kube_api_client()
    role_arn = f"arn:aws:iam::{lab.facts['account_id']}:role/reports"
    client.CoreV1Api(api).create_namespaced_service_account("default", {"metadata": {"name": "reports", "annotations": {
        "eks.amazonaws.com/role-arn": role_arn}}})
    labels = {"app": "reports"}
    client.AppsV1Api(api).create_namespaced_deployment("default", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "reports", "namespace": "default"},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {
            "serviceAccountName": "reports", "nodeSelector": {"kubernetes.io/os": "windows"},
            "containers": [{"name": "reports", "image": "mcr.microsoft.com/windows/servercore:ltsc2022"}]}}}})
    core = client.CoreV1Api(api)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pods = core.list_namespaced_pod("default", label_selector="app=reports").items
        if pods and pods[0].status.phase == "Running":
            assert any(e.name == "AWS_ROLE_ARN" and e.value == role_arn for e in pods[0].spec.containers[0].env or [])
            return
        time.sleep(0.5)
    raise AssertionError("the pod with its own role did not run")


def test_launch_from_nothing_to_ready_then_nothing_changes_then_remove(lab_factory, installed_collection):
    # The delay counts from the role's mapping in aws-auth, the step right before the wait: long enough that the wait
    # starts before the nodes join, even on a loaded machine.
    lab = lab_factory(enforce_iam=True, join_delay=10)
    assert lab.env["AWS_ACCESS_KEY_ID"] == lab.info["iam"]["users"]["launch"]["access_key_id"]
    assert "K8S_AUTH_KUBECONFIG" not in lab.env and "KUBECONFIG" not in lab.env
    # From the built tarball installed in a directory of its own, as users install it, not from the checkout.
    ansible = AnsibleRunner(lab.env, collections_path=installed_collection)

    # Once Ready, no node (Linux or Windows) may turn NotReady, the move of the CNI policy at the end included.
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    core = client.CoreV1Api(lab.kube_api_client())
    sampler = ReadinessSampler(core, watch_joining=True)
    sampler.start()
    try:
        first = ansible.playbook("eksnodes.windows.launch", extra_vars=LAUNCH_VARS, callback="default")
    finally:
        sampler.finish()
    assert sampler.not_ready == [], sampler.not_ready
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    assert recap(first.stdout)[0] > 0
    assert PROGRESS.search(first.stdout), "no progress line while the nodes joined"
    assert re.search(r"[01]/2 Windows nodes Ready", first.stdout), "the join delay should show nodes not yet Ready"

    nodes = windows_nodes(lab)
    assert len(nodes) == 2 and all(is_ready(node) for node in nodes.values())
    assert set(nodes) | {lab.facts["linux_node_name"]} <= sampler.watched
    for node in nodes.values():
        labels = node.metadata.labels
        assert labels["node.kubernetes.io/windows-build"] == "10.0.20348"
        assert labels["node.kubernetes.io/instance-type"] == "m5.large"
        assert labels["kubernetes.io/arch"] == "amd64"
        assert node.spec.provider_id.startswith("aws:///us-east-1")

    mapped = {entry["rolearn"]: entry["groups"] for entry in yaml.safe_load(core.read_namespaced_config_map("aws-auth", "kube-system").data["mapRoles"])}
    assert "eks:kube-proxy-windows" in mapped[windows_role_arn(lab)]
    assert set(mapped[lab.facts["linux_node_role_arn"]]) == {"system:bootstrappers", "system:nodes"}
    assert core.read_namespaced_config_map("amazon-vpc-cni", "kube-system").data["enable-windows-ipam"] == "true"

    # The CNI policy moved to aws-node's own role: every aws-node pod runs with it, no node role carries the policy,
    # and every node (the Linux one too, whose aws-node needs the policy) is Ready.
    iam = lab.aws_client("iam")
    attached = {name: [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]]
                for name in ("lab-aws-node-cni", lab.facts["linux_node_role_arn"].rsplit("/", 1)[-1], windows_role_arn(lab).rsplit("/", 1)[-1])}
    assert [name for name, policies in attached.items() if CNI_POLICY in policies] == ["lab-aws-node-cni"], attached
    aws_node = core.list_namespaced_pod("kube-system", label_selector="k8s-app=aws-node").items
    assert aws_node and all(any(e.name == "AWS_ROLE_ARN" and e.value.endswith(":role/lab-aws-node-cni") for e in p.spec.containers[0].env or [])
                            for p in aws_node if not p.metadata.deletion_timestamp)
    assert all(is_ready(node) for node in core.list_node().items)

    # The nodes went to the cluster's private subnets, chosen and checked with the instance type by the plan.
    stack = lab.aws_client("cloudformation").describe_stacks(StackName="lab-nodegroup-win")["Stacks"][0]
    subnets = next(p["ParameterValue"] for p in stack["Parameters"] if p["ParameterKey"] == "Subnets")
    assert sorted(subnets.split(",")) == sorted(lab.facts["private_subnet_ids"])

    # Pods kept from IMDS: IMDSv2 required, hop limit 1.
    template_id = next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "NodeLaunchTemplate")
    metadata = lab.aws_client("ec2").describe_launch_template_versions(LaunchTemplateId=template_id, Versions=["$Latest"])[
        "LaunchTemplateVersions"][0]["LaunchTemplateData"]["MetadataOptions"]
    assert (metadata["HttpTokens"], metadata["HttpPutResponseHopLimit"]) == ("required", 1)

    # Workloads on the Windows nodes (drained by the remove below): two pods that use the node role, one with its own.
    deploy_windows_workload(lab)
    deploy_pod_with_its_own_role(lab)

    # Nothing to change: steps whose check found nothing to do do not run again. The check names the pods that
    # disable_pod_imds leaves without credentials, and not the one with its own role.
    # A share-0 rule fails nothing and counts the calls: the cluster is described once, by preflight, whose facts the
    # later modules are given.
    # The node group keeps its subnets and instance type, so neither is read again; the stack's description names
    # the collection's template version, so its template is not read either.
    lab.control.aws_fault_share(0.0, service="eks", action="DescribeCluster")
    lab.control.aws_fault_share(0.0, service="cloudformation", action="GetTemplate")
    for action in NODE_INPUT_READS:
        lab.control.aws_fault_share(0.0, service="ec2", action=action)
    second = ansible.playbook("eksnodes.windows.launch", extra_vars=LAUNCH_VARS)
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-2000:]
    assert (second.stats["changed"], second.stats["failures"]) == (0, 0), second.stats
    seen = {rule["action"]: rule["seen"] for rule in lab.control.aws.share_faults()}
    assert seen == {"DescribeCluster": 1, "GetTemplate": 0, **{action: 0 for action in NODE_INPUT_READS}}, seen
    assert second.result(PLAN_TASK)["input_checks"] == {"subnets": "kept", "instance_type": "unchanged"}
    for task in ("eksnodes.windows.prerequisites : Enable Windows support on the data plane",
                 "eksnodes.windows.nodegroup : Create or update the node group stack",
                 "eksnodes.windows.nodegroup : Replace the nodes that run an older launch template",
                 "eksnodes.windows.node_auth : Authorize the Windows node role"):
        assert second.result(task).get("skipped"), (task, second.result(task))
    # aws-auth was found in place: the tasks that would map the role are not even included.
    assert "eksnodes.windows.node_auth : Map the Windows node role in aws-auth, keeping the Linux node roles mapped" not in [
        task["name"] for task in second.tasks]
    findings = second.result("eksnodes.windows.prerequisites : Wait until the cluster is ACTIVE, then check it and the planned node group")["findings"]
    pod_imds = [f["message"] for f in findings if f["check"] == "pod_imds"]
    assert len(pod_imds) == 1 and "2 pod(s) on the Windows nodes have no AWS identity of their own" in pod_imds[0], findings
    assert pod_imds[0].count("default/launch-web-") == 2 and "reports" not in pod_imds[0]

    preview = ansible.playbook("eksnodes.windows.launch", extra_vars={**LAUNCH_VARS, "nodes": 3}, check=True, diff=True, callback="default")
    assert preview.returncode == 0, preview.stdout[-4000:]
    assert "+NodeAutoScalingGroupDesiredCapacity: 3" in preview.stdout
    assert len(windows_nodes(lab)) == 2, "check mode launched nodes"

    # Remove, on the same lab, as the remove user: the nodes are drained through evictions (under RBAC), the stack
    # and only the Windows mapping go; a second remove has nothing to do.
    windows_role = windows_role_arn(lab)
    remove_vars = {"cluster_name": "lab", "nodegroup_name": "win"}
    remover = user_env(lab, "remove")
    preview = ansible.playbook("eksnodes.windows.remove", extra_vars=remove_vars, check=True, env=remover, callback="default")
    assert preview.returncode == 0, preview.stdout[-4000:]
    assert len(windows_nodes(lab)) == 2, "check mode removed something"

    mark = lab.control.lifecycle_mark()
    removed = ansible.playbook("eksnodes.windows.remove", extra_vars=remove_vars, env=remover, callback="default")
    assert removed.returncode == 0, removed.stdout[-4000:]
    evicted = [e for e in lab.control.evictions(mark) if e["namespace"] == "default" and e["actor"] == "client" and e["allowed"]]
    assert len(evicted) >= 2, lab.control.evictions(mark)
    stacks = lab.aws_client("cloudformation").list_stacks(StackStatusFilter=["CREATE_COMPLETE", "UPDATE_COMPLETE"])["StackSummaries"]
    assert "lab-nodegroup-win" not in [stack["StackName"] for stack in stacks]
    aws_auth = core.read_namespaced_config_map("aws-auth", "kube-system").data
    mapped = [entry["rolearn"] for entry in yaml.safe_load(aws_auth["mapRoles"])]
    assert windows_role not in mapped and lab.facts["linux_node_role_arn"] in mapped
    assert "eksnodes-launch" in aws_auth["mapUsers"]

    again = ansible.playbook("eksnodes.windows.remove", extra_vars=remove_vars, env=remover, callback="default")
    assert again.returncode == 0 and recap(again.stdout) == (0, 0), again.stdout[-3000:]
