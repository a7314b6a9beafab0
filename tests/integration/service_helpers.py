"""Helpers for service tests: settings for a fast compressed run, a flaky connector,
and waiting on the service's ticks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from connectors.protocols import ApplyResult, Connector, GraphState
from planner.core.types import Component
from planner.errors import ConnectorError
from planner.service.app import ServiceApp
from planner.settings import PlannerSettings, load_settings


def fast_settings(**overrides: Any) -> PlannerSettings:
    """30 s intervals at compression 60 (0.5 s of wall time per tick), endpoint on a free port."""
    base: dict[str, Any] = {
        "interval_s": 30.0,
        "startup_s": 30.0,
        "service.port": 0,
        "service.time_compression": 60.0,
        "emulator.port": 0,
        "stabilization.scale_down_window_s": 0.0,
        "metrics.timeout_s": 0.3,
        "metrics.retries": 0,
    }
    base.update(overrides)
    return load_settings(overrides=base)


class FlakyConnector:
    """Wraps a real connector; the next ``fail_apply`` applies and ``fail_read`` reads
    raise ConnectorError before reaching it (nothing is written on a failed apply)."""

    def __init__(self, inner: Connector) -> None:
        self.inner = inner
        self.fail_apply = 0
        self.fail_read = 0
        self.apply_calls: list[dict[Component, int]] = []

    async def read(self) -> GraphState:
        if self.fail_read > 0:
            self.fail_read -= 1
            raise ConnectorError("injected read failure")
        return await self.inner.read()

    async def apply(self, targets: Mapping[Component, int], *, decision_id: str) -> ApplyResult:
        self.apply_calls.append(dict(targets))
        if self.fail_apply > 0:
            self.fail_apply -= 1
            raise ConnectorError("injected apply failure")
        return await self.inner.apply(targets, decision_id=decision_id)

    async def close(self) -> None:
        await self.inner.close()


async def until(predicate: Callable[[], bool], *, timeout_s: float, poll_s: float = 0.05) -> None:
    """Poll ``predicate`` until it holds; TimeoutError after ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        while True:
            if predicate():
                return
            await asyncio.sleep(poll_s)


async def wait_ticks(app: ServiceApp, n: int, *, timeout_s: float = 30.0) -> None:
    """Until the service has run ``n`` ticks in all."""
    await until(
        lambda: app.service is not None and app.service.telemetry.tick_count >= n,
        timeout_s=timeout_s,
    )
