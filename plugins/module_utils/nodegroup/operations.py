# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Bringing the node group stack to the desired state, through change sets, with a bounded wait.

The sequence for state=present:

1. describe the stack; refuse it, before any change, when it is not this node group's (ownership.py);
   wait (bounded) for a running operation to settle, and check the settled stack again;
2. a stack left unusable by a failed create (ROLLBACK_COMPLETE, ...) is deleted and created again
   only when recover_failed is set; otherwise the error names the earlier failure's root cause;
3. compare the deployed template, parameters and tags with the desired ones: when equal, nothing
   is written (a describe of the stack and one of its template);
4. create a change set with an explicit ChangeSetType (CREATE or UPDATE) and describe it; an empty
   one is deleted and reported unchanged; in check mode the change set (and the stack in review a
   CREATE change set makes) is deleted and the changes are reported;
5. execute it and wait for the stack, collecting the events of this operation; on failure, the
   failed resources' events and the first root cause.

Every create and update writes the marker tags; state=absent checks ownership the same way. A change
set that vanishes or can no longer run, or a stack created or changed under us between our calls, is
another run at work: ConcurrentRunError says so instead of CloudFormation's raw error.
"""

import re
import time
import uuid
from typing import Any, Callable, Dict, List, Mapping, Optional

from . import changes as change_logic
from . import events as event_logic
from . import ownership as ownership_logic
from . import stacks
from . import transformations
from .common import CloudFormationError, error_code, error_message
from .failures import StackOperationError, failure_error, timeout_error
from .template import names_this_template
from .waiters import REVIEW_STATUS, UNUSABLE_STATUSES, Deadline, WaitTimeout, is_settled, wait_for_change_set, wait_for_stack


# present()'s stack argument when the caller did not read the stack.
UNREAD = object()


class ConcurrentRunError(StackOperationError):
    """Another run changed the stack between two of our calls."""


# CloudFormation's answers when another run got in between: the change set is gone or obsolete, the stack
# was created or deleted meanwhile, or it is busy with another operation. ValidationError also says "does not
# exist" of parameter values, so only the messages about the stack itself count.
CONCURRENT_CODES = ("ChangeSetNotFound", "InvalidChangeSetStatus", "AlreadyExistsException", "OperationInProgressException")
CONCURRENT_STACK_MESSAGE = re.compile(r"^Stack\b.*(already exists|does not exist|state and can ?not be updated)")


def is_concurrent_change(error: Exception) -> bool:
    code = error_code(error)
    if code in CONCURRENT_CODES:
        return True
    return code == "ValidationError" and bool(CONCURRENT_STACK_MESSAGE.search(error_message(error)))


class DesiredStack:
    """What the stack should be: template source, parameters (strings), tags and capabilities."""

    def __init__(
        self,
        parameters: Mapping[str, str],
        template_body: Optional[str] = None,
        template_url: Optional[str] = None,
        tags: Optional[Mapping[str, Any]] = None,
        purge_tags: bool = True,
        capabilities: Optional[List[str]] = None,
        list_parameters: tuple = (),
        marker: Optional[Mapping[str, str]] = None,
        keep_deployed: tuple = (),
        builtin_template: bool = False,
    ):
        """keep_deployed: parameters that keep the deployed stack's value when they are desired empty.
        builtin_template: template_body is the collection's TEMPLATE (a stack described as running it is not read)."""
        self.parameters = dict(parameters)
        self.keep_deployed = tuple(keep_deployed)
        self.marker = dict(marker or {})
        self.template_body = template_body
        self.template_url = template_url
        self.tags = tags
        self.purge_tags = purge_tags
        self.capabilities = list(capabilities or ["CAPABILITY_IAM"])
        self.list_parameters = tuple(list_parameters)
        self.builtin_template = builtin_template

    def runs_template(self, stack: Mapping[str, Any]) -> bool:
        """Whether the stack's Description says it runs the collection's template, which template_body is."""
        return self.builtin_template and names_this_template(stack.get("Description"))

    def keep(self, deployed: Mapping[str, str]) -> None:
        """Take the deployed value of the keep_deployed parameters that are desired empty."""
        for name in self.keep_deployed:
            if name in self.parameters and not self.parameters[name] and deployed.get(name):
                self.parameters[name] = deployed[name]

    def template_source(self) -> Dict[str, str]:
        if self.template_url:
            return {"TemplateURL": self.template_url}
        return {"TemplateBody": self.template_body or ""}

    def stack_tags(self, current: Mapping[str, str]) -> Optional[Dict[str, str]]:
        """The stack tags to send (the marker always), or None to leave them as they are."""
        wanted = change_logic.desired_tags(current, self.tags, self.purge_tags)
        if not self.marker:
            return wanted
        wanted = dict(current) if wanted is None else wanted
        wanted.update(self.marker)
        return wanted


