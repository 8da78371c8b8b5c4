import base64
import json
from datetime import datetime, timedelta, timezone

import botocore.exceptions
import pytest
from kubernetes.client.rest import ApiException

from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.gather import (
    Gatherer,
    MissingGroupError,
    TargetLoader,
    diagnose,
    default_route,
    history_windows,
    instance_facts,
    instances_by_id,
    last_failed_activity,
    observe,
)
from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.nodes import evaluate, group_target
from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.waiter import WaitOutcome

LOCAL = {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"}


def table(*routes):
    return {"RouteTableId": "rtb-1", "Routes": [LOCAL, *routes]}


def test_default_route_through_a_nat_gateway():
    assert default_route(table({"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1", "State": "active"})) == {
        "default_target": "nat", "nat_gateway_id": "nat-1"}


def test_default_route_through_an_internet_gateway():
    assert default_route(table({"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1"})) == {"default_target": "igw", "gateway_id": "igw-1"}


def test_a_blackhole_route_leads_nowhere():
    assert default_route(table({"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1", "State": "blackhole"})) == {"default_target": None}


def test_only_local_routes():
    assert default_route(table()) == {"default_target": None}
    assert default_route(None) == {"default_target": None}


def test_other_targets_are_given_the_benefit_of_the_doubt():
    assert default_route(table({"DestinationCidrBlock": "0.0.0.0/0", "TransitGatewayId": "tgw-1"})) == {"default_target": "other"}


def test_instances_by_id():
    reservations = [{"Instances": [{"InstanceId": "i-1"}]}, {"Instances": [{"InstanceId": "i-2"}, {"InstanceId": "i-3"}]}]
    assert sorted(instances_by_id(reservations)) == ["i-1", "i-2", "i-3"]


def test_last_failed_activity():
    activities = [{"StatusCode": "Successful", "StatusMessage": "ok"}, {"StatusCode": "Failed", "StatusMessage": "InsufficientInstanceCapacity"}]
    assert last_failed_activity(activities) == "InsufficientInstanceCapacity"
    assert last_failed_activity([]) is None


T0 = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)


def at(minutes):
    return T0 + timedelta(minutes=minutes)


def test_observations_collapse_runs_of_the_same_status():
    history = observe(None, "UPDATING", at(0))
    history = observe(history, "UPDATING", at(1))
    history = observe(history, "ACTIVE", at(2))
    history = observe(history, "ACTIVE", at(3))
    assert history == [{"status": "UPDATING", "first": at(0).isoformat(), "last": at(1).isoformat()},
                       {"status": "ACTIVE", "first": at(2).isoformat(), "last": at(3).isoformat()}]


def test_history_windows_span_from_the_last_sight_serving_to_the_next():
    history = observe(observe(observe(observe(None, "ACTIVE", at(0)), "CREATING", at(5)), "CREATING", at(6)), "ACTIVE", at(9))
    assert history_windows(history) == [{"status": "CREATING", "start": at(0), "end": at(9)}]


def test_updating_is_serving():
    history = observe(observe(observe(None, "ACTIVE", at(0)), "UPDATING", at(5)), "ACTIVE", at(9))
    assert history_windows(history) == []


def test_a_wait_that_starts_while_creating_has_a_window_without_start():
    history = observe(observe(observe(None, "CREATING", at(0)), "UPDATING", at(2)), "ACTIVE", at(3))
    assert history_windows(history) == [{"status": "CREATING", "start": None, "end": at(2)}]


def test_a_cluster_still_not_serving_has_an_open_window():
    history = observe(observe(None, "ACTIVE", at(0)), "FAILED", at(3))
    assert history_windows(history) == [{"status": "FAILED", "start": at(0), "end": None}]
    assert history_windows(observe(None, "ACTIVE", at(0))) == []


# --------------------------------------------------------------------------- reads, with stub clients

USER_DATA = base64.b64encode(b"<powershell>& Start-EKSBootstrap.ps1 -EKSClusterName lab</powershell>").decode()
ROLE = "arn:aws:iam::123456789012:role/win"


def denied(operation):
    return botocore.exceptions.ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, operation)


class Pages:
    def __init__(self, result):
        self.result = result

    def paginate(self, **params):
        self.params = params  # pylint: disable=attribute-defined-outside-init
        return self

    def build_full_result(self):
        return self.result


