"""Running the collection's modules, roles and playbooks with ansible-playbook, as users do.

Results come from the json stdout callback, so tests assert on each task's structured result.
"""

import json
import os
import re
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

REPO = Path(__file__).resolve().parents[1]
COLLECTIONS_PATH = REPO / ".collections"
# A play recap's line for localhost (the default callback): its changed and failed counts.
RECAP = re.compile(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=(\d+)")
WINDOWS_2022_FAMILY = "Windows_Server-2022-English-Core-EKS_Optimized"
# The EC2 reads that checking a node group's subnets and instance type makes (nodegroup_stack, when it would write them).
NODE_INPUT_READS = ("DescribeSubnets", "DescribeRouteTables", "DescribeAvailabilityZones", "DescribeInstanceTypes", "DescribeInstanceTypeOfferings")


@dataclass
class PlaybookResult:
    returncode: int
    stdout: str
    stderr: str
    output: Dict[str, Any] = field(default_factory=dict)

    @property
    def tasks(self) -> List[Dict[str, Any]]:
        """One entry per task: {'name': ..., 'result': <localhost result>} in run order."""
        found = []
        for play in self.output.get("plays", []):
            for task in play.get("tasks", []):
                hosts = task.get("hosts", {})
                found.append({"name": task["task"]["name"], "result": next(iter(hosts.values()), {})})
        return found

    def result(self, name: str) -> Dict[str, Any]:
        for task in self.tasks:
            if task["name"] == name:
                return task["result"]
        raise KeyError(f"no task named {name!r}; tasks: {[t['name'] for t in self.tasks]}\n{self.stderr}")

    @property
    def stats(self) -> Dict[str, Any]:
        return self.output.get("stats", {}).get("localhost", {})


class AnsibleRunner:
    def __init__(self, lab_env: Dict[str, str], collections_path: Optional[Path] = None, bin_dir: Optional[Path] = None):
        """``collections_path``: where eksnodes.windows is found (default: the checkout, through .collections);
        ``bin_dir``: the virtual environment whose ansible-playbook runs, and whose Python runs the modules (default: .venv)."""
        self.lab_env = dict(lab_env)
        self.collections_path = collections_path or COLLECTIONS_PATH
        self.bin_dir = bin_dir

    def environment(self, extra: Optional[Dict[str, str]] = None, drop: tuple = ()) -> Dict[str, str]:
        env = dict(os.environ)
        env.update(self.lab_env)
        env.update({
            "ANSIBLE_COLLECTIONS_PATH": str(self.collections_path),
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "True",
            "ANSIBLE_STDOUT_CALLBACK": "json",
            "ANSIBLE_PYTHON_INTERPRETER": self.module_python(),
            "ANSIBLE_LOCALHOST_WARNING": "False",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_NOCOLOR": "1",
        })
        env.update(extra or {})
        for name in drop:
            env.pop(name, None)
        return env

    def module_python(self) -> str:
        if self.bin_dir:
            return str(self.bin_dir / "python")
        return os.environ.get("ANSIBLE_PYTHON_INTERPRETER", str(REPO / ".venv/bin/python"))

    def playbook(self, plays: Any, extra_vars: Optional[Dict[str, Any]] = None, check: bool = False, diff: bool = False,
                 env: Optional[Dict[str, str]] = None, drop_env: tuple = (), callback: str = "json", timeout: int = 600) -> PlaybookResult:
        """Run a playbook given as a list of plays (or a path to a playbook / FQCN)."""
        with tempfile.TemporaryDirectory() as tmp:
            if isinstance(plays, (list, dict)):
                path = Path(tmp) / "playbook.yml"
                path.write_text(yaml.safe_dump(plays if isinstance(plays, list) else [plays], sort_keys=False))
                target = str(path)
            else:
                target = str(plays)
            cmd = [str((self.bin_dir or REPO / ".venv/bin") / "ansible-playbook"), "-i", "localhost,", "-c", "local", target]
            if extra_vars:
                vars_file = Path(tmp) / "vars.json"
                vars_file.write_text(json.dumps(extra_vars))
                cmd += ["-e", f"@{vars_file}"]
            if check:
                cmd.append("--check")
            if diff:
                cmd.append("--diff")
            run_env = self.environment(env, drop_env)
            run_env["ANSIBLE_STDOUT_CALLBACK"] = callback
            proc = subprocess.run(cmd, env=run_env, capture_output=True, text=True, timeout=timeout, check=False)
        output = {}
        if callback == "json":
            # Action plugins print progress lines before the json callback's document, which starts a line with "{".
            start = re.search(r"^\{", proc.stdout, re.MULTILINE)
            try:
                output = json.loads(proc.stdout[start.start():]) if start else {}
            except ValueError:
                output = {}
        return PlaybookResult(proc.returncode, proc.stdout, proc.stderr, output)

    def task(self, module: str, args: Dict[str, Any], check: bool = False, diff: bool = False,
             env: Optional[Dict[str, str]] = None, drop_env: tuple = ()) -> Dict[str, Any]:
        """Run one module task on localhost and return its result (failed results are returned, not raised)."""
        play = {"hosts": "localhost", "gather_facts": False, "tasks": [{"name": "task under test", module: args, "ignore_errors": True}]}
        result = self.playbook([play], check=check, diff=diff, env=env, drop_env=drop_env)
        try:
            return result.result("task under test")
        except KeyError as error:
            raise AssertionError(f"playbook did not run the task:\nstdout={result.stdout}\nstderr={result.stderr}") from error


def config_map(core, name):
    raw = json.loads(core.read_namespaced_config_map(name, "kube-system", _preload_content=False).data)
    return {"data": raw.get("data"), "resourceVersion": raw["metadata"]["resourceVersion"]}


def snapshot(lab, deleted_stacks=True):
    """What a run may change, to compare before and after: aws-auth and amazon-vpc-cni (data and resourceVersion),
    the stacks and their templates, the instances, the IAM roles, the access entries and the Nodes."""
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    core = client.CoreV1Api(lab.kube_api_client())
    cloudformation, ec2 = lab.aws_client("cloudformation"), lab.aws_client("ec2")
    stacks = [s for s in cloudformation.list_stacks()["StackSummaries"] if deleted_stacks or s["StackStatus"] != "DELETE_COMPLETE"]
    return {
        "aws-auth": config_map(core, "aws-auth"),
        "amazon-vpc-cni": config_map(core, "amazon-vpc-cni"),
        "stacks": sorted((s["StackId"], s["StackStatus"], str(s.get("LastUpdatedTime"))) for s in stacks),
        "templates": {s["StackName"]: cloudformation.get_template(StackName=s["StackId"])["TemplateBody"]
                      for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"},
        "instances": sorted((i["InstanceId"], i["State"]["Name"]) for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]),
        "roles": sorted(r["Arn"] for r in lab.aws_client("iam").list_roles()["Roles"]),
        "access_entries": access_entries(lab),
        "nodes": sorted(n.metadata.name for n in core.list_node().items),
    }


def access_entries(lab):
    eks = lab.aws_client("eks")
    if eks.describe_cluster(name="lab")["cluster"]["accessConfig"]["authenticationMode"] == "CONFIG_MAP":
        return []
    return sorted(eks.list_access_entries(clusterName="lab")["accessEntries"])


def settled_snapshot(lab, attempts=20, **options):
    """The lab's state once the simulator has nothing left to do for an earlier test on the same lab (the Nodes of
    instances that test terminated go at the next tick): two snapshots a tick apart are equal."""
    interval = lab.control.nodesim()["knobs"]["interval"]
    state = snapshot(lab, **options)
    for _attempt in range(attempts):
        lab.control.reconcile()
        time.sleep(interval + 0.1)
        again = snapshot(lab, **options)
        if again == state:
            return state
        state = again
    raise AssertionError(f"the lab did not settle before the run: {state}")


def recap(stdout: str) -> tuple:
    """(changed, failed) of the play recap printed by the default callback."""
    match = RECAP.search(stdout)
    assert match, stdout[-3000:]
    return int(match.group(1)), int(match.group(2))


def publish_newer_ami(lab: Any, kubernetes_version: str = "1.31", date: str = "2026.12.01", family: str = WINDOWS_2022_FAMILY) -> str:
    """What AWS does after Patch Tuesday: a new image, and the SSM parameter pointing at it."""
    name = f"{family}-{kubernetes_version}-{date}"
    image_id = lab.control.aws.add_image(name, creation_date=f"{date.replace('.', '-')}T08:00:00.000Z")
    lab.control.aws.put_ssm_parameter(f"/aws/service/ami-windows-latest/{family}-{kubernetes_version}/image_id", image_id)
    return image_id


def unused_octet(ec2: Any, vpc_id: str, first: int = 200, last: int = 254) -> int:
    """A third octet of 10.0.x.0/24 that no subnet of the VPC uses yet: tests sharing a lab make subnets of their own."""
    used = {int(subnet["CidrBlock"].split(".")[2]) for subnet in
            ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]}
    return next(octet for octet in range(first, last + 1) if octet not in used)


