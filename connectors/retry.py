"""The one retry policy of every outside call: bounded attempts, exponential backoff with
full jitter, and only for failures that can pass by themselves (tenacity does the loop).

Retries happen once, at the call that failed (one Kubernetes API request, one Prometheus
query), never again around a whole connector operation: the service loop calls a
connector once per tick, and a decision that still could not be written is re-applied
whole at the next tick.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from connectors.errors import ConnectorFault
from connectors.settings import RetrySettings

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """At most ``attempts`` tries; before try n+1 a pause drawn uniformly from
    [0, min(backoff_max_s, backoff_base_s x 2^(n-1))] seconds."""

    attempts: int
    backoff_base_s: float
    backoff_max_s: float

    @classmethod
    def of(cls, settings: RetrySettings) -> RetryPolicy:
        return cls(settings.attempts, settings.backoff_base_s, settings.backoff_max_s)


def transient_fault(exc: BaseException) -> bool:
    """A connector fault that may succeed unchanged later (5xx, timeout, conflict)."""
    return isinstance(exc, ConnectorFault) and exc.transient


def _log_retry(what: str) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        pause = state.next_action.sleep if state.next_action is not None else 0.0
        log.info(
            "%s failed (attempt %d): %s; retrying in %.2f s", what, state.attempt_number, exc, pause
        )

    return before_sleep


async def retrying(
    op: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    transient: Callable[[BaseException], bool] = transient_fault,
    what: str = "call",
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Run ``op`` until it succeeds, fails with a non-transient error (raised at once),
    or has failed ``policy.attempts`` times (the last error is raised). ``op`` must
    re-read what it writes, so a retry after a conflict starts from a fresh read."""
    retryer = AsyncRetrying(
        stop=stop_after_attempt(policy.attempts),
        wait=wait_random_exponential(multiplier=policy.backoff_base_s, max=policy.backoff_max_s),
        retry=retry_if_exception(transient),
        sleep=sleep,
        before_sleep=_log_retry(what),
        reraise=True,
    )
    # the iterator form: ``op`` returns an awaitable, it need not be a coroutine function
    async for attempt in retryer:
        with attempt:
            return await op()
    raise AssertionError("unreachable: tenacity returns, or re-raises the last error")