class StubEC2:
    def __init__(self, routes=None):
        self.calls = []
        self.routes = routes if routes is not None else [{"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1"}]

    def get_paginator(self, name):
        self.calls.append(name)
        results = {
            "describe_launch_template_versions": {"LaunchTemplateVersions": [{"LaunchTemplateData": {
                "UserData": USER_DATA, "IamInstanceProfile": {"Name": "win-profile"}}}]},
            "describe_subnets": {"Subnets": [{"SubnetId": "subnet-1", "VpcId": "vpc-1", "MapPublicIpOnLaunch": False}]},
            "describe_route_tables": {"RouteTables": [{"RouteTableId": "rtb-1", "Routes": self.routes}]},
            "describe_nat_gateways": {"NatGateways": [{"State": "available"}]},
            "describe_instances": {"Reservations": [{"Instances": [windows_instance(LaunchTime=at(0))]}]},
        }
        return Pages(results[name])


class StubIAM:
    def __init__(self, error=None):
        self.error = error
        self.calls = 0

    def get_instance_profile(self, InstanceProfileName):  # pylint: disable=invalid-name
        self.calls += 1
        if self.error:
            raise self.error
        return {"InstanceProfile": {"InstanceProfileName": InstanceProfileName, "Roles": [{"Arn": ROLE}]}}


class StubEKS:
    def __init__(self, status="ACTIVE", error=None):
        self.status = status
        self.error = error

    def describe_cluster(self, name):
        if self.error:
            raise self.error
        return {"cluster": {"name": name, "status": self.status}}


def gatherer(**clients):
    return Gatherer(lambda service: clients[service], cluster={"name": "lab", "authentication_mode": "CONFIG_MAP"})


def windows_instance(**changes):
    instance = {"InstanceId": "i-1", "State": {"Name": "running"}, "SubnetId": "subnet-1", "Platform": "windows",
                "Tags": [{"Key": "aws:ec2launchtemplate:id", "Value": "lt-1"}, {"Key": "aws:ec2launchtemplate:version", "Value": "3"}]}
    instance.update(changes)
    return instance


def test_instance_facts_follow_the_launch_template_to_the_role():
    ec2, iam = StubEC2(), StubIAM()
    facts = instance_facts(gatherer(ec2=ec2, iam=iam), "i-1", windows_instance(), None, None)
    assert facts["bootstrap"] == {"cluster_name": "lab", "problem": None}
    assert facts["instance_profile_arn"] == "win-profile" and facts["role_arn"] == ROLE
    assert facts["network"] == {"subnet_id": "subnet-1", "route_table_id": "rtb-1", "map_public_ip": False, "default_target": "nat",
                                "nat_gateway_id": "nat-1", "nat_state": "available", "public_ip": False}
    assert facts["windows"] is True and facts["unchecked"] == {}


def test_reads_are_cached_across_instances():
    ec2, iam = StubEC2(), StubIAM()
    shared = gatherer(ec2=ec2, iam=iam)
    for instance_id in ("i-1", "i-2"):
        instance_facts(shared, instance_id, windows_instance(InstanceId=instance_id), None, None)
    assert ec2.calls.count("describe_launch_template_versions") == 1 and ec2.calls.count("describe_subnets") == 1 and iam.calls == 1


def test_the_group_launch_template_is_used_when_the_instance_has_no_tags():
    ec2 = StubEC2()
    group = {"LaunchTemplate": {"LaunchTemplateId": "lt-9", "Version": "$Latest"}}
    data = gatherer(ec2=ec2).launch_data({"InstanceId": "i-1"}, group)
    assert data["UserData"] == USER_DATA


def test_a_launch_configuration_names_the_profile():
    class StubAutoscaling:
        def describe_launch_configurations(self, LaunchConfigurationNames):  # pylint: disable=invalid-name
            return {"LaunchConfigurations": [{"LaunchConfigurationName": LaunchConfigurationNames[0], "UserData": USER_DATA,
                                              "IamInstanceProfile": "lc-profile"}]}

    shared = gatherer(ec2=StubEC2(), iam=StubIAM(), autoscaling=StubAutoscaling())
    facts = instance_facts(shared, "i-1", windows_instance(Tags=[]), None, {"LaunchConfigurationName": "lc"})
    assert facts["instance_profile_arn"] == "lc-profile" and facts["role_arn"] == ROLE


def test_a_refused_read_is_unchecked_not_fatal():
    facts = instance_facts(gatherer(ec2=StubEC2(), iam=StubIAM(error=denied("GetInstanceProfile"))), "i-1",
                           windows_instance(IamInstanceProfile={"Arn": "arn:aws:iam::1:instance-profile/p"}), None, None)
    assert facts["role_arn"] is None and "role" in facts["unchecked"] and "Failed to get the instance profile" in facts["unchecked"]["role"]


def test_an_instance_ec2_does_not_know_is_gone():
    facts = instance_facts(gatherer(), "i-1", None, None, None)
    assert facts["state"] == "terminated"


