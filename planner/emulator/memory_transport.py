"""An in-memory virtual-target channel: both ends of connectors.virtual's transports in
one object, for the embedded default where planner and emulated graph share a process."""

from __future__ import annotations

from connectors.virtual.protocol import AckMessage, TargetMessage


class MemoryChannel:
    """PlannerTransport (publish/latest_target/latest_ack) and EnvironmentTransport
    (fetch/acknowledge) over two fields; messages are immutable values."""

    def __init__(self) -> None:
        self.target: TargetMessage | None = None
        self.ack: AckMessage | None = None
        self.published = 0

    async def publish(self, target: TargetMessage) -> None:
        self.target = target
        self.published += 1

    async def latest_target(self) -> TargetMessage | None:
        return self.target

    async def latest_ack(self) -> AckMessage | None:
        return self.ack

    async def fetch(self) -> TargetMessage | None:
        return self.target

    async def acknowledge(self, ack: AckMessage) -> None:
        self.ack = ack

    async def close(self) -> None:
        return None
