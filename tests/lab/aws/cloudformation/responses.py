"""CloudFormation request handlers: moto's, passing on what moto drops (capabilities, failure options).

Also: ChangeSetType defaults to UPDATE (AWS) instead of CREATE (moto); change sets are found within the
named stack; ListChangeSets lists the named stack's change sets only; UpdateTerminationProtection exists.
"""

from __future__ import annotations

from typing import Any, Optional

from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import Stack
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult, EmptyResult

from lab.aws.cloudformation.models import (
    IAM_TYPES,
    ON_FAILURE_VALUES,
    ChangeSetOptions,
    LabCloudFormationBackend,
    required_capability,
    update_parameter_values,
)


class LabCloudFormationResponse(CloudFormationResponse):
    """moto's CloudFormation responses wired to the lab's stack lifecycle."""

    @property
    def lab_backend(self) -> LabCloudFormationBackend:
        backend = self.cloudformation_backend
        assert isinstance(backend, LabCloudFormationBackend), "lab.aws.patches must be installed before moto's backend is created"
        return backend

    def _template_body(self, previous: Optional[str] = None) -> str:
        if self._get_bool_param("UsePreviousTemplate", False) and previous is not None:
            return previous
        template_url = self._get_param("TemplateURL")
        return self._get_stack_from_s3_url(template_url) if template_url and not self._get_param("TemplateBody") else self._get_param("TemplateBody")

    def _tags(self) -> dict[str, str]:
        return {item["Key"]: item["Value"] for item in self._get_param("Tags", [])}

    def _on_failure(self, name: str) -> str:
        on_failure = self._get_param(name) or ("DO_NOTHING" if self._get_bool_param("DisableRollback", False) else "ROLLBACK")
        if on_failure not in ON_FAILURE_VALUES:
            raise ValidationError(message=f"{name} must be one of {list(ON_FAILURE_VALUES)}")
        return str(on_failure)

    def create_stack(self) -> ActionResult:
        stack = self.lab_backend.create_stack(
            name=self._get_param("StackName"), template=self._template_body(),
            parameters={item["ParameterKey"]: item["ParameterValue"] for item in self._get_param("Parameters", [])},
            notification_arns=self._get_param("NotificationARNs", []), tags=self._tags(), role_arn=self._get_param("RoleARN"),
            enable_termination_protection=self._get_param("EnableTerminationProtection"),
            timeout_in_mins=self._get_param("TimeoutInMinutes"), stack_policy_body=self._get_param("StackPolicyBody"),
            capabilities=list(self._get_param("Capabilities", [])), on_failure=self._on_failure("OnFailure"))
        return ActionResult({"StackId": stack.stack_id})

    def update_stack(self) -> ActionResult:
        stack = self.lab_backend.get_stack(self._get_param("StackName"))
        incoming = self._get_param("Parameters", [])
        for parameter in incoming:
            if parameter.get("UsePreviousValue") and parameter.get("ParameterValue"):
                raise ValidationError(message=f"Invalid input for parameter key {parameter['ParameterKey']}. Cannot specify usePreviousValue "
                                              "as true and non empty value for a parameter")
        stack = self.lab_backend.update_stack(name=stack.stack_id, template=self._template_body(str(stack.template)),
                                              role_arn=self._get_param("RoleARN"), parameters=incoming, tags=self._tags() or None,
                                              capabilities=list(self._get_param("Capabilities", [])))
        return ActionResult({"StackId": stack.stack_id})

    def create_change_set(self) -> ActionResult:
        stack_name = self._get_param("StackName")
        change_set_type = self._get_param("ChangeSetType") or "UPDATE"
        existing = self.lab_backend.active_stack(stack_name)
        if change_set_type == "UPDATE" and existing is None:
            raise ValidationError(message=f"Stack [{stack_name}] does not exist")
        self.validate_template_and_stack_body()
        incoming = self._get_param("Parameters", [])
        if change_set_type == "UPDATE" and existing is not None:
            parameters = update_parameter_values(existing, incoming)
        else:
            parameters = {item["ParameterKey"]: item.get("ParameterValue", "") for item in incoming}
        options = ChangeSetOptions(capabilities=list(self._get_param("Capabilities", [])), on_failure=self._on_failure("OnStackFailure"))
        change_set_id, stack_id = self.lab_backend.create_change_set(
            stack_name=stack_name, change_set_name=self._get_param("ChangeSetName"),
            template=self._template_body(str(existing.template) if existing is not None else None), parameters=parameters,
            description=self._get_param("Description"), change_set_type=change_set_type,
            notification_arns=self._get_param("NotificationARNs", []), tags=self._tags(), role_arn=self._get_param("RoleARN"),
            options=options)
        return ActionResult({"Id": change_set_id, "StackId": stack_id})

    def describe_change_set(self) -> ActionResult:
        return ActionResult(self.lab_backend.find_change_set(self._get_param("ChangeSetName"), self._get_param("StackName")))

    def delete_change_set(self) -> ActionResult:
        change_set = self.lab_backend.find_change_set(self._get_param("ChangeSetName"), self._get_param("StackName"))
        self.lab_backend.change_sets.pop(change_set.change_set_id, None)
        return EmptyResult()

    def execute_change_set(self) -> ActionResult:
        change_set = self.lab_backend.find_change_set(self._get_param("ChangeSetName"), self._get_param("StackName"))
        self.lab_backend.execute_change_set(change_set.change_set_id, disable_rollback=self._get_bool_param("DisableRollback", False))
        return EmptyResult()

    def list_change_sets(self) -> ActionResult:
        stack = self.lab_backend.get_stack(self._get_param("StackName"))
        summaries: list[Any] = [item for item in self.lab_backend.change_sets.values() if item.stack_id == stack.stack_id]
        return ActionResult({"Summaries": summaries})

    def validate_template(self) -> ActionResult:
        """Errors only (moto fails on cfn-lint warnings too); parameters and required capabilities as AWS reports them."""
        body = self._template_body()
        errors = [match for match in self.lab_backend.validate_template(body) if str(match.rule.id).startswith("E")]
        if errors:
            raise ValidationError(message=f"Template format error: {errors[0].message}")
        template = Stack.parse_template(body)
        result: dict[str, Any] = {"Description": template.get("Description"), "Parameters": [
            {"ParameterKey": key, "DefaultValue": slot.get("Default"), "NoEcho": bool(slot.get("NoEcho", False)),
             "Description": slot.get("Description", "")} for key, slot in (template.get("Parameters") or {}).items()]}
        needed = required_capability(template)
        if needed:
            types = sorted({body["Type"] for body in (template.get("Resources") or {}).values() if body.get("Type") in IAM_TYPES})
            result.update({"Capabilities": [needed], "CapabilitiesReason": f"The following resource(s) require capabilities: [{', '.join(types)}]"})
        return ActionResult(result)

    def update_termination_protection(self) -> ActionResult:
        stack = self.lab_backend.update_termination_protection(self._get_param("StackName"),
                                                               self._get_bool_param("EnableTerminationProtection", False))
        return ActionResult({"StackId": stack.stack_id})
