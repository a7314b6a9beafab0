"""Leader election, ours (connectors/kubernetes/lease.py) against kubernetes_asyncio's
``leaderelection`` package, on the in-process API server with the real client: how long
a standby waits after a clean shutdown, whether an API outage kills the elector, how
fast a leader that cannot renew steps down, and what time the lease records.

Both use a 3-s lease; ours renews every 1 s and steps down 2 s after its last renewal,
the library retries every 1 s with a 2-s renew deadline (its minimum periods are 1 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from connectors.kubernetes.lease import LeaderElector
from tests.fakes.k8s_api import FakeKubeApi, Fault

#: whole seconds: the library writes str(lease_duration) and its LeaseLock parses it back
#: with int(), so a float lease duration (3.0) ends its task with a ValueError
LEASE_S, RENEW_DEADLINE_S, PERIOD_S = 3, 2, 1
LEASES = ("coordination.k8s.io", "leases", "default")


class Candidate:
    """One elector of either kind, with the same three questions asked of it."""

    def __init__(self, kind: str, api: Any, identity: str) -> None:
        self.kind = kind
        self.leading = asyncio.Event()
        self.stopped = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        if kind == "ours":
            self.ours = LeaderElector(
                api,
                namespace="default",
                name="l",
                identity=identity,
                lease_duration_s=LEASE_S,
                renew_every_s=PERIOD_S,
                renew_deadline_s=RENEW_DEADLINE_S,
                timeout_s=1.0,
            )
            return
        from kubernetes_asyncio.leaderelection import electionconfig, leaderelection
        from kubernetes_asyncio.leaderelection.resourcelock.leaselock import LeaseLock

        async def on_start() -> None:
            self.leading.set()
            await asyncio.Event().wait()  # "work" until cancelled on loss

        async def on_stop() -> None:
            self.leading.clear()
            self.stopped.set()

        config = electionconfig.Config(
            LeaseLock("l", "default", identity, api),
            lease_duration=LEASE_S,
            renew_deadline=RENEW_DEADLINE_S,
            retry_period=PERIOD_S,
            onstarted_leading=on_start,
            onstopped_leading=on_stop,
        )
        self.lib = leaderelection.LeaderElection(config)

    def start(self) -> None:
        if self.kind == "ours":
            self.ours.start()
        else:
            self.task = asyncio.create_task(self.lib.run())

    def is_leader(self) -> bool:
        return self.ours.is_leader if self.kind == "ours" else self.leading.is_set()

    def crashed(self) -> str:
        """The exception that ended the elector's task, if it ended that way."""
        task = self.ours._task if self.kind == "ours" else self.task
        if task is None or not task.done() or task.cancelled():
            return ""
        exc = task.exception()
        return type(exc).__name__ if exc else "returned"

    async def shutdown(self) -> None:
        """What a planner does on SIGTERM: ours releases the lease, the library has no
        release, so its task is cancelled."""
        if self.kind == "ours":
            await self.ours.release()
            return
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task


async def _until(check: Callable[[], bool], timeout_s: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if check():
            return round(time.monotonic() - started, 2)
        await asyncio.sleep(0.05)
    return None


@contextlib.asynccontextmanager
async def _api() -> AsyncIterator[tuple[FakeKubeApi, Any]]:
    from kubernetes_asyncio import client, config

    fake = FakeKubeApi()
    await fake.start()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = client.Configuration()
        kubeconfig = str(fake.write_kubeconfig(Path(tmp) / "kc"))
        await config.load_kube_config(kubeconfig, client_configuration=cfg, persist_config=False)
        api = client.ApiClient(cfg)
        try:
            yield fake, api
        finally:
            await api.close()
            await fake.close()


async def _pair(kind: str, api: Any) -> tuple[Candidate, Candidate]:
    a, b = Candidate(kind, api, "a"), Candidate(kind, api, "b")
    a.start()
    await _until(a.is_leader, 5)
    b.start()
    await asyncio.sleep(0.3)
    return a, b


async def takeover_after_shutdown(kind: str) -> float | None:
    """Seconds from the leader's clean shutdown until the standby leads."""
    async with _api() as (_, api):
        a, b = await _pair(kind, api)
        await a.shutdown()
        waited = await _until(b.is_leader, 3 * LEASE_S)
        await b.shutdown()
        return waited


async def api_outage(kind: str) -> dict[str, Any]:
    """The API server down (connection refused) for 2.5 s, longer than the renew
    deadline: does the elector survive, does the leader stop claiming leadership it can
    no longer renew, and does it lead again once the server is back?"""
    async with _api() as (fake, api):
        a = Candidate(kind, api, "a")
        a.start()
        await _until(a.is_leader, 5)
        await fake.stop()
        await asyncio.sleep(2.5)
        crashed = a.crashed()
        claims = a.is_leader()
        await fake.start()
        await asyncio.sleep(0.1)
        again = None if crashed else await _until(a.is_leader, 3 * LEASE_S)
        await a.shutdown()
        return {
            "elector_ended_by": crashed or "nothing (still running)",
            "claims_leadership_after_2_5_s_without_api": claims,
            "leads_again_after_api_returns_s": again,
        }


async def step_down_when_renewals_fail(kind: str) -> float | None:
    """Seconds from the lease API answering 500 until the leader stops leading."""
    async with _api() as (fake, api):
        a = Candidate(kind, api, "a")
        a.start()
        await _until(a.is_leader, 5)
        fake.faults.append(Fault(status=500, times=10_000, resource="leases"))
        lost = await _until(lambda: not a.is_leader(), 3 * LEASE_S)
        await a.shutdown()
        return lost


async def renew_time_error(kind: str) -> float:
    """Seconds between the lease's renewTime and the true UTC time, in a process whose
    local time zone is UTC+9."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    try:
        async with _api() as (fake, api):
            a = Candidate(kind, api, "a")
            a.start()
            await _until(a.is_leader, 5)
            lease: Any = fake.cluster.get(LEASES, "l")
            renew = datetime.fromisoformat(lease["spec"]["renewTime"].replace("Z", "+00:00"))
            error = round(renew.timestamp() - time.time(), 1)
            await a.shutdown()
            return error
    finally:
        if previous is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = previous
        time.tzset()


async def _measure() -> dict[str, Any]:
    out: dict[str, Any] = {}
    scenarios: dict[str, Callable[[str], Awaitable[Any]]] = {
        "takeover_after_shutdown_s": takeover_after_shutdown,
        "api_outage": api_outage,
        "step_down_when_renewals_fail_s": step_down_when_renewals_fail,
        "renew_time_error_s": renew_time_error,
    }
    for kind in ("ours", "library"):
        out[kind] = {name: await measure(kind) for name, measure in scenarios.items()}
    return out


def run() -> dict[str, Any]:
    return asyncio.run(_measure())


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
