# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Collecting the facts diagnosis.py reasons about, from AWS and the Kubernetes API.

Diagnosis is best effort: a read that fails (often a missing IAM permission) is recorded under
the instance's 'unchecked' and the rules that needed it stay silent, instead of failing the task.
"""

from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional

from ansible_collections.amazon.aws.plugins.module_utils.ec2 import describe_instances as ec2_describe_instances
from ansible_collections.amazon.aws.plugins.module_utils.ec2 import describe_launch_template_versions
from ansible_collections.amazon.aws.plugins.module_utils.ec2 import describe_nat_gateways
from ansible_collections.amazon.aws.plugins.module_utils.ec2 import describe_route_tables
from ansible_collections.amazon.aws.plugins.module_utils.ec2 import describe_subnets
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError

from ..ami.families import is_windows, parse_image_name
from ..ami.lookup import describe_images
from ..eks.clusters import describe_cluster
from . import aws
from .bootstrap import bootstrap_call
from .diagnosis import API_MODES, diagnose_instance, group_causes, parse_map_roles, strip_role_path
from .kube import read_config_map
from .nodes import Target, group_target
from .waiter import Unauthorized, WaitOutcome

DEFAULT_ROUTE = "0.0.0.0/0"
# The cluster's API server answers nodes in these statuses; CREATING and the others it does not.
SERVING_STATUSES = ("ACTIVE", "UPDATING")


class MissingGroupError(Exception):
    pass


# --------------------------------------------------------------------------- pure helpers


def default_route(route_table: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """Where a route table sends 0.0.0.0/0: {default_target: 'nat'|'igw'|'other'|None, nat_gateway_id, gateway_id}."""
    for route in (route_table or {}).get("Routes") or []:
        if route.get("DestinationCidrBlock") != DEFAULT_ROUTE or route.get("State", "active") != "active":
            continue
        if route.get("NatGatewayId"):
            return {"default_target": "nat", "nat_gateway_id": route["NatGatewayId"]}
        gateway = str(route.get("GatewayId") or "")
        if gateway.startswith("igw-"):
            return {"default_target": "igw", "gateway_id": gateway}
        if any(route.get(k) for k in ("TransitGatewayId", "NetworkInterfaceId", "VpcPeeringConnectionId", "InstanceId", "GatewayId")):
            return {"default_target": "other"}
    return {"default_target": None}


def instances_by_id(reservations: List[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    return {i["InstanceId"]: i for r in reservations for i in r.get("Instances") or []}


def last_failed_activity(activities: List[Dict[str, Any]]) -> Optional[str]:
    for activity in activities:
        if activity.get("StatusCode") in ("Failed", "Cancelled"):
            return activity.get("StatusMessage") or activity.get("Description")
    return None


def observe(history: Optional[List[Dict[str, str]]], status: Optional[str], at: datetime) -> List[Dict[str, str]]:
    """The cluster statuses seen so far, with one more observation: [{status, first, last}] (ISO times)."""
    history = [dict(entry) for entry in history or []]
    moment = at.isoformat()
    if history and history[-1].get("status") == status:
        history[-1]["last"] = moment
    else:
        history.append({"status": status, "first": moment, "last": moment})
    return history


def _moment(text: Optional[str]) -> Optional[datetime]:
    try:
        return datetime.fromisoformat(text) if text else None
    except (TypeError, ValueError):
        return None


def history_windows(history: List[Dict[str, str]]) -> List[Dict[str, Any]]:
    """When the cluster could not take nodes, according to what was seen: {status, start, end}.

    A status other than ACTIVE and UPDATING (the API server serves during updates) counts from the
    last sight of the cluster serving before it (None: since before the wait) to the first sight of
    it serving again (None: still).
    """
    windows = []
    for index, entry in enumerate(history or []):
        if entry.get("status") in SERVING_STATUSES:
            continue
        before = [e for e in history[:index] if e.get("status") in SERVING_STATUSES]
        after = [e for e in history[index + 1:] if e.get("status") in SERVING_STATUSES]
        windows.append({"status": entry.get("status"), "start": _moment(before[-1].get("last")) if before else None,
                        "end": _moment(after[0].get("first")) if after else None})
    return windows


# --------------------------------------------------------------------------- reads


class Gatherer:
    """Reads with caches, so a diagnosis of many instances reads each subnet, template or profile once.

    client(service) gives a boto3 client; clients are made on first use, since making one (loading
    its service model) costs more than most calls.
    """

    def __init__(self, client: Callable[[str], Any], core_factory: Optional[Callable[[], Any]] = None, cluster: Optional[Dict[str, Any]] = None):
        self._client = client
        self._clients: Dict[str, Any] = {}
        self.core_factory = core_factory
        self.cluster = cluster or {}
        self._cache: Dict[Any, Any] = {}

    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = self._client(service)
        return self._clients[service]

    @property
    def ec2(self):
        return self.client("ec2")

    @property
    def iam(self):
        return self.client("iam")

    @property
    def autoscaling(self):
        return self.client("autoscaling")

    @property
    def eks(self):
        return self.client("eks")

    def _cached(self, key, read):
        if key not in self._cache:
            self._cache[key] = read()
        return self._cache[key]

    # instances --------------------------------------------------------------------------------------------
    def instances(self, instance_ids: List[str]) -> Dict[str, Dict[str, Any]]:
        if not instance_ids:
            return {}
        return instances_by_id(ec2_describe_instances(self.ec2, InstanceIds=list(instance_ids)))

    def launch_data(self, instance: Dict[str, Any], group: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        """LaunchTemplateData (or the launch configuration's fields) the instance was launched from."""
        tags = {t.get("Key"): t.get("Value") for t in instance.get("Tags") or []}
        template_id, version = tags.get("aws:ec2launchtemplate:id"), tags.get("aws:ec2launchtemplate:version")
        spec = (group or {}).get("LaunchTemplate") or (((group or {}).get("MixedInstancesPolicy") or {}).get("LaunchTemplate") or {}).get(
            "LaunchTemplateSpecification") or {}
        if not template_id and spec:
            template_id, version = spec.get("LaunchTemplateId"), str(spec.get("Version") or "$Default")
            if not template_id and spec.get("LaunchTemplateName"):
                return self._template_version({"LaunchTemplateName": spec["LaunchTemplateName"]}, version)
        if template_id:
            return self._template_version({"LaunchTemplateId": template_id}, version or "$Default")
        if (group or {}).get("LaunchConfigurationName"):
            config = self._cached(("lc", group["LaunchConfigurationName"]),
                                  lambda: aws.describe_launch_configuration(self.autoscaling, group["LaunchConfigurationName"])) or {}
            return {"UserData": config.get("UserData"), "IamInstanceProfile": config.get("IamInstanceProfile")}
        return {}

    def _template_version(self, selector: Dict[str, str], version: str) -> Dict[str, Any]:
        def read():
            versions = describe_launch_template_versions(self.ec2, Versions=[version], **selector)
            return versions[0].get("LaunchTemplateData") or {} if versions else {}
        return self._cached(("lt", tuple(selector.items()), version), read)

    def image(self, image_id: Optional[str]) -> Optional[Dict[str, Any]]:
        """What the rules need of the instance's image; exists is False when EC2 no longer knows it."""
        if not image_id:
            return None

        def read():
            images = describe_images(self.ec2, image_ids=[image_id])
            if not images:
                return {"image_id": image_id, "exists": False}
            image = images[0]
            return {"image_id": image_id, "exists": True, "name": image.get("Name"), "public": bool(image.get("Public")),
                    "windows": is_windows(image), "eks_optimized": parse_image_name(image.get("Name")) is not None}
        return self._cached(("image", image_id), read)

    def role_of(self, profile_arn: str) -> Optional[str]:
        name = profile_arn.rsplit("/", 1)[-1]
        profile = self._cached(("profile", name), lambda: aws.get_instance_profile(self.iam, name)) or {}
        roles = profile.get("Roles") or []
        return roles[0].get("Arn") if roles else None

    def network(self, instance: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        subnet_id = instance.get("SubnetId")
        if not subnet_id:
            return None

        def read():
            subnets = describe_subnets(self.ec2, SubnetIds=[subnet_id])
            subnet = subnets[0] if subnets else {}
            tables = describe_route_tables(self.ec2, Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])
            if not tables and subnet.get("VpcId"):
                tables = describe_route_tables(self.ec2, Filters=[{"Name": "vpc-id", "Values": [subnet["VpcId"]]},
                                                                  {"Name": "association.main", "Values": ["true"]}])
            table = tables[0] if tables else None
            facts = {"subnet_id": subnet_id, "route_table_id": (table or {}).get("RouteTableId"),
                     "map_public_ip": bool(subnet.get("MapPublicIpOnLaunch"))}
            facts.update(default_route(table))
            if facts.get("nat_gateway_id"):
                gateways = describe_nat_gateways(self.ec2, NatGatewayIds=[facts["nat_gateway_id"]])
                facts["nat_state"] = gateways[0].get("State") if gateways else "deleted"
            return facts

        facts = dict(self._cached(("subnet", subnet_id), read))
        facts["public_ip"] = bool(instance.get("PublicIpAddress"))
        return facts

    # cluster-wide -----------------------------------------------------------------------------------------
    def cluster_facts(self, history: List[Dict[str, str]], unchecked: Dict[str, str]) -> Dict[str, Any]:
        """The cluster as the rules see it; its status is read again, as the last observation of history."""
        try:
            current = describe_cluster(self.eks, self.cluster["name"]) or {}
            history = observe(history, current.get("status"), datetime.now(timezone.utc))
        except AnsibleAWSError as error:
            unchecked["cluster"] = str(error)
        return {
            "name": self.cluster["name"],
            "status": (history[-1] if history else {}).get("status", self.cluster.get("status")),
            "authentication_mode": self.cluster.get("authentication_mode") or "CONFIG_MAP",
            "not_active_windows": history_windows(history),
        }

    def auth_facts(self, role_arns: List[str], unchecked: Dict[str, str]) -> Dict[str, Any]:
        facts: Dict[str, Any] = {"aws_auth": None, "access_entries": None, "vpc_cni": None}
        mode = self.cluster.get("authentication_mode") or "CONFIG_MAP"
        if mode in API_MODES:
            try:
                facts["access_entries"] = self._access_entries(role_arns)
            except AnsibleAWSError as error:
                unchecked["access_entries"] = str(error)
        try:
            config_map, vpc_cni = self._config_maps()
            facts["aws_auth"] = _aws_auth_facts(config_map)
            facts["vpc_cni"] = {"exists": vpc_cni is not None, "enable_windows_ipam": ((vpc_cni or {}).get("data") or {}).get("enable-windows-ipam")}
        except Exception as error:  # pylint: disable=broad-exception-caught
            unchecked["configmaps"] = str(error)
        return facts

    def _config_maps(self):
        """aws-auth and amazon-vpc-cni; a fresh client gets one more try after an expired token."""
        try:
            core = self.core_factory()
            return read_config_map(core, "kube-system", "aws-auth"), read_config_map(core, "kube-system", "amazon-vpc-cni")
        except Unauthorized:
            core = self.core_factory()
            return read_config_map(core, "kube-system", "aws-auth"), read_config_map(core, "kube-system", "amazon-vpc-cni")

    def _access_entries(self, role_arns: List[str]) -> Dict[str, str]:
        wanted = {a.lower() for arn in role_arns for a in (arn, strip_role_path(arn))}
        entries = {}
        for principal in aws.list_access_entries(self.eks, self.cluster["name"]):
            if principal.lower() in wanted:
                entry = aws.describe_access_entry(self.eks, self.cluster["name"], principal) or {}
                entries[principal] = entry.get("type") or "STANDARD"
        return entries

    def group_facts(self, group_name: str) -> Optional[str]:
        try:
            return last_failed_activity(aws.scaling_activities(self.autoscaling, group_name))
        except AnsibleAWSError:
            return None


def _aws_auth_facts(config_map: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    if config_map is None:
        return {"exists": False, "map_roles": [], "problem": None}
    try:
        return {"exists": True, "map_roles": parse_map_roles((config_map.get("data") or {}).get("mapRoles")), "problem": None}
    except ValueError as error:
        return {"exists": True, "map_roles": [], "problem": str(error)}


def instance_facts(gatherer: Gatherer, instance_id: str, instance: Optional[Dict[str, Any]], node: Optional[Dict[str, Any]],
                   group: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The facts of one instance that is not a Ready node."""
    unchecked: Dict[str, str] = {}
    facts: Dict[str, Any] = {"instance_id": instance_id, "node": node, "unchecked": unchecked,
                             "windows": (node or {}).get("os") == "windows" if node else None}
    if instance is None:
        facts.update(state="terminated", state_reason="the instance no longer exists")
        return facts
    profile = (instance.get("IamInstanceProfile") or {}).get("Arn")
    facts.update(
        state=(instance.get("State") or {}).get("Name"),
        state_reason=(instance.get("StateReason") or {}).get("Message"),
        launch_time=instance.get("LaunchTime"),
        private_dns_name=instance.get("PrivateDnsName"),
        subnet_id=instance.get("SubnetId"),
        instance_profile_arn=profile,
        role_arn=None,
    )
    if facts["windows"] is None:
        facts["windows"] = str(instance.get("Platform") or "").lower() == "windows" or "windows" in str(instance.get("PlatformDetails") or "").lower()
    try:
        facts["image"] = gatherer.image(instance.get("ImageId"))
    except AnsibleAWSError as error:
        unchecked["image"] = str(error)
    launch = {}
    try:
        launch = gatherer.launch_data(instance, group)
        facts["bootstrap"] = bootstrap_call(launch.get("UserData"))
    except AnsibleAWSError as error:
        unchecked["bootstrap"] = str(error)
    if not profile:
        # A launch template names the profile by Arn or by Name; a launch configuration by either, as a string.
        launch_profile = launch.get("IamInstanceProfile") or {}
        profile = (launch_profile.get("Arn") or launch_profile.get("Name")) if isinstance(launch_profile, dict) else launch_profile
        facts["instance_profile_arn"] = profile or None
    if profile:
        try:
            facts["role_arn"] = gatherer.role_of(profile)
        except AnsibleAWSError as error:
            unchecked["role"] = str(error)
    try:
        facts["network"] = gatherer.network(instance)
    except AnsibleAWSError as error:
        unchecked["network"] = str(error)
    return facts


# --------------------------------------------------------------------------- what the module runs


class TargetLoader:
    """What to wait for, read again each time the wait asks (the group's instances change)."""

    def __init__(self, gatherer: Gatherer, group_name: Optional[str], instance_ids: Optional[List[str]], expected: Optional[int]):
        self.gatherer = gatherer
        self.group_name = group_name
        self.instance_ids = instance_ids
        self.expected = expected
        self.group: Optional[Dict[str, Any]] = None

    def __call__(self) -> Target:
        if self.group_name:
            self.group = aws.describe_group(self.gatherer.autoscaling, self.group_name)
            if self.group is None:
                raise MissingGroupError(f"Auto Scaling group {self.group_name} does not exist")
            return group_target(self.group, self.expected)
        if self.instance_ids:
            instances = [{"instance_id": i} for i in self.instance_ids]
            expected = len(instances) if self.expected is None else self.expected
            return Target(expected=expected, instances=instances, by_instance=True, description="instances")
        return Target(expected=self.expected or 0, by_instance=False, description="label selectors")


def diagnose(gatherer: Gatherer, outcome: WaitOutcome, group_name: Optional[str], group: Optional[Dict[str, Any]],
             history: List[Dict[str, str]]) -> List[Dict[str, Any]]:
    """Diagnosis entries for the group and for every instance that is not a Ready node."""
    state, target = outcome.state, outcome.target
    entries = []
    if group_name:
        causes = group_causes(target.expected, len(target.instances), group_name, gatherer.group_facts(group_name))
        if causes:
            entries.append({"instance_id": None, "node_name": None, "state": "group", "causes": causes, "unchecked": []})
    if not target.by_instance and len(state.nodes) < target.expected:
        entries.append({"instance_id": None, "node_name": None, "state": "group", "unchecked": [], "causes": [{
            "code": "not_registered",
            "cause": f"only {len(state.nodes)} of the {target.expected} expected nodes match the label selectors",
            "fix": "Give autoscaling_group_name or instance_ids to have each instance that did not register diagnosed."}]})
    pending = [(i["instance_id"], None) for i in state.unregistered]
    pending += [(n["instance_id"], n) for n in state.not_ready if n.get("instance_id")]
    if not pending:
        return entries
    unchecked: Dict[str, str] = {}
    instances: Dict[str, Dict[str, Any]] = {}
    try:
        instances = gatherer.instances([item[0] for item in pending])
    except AnsibleAWSError as error:
        unchecked["instances"] = str(error)
    # An instance EC2 does not know is gone; one that could not be read is only unknown.
    missing = {} if "instances" in unchecked else None
    facts = [instance_facts(gatherer, instance_id, instances.get(instance_id, missing), node, group) for instance_id, node in pending]
    cluster = gatherer.cluster_facts(history, unchecked)
    auth = gatherer.auth_facts([f["role_arn"] for f in facts if f.get("role_arn")], unchecked)
    for fact in facts:
        fact["unchecked"].update(unchecked)
        entries.append(diagnose_instance(fact, cluster, auth, group_name))
    return entries
