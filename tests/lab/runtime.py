"""The lab orchestrator: starts every part in one process and writes the state directory.

``LabRuntime`` starts the Kubernetes API server, the AWS endpoint, the node simulator, the lab
controllers and the control endpoint (simulator knobs), seeds the Kubernetes side as an EKS cluster
with one Linux node group looks, and writes ``ca.crt``, ``kubeconfig``, ``env`` and finally
``lab.json`` (its presence means "ready").  ``serve`` runs it until SIGTERM; ``start_detached`` /
``stop_process`` run ``python -m lab serve`` as a separate process (used by ``up``/``down`` and the
pytest plugin).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import os
import secrets
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Mapping, Optional
from urllib.parse import parse_qs, urlsplit

import yaml

LOG = logging.getLogger("lab.runtime")

CLUSTER_NAME = "lab"
ACCOUNT_ID = "123456789012"
AUTH_MODES = ("CONFIG_MAP", "API_AND_CONFIG_MAP", "API")
TESTS_DIR = Path(__file__).resolve().parent.parent
ADMIN_USER = "lab-admin"
LAB_JSON = "lab.json"
LAB_PID = "lab.pid"
LAB_LOG = "lab.log"


class LabError(Exception):
    """The lab could not be started, found or stopped."""


@dataclass
class LabOptions:
    """How to run a lab; the same fields are ``python -m lab serve`` options."""

    state_dir: Path
    kubernetes_version: str = "1.31"
    auth_mode: str = "CONFIG_MAP"
    join_delay: float = 3.0
    ready_delay: float = 1.0
    managed_vpc_cni: bool = False
    eks_token_ttl: int = 900
    region: str = "us-east-1"
    host: str = "127.0.0.1"
    parent_pid: Optional[int] = None      # stop when this process is gone (labs started by a test session)
    enforce_iam: bool = False             # clients get users holding only docs/iam's policies; AWS IAM and RBAC enforced
    ip_family: str = "ipv4"               # the cluster's (kubernetesNetworkConfig.ipFamily)

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir).resolve()
        if self.auth_mode not in AUTH_MODES:
            raise LabError(f"auth mode must be one of {', '.join(AUTH_MODES)}, not {self.auth_mode!r}")

    def serve_args(self) -> list[str]:
        args = ["--state-dir", str(self.state_dir), "--kubernetes-version", self.kubernetes_version, "--auth-mode", self.auth_mode,
                "--join-delay", str(self.join_delay), "--ready-delay", str(self.ready_delay), "--eks-token-ttl", str(self.eks_token_ttl),
                "--region", self.region, "--host", self.host]
        args += ["--managed-vpc-cni"] if self.managed_vpc_cni else []
        args += ["--enforce-iam"] if self.enforce_iam else []
        args += ["--ip-family", self.ip_family] if self.ip_family != "ipv4" else []
        return args + (["--parent-pid", str(self.parent_pid)] if self.parent_pid else [])


# --------------------------------------------------------------------------- state files


def write_atomically(path: Path, text: str, mode: int = 0o644) -> None:
    """Readers never see a half-written file: write a sibling, then rename over."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def lab_env(info: Mapping[str, Any]) -> dict[str, str]:
    """The environment a client of the lab needs (``env`` file, pytest ``Lab.env``)."""
    state_dir = info["state_dir"]
    kubeconfig = str(Path(state_dir) / "kubeconfig")
    launch_user = (info.get("iam") or {}).get("users", {}).get("launch")
    if launch_user:  # enforcing mode: the launch user's key, and no admin kubeconfig (the collection mints EKS tokens)
        return {
            "AWS_ENDPOINT_URL": info["aws"]["url"], "AWS_ACCESS_KEY_ID": launch_user["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": launch_user["secret_access_key"], "AWS_DEFAULT_REGION": info["region"], "AWS_REGION": info["region"],
            "AWS_EC2_METADATA_DISABLED": "true", "LAB_STATE_DIR": state_dir, "LAB_CONTROL_URL": info["control"]["url"],
        }
    return {
        "AWS_ENDPOINT_URL": info["aws"]["url"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": info["region"],
        "AWS_REGION": info["region"],
        "AWS_EC2_METADATA_DISABLED": "true",
        "KUBECONFIG": kubeconfig,
        "K8S_AUTH_KUBECONFIG": kubeconfig,
        "LAB_STATE_DIR": state_dir,
        "LAB_CONTROL_URL": info["control"]["url"],
    }


def kubeconfig_text(url: str, ca_pem: str, token: str) -> str:
    config = {
        "apiVersion": "v1", "kind": "Config", "preferences": {}, "current-context": CLUSTER_NAME,
        "clusters": [{"name": CLUSTER_NAME, "cluster": {"server": url, "certificate-authority-data": base64.b64encode(ca_pem.encode()).decode()}}],
        "users": [{"name": ADMIN_USER, "user": {"token": token}}],
        "contexts": [{"name": CLUSTER_NAME, "context": {"cluster": CLUSTER_NAME, "user": ADMIN_USER}}],
    }
    return yaml.safe_dump(config, sort_keys=False)


def env_text(env: Mapping[str, str]) -> str:
    return "".join(f"export {key}={shlex.quote(value)}\n" for key, value in env.items())


def read_info(state_dir: Path) -> Optional[dict]:
    """lab.json of a running (or crashed) lab, or None."""
    try:
        return json.loads((Path(state_dir) / LAB_JSON).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def as_dict(facts: Any) -> dict:
    if dataclasses.is_dataclass(facts) and not isinstance(facts, type):
        return dataclasses.asdict(facts)
    if hasattr(facts, "_asdict"):
        return dict(facts._asdict())
    return dict(facts)


# --------------------------------------------------------------------------- process helpers


def pid_alive(pid: int) -> bool:
    """True for a live process; a zombie (exited, not yet reaped) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[-1].split()
    except OSError:
        return True
    return not fields or fields[0] != "Z"


def log_tail(state_dir: Path, lines: int = 30) -> str:
    try:
        return "\n".join((Path(state_dir) / LAB_LOG).read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no lab.log)"


def start_detached(options: LabOptions, timeout: float = 60.0, forked: bool = False) -> tuple[Any, dict, float]:
    """Start ``python -m lab serve`` in its own session; wait until lab.json appears.

    forked: the lab is forked from the zygote of this process (lab/zygote.py), which has imported the lab
    already, instead of started as a new interpreter; the process returned then is a ``zygote.ForkedProcess``.
    Returns (process, lab.json contents, seconds until ready).  Raises LabError with the end of
    lab.log if the process dies or does not get ready in time.
    """
    state_dir = options.state_dir
    state_dir.mkdir(parents=True, exist_ok=True)
    running = read_info(state_dir)
    if running and pid_alive(int(running.get("pid", 0))):
        raise LabError(f"a lab is already running from {state_dir} (pid {running['pid']}); run 'python -m lab down' first")
    (state_dir / LAB_JSON).unlink(missing_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS_DIR)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    started = time.monotonic()
    (state_dir / LAB_LOG).write_bytes(b"")
    # O_APPEND, so that the child's stdout and its log handler never overwrite each other's lines.
    if forked:
        from lab.zygote import fork_lab  # pylint: disable=import-outside-toplevel
        process = fork_lab(["serve", *options.serve_args()], cwd=str(state_dir), log=str(state_dir / LAB_LOG), env=env)
    else:
        with open(state_dir / LAB_LOG, "ab") as log:
            process = subprocess.Popen([sys.executable, "-m", "lab", "serve", *options.serve_args()], stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, env=env, cwd=str(state_dir), start_new_session=True)
    while True:
        info = read_info(state_dir)
        if info and info.get("pid") == process.pid:
            return process, info, time.monotonic() - started
        if process.poll() is not None:
            raise LabError(f"the lab exited with code {process.returncode} before it was ready; end of {state_dir / LAB_LOG}:\n{log_tail(state_dir)}")
        if time.monotonic() - started > timeout:
            stop_process(process)
            raise LabError(f"the lab was not ready after {timeout:.0f}s; end of {state_dir / LAB_LOG}:\n{log_tail(state_dir)}")
        time.sleep(0.02)


def stop_process(process: Any, timeout: float = 15.0) -> None:
    """SIGTERM a lab we started, wait, and SIGKILL it if it does not stop."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def stop_pid(state_dir: Path, timeout: float = 15.0) -> Optional[int]:
    """SIGTERM the lab serving ``state_dir`` (by the pid it recorded) and wait; None if none runs."""
    info = read_info(state_dir) or {}
    pid = info.get("pid")
    if pid is None:
        try:
            pid = int((Path(state_dir) / LAB_PID).read_text(encoding="utf-8").strip())
        except (FileNotFoundError, ValueError):
            return None
    if not pid_alive(pid):
        (Path(state_dir) / LAB_JSON).unlink(missing_ok=True)
        (Path(state_dir) / LAB_PID).unlink(missing_ok=True)
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            raise LabError(f"lab pid {pid} did not stop within {timeout:.0f}s after SIGTERM")
        time.sleep(0.05)
    return pid


# --------------------------------------------------------------------------- the control endpoint


class ControlServer:
    """``/_lab/healthz``, ``/_lab/info`` and ``/_lab/nodesim`` (GET status, POST knobs) on a free port."""

    def __init__(self, runtime: "LabRuntime", host: str) -> None:
        self.runtime = runtime
        handler = type("LabControlHandler", (_ControlHandler,), {"runtime": runtime})
        self.httpd = ThreadingHTTPServer((host, 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="lab-control", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def lifecycle_entries(request_path: str) -> dict:
    """``GET /_lab/lifecycle?since=<seq>&kind=eviction,pod_delete``: the lifecycle record (see lab/lifecycle.py)."""
    from lab.lifecycle import LIFECYCLE  # pylint: disable=import-outside-toplevel
    query = parse_qs(urlsplit(request_path).query)
    since = int((query.get("since") or ["0"])[0] or 0)
    kinds = [kind for value in query.get("kind") or [] for kind in value.split(",") if kind]
    return {"last_seq": LIFECYCLE.last_seq, "entries": LIFECYCLE.entries(since, kinds or None)}


class _ControlHandler(BaseHTTPRequestHandler):
    runtime: "LabRuntime"
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # pylint: disable=redefined-builtin
        LOG.debug("control: " + format, *args)

    def _reply(self, code: int, body: Any) -> None:
        data = json.dumps(body, default=str).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}") if length else {}

    def do_GET(self) -> None:  # pylint: disable=invalid-name
        path = self.path.split("?", 1)[0]
        if path == "/_lab/healthz":
            self._reply(200, {"ok": True})
        elif path == "/_lab/info":
            self._reply(200, self.runtime.info)
        elif path == "/_lab/nodesim":
            self._reply(200, self.runtime.nodesim_status())
        elif path == "/_lab/lifecycle":
            try:
                self._reply(200, lifecycle_entries(self.path))
            except ValueError as err:
                self._reply(400, {"error": f"since must be an integer: {err}"})
        else:
            self._reply(404, {"error": f"no such control path {path}"})

    def do_POST(self) -> None:  # pylint: disable=invalid-name
        path = self.path.split("?", 1)[0]
        try:
            body = self._body()
        except ValueError as err:
            self._reply(400, {"error": f"body is not JSON: {err}"})
            return
        if path == "/_lab/nodesim":
            try:
                self._reply(200, self.runtime.set_knobs(body if isinstance(body, dict) else {}))
            except ValueError as err:
                self._reply(400, {"error": str(err)})
        elif path == "/_lab/reconcile":
            self.runtime.poke()
            self._reply(200, {"ok": True})
        else:
            self._reply(404, {"error": f"no such control path {path}"})


# --------------------------------------------------------------------------- seeding


AWS_NODE_IMAGE = "602401143452.dkr.ecr.{region}.amazonaws.com/amazon-k8s-cni:v1.19.2-eksbuild.1"
LINUX_ONLY_AFFINITY = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [
    {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
    {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]},
    {"key": "eks.amazonaws.com/compute-type", "operator": "NotIn", "values": ["fargate", "hybrid", "auto"]}]}]}}}


