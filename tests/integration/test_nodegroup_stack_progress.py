"""Progress of eksnodes.windows.nodegroup_stack (its action plugin) and nodegroup_stack_info, against the lab."""

import re
import uuid

from test_nodegroup_stack import stack_args

MODULE = "eksnodes.windows.nodegroup_stack"
INFO = "eksnodes.windows.nodegroup_stack_info"
EVENT = re.compile(r"^\[localhost\] (?P<stack>\S+): (?P<logical>\S+) (?P<type>AWS::\S+) (?P<status>[A-Z_]+)(: .*)?$", re.MULTILINE)


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_create_prints_each_event_and_returns_the_outputs(lab, ansible):
    args = stack_args(lab, unique("progress"))
    name = args["stack_name"]
    try:
        run = ansible.playbook([{"hosts": "localhost", "gather_facts": False, "tasks": [
            {"name": "create", MODULE: args, "register": "created"},
            {"name": "show", "ansible.builtin.debug": {"msg": "role={{ created.outputs.node_instance_role_arn }} "
                                                              "status={{ created.stack_status }} events={{ created.events | length }}"}},
        ]}], callback="default")
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        lines = [match.groupdict() for match in EVENT.finditer(run.stdout)]
        assert lines and {line["stack"] for line in lines} == {name}
        assert {"logical": "NodeGroup", "type": "AWS::AutoScaling::AutoScalingGroup", "status": "CREATE_COMPLETE"} in [
            {key: line[key] for key in ("logical", "type", "status")} for line in lines]
        assert lines[-1]["logical"] == name and lines[-1]["status"] == "CREATE_COMPLETE"
        ids = [(line["logical"], line["status"]) for line in lines]
        assert len(ids) == len(set(ids)), "an event was printed twice"
        assert re.search(rf"^\[localhost\] {name}: CREATE_COMPLETE after \S+$", run.stdout, re.MULTILINE)
        # the progress comes before the task's result, and the result holds the outputs and every printed event
        assert run.stdout.index("NodeGroup AWS::AutoScaling::AutoScalingGroup CREATE_COMPLETE") < run.stdout.index("TASK [show]")
        shown = re.search(r"role=(\S+) status=(\S+) events=(\d+)", run.stdout)
        assert shown and shown.group(1).startswith("arn:aws:iam::123456789012:role/") and shown.group(2) == "CREATE_COMPLETE"
        assert int(shown.group(3)) == len(lines)

        # a re-run changes nothing and prints no event
        again = ansible.playbook([{"hosts": "localhost", "gather_facts": False, "tasks": [{"name": "again", MODULE: args}]}], callback="default")
        assert again.returncode == 0 and not EVENT.search(again.stdout), again.stdout[-2000:]

        # with the json callback the result is the module's with wait: true
        deleted = ansible.task(MODULE, {"stack_name": name, "state": "absent"})
        assert not deleted.get("failed"), deleted
        assert deleted["changed"] and deleted["operation"] == "delete" and deleted["stack_status"] == "DELETE_COMPLETE"
        assert any(event["resource_status"] == "DELETE_COMPLETE" for event in deleted["events"]) and "started" not in deleted
    finally:
        lab.aws_client("cloudformation").delete_stack(StackName=name)


def test_info_reads_the_stack_and_the_events_after_a_given_one(lab, ansible):
    args = stack_args(lab, unique("info"))
    name = args["stack_name"]
    try:
        missing = ansible.task(INFO, {"stack_name": name})
        assert not missing.get("failed"), missing
        assert missing["exists"] is False and missing["events"] == [] and missing["changed"] is False

        started = ansible.task(MODULE, dict(args, wait=False))
        assert not started.get("failed"), started
        assert started["started"]["stack_id"] == started["stack_id"]

        first = ansible.task(INFO, {"stack_name": name}, check=True)
        assert first["exists"] and first["stack_id"] == started["stack_id"] and first["changed"] is False
        assert first["events"] and first["events"][0]["resource_status"] == "CREATE_IN_PROGRESS"
        assert first["last_event_id"] == first["events"][-1]["event_id"]

        done = first
        for _attempt in range(60):
            if done["settled"]:
                break
            done = ansible.task(INFO, {"stack_name": started["stack_id"], "after_event_id": started["started"]["after_event_id"],
                                       "client_request_token": started["started"]["client_request_token"]})
        assert done["stack_status"] == "CREATE_COMPLETE", done
        assert done["outputs"]["node_instance_role_arn"].startswith("arn:aws:iam::") and len(done["instance_ids"]) == 2
        assert done["events"] and done["events"][-1]["logical_resource_id"] == name

        later = ansible.task(INFO, {"stack_name": name, "after_event_id": done["last_event_id"]})
        assert later["events"] == [] and later["last_event_id"] == done["last_event_id"]
    finally:
        lab.aws_client("cloudformation").delete_stack(StackName=name)
