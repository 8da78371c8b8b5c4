"""How many legacy objects are read: all of them when thorough, else the active ones and the rest only if one is found."""

import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.ipam import kube
from ansible_collections.eksnodes.windows.plugins.module_utils.ipam.legacy import LEGACY_OBJECTS


@pytest.fixture
def cluster(monkeypatch):
    """The objects present (by name and kind) and the reads made."""
    state = {"present": set(), "reads": []}

    def exists(api_client, obj):
        state["reads"].append(obj)
        return (obj.kind, obj.name) in state["present"]
    monkeypatch.setattr(kube, "_exists", exists)
    return state


def test_thorough_reads_every_object_and_finds_leftovers_alone(cluster):
    cluster["present"] = {("ClusterRole", "vpc-resource-controller")}
    assert [(obj.kind, obj.name) for obj in kube.find_legacy_objects(None)] == [("ClusterRole", "vpc-resource-controller")]
    assert len(cluster["reads"]) == len(LEGACY_OBJECTS) and set(cluster["reads"]) == set(LEGACY_OBJECTS)


def test_otherwise_only_what_runs_or_intercepts_is_read_when_none_of_it_is_there(cluster):
    cluster["present"] = {("ClusterRole", "vpc-resource-controller")}
    assert kube.find_legacy_objects(None, thorough=False) == []
    assert cluster["reads"] == [obj for obj in LEGACY_OBJECTS if obj.active] and len(cluster["reads"]) == 4


def test_a_running_controller_brings_the_whole_report_in_the_usual_order(cluster):
    cluster["present"] = {("Secret", "vpc-admission-webhook-certs"), ("MutatingWebhookConfiguration", "vpc-admission-webhook-cfg"),
                          ("Deployment", "vpc-resource-controller")}
    found = kube.find_legacy_objects(None, thorough=False)
    assert found == [obj for obj in LEGACY_OBJECTS if (obj.kind, obj.name) in cluster["present"]]
    assert len(cluster["reads"]) == len(LEGACY_OBJECTS) and set(cluster["reads"]) == set(LEGACY_OBJECTS)


def test_listed_deployments_answer_for_the_deployments_without_a_read(cluster):
    cluster["present"] = {("MutatingWebhookConfiguration", "vpc-admission-webhook-cfg")}
    listed = {"coredns": {}, "vpc-admission-webhook-deployment": {}}
    found = kube.find_legacy_objects(None, thorough=False, deployments=listed)
    assert [(obj.kind, obj.name) for obj in found] == [
        ("Deployment", "vpc-admission-webhook-deployment"), ("MutatingWebhookConfiguration", "vpc-admission-webhook-cfg")]
    assert not [obj for obj in cluster["reads"] if obj.kind == "Deployment"]
    assert set(cluster["reads"]) == {obj for obj in LEGACY_OBJECTS if obj.kind != "Deployment"}


def test_with_no_deployment_listed_only_the_webhook_configuration_is_read(cluster):
    assert kube.find_legacy_objects(None, thorough=False, deployments={"coredns": {}}) == []
    assert [(obj.kind, obj.name) for obj in cluster["reads"]] == [("MutatingWebhookConfiguration", "vpc-admission-webhook-cfg")]
