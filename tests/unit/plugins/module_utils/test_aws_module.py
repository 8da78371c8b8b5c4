"""AWSModule: every client of a run comes from one boto3 session, made as amazon.aws makes its clients."""

import json

import botocore.loaders
import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.eksnodes.windows.plugins.module_utils import aws_module
from ansible_collections.eksnodes.windows.plugins.module_utils.aws_module import AWSModule

CONNECTION = {"region": "eu-west-1", "endpoint_url": "http://127.0.0.1:9", "access_key": "AKIDEXAMPLE", "secret_key": "secret"}


@pytest.fixture
def files_read(monkeypatch):
    """The botocore data files (service models, endpoints, rules) read from disk, in order."""
    read = []
    real = botocore.loaders.JSONFileLoader.load_file

    def load_file(self, file_path):
        read.append(file_path)
        return real(self, file_path)
    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "load_file", load_file)
    return read


def make(module_class, args=None):
    with patch_module_args(dict(CONNECTION, **(args or {}))):
        return module_class(argument_spec={})


def test_a_second_client_reads_no_file_again(files_read):
    module = make(AWSModule)
    first = module.client("ec2")
    read_for_first = len(files_read)
    second = module.client("ec2")
    assert read_for_first > 0 and len(files_read) == read_for_first
    assert first is not second  # a client of its own (events registered on one do not reach the other)
    module.client("eks")
    assert not any("/ec2/" in path or "endpoints" in path or "partitions" in path for path in files_read[read_for_first:])


def test_amazon_aws_reads_every_file_again_for_each_client(files_read):
    module = make(AnsibleAWSModule)
    module.client("ec2")
    read_for_first = len(files_read)
    module.client("ec2")
    assert len(files_read) == 2 * read_for_first  # what AWSModule saves


def test_the_client_is_the_one_amazon_aws_would_make():
    ours, theirs = make(AWSModule).client("eks"), make(AnsibleAWSModule).client("eks")
    assert ours.meta.region_name == theirs.meta.region_name == "eu-west-1"
    assert ours.meta.endpoint_url == theirs.meta.endpoint_url == "http://127.0.0.1:9"
    assert ours.meta.config.user_agent == theirs.meta.config.user_agent and "amazon.aws" in ours.meta.config.user_agent
    assert ours._request_signer._credentials.access_key == "AKIDEXAMPLE"  # pylint: disable=protected-access


@pytest.mark.parametrize("shared", [True, False], ids=["shared botocore data", "a loader of its own"])
def test_an_unknown_profile_fails_as_amazon_aws_fails(capsys, monkeypatch, request, shared):
    if shared:
        request.getfixturevalue("shared_data")
    else:
        monkeypatch.setattr(aws_module, "_shared_loader", None)
    with patch_module_args(dict(CONNECTION, access_key=None, secret_key=None, profile="nowhere")), pytest.raises(SystemExit):
        AWSModule(argument_spec={}).client("eks")
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] and result["msg"].startswith("Couldn't connect to AWS") and "nowhere" in result["msg"]


@pytest.fixture
def shared_data(monkeypatch):
    """What ansible-playbook does before it forks the workers (plugin_utils/in_process.py), undone after the test."""
    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    monkeypatch.setattr(aws_module, "_shared_loader", None)
    monkeypatch.setattr(aws_module, "_shared_data_path", None)
    aws_module.share_botocore_data()
    return aws_module._shared_loader  # pylint: disable=protected-access


def test_with_the_shared_data_a_run_reads_only_its_service_model(shared_data, files_read):
    client = make(AWSModule).client("ec2")
    assert files_read and all("/ec2/" in path for path in files_read)
    assert client.meta.endpoint_url == "http://127.0.0.1:9" and client.meta.region_name == "eu-west-1"


def test_without_the_shared_data_a_run_reads_endpoints_and_partitions(files_read, monkeypatch):
    monkeypatch.setattr(aws_module, "_shared_loader", None)  # importing the action plugins' base shares it in this process too
    make(AWSModule).client("ec2")
    assert any("endpoints" in path for path in files_read) and any("partitions" in path for path in files_read)


def test_a_session_with_another_data_path_makes_its_own_loader(shared_data, files_read, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    module = make(AWSModule)
    module.client("ec2")
    assert module.session()._session.get_component("data_loader") is not shared_data  # pylint: disable=protected-access
    assert any("endpoints" in path for path in files_read)


def test_sessions_sharing_the_loader_leave_one_entry_per_data_directory(shared_data):
    for _run in range(3):
        make(AWSModule).client("sts")
    assert len(shared_data.search_paths) == len(set(shared_data.search_paths))
    assert any(path.endswith("/boto3/data") for path in shared_data.search_paths)
