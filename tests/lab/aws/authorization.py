"""IAM authorization of the lab's AWS endpoint (the enforcing mode, ``python -m lab serve --enforce-iam``).

A request signed with the access key of an IAM user of the lab's account is checked against that
user's identity policies (inline and attached, the user's and its groups'), as AWS evaluates them:

1. the action (``<service>:<Operation>``) and the resource ARNs the call addresses (stack, role,
   instance profile, OIDC provider, managed policy, SSM parameter, Auto Scaling group, EKS cluster; ``*``
   for actions AWS does not scope), with the condition keys the call sets (``iam:PassedToService`` on
   CloudFormation's behalf, ``iam:PolicyARN`` on attaching or detaching a role policy, ``aws:TagKeys`` on
   tagging or untagging a role, ``aws:TagKeys`` and ``aws:RequestTag/<key>`` on creating a role with tags);
   an IAM create that gives tags also needs the resource's tagging action (``iam:TagRole`` for CreateRole,
   with the same keys), as AWS requires ("To create a role with tags, you must have iam:TagRole");
2. an explicit Deny wins, then any Allow; otherwise the call is refused with the service's own error
   (``AccessDenied``, ``UnauthorizedOperation`` for EC2, ``AccessDeniedException`` for JSON APIs) and
   AWS's message ``User: <arn> is not authorized to perform: <action> on resource: <arn> because no
   identity-based policy allows the <action> action``;
3. CloudFormation without a stack role acts with the caller's credentials: executing a change set or
   deleting a stack also needs the actions of each resource type's handler (create, update or
   delete, then read), and ``iam:PassRole`` for the roles handed to EC2. Real CloudFormation
   fails the resource (``CREATE_FAILED`` with the handler's AccessDenied) after the call was
   accepted; the lab refuses the call itself, with the same message, before anything changes.

Any other key (``testing``, which the seed, the simulator, the controllers and tests use) stands for
the account's administrator and is not checked. moto's own enforcement
(``settings.INITIAL_NO_AUTH_ACTION_COUNT``) is not used: it ignores Resource elements and
conditions (``moto/iam/access_control.py`` matches every action against resource ``*``), so a policy
scoped by resource would be refused. Its credential lookup and policy collection are reused.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional
from urllib.parse import parse_qs, unquote

from lab.aws.naming import LAB_TAIL, generated_name

LOG = logging.getLogger("lab.aws.iam")
CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
PARTITION = "aws"

# What CloudFormation's resource handlers call with the caller's credentials, per resource type and
# operation: the handler permissions of the CloudFormation registry schemas (cfn-lint ships them:
# cfnlint/data/schemas/resources), less those for properties the node group template never sets
# (notifications, load balancers, metrics, lifecycle hooks, instance refresh, VPC Lattice, managed
# fleets, inline role policies) and less wildcards that stand for reads already listed.
HANDLER_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "AWS::IAM::Role": {
        "create": ("iam:CreateRole", "iam:AttachRolePolicy", "iam:GetRole"),
        "read": ("iam:GetRole", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies"),
        "update": ("iam:UpdateRole", "iam:UpdateAssumeRolePolicy", "iam:AttachRolePolicy", "iam:DetachRolePolicy",
                   "iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary"),
        "delete": ("iam:DeleteRole", "iam:DetachRolePolicy", "iam:GetRole", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies"),
    },
    "AWS::IAM::InstanceProfile": {
        "create": ("iam:CreateInstanceProfile", "iam:PassRole", "iam:AddRoleToInstanceProfile", "iam:GetInstanceProfile"),
        "read": ("iam:GetInstanceProfile",),
        "update": ("iam:PassRole", "iam:RemoveRoleFromInstanceProfile", "iam:AddRoleToInstanceProfile", "iam:GetInstanceProfile"),
        "delete": ("iam:GetInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"),
    },
    "AWS::EC2::SecurityGroup": {
        "create": ("ec2:CreateSecurityGroup", "ec2:DescribeSecurityGroups", "ec2:RevokeSecurityGroupEgress",
                   "ec2:AuthorizeSecurityGroupEgress", "ec2:CreateTags"),
        "read": ("ec2:DescribeSecurityGroups",),
        "update": ("ec2:DescribeSecurityGroups", "ec2:CreateTags", "ec2:DeleteTags"),
        "delete": ("ec2:DescribeSecurityGroups", "ec2:DeleteSecurityGroup", "ec2:DescribeInstances"),
    },
    "AWS::EC2::SecurityGroupIngress": {
        "create": ("ec2:DescribeSecurityGroupRules", "ec2:AuthorizeSecurityGroupIngress"),
        "read": ("ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules"),
        "update": ("ec2:UpdateSecurityGroupRuleDescriptionsIngress",),
        "delete": ("ec2:DescribeSecurityGroupRules", "ec2:RevokeSecurityGroupIngress"),
    },
    "AWS::EC2::SecurityGroupEgress": {
        "create": ("ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress", "ec2:DescribeSecurityGroupRules"),
        "read": ("ec2:DescribeSecurityGroupRules",),
        "update": ("ec2:UpdateSecurityGroupRuleDescriptionsEgress",),
        "delete": ("ec2:RevokeSecurityGroupEgress", "ec2:DescribeSecurityGroupRules"),
    },
    "AWS::EC2::LaunchTemplate": {
        "create": ("ec2:CreateLaunchTemplate", "ec2:CreateTags"),
        "read": ("ec2:DescribeLaunchTemplates",),
        "update": ("ec2:CreateLaunchTemplateVersion", "ec2:CreateTags", "ec2:DeleteTags"),
        "delete": ("ec2:DeleteLaunchTemplate", "ec2:DeleteTags", "ec2:DescribeLaunchTemplates"),
    },
    # Creating or updating a group with a launch template that names an instance profile needs
    # ec2:RunInstances on the template and iam:PassRole on the profile's role (EC2 Auto Scaling user
    # guide, "Launch template permissions"); the service-linked role already exists in a used account.
    "AWS::AutoScaling::AutoScalingGroup": {
        "create": ("autoscaling:CreateAutoScalingGroup", "autoscaling:UpdateAutoScalingGroup", "autoscaling:CreateOrUpdateTags",
                   "autoscaling:DescribeAutoScalingGroups", "ec2:RunInstances", "ec2:DescribeLaunchTemplateVersions",
                   "ec2:DescribeSubnets", "iam:PassRole"),
        "read": ("autoscaling:DescribeAutoScalingGroups",),
        "update": ("autoscaling:UpdateAutoScalingGroup", "autoscaling:CreateOrUpdateTags", "autoscaling:DeleteTags",
                   "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeScheduledActions", "ec2:RunInstances",
                   "ec2:DescribeLaunchTemplateVersions", "ec2:DescribeSubnets", "iam:PassRole"),
        "delete": ("autoscaling:DeleteAutoScalingGroup", "autoscaling:UpdateAutoScalingGroup", "autoscaling:DescribeAutoScalingGroups",
                   "autoscaling:DescribeScalingActivities"),
    },
}
# The Auto Scaling group's update policy reads the group's scheduled actions only on update
# (AutoScalingScheduledAction.IgnoreUnmodifiedGroupSizeProperties).
ROLE_RESOURCE_TYPES = ("AWS::IAM::Role",)


class AccessDenied(Exception):
    """A call refused: ``code`` and ``message`` as the service answers."""

    def __init__(self, code: str, message: str, status: int = 403):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True)
class Caller:
    user_name: str
    arn: str
    policies: tuple[dict, ...]


@dataclass
class Request:
    service: str
    action: str
    params: dict[str, str]
    path: str
    region: str
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def iam_action(self) -> str:
        return f"{self.service}:{self.action}"


# --------------------------------------------------------------------------- policy evaluation


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _like(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    if not case_sensitive:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


CONDITION_OPERATORS = {
    "StringEquals": lambda expected, actual: actual == expected,
    "StringNotEquals": lambda expected, actual: actual != expected,
    "StringEqualsIgnoreCase": lambda expected, actual: actual.lower() == expected.lower(),
    "StringLike": _like,
    "StringNotLike": lambda expected, actual: not _like(expected, actual),
    "ArnEquals": lambda expected, actual: actual == expected,
    "ArnLike": _like,
    "Bool": lambda expected, actual: actual.lower() == str(expected).lower(),
}


def _conditions_hold(conditions: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    """Every operator block holds; a key absent from the request fails it (no ...IfExists support). A multivalued key
    (aws:TagKeys) needs ForAllValues: (every value matches) or ForAnyValue: (one does), as AWS does."""
    for qualified, keys in (conditions or {}).items():
        quantifier, operator = qualified.rpartition(":")[::2]
        test = CONDITION_OPERATORS.get(operator)
        if test is None or quantifier not in ("", "ForAllValues", "ForAnyValue"):
            raise ValueError(f"the lab does not evaluate the condition operator {qualified}")
        for key, expected in keys.items():
            actual = next((value for name, value in context.items() if name.lower() == key.lower()), None)
            if actual is None or isinstance(actual, list) != bool(quantifier):
                return False
            values = actual if isinstance(actual, list) else [actual]
            matches = [any(test(str(item), value) for item in _as_list(expected)) for value in values]
            if not (all(matches) if quantifier in ("", "ForAllValues") else any(matches)):
                return False
    return True


def _statement_applies(statement: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str]) -> bool:
    if "Action" in statement:
        if not any(_like(pattern, action, case_sensitive=False) for pattern in _as_list(statement["Action"])):
            return False
    elif any(_like(pattern, action, case_sensitive=False) for pattern in _as_list(statement.get("NotAction"))):
        return False
    if "Resource" in statement:
        if not any(_like(pattern, resource) for pattern in _as_list(statement["Resource"])):
            return False
    elif any(_like(pattern, resource) for pattern in _as_list(statement.get("NotResource"))):
        return False
    return _conditions_hold(statement.get("Condition") or {}, context)


def evaluate(policies: Iterable[Mapping[str, Any]], action: str, resource: str, context: Mapping[str, str]) -> str:
    """``Deny`` (explicit), ``Allow``, or ``ImplicitDeny`` for one action on one resource."""
    allowed = False
    for policy in policies:
        for statement in _as_list(policy.get("Statement")):
            if _statement_applies(statement, action, resource, context):
                if statement.get("Effect") == "Deny":
                    return "Deny"
                allowed = True
    return "Allow" if allowed else "ImplicitDeny"


def denial_message(caller_arn: str, action: str, resource: str, verdict: str) -> str:
    on = "" if resource == "*" else f" on resource: {resource}"
    why = "with an explicit deny in an identity-based policy" if verdict == "Deny" else f"because no identity-based policy allows the {action} action"
    return f"User: {caller_arn} is not authorized to perform: {action}{on} {why}"


# --------------------------------------------------------------------------- the request's resources


def _arn(service: str, region: str, account: str, resource: str) -> str:
    return f"arn:{PARTITION}:{service}:{region}:{account}:{resource}"


class ResourceResolver:
    """The ARNs a call addresses, read from moto's state (process-local) where the request names them indirectly."""

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id

    def resources(self, request: Request) -> list[str]:
        handler = getattr(self, f"_{request.service}", None)
        found = handler(request) if handler else None
        return found or ["*"]

    # cloudformation: every stack action is scoped by the stack's ARN (GetTemplateSummary of a template body is not).
    def _cloudformation(self, request: Request) -> Optional[list[str]]:
        name = request.params.get("StackName") or ""
        change_set = request.params.get("ChangeSetName") or ""
        if not name and change_set.startswith("arn:"):
            name = self._change_set_stack_id(request.region, change_set) or ""
        if not name:
            return None
        if name.startswith("arn:"):
            return [name]
        stack = self._stack(request.region, name)
        return [stack.stack_id if stack is not None else _arn("cloudformation", request.region, self.account_id, f"stack/{name}/*")]

    def _cfn_backend(self, region: str) -> Any:
        from moto.cloudformation.models import cloudformation_backends  # pylint: disable=import-outside-toplevel
        return cloudformation_backends[self.account_id][region]

    def _stack(self, region: str, name: str) -> Any:
        backend = self._cfn_backend(region)
        return next((stack for stack in backend.stacks.values() if stack.name == name and not stack.status.startswith("DELETE_COMPLETE")), None)

    def _change_set_stack_id(self, region: str, change_set_arn: str) -> Optional[str]:
        change_set = self._cfn_backend(region).change_sets.get(change_set_arn)
        return change_set.stack_id if change_set is not None else None

    def _iam(self, request: Request) -> Optional[list[str]]:
        params = request.params
        if params.get("RoleName"):
            return [f"arn:{PARTITION}:iam::{self.account_id}:role/{params['RoleName']}"]
        if params.get("InstanceProfileName"):
            return [f"arn:{PARTITION}:iam::{self.account_id}:instance-profile/{params['InstanceProfileName']}"]
        if params.get("OpenIDConnectProviderArn"):
            return [params["OpenIDConnectProviderArn"]]
        if request.action == "CreateOpenIDConnectProvider" and params.get("Url"):
            return [f"arn:{PARTITION}:iam::{self.account_id}:oidc-provider/{params['Url'].split('://', 1)[-1]}"]
        if params.get("PolicyArn"):
            return [params["PolicyArn"]]
        if request.action == "CreatePolicy" and params.get("PolicyName"):
            return [f"arn:{PARTITION}:iam::{self.account_id}:policy{params.get('Path') or '/'}{params['PolicyName']}"]
        return None

    def _ssm(self, request: Request) -> Optional[list[str]]:
        name = request.params.get("Name") or ""
        if not name:
            return None
        # Public parameters (/aws/service/...) have no account in their ARN.
        account = "" if name.startswith("/aws/") else self.account_id
        return [f"arn:{PARTITION}:ssm:{request.region}:{account}:parameter/{name.lstrip('/')}"]

    def _autoscaling(self, request: Request) -> Optional[list[str]]:
        from moto.autoscaling.models import autoscaling_backends  # pylint: disable=import-outside-toplevel
        backend = autoscaling_backends[self.account_id][request.region]
        name = request.params.get("AutoScalingGroupName")
        instance_id = request.params.get("InstanceId")
        if instance_id and not name:
            name = next((group.name for group in backend.autoscaling_groups.values()
                         if any(state.instance.id == instance_id for state in group.instance_states)), None)
        if not name:
            return None
        group = backend.autoscaling_groups.get(name)
        return [group.arn if group is not None else _arn("autoscaling", request.region, self.account_id, f"autoScalingGroup:*:autoScalingGroupName/{name}")]

    def _eks(self, request: Request) -> Optional[list[str]]:
        segments = [unquote(segment) for segment in request.path.strip("/").split("/")]
        if len(segments) >= 2 and segments[0] == "clusters":
            return [_arn("eks", request.region, self.account_id, f"cluster/{segments[1]}")]
        return None


