"""The fake API server's object store: objects by (group, plural, namespace) and name,
resourceVersions bumped on every change, creation metadata, and RFC 7386 merge patches.
Subclasses react to changes in ``reconcile`` (tests/fakes/k8s_cluster.py)."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Key = tuple[str, str, str]  # (group, plural, namespace)


def rfc3339(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = merge_patch(target.get(k), v)
    return target


class Store:
    """Objects by (group, plural, namespace) and name; every change bumps resourceVersion."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.rv = 1000
        self._store: dict[Key, dict[str, dict[str, Any]]] = {}

    def reconcile(self) -> None:
        """Called after every create and replace: the controllers' turn (none here)."""

    def _bump(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        return obj

    def objects(self, key: Key) -> list[dict[str, Any]]:
        return list(self._store.get(key, {}).values())

    def buckets(self) -> list[tuple[Key, list[dict[str, Any]]]]:
        """Every (group, plural, namespace) with its objects."""
        return [(k, list(b.values())) for k, b in self._store.items()]

    def get(self, key: Key, name: str) -> dict[str, Any] | None:
        return self._store.get(key, {}).get(name)

    def create(self, key: Key, body: dict[str, Any]) -> dict[str, Any] | None:
        name = body["metadata"]["name"]
        bucket = self._store.setdefault(key, {})
        if name in bucket:
            return None
        obj = copy.deepcopy(body)
        obj["metadata"].setdefault("namespace", key[2])
        obj["metadata"]["creationTimestamp"] = rfc3339(self.clock())
        obj["metadata"]["uid"] = f"uid-{name}-{self.rv}"
        bucket[name] = self._bump(obj)
        self.reconcile()
        return obj

    def replace(self, key: Key, name: str, body: dict[str, Any]) -> dict[str, Any]:
        old = self._store[key][name]
        obj = copy.deepcopy(body)
        for keep in ("creationTimestamp", "uid", "namespace", "name"):
            if keep in old["metadata"]:
                obj.setdefault("metadata", {})[keep] = old["metadata"][keep]
        if "status" in old and key[1] != "leases":
            obj["status"] = old["status"]  # the main resource does not write status
        self._store[key][name] = self._bump(obj)
        self.reconcile()
        return obj

    def touch(self, key: Key, name: str) -> None:
        """Another writer changes an unrelated field."""
        obj = self._store[key][name]
        obj["metadata"].setdefault("annotations", {})["touched-by"] = f"other-{self.rv}"
        self._bump(obj)