def _meta(name: str, namespace: Optional[str] = None, labels: Optional[Mapping[str, str]] = None) -> dict:
    meta: dict = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    return meta


def aws_auth_config_map(linux_role_arn: str) -> dict:
    map_roles = [{"rolearn": linux_role_arn, "username": "system:node:{{EC2PrivateDNSName}}", "groups": ["system:bootstrappers", "system:nodes"]}]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("aws-auth", "kube-system"),
            "data": {"mapRoles": yaml.safe_dump(map_roles, default_flow_style=False, sort_keys=False)}}


def vpc_cni_config_map() -> dict:
    from lab.controllers import VPC_CNI_DEFAULTS  # pylint: disable=import-outside-toplevel
    return {"apiVersion": "v1", "kind": "ConfigMap", "data": dict(VPC_CNI_DEFAULTS),
            "metadata": _meta("amazon-vpc-cni", "kube-system", {"app.kubernetes.io/name": "aws-node", "app.kubernetes.io/instance": "aws-vpc-cni"})}


def linux_node(view: Any, region: str, facts: Mapping[str, Any], kubernetes_version: str) -> dict:
    """The Ready Node of the seeded Linux instance, built as the simulator builds nodes."""
    from lab.nodesim import Candidate, Identity, build_node, node_conditions  # pylint: disable=import-outside-toplevel
    instance = view.ec2.describe_instances(InstanceIds=[facts["linux_instance_id"]])["Reservations"][0]["Instances"][0]
    image = view.image(instance.get("ImageId", "")) or {}
    candidate = Candidate(instance=instance, asg_name="", os_family="linux", ami_name=image.get("Name") or "amazon-eks-node-al2023",
                          identity=Identity(source="aws-auth", groups=("system:bootstrappers", "system:nodes"), kube_proxy_windows=False))
    candidate.instance["PrivateDnsName"] = facts.get("linux_node_name") or instance.get("PrivateDnsName")
    node = build_node(candidate, region, kubernetes_version, view.instance_type(instance.get("InstanceType", "")))
    node["status"]["conditions"] = node_conditions("True", "KubeletReady", "kubelet is posting ready status")
    if facts.get("linux_nodegroup_name"):  # a managed node group's node carries these
        node["metadata"]["labels"].update({"eks.amazonaws.com/nodegroup": facts["linux_nodegroup_name"], "eks.amazonaws.com/capacityType": "ON_DEMAND",
                                           "eks.amazonaws.com/nodegroup-image": instance.get("ImageId", "")})
    return node


