"""The virtual replica target: a local protocol (file or HTTP) for environments without
Kubernetes. Planner side: VirtualConnector; environment side: VirtualTarget."""

from connectors.virtual.connector import PlannerTransport, VirtualConnector
from connectors.virtual.environment import VirtualTarget
from connectors.virtual.protocol import AckMessage, TargetMessage, WorkerCounts

__all__ = [
    "AckMessage",
    "PlannerTransport",
    "TargetMessage",
    "VirtualConnector",
    "VirtualTarget",
    "WorkerCounts",
]
