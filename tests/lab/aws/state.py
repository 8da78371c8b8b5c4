"""Process-wide state of the lab's AWS side that moto has no place for.

moto keeps its backends in module-level dictionaries, so there is one AWS world per process. The lab's
own knobs (where the EKS endpoint points, armed failures, injected faults) live here, next to it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Optional

from lab.aws.constants import DEFAULT_KUBERNETES_VERSION, DEFAULT_PLATFORM_VERSION, DEFAULT_REGION
from lab.aws.faults import FaultRegistry


@dataclass
class LabSettings:
    """What the EKS extension needs to know about the rest of the lab."""

    region: str = DEFAULT_REGION
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    authentication_mode: str = "CONFIG_MAP"
    platform_version: str = DEFAULT_PLATFORM_VERSION
    kube_endpoint: str = "https://127.0.0.1:6443"
    kube_ca_pem: str = ""
    transition_seconds: float = 0.0  # how long EKS cluster updates and add-on changes stay in progress
    # CloudFormation rolling updates of Auto Scaling groups: in the background (the stack stays UPDATE_IN_PROGRESS while
    # batches roll) with each PauseTime multiplied by rolling_pause_scale (PT5M -> 3 s at 0.01), or all at once.
    rolling_update_async: bool = True
    rolling_pause_scale: float = 0.01


@dataclass(frozen=True)
class StackFailure:
    """A failure armed for the next creation of a stack (see ``POST /_lab/stack-failure``)."""

    stack_name: str
    logical_id: Optional[str] = None
    resource_type: Optional[str] = None
    reason: str = "Resource creation failed (forced by the lab)"


@dataclass
class LabState:
    """The lab's knobs, armed stack failures and injected faults."""

    settings: LabSettings = field(default_factory=LabSettings)
    faults: FaultRegistry = field(default_factory=FaultRegistry)
    _stack_failures: dict[str, StackFailure] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def arm_stack_failure(self, failure: StackFailure) -> None:
        with self._lock:
            self._stack_failures[failure.stack_name] = failure

    def take_stack_failure(self, stack_name: str) -> Optional[StackFailure]:
        """The failure armed for this stack, disarmed as it is returned."""
        with self._lock:
            return self._stack_failures.pop(stack_name, None)

    def armed_stack_failures(self) -> list[StackFailure]:
        with self._lock:
            return list(self._stack_failures.values())

    def clear_stack_failures(self) -> None:
        with self._lock:
            self._stack_failures.clear()

    def clear(self) -> None:
        self.clear_stack_failures()
        self.faults.clear()


LAB_STATE = LabState()
