import base64
from urllib.parse import parse_qs, urlsplit

import boto3

from ansible_collections.eksnodes.windows.plugins.module_utils.kube.token import TokenSource, mint_token


def decode(token):
    assert token.startswith("k8s-aws-v1.")
    payload = token[len("k8s-aws-v1."):]
    return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()


def test_token_is_a_presigned_get_caller_identity_bound_to_the_cluster():
    sts = boto3.client("sts", region_name="eu-west-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
    url = urlsplit(decode(mint_token(sts, "prod")))
    query = parse_qs(url.query)
    assert query["Action"] == ["GetCallerIdentity"]
    assert "x-k8s-aws-id" in query["X-Amz-SignedHeaders"][0].split(";")
    assert query["X-Amz-Expires"] == ["60"]


def test_the_header_does_not_leak_into_other_sts_calls():
    sts = boto3.client("sts", region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
    mint_token(sts, "prod")
    other = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    assert "x-k8s-aws-id" not in parse_qs(urlsplit(other).query)["X-Amz-SignedHeaders"][0]


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


def test_token_source_renews_only_when_old():
    clock = Clock()
    minted = []
    source = TokenSource(lambda: minted.append(1) or f"t{len(minted)}", refresh_after=600, clock=clock)
    assert source.bearer() == "Bearer t1"
    clock.now = 599
    assert source.bearer() == "Bearer t1"
    clock.now = 600
    assert source.bearer() == "Bearer t2"
    assert source.mint_count == 2


def test_refresh_hook_updates_the_configuration():
    clock = Clock()
    source = TokenSource(lambda: "fresh", clock=clock)

    class Configuration:
        api_key = {"authorization": "Bearer stale"}
    configuration = Configuration()
    source.refresh_hook(configuration)
    assert configuration.api_key["authorization"] == "Bearer fresh"
