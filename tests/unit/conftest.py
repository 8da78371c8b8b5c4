"""Fixtures shared by unit tests that stub AWS calls."""

from types import SimpleNamespace

import boto3
import pytest
from botocore.stub import Stubber


@pytest.fixture
def no_retry_sleep(monkeypatch):
    """AWSRetry backs off with time.sleep; tests of retried calls should not wait."""
    monkeypatch.setattr("ansible_collections.amazon.aws.plugins.module_utils.cloud.time.sleep", lambda seconds: None)


@pytest.fixture
def clients():
    """Stubbed CloudFormation and Auto Scaling clients; every queued response must be used."""
    kwargs = dict(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    cloudformation = boto3.client("cloudformation", **kwargs)
    autoscaling = boto3.client("autoscaling", **kwargs)
    with Stubber(cloudformation) as cfn, Stubber(autoscaling) as asg:
        yield SimpleNamespace(cloudformation=cloudformation, autoscaling=autoscaling, cfn=cfn, asg=asg)
        cfn.assert_no_pending_responses()
        asg.assert_no_pending_responses()
