"""The shipped execution environment definition, as ansible-builder reads it.

`ansible-builder create` writes the build context (Containerfile or Dockerfile, requirements, the collection's
tarball) without a container engine; the introspection script it puts in the context is the one the image build
runs on the installed collections, so running it here on the installed tarball shows what the image will get.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
EE_DIR = Path("extensions") / "ee"
RUNTIME_PACKAGES = ("boto3", "botocore", "kubernetes")


def run(*args: str, cwd: Path) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def requirement_names(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(line.split(";")[0].split("[")[0].split("<")[0].split(">")[0].split("=")[0].strip().lower())
    return names


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A copy of the definition with the files it names, the collection's tarball in dist/, and the context."""
    work = tmp_path_factory.mktemp("ee")
    shutil.copytree(ROOT / EE_DIR, work / EE_DIR, ignore=shutil.ignore_patterns("dist"))
    for name in ("requirements.txt", "bindep.txt"):
        shutil.copy(ROOT / name, work / name)
    run(str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(work / EE_DIR / "dist"), str(ROOT),
        cwd=work)
    context = work / "context"
    run(str(BIN / "ansible-builder"), "create", "-f", str(work / EE_DIR / "execution-environment.yml"),
        "--context", str(context), cwd=work)
    return work, context


def test_context_requirements_list_the_runtime_packages(built):
    context = built[1]
    names = requirement_names((context / "_build" / "requirements.txt").read_text(encoding="utf-8"))
    assert set(RUNTIME_PACKAGES) <= names


def test_context_installs_this_collection_from_its_tarball(built):
    work, context = built
    tarball = next((work / EE_DIR / "dist").glob("eksnodes-windows-*.tar.gz"))
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))["version"]
    assert tarball.name == f"eksnodes-windows-{version}.tar.gz"
    assert (context / "_build" / "dist" / tarball.name).read_bytes() == tarball.read_bytes()
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text(encoding="utf-8"))
    # The galaxy stage adds the context's _build/ directory as /build.
    assert {"name": f"/build/dist/{tarball.name}", "type": "file"} in requirements["collections"]
    build_file = next(path for path in (context / "Containerfile", context / "Dockerfile") if path.exists())
    assert "ansible-galaxy collection install" in build_file.read_text(encoding="utf-8")


def test_introspection_of_the_installed_tarball_finds_the_runtime_packages(built, tmp_path):
    work, context = built
    tarball = next((work / EE_DIR / "dist").glob("eksnodes-windows-*.tar.gz"))
    collections = tmp_path / "collections"
    run(str(BIN / "ansible-galaxy"), "collection", "install", "--no-deps", "--force", "-p", str(collections), str(tarball),
        cwd=tmp_path)
    written = tmp_path / "requirements.txt"
    run(sys.executable, str(context / "_build" / "scripts" / "introspect.py"), "introspect", str(collections),
        "--write-pip", str(written), cwd=tmp_path)
    lines = written.read_text(encoding="utf-8").splitlines()
    for package in RUNTIME_PACKAGES:
        assert any(requirement_names(line) == {package} and "from collection eksnodes.windows" in line
                   for line in lines), lines


def test_tarball_leaves_out_the_lab_and_installs_for_ansible_doc(built, tmp_path):
    """galaxy.yml's build_ignore: what users run is in the tarball, the lab and the tooling are not."""
    work = built[0]
    tarball = next((work / EE_DIR / "dist").glob("eksnodes-windows-*.tar.gz"))
    listing = set(run("tar", "-tzf", str(tarball), cwd=tmp_path).split())
    for left_out in ("tests/lab/", "tests/benchmarks/", "tests/integration/", ".ci/", "extensions/molecule/"):
        assert not any(name.startswith(left_out) for name in listing), left_out
    for name in ("Makefile", "conftest.py", "test-requirements.txt"):
        assert name not in listing
    for name in ("plugins/modules/cluster_info.py", "playbooks/launch.yml", "roles/nodegroup/meta/argument_specs.yml",
                 "meta/runtime.yml", "extensions/ee/execution-environment.yml", "requirements.txt"):
        assert name in listing, name
    collections = tmp_path / "collections"
    run(str(BIN / "ansible-galaxy"), "collection", "install", "--no-deps", "--force", "-p", str(collections),
        str(tarball), cwd=tmp_path)
    environment = {"ANSIBLE_COLLECTIONS_PATH": str(collections), "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "True"}
    result = subprocess.run([str(BIN / "ansible-doc"), "-t", "module", "eksnodes.windows.cluster_info"], cwd=tmp_path,
                            env={**os.environ, **environment}, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert str(collections / "ansible_collections" / "eksnodes" / "windows") in result.stdout
