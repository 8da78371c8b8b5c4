"""The few places where moto 5.2.5 itself has to be changed; each module says what AWS does and what moto does.

Everything else the lab adds is a subclass of a moto backend, registered by ``lab.aws.backends``.
"""

from __future__ import annotations

from lab.aws.patches import autoscaling, cloudformation, eks, iam

_installed: list[bool] = []


def install_all() -> None:
    """Apply every patch once per process."""
    if _installed:
        return
    cloudformation.install()
    iam.install()
    autoscaling.install()
    eks.install()
    _installed.append(True)
