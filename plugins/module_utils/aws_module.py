# -*- coding: utf-8 -*-

# Copyright: Contributors to the eksnodes.windows project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""AnsibleAWSModule whose AWS clients come from one boto3 session per profile."""

import os

try:
    import boto3
    import botocore.config
    import botocore.exceptions
    import botocore.loaders
    import botocore.session
except ImportError:
    pass  # AnsibleAWSModule reports the missing libraries

from ansible_collections.amazon.aws.plugins.module_utils.botocore import _get_user_agent_string
from ansible_collections.amazon.aws.plugins.module_utils.botocore import _merge_botocore_config
from ansible_collections.amazon.aws.plugins.module_utils.botocore import enable_placebo
from ansible_collections.amazon.aws.plugins.module_utils.botocore import get_aws_connection_info
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper


# What botocore reads for any client (which services it has data for, the endpoints and partitions), read once in
# ansible-playbook before it forks the workers of the collection's tasks (plugin_utils/in_process.py), so that the
# module runs in their forks find it read: botocore keeps it per loader, and each session makes its own loader.
SHARED_DATA = ("endpoints", "partitions", "sdk-default-configuration", "_retry")
SHARED_LISTINGS = ("service-2", "endpoint-rule-set-1", "paginators-1", "waiters-2")
_shared_loader = None  # pylint: disable=invalid-name
_shared_data_path = None  # pylint: disable=invalid-name


def share_botocore_data():
    """Make and fill the loader that the sessions of later module runs in forks of this process use."""
    global _shared_loader, _shared_data_path  # pylint: disable=global-statement
    data_path = os.environ.get("AWS_DATA_PATH")
    loader = botocore.loaders.create_loader(data_path)
    for type_name in SHARED_LISTINGS:
        loader.list_available_services(type_name)
    for name in SHARED_DATA:
        loader.load_data(name)
    _shared_loader, _shared_data_path = loader, data_path


class AWSModule(AnsibleAWSModule):
    """amazon.aws builds a new boto3 Session for every client() call, and each new session reads botocore's data
    again: the list of services, the partitions, the service model and its endpoint rules. That is 0.05 s to 0.15 s
    of CPU per client, and our modules ask for two to nine clients a run, some for the same service twice. Here the
    clients are built as amazon.aws's boto3_conn builds them (its connection options, user agent and configuration,
    the same failures), from one session per profile, so botocore reads each file once per module run."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._sessions = {}

    def client(self, service, retry_decorator=None, **extra_params):
        region, endpoint_url, params = get_aws_connection_info(self)
        params.update(extra_params)
        profile = params.pop("profile_name", None)
        config = botocore.config.Config(user_agent=_get_user_agent_string())
        for name in ("config", "aws_config"):
            config = _merge_botocore_config(config, params.pop(name, None))
        try:
            conn = self.session(profile).client(service, config=config, region_name=region, endpoint_url=endpoint_url, **params)
        except botocore.exceptions.NoRegionError:
            self.fail_json(msg=f"The {self._name} module requires a region and none was found in configuration, "
                               "environment variables or module parameters")
        except (ValueError, botocore.exceptions.BotoCoreError) as error:
            self.fail_json_aws(error, msg="Couldn't connect to AWS")
        return conn if retry_decorator is None else RetryingBotoClientWrapper(conn, retry_decorator)

    def session(self, profile=None):
        """The run's boto3 session for the profile (None: the default credential chain)."""
        if profile not in self._sessions:
            core = botocore.session.Session(profile=profile)
            # Only where it is the loader the session would make: the same data path (from AWS_DATA_PATH or the profile).
            if _shared_loader is not None and core.get_config_variable("data_path") == _shared_data_path:
                core.register_component("data_loader", _shared_loader)
            session = boto3.session.Session(botocore_session=core, profile_name=profile)
            if core.get_component("data_loader") is _shared_loader:
                # boto3 adds its own data directory to the loader of each session it makes: once is enough.
                paths = _shared_loader.search_paths
                paths[:] = list(dict.fromkeys(paths))
            enable_placebo(session)
            self._sessions[profile] = session
        return self._sessions[profile]
