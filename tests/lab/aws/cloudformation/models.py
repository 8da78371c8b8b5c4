"""CloudFormation stack lifecycles as AWS runs them, on top of moto's templates and resource models.

Differences from moto 5.2.5's ``CloudFormationBackend`` (this subclass is registered in place of it):

* per-resource events for creates, updates (including rolling-update progress) and deletes;
* CAPABILITY_IAM / CAPABILITY_NAMED_IAM enforced (InsufficientCapabilitiesException);
* a resource that fails to create, or a failure armed with ``POST /_lab/stack-failure``, gives CREATE_FAILED
  events, a rollback and ROLLBACK_COMPLETE (or CREATE_FAILED with OnFailure=DO_NOTHING, or the stack deleted
  with OnFailure=DELETE);
* SSM-typed parameters are resolved up front by CreateChangeSet and UpdateStack, as AWS does on every create and
  update whether or not the template uses the value: a missing one is the ValidationError "Unable to fetch
  parameters [...]" of the call itself (moto failed in the middle of an update, or made a FAILED change set);
* an AWS::EC2::SecurityGroup whose Tags alone change is updated in place (``resources.py``; moto replaced it);
* UpdateStack and change sets see a change when the template, a parameter value, a resolved SSM value or the
  tags changed, and resources whose resolved properties changed because something they reference changed
  are updated too (moto only updates resources whose template text or referenced *parameters* changed);
* ChangeSetType omitted means UPDATE; CREATE on an existing stack is refused instead of creating a second
  stack of the same name; a change set without changes ends FAILED with AWS's reason; a CREATE change set
  produces a complete stack (outputs included) when executed, and executing one deletes the stack's others;
* updates are refused outside the states AWS allows them in; termination protection is enforced;
* an Auto Scaling group's AutoScalingRollingUpdate runs batch by batch in a background thread while the stack is
  UPDATE_IN_PROGRESS, PauseTime scaled by ``LAB_STATE.settings.rolling_pause_scale`` (moto: no rolling at all).
"""

from __future__ import annotations

import copy
import importlib
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Optional

from moto.cloudformation.exceptions import AlreadyExistsException, CloudFormationError, ValidationError
from moto.cloudformation.models import Change, ChangeSet, CloudFormationBackend, Stack
from moto.cloudformation.parsing import NULL_MODELS, OutputMap, ResourceMap, clean_json, get_model_map, parse_and_update_resource
from moto.cloudformation.utils import generate_changeset_id, generate_stack_id, validate_create_change_set
from moto.core.exceptions import ServiceException
from moto.core.utils import utcnow
from moto.ssm import ssm_backends
from werkzeug.exceptions import HTTPException

from lab.aws.cloudformation import events
from lab.aws.cloudformation import resources as resource_updates
from lab.aws.patches.autoscaling import PENDING_ROLL_ATTRIBUTE, run_roll
from lab.aws.patches.cloudformation import SSM_PREFIX, raw_parameter_values
from lab.aws.state import LAB_STATE, StackFailure

LOG = logging.getLogger("lab.aws.cloudformation")
resource_updates.install()
UPDATABLE_STATES = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE")
IAM_TYPES = ("AWS::IAM::AccessKey", "AWS::IAM::Group", "AWS::IAM::GroupPolicy", "AWS::IAM::InstanceProfile", "AWS::IAM::ManagedPolicy",
             "AWS::IAM::Policy", "AWS::IAM::Role", "AWS::IAM::RolePolicy", "AWS::IAM::User", "AWS::IAM::UserPolicy",
             "AWS::IAM::UserToGroupAddition")
IAM_NAME_PROPERTIES = {"AWS::IAM::Group": "GroupName", "AWS::IAM::InstanceProfile": "InstanceProfileName",
                       "AWS::IAM::ManagedPolicy": "ManagedPolicyName", "AWS::IAM::Role": "RoleName", "AWS::IAM::User": "UserName"}
NO_CHANGES = "The submitted information didn't contain changes. Submit different information to create a change set."
ON_FAILURE_VALUES = ("ROLLBACK", "DO_NOTHING", "DELETE")
RESOURCE_ERRORS = (ServiceException, HTTPException)
OPTIONS_ATTRIBUTE = "lab_options"  # kept on moto's ChangeSet


