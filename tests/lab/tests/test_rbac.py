"""The lab API server's RBAC authorizer (enforcing mode): rule matching, bindings, and 403s as kube-apiserver words them.

The evaluator is tested on its own with the shipped manifest (docs/iam/kubernetes-rbac.yaml), then through HTTP
with EKS tokens mapped to the manifest's group, as the enforcing lab serves the collection.
"""
from __future__ import annotations

import json

import boto3
import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from lab.kubeapi import KubeApiServer, TokenAuthenticator, mint_eks_token
from lab.kubeapi.auth import Identity
from lab.kubeapi.rbac import Attributes, RbacAuthorizer, forbidden_message, request_attributes, rule_allows
from lab.kubeapi.routing import parse_resource_path
from lab.least_privilege import KUBERNETES_GROUP, rbac_objects

OPERATOR = Identity("eksnodes", (KUBERNETES_GROUP, "system:authenticated"))
STRANGER = Identity("someone", ("system:authenticated",))
MAPPED_KEY = "AKIAOPERATOR00000001"
ADMIN_TOKEN = "rbac-admin-token"


class _Store:
    """What the authorizer reads: RBAC objects by plural and namespace."""

    def __init__(self, objects):
        self.objects = list(objects)

    def list(self, resource, namespace=None):
        return [obj for obj in self.objects if obj["kind"].lower() + "s" == resource.plural
                and (namespace is None or obj["metadata"].get("namespace") == namespace)]


@pytest.fixture(scope="module")
def authorizer():
    return RbacAuthorizer(_Store(rbac_objects()))


def attributes(method, path, query=None):
    return request_attributes(method, query or {}, parse_resource_path(path))


@pytest.mark.parametrize("method,path,query", [
    ("GET", "/api/v1/namespaces/kube-system/configmaps/aws-auth", {}),
    ("PUT", "/api/v1/namespaces/kube-system/configmaps/aws-auth", {}),
    ("PATCH", "/api/v1/namespaces/kube-system/configmaps/amazon-vpc-cni", {}),
    ("POST", "/api/v1/namespaces/kube-system/configmaps", {}),
    ("GET", "/api/v1/nodes", {}),
    ("GET", "/api/v1/nodes", {"watch": "true"}),
    ("PATCH", "/api/v1/nodes/ip-10-0-0-5.ec2.internal", {}),
    ("GET", "/api/v1/pods", {"fieldSelector": "spec.nodeName=ip-10-0-0-5.ec2.internal"}),
    ("POST", "/api/v1/namespaces/default/pods/web-1/eviction", {}),
    ("GET", "/apis/policy/v1/namespaces/default/poddisruptionbudgets", {}),
    ("GET", "/apis/apps/v1/namespaces/kube-system/deployments/coredns", {}),
])
def test_the_manifest_allows_what_the_collection_does(authorizer, method, path, query):
    assert authorizer.allowed(OPERATOR, attributes(method, path, query))


@pytest.mark.parametrize("method,path,query", [
    ("GET", "/api/v1/namespaces/kube-system/configmaps/coredns", {}),        # another ConfigMap of kube-system
    ("GET", "/api/v1/namespaces/kube-system/configmaps", {}),                # listing: a rule with names never covers it
    ("DELETE", "/api/v1/namespaces/kube-system/configmaps/aws-auth", {}),
    ("GET", "/api/v1/namespaces/default/configmaps/aws-auth", {}),           # the Role binds in kube-system only
    ("DELETE", "/api/v1/nodes/ip-10-0-0-5.ec2.internal", {}),
    ("DELETE", "/api/v1/namespaces/default/pods/web-1", {}),                 # drain evicts, it never deletes
    ("GET", "/api/v1/namespaces/default/secrets/token", {}),
    ("PATCH", "/apis/apps/v1/namespaces/kube-system/deployments/coredns", {}),
    ("PUT", "/api/v1/nodes/ip-10-0-0-5.ec2.internal/status", {}),            # nodes does not cover nodes/status
])
def test_the_manifest_refuses_everything_else(authorizer, method, path, query):
    assert not authorizer.allowed(OPERATOR, attributes(method, path, query))


def test_bindings_apply_to_their_subjects_only(authorizer):
    wanted = attributes("GET", "/api/v1/namespaces/kube-system/configmaps/aws-auth")
    assert not authorizer.allowed(STRANGER, wanted)
    assert authorizer.allowed(Identity("admin", ("system:masters",)), attributes("DELETE", "/api/v1/nodes/x"))
    user_binding = {"kind": "ClusterRoleBinding", "metadata": {"name": "one-user"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "eksnodes:operator"},
                    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "someone"}]}
    with_user = RbacAuthorizer(_Store(rbac_objects() + [user_binding]))
    assert with_user.allowed(STRANGER, attributes("GET", "/api/v1/nodes"))
    assert not with_user.allowed(STRANGER, wanted)  # the ClusterRole does not hold the kube-system Role's rules


