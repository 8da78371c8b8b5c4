import base64
import gzip

import pytest

from ansible_collections.eksnodes.windows.plugins.module_utils.readiness.bootstrap import bootstrap_call, decode_user_data


def b64(text, zipped=False):
    raw = text.encode()
    return base64.b64encode(gzip.compress(raw) if zipped else raw).decode()


TEMPLATE = """<powershell>
[string]$EKSBinDir = "$env:ProgramFiles\\Amazon\\EKS"
[string]$EKSBootstrapScriptName = 'Start-EKSBootstrap.ps1'
[string]$EKSBootstrapScriptFile = "$EKSBinDir\\$EKSBootstrapScriptName"
& $EKSBootstrapScriptFile -EKSClusterName lab -KubeletExtraArgs '--node-labels=a=b' 3>&1 4>&1 5>&1 6>&1
</powershell>"""

EKSCTL = """<powershell>
& $EKSBootstrapScriptFile -EKSClusterName "prod-1" -APIServerEndpoint "https://x" -Base64ClusterCA "abc" 3>&1 4>&1
# Start-EKSBootstrap.ps1
</powershell>"""

VARIABLE = """<powershell>
[string]$ClusterName = 'from-variable'
& 'C:\\Program Files\\Amazon\\EKS\\Start-EKSBootstrap.ps1' -EKSClusterName $ClusterName
</powershell>"""


@pytest.mark.parametrize("text, name", [(TEMPLATE, "lab"), (EKSCTL, "prod-1"), (VARIABLE, "from-variable")])
def test_reads_the_cluster_name_of_windows_bootstraps(text, name):
    assert bootstrap_call(b64(text)) == {"cluster_name": name, "problem": None}


def test_gzipped_user_data_is_read():
    assert bootstrap_call(b64(TEMPLATE, zipped=True))["cluster_name"] == "lab"


def test_a_linux_bootstrap_is_read_too():
    assert bootstrap_call(b64("#!/bin/bash\n/etc/eks/bootstrap.sh my-cluster --kubelet-extra-args x\n"))["cluster_name"] == "my-cluster"


@pytest.mark.parametrize("user_data, problem", [
    (None, "the launch template has no user data"),
    ("", "the launch template has no user data"),
    ("!!!not base64", "the user data cannot be decoded"),
    (b64("echo hello"), "the user data never calls Start-EKSBootstrap.ps1"),
    (b64("& Start-EKSBootstrap.ps1 -EKSClusterName lab"), "the user data calls Start-EKSBootstrap.ps1 outside a <powershell> block"),
    (b64("<powershell>& Start-EKSBootstrap.ps1 -KubeletExtraArgs x</powershell>"), "Start-EKSBootstrap.ps1 is called without -EKSClusterName"),
])
def test_user_data_that_cannot_bootstrap_says_why(user_data, problem):
    assert bootstrap_call(user_data) == {"cluster_name": None, "problem": problem}


def test_decode_tolerates_a_corrupt_gzip():
    assert decode_user_data(base64.b64encode(b"\x1f\x8bnot gzip").decode()) is None
