# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Thin, retrying wrappers over the CloudFormation and Auto Scaling calls of the node group stack.

Each call retries throttling with jittered backoff; "not found" answers become None (or False for
deletions); every other error is raised as CloudFormationError / AutoScalingError.
"""

from typing import Any, Dict, List, Optional

from ansible_collections.eksnodes.windows.plugins.module_utils.retries import aws_retry

from .common import AutoScalingErrorHandler, CloudFormationErrorHandler


@CloudFormationErrorHandler.list_error_handler("describe stack")
@aws_retry()
def describe_stack(client, stack_name: str) -> Optional[Dict[str, Any]]:
    """The stack by name or ID, or None when there is none (deleted stacks only answer by ID)."""
    stacks = client.describe_stacks(StackName=stack_name)["Stacks"]
    return stacks[0] if stacks else None


@CloudFormationErrorHandler.list_error_handler("get stack template")
@aws_retry()
def get_template_body(client, stack_name: str) -> Any:
    """The template the stack was last deployed with, as submitted (a string, or a dict for JSON)."""
    return client.get_template(StackName=stack_name, TemplateStage="Original")["TemplateBody"]


@CloudFormationErrorHandler.common_error_handler("read template summary")
@aws_retry()
def get_template_summary(client, template_body: Optional[str] = None, template_url: Optional[str] = None) -> Dict[str, Any]:
    """Parameter declarations (with defaults) and capabilities of a template."""
    if template_url:
        return client.get_template_summary(TemplateURL=template_url)
    return client.get_template_summary(TemplateBody=template_body)


@CloudFormationErrorHandler.common_error_handler("create change set")
@aws_retry()
def create_change_set(client, **kwargs) -> Dict[str, Any]:
    """CreateChangeSet; the caller always sets ChangeSetType (CREATE or UPDATE)."""
    return client.create_change_set(**kwargs)


@CloudFormationErrorHandler.list_error_handler("describe change set")
@aws_retry()
def _describe_change_set_page(client, change_set_id: str, next_token: Optional[str]) -> Dict[str, Any]:
    kwargs = {"ChangeSetName": change_set_id}
    if next_token:
        kwargs["NextToken"] = next_token
    return client.describe_change_set(**kwargs)


def describe_change_set(client, change_set_id: str) -> Optional[Dict[str, Any]]:
    """The change set with every page of its Changes, or None when it does not exist."""
    result = None
    next_token = None
    while True:
        page = _describe_change_set_page(client, change_set_id, next_token)
        if page is None:
            return result
        if result is None:
            result = dict(page)
            result["Changes"] = list(page.get("Changes") or [])
        else:
            result["Changes"].extend(page.get("Changes") or [])
        next_token = page.get("NextToken")
        if not next_token:
            result.pop("NextToken", None)
            return result


@CloudFormationErrorHandler.common_error_handler("execute change set")
@aws_retry()
def execute_change_set(client, change_set_id: str, client_request_token: str) -> None:
    client.execute_change_set(ChangeSetName=change_set_id, ClientRequestToken=client_request_token)


@CloudFormationErrorHandler.deletion_error_handler("delete change set")
@aws_retry()
def delete_change_set(client, change_set_id: str) -> bool:
    client.delete_change_set(ChangeSetName=change_set_id)
    return True


@CloudFormationErrorHandler.deletion_error_handler("delete stack")
@aws_retry()
def delete_stack(client, stack_name: str, client_request_token: str, role_arn: Optional[str] = None) -> bool:
    kwargs = {"StackName": stack_name, "ClientRequestToken": client_request_token}
    if role_arn:
        kwargs["RoleARN"] = role_arn
    client.delete_stack(**kwargs)
    return True


@CloudFormationErrorHandler.list_error_handler("describe stack events", default_value=[])
@aws_retry()
def _stack_events_page(client, stack_name: str, next_token: Optional[str]) -> Dict[str, Any]:
    kwargs = {"StackName": stack_name}
    if next_token:
        kwargs["NextToken"] = next_token
    return client.describe_stack_events(**kwargs)


def stack_events_since(client, stack_name: str, after_event_id: Optional[str] = None, limit: int = 1000) -> List[Dict[str, Any]]:
    """The stack's events newer than after_event_id, oldest first.

    DescribeStackEvents pages newest first, so reading stops at the first page that holds
    after_event_id; without it, at most ``limit`` events are read.
    """
    newest_first: List[Dict[str, Any]] = []
    next_token = None
    while True:
        page = _stack_events_page(client, stack_name, next_token)
        if not page:
            break
        for event in page.get("StackEvents") or []:
            if after_event_id and event.get("EventId") == after_event_id:
                return list(reversed(newest_first))
            newest_first.append(event)
            if len(newest_first) >= limit:
                return list(reversed(newest_first))
        next_token = page.get("NextToken")
        if not next_token:
            break
    return list(reversed(newest_first))


@CloudFormationErrorHandler.list_error_handler("read the newest stack event")
@aws_retry()
def newest_event_id(client, stack_name: str) -> Optional[str]:
    events = client.describe_stack_events(StackName=stack_name).get("StackEvents") or []
    return events[0].get("EventId") if events else None


@CloudFormationErrorHandler.list_error_handler("list stack resources", default_value=[])
@aws_retry()
def describe_stack_resources(client, stack_name: str) -> List[Dict[str, Any]]:
    return client.describe_stack_resources(StackName=stack_name).get("StackResources") or []


@AutoScalingErrorHandler.list_error_handler("describe auto scaling group")
@aws_retry()
def describe_auto_scaling_group(client, group_name: str) -> Optional[Dict[str, Any]]:
    groups = client.describe_auto_scaling_groups(AutoScalingGroupNames=[group_name]).get("AutoScalingGroups") or []
    return groups[0] if groups else None
