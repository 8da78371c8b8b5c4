"""Small builders of the API shapes the readiness tests feed the pure functions."""


def node(name, instance_id=None, ready="True", os="windows", build="10.0.20348", zone="us-east-1a", instance_type="m5.large",
         message=None, version="1"):
    labels = {"kubernetes.io/os": os, "node.kubernetes.io/instance-type": instance_type, "topology.kubernetes.io/zone": zone}
    if os == "windows":
        labels["node.kubernetes.io/windows-build"] = build
    conditions = [{"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory"}]
    if ready is not None:
        conditions.append({"type": "Ready", "status": ready, "reason": "KubeletReady" if ready == "True" else "KubeletNotReady",
                           "message": message or ("kubelet is posting ready status" if ready == "True" else "starting"),
                           "lastTransitionTime": "2026-11-24T10:00:00Z"})
    spec = {"providerID": f"aws:///{zone}/{instance_id}"} if instance_id else {}
    return {
        "metadata": {"name": name, "labels": labels, "resourceVersion": version, "creationTimestamp": "2026-11-24T09:58:00Z"},
        "spec": spec,
        "status": {"conditions": conditions, "addresses": [{"type": "InternalIP", "address": "10.0.1.4"}],
                   "nodeInfo": {"kubeletVersion": "v1.31.4-eks-abc", "osImage": "Windows Server 2022 Datacenter"}},
    }


def group(*instance_ids, desired=None, name="ng-windows", states=None):
    states = states or {}
    return {
        "AutoScalingGroupName": name,
        "DesiredCapacity": len(instance_ids) if desired is None else desired,
        "Instances": [{"InstanceId": i, "LifecycleState": states.get(i, "InService"), "AvailabilityZone": "us-east-1a"} for i in instance_ids],
    }


def dns(instance_id):
    return f"ip-10-0-{int(instance_id[-1], 16)}-4.ec2.internal"