def test_cluster_facts_add_the_status_now_to_the_history():
    history = observe(None, "CREATING", at(0))
    unchecked = {}
    facts = gatherer(eks=StubEKS("ACTIVE")).cluster_facts(history, unchecked)
    assert facts["status"] == "ACTIVE" and unchecked == {}
    assert facts["not_active_windows"][0]["status"] == "CREATING" and facts["not_active_windows"][0]["end"] is not None
    facts = gatherer(eks=StubEKS(error=denied("DescribeCluster"))).cluster_facts(history, unchecked)
    assert "cluster" in unchecked and facts["not_active_windows"][0]["end"] is None


class StubResponse:
    def __init__(self, body):
        self.data = json.dumps(body).encode()


class StubCore:
    def __init__(self, config_maps, status=None):
        self.config_maps = config_maps
        self.status = status

    def read_namespaced_config_map(self, name, namespace, **_kwargs):
        if self.status:
            raise ApiException(status=self.status, reason="Unauthorized")
        if name not in self.config_maps:
            raise ApiException(status=404, reason="NotFound")
        return StubResponse({"metadata": {"name": name, "namespace": namespace}, "data": self.config_maps[name]})


def test_auth_facts_read_both_config_maps_and_retry_an_expired_token_once():
    cores = [StubCore({}, status=401), StubCore({"aws-auth": {"mapRoles": f"- rolearn: {ROLE}\n  groups: [system:nodes]\n"}})]
    shared = gatherer()
    shared.core_factory = lambda: cores.pop(0)
    unchecked = {}
    facts = shared.auth_facts([ROLE], unchecked)
    assert unchecked == {} and facts["access_entries"] is None
    assert facts["aws_auth"] == {"exists": True, "map_roles": [{"rolearn": ROLE, "groups": ["system:nodes"]}], "problem": None}
    assert facts["vpc_cni"] == {"exists": False, "enable_windows_ipam": None}


def test_auth_facts_report_an_unreadable_cluster():
    shared = gatherer()
    shared.core_factory = lambda: StubCore({}, status=403)
    unchecked = {}
    facts = shared.auth_facts([ROLE], unchecked)
    assert facts["aws_auth"] is None and "cannot read ConfigMap kube-system/aws-auth" in unchecked["configmaps"]


class StubAutoscaling:
    def __init__(self, groups=None):
        self.groups = groups or {}

    def describe_auto_scaling_groups(self, AutoScalingGroupNames):  # pylint: disable=invalid-name
        return {"AutoScalingGroups": [self.groups[n] for n in AutoScalingGroupNames if n in self.groups]}

    def describe_scaling_activities(self, AutoScalingGroupName, MaxRecords):  # pylint: disable=invalid-name,unused-argument
        return {"Activities": [{"StatusCode": "Failed", "StatusMessage": "We currently do not have sufficient capacity"}]}


GROUP = {"AutoScalingGroupName": "ng", "DesiredCapacity": 2, "Instances": [{"InstanceId": "i-1", "LifecycleState": "InService"}]}


def test_the_target_comes_from_the_group_the_instances_or_the_count():
    shared = gatherer(autoscaling=StubAutoscaling({"ng": GROUP}))
    loader = TargetLoader(shared, "ng", None, None)
    assert loader().instance_ids == ["i-1"] and loader().expected == 2 and loader.group == GROUP
    assert TargetLoader(shared, None, ["i-2", "i-3"], None)().expected == 2
    assert TargetLoader(shared, None, None, 4)().by_instance is False
    with pytest.raises(MissingGroupError, match="Auto Scaling group nope does not exist"):
        TargetLoader(shared, "nope", None, None)()


def test_diagnose_covers_the_group_and_each_instance():
    shared = gatherer(ec2=StubEC2(), iam=StubIAM(), autoscaling=StubAutoscaling({"ng": GROUP}), eks=StubEKS("ACTIVE"))
    shared.core_factory = lambda: StubCore({"aws-auth": {"mapRoles": ""}, "amazon-vpc-cni": {"enable-windows-ipam": "true"}})
    target = group_target(GROUP)
    outcome = WaitOutcome(state=evaluate(target, {}), timed_out=True, target=target)
    entries = diagnose(shared, outcome, "ng", GROUP, observe(None, "ACTIVE", at(-1)))
    assert entries[0]["state"] == "group" and "sufficient capacity" in entries[0]["causes"][0]["cause"]
    assert entries[1]["instance_id"] == "i-1" and [c["code"] for c in entries[1]["causes"]] == ["role_not_mapped"]
    assert entries[1]["unchecked"] == []
