# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A kubeconfig for an EKS cluster built from its facts, as `aws eks update-kubeconfig` writes one."""

from typing import Any, Dict, Mapping, Optional

EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"


def kubeconfig(cluster: Mapping[str, Any], region: str, token: Optional[str] = None, profile: Optional[str] = None) -> Dict[str, Any]:
    """A kubeconfig document (as a dictionary) for the cluster.

    With a token, the user carries it (it expires after 15 minutes); without, the user runs
    `aws eks get-token` each time a client needs credentials.
    """
    name = cluster["name"]
    arn = cluster.get("arn") or name
    if token:
        user: Dict[str, Any] = {"token": token}
    else:
        command = {
            "apiVersion": EXEC_API_VERSION,
            "command": "aws",
            "args": ["--region", region, "eks", "get-token", "--cluster-name", name, "--output", "json"],
        }
        if profile:
            command["env"] = [{"name": "AWS_PROFILE", "value": profile}]
        user = {"exec": command}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "current-context": arn,
        "clusters": [{"name": arn, "cluster": {"server": cluster["endpoint"], "certificate-authority-data": cluster["certificate_authority"]}}],
        "users": [{"name": arn, "user": user}],
        "contexts": [{"name": arn, "context": {"cluster": arn, "user": arn}}],
    }