def _deployment_status(replicas: int) -> dict:
    return {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
            "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."},
                           {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                            "message": 'ReplicaSet "coredns" has successfully progressed.'}]}


def coredns_objects(region: str, dns_ip: str) -> list:
    labels = {"k8s-app": "kube-dns", "eks.amazonaws.com/component": "coredns"}
    pod_spec = {"serviceAccountName": "coredns", "priorityClassName": "system-cluster-critical", "nodeSelector": {"kubernetes.io/os": "linux"},
                "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}, {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
                "containers": [{"name": "coredns", "image": f"602401143452.dkr.ecr.{region}.amazonaws.com/eks/coredns:v1.11.3-eksbuild.2",
                                "args": ["-conf", "/etc/coredns/Corefile"],
                                "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                          {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"}]}]}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta("coredns", "kube-system", {"k8s-app": "kube-dns"})},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta("coredns", "kube-system", labels),
         "spec": {"replicas": 2, "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": pod_spec}},
         "status": _deployment_status(2)},
        {"apiVersion": "v1", "kind": "Service", "metadata": _meta("kube-dns", "kube-system", {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}),
         "spec": {"selector": {"k8s-app": "kube-dns"}, "clusterIP": dns_ip, "clusterIPs": [dns_ip], "type": "ClusterIP",
                  "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                            {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]}},
    ]


def daemonset_objects(region: str, kubernetes_version: str) -> list:
    all_taints = [{"operator": "Exists"}]
    aws_node_labels = {"k8s-app": "aws-node"}
    proxy_labels = {"k8s-app": "kube-proxy"}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta("aws-node", "kube-system", {"app.kubernetes.io/name": "aws-node"})},
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": _meta("aws-node", "kube-system", aws_node_labels),
         "spec": {"selector": {"matchLabels": aws_node_labels}, "template": {"metadata": {"labels": aws_node_labels}, "spec": {
             "serviceAccountName": "aws-node", "hostNetwork": True, "priorityClassName": "system-node-critical", "tolerations": all_taints,
             "affinity": LINUX_ONLY_AFFINITY,
             "containers": [{"name": "aws-node", "image": AWS_NODE_IMAGE.format(region=region)}]}}}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta("kube-proxy", "kube-system", {"eks.amazonaws.com/component": "kube-proxy"})},
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": _meta("kube-proxy", "kube-system", proxy_labels),
         "spec": {"selector": {"matchLabels": proxy_labels}, "template": {"metadata": {"labels": proxy_labels}, "spec": {
             "serviceAccountName": "kube-proxy", "hostNetwork": True, "priorityClassName": "system-node-critical", "tolerations": all_taints,
             "affinity": LINUX_ONLY_AFFINITY,
             "containers": [{"name": "kube-proxy",
                             "image": f"602401143452.dkr.ecr.{region}.amazonaws.com/eks/kube-proxy:v{kubernetes_version}.2-minimal-eksbuild.3"}]}}}},
    ]


