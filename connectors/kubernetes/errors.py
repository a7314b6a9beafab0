"""Turns API server failures into connector faults that say what to do (403 names the
missing rule, 404 the object) and whether trying again can help; connectors/retry.py
retries the transient ones."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from connectors.errors import (
    CallTimeout,
    Conflict,
    ConnectorFault,
    Forbidden,
    InvalidTarget,
    NotFound,
    Unavailable,
)
from connectors.kubernetes.rbac import Rule

T = TypeVar("T")


def _status_message(body: Any) -> str:
    """The ``message`` of a metav1.Status body, or the raw body."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            doc = json.loads(body)
        except json.JSONDecodeError:
            return body.strip()[:300]
        if isinstance(doc, dict) and "message" in doc:
            return str(doc["message"])
        return body.strip()[:300]
    return ""


def translate(exc: BaseException, *, rule: Rule, namespace: str, obj: str) -> ConnectorFault:
    """A ConnectorFault for ``exc`` raised while calling ``rule`` on ``obj``."""
    import aiohttp
    from kubernetes_asyncio.client.exceptions import ApiException

    what = f"{rule.verb} {rule.resource} {namespace}/{obj}"
    if isinstance(exc, ApiException):
        status = int(exc.status or 0)
        said = _status_message(exc.body) or str(exc.reason or "")
        if status == 403:
            return Forbidden(
                f"forbidden: {what}. The planner's service account needs "
                f"{rule.describe(namespace)}; add to its "
                f"{'ClusterRole' if rule.cluster_wide else 'Role'}:\n{rule.role_snippet()}\n"
                f"(API server said: {said})"
            )
        if status == 404:
            return NotFound(f"not found: {what} ({said})")
        if status == 409:
            return Conflict(f"conflict: {what} changed since it was read ({said})")
        if status == 429 or status >= 500:
            return Unavailable(f"API server answered {status} to {what}: {said}")
        if status == 401:
            return Forbidden(f"unauthorized: {what}: the planner's credentials were rejected")
        return InvalidTarget(f"API server rejected {what} with {status}: {said}")
    if isinstance(exc, TimeoutError):
        return CallTimeout(f"timed out: {what}")
    if isinstance(exc, aiohttp.ClientError | OSError):
        return Unavailable(f"cannot reach the API server for {what}: {exc}")
    raise exc


async def call(
    rule: Rule,
    *,
    namespace: str,
    obj: str,
    op: Callable[[], Awaitable[T]],
) -> T:
    """Run one API call, translating its failures (never retries)."""
    import aiohttp
    from kubernetes_asyncio.client.exceptions import ApiException

    try:
        return await op()
    except (ApiException, TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise translate(exc, rule=rule, namespace=namespace, obj=obj) from exc
