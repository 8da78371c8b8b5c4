#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: windows_ipam
version_added: 0.1.0
short_description: Enable or disable Windows support (Windows IPAM) on an EKS cluster's data plane
description:
  - Turns Windows IPAM on (or off) so that the VPC resource controller gives Windows pods IP addresses, with optional
    prefix delegation and warm and minimum IP targets.
  - Where VPC CNI is an EKS managed add-on (C(vpc-cni)), the settings go into the add-on's configuration values
    (C(enableWindowsIpam), C(enableWindowsPrefixDelegation), C(warmWindowsPrefixTarget), C(warmWindowsIPTarget),
    C(minimumWindowsIPTarget)); every other configuration value is kept, and fields changed by hand are kept too
    (O(resolve_conflicts=PRESERVE) by default). Editing the C(amazon-vpc-cni) ConfigMap by
    hand would conflict with the add-on's next update, so the ConfigMap is not touched then.
  - Otherwise the C(kube-system/amazon-vpc-cni) ConfigMap gets a merge patch of only the keys that change
    (C(enable-windows-ipam), C(enable-windows-prefix-delegation), C(warm-prefix-target), C(warm-ip-target),
    C(minimum-ip-target)); every other key stays as it was. The ConfigMap is created when it does not exist.
  - Reports the legacy data-plane C(vpc-resource-controller) and C(vpc-admission-webhook) objects when they are
    present, and removes them only with O(remove_legacy_controllers=true). Once C(enable-windows-ipam) is C("true"), the
    objects they leave behind (Services, Secret, ServiceAccount, ClusterRole and its binding) are looked for only when a
    legacy Deployment or webhook configuration is still there, or with O(remove_legacy_controllers=true).
  - Options left unset are not managed. A second run with the same options changes nothing.
author:
  - eksnodes.windows maintainers (@eksnodes)
options:
  cluster_name:
    description:
      - Name of the EKS cluster.
    type: str
    required: true
  enabled:
    description:
      - V(true) enables Windows IPAM, V(false) disables it.
    type: bool
    default: true
  prefix_delegation:
    description:
      - Assign /28 prefixes instead of single IP addresses to Windows nodes (Nitro instances only).
    type: bool
  warm_prefix_target:
    description:
      - Number of /28 prefixes to keep ready on each Windows node with prefix delegation.
    type: int
  warm_ip_target:
    description:
      - Number of free IP addresses to keep ready on each Windows node. Overrides O(warm_prefix_target) when set.
    type: int
  minimum_ip_target:
    description:
      - Number of IP addresses each Windows node holds at least. Overrides O(warm_prefix_target) when set.
    type: int
  method:
    description:
      - Where the settings go.
      - V(auto) uses the C(vpc-cni) add-on's configuration values when the cluster has that managed add-on, else the ConfigMap.
      - V(addon) requires the managed add-on and fails without it.
      - V(config_map) always patches the ConfigMap; with the managed add-on present this warns, as the add-on's next
        update can undo the change.
    type: str
    choices: [auto, addon, config_map]
    default: auto
  resolve_conflicts:
    description:
      - How EKS treats fields of the add-on's Kubernetes objects that were changed by hand when it applies the new
        configuration values (C(resolveConflicts) of C(UpdateAddon)).
      - V(PRESERVE) keeps the hand-made changes (VPC CNI settings such as custom networking, prefix delegation or warm
        targets are often changed by hand); only fields nobody changed take the new values.
      - V(OVERWRITE) resets every field changed by hand to the add-on's value, cluster-wide, not only the Windows IPAM ones.
      - V(NONE) makes the update fail on a conflict.
      - With C(--diff) the diff (and RV(addon_update)) says which fields the update touches.
    type: str
    choices: [OVERWRITE, PRESERVE, NONE]
    default: PRESERVE
  wait:
    description:
      - Wait until the add-on update finishes (and, before updating, until an update already in progress finishes).
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait for the add-on.
    type: int
    default: 600
  remove_legacy_controllers:
    description:
      - Delete the legacy data-plane controller objects that are found (C(vpc-resource-controller) and
        C(vpc-admission-webhook) Deployments, their webhook configuration, Services, Secret, ServiceAccount and RBAC).
      - With V(false) they are only reported, with a warning.
    type: bool
    default: false
  look_for_legacy_controllers:
    description:
      - With V(false), the legacy controller objects are not looked for, and RV(legacy_controllers) is empty. This is for
        a play that has just looked with M(eksnodes.windows.preflight), whose C(legacy_controllers) check passed, as the
        prerequisites role does. It saves up to ten Kubernetes reads.
      - Cannot be V(false) with O(remove_legacy_controllers=true).
    type: bool
    default: true
    version_added: 0.2.0
