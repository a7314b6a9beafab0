"""The environment side of the virtual target (simulator, emulated graph, tests): reads
the planner's targets and acknowledges with the replicas it actually has."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from connectors.virtual.protocol import AckMessage, TargetMessage, WorkerCounts
from planner.core.types import Component


class EnvironmentTransport(Protocol):
    async def fetch(self) -> TargetMessage | None: ...

    async def acknowledge(self, ack: AckMessage) -> None: ...

    async def close(self) -> None: ...


class VirtualTarget:
    """What an environment embeds to be planned: ``poll()`` for new targets, act on them,
    then ``report(...)`` what it has. Report once at start (decision_id None) so the
    planner learns the components, their replicas and GPUs per worker."""

    def __init__(
        self,
        transport: EnvironmentTransport,
        *,
        gpus_per_worker: Mapping[Component, int] | None = None,
    ) -> None:
        self.transport = transport
        self.gpus_per_worker = dict(gpus_per_worker or {})
        self._last_seen: tuple[int, float] | None = None
        self.latest: TargetMessage | None = None

    @classmethod
    def from_directory(
        cls, directory: Path | str, *, gpus_per_worker: Mapping[Component, int] | None = None
    ) -> VirtualTarget:
        from connectors.virtual.file_transport import FileEnvironmentTransport

        return cls(FileEnvironmentTransport(Path(directory)), gpus_per_worker=gpus_per_worker)

    @classmethod
    def from_url(
        cls,
        base_url: str,
        *,
        gpus_per_worker: Mapping[Component, int] | None = None,
        timeout_s: float = 5.0,
    ) -> VirtualTarget:
        from connectors.virtual.http_transport import HttpEnvironmentTransport

        transport = HttpEnvironmentTransport(base_url, timeout_s=timeout_s)
        return cls(transport, gpus_per_worker=gpus_per_worker)

    async def poll(self) -> TargetMessage | None:
        """The planner's target if it is new since the last poll, else None.

        New means another ``seq`` or another ``written_at``, not a larger ``seq``: a
        planner restarted without its folder starts counting again at 1.
        """
        target = await self.transport.fetch()
        if target is None:
            return None
        seen = (target.seq, target.written_at_s)
        if seen == self._last_seen:
            return None
        self._last_seen = seen
        self.latest = target
        return target

    async def report(
        self,
        *,
        decision_id: str | None,
        replicas: Mapping[Component, int],
        ready: Mapping[Component, int] | None = None,
        message: str = "",
    ) -> AckMessage:
        """Acknowledge ``decision_id`` with the replicas the environment has and how many
        of them are ready (all of them when ``ready`` is not given)."""
        ready = replicas if ready is None else ready
        ack = AckMessage(
            decision_id=decision_id,
            components={
                c: WorkerCounts(n, ready.get(c, 0), self.gpus_per_worker.get(c))
                for c, n in replicas.items()
            },
            message=message,
        )
        await self.transport.acknowledge(ack)
        return ack

    async def close(self) -> None:
        await self.transport.close()
