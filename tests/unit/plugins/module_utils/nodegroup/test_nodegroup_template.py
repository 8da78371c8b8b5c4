"""The collection's CloudFormation template: lint-clean, and what it promises.

The template is parsed with cfn-lint's own decoder, which understands the short-form intrinsic
functions (!Ref, !If, ...) as CloudFormation does.
"""

import base64
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cfnlint.decode import decode_str

from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup import parameters as parameter_logic
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup import transformations
from ansible_collections.eksnodes.windows.plugins.module_utils.nodegroup.template import LIST_PARAMETERS, TEMPLATE, TEMPLATE_MARK, TEMPLATE_VERSION

OLD_TEMPLATE = Path(__file__).resolve().parents[4] / "integration" / "fixtures" / "nodegroup-template-0.1.0.template"
AWS_TEMPLATE_PARAMETERS = (
    "ClusterName", "ClusterControlPlaneSecurityGroup", "NodeGroupName", "NodeAutoScalingGroupMinSize",
    "NodeAutoScalingGroupDesiredCapacity", "NodeAutoScalingGroupMaxSize", "NodeInstanceType",
    "NodeImageIdSSMParam", "NodeImageId", "NodeVolumeSize", "KeyName", "BootstrapArguments",
    "DisableIMDSv1", "VpcId", "NodeSecurityGroups", "Subnets",
)


@pytest.fixture(scope="module")
def template():
    data, matches = decode_str(TEMPLATE)
    assert not matches, matches
    return json.loads(json.dumps(data, default=str))


@pytest.fixture(scope="module")
def template_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "nodegroup.yaml"
    path.write_text(TEMPLATE)
    return path


def cfn_lint(path: Path, *extra: str) -> subprocess.CompletedProcess:
    executable = Path(sys.executable).with_name("cfn-lint")
    command = [str(executable)] if executable.exists() else [sys.executable, "-m", "cfnlint"]
    return subprocess.run([*command, *extra, "--", str(path)], capture_output=True, text=True, check=False)


def test_cfn_lint_reports_nothing_not_even_warnings_or_informational(template_file):
    result = cfn_lint(template_file, "--include-checks", "I")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


# The body of each template version. A stack whose description names a version is taken to run its body (its template is
# not read on a rerun), so a version names one body only: an edit of TEMPLATE fails here until TEMPLATE_VERSION is
# raised and the new version's digest recorded. A recorded digest is never changed: stacks of that version run its body.
TEMPLATE_DIGESTS = {"2": "9247ed6d1a28447475068c6fcf1b5c43ea048d3962637f51c0a0f116351b2dd5"}


def test_description_carries_the_template_version(template):
    assert f"template version {TEMPLATE_VERSION}" in template["Description"]
    assert " ".join(template["Description"].split()).startswith(TEMPLATE_MARK)


def test_each_template_version_names_one_body():
    assert hashlib.sha256(TEMPLATE.encode()).hexdigest() == TEMPLATE_DIGESTS.get(TEMPLATE_VERSION), (
        "TEMPLATE changed: raise TEMPLATE_VERSION and record the new body's digest in TEMPLATE_DIGESTS")


def test_keeps_every_parameter_name_of_the_aws_template(template):
    assert set(AWS_TEMPLATE_PARAMETERS) <= set(template["Parameters"])


def test_every_parameter_has_exactly_one_module_option(template):
    assert set(template["Parameters"]) == set(parameter_logic.OPTION_TO_PARAMETER.values())


def test_option_defaults_equal_the_template_defaults(template):
    for option, default in parameter_logic.OPTION_DEFAULTS.items():
        parameter = template["Parameters"][parameter_logic.OPTION_TO_PARAMETER[option]]
        assert parameter_logic.format_value(default) == str(parameter["Default"]), option


def test_parameters_without_default_are_the_ones_the_module_requires_or_always_passes(template):
    required = {name for name, spec in template["Parameters"].items() if "Default" not in spec}
    # the image: image_id, or read from image_ssm_parameter by the module; the SSM parameter's name, empty when unset
    always_passed = {"NodeImageId", "NodeImageIdSSMParam"}
    assert required == {parameter_logic.OPTION_TO_PARAMETER[option] for option in parameter_logic.REQUIRED_FOR_BUILTIN} | always_passed


