"""Share-based faults: a share of the Kubernetes and AWS requests fail, repeatably with a seed, never the lab's own."""

from __future__ import annotations

import http.client
import json
import ssl
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lab.control import LabControlError

LAB_USER_AGENT = "eksnodes-lab/1.0"
CONFIG_MAPS = "/api/v1/namespaces/kube-system/configmaps"


@pytest.fixture(name="kube_get")
def fixture_kube_get(lab):
    """One GET to the lab's API server, without any retry: returns its HTTP status."""
    context = ssl.create_default_context(cafile=lab.control.ca_file)
    port = int(lab.control.kube_url.rsplit(":", 1)[1].rstrip("/"))

    def get(path: str, user_agent: str = "pytest") -> int:
        connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
        try:
            connection.request("GET", path, headers={"Authorization": f"Bearer {lab.info['admin_token']}", "User-Agent": user_agent})
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()
    return get


@pytest.fixture(name="aws")
def fixture_aws(lab):
    """boto3 clients without retries (each fault is one failed call), and the lab's own User-Agent on request."""
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=lab.region)

    def client(service: str, user_agent_extra: str | None = None) -> Any:
        config = Config(retries={"total_max_attempts": 1, "mode": "standard"}, user_agent_extra=user_agent_extra)
        return session.client(service, endpoint_url=lab.info["aws"]["url"], config=config)
    return client


@pytest.fixture(name="clean_faults")
def fixture_clean_faults(lab):
    lab.control.clear_kube_faults()
    lab.control.aws.clear_faults()
    yield lab.control
    lab.control.clear_kube_faults()
    lab.control.aws.clear_faults()


def aws_code(call) -> str:
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"]
    return "ok"


def test_a_share_of_matching_kube_requests_fails_with_the_given_statuses(clean_faults, kube_get):
    clean_faults.kube_fault_share(0.5, statuses=(500, 503), method="GET", path=f"^{CONFIG_MAPS}$", seed=7)
    statuses = [kube_get(CONFIG_MAPS) for _request in range(200)]
    failed = [status for status in statuses if status != 200]
    assert 60 <= len(failed) <= 140 and set(failed) == {500, 503}
    assert {kube_get("/api/v1/namespaces") for _request in range(20)} == {200}, "another path is not affected"
    (share,) = clean_faults.kube_faults()
    assert (share["share"], share["seen"], share["injected"]) == (0.5, 200, len(failed))


def test_a_share_of_another_method_leaves_reads_alone(clean_faults, kube_get):
    clean_faults.kube_fault_share(1.0, statuses=(503,), method="PUT", path=f"^{CONFIG_MAPS}")
    assert {kube_get(CONFIG_MAPS) for _request in range(20)} == {200}
    assert clean_faults.kube_faults()[0]["seen"] == 0


def test_the_same_seed_fails_the_same_requests(clean_faults, kube_get):
    runs = []
    for _run in range(2):
        clean_faults.clear_kube_faults()
        clean_faults.kube_fault_share(0.3, statuses=(500, 503, 504), path=f"^{CONFIG_MAPS}$", seed=42)
        runs.append([kube_get(CONFIG_MAPS) for _request in range(60)])
    assert runs[0] == runs[1] and any(status != 200 for status in runs[0])


def test_the_lab_own_clients_are_spared_and_clearing_ends_the_faults(clean_faults, kube_get):
    clean_faults.kube_fault_share(1.0, statuses=(503,), path=f"^{CONFIG_MAPS}$")
    assert {kube_get(CONFIG_MAPS, user_agent=LAB_USER_AGENT) for _request in range(20)} == {200}
    assert kube_get(CONFIG_MAPS) == 503
    clean_faults.clear_kube_faults()
    assert clean_faults.kube_faults() == [] and kube_get(CONFIG_MAPS) == 200


def test_count_faults_come_first_then_the_share(clean_faults, kube_get):
    clean_faults.kube_fault("GET", f"^{CONFIG_MAPS}$", 409, count=1)
    clean_faults.kube_fault_share(1.0, statuses=(504,), path=f"^{CONFIG_MAPS}$")
    assert [kube_get(CONFIG_MAPS) for _request in range(3)] == [409, 504, 504]


@pytest.mark.parametrize("body", [{"share": 1.5}, {"share": 0.5, "statuses": [200]}, {"share": "a lot"}])
def test_invalid_share_faults_are_refused(clean_faults, body):
    with pytest.raises(LabControlError, match="400"):
        clean_faults._request(clean_faults.kube_url, "POST", "/_lab/faults", body)  # pylint: disable=protected-access
    assert clean_faults.kube_faults() == []


def test_an_aws_share_of_one_service_uses_its_throttling_code(clean_faults, aws):
    clean_faults.aws_fault_share(1.0, service="cloudformation")
    assert aws_code(lambda: aws("cloudformation").list_stacks()) == "Throttling"
    assert aws_code(lambda: aws("ec2").describe_vpcs()) == "ok", "another service is not affected"
    assert aws_code(lambda: aws("cloudformation", LAB_USER_AGENT).list_stacks()) == "ok", "the lab's own clients are spared"


def test_an_aws_share_of_every_service_answers_each_with_its_own_code(clean_faults, aws):
    clean_faults.aws_fault_share(1.0)
    assert aws_code(lambda: aws("ec2").describe_vpcs()) == "RequestLimitExceeded"
    assert aws_code(lambda: aws("eks").describe_cluster(name="lab")) == "ThrottlingException"
    assert aws_code(lambda: aws("autoscaling").describe_auto_scaling_groups()) == "Throttling"


def test_an_aws_share_of_one_action_with_a_seed_repeats(clean_faults, aws):
    runs = []
    for _run in range(2):
        clean_faults.aws.clear_faults()
        clean_faults.aws_fault_share(0.3, code="Throttling", service="cloudformation", action="ListStacks", seed=3)
        runs.append([aws_code(lambda: aws("cloudformation").list_stacks()) for _request in range(40)])
        assert aws_code(lambda: aws("cloudformation").describe_stacks()) == "ok", "another action is not affected"
    assert runs[0] == runs[1] and 4 <= runs[0].count("Throttling") <= 24
    (share,) = clean_faults.aws.share_faults()
    assert (share["seen"], share["injected"]) == (40, runs[1].count("Throttling"))


def test_invalid_aws_share_faults_are_refused(clean_faults):
    with pytest.raises(Exception, match="400"):
        clean_faults.aws_fault_share(2.0)
    assert json.dumps(clean_faults.aws.share_faults()) == "[]"
