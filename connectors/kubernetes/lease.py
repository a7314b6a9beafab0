"""Leader election on a coordination.k8s.io/v1 Lease: acquire, renew, lose on expiry,
release on close; every write is a compare-and-swap on the Lease's resourceVersion."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from connectors.errors import Conflict, ConnectorFault, NotFound
from connectors.kubernetes.errors import call
from connectors.kubernetes.rbac import LEASE_CREATE, LEASE_GET, LEASE_UPDATE

log = logging.getLogger(__name__)


def micro_time(epoch_s: float) -> str:
    """Kubernetes MicroTime: RFC 3339 with microseconds, UTC."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """One candidate for one Lease.

    Expiry is judged on the local clock from when this candidate last saw the Lease
    change (as client-go does), so clock skew between nodes does not matter: another
    holder's lease is free once its record has not moved for ``lease_duration_s``.

    The holder stops counting itself leader ``renew_deadline_s`` after the start of its
    last successful renewal (default two thirds of the lease), before anyone else may
    take the lease: a write it began just before that has the rest of the lease to land.
    """

    def __init__(
        self,
        api_client: Any,
        *,
        namespace: str,
        name: str,
        identity: str,
        lease_duration_s: float,
        renew_every_s: float,
        timeout_s: float,
        renew_deadline_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from kubernetes_asyncio import client

        self._api: Any = client.CoordinationV1Api(api_client)
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self._duration_s = lease_duration_s
        self._renew_every_s = renew_every_s
        self._deadline_s = (
            renew_deadline_s if renew_deadline_s is not None else lease_duration_s * 2 / 3
        )
        self._timeout_s = timeout_s
        self._clock = clock
        self._observed: tuple[str, str] | None = None  # (holder, resourceVersion)
        self._observed_at = 0.0
        self._leader_until = float("-inf")
        self._task: asyncio.Task[None] | None = None
        self.last_error: str = ""

    @property
    def is_leader(self) -> bool:
        return self._clock() < self._leader_until

    def _body(self, *, rv: str | None, acquire_s: float, transitions: int) -> dict[str, Any]:
        now = time.time()
        meta: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if rv is not None:
            meta["resourceVersion"] = rv
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": meta,
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": max(1, round(self._duration_s)),
                "acquireTime": micro_time(acquire_s),
                "renewTime": micro_time(now),
                "leaseTransitions": transitions,
            },
        }

    async def _call(self, rule: Any, op: Callable[[], Any]) -> Any:
        return await call(rule, namespace=self.namespace, obj=f"leases/{self.name}", op=op)

    async def try_acquire_or_renew(self) -> bool:
        """One round: take the lease if free or ours, else note who holds it."""
        started = self._clock()
        try:
            lease = await self._call(
                LEASE_GET,
                lambda: self._api.read_namespaced_lease(
                    self.name, self.namespace, _request_timeout=self._timeout_s
                ),
            )
        except NotFound:
            body = self._body(rv=None, acquire_s=time.time(), transitions=0)
            try:
                await self._call(
                    LEASE_CREATE,
                    lambda: self._api.create_namespaced_lease(
                        self.namespace, body, _request_timeout=self._timeout_s
                    ),
                )
            except Conflict:
                return False  # another candidate created it first
            self._leader_until = started + self._deadline_s
            return True
        spec = lease.spec
        holder = (spec.holder_identity if spec else None) or ""
        rv = str(lease.metadata.resource_version)
        if self._observed != (holder, rv):
            self._observed = (holder, rv)
            self._observed_at = started
        if holder and holder != self.identity:
            self._leader_until = float("-inf")
            if started < self._observed_at + self._duration_s:
                return False  # held by another and not expired in our view
        ours = holder == self.identity
        acquire = spec.acquire_time.timestamp() if ours and spec.acquire_time else time.time()
        transitions = int(spec.lease_transitions or 0) + (0 if ours else 1)
        body = self._body(rv=rv, acquire_s=acquire, transitions=transitions)
        try:
            updated = await self._call(
                LEASE_UPDATE,
                lambda: self._api.replace_namespaced_lease(
                    self.name, self.namespace, body, _request_timeout=self._timeout_s
                ),
            )
        except Conflict:
            self._leader_until = float("-inf")
            return False
        self._observed = (self.identity, str(updated.metadata.resource_version))
        self._observed_at = started
        self._leader_until = started + self._deadline_s
        return True

    async def run(self) -> None:
        """Renew forever; a failed round keeps leadership only until the lease runs out."""
        while True:
            try:
                await self.try_acquire_or_renew()
                self.last_error = ""
            except ConnectorFault as exc:
                self.last_error = str(exc)
                log.warning("leader election round failed: %s", exc)
            await asyncio.sleep(self._renew_every_s)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=f"lease-{self.name}")

    async def release(self) -> None:
        """Stop renewing; if leader, hand the lease back so a standby takes over at once."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if not self.is_leader:
            return
        self._leader_until = float("-inf")
        with contextlib.suppress(ConnectorFault):
            lease = await self._call(
                LEASE_GET,
                lambda: self._api.read_namespaced_lease(
                    self.name, self.namespace, _request_timeout=self._timeout_s
                ),
            )
            if (lease.spec.holder_identity or "") != self.identity:
                return
            body = self._body(
                rv=str(lease.metadata.resource_version),
                acquire_s=time.time(),
                transitions=int(lease.spec.lease_transitions or 0),
            )
            body["spec"]["holderIdentity"] = ""
            body["spec"]["leaseDurationSeconds"] = 1
            await self._call(
                LEASE_UPDATE,
                lambda: self._api.replace_namespaced_lease(
                    self.name, self.namespace, body, _request_timeout=self._timeout_s
                ),
            )