def test_no_parameter_is_resolved_by_cloudformation_and_none_names_a_kubernetes_version(template):
    # CloudFormation resolves SSM-typed parameters on every create and update, even unused, with the caller's credentials.
    types = {name: spec["Type"] for name, spec in template["Parameters"].items()}
    assert not [name for name, kind in types.items() if kind.startswith("AWS::SSM::")], types
    assert not [name for name, spec in template["Parameters"].items() if "EKS_Optimized" in str(spec.get("Default", ""))]
    assert template["Outputs"]["NodeImageId"]["Value"] == {"Ref": "NodeImageId"}


def test_the_node_security_group_does_not_carry_the_cluster_tag(template):
    # EKS tags the cluster security group, which the nodes also get: a second tagged group makes load balancers refuse them.
    tags = template["Resources"]["NodeSecurityGroup"]["Properties"]["Tags"]
    assert [json.dumps(tag["Key"]) for tag in tags] == ['"Name"']


def test_a_stack_of_template_version_1_changes_only_its_security_group_tags(template):
    # Anything else that changed in a resource would be updated by CloudFormation: a new launch template version
    # (and so the replacement of every node by nodes_replace), or a new group or role.
    old, _matches = decode_str(OLD_TEMPLATE.read_text())
    old = json.loads(json.dumps(old, default=str))
    assert "template version 1" in old["Description"]
    changed = sorted(name for name in old["Resources"] if old["Resources"][name] != template["Resources"].get(name))
    assert changed == ["NodeSecurityGroup"] and set(old["Resources"]) == set(template["Resources"])
    before, after = (dict(item["Resources"]["NodeSecurityGroup"]["Properties"]) for item in (old, template))
    assert {key: value for key, value in before.items() if key != "Tags"} == {key: value for key, value in after.items() if key != "Tags"}
    assert old["Conditions"] == template["Conditions"]


def test_list_parameters_are_the_list_typed_ones(template):
    listed = {name for name, spec in template["Parameters"].items() if spec["Type"].startswith("List<")}
    assert listed == set(LIST_PARAMETERS)


