from ansible_collections.eksnodes.windows.plugins.module_utils.ipam import legacy


def by_name(kind, name):
    return next(obj for obj in legacy.LEGACY_OBJECTS if obj.kind == kind and obj.name == name)


def test_both_installers_names_are_known():
    names = {(obj.kind, obj.name) for obj in legacy.LEGACY_OBJECTS}
    assert ("Deployment", "vpc-resource-controller") in names
    assert ("Deployment", "vpc-admission-webhook") in names
    assert ("Deployment", "vpc-admission-webhook-deployment") in names
    assert ("MutatingWebhookConfiguration", "vpc-admission-webhook-cfg") in names


def test_the_kube_proxy_windows_binding_is_never_listed():
    assert all("kube-proxy" not in obj.name for obj in legacy.LEGACY_OBJECTS)


def test_only_deployments_and_the_webhook_configuration_are_active():
    found = [by_name("Deployment", "vpc-resource-controller"), by_name("ClusterRole", "vpc-resource-controller")]
    assert legacy.active(found) == found[:1]


def test_kubectl_commands_name_namespace_only_for_namespaced_objects():
    found = [by_name("Deployment", "vpc-resource-controller"), by_name("MutatingWebhookConfiguration", "vpc-admission-webhook-cfg")]
    assert legacy.kubectl_delete_commands(found) == [
        "kubectl delete deployment -n kube-system vpc-resource-controller",
        "kubectl delete mutatingwebhookconfiguration vpc-admission-webhook-cfg",
    ]
    assert legacy.describe(found[0]) == "Deployment kube-system/vpc-resource-controller"
    assert legacy.as_result(found[1]) == {"kind": "MutatingWebhookConfiguration", "name": "vpc-admission-webhook-cfg", "namespace": None, "active": True}