def rbac_objects() -> list:
    """The binding EKS creates so that Windows kube-proxy (group eks:kube-proxy-windows) may run."""
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": _meta("eks:kube-proxy-windows", labels={"eks.amazonaws.com/component": "kube-proxy"}),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:node-proxier"},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "eks:kube-proxy-windows"}]},
    ]


def cluster_objects(aws_url: str, options: LabOptions, facts: Mapping[str, Any]) -> list:
    """What a fresh EKS cluster with one Linux self-managed node group has on its Kubernetes side."""
    from lab.nodesim import AwsView  # pylint: disable=import-outside-toplevel
    view = AwsView(aws_url, options.region)
    cluster = view.cluster(CLUSTER_NAME) or {}
    service_cidr = (cluster.get("kubernetesNetworkConfig") or {}).get("serviceIpv4Cidr") or "10.100.0.0/16"
    dns_ip = service_cidr.split("/", 1)[0].rsplit(".", 1)[0] + ".10"
    objects: list = [{"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(name)}
                     for name in ("default", "kube-system", "kube-public", "kube-node-lease")]
    if options.auth_mode != "API":
        objects.append(aws_auth_config_map(facts["linux_node_role_arn"]))
    objects.append(vpc_cni_config_map())
    objects.append(linux_node(view, options.region, facts, options.kubernetes_version))
    objects += coredns_objects(options.region, dns_ip)
    objects += daemonset_objects(options.region, options.kubernetes_version)
    objects += rbac_objects()
    return objects


# --------------------------------------------------------------------------- the runtime


class LabRuntime:
    """All parts of the lab in this process."""

    def __init__(self, options: LabOptions) -> None:
        self.options = options
        self.state_dir = options.state_dir
        self.admin_token = secrets.token_urlsafe(32)
        self.info: dict = {}
        self.kube: Any = None
        self.aws: Any = None
        self.nodesim: Any = None
        self.controllers: Any = None
        self.control: Optional[ControlServer] = None
        self.knobs: Any = None
        self.activity: Any = None
        self.iam_users: dict = {}
        self._info_lock = threading.Lock()

    def start(self) -> dict:
        """Start everything, seed, write the state files; return lab.json's contents."""
        started = time.monotonic()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / LAB_JSON).unlink(missing_ok=True)
        self._start_kube()
        ca_file = self.state_dir / "ca.crt"
        write_atomically(ca_file, self.kube.ca_pem)
        LOG.info("API server %s up at %.2fs", self.kube.url, time.monotonic() - started)
        facts = self._start_aws()
        LOG.info("AWS %s up and seeded at %.2fs", self.aws.url, time.monotonic() - started)
        objects = cluster_objects(self.aws.url, self.options, facts)
        if self.options.enforce_iam:
            objects += self._least_privilege(objects)
        for obj in objects:
            self.kube.seed(obj)
        if self.options.enforce_iam:
            self.aws.enable_iam()
        LOG.info("Kubernetes side seeded at %.2fs", time.monotonic() - started)
        self._start_loops(str(ca_file))
        self.control = ControlServer(self, self.options.host)
        self.control.start()
        self.info = self._info(facts, time.monotonic() - started)
        write_atomically(self.state_dir / "kubeconfig", kubeconfig_text(self.kube.url, self.kube.ca_pem, self.admin_token), 0o600)
        write_atomically(self.state_dir / "env", env_text(lab_env(self.info)))
        write_atomically(self.state_dir / LAB_JSON, json.dumps(self.info, indent=2, default=str), 0o600)
        LOG.info("lab ready in %.2fs (state dir %s)", self.info["startup_seconds"], self.state_dir)
        return self.info

    def _start_kube(self) -> None:
        from lab.kubeapi import KubeApiServer  # pylint: disable=import-outside-toplevel
        from lab.kubeapi.auth import TokenAuthenticator  # pylint: disable=import-outside-toplevel
        resolver = None
        if self.options.enforce_iam:
            from lab.kubeapi.resources import lookup  # pylint: disable=import-outside-toplevel
            from lab.least_privilege import eks_identity_resolver  # pylint: disable=import-outside-toplevel
            config_maps = lookup("", "v1", "configmaps")
            resolver = eks_identity_resolver(ACCOUNT_ID, self.options.region, CLUSTER_NAME, self.options.auth_mode,
                                             lambda: self.kube.store.get(config_maps, "kube-system", "aws-auth"))
        authenticator = TokenAuthenticator(static_tokens={self.admin_token}, eks_token_ttl_seconds=self.options.eks_token_ttl,
                                           principal_resolver=resolver)
        self.kube = KubeApiServer(host=self.options.host, port=0, tls_dir=self.state_dir / "tls", authenticator=authenticator,
                                  kubernetes_version=self.options.kubernetes_version, rbac=self.options.enforce_iam)
        self.kube.start()

    def _start_aws(self) -> dict:
        from lab.aws import AwsLab  # pylint: disable=import-outside-toplevel
        self.aws = AwsLab(host=self.options.host, port=0, region=self.options.region, kubernetes_version=self.options.kubernetes_version,
                          authentication_mode=self.options.auth_mode, kube_endpoint=self.kube.url, kube_ca_pem=self.kube.ca_pem,
                          managed_vpc_cni=self.options.managed_vpc_cni, ip_family=self.options.ip_family)
        self.aws.start()
        return as_dict(self.aws.seed())

    def _least_privilege(self, objects: list) -> list:
        """Create the users of docs/iam's policies and map them (see lab/least_privilege.py); the RBAC objects to seed."""
        from lab import least_privilege  # pylint: disable=import-outside-toplevel
        from lab.nodesim import aws_client  # pylint: disable=import-outside-toplevel
        self.iam_users = least_privilege.create_users(aws_client("iam", self.aws.url, self.options.region))
        for obj in objects:
            if obj.get("kind") == "ConfigMap" and obj["metadata"]["name"] == "aws-auth":
                least_privilege.map_users(obj, self.iam_users)
        if self.options.auth_mode != "CONFIG_MAP":
            least_privilege.create_access_entries(aws_client("eks", self.aws.url, self.options.region), CLUSTER_NAME, self.iam_users)
        return least_privilege.rbac_objects()

    def _start_loops(self, ca_file: str) -> None:
        from lab.controllers import LabControllers  # pylint: disable=import-outside-toplevel
        from lab.nodesim import Activity, Knobs, NodeSimulator, kube_api_client  # pylint: disable=import-outside-toplevel
        from lab.in_process import serve_in_process  # pylint: disable=import-outside-toplevel

        serve_in_process(self.aws.url, self.aws.app)
        serve_in_process(self.kube.url, self.kube.api)

        def client_factory() -> Any:
            return kube_api_client(self.kube.url, ca_file, self.admin_token)

        self.knobs = Knobs(join_delay=self.options.join_delay, ready_delay=self.options.ready_delay)
        self.activity = Activity()
        self.kube.store.on_change = self.activity.touch
        self.aws.app.on_write = self.activity.touch
        common = {"aws_url": self.aws.url, "region": self.options.region, "cluster_name": CLUSTER_NAME,
                  "kube_client_factory": client_factory, "knobs": self.knobs, "activity": self.activity}
        self.nodesim = NodeSimulator(**common)
        self.controllers = LabControllers(**common)
        self.nodesim.start()
        self.controllers.start()

    def _info(self, facts: Mapping[str, Any], startup_seconds: float) -> dict:
        assert self.control is not None
        return {
            "pid": os.getpid(), "state_dir": str(self.state_dir), "started_at": time.time(), "startup_seconds": round(startup_seconds, 3),
            "cluster_name": CLUSTER_NAME, "region": self.options.region, "account_id": ACCOUNT_ID,
            "kubernetes_version": self.options.kubernetes_version, "auth_mode": self.options.auth_mode,
            "managed_vpc_cni": self.options.managed_vpc_cni, "eks_token_ttl": self.options.eks_token_ttl,
            "kube": {"url": self.kube.url, "port": _port(self.kube.url), "ca_file": str(self.state_dir / "ca.crt")},
            "aws": {"url": self.aws.url, "port": _port(self.aws.url)},
            "control": {"url": self.control.url, "port": _port(self.control.url)},
            "admin_token": self.admin_token,
            "kubeconfig": str(self.state_dir / "kubeconfig"), "env_file": str(self.state_dir / "env"), "log": str(self.state_dir / LAB_LOG),
            "knobs": dataclasses.asdict(self.knobs),
            "facts": dict(facts),
            **({"iam": {"enforced": True, "users": self.iam_users, "kubernetes_group": "eksnodes:operators"}} if self.options.enforce_iam else {}),
        }

    # control-endpoint operations -----------------------------------------------------------------
    def nodesim_status(self) -> dict:
        status = self.nodesim.status()
        status["controllers_last_error"] = self.controllers.last_error
        status["controllers_passes"] = self.controllers.passes
        return status

    def set_knobs(self, values: Mapping[str, Any]) -> dict:
        knobs = self.knobs.update(values)
        with self._info_lock:
            self.info["knobs"] = knobs
            write_atomically(self.state_dir / LAB_JSON, json.dumps(self.info, indent=2, default=str), 0o600)
        LOG.info("knobs now %s", knobs)
        self.poke()
        return knobs

    def poke(self) -> None:
        self.activity.touch()
        self.nodesim.poke()
        self.controllers.poke()

    def stop(self) -> None:
        """Stop in reverse order; each part is stopped even if another fails to."""
        (self.state_dir / LAB_JSON).unlink(missing_ok=True)
        for name, part in (("control", self.control), ("controllers", self.controllers), ("nodesim", self.nodesim),
                           ("aws", self.aws), ("kube", self.kube)):
            if part is None:
                continue
            begun = time.monotonic()
            try:
                part.stop()
            except Exception:  # keep stopping the others; the trace goes to the log
                LOG.exception("stopping %s failed", name)
            LOG.info("%s stopped in %.2fs", name, time.monotonic() - begun)


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[-1].split("/", 1)[0])


