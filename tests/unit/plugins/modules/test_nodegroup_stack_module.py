"""nodegroup_stack: options agree with the template and the docs; bad input fails before any AWS client."""

import json

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_module import AWSModule
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup import parameters as parameter_logic
from ansible_collections.eksnodes.windows.plugins.modules import nodegroup_stack

DOCS = yaml.safe_load(nodegroup_stack.DOCUMENTATION)


def test_every_template_parameter_has_a_documented_option_with_the_same_default():
    spec = nodegroup_stack.argument_spec()
    for option, parameter in parameter_logic.OPTION_TO_PARAMETER.items():
        assert option in spec and option in DOCS["options"], option
        assert f"C({parameter})" in " ".join(DOCS["options"][option]["description"]), (option, parameter)
        if "default" in spec[option]:
            assert spec[option]["default"] == parameter_logic.OPTION_DEFAULTS[option] == DOCS["options"][option]["default"], option
        else:  # unset means the template default, empty, or a value read from the cluster
            assert parameter_logic.OPTION_DEFAULTS.get(option, "") == "" and "default" not in DOCS["options"][option], option


def run(args, monkeypatch, capsys):
    def no_client(*_args, **_kwargs):
        raise AssertionError("an AWS client was made")
    monkeypatch.setattr(AWSModule, "client", no_client)
    with patch_module_args(dict({"region": "us-east-1"}, **args)), pytest.raises(SystemExit):
        nodegroup_stack.main()
    return json.loads(capsys.readouterr().out)


def test_bad_input_lists_every_problem_before_any_client(monkeypatch, capsys):
    result = run({"stack_name": "s", "cluster_name": "lab", "nodegroup_name": "w", "subnets": ["a"], "volume_size": 10}, monkeypatch, capsys)
    assert result["failed"] and result["msg"].startswith("Invalid options: ")
    assert "volume_size (10) is below 50 GiB" in result["msg"] and "subnets[0] 'a' is not a subnet ID" in result["msg"]
    assert "vpc_id is required with the collection's template" in result["msg"]
    assert "image_id is required with the collection's template" in result["msg"]
    assert len(result["errors"]) == 6


def test_absent_checks_only_the_stack_name(monkeypatch, capsys):
    result = run({"stack_name": "9 bad", "state": "absent"}, monkeypatch, capsys)
    assert result["failed"] and result["msg"].startswith("Invalid options: stack_name '9 bad' is not a valid CloudFormation stack name")


def test_template_and_template_url_are_exclusive(monkeypatch, capsys):
    result = run({"stack_name": "s", "template": "x", "template_url": "https://x"}, monkeypatch, capsys)
    assert result["failed"] and "mutually exclusive: template|template_url" in result["msg"]


class FakeModule:
    @staticmethod
    def fail_json(**kwargs):
        raise AssertionError(kwargs["msg"])


def test_another_template_gets_only_its_parameters(monkeypatch):
    summary = {"Parameters": [
        {"ParameterKey": "ClusterName", "ParameterType": "String"},
        {"ParameterKey": "Subnets", "ParameterType": "List<AWS::EC2::Subnet::Id>"},
        {"ParameterKey": "KeyName", "ParameterType": "AWS::EC2::KeyPair::KeyName"},
        {"ParameterKey": "Extra", "ParameterType": "String", "DefaultValue": "d"},
    ]}
    monkeypatch.setattr(nodegroup_stack.stacks, "get_template_summary", lambda client, body, url: summary)
    params = dict(nodegroup_stack.parameter_logic.OPTION_DEFAULTS, stack_name="s", cluster_name="lab", subnets=["subnet-b", "subnet-a"],
                  key_name="k", metadata_hop_limit=1, template="body", template_url=None, template_parameters={"Extra": "e"},
                  tags=None, purge_tags=True, capabilities=["CAPABILITY_IAM"])
    warnings = []
    monkeypatch.setattr(nodegroup_stack, "warn", warnings.append)
    desired = nodegroup_stack.desired_stack(FakeModule(), None, params)
    assert desired.parameters == {"ClusterName": "lab", "Subnets": "subnet-a,subnet-b", "KeyName": "k", "Extra": "e"}
    assert desired.list_parameters == ("Subnets",) and desired.template_body == "body"
    assert warnings == ["The template declares no parameter for these options, which are ignored: metadata_hop_limit"]


def test_another_template_that_claims_the_collection_template_version_is_refused(monkeypatch):
    summary = {"Description": nodegroup_stack.TEMPLATE_MARK + ": IAM role and instance profile", "Parameters": []}
    monkeypatch.setattr(nodegroup_stack.stacks, "get_template_summary", lambda client, body, url: summary)
    params = dict(nodegroup_stack.parameter_logic.OPTION_DEFAULTS, stack_name="s", cluster_name="lab", template="edited body",
                  template_url=None, template_parameters=None, tags=None, purge_tags=True, capabilities=["CAPABILITY_IAM"])
    with pytest.raises(AssertionError, match="template: its Description names the collection's template"):
        nodegroup_stack.desired_stack(FakeModule(), None, params)
    # The collection's own template passed as template is the same body: taken as it is.
    desired = nodegroup_stack.desired_stack(FakeModule(), None, dict(params, template=nodegroup_stack.TEMPLATE))
    assert desired.template_body == nodegroup_stack.TEMPLATE