# --------------------------------------------------------------------------- CloudFormation on the caller's behalf


def _resources_of(template: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    return {logical: (spec.get("Type", ""), json.dumps(spec.get("Properties") or {}, sort_keys=True, default=str))
            for logical, spec in ((template or {}).get("Resources") or {}).items()}


def handler_operations(old: Mapping[str, Any], new: Optional[Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    """(logical id, type, operation) for what CloudFormation does to go from template ``old`` to ``new`` (None: deletion)."""
    before, after = _resources_of(old), _resources_of(new or {})
    operations = []
    for logical, (kind, props) in after.items():
        if logical not in before:
            operations.append((logical, kind, "create"))
        elif before[logical] != (kind, props):
            operations.append((logical, kind, "update"))
    operations += [(logical, kind, "delete") for logical, (kind, _props) in before.items() if logical not in after]
    return operations


def on_behalf_resource(action: str, stack_name: str, logical_id: str, region: str, account: str) -> str:
    """The ARN a handler's call addresses, named as CloudFormation names physical resources: <stack>-<logical id>-<suffix>,
    cut to the service's limit (patches/cloudformation.py)."""
    service, _operation = action.split(":", 1)
    if service == "iam" and "InstanceProfile" in action:
        return f"arn:{PARTITION}:iam::{account}:instance-profile/{generated_name('AWS::IAM::InstanceProfile', stack_name, logical_id, LAB_TAIL)}"
    if service == "iam":
        return f"arn:{PARTITION}:iam::{account}:role/{generated_name('AWS::IAM::Role', stack_name, logical_id, LAB_TAIL)}"
    if service == "autoscaling" and not action.startswith("autoscaling:Describe"):
        physical = generated_name("AWS::AutoScaling::AutoScalingGroup", stack_name, logical_id, LAB_TAIL)
        return _arn("autoscaling", region, account, f"autoScalingGroup:*:autoScalingGroupName/{physical}")
    return "*"


def passed_roles(template: Mapping[str, Any], stack_name: str, region: str, account: str) -> list[str]:
    return [on_behalf_resource("iam:PassRole", stack_name, logical, region, account)
            for logical, spec in ((template or {}).get("Resources") or {}).items() if spec.get("Type") in ROLE_RESOURCE_TYPES]


# --------------------------------------------------------------------------- the enforcer


class IamEnforcer:
    """Checks requests signed by IAM users of the lab account; off until ``enable()``."""

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self.enabled = False
        self.resolver = ResourceResolver(account_id)

    def enable(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def check(self, environ: Mapping[str, Any], body: bytes, service: str, action: str) -> None:
        """Raise AccessDenied when the caller is an IAM user whose policies do not allow the call."""
        if not self.enabled:
            return
        scope = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        if not scope:
            return
        caller = self._caller(scope.group(1))
        if caller is None:
            return
        request = Request(service=service, action=action, params=_params(environ, body), path=environ.get("PATH_INFO", "/"), region=scope.group(2))
        request.context.update(request_context(request))
        if request.iam_action == "sts:GetCallerIdentity":  # AWS answers it whatever the policies say
            return
        for resource in self.resolver.resources(request):
            self._require(caller, request.iam_action, resource, request.context)
        for action in implied_actions(request):
            for resource in self.resolver.resources(request):
                self._require(caller, action, resource, request.context)
        for role_arn in roles_passed_to_eks(request, body):
            self._require(caller, "iam:PassRole", role_arn, {})
        self._check_on_behalf(caller, request)

    def _require(self, caller: Caller, action: str, resource: str, context: Mapping[str, str], prefix: str = "") -> None:
        verdict = evaluate(caller.policies, action, resource, context)
        LOG.info("iam %s %s %s on %s%s", caller.user_name, verdict, action, resource, " (CloudFormation)" if prefix else "")
        if verdict != "Allow":
            message = prefix + denial_message(caller.arn, action, resource, verdict)
            service = action.split(":", 1)[0]
            code = "UnauthorizedOperation" if service == "ec2" and not prefix else "AccessDenied"
            if service == "ec2" and not prefix:
                message = f"You are not authorized to perform this operation. {message}"
            raise AccessDenied(code, message)

    def _caller(self, access_key_id: str) -> Optional[Caller]:
        from moto.iam.access_control import CreateAccessKeyFailure, IAMPolicy, IAMUserAccessKey  # pylint: disable=import-outside-toplevel
        try:
            key = IAMUserAccessKey(self.account_id, PARTITION, access_key_id, {})
        except CreateAccessKeyFailure:
            return None
        # pylint: disable=protected-access
        documents = tuple(IAMPolicy(policy)._policy_json for policy in key.collect_policies())
        return Caller(user_name=key._owner_user_name, arn=key.arn, policies=documents)

    # CloudFormation ------------------------------------------------------------------------------
    def _check_on_behalf(self, caller: Caller, request: Request) -> None:
        if request.service != "cloudformation" or request.action not in ("ExecuteChangeSet", "DeleteStack"):
            return
        backend = self.resolver._cfn_backend(request.region)  # pylint: disable=protected-access
        if request.action == "ExecuteChangeSet":
            try:
                change_set = backend.find_change_set(request.params.get("ChangeSetName", ""), request.params.get("StackName"))
            except Exception:  # moto answers the unknown change set itself
                return
            stack = backend.stacks.get(change_set.stack_id)
            if change_set.role_arn:
                return
            old = {} if change_set.change_set_type == "CREATE" or stack is None else stack.template_dict
            new = change_set.template_dict
            stack_name = change_set.stack_name if hasattr(change_set, "stack_name") else (stack.name if stack else "")
        else:
            stack = self.resolver._stack(request.region, request.params.get("StackName", "").split("/")[1]  # pylint: disable=protected-access
                                         if request.params.get("StackName", "").startswith("arn:") else request.params.get("StackName", ""))
            if stack is None or stack.role_arn or request.params.get("RoleARN"):
                return
            old, new, stack_name = stack.template_dict, None, stack.name
        self._check_operations(caller, request.region, stack_name, old, new)

    def _check_operations(self, caller: Caller, region: str, stack_name: str, old: Mapping[str, Any], new: Optional[Mapping[str, Any]]) -> None:
        roles = passed_roles(new or {}, stack_name, region, self.account_id)
        for logical, kind, operation in handler_operations(old, new):
            permissions = HANDLER_PERMISSIONS.get(kind, {})
            needed = list(permissions.get(operation, ())) + (list(permissions.get("read", ())) if operation != "delete" else [])
            for action in dict.fromkeys(needed):
                prefix = f"CloudFormation, acting with the caller's credentials (the stack has no service role), would fail {logical} ({kind}): "
                if action == "iam:PassRole":
                    for role in roles:
                        self._require(caller, action, role, {"iam:PassedToService": "ec2.amazonaws.com"}, prefix)
                    continue
                self._require(caller, action, on_behalf_resource(action, stack_name, logical, region, self.account_id), {}, prefix)


POD_IDENTITY_ACTIONS = ("CreatePodIdentityAssociation", "UpdatePodIdentityAssociation", "CreateAddon", "UpdateAddon")
NODE_ACCESS_ENTRY_TYPES = ("EC2_LINUX", "EC2_WINDOWS")


def roles_passed_to_eks(request: Request, body: bytes) -> list[str]:
    """The roles an EKS call hands to EKS, each needing iam:PassRole (the lab sets no iam:PassedToService for them, which
    AWS does not document):
    - to EKS Pod Identity: "The IAM principal that is creating the association must have iam:PassRole" (EKS user guide,
      "Configure a Kubernetes service account to assume an IAM role with EKS Pod Identity"), directly or through an
      add-on's podIdentityAssociations;
    - a node role given an EC2_LINUX or EC2_WINDOWS access entry: whoever creates the entry needs iam:PassRole on the
      role (EKS user guide, "Create access entries")."""
    if request.service != "eks" or request.action not in POD_IDENTITY_ACTIONS + ("CreateAccessEntry",):
        return []
    try:
        document = json.loads(body.decode("utf-8", "replace")) if body else {}
    except ValueError:
        return []
    if not isinstance(document, dict):
        return []
    if request.action == "CreateAccessEntry":
        node_role = document.get("type") in NODE_ACCESS_ENTRY_TYPES and isinstance(document.get("principalArn"), str)
        return [document["principalArn"]] if node_role else []
    roles = [document["roleArn"]] if request.action.endswith("PodIdentityAssociation") and isinstance(document.get("roleArn"), str) else []
    roles += [item["roleArn"] for item in document.get("podIdentityAssociations") or [] if isinstance(item, dict) and isinstance(item.get("roleArn"), str)]
    return roles


# IAM creates that take Tags, and the tagging action tagging in the same call also needs (IAM user guide, "Tagging IAM
# resources": to create a role with tags, you must have iam:CreateRole and iam:TagRole; likewise for the others).
TAGGING_CREATES = {
    "CreateRole": "iam:TagRole",
    "CreatePolicy": "iam:TagPolicy",
    "CreateInstanceProfile": "iam:TagInstanceProfile",
    "CreateOpenIDConnectProvider": "iam:TagOpenIDConnectProvider",
}


def request_tags(params: Mapping[str, str]) -> dict[str, str]:
    """The call's ``Tags.member.N.Key`` / ``.Value`` pairs, in N's order."""
    numbers = sorted(int(match.group(1)) for key in params if (match := re.fullmatch(r"Tags\.member\.(\d+)\.Key", key)))
    return {params[f"Tags.member.{n}.Key"]: params.get(f"Tags.member.{n}.Value", "") for n in numbers}


def implied_actions(request: Request) -> list[str]:
    """Further actions the call needs on the resources it addresses, with the same condition keys."""
    if request.service == "iam" and request.action in TAGGING_CREATES and request_tags(request.params):
        return [TAGGING_CREATES[request.action]]
    return []


def request_context(request: Request) -> dict[str, Any]:
    """The condition keys AWS sets from the call's own parameters (IAM service authorization reference)."""
    params = request.params
    if request.service != "iam":
        return {}
    if request.action in ("AttachRolePolicy", "DetachRolePolicy", "AttachUserPolicy", "DetachUserPolicy") and params.get("PolicyArn"):
        return {"iam:PolicyARN": params["PolicyArn"]}
    if request.action in ("TagRole", *TAGGING_CREATES):
        tags = request_tags(params)
        if request.action != "TagRole" and not tags:
            return {}
        return {"aws:TagKeys": list(tags), **{f"aws:RequestTag/{key}": value for key, value in tags.items()}}
    if request.action == "UntagRole":
        return {"aws:TagKeys": [value for key, value in sorted(params.items()) if re.fullmatch(r"TagKeys\.member\.\d+", key)]}
    return {}


def _params(environ: Mapping[str, Any], body: bytes) -> dict[str, str]:
    """The request's top-level parameters: query/form pairs, or a JSON body's string members."""
    params: dict[str, str] = {key: values[0] for key, values in parse_qs(environ.get("QUERY_STRING", "")).items()}
    text = body.decode("utf-8", "replace") if body else ""
    if text.lstrip().startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            document = {}
        params.update({key: value for key, value in document.items() if isinstance(value, str)} if isinstance(document, dict) else {})
    elif text:
        params.update({key: values[0] for key, values in parse_qs(text).items()})
    return params
