"""The lab's own clients, served in process (lab/in_process.py), get the answers a client over the network gets, and
go through the same handler: authentication, faults (which spare the lab's clients), write hooks."""

from __future__ import annotations

import json
from typing import Iterator

import pytest
from botocore.exceptions import ClientError
from kubernetes import client
from kubernetes.client.rest import ApiException

from lab import in_process
from lab.aws import AwsLab
from lab.kubeapi import KubeApiServer, TokenAuthenticator
from lab.nodesim import LAB_USER_AGENT, aws_client, kube_api_client

TOKEN = "in-process-admin"


@pytest.fixture(scope="module", name="kube")
def fixture_kube(tmp_path_factory) -> Iterator[KubeApiServer]:
    server = KubeApiServer(tls_dir=tmp_path_factory.mktemp("tls"), authenticator=TokenAuthenticator(static_tokens={TOKEN})).start()
    server.seed({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-a", "labels": {"kubernetes.io/os": "windows"}}})
    yield server
    server.stop()


@pytest.fixture(scope="module", name="aws")
def fixture_aws() -> Iterator[AwsLab]:
    lab = AwsLab(host="127.0.0.1", port=0, region="us-east-1").start()
    lab.seed()
    yield lab
    lab.stop()


def kube_clients(kube: KubeApiServer, token: str = TOKEN, user_agent: str = LAB_USER_AGENT) -> tuple[client.CoreV1Api, client.CoreV1Api]:
    """(over HTTPS, in process)"""
    networked = kube_api_client(kube.url, str(kube.ca_file), token, user_agent)
    in_process.serve_in_process(kube.url, kube.api)
    try:
        local = kube_api_client(kube.url, str(kube.ca_file), token, user_agent)
    finally:
        in_process.stop_serving_in_process(kube.url)
    assert isinstance(local.rest_client.pool_manager, in_process.KubePool)
    return client.CoreV1Api(networked), client.CoreV1Api(local)


def test_kubernetes_reads_writes_and_errors_are_the_servers(kube):
    networked, local = kube_clients(kube)
    assert json.loads(local.list_node(_preload_content=False).data) == json.loads(networked.list_node(_preload_content=False).data)
    assert local.list_node(label_selector="kubernetes.io/os=windows").items[0].metadata.name == "node-a"
    local.create_namespaced_config_map("default", {"metadata": {"name": "written-in-process"}, "data": {"k": "v"}})
    assert networked.read_namespaced_config_map("written-in-process", "default").data == {"k": "v"}
    errors = []
    for api in (networked, local):
        with pytest.raises(ApiException) as raised:
            api.read_namespaced_config_map("absent", "default")
        errors.append((raised.value.status, json.loads(raised.value.body)["reason"]))
    assert errors == [(404, "NotFound")] * 2


def test_a_bug_in_the_server_answers_500_on_both_ways_in(kube, monkeypatch):
    networked, local = kube_clients(kube)

    def broken(request):
        raise RuntimeError(f"broken for {request.path}")

    monkeypatch.setattr(kube.api, "_handle", broken)
    answers = []
    for api in (networked, local):
        with pytest.raises(ApiException) as raised:
            api.list_node()
        answers.append((raised.value.status, json.loads(raised.value.body)["message"]))
    assert answers == [(500, "Internal error occurred: broken for /api/v1/nodes")] * 2


def test_kubernetes_authentication_applies(kube):
    _networked, local = kube_clients(kube, token="not-a-token")
    with pytest.raises(ApiException) as raised:
        local.list_node()
    assert raised.value.status == 401


def test_kubernetes_faults_spare_the_labs_clients_only(kube):
    _networked, lab_client = kube_clients(kube)
    _networked, other = kube_clients(kube, user_agent="someone-else")
    kube.api.faults.add({"method": "GET", "path": "/api/v1/nodes$", "status": 503, "count": 1})
    assert lab_client.list_node().items
    with pytest.raises(ApiException) as raised:
        other.list_node()
    assert raised.value.status == 503


def test_aws_answers_and_write_hooks_are_the_servers(aws):
    writes = []
    aws.app.on_write = lambda: writes.append(1)
    networked = aws_client("ec2", aws.url, "us-east-1", LAB_USER_AGENT)
    in_process.serve_in_process(aws.url, aws.app)
    try:
        local = aws_client("ec2", aws.url, "us-east-1", LAB_USER_AGENT)
    finally:
        in_process.stop_serving_in_process(aws.url)
    assert local.describe_vpcs()["Vpcs"] == networked.describe_vpcs()["Vpcs"]
    assert writes == []
    vpc_id = networked.describe_vpcs()["Vpcs"][0]["VpcId"]
    local.create_tags(Resources=[vpc_id], Tags=[{"Key": "written", "Value": "in-process"}])
    assert writes == [1]
    tags = networked.describe_tags(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["Tags"]
    assert {"Key": "written", "Value": "in-process", "ResourceId": vpc_id, "ResourceType": "vpc"} in tags
    with pytest.raises(ClientError) as raised:
        local.describe_vpcs(VpcIds=["vpc-00000000"])
    assert raised.value.response["Error"]["Code"] == "InvalidVpcID.NotFound"