extends_documentation_fragment:
  - eksnodes.windows.cluster_facts
  - eksnodes.windows.kubernetes
  - eksnodes.windows.attributes
  - eksnodes.windows.attributes.action
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - The cluster must be V(ACTIVE).
  - The cluster role also needs the C(AmazonEKSVPCResourceController) managed policy; M(eksnodes.windows.preflight) checks it.
"""

EXAMPLES = r"""
- name: Enable Windows support
  eksnodes.windows.windows_ipam:
    cluster_name: prod

- name: Enable it with prefix delegation, and remove the legacy controllers of an old cluster
  eksnodes.windows.windows_ipam:
    cluster_name: prod
    prefix_delegation: true
    warm_prefix_target: 1
    remove_legacy_controllers: true

- name: See what would change
  eksnodes.windows.windows_ipam:
    cluster_name: prod
  check_mode: true
  diff: true

- name: Disable Windows support
  eksnodes.windows.windows_ipam:
    cluster_name: prod
    enabled: false
"""

RETURN = r"""
method:
  description: Where the settings went, V(addon) (the vpc-cni add-on's configuration values) or V(config_map).
  returned: always
  type: str
  sample: addon
enabled:
  description:
    - Whether Windows IPAM is enabled after the task (in check mode, whether it would be), as the VPC resource controller
      sees it, from C(enable-windows-ipam) of the C(kube-system/amazon-vpc-cni) ConfigMap, also with RV(method=addon) (a
      hand-set value kept by O(resolve_conflicts=PRESERVE) wins over the add-on's configuration values; a warning says so).
    - Null, with a warning, when the add-on path is used and the ConfigMap cannot be read.
  returned: always
  type: bool
  sample: true
addon_update:
  description: What the add-on update touches (also shown in the diff).
  returned: when RV(method=addon) and the configuration values change
  type: dict
  contains:
    configuration_values:
      description: The add-on configuration values that change.
      type: list
      elements: str
      sample: [enableWindowsIpam]
    config_map_keys:
      description: The C(amazon-vpc-cni) ConfigMap keys the add-on renders them into.
      type: list
      elements: str
      sample: [kube-system/amazon-vpc-cni enable-windows-ipam]
    resolve_conflicts:
      description: The O(resolve_conflicts) of the update.
      type: str
      sample: PRESERVE
    fields_changed_by_hand:
      description: What the update does to fields of the add-on's objects that were changed by hand.
      type: str
      sample: fields changed by hand are kept; only fields nobody changed take the new values
settings:
  description: The managed settings as given, by option name.
  returned: always
  type: dict
  sample: {enabled: true, prefix_delegation: true}
configuration_values:
  description: The vpc-cni add-on's configuration values after the task.
  returned: when RV(method=addon)
  type: dict
  sample: {enableWindowsIpam: "true", env: {WARM_IP_TARGET: "2"}}
addon:
  description: The vpc-cni add-on after the task.
  returned: when RV(method=addon)
  type: dict
  contains:
    name:
      description: Add-on name.
      type: str
      sample: vpc-cni
    version:
      description: Add-on version.
      type: str
      sample: v1.19.2-eksbuild.1
    status:
      description: Add-on status.
      type: str
      sample: ACTIVE
    update_id:
      description: ID of the EKS update the task started, if any.
      type: str
      sample: 2f6e6a4c-0b1f-3c4f-9b3d-0a8c3b2f1e0d
config_map_data:
  description: The data of C(kube-system/amazon-vpc-cni) after the task.
  returned: when RV(method=config_map)
  type: dict
  sample: {enable-windows-ipam: "true", warm-ip-target: "1"}
legacy_controllers:
  description:
    - The legacy data-plane controller objects found before the task.
    - Empty, with a warning, when the add-on path is used and the Kubernetes API could not be asked.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: Object kind.
      type: str
      sample: Deployment
    name:
      description: Object name.
      type: str
      sample: vpc-resource-controller
    namespace:
      description: Object namespace, null for cluster-wide objects.
      type: str
      sample: kube-system
    active:
      description: Whether it runs or intercepts requests (a Deployment or the webhook configuration), rather than being left behind.
      type: bool
      sample: true
legacy_controllers_removed:
  description: The legacy objects deleted (in check mode, that would be deleted).
  returned: always
  type: list
  elements: dict
  sample: [{kind: Deployment, name: vpc-resource-controller, namespace: kube-system, active: true}]
"""

import time

from ansible.module_utils.common.warnings import warn

from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError

from ansible_collections.eksnodes.windows.plugins.module_utils.aws_module import AWSModule
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.addons import describe_addon
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.addons import list_addons
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.addons import update_addon
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.waiters import ADDON_IN_PROGRESS_STATUSES
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.waiters import AddonWaitError
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.waiters import wait_for_addon
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.lookup import known_cluster
from ansible_collections.eksnodes.windows.plugins.module_utils.eks.names import eks_api_cluster_name_problem
from ansible_collections.eksnodes.windows.plugins.module_utils.ipam import legacy
from ansible_collections.eksnodes.windows.plugins.module_utils.ipam import settings as ipam
from ansible_collections.eksnodes.windows.plugins.module_utils.ipam.kube import KubeApiError
from ansible_collections.eksnodes.windows.plugins.module_utils.ipam.kube import create_config_map
from ansible_collections.eksnodes.windows.plugins.module_utils.ipam.kube import delete_legacy_objects
from ansible_collections.eksnodes.windows.plugins.module_utils.ipam.kube import find_legacy_objects
from ansible_collections.eksnodes.windows.plugins.module_utils.ipam.kube import list_deployments
from ansible_collections.eksnodes.windows.plugins.module_utils.ipam.kube import merge_patch_config_map_data
from ansible_collections.eksnodes.windows.plugins.module_utils.ipam.kube import read_config_map
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import KUBE_AUTH_ARG_SPEC
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import KubeClientError
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import api_client
from ansible_collections.eksnodes.windows.plugins.module_utils.kube.client import has_explicit_kube_auth

# After an update that changes enableWindowsIpam, how long the add-on may take to render amazon-vpc-cni; a value that is
# still different then was kept on purpose (PRESERVE) or not applied, and a warning says so.
CONFIG_MAP_SETTLE_SECONDS = 10
# Add-on states after which an update is worth reporting as failed.
FAILED_ADDON_STATUSES = ("UPDATE_FAILED", "CREATE_FAILED", "DELETE_FAILED")
UNREAD = object()


class WindowsIpam:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.name = self.params["cluster_name"]
        self.eks = None
        self.settings = ipam.wanted_settings(self.params)
        self.cluster = None
        self._kube = None
        self._config_map = UNREAD
        self.changed = False
        self.before = {}
        self.after = {}
        self.result = {}

    # inputs -------------------------------------------------------------------------------------
    def validate(self):
        problem = eks_api_cluster_name_problem(self.name)
        if problem:
            self.module.fail_json(msg=f"cluster_name: {problem}. Fix: give the exact name of an existing cluster (aws eks list-clusters).")
        problems = ipam.settings_problems(self.settings)
        if self.params["wait_timeout"] < 0:
            problems.append(f"wait_timeout is {self.params['wait_timeout']}; it must be 0 or more")
        if self.params["remove_legacy_controllers"] and not self.params["look_for_legacy_controllers"]:
            problems.append("remove_legacy_controllers=true needs look_for_legacy_controllers=true (what is removed must be looked for)")
        if problems:
            self.module.fail_json(msg="Invalid options: " + "; ".join(problems) + ".")

    def load_cluster(self):
        self.cluster = known_cluster(self.module, self.eks, self.name)
        if self.cluster["status"] != "ACTIVE":
            self.module.fail_json(msg=f"Cluster {self.name} is {self.cluster['status']}, not ACTIVE. "
                                  "Fix: wait for it first (eksnodes.windows.cluster_info with wait=true).")

    def kube(self):
        if self._kube is None:
            sts = None if has_explicit_kube_auth(self.params) else self.module.client("sts")
            self._kube = api_client(self.params, cluster=self.cluster, sts_client=sts)
        return self._kube

    def choose_method(self):
        has_addon = ipam.ADDON_NAME in list_addons(self.eks, self.name)
        method = self.params["method"]
        if method == "addon" and not has_addon:
            self.module.fail_json(msg=f"method=addon, but cluster {self.name} has no managed {ipam.ADDON_NAME} add-on. Fix: create it "
                                  f"(aws eks create-addon --cluster-name {self.name} --addon-name {ipam.ADDON_NAME}) or use method=config_map.")
        if method == "config_map" and has_addon:
            warn(f"Cluster {self.name} has the managed {ipam.ADDON_NAME} add-on; the {ipam.CONFIG_MAP_NAME} ConfigMap is patched "
                 "as asked, but the add-on's next update can undo it. method=auto sets the add-on's configuration values instead.")
        if method == "auto":
            method = "addon" if has_addon else "config_map"
        return method

    # legacy controllers -------------------------------------------------------------------------
    def legacy_controllers(self, method):
        if not self.params["look_for_legacy_controllers"]:
            self.result["legacy_controllers"] = self.result["legacy_controllers_removed"] = []
            return
        try:
            # Once Windows IPAM is on, what the legacy controllers left behind is not looked for again (unless asked to remove it).
            thorough = self.params["remove_legacy_controllers"] or not ipam.windows_ipam_enabled(self.config_map_data())
            found = find_legacy_objects(self.kube(), thorough=thorough, deployments=list_deployments(self.kube(), "kube-system"))
        except (KubeClientError, KubeApiError) as error:
            if method != "addon" or self.params["remove_legacy_controllers"]:
                raise
            # The add-on path needs only the EKS API; not being able to look is worth a warning, not a failure.
            warn(f"The legacy data-plane Windows controllers could not be looked for: {error}")
            found = []
        removed = []
        if found and self.params["remove_legacy_controllers"]:
            removed = list(found) if self.module.check_mode else delete_legacy_objects(self.kube(), found)
            self.changed = self.changed or bool(removed)
        elif legacy.active(found):
            warn("Legacy data-plane Windows controllers are installed: " + ", ".join(legacy.describe(obj) for obj in found)
                 + ". They must be removed before Windows support is used; run again with remove_legacy_controllers=true.")
        self.before["legacy_controllers"] = [legacy.describe(obj) for obj in found]
        self.after["legacy_controllers"] = [legacy.describe(obj) for obj in found if obj not in removed]
        self.result["legacy_controllers"] = [legacy.as_result(obj) for obj in found]
        self.result["legacy_controllers_removed"] = [legacy.as_result(obj) for obj in removed]

    # the add-on ---------------------------------------------------------------------------------
    def describe_addon(self):
        return describe_addon(self.eks, self.name, ipam.ADDON_NAME)

    def settled_addon(self):
        addon = self.describe_addon()
        if addon is None:
            self.module.fail_json(msg=f"The {ipam.ADDON_NAME} add-on of cluster {self.name} disappeared while the task ran.")
        if addon.get("status") in ADDON_IN_PROGRESS_STATUSES:
            if not self.params["wait"]:
                self.module.fail_json(msg=f"The {ipam.ADDON_NAME} add-on is {addon['status']}; EKS refuses another update until it finishes. "
                                      "Fix: run again later, or with wait=true.")
            addon = self.wait_addon()
        return addon

    def wait_addon(self):
        try:
            return wait_for_addon(self.describe_addon, timeout=self.params["wait_timeout"])
        except AddonWaitError as error:
            self.module.fail_json(msg=f"The {ipam.ADDON_NAME} add-on of cluster {self.name}: {error}. Fix: wait longer (wait_timeout).",
                                  changed=self.changed, **self.result)

    def apply_addon(self):
        addon = self.settled_addon()
        try:
            current = ipam.parse_configuration_values(addon.get("configurationValues"))
        except ipam.ConfigurationValuesError as error:
            self.module.fail_json(msg=f"The {ipam.ADDON_NAME} add-on's configuration values cannot be read, so nothing was changed: {error}. "
                                  "Fix: set valid JSON configuration values on the add-on.")
        changes = ipam.values_changes(current, ipam.addon_values(self.settings))
        after = ipam.merged_values(current, changes)
        update_id = None
        if changes:
            self.changed = True
            if not self.module.check_mode:
                update = update_addon(self.eks, self.name, ipam.ADDON_NAME, ipam.dump_configuration_values(after), self.params["resolve_conflicts"],
                                      service_account_role_arn=addon.get("serviceAccountRoleArn"))
                update_id = update.get("id")
                addon = self.wait_addon() if self.params["wait"] else (self.describe_addon() or addon)
                if addon.get("status") in FAILED_ADDON_STATUSES:
                    issues = "; ".join(f"{i.get('code')}: {i.get('message')}" for i in (addon.get("health") or {}).get("issues") or [])
                    self.module.fail_json(msg=f"The {ipam.ADDON_NAME} add-on update ended {addon['status']}: {issues or 'no reason given'}.",
                                          changed=True, **self.result)
        self.before[ipam.ADDON_NAME] = current
        self.after[ipam.ADDON_NAME] = after
        if changes:
            self.result["addon_update"] = ipam.update_touches(changes, self.params["resolve_conflicts"])
            self.after[f"{ipam.ADDON_NAME} update"] = self.result["addon_update"]
        self.result["configuration_values"] = after
        self.result["addon"] = {"name": ipam.ADDON_NAME, "version": addon.get("addonVersion"), "status": addon.get("status"), "update_id": update_id}
        return self.enabled_in_config_map(after, changes)

    def enabled_in_config_map(self, values, changes):
        """What the VPC resource controller reads: amazon-vpc-cni, which the add-on renders (and PRESERVE may leave hand-set)."""
        try:
            config_map = read_config_map(self.kube(), ipam.CONFIG_MAP_NAMESPACE, ipam.CONFIG_MAP_NAME)
        except (KubeClientError, KubeApiError) as error:
            warn(f"Whether Windows IPAM is on could not be read from {ipam.CONFIG_MAP_NAMESPACE}/{ipam.CONFIG_MAP_NAME}: {error}")
            return None
        data = (config_map or {}).get("data") or {}
        if self.module.check_mode and "enableWindowsIpam" in changes:
            return ipam.is_true(values["enableWindowsIpam"])
        wanted = values.get("enableWindowsIpam")
        deadline = time.monotonic() + CONFIG_MAP_SETTLE_SECONDS
        while ("enableWindowsIpam" in changes and self.params["wait"] and wanted is not None
               and ipam.is_true(wanted) != ipam.windows_ipam_enabled(data) and time.monotonic() < deadline):
            time.sleep(1)
            data = (read_config_map(self.kube(), ipam.CONFIG_MAP_NAMESPACE, ipam.CONFIG_MAP_NAME) or {}).get("data") or {}
        enabled = ipam.windows_ipam_enabled(data)
        if wanted is not None and ipam.is_true(wanted) != enabled and not self.module.check_mode:
            warn(f"The {ipam.ADDON_NAME} add-on's configuration values set enableWindowsIpam to {wanted}, but "
                 f"{ipam.CONFIG_MAP_NAMESPACE}/{ipam.CONFIG_MAP_NAME}, which the VPC resource controller reads, has enable-windows-ipam "
                 f"{data.get('enable-windows-ipam')!r}: a value set by hand and kept by resolve_conflicts=PRESERVE, or the add-on has not "
                 "applied the values yet. Fix: run again with resolve_conflicts=OVERWRITE (it also resets other hand-made changes), or "
                 "remove the hand-set value.")
        return enabled

    # the ConfigMap ------------------------------------------------------------------------------
    def config_map(self):
        """kube-system/amazon-vpc-cni as first read by this run (None when it does not exist): nothing is written before
        the ConfigMap path uses it, so the legacy controllers' lookup and that path share one read."""
        if self._config_map is UNREAD:
            self._config_map = read_config_map(self.kube(), ipam.CONFIG_MAP_NAMESPACE, ipam.CONFIG_MAP_NAME)
        return self._config_map

    def config_map_data(self):
        return (self.config_map() or {}).get("data") or {}

    def apply_config_map(self):
        namespace, name = ipam.CONFIG_MAP_NAMESPACE, ipam.CONFIG_MAP_NAME
        config_map = self.config_map()
        data = dict((config_map or {}).get("data") or {})
        changes = ipam.data_changes(data, ipam.config_map_data(self.settings))
        after = dict(data, **changes)
        if config_map is None or changes:
            self.changed = True
            if not self.module.check_mode:
                if config_map is None:
                    written = create_config_map(self.kube(), namespace, name, changes)
                else:
                    written = merge_patch_config_map_data(self.kube(), namespace, name, changes)
                after = dict(written.get("data") or {})
        self.before[name] = data if config_map is not None else None
        self.after[name] = after
        self.result["config_map_data"] = after
        return ipam.windows_ipam_enabled(after)

    # the run ------------------------------------------------------------------------------------
    def run(self):
        self.validate()
        self.eks = self.module.client("eks")
        self.load_cluster()
        method = self.choose_method()
        self.legacy_controllers(method)
        enabled = self.apply_addon() if method == "addon" else self.apply_config_map()
        result = dict(self.result, changed=self.changed, method=method, enabled=enabled, settings=self.settings)
        if self.module._diff:  # pylint: disable=protected-access
            result["diff"] = {"before": self.before, "after": self.after}
        self.module.exit_json(**result)


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        enabled=dict(type="bool", default=True),
        prefix_delegation=dict(type="bool"),
        warm_prefix_target=dict(type="int"),
        warm_ip_target=dict(type="int"),
        minimum_ip_target=dict(type="int"),
        method=dict(type="str", choices=["auto", "addon", "config_map"], default="auto"),
        resolve_conflicts=dict(type="str", choices=["OVERWRITE", "PRESERVE", "NONE"], default="PRESERVE"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=600),
        remove_legacy_controllers=dict(type="bool", default=False),
        look_for_legacy_controllers=dict(type="bool", default=True),
        cluster=dict(type="dict"),
    )
    argument_spec.update(KUBE_AUTH_ARG_SPEC)
    module = AWSModule(argument_spec=argument_spec, supports_check_mode=True)
    runner = WindowsIpam(module)
    try:
        runner.run()
    except AnsibleAWSError as error:
        module.fail_json_aws_error(error)
    except (KubeClientError, KubeApiError) as error:
        module.fail_json(msg=str(error), changed=runner.changed, **runner.result)


if __name__ == "__main__":
    main()
