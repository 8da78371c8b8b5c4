"""EC2 as the lab needs it: instances launched from a launch template get its IAM profile and metadata options.

AWS: RunInstances (and every Auto Scaling launch) applies the launch template's ``IamInstanceProfile`` and
``MetadataOptions`` unless the request overrides them.
moto 5.2.5: copies the image, type, key, security groups and user data from the template but drops the
profile and the metadata options (instances report no profile and ``HttpTokens=optional``, hop limit 1).
It also associates an explicitly requested profile with the first instance of the reservation only.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Optional

import moto.ec2.urls
from moto.ec2.models import EC2Backend
from moto.ec2.models.instances import Reservation

from lab.lifecycle import LIFECYCLE

ASG_NAME_TAG = "aws:autoscaling:groupName"


def _group_of(instance: Any) -> Optional[str]:
    tags = {tag["key"]: tag["value"] for tag in instance.get_tags()}
    return tags.get(ASG_NAME_TAG)


class LabEc2Backend(EC2Backend):
    """moto's EC2 backend, with launch templates' profile and metadata options applied to the instances."""

    @property
    def _url_module(self) -> ModuleType:
        return moto.ec2.urls

    def run_instances(self, image_id: str, count: int, user_data: Optional[Any], security_group_names: list[str],
                      **kwargs: Any) -> Reservation:
        template = kwargs.get("launch_template")
        data: dict[str, Any] = self._get_template_from_args(template).data if template else {}
        if data.get("MetadataOptions") and not kwargs.get("metadata_options"):
            kwargs["metadata_options"] = dict(data["MetadataOptions"])
        reservation = super().run_instances(image_id, count, user_data, security_group_names, **kwargs)
        for instance in reservation.instances:
            LIFECYCLE.record("instance_launch", instance_id=instance.id, asg=_group_of(instance))
        requested = {"iam_instance_profile_name": kwargs.get("iam_instance_profile_name"),
                     "iam_instance_profile_arn": kwargs.get("iam_instance_profile_arn")}
        if any(requested.values()):
            # RunInstances' handler associates the requested profile with the first instance only.
            self._associate_profile(reservation.instances[1:], requested["iam_instance_profile_name"], requested["iam_instance_profile_arn"])
        elif data.get("IamInstanceProfile"):
            profile = data["IamInstanceProfile"]
            self._associate_profile(reservation.instances, profile.get("Name"), profile.get("Arn"))
        return reservation

    def terminate_instances(self, instance_ids: list[str]) -> list[Any]:
        """moto's, recorded in the lab's lifecycle record (every path ends here: the API, Auto Scaling, stack deletion)."""
        live = {instance.id: instance for instance in self.get_multi_instances_by_id(instance_ids) if instance.state != "terminated"}
        terminated = super().terminate_instances(instance_ids)
        for instance_id, instance in live.items():
            LIFECYCLE.record("instance_terminate", instance_id=instance_id, asg=_group_of(instance))
        return terminated

    def _associate_profile(self, instances: list[Any], name: Optional[str], arn: Optional[str]) -> None:
        for instance in instances:
            if instance.id not in self.iam_instance_profile_associations:
                self.associate_iam_instance_profile(instance_id=instance.id, iam_instance_profile_name=None if arn else name,
                                                    iam_instance_profile_arn=arn)