def request_token(prefix: str = "eksnodes") -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def started(stack_id: str, after_event_id: Optional[str], client_request_token: Optional[str]) -> Dict[str, Any]:
    """Where a later wait takes up an operation started without waiting (the result's started key)."""
    return {"stack_id": stack_id, "after_event_id": after_event_id, "client_request_token": client_request_token}


class NodegroupStack:
    """One stack, driven by change sets; every call is a retrying wrapper from stacks.py."""

    def __init__(
        self,
        cloudformation,
        autoscaling,
        stack_name: str,
        deadline: Deadline,
        check_mode: bool = False,
        wait: bool = True,
        recover_failed: bool = False,
        role_arn: Optional[str] = None,
        on_event: Optional[Callable[[Dict[str, Any]], None]] = None,
        pause: Callable[[float], None] = time.sleep,
        owner: Optional[Mapping[str, Optional[str]]] = None,
        preview_changes: bool = True,
        undrained_scale_in: bool = False,
    ):
        """owner: the expected cluster_name and nodegroup_name; a stack that is not theirs is refused (None: not checked).
        preview_changes: in check mode, compute the resource changes with a change set (which CloudFormation records,
        and for a new stack a REVIEW_IN_PROGRESS stack, both deleted after); without it, check mode writes nothing."""
        self.preview_changes = preview_changes
        self.undrained_scale_in = undrained_scale_in
        self.cloudformation = cloudformation
        self.autoscaling = autoscaling
        self.stack_name = stack_name
        self.deadline = deadline
        self.check_mode = check_mode
        self.wait = wait
        self.recover_failed = recover_failed
        self.role_arn = role_arn
        self.on_event = on_event
        self.pause = pause
        self.owner = owner
        self.events: List[Dict[str, Any]] = []
        self.warnings: List[str] = []

    # events and waiting -----------------------------------------------------------------------------
    def _collector(self, stack_ref: str, after_event_id: Optional[str]) -> Callable[[], List[Dict[str, Any]]]:
        state = {"after": after_event_id}

        def new_events() -> List[Dict[str, Any]]:
            raw = stacks.stack_events_since(self.cloudformation, stack_ref, state["after"])
            if raw:
                state["after"] = raw[-1].get("EventId")
            found = [event_logic.event_facts(event) for event in raw]
            for event in found:
                self.events.append(event)
                if self.on_event is not None:
                    self.on_event(event)
            return found

        return new_events

    def _wait(self, stack_ref: str, after_event_id: Optional[str], done=None, what: str = "operation") -> Optional[Dict[str, Any]]:
        kwargs = {"done": done} if done is not None else {}
        try:
            return wait_for_stack(
                lambda: stacks.describe_stack(self.cloudformation, stack_ref),
                self._collector(stack_ref, after_event_id),
                self.deadline,
                pause=self.pause,
                **kwargs,
            )
        except WaitTimeout as error:
            raise timeout_error(self.stack_name, what, self.deadline.seconds, error.last, self.events) from error

    def _settle(self, stack: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """Wait for an operation someone else started; returns the settled stack (None if it went away)."""
        status = stack.get("StackStatus")
        if is_settled(status):
            return stack
        if not self.wait:
            raise StackOperationError(
                f"Stack {self.stack_name} is {status}: another operation is running on it (another run is changing it). "
                "Wait for it to finish and run the task again, or set wait=true to wait for it",
                stack_status=status,
                concurrent_run=True,
            )
        after = stacks.newest_event_id(self.cloudformation, stack["StackId"])
        settled = self._wait(stack["StackId"], after, done=is_settled, what=f"operation already running ({status})")
        if settled and settled.get("StackStatus") == "DELETE_COMPLETE":
            return None
        return settled

    def _failure(self, stack: Optional[Dict[str, Any]], operation: str, events: List[Dict[str, Any]]) -> StackOperationError:
        return failure_error(self.stack_name, operation, stack, events, self.events)

    def _previous_failure(self, stack: Dict[str, Any]) -> Dict[str, Any]:
        """The status of a failed stack, the failed events of its last operation and their root cause."""
        raw = stacks.stack_events_since(self.cloudformation, stack["StackId"], None, limit=500)
        previous = event_logic.last_operation([event_logic.event_facts(event) for event in raw])
        return {"stack_status": stack["StackStatus"], "failure_events": event_logic.failed_events(previous),
                "root_cause": event_logic.root_cause(previous)}

    # ownership and other runs -------------------------------------------------------------------------
    def _require_owned(self, stack: Optional[Dict[str, Any]], action: str) -> None:
        if stack is None or self.owner is None:
            return
        found = ownership_logic.stack_ownership(stack, self.owner.get("cluster_name"), self.owner.get("nodegroup_name"))
        if not found["owned"]:
            raise StackOperationError(ownership_logic.refusal_message(self.stack_name, found, action), changed=False, ownership=found)

    def _concurrent(self, what: str, stack_ref: Optional[str] = None) -> ConcurrentRunError:
        """The error for another run at work on the stack, with the stack's status now."""
        try:
            stack = stacks.describe_stack(self.cloudformation, stack_ref or self.stack_name)
        except CloudFormationError:
            stack = None
        status = (stack or {}).get("StackStatus") or "gone"
        return ConcurrentRunError(
            f"Another run is changing stack {self.stack_name} (status {status}): {what}. Wait for it to finish and run "
            "this task again; nothing of this run was applied",
            concurrent_run=True,
            stack_status=(stack or {}).get("StackStatus"),
            changed=False,
        )

    # reading ------------------------------------------------------------------------------------------
    def instances(self, stack: Optional[Dict[str, Any]]) -> List[Dict[str, Any]]:
        if not stack or self.autoscaling is None:
            return []
        name = transformations.autoscaling_group_name(stack)
        if name is None:
            name = transformations.autoscaling_group_name(stack, stacks.describe_stack_resources(self.cloudformation, stack["StackId"]))
        if name is None:
            return []
        return transformations.instances(stacks.describe_auto_scaling_group(self.autoscaling, name))

    def facts(self, stack: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        """The stack's identity, status, outputs, parameters and instances (these only once it is complete)."""
        instances = self.instances(stack) if stack and stack.get("StackStatus") in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE") else []
        outputs = transformations.outputs(stack)
        return {
            **transformations.stack_facts(stack),
            "outputs": outputs,
            "parameters": change_logic.stack_parameters(stack),
            "resolved_parameters": change_logic.resolved_parameters(stack),
            "instances": instances,
            "instance_ids": transformations.live_instance_ids(instances),
            "outdated_instance_ids": transformations.outdated_instance_ids(instances, outputs) if stack else [],
        }

    def result(self, stack: Optional[Dict[str, Any]], changed: bool, operation: str, **extra: Any) -> Dict[str, Any]:
        result = {
            "changed": changed,
            "operation": operation,
            "stack_name": self.stack_name,
            **self.facts(stack),
            "events": self.events,
            "leaving_instance_ids": [],
        }
        result.update(extra)
        return result

    # state=present ------------------------------------------------------------------------------------
    def read_owned(self) -> Optional[Dict[str, Any]]:
        """The stack as it is now (None without one), refused when it is not the node group's."""
        stack = stacks.describe_stack(self.cloudformation, self.stack_name)
        self._require_owned(stack, "changed")
        return stack

    def settled(self, stack: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
        """The stack read by read_owned() once no operation runs on it (None if it went away), refused when it is not
        the node group's or cannot be changed (a failed stack without recover_failed)."""
        if stack is None:
            return None
        stack = self._settle(stack)
        if stack is not None:
            self._require_owned(stack, "changed")
            self._refuse_unchangeable(stack)
        return stack

    def _refuse_unchangeable(self, stack: Dict[str, Any]) -> None:
        status = stack.get("StackStatus")
        if status == "UPDATE_ROLLBACK_FAILED":
            facts = self._previous_failure(stack)
            raise StackOperationError(
                f"Stack {self.stack_name} is UPDATE_ROLLBACK_FAILED (root cause: {event_logic.describe_cause(facts['root_cause'])}): "
                "CloudFormation cannot update it until the rollback is continued. Fix what blocks the rollback, then run "
                f"'aws cloudformation continue-update-rollback --stack-name {self.stack_name}' and this task again",
                **facts,
            )
        if status in UNUSABLE_STATUSES and not self.recover_failed:
            facts = self._previous_failure(stack)
            raise StackOperationError(
                f"Stack {self.stack_name} is {status} after an earlier failed operation (root cause: "
                f"{event_logic.describe_cause(facts['root_cause'])}). A stack in this state cannot be updated: fix the cause, then "
                "set recover_failed=true to delete it and create it again, or delete it yourself",
                **facts,
            )

    def present(self, desired: DesiredStack, stack: Any = UNREAD) -> Dict[str, Any]:
        """Create or update the stack; stack is what settled(read_owned()) returned when the caller read it first."""
        if stack is UNREAD:
            stack = self.settled(self.read_owned())
        operation = "create"
        if stack is not None and stack.get("StackStatus") in UNUSABLE_STATUSES:
            recovered = self._recover(stack, desired)
            if isinstance(recovered, dict) and "changed" in recovered:
                return recovered
            stack, operation = None, "recreate"
        in_review = stack is not None and stack.get("StackStatus") == REVIEW_STATUS
        if stack is not None and not in_review:
            operation = "update"
            desired.keep(change_logic.stack_parameters(stack))
            if desired.template_body is not None:
                deployed = desired.template_body if desired.runs_template(stack) else stacks.get_template_body(self.cloudformation, stack["StackId"])
                wanted_tags = desired.stack_tags(change_logic.stack_tags(stack))
                if change_logic.is_no_op(stack, deployed, desired.template_body, desired.parameters, wanted_tags, desired.list_parameters):
                    return self.result(stack, False, "none", change_set_id=None, changes=[], parameter_changes={})
            capacity = change_logic.lowered_capacity(change_logic.stack_parameters(stack), desired.parameters)
            leaving = self._leaving(stack, capacity) if capacity is not None else []
            if leaving:
                if not (self.check_mode or self.undrained_scale_in):
                    raise StackOperationError(
                        f"Stack {self.stack_name}: the update makes room for {capacity} instance(s) in an Auto Scaling group that runs "
                        f"{capacity + len(leaving)}, so the group would terminate {', '.join(leaving)} without draining their nodes. "
                        "Nothing was changed. Drain those nodes and take them out of the group first (the nodegroup role and the "
                        "launch playbook do, with eksnodes.windows.nodes_drain and its terminate_in_group), or set undrained_scale_in=true",
                        changed=False, leaving_instance_ids=leaving, outputs=transformations.outputs(stack))
                result = self._change(stack, desired, operation)
                result["leaving_instance_ids"] = leaving
                return result
        return self._change(stack if not in_review else None, desired, operation, review_stack=stack if in_review else None)

    def _leaving(self, stack: Dict[str, Any], capacity: int) -> List[str]:
        """The instances an Auto Scaling group of capacity has no room for (the group is read only then)."""
        instances = self.instances(stack)
        outdated = transformations.outdated_instance_ids(instances, transformations.outputs(stack))
        return transformations.leaving_instance_ids(instances, outdated, capacity)

    def _plan(self, stack: Optional[Dict[str, Any]], desired: DesiredStack, operation: str, review_stack=None) -> Dict[str, Any]:
        """The change that would be made, from the parameters and tags alone (no change set, so no resource changes)."""
        return self.result(stack, True, operation, change_set_id=None, **self._details(stack, desired, [], *self._tags(stack, desired, review_stack)))

    @staticmethod
    def _tags(stack, desired: DesiredStack, review_stack) -> tuple:
        """The stack's tags now, and those to send (None: leave them)."""
        current = change_logic.stack_tags(stack if stack is not None else review_stack)
        return current, desired.stack_tags(current)

    def _details(self, stack, desired: DesiredStack, resource_changes, current_tags, wanted_tags) -> Dict[str, Any]:
        """What changes: the resources, the parameters, and the diff of both with the tags."""
        before = change_logic.stack_parameters(stack)
        after_tags = wanted_tags if wanted_tags is not None else current_tags
        return {"changes": resource_changes,
                "parameter_changes": change_logic.parameter_changes(before, desired.parameters, desired.list_parameters),
                "diff": change_logic.build_diff(before, desired.parameters, resource_changes, self.stack_name, current_tags, after_tags)}

    def _recover(self, stack: Dict[str, Any], desired: DesiredStack) -> Optional[Dict[str, Any]]:
        status = stack["StackStatus"]
        facts = self._previous_failure(stack)
        cause = facts["root_cause"]
        if self.check_mode:
            return self.result(stack, True, "recreate", change_set_id=None, previous_failure=facts, **self._details(stack, desired, [], None, None))
        self._delete(stack, "deletion of the failed stack")
        self.warnings.append(
            f"Stack {self.stack_name} was {status} after an earlier failed operation (root cause: "
            f"{event_logic.describe_cause(cause)}); it was deleted and is created again"
        )
        return None

    def _change(self, stack: Optional[Dict[str, Any]], desired: DesiredStack, operation: str, review_stack=None) -> Dict[str, Any]:
        if self.check_mode and not self.preview_changes:
            return self._plan(stack, desired, operation, review_stack)
        change_set_type = "UPDATE" if stack is not None else "CREATE"
        request = {
            "StackName": self.stack_name,
            "ChangeSetName": f"eksnodes-{uuid.uuid4().hex[:16]}",
            "ChangeSetType": change_set_type,
            "Parameters": [{"ParameterKey": key, "ParameterValue": value} for key, value in sorted(desired.parameters.items())],
            "Capabilities": desired.capabilities,
            "Description": "eksnodes.windows nodegroup_stack",
            **desired.template_source(),
        }
        current_tags, wanted_tags = self._tags(stack, desired, review_stack)
        if wanted_tags is not None:
            request["Tags"] = change_logic.tag_list(wanted_tags)
        if self.role_arn:
            request["RoleARN"] = self.role_arn
        try:
            created = stacks.create_change_set(self.cloudformation, **request)
        except CloudFormationError as error:
            if is_concurrent_change(error):
                raise self._concurrent(f"CloudFormation refused our {change_set_type} change set ({error_message(error)})") from error
            raise
        change_set_id, stack_id = created["Id"], created.get("StackId")
        made_review_stack = change_set_type == "CREATE" and review_stack is None
        try:
            change_set = wait_for_change_set(lambda: stacks.describe_change_set(self.cloudformation, change_set_id), self.deadline, pause=self.pause)
        except WaitTimeout as error:
            self._discard(change_set_id, stack_id if made_review_stack else None)
            raise StackOperationError(f"Stack {self.stack_name}: CloudFormation did not compute the change set within wait_timeout") from error
        if change_set is None:
            raise self._concurrent(f"our change set {change_set_id} was deleted before it ran", stack_id)
        if change_logic.change_set_is_empty(change_set):
            self._discard(change_set_id, None)
            return self.result(stack, False, "none", change_set_id=None, changes=[], parameter_changes={})
        if change_set.get("Status") != "CREATE_COMPLETE":
            self._discard(change_set_id, stack_id if made_review_stack else None)
            raise StackOperationError(
                f"Stack {self.stack_name}: CloudFormation refused the change set ({change_set.get('Status')}): "
                f"{change_set.get('StatusReason') or 'no reason given'}",
                change_set_status=change_set.get("Status"),
                change_set_status_reason=change_set.get("StatusReason"),
            )
        details = self._details(stack, desired, change_logic.resource_changes(change_set), current_tags, wanted_tags)
        if self.check_mode:
            self._discard(change_set_id, stack_id if made_review_stack else None)
            return self.result(stack, True, operation, change_set_id=None, **details)
        stack_ref = stack_id or self.stack_name
        after_event_id = stacks.newest_event_id(self.cloudformation, stack_ref)
        token = request_token()
        try:
            stacks.execute_change_set(self.cloudformation, change_set_id, token)
        except CloudFormationError as error:
            if is_concurrent_change(error):
                stacks.delete_change_set(self.cloudformation, change_set_id)
                raise self._concurrent(f"our change set could not run ({error_message(error)})", stack_ref) from error
            raise
        if not self.wait:
            return self.result(stacks.describe_stack(self.cloudformation, stack_ref), True, operation, change_set_id=change_set_id,
                               started=started(stack_ref, after_event_id, token), **details)
        before_count = len(self.events)
        try:
            final = self._wait(stack_ref, after_event_id, what=operation)
        except StackOperationError as error:
            error.facts.update(changed=True, change_set_id=change_set_id, **details)
            raise
        status = (final or {}).get("StackStatus")
        if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            error = self._failure(final, operation, self.events[before_count:])
            error.facts.update(changed=True, change_set_id=change_set_id, **details)
            raise error
        return self.result(final, True, operation, change_set_id=change_set_id, **details)

    def _discard(self, change_set_id: str, review_stack_id: Optional[str]) -> None:
        """Delete a change set that will not run, and the empty stack a CREATE change set made."""
        stacks.delete_change_set(self.cloudformation, change_set_id)
        if review_stack_id:
            stacks.delete_stack(self.cloudformation, review_stack_id, request_token(), self.role_arn)

    def _delete(self, stack: Dict[str, Any], what: str) -> Optional[Dict[str, Any]]:
        stack_id = stack["StackId"]
        after_event_id = stacks.newest_event_id(self.cloudformation, stack_id)
        stacks.delete_stack(self.cloudformation, stack_id, request_token(), self.role_arn)
        before_count = len(self.events)
        final = self._wait(
            stack_id,
            after_event_id,
            done=lambda status: status is None or status in ("DELETE_COMPLETE", "DELETE_FAILED"),
            what=what,
        )
        if final is not None and final.get("StackStatus") == "DELETE_FAILED":
            error = self._failure(final, what, self.events[before_count:])
            error.facts["changed"] = True
            raise error
        return final

    # state=absent -------------------------------------------------------------------------------------
    def absent(self) -> Dict[str, Any]:
        stack = stacks.describe_stack(self.cloudformation, self.stack_name)
        self._require_owned(stack, "deleted")
        if stack is not None and stack.get("StackStatus") != "DELETE_IN_PROGRESS":
            stack = self._settle(stack)
            self._require_owned(stack, "deleted")
        if stack is None or stack.get("StackStatus") == "DELETE_COMPLETE":
            return self.result(None, False, "none")
        before = change_logic.stack_parameters(stack)
        diff = [{
            "before_header": f"stack {self.stack_name} parameters (deployed)",
            "after_header": f"stack {self.stack_name} (deleted)",
            "before": "".join(f"{key}: {before[key]}\n" for key in sorted(before)),
            "after": "",
        }]
        if self.check_mode:
            return self.result(stack, True, "delete", diff=diff)
        if stack.get("StackStatus") == "DELETE_IN_PROGRESS":
            if not self.wait:
                after_event_id = stacks.newest_event_id(self.cloudformation, stack["StackId"])
                return self.result(stack, True, "delete", diff=diff, started=started(stack["StackId"], after_event_id, None))
            final = self._wait(stack["StackId"], stacks.newest_event_id(self.cloudformation, stack["StackId"]),
                               done=lambda status: status is None or status in ("DELETE_COMPLETE", "DELETE_FAILED"), what="deletion")
            if final is not None and final.get("StackStatus") == "DELETE_FAILED":
                error = self._failure(final, "deletion", self.events)
                error.facts["changed"] = True
                raise error
        elif not self.wait:
            after_event_id = stacks.newest_event_id(self.cloudformation, stack["StackId"])
            token = request_token()
            stacks.delete_stack(self.cloudformation, stack["StackId"], token, self.role_arn)
            final = stacks.describe_stack(self.cloudformation, stack["StackId"])
            result = self.result(None, True, "delete", diff=diff, started=started(stack["StackId"], after_event_id, token))
            result.update(transformations.stack_facts(final or {"StackId": stack["StackId"], "StackStatus": "DELETE_COMPLETE"}))
            return result
        else:
            final = self._delete(stack, "deletion")
        result = self.result(None, True, "delete", diff=diff)
        result.update(transformations.stack_facts(final or {"StackId": stack["StackId"], "StackStatus": "DELETE_COMPLETE"}))
        return result