def test_parameter_interface_groups_name_every_parameter_once(template):
    grouped = [name for group in template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"] for name in group["Parameters"]]
    assert sorted(grouped) == sorted(template["Parameters"])


def test_volume_is_encrypted_gp3_on_sda1_of_at_least_50_gib(template):
    data = template["Resources"]["NodeLaunchTemplate"]["Properties"]["LaunchTemplateData"]
    (mapping,) = data["BlockDeviceMappings"]
    assert mapping["DeviceName"] == "/dev/sda1"
    assert mapping["Ebs"] == {"DeleteOnTermination": True, "Encrypted": True, "VolumeSize": {"Ref": "NodeVolumeSize"}, "VolumeType": "gp3"}
    assert template["Parameters"]["NodeVolumeSize"]["MinValue"] == 50


def test_imdsv2_is_required_by_default_with_a_settable_hop_limit(template):
    options = template["Resources"]["NodeLaunchTemplate"]["Properties"]["LaunchTemplateData"]["MetadataOptions"]
    assert options["HttpTokens"] == {"Fn::If": ["IMDSv1Disabled", "required", "optional"]}
    assert options["HttpPutResponseHopLimit"] == {"Ref": "HttpPutResponseHopLimit"}
    assert template["Parameters"]["DisableIMDSv1"]["Default"] == "true"
    assert template["Parameters"]["HttpPutResponseHopLimit"]["Default"] == 2


def test_no_key_pair_unless_asked(template):
    data = template["Resources"]["NodeLaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert data["KeyName"] == {"Fn::If": ["HasKeyName", {"Ref": "KeyName"}, {"Ref": "AWS::NoValue"}]}
    assert template["Parameters"]["KeyName"]["Default"] == ""


def test_node_role_policies_ssm_always_cni_only_when_asked(template):
    role = template["Resources"]["NodeInstanceRole"]["Properties"]
    condition, with_cni, without_cni = role["ManagedPolicyArns"]["Fn::If"]
    assert condition == "AttachCNI"
    names = [[arn["Fn::Sub"].rsplit("/", 1)[1] for arn in arns] for arns in (with_cni, without_cni)]
    assert names[1] == ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonSSMManagedInstanceCore"]
    assert names[0] == names[1] + ["AmazonEKS_CNI_Policy"]
    assert template["Parameters"]["AttachCNIPolicy"]["Default"] == "false"
    assert role["Path"] == "/"  # aws-auth cannot map role ARNs with a path


def test_auto_scaling_group_tags_and_no_rolling_update(template):
    group = template["Resources"]["NodeGroup"]
    tags = {json.dumps(tag["Key"]): tag for tag in group["Properties"]["Tags"]}
    assert tags['"Name"']["Value"] == {"Fn::Sub": "${ClusterName}-${NodeGroupName}-Node"}
    owned = tags[json.dumps({"Fn::Sub": "kubernetes.io/cluster/${ClusterName}"})]
    assert owned["Value"] == "owned" and owned["PropagateAtLaunch"] is True
    # Instances are replaced by eksnodes.windows.nodes_replace, which drains them; CloudFormation must not.
    assert set(group["UpdatePolicy"]) == {"AutoScalingScheduledAction"}
    assert "CreationPolicy" not in group


def test_launch_template_attaches_its_own_and_the_given_security_groups(template):
    data = template["Resources"]["NodeLaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert data["SecurityGroupIds"] == {
        "Fn::Split": [",", {"Fn::Join": [",", [{"Ref": "NodeSecurityGroup"}, {"Fn::Join": [",", {"Ref": "NodeSecurityGroups"}]}]]}]
    }


def render_user_data(template, values):
    """Evaluate the user data's Fn::Join / Fn::If / Fn::Sub for a set of parameter values."""
    conditions = {
        "HasClusterAccessData": bool(values.get("ApiServerEndpoint")) and bool(values.get("CertificateAuthorityData")),
        "HasServiceCidr": bool(values.get("ServiceCidr")),
        "HasDnsClusterIp": bool(values.get("DnsClusterIp")),
        "HasBootstrapArguments": bool(values.get("BootstrapArguments")),
    }

    def evaluate(node):
        if isinstance(node, str):
            return node
        if "Fn::If" in node:
            name, yes, no = node["Fn::If"]
            return evaluate(yes if conditions[name] else no)
        if "Fn::Sub" in node:
            text = node["Fn::Sub"]
            for key, value in values.items():
                text = text.replace("${" + key + "}", value)
            assert "${" not in text, text
            return text
        raise AssertionError(node)

    joined = template["Resources"]["NodeLaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Join"]
    return joined[0].join(evaluate(part) for part in joined[1])


def test_bootstrap_passes_cluster_access_facts_and_extra_arguments(template):
    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----").decode()
    script = render_user_data(template, {
        "ClusterName": "lab", "ApiServerEndpoint": "https://api.example", "CertificateAuthorityData": ca,
        "ServiceCidr": "172.20.0.0/16", "DnsClusterIp": "172.20.0.10", "BootstrapArguments": "-KubeletExtraArgs '--max-pods=20'",
    })
    assert script.startswith("<powershell>\n") and script.endswith("</powershell>\n")
    assert (
        f'& $EKSBootstrapScriptFile -EKSClusterName "lab" -APIServerEndpoint "https://api.example" -Base64ClusterCA "{ca}" '
        '-ServiceCIDR "172.20.0.0/16" -DNSClusterIP "172.20.0.10" -KubeletExtraArgs \'--max-pods=20\' 3>&1 4>&1 5>&1 6>&1'
    ) in script
    assert 'Start-EKSBootstrap.ps1' in script


def test_bootstrap_without_optional_facts_names_only_the_cluster(template):
    script = render_user_data(template, {"ClusterName": "lab"})
    assert '& $EKSBootstrapScriptFile -EKSClusterName "lab" 3>&1 4>&1 5>&1 6>&1' in script
    assert "-APIServerEndpoint" not in script and "-ServiceCIDR" not in script


def test_endpoint_alone_is_not_passed_without_the_ca(template):
    script = render_user_data(template, {"ClusterName": "lab", "ApiServerEndpoint": "https://api.example"})
    assert "-APIServerEndpoint" not in script


def test_outputs_have_the_documented_snake_case_names(template):
    assert set(template["Outputs"]) == set(transformations.OUTPUT_NAMES)
    assert template["Outputs"]["NodeInstanceRole"]["Value"] == {"Fn::GetAtt": ["NodeInstanceRole", "Arn"]}