class InsufficientCapabilitiesException(CloudFormationError):
    """The template creates IAM resources and the caller did not acknowledge it."""

    code = "InsufficientCapabilitiesException"


class InvalidChangeSetStatusException(CloudFormationError):
    """The change set cannot be executed (it failed, or was executed already)."""

    code = "InvalidChangeSetStatus"


class ChangeSetNotFoundException(CloudFormationError):
    """No change set of that name or ARN."""

    code = "ChangeSetNotFound"


@dataclass
class ChangeSetOptions:
    """What CreateChangeSet carries that moto's ChangeSet does not keep."""

    capabilities: Optional[list[str]] = None
    on_failure: str = "ROLLBACK"
    resolved_tags: dict[str, str] = field(default_factory=dict)


def required_capability(template: dict[str, Any]) -> Optional[str]:
    """CAPABILITY_NAMED_IAM, CAPABILITY_IAM or None for a parsed template."""
    needed = None
    for body in (template.get("Resources") or {}).values():
        resource_type = body.get("Type")
        if resource_type not in IAM_TYPES:
            continue
        if IAM_NAME_PROPERTIES.get(resource_type) in (body.get("Properties") or {}):
            return "CAPABILITY_NAMED_IAM"
        needed = "CAPABILITY_IAM"
    return needed


def require_known_types(template: dict[str, Any], region: str) -> None:
    """ValidationError for resource types AWS does not have (moto would report CREATE_COMPLETE without creating anything).

    Types moto models are taken as known; the others are looked up in cfn-lint's resource schemas (loaded on first use).
    """
    if template.get("Transform"):
        return
    types = {str(body.get("Type")) for body in (template.get("Resources") or {}).values()}
    candidates = [name for name in types if not name.startswith("Custom::") and name not in get_model_map() and name not in NULL_MODELS]
    if not candidates:
        return
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER  # pylint: disable=import-outside-toplevel  # slow to import, rarely needed
    unknown = sorted(set(candidates) - set(PROVIDER_SCHEMA_MANAGER.get_resource_types(region)))
    if unknown:
        raise ValidationError(message=f"Template format error: Unrecognized resource types: [{', '.join(unknown)}]")


def require_capabilities(template: dict[str, Any], capabilities: Optional[list[str]]) -> None:
    """Raise InsufficientCapabilitiesException as AWS does; ``None`` means an internal caller (not checked)."""
    if capabilities is None:
        return
    needed = required_capability(template)
    if needed is None or needed in capabilities or (needed == "CAPABILITY_IAM" and "CAPABILITY_NAMED_IAM" in capabilities):
        return
    raise InsufficientCapabilitiesException(f"Requires capabilities : [{needed}]")


def record_options(stack: Stack, capabilities: Optional[list[str]], on_failure: Optional[str] = None) -> None:
    """What DescribeStacks reports about the last request: Capabilities, DisableRollback (moto keeps neither)."""
    setattr(stack, "capabilities", list(capabilities or []))
    if on_failure is not None:
        stack.disable_rollback = on_failure == "DO_NOTHING"


def require_ssm_parameters(template: dict[str, Any], parameters: dict[str, Any], account_id: str, region: str) -> None:
    """ValidationError when an SSM-typed parameter (the value given, else its Default) is not in Parameter Store.

    CloudFormation resolves every one of them on each create and update, with the caller's credentials, even when
    no resource uses the value (an Fn::If that picks another parameter, for example).
    """
    ssm = ssm_backends[account_id][region]
    values = raw_parameter_values(template, parameters)
    names = [values.get(key) for key, slot in (template.get("Parameters") or {}).items() if str(slot.get("Type", "")).startswith(SSM_PREFIX)]
    missing = [name for name in names if name is not None and (not name or ssm.get_parameter(name) is None)]
    if missing:
        raise ValidationError(message=f"Unable to fetch parameters [{','.join(missing)}] from parameter store for this account.")