# --------------------------------------------------------------------------- serve


def configure_logging(state_dir: Path) -> None:
    handler = logging.FileHandler(state_dir / LAB_LOG, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for noisy in ("werkzeug", "botocore", "urllib3", "kubernetes"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _stop_with_parent(parent_pid: int, stop: threading.Event) -> None:
    """A lab started for a test session must not outlive it, even if pytest is killed."""
    while not stop.wait(0.5):
        if not pid_alive(parent_pid):
            LOG.info("parent process %s is gone; stopping", parent_pid)
            stop.set()


def serve(options: LabOptions) -> int:
    """Run the lab in this process until SIGTERM or SIGINT."""
    options.state_dir.mkdir(parents=True, exist_ok=True)
    configure_logging(options.state_dir)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    write_atomically(options.state_dir / LAB_PID, f"{os.getpid()}\n")
    if options.parent_pid:
        threading.Thread(target=_stop_with_parent, args=(options.parent_pid, stop), name="lab-parent-watch", daemon=True).start()
    runtime = LabRuntime(options)
    try:
        info = runtime.start()
        print(f"lab ready in {info['startup_seconds']:.2f}s: kube {info['kube']['url']} aws {info['aws']['url']} "
              f"control {info['control']['url']}", flush=True)
        stop.wait()
        LOG.info("stopping on signal")
        return 0
    except Exception:  # report any start-up failure in lab.log and exit non-zero
        LOG.exception("lab failed")
        return 1
    finally:
        runtime.stop()
        (options.state_dir / LAB_PID).unlink(missing_ok=True)
        LOG.info("lab stopped")
