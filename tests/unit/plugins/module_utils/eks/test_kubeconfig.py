from ansible_collections.eksnodes.windows.plugins.module_utils.eks.kubeconfig import kubeconfig

CLUSTER = {"name": "prod", "arn": "arn:aws:eks:us-east-1:123456789012:cluster/prod", "endpoint": "https://x.eks.amazonaws.com",
           "certificate_authority": "LS0t"}


def test_exec_user_runs_aws_eks_get_token_for_the_cluster_and_region():
    config = kubeconfig(CLUSTER, "us-east-1", profile="ops")
    user = config["users"][0]["user"]["exec"]
    assert user["command"] == "aws"
    assert user["args"] == ["--region", "us-east-1", "eks", "get-token", "--cluster-name", "prod", "--output", "json"]
    assert user["env"] == [{"name": "AWS_PROFILE", "value": "ops"}]
    assert config["clusters"][0]["cluster"] == {"server": "https://x.eks.amazonaws.com", "certificate-authority-data": "LS0t"}
    assert config["current-context"] == CLUSTER["arn"]


def test_token_user_carries_the_token_and_no_exec():
    config = kubeconfig(CLUSTER, "us-east-1", token="k8s-aws-v1.abc")
    assert config["users"][0]["user"] == {"token": "k8s-aws-v1.abc"}