@pytest.mark.parametrize("rule,wanted,allowed", [
    ({"apiGroups": [""], "resources": ["pods/*"], "verbs": ["create"]}, Attributes("create", "", "pods", "eviction", "ns", "p"), True),
    ({"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}, Attributes("create", "", "pods", "eviction", "ns", "p"), False),
    ({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, Attributes("delete", "apps", "deployments", "", "ns", "d"), True),
    ({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]}, Attributes("get", "", "deployments", "", "ns", "d"), False),
    ({"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"], "verbs": ["list"]},
     Attributes("list", "", "configmaps", "", "ns", ""), False),
    ({"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"], "verbs": ["watch"]},
     Attributes("watch", "", "configmaps", "", "ns", "a"), True),
])
def test_rule_matching(rule, wanted, allowed):
    assert rule_allows(rule, wanted) is allowed


def test_forbidden_messages_are_kube_apiservers():
    named = attributes("GET", "/api/v1/namespaces/kube-system/configmaps/coredns")
    assert forbidden_message(STRANGER, named) == ('configmaps "coredns" is forbidden: User "someone" cannot get resource "configmaps" '
                                                  'in API group "" in the namespace "kube-system"')
    cluster = attributes("GET", "/api/v1/nodes")
    assert forbidden_message(STRANGER, cluster) == 'nodes is forbidden: User "someone" cannot list resource "nodes" in API group "" at the cluster scope'
    eviction = attributes("POST", "/api/v1/namespaces/default/pods/web-1/eviction")
    assert forbidden_message(STRANGER, eviction) == ('pods "web-1" is forbidden: User "someone" cannot create resource "pods/eviction" '
                                                     'in API group "" in the namespace "default"')
    grouped = attributes("GET", "/apis/apps/v1/namespaces/kube-system/deployments")
    assert forbidden_message(STRANGER, grouped) == ('deployments.apps is forbidden: User "someone" cannot list resource "deployments" '
                                                    'in API group "apps" in the namespace "kube-system"')


# ------------------------------------------------------------------------------- through HTTP with EKS tokens


@pytest.fixture(scope="module")
def rbac_server(tmp_path_factory):
    def resolve(access_key_id):
        return Identity("eksnodes", (KUBERNETES_GROUP,)) if access_key_id == MAPPED_KEY else None

    authenticator = TokenAuthenticator(static_tokens={ADMIN_TOKEN}, principal_resolver=resolve)
    server = KubeApiServer(tls_dir=tmp_path_factory.mktemp("rbac-tls"), authenticator=authenticator, rbac=True).start()
    for obj in [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}},
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "aws-auth", "namespace": "kube-system"}, "data": {"mapRoles": "[]"}},
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "coredns", "namespace": "kube-system"}, "data": {"Corefile": "."}},
                *rbac_objects()]:
        server.seed(obj)
    yield server
    server.stop()


def core_api(server, token):
    configuration = client.Configuration()
    configuration.host = server.url
    configuration.ssl_ca_cert = str(server.ca_file)
    configuration.api_key = {"authorization": f"Bearer {token}"}
    return client.CoreV1Api(client.ApiClient(configuration))


def eks_token(access_key_id):
    sts = boto3.client("sts", region_name="us-east-1", aws_access_key_id=access_key_id, aws_secret_access_key="secret",
                       endpoint_url="http://127.0.0.1:1")
    return mint_eks_token(sts, "lab")


def test_a_mapped_eks_identity_gets_what_its_group_is_bound_to(rbac_server):
    core = core_api(rbac_server, eks_token(MAPPED_KEY))
    assert core.read_namespaced_config_map("aws-auth", "kube-system").data == {"mapRoles": "[]"}
    core.list_node()
    before = core_api(rbac_server, ADMIN_TOKEN).read_namespaced_config_map("coredns", "kube-system")
    with pytest.raises(ApiException) as refused:
        core.patch_namespaced_config_map("coredns", "kube-system", {"data": {"Corefile": "changed"}})
    assert refused.value.status == 403
    status = json.loads(refused.value.body)
    assert (status["reason"], status["message"]) == ("Forbidden", 'configmaps "coredns" is forbidden: User "eksnodes" cannot patch resource '
                                                                  '"configmaps" in API group "" in the namespace "kube-system"')
    after = core_api(rbac_server, ADMIN_TOKEN).read_namespaced_config_map("coredns", "kube-system")
    assert (after.data, after.metadata.resource_version) == (before.data, before.metadata.resource_version)


def test_an_unmapped_eks_identity_is_unauthorized(rbac_server):
    with pytest.raises(ApiException) as refused:
        core_api(rbac_server, eks_token("AKIASTRANGER00000001")).list_node()
    assert refused.value.status == 401
