"""Roles eksnodes.windows.node_readiness and eksnodes.windows.windows_sample_app against the lab: wait for a node
group, then run IIS on it with the Server Core image of its Windows build."""

from kubernetes import client as kclient

from test_nodes_ready import BUILDS, FAST_KNOBS, KUBECONFIG_ENV, fleet, settings  # noqa: F401 pylint: disable=unused-import

NAMESPACE = "eks-sample-app"


def roles_play(cluster_name, readiness=None, sample_app=None, with_readiness=True):
    tasks = [{"name": "cluster facts", "eksnodes.windows.cluster_info": {"name": cluster_name}, "register": "cluster"}]
    if with_readiness:
        tasks.append({"name": "node readiness", "ansible.builtin.include_role": {"name": "eksnodes.windows.node_readiness"},
                      "vars": dict({"node_readiness_cluster": "{{ cluster.cluster }}"}, **(readiness or {}))})
    tasks.append({"name": "sample app", "ansible.builtin.include_role": {"name": "eksnodes.windows.windows_sample_app"},
                  "vars": dict({"windows_sample_app_cluster": "{{ cluster.cluster }}"}, **(sample_app or {}))})
    tasks.append({"name": "outcome", "ansible.builtin.debug": {"var": "windows_sample_app_outcome"}})
    return [{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]


def test_runs_iis_on_the_nodes_of_a_2019_group(lab, ansible, fleet, settings):  # noqa: F811 pylint: disable=redefined-outer-name
    settings.knobs(**FAST_KNOBS)
    settings.ipam("true")
    group = fleet.create(size=2, release="2019")
    fleet.map(group["role_arn"])
    apps = kclient.AppsV1Api(lab.kube_api_client())
    core = kclient.CoreV1Api(lab.kube_api_client())
    readiness = {"node_readiness_autoscaling_group": group["name"], "node_readiness_wait_timeout": 60}
    sample_app = {"windows_sample_app_replicas": 2, "windows_sample_app_wait_timeout": 60}
    # Transient API server faults, each once: tried again, not reported.
    lab.control.kube_fault("GET", f"^/api/v1/namespaces/{NAMESPACE}$", 503, count=1)
    lab.control.kube_fault("GET", f"^/apis/apps/v1/namespaces/{NAMESPACE}/deployments/eks-sample-windows-deployment$", 429, count=1)
    try:
        first = ansible.playbook(roles_play(lab.cluster_name, readiness, sample_app))
        assert first.returncode == 0, first.stdout + first.stderr
        assert [f for f in lab.control.kube_faults() if "count" in f and NAMESPACE in f.get("path", "")] == [], "a fault was not met"
        outcome = first.result("outcome")["windows_sample_app_outcome"]
        assert outcome["windows_build"] == BUILDS["2019"]
        assert outcome["image"] == "mcr.microsoft.com/windows/servercore:ltsc2019"
        assert outcome["namespace"] == NAMESPACE and outcome["deployment"] == "eks-sample-windows-deployment"
        assert len(outcome["pods"]) == 2 and all(p["phase"] == "Running" and p["ip"] for p in outcome["pods"])
        nodes = {n.metadata.name: n.metadata.labels for n in core.list_node().items}
        for pod in outcome["pods"]:
            labels = nodes[pod["node"]]
            assert labels["kubernetes.io/os"] == "windows" and labels["node.kubernetes.io/windows-build"] == BUILDS["2019"]

        deployment = apps.read_namespaced_deployment("eks-sample-windows-deployment", NAMESPACE)
        spec = deployment.spec.template.spec
        assert spec.node_selector == {"kubernetes.io/os": "windows", "node.kubernetes.io/windows-build": BUILDS["2019"]}
        assert spec.containers[0].name == "windows-server-iis" and spec.containers[0].ports[0].container_port == 80
        assert deployment.status.available_replicas == 2
        service = core.read_namespaced_service("eks-sample-windows-service", NAMESPACE)
        assert service.spec.type == "ClusterIP" and service.spec.ports[0].port == 80
        assert service.spec.selector == {"app": "eks-sample-windows-app"}
        assert outcome["cluster_ip"] == service.spec.cluster_ip

        # Again, connecting with a token minted from the AWS credentials instead of the kubeconfig: nothing changes.
        second = ansible.playbook(roles_play(lab.cluster_name, readiness, sample_app), drop_env=KUBECONFIG_ENV)
        assert second.returncode == 0, second.stdout + second.stderr
        assert second.stats["changed"] == 0, [t["name"] for t in second.tasks if t["result"].get("changed")]
        assert second.result("outcome")["windows_sample_app_outcome"]["pods"] == outcome["pods"]
    finally:
        removed = ansible.playbook(roles_play(lab.cluster_name, sample_app={"windows_sample_app_state": "absent"}, with_readiness=False))
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert NAMESPACE not in {n.metadata.name for n in core.list_namespace().items}


def test_check_mode_and_an_unknown_build(lab, ansible):
    core = kclient.CoreV1Api(lab.kube_api_client())
    check_vars = {"windows_sample_app_windows_build": BUILDS["2022"], "windows_sample_app_namespace": "sample-check"}
    checked = ansible.playbook(roles_play(lab.cluster_name, sample_app=check_vars, with_readiness=False), check=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "sample-check" not in {n.metadata.name for n in core.list_namespace().items}
    unknown = ansible.playbook(roles_play(lab.cluster_name, sample_app={"windows_sample_app_windows_build": "10.0.99999"},
                                          with_readiness=False))
    assert unknown.returncode != 0
    message = unknown.result("eksnodes.windows.windows_sample_app : Check that the build has an image")["msg"]
    assert message.startswith("No Windows Server Core image is known for build 10.0.99999") and "windows_sample_app_image" in message
