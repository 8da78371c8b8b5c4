"""The kubernetes library imported name by name (module_utils/kube/lazy.py), each case in an interpreter of its own,
as a module run is."""

import json
import subprocess
import sys
from pathlib import Path

COLLECTIONS = Path(__file__).resolve().parents[5] / ".collections"


def run(code):
    proc = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(COLLECTIONS)}, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


COUNT = "sum(1 for name in sys.modules if name.startswith('kubernetes'))"


def test_importing_the_collections_kube_package_leaves_the_models_and_api_classes_unimported():
    found = run(f"""
import json, sys
import ansible_collections.eksnodes.windows.plugins.module_utils.kube.client
print(json.dumps({{"loaded": {COUNT}, "models": "kubernetes.client.models.v1_node" in sys.modules,
                  "light": sys.modules["kubernetes.client"].__spec__.loader is None}}))
""")
    assert found["light"] and not found["models"]
    assert found["loaded"] < 60, found


NAMES = ["CoreV1Api", "AppsV1Api", "PolicyV1Api", "VersionApi", "ApiClient", "Configuration", "ApiException", "V1Node",
         "V1APIService", "V1ConfigMap", "V1DeleteOptions"]
# What each name resolves to, read the same way with the lazy packages and with the eager import.
RESOLVE = f"""
import json, sys
import kubernetes
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException
found = {{name: getattr(client, name).__module__ + "." + getattr(client, name).__qualname__ for name in {NAMES!r}}}
found["models.V1Node"] = client.models.V1Node.__module__
found["api.CoreV1Api"] = client.api.CoreV1Api.__module__
found["version"] = kubernetes.__version__
found["config"] = config.load_kube_config.__module__
found["watch"] = watch.Watch.__module__
found["rest"] = ApiException is client.ApiException
"""


def test_every_name_resolves_to_the_object_the_eager_import_gives():
    lazy = run(f"""
import ansible_collections.eksnodes.windows.plugins.module_utils.kube
{RESOLVE}
try:
    client.NoSuchName
except AttributeError as error:
    found["missing"] = str(error)
found["loaded"] = {COUNT}
print(json.dumps(found))
""")
    eager = run(RESOLVE + "print(json.dumps(found))\n")
    assert lazy.pop("missing") == "module 'kubernetes.client' has no attribute 'NoSuchName'"
    assert lazy.pop("loaded") < 150
    assert lazy["rest"] is True
    assert lazy == eager


def test_typed_answers_are_deserialized_into_models_imported_on_demand():
    found = run("""
import json
import ansible_collections.eksnodes.windows.plugins.module_utils.kube
from kubernetes import client
api = client.ApiClient()
node = api._ApiClient__deserialize({"metadata": {"name": "n1"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}, "V1Node")
print(json.dumps({"type": type(node).__name__, "name": node.metadata.name, "ready": node.status.conditions[0].status}))
""")
    assert found == {"type": "V1Node", "name": "n1", "ready": "True"}


def test_nothing_changes_when_kubernetes_is_already_imported():
    found = run("""
import json, sys
import kubernetes.client
eager = sys.modules["kubernetes.client"]
import ansible_collections.eksnodes.windows.plugins.module_utils.kube
print(json.dumps({"same": sys.modules["kubernetes.client"] is eager, "loader": eager.__spec__.loader is not None}))
""")
    assert found == {"same": True, "loader": True}
