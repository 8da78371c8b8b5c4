"""The lab's AWS side: moto served in-process with the gaps that matter to eksnodes.windows closed.

    from lab.aws import AwsLab
    aws = AwsLab(kube_endpoint="https://127.0.0.1:6443", kube_ca_pem=pem).start()
    facts = aws.seed()        # ids and ARNs of the seeded world
    aws.control.add_fault("cloudformation", "CreateChangeSet", "Throttling")
    aws.stop()

See README.md in this directory for the seeded world, the gaps closed and what is still not faithful.
"""

from typing import Any

from lab.aws.control import AwsLabControl, AwsLabControlError

__all__ = ["AwsLab", "AwsLabControl", "AwsLabControlError"]  # pylint: disable=undefined-all-variable


def __getattr__(name: str) -> Any:
    # The server imports moto (seconds); test processes that only use the control client skip it.
    if name == "AwsLab":
        from lab.aws.server import AwsLab  # pylint: disable=import-outside-toplevel
        return AwsLab
    raise AttributeError(name)
