import os

import pytest
import yaml

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_auth.backup import Backup, BackupFailed, backup_path_problem


def configmap(version, roles="[]\n"):
    return {"apiVersion": "v1", "kind": "ConfigMap", "data": {"mapRoles": roles},
            "metadata": {"name": "aws-auth", "namespace": "kube-system", "resourceVersion": version, "uid": "u"}}


def test_usable_places(tmp_path):
    (tmp_path / "old.yaml").write_text("x")
    for path in (tmp_path, tmp_path / "new.yaml", tmp_path / "old.yaml"):
        assert backup_path_problem(str(path)) is None


def test_a_missing_directory_names_the_option_and_the_mkdir(tmp_path):
    missing = tmp_path / "a" / "b"
    problem = backup_path_problem(str(missing / "aws-auth.yaml"))
    assert problem.startswith(f"backup_path: the directory {missing} of {missing / 'aws-auth.yaml'} does not exist.")
    assert f"mkdir -p {missing}" in problem
    assert f"mkdir -p {missing}/" in backup_path_problem(f"{missing}/")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_directory(tmp_path):
    tmp_path.chmod(0o500)
    try:
        assert "is not writable" in backup_path_problem(str(tmp_path))
        assert "cannot be written" in backup_path_problem(str(tmp_path / "f.yaml"))
    finally:
        tmp_path.chmod(0o700)


def test_the_backup_of_a_lost_round_is_replaced_by_the_one_the_write_replaced(tmp_path):
    backup = Backup(str(tmp_path))
    backup(None)  # nothing to back up when the ConfigMap is created
    assert backup.written is None and list(tmp_path.iterdir()) == []
    backup(configmap("7"))
    first = backup.written
    backup(configmap("9", "- rolearn: x\n"))  # a conflict made this round read again
    assert [p.name for p in tmp_path.iterdir()] == [os.path.basename(backup.written)] and first != backup.written
    saved = yaml.safe_load(open(backup.written, encoding="utf-8"))
    assert saved["data"] == {"mapRoles": "- rolearn: x\n"} and "resourceVersion" not in saved["metadata"]
    assert oct(os.stat(backup.written).st_mode & 0o777) == "0o600"


def test_a_failed_backup_says_nothing_was_changed(tmp_path):
    backup = Backup(str(tmp_path / "gone" / "f.yaml"))
    with pytest.raises(BackupFailed, match="backup_path: the previous ConfigMap could not be written to .*Nothing was changed"):
        backup(configmap("1"))