def ensure_updatable(stack: Stack) -> None:
    if stack.status not in UPDATABLE_STATES:
        raise ValidationError(message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")


def _error_message(error: Exception) -> str:
    return str(getattr(error, "message", None) or error)


def update_parameter_values(stack: Stack, incoming: list[dict[str, Any]]) -> dict[str, Any]:
    """UpdateStack/CreateChangeSet parameters as raw values; UsePreviousValue takes the value the stack has now."""
    previous = raw_parameter_values(stack.template_dict, stack.resource_map.input_parameters)
    values = {}
    for parameter in incoming:
        key = parameter["ParameterKey"]
        if parameter.get("UsePreviousValue"):
            if previous.get(key) is None:
                raise ValidationError(message=f"Invalid input for parameter key {key}. Cannot specify usePreviousValue as true for a "
                                              "parameter key not in the previous template")
            values[key] = previous[key]
        else:
            values[key] = parameter.get("ParameterValue", "")
    return values


def referenced_ids(node: Any) -> set[str]:
    """Names a template fragment refers to through Ref, Fn::GetAtt and Fn::Sub."""
    if isinstance(node, list):
        return set().union(*(referenced_ids(item) for item in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found: set[str] = set()
    for key, value in node.items():
        if key == "Ref" and isinstance(value, str):
            found.add(value)
        elif key == "Fn::GetAtt":
            found.add(value[0] if isinstance(value, list) else str(value).split(".", 1)[0])
        elif key == "Fn::Sub":
            text = value[0] if isinstance(value, list) else value
            found |= {name.split(".", 1)[0] for name in re.findall(r"\$\{([^}!][^}]*)\}", str(text))}
            found |= referenced_ids(value[1:] if isinstance(value, list) else [])
        else:
            found |= referenced_ids(value)
    return found


def attribute_ids(node: Any) -> set[str]:
    """Resources a template fragment reads an attribute of (Fn::GetAtt, ${Name.Attribute} in Fn::Sub)."""
    if isinstance(node, list):
        return set().union(*(attribute_ids(item) for item in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found: set[str] = set()
    for key, value in node.items():
        if key == "Fn::GetAtt":
            found.add(value[0] if isinstance(value, list) else str(value).split(".", 1)[0])
        elif key == "Fn::Sub":
            text = value[0] if isinstance(value, list) else value
            found |= {name.split(".", 1)[0] for name in re.findall(r"\$\{([^}!][^}]*)\}", str(text)) if "." in name}
            found |= attribute_ids(value[1:] if isinstance(value, list) else [])
        else:
            found |= attribute_ids(value)
    return found


def _resolved_properties(resource_map: ResourceMap, template: dict[str, Any]) -> dict[str, Any]:
    """Each created resource's properties with intrinsic functions resolved against ``resource_map``."""
    parsed = resource_map._parsed_resources  # pylint: disable=protected-access
    resolved = {}
    for logical_id, body in (template.get("Resources") or {}).items():
        if logical_id in parsed:
            try:
                resolved[logical_id] = clean_json(copy.deepcopy(body.get("Properties") or {}), resource_map)
            except (KeyError, ValueError, TypeError, AttributeError):
                resolved[logical_id] = None
    return resolved


class LabCloudFormationBackend(CloudFormationBackend):
    """moto's CloudFormation with AWS's stack lifecycle (see the module docstring)."""

    @property
    def _url_module(self) -> ModuleType:
        return importlib.import_module("lab.aws.cloudformation.urls")  # imported late: the routes import the responses, which import this module

    def active_stack(self, name_or_id: str) -> Optional[Stack]:
        for stack in self.stacks.values():
            if name_or_id in (stack.name, stack.stack_id):
                return stack
        return None

    # create -------------------------------------------------------------------------------------------
    def create_stack(  # pylint: disable=too-many-arguments
        self,
        name: str,
        template: str,
        parameters: dict[str, Any],
        notification_arns: Optional[list[str]] = None,
        tags: Optional[dict[str, str]] = None,
        role_arn: Optional[str] = None,
        enable_termination_protection: Optional[bool] = False,
        timeout_in_mins: Optional[int] = None,
        stack_policy_body: Optional[str] = None,
        *,
        capabilities: Optional[list[str]] = None,
        on_failure: str = "ROLLBACK",
    ) -> Stack:
        if self.active_stack(name) is not None:
            raise AlreadyExistsException(f"Stack [{name}] already exists")
        require_known_types(Stack.parse_template(template), self.region_name)
        require_capabilities(Stack.parse_template(template), capabilities)
        stack = Stack(stack_id=generate_stack_id(name, self.region_name, self.account_id), name=name, template=template,  # type: ignore[abstract]
                      parameters=parameters, account_id=self.account_id, region_name=self.region_name,
                      notification_arns=notification_arns, tags=tags, role_arn=role_arn, cross_stack_resources=self.exports,
                      enable_termination_protection=enable_termination_protection, timeout_in_mins=timeout_in_mins,
                      stack_policy_body=stack_policy_body)
        self.stacks[stack.stack_id] = stack
        record_options(stack, capabilities, on_failure)
        events.stack_event(stack, "CREATE_IN_PROGRESS", "User Initiated")
        self._create_resources(stack, on_failure)
        return stack

    def _create_resources(self, stack: Stack, on_failure: str) -> None:
        stack.status = "CREATE_IN_PROGRESS"
        try:
            stack.resource_map.create(stack.template_dict)
        except KeyError as error:
            self._discard(stack)
            raise ValidationError(message=f"Template format error: Unresolved resource dependencies [{error.args[0]}] "
                                          "in the Resources block of the template") from error
        except RESOURCE_ERRORS as error:
            failed = self._first_uncreated(stack)
            self._fail_creation(stack, StackFailure(stack.name, failed, None, _error_message(error)), on_failure)
            return
        stack.description = stack.template_dict.get("Description")
        stack.output_map = stack._create_output_map()  # pylint: disable=protected-access
        armed = LAB_STATE.take_stack_failure(stack.name)
        if armed is not None:
            self._fail_creation(stack, armed, on_failure)
            return
        events.completed(stack, events.created_resources(stack), "CREATE")
        for export in stack.exports:
            self.exports[export.name] = export
        stack.status = "CREATE_COMPLETE"
        events.stack_event(stack, "CREATE_COMPLETE")

    def _discard(self, stack: Stack) -> None:
        try:
            stack.resource_map.delete()
        except RESOURCE_ERRORS:
            pass  # best effort: AWS would not have created anything for a template error
        self.stacks.pop(stack.stack_id, None)

    @staticmethod
    def _first_uncreated(stack: Stack) -> Optional[str]:
        parsed = stack.resource_map._parsed_resources  # pylint: disable=protected-access
        return next((logical_id for logical_id in (stack.template_dict.get("Resources") or {}) if logical_id not in parsed), None)

    def _fail_creation(self, stack: Stack, failure: StackFailure, on_failure: str) -> None:
        """CREATE_FAILED on the failing resource, then the rollback (or not) that ``on_failure`` asks for."""
        started = events.created_resources(stack)
        ids = [resource.logical_id for resource in started]
        target = failure.logical_id if failure.logical_id in ids else (ids[-1] if ids else failure.logical_id or stack.name)
        if target not in ids:
            started.append(events.ResourceRef(target, failure.resource_type or "AWS::CloudFormation::CustomResource", ""))
            ids.append(target)
        started = started[:ids.index(target) + 1]
        events.completed(stack, started[:-1], "CREATE")
        events.resource_event(stack, started[-1], "CREATE_IN_PROGRESS")
        events.resource_event(stack, started[-1], "CREATE_FAILED", failure.reason)
        summary = f"The following resource(s) failed to create: [{target}]. "
        if on_failure == "DO_NOTHING":
            stack.status = "CREATE_FAILED"
            events.stack_event(stack, "CREATE_FAILED", summary)
            return
        stack.status = "ROLLBACK_IN_PROGRESS"
        events.stack_event(stack, "ROLLBACK_IN_PROGRESS", summary + "Rollback requested by user.")
        stack.resource_map.delete()
        events.deleted(stack, started)
        stack.resource_map._resource_json_map = {}  # pylint: disable=protected-access  # nothing left to describe or re-create
        stack.output_map = OutputMap(stack.resource_map, {}, stack.stack_id)
        stack.status = "ROLLBACK_COMPLETE"
        events.stack_event(stack, "ROLLBACK_COMPLETE")
        if on_failure == "DELETE":
            self.delete_stack(stack.stack_id)

    # update -------------------------------------------------------------------------------------------
    def has_changes(self, stack: Stack, template: str, parameters: dict[str, Any], tags: Optional[dict[str, str]]) -> bool:
        """Whether an update would change anything: template, parameter values, resolved SSM values or tags."""
        new_template = Stack.parse_template(template)
        if new_template != stack.template_dict:
            return True
        if tags is not None and tags != stack.tags:
            return True
        new_values = raw_parameter_values(new_template, parameters)
        if new_values != raw_parameter_values(stack.template_dict, stack.resource_map.input_parameters):
            return True
        return bool(self._changed_ssm_parameters(stack, new_template, parameters))

    def update_stack(  # pylint: disable=too-many-arguments
        self,
        name: str,
        template: str,
        role_arn: Optional[str],
        parameters: list[dict[str, Any]],
        tags: Optional[dict[str, str]],
        *,
        capabilities: Optional[list[str]] = None,
    ) -> Stack:
        stack = self.get_stack(name)
        ensure_updatable(stack)
        require_known_types(Stack.parse_template(template), self.region_name)
        require_capabilities(Stack.parse_template(template), capabilities)
        values = update_parameter_values(stack, parameters)
        require_ssm_parameters(Stack.parse_template(template), values, self.account_id, self.region_name)
        if not self.has_changes(stack, template, values, tags):
            raise ValidationError(stack.name, message="No updates are to be performed.")
        record_options(stack, capabilities)
        self._apply_update(stack, template, values, tags, role_arn)
        return stack

    def _apply_update(self, stack: Stack, template: str, parameters: dict[str, Any], tags: Optional[dict[str, str]],
                      role_arn: Optional[str]) -> None:
        events.stack_event(stack, "UPDATE_IN_PROGRESS", "User Initiated")
        stack.status = "UPDATE_IN_PROGRESS"
        new_template = Stack.parse_template(template)
        resource_map = stack.resource_map
        diff = resource_map.build_resource_diff(new_template, parameters)
        removed = [events.ref_of(stack, logical_id) for logical_id in diff["Remove"]]
        before = _resolved_properties(resource_map, stack.template_dict)
        for logical_id in diff["Modify"]:
            resource_updates.remember_declared_tags(resource_map._parsed_resources.get(logical_id), before.get(logical_id))  # pylint: disable=protected-access
        stack.template = template
        stack._parse_template()  # pylint: disable=protected-access
        # AWS: DescribeStacks gives the current template's Description (moto kept the first one).
        stack.description = stack.template_dict.get("Description")
        resource_map.update(stack.template_dict, parameters)
        modified = list(diff["Modify"]) + self._update_dependents(resource_map, stack.template_dict, before, set(diff["Add"]) | set(diff["Modify"]))
        stack.output_map = stack._create_output_map()  # pylint: disable=protected-access
        rolling = [ref for ref in (events.ref_of(stack, logical_id) for logical_id in modified)
                   if getattr(ref.model, PENDING_ROLL_ATTRIBUTE, None) is not None]
        rolling_ids = {ref.logical_id for ref in rolling}
        events.completed(stack, [events.ref_of(stack, logical_id) for logical_id in diff["Add"]], "CREATE")
        events.completed(stack, [events.ref_of(stack, logical_id) for logical_id in modified if logical_id not in rolling_ids], "UPDATE")
        stack.role_arn = role_arn
        if parameters:
            stack.parameters = parameters
        if tags is not None:
            stack.tags = tags
        for export in stack.exports:
            self.exports[export.name] = export
        if not rolling:
            self._complete_update(stack, removed)
            return
        for ref in rolling:
            events.resource_event(stack, ref, "UPDATE_IN_PROGRESS")
        threading.Thread(target=self._roll_then_complete, args=(stack, rolling, removed), name=f"rolling-update-{stack.name}", daemon=True).start()

    @staticmethod
    def _complete_update(stack: Stack, removed: list[events.ResourceRef]) -> None:
        events.stack_event(stack, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
        events.deleted(stack, removed)
        setattr(stack, "last_updated_time", utcnow())
        stack.status = "UPDATE_COMPLETE"
        events.stack_event(stack, "UPDATE_COMPLETE")

    def _roll_then_complete(self, stack: Stack, rolling: list[events.ResourceRef], removed: list[events.ResourceRef]) -> None:
        """The Auto Scaling groups' rolling updates, batch by batch with PauseTime scaled by the lab, while the stack is
        UPDATE_IN_PROGRESS; then the rest of the update."""
        def pause(seconds: float) -> bool:
            time.sleep(seconds * LAB_STATE.settings.rolling_pause_scale)
            return stack.status == "UPDATE_IN_PROGRESS" and stack.stack_id in self.stacks
        try:
            for ref in rolling:
                policy = getattr(ref.model, PENDING_ROLL_ATTRIBUTE)
                setattr(ref.model, PENDING_ROLL_ATTRIBUTE, None)
                run_roll(ref.model, policy, lambda message, ref=ref: events.resource_event(stack, ref, "UPDATE_IN_PROGRESS", message), pause)
                if stack.stack_id not in self.stacks:
                    return  # deleted meanwhile
                events.resource_event(stack, ref, "UPDATE_COMPLETE")
        except Exception as error:  # pylint: disable=broad-except  # a lab bug must not leave the stack in progress for ever
            LOG.exception("rolling update of stack %s failed", stack.name)
            stack.status = "UPDATE_ROLLBACK_FAILED"
            events.stack_event(stack, "UPDATE_ROLLBACK_FAILED", f"Rolling update failed in the lab: {error}")
            return
        self._complete_update(stack, removed)

    def _update_dependents(self, resource_map: ResourceMap, template: dict[str, Any], before: dict[str, Any], handled: set[str]) -> list[str]:
        """Update resources whose resolved properties changed because a resource or value they reference changed."""
        updated: list[str] = []
        resources = template.get("Resources") or {}
        for _round in range(len(resources)):
            after = _resolved_properties(resource_map, template)
            changed = [logical_id for logical_id in resources if logical_id in before and logical_id in after
                       and logical_id not in handled and logical_id not in updated and after[logical_id] != before[logical_id]]
            if not changed:
                break
            for logical_id in changed:
                model = parse_and_update_resource(logical_id, resources[logical_id], resource_map, account_id=self.account_id,
                                                  region_name=self.region_name)
                if model is not None:
                    resource_map._parsed_resources[logical_id] = model  # pylint: disable=protected-access
                updated.append(logical_id)
        return updated

    # delete -------------------------------------------------------------------------------------------
    def update_termination_protection(self, name_or_id: str, enabled: bool) -> Stack:
        stack = self.get_stack(name_or_id)
        stack.enable_termination_protection = enabled
        return stack

    def delete_stack(self, name_or_stack_id: str) -> None:
        stack = self.active_stack(name_or_stack_id)
        if stack is None:
            return
        if stack.enable_termination_protection:
            raise ValidationError(message=f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled")
        resources = events.created_resources(stack) if stack.template_dict else []
        retained = [logical_id for logical_id, body in (stack.template_dict.get("Resources") or {}).items()
                    if body.get("DeletionPolicy") == "Retain"]
        events.stack_event(stack, "DELETE_IN_PROGRESS", "User Initiated")
        stack.resource_map.delete()
        events.deleted(stack, resources, retained)
        stack.status = "DELETE_COMPLETE"
        events.stack_event(stack, "DELETE_COMPLETE")
        self.stacks.pop(stack.stack_id, None)
        self.deleted_stacks[stack.stack_id] = stack
        for export_name in [name for name, export in self.exports.items() if export.exporting_stack_id == stack.stack_id]:
            self.exports.pop(export_name)
        for change_set_id in [key for key, change_set in self.change_sets.items() if change_set.stack_id == stack.stack_id]:
            self.change_sets.pop(change_set_id)

    # change sets --------------------------------------------------------------------------------------
    def create_change_set(  # pylint: disable=too-many-arguments,too-many-locals
        self,
        stack_name: str,
        change_set_name: str,
        template: str,
        parameters: dict[str, str],
        description: str,
        change_set_type: str,
        notification_arns: Optional[list[str]] = None,
        tags: Optional[dict[str, str]] = None,
        role_arn: Optional[str] = None,
        *,
        options: Optional[ChangeSetOptions] = None,
    ) -> tuple[str, str]:
        options = options or ChangeSetOptions()
        validate_create_change_set(change_set_name)
        template_dict = Stack.parse_template(template)
        require_known_types(template_dict, self.region_name)
        require_capabilities(template_dict, options.capabilities)
        require_ssm_parameters(template_dict, parameters, self.account_id, self.region_name)
        stack = self._change_set_stack(stack_name, change_set_name, change_set_type, parameters, notification_arns, tags, role_arn)
        change_set_id = generate_changeset_id(change_set_name, self.region_name, self.account_id)
        change_set = ChangeSet(change_set_type=change_set_type, change_set_id=change_set_id, change_set_name=change_set_name,
                               stack=stack, template=template, parameters=parameters, description=description,
                               notification_arns=notification_arns, tags=tags, role_arn=role_arn)
        setattr(change_set, OPTIONS_ATTRIBUTE, options)
        change_set.status, change_set.execution_status = "CREATE_COMPLETE", "AVAILABLE"
        problem = self._change_set_problem(stack, change_set_type, template, template_dict, parameters, tags)
        if problem:
            change_set.status, change_set.execution_status, change_set.status_reason = "FAILED", "UNAVAILABLE", problem
        elif change_set_type == "UPDATE":
            change_set.changes = self._planned_changes(stack, template_dict, parameters)
        self.change_sets[change_set.change_set_id] = change_set
        return change_set.change_set_id, stack.stack_id

    def _change_set_stack(self, stack_name: str, change_set_name: str, change_set_type: str, parameters: dict[str, str],
                          notification_arns: Optional[list[str]], tags: Optional[dict[str, str]], role_arn: Optional[str]) -> Stack:
        existing = self.active_stack(stack_name)
        if change_set_type == "UPDATE":
            if existing is None:
                raise ValidationError(message=f"Stack [{stack_name}] does not exist")
            ensure_updatable(existing)
            return existing
        if change_set_type != "CREATE":
            raise ValidationError(message=f"ChangeSetType {change_set_type} is not supported by the lab (CREATE or UPDATE)")
        if existing is not None and existing.status != "REVIEW_IN_PROGRESS":
            raise ValidationError(message=f"Stack [{stack_name}] already exists and cannot be created again with the changeSet "
                                          f"[{change_set_name}].")
        if existing is not None:
            return existing
        stack = Stack(stack_id=generate_stack_id(stack_name, self.region_name, self.account_id), name=stack_name, template={},  # type: ignore[abstract]
                      parameters=parameters, account_id=self.account_id, region_name=self.region_name, notification_arns=notification_arns,
                      tags=tags, role_arn=role_arn)
        self.stacks[stack.stack_id] = stack
        stack.status = "REVIEW_IN_PROGRESS"
        events.stack_event(stack, "REVIEW_IN_PROGRESS", "User Initiated")
        return stack

    def _planned_changes(self, stack: Stack, template: dict[str, Any], parameters: dict[str, Any]) -> list[Change]:
        """Add/Modify/Remove per resource: moto's diff, plus resources using a re-resolved SSM value or a modified resource."""
        diff = stack.resource_map.build_resource_diff(template, parameters)
        resources = template.get("Resources") or {}
        modified = set(diff["Modify"]) | {logical_id for logical_id, body in resources.items()
                                          if referenced_ids(body) & self._changed_ssm_parameters(stack, template, parameters)}
        old = stack.template_dict.get("Resources") or {}
        while True:
            # A Ref (the physical ID) changes only when the resource may be replaced; an attribute may change on any update.
            replaced = {logical_id for logical_id in modified if resource_updates.may_be_replaced(old.get(logical_id), resources.get(logical_id))}
            more = {logical_id for logical_id, body in resources.items()
                    if logical_id not in modified and logical_id not in diff["Add"]
                    and (referenced_ids(body) & replaced or attribute_ids(body) & modified)}
            if not more:
                break
            modified |= more
        changes = [Change("Add", logical_id, resources[logical_id]["Type"]) for logical_id in diff["Add"]]
        changes += [Change("Modify", logical_id, resources[logical_id]["Type"]) for logical_id in resources if logical_id in modified]
        return changes + [Change("Remove", logical_id, old[logical_id]["Type"]) for logical_id in diff["Remove"]]

    def _changed_ssm_parameters(self, stack: Stack, template: dict[str, Any], parameters: dict[str, Any]) -> set[str]:
        """SSM-typed parameters whose value in Parameter Store is not the one the stack resolved last time."""
        ssm = ssm_backends[self.account_id][self.region_name]
        values = raw_parameter_values(template, parameters)
        changed = set()
        for key, slot in (template.get("Parameters") or {}).items():
            name = values.get(key)
            if not (str(slot.get("Type", "")).startswith(SSM_PREFIX) and name):
                continue
            parameter = ssm.get_parameter(name)
            current = stack.resource_map.resolved_parameters.get(key)
            if parameter is not None and parameter.value != (",".join(current) if isinstance(current, list) else current):
                changed.add(key)
        return changed

    def _change_set_problem(self, stack: Stack, change_set_type: str, template: str, template_dict: dict[str, Any],
                            parameters: dict[str, str], tags: Optional[dict[str, str]]) -> Optional[str]:
        """Why the change set ends FAILED (parameters that do not resolve, or no changes), or None."""
        trial = ResourceMap(stack.stack_id, stack.name, parameters, tags or {}, region_name=self.region_name, account_id=self.account_id,
                            template=template_dict, cross_stack_resources=self.exports)
        try:
            trial.load()
        except CloudFormationError as error:
            return _error_message(error)
        if change_set_type == "UPDATE" and not self.has_changes(stack, template, parameters, tags or None):
            return NO_CHANGES
        return None

    def find_change_set(self, name_or_id: str, stack_name: Optional[str] = None) -> ChangeSet:
        """A change set by ARN, or by name within the named stack (the newest of that name without a stack)."""
        if name_or_id in self.change_sets:
            return self.change_sets[name_or_id]
        stack = self.active_stack(stack_name) if stack_name else None
        matches = [item for item in self.change_sets.values()
                   if item.change_set_name == name_or_id and (stack is None or item.stack_id == stack.stack_id)]
        if not matches:
            raise ChangeSetNotFoundException(f"ChangeSet [{name_or_id}] does not exist")
        return matches[-1]

    def describe_change_set(self, change_set_name: str) -> ChangeSet:
        return self.find_change_set(change_set_name)

    def delete_change_set(self, change_set_name: str) -> None:
        self.change_sets.pop(self.find_change_set(change_set_name).change_set_id, None)

    def execute_change_set(self, change_set_name: str, stack_name: Optional[str] = None, *, disable_rollback: bool = False) -> None:
        change_set = self.find_change_set(change_set_name, stack_name)
        if change_set.execution_status != "AVAILABLE":
            raise InvalidChangeSetStatusException(f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current status of "
                                                  f"[{change_set.status}]")
        options: ChangeSetOptions = getattr(change_set, OPTIONS_ATTRIBUTE, ChangeSetOptions())
        stack = self.stacks[change_set.stack_id]
        change_set.execution_status = "EXECUTE_IN_PROGRESS"
        if change_set.change_set_type == "CREATE":
            self._execute_creation(stack, change_set, "DO_NOTHING" if disable_rollback else options.on_failure)
        else:
            ensure_updatable(stack)
            self._apply_update(stack, change_set.template, change_set.parameters, change_set.tags or None, change_set.role_arn)
        change_set.execution_status = "EXECUTE_COMPLETE"
        for other in [key for key, item in self.change_sets.items() if item.stack_id == stack.stack_id and item is not change_set]:
            self.change_sets.pop(other)

    def _execute_creation(self, placeholder: Stack, change_set: ChangeSet, on_failure: str) -> None:
        stack = Stack(stack_id=placeholder.stack_id, name=placeholder.name,  # type: ignore[abstract]
                      template=change_set.template, parameters=change_set.parameters, account_id=self.account_id,
                      region_name=self.region_name, notification_arns=change_set.notification_arns, tags=change_set.tags,
                      role_arn=change_set.role_arn, cross_stack_resources=self.exports)
        stack.events = placeholder.events
        stack.creation_time = placeholder.creation_time
        record_options(stack, getattr(change_set, OPTIONS_ATTRIBUTE, ChangeSetOptions()).capabilities, on_failure)
        self.stacks[stack.stack_id] = stack
        change_set.stack = stack
        events.stack_event(stack, "CREATE_IN_PROGRESS", "User Initiated")
        self._create_resources(stack, on_failure)