class ReadinessSampler(threading.Thread):
    """Every second, the Ready status of every node that was Ready at the start (with ``watch_joining``, also of every node
    from the first sample that sees it Ready): ``not_ready`` lists each sample of a watched node that was not."""

    def __init__(self, core: Any, watch_joining: bool = False):
        super().__init__(daemon=True)
        self.core = core
        self.watch_joining = watch_joining
        self.stop = threading.Event()
        self.samples = 0
        self.not_ready: List[Any] = []
        self.watched = {name for name, status in self.read().items() if status == "True"}

    def read(self) -> Dict[str, Any]:
        nodes = json.loads(self.core.list_node(_preload_content=False).data)["items"]
        return {n["metadata"]["name"]: next((c["status"] for c in n["status"].get("conditions", []) if c["type"] == "Ready"), None)
                for n in nodes}

    def run(self) -> None:
        while not self.stop.is_set():
            current = self.read()
            self.samples += 1
            self.not_ready += [(name, current.get(name)) for name in self.watched if current.get(name) != "True"]
            if self.watch_joining:
                self.watched |= {name for name, status in current.items() if status == "True"}
            self.stop.wait(1.0)

    def finish(self) -> None:
        self.stop.set()
        self.join()


def user_env(lab, playbook):
    """The AWS keys of the lab's IAM user for a playbook (launch, upgrade, remove), which holds only its shipped policy."""
    user = lab.info["iam"]["users"][playbook]
    return {"AWS_ACCESS_KEY_ID": user["access_key_id"], "AWS_SECRET_ACCESS_KEY": user["secret_access_key"]}
