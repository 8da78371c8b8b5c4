"""Which pods a drain evicts, ignores or refuses."""

from ansible_collections.eksnodes.windows.plugins.module_utils.lifecycle.pods import (
    DAEMONSET, EVICT, LOCAL_STORAGE, MIRROR, UNMANAGED, category, grace_seconds, refusal_message, sort_pods)


def pod(name, owner="Deployment", namespace="app", phase="Running", volumes=None, annotations=None, grace=None):
    metadata = {"name": name, "namespace": namespace, "annotations": annotations or {}}
    if owner:
        metadata["ownerReferences"] = [{"kind": owner, "name": "x", "controller": True}]
    spec = {"volumes": volumes or []}
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {"metadata": metadata, "spec": spec, "status": {"phase": phase}}


def test_categories_follow_kubectl_drain():
    assert category(pod("a")) == EVICT
    assert category(pod("b", owner="DaemonSet")) == DAEMONSET
    assert category(pod("c", owner=None, annotations={"kubernetes.io/config.mirror": "x"})) == MIRROR
    assert category(pod("d", owner=None)) == UNMANAGED
    assert category(pod("e", volumes=[{"name": "scratch", "emptyDir": {}}])) == LOCAL_STORAGE
    # A finished pod goes whatever it is: nothing runs any more.
    assert category(pod("f", owner=None, phase="Succeeded")) == EVICT
    # A DaemonSet pod with emptyDir data is still only ignored.
    assert category(pod("g", owner="DaemonSet", volumes=[{"emptyDir": {}}])) == DAEMONSET


def test_sort_pods_refuses_unless_allowed():
    pods = [pod("web"), pod("ds", owner="DaemonSet"), pod("bare", owner=None), pod("cache", volumes=[{"emptyDir": {}}])]
    strict = sort_pods(pods)
    assert strict.evict_keys == ["app/web"]
    assert [p["metadata"]["name"] for p in strict.ignored] == ["ds"]
    assert strict.refused == {UNMANAGED: ["app/bare"], LOCAL_STORAGE: ["app/cache"]}
    allowed = sort_pods(pods, force=True, delete_emptydir_data=True)
    assert allowed.evict_keys == ["app/bare", "app/cache", "app/web"] and not allowed.refused


def test_refusal_message_names_the_option():
    message = refusal_message("ip-10-0-1-4.ec2.internal", {UNMANAGED: ["app/bare"], LOCAL_STORAGE: ["app/cache"]})
    assert "ip-10-0-1-4.ec2.internal" in message and "nothing was changed" in message
    assert "force=true" in message and "app/bare" in message
    assert "delete_emptydir_data=true" in message and "app/cache" in message


def test_grace_is_capped_only_when_asked():
    assert grace_seconds(pod("a", grace=120), None) is None
    assert grace_seconds(pod("a", grace=120), 30) == 30
    assert grace_seconds(pod("a", grace=5), 30) == 5
    assert grace_seconds(pod("a"), 10) == 10  # kubelet's default of 30 s, capped
