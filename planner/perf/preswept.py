"""Rows of a multi-row ("pre-swept") profile file: naming them, and choosing one.

Dynamo's pre-swept files hold one row per measured configuration: arrays shaped
(n_rows, n_points) plus per-row metadata (``tp``, ``gpu_type``, ``model``, ...). A
planner serves one configuration, so a file with several rows needs a choice: an index
(``2``) or a tensor-parallel degree (``tp=4``, ``tp4``). ``cheapest`` (the row that
serves a workload for the fewest GPU-seconds, planner/perf/row_choice.py) is resolved by
the caller that knows the workload. Loading a multi-row file without a choice is an
error that names the rows; a one-row file needs none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.errors import ProfileError

#: the choice resolved by the caller that knows the workload (row_choice.py)
CHEAPEST = "cheapest"


@dataclass(frozen=True, slots=True)
class RowChoice:
    """A row by its index, or by its tensor-parallel degree."""

    index: int | None = None
    tp: int | None = None

    def __str__(self) -> str:
        return str(self.index) if self.index is not None else f"tp={self.tp}"


def parse_row(text: str | int) -> RowChoice | str:
    """``2`` -> index 2; ``tp=4`` / ``tp4`` -> TP 4; ``cheapest`` -> itself; else ValueError."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text < 0:
            raise ValueError(f"profile_row={text!r}: expected an index >= 0")
        return RowChoice(index=text)
    raw = str(text).strip().lower()
    if raw == CHEAPEST:
        return CHEAPEST
    if raw.isdigit():
        return RowChoice(index=int(raw))
    m = re.fullmatch(r"tp\s*=?\s*(\d+)", raw)
    if m and int(m.group(1)) > 0:
        return RowChoice(tp=int(m.group(1)))
    raise ValueError(
        f"profile_row={text!r}: expected a row index (0, 1, ...), tp=N, or {CHEAPEST!r}"
    )


def _first(d: dict[str, Any], key: str, row: int) -> Any:
    arr = np.asarray(d[key])
    if arr.ndim == 0:
        return arr.item()
    return arr.ravel()[row] if arr.shape[0] > row else None


def row_count(d: dict[str, Any]) -> int:
    """Rows in a pre-swept file's arrays (the first dimension of its data arrays)."""
    for key in ("prefill_isl", "x_kv_usage"):
        if key in d:
            arr = np.asarray(d[key])
            return int(arr.shape[0]) if arr.ndim >= 2 else 1
    return 1


def row_tps(d: dict[str, Any]) -> list[int | None]:
    """Each row's TP degree, where the file says (``tp`` metadata)."""
    n = row_count(d)
    if "tp" not in d:
        return [None] * n
    return [int(v) if v is not None else None for v in (_first(d, "tp", i) for i in range(n))]


def describe_rows(d: dict[str, Any]) -> list[str]:
    """One label per row: its index and what the metadata says about it."""
    labels = []
    for i in range(row_count(d)):
        parts = [f"{k}={_first(d, k, i)}" for k in ("tp", "gpu_type", "model") if k in d]
        labels.append(f"{i} ({', '.join(parts)})" if parts else str(i))
    return labels


def select_row(source: str, d: dict[str, Any], choice: RowChoice | None) -> int:
    """The row index ``choice`` names in this file; ProfileError naming the rows when
    the choice is missing (several rows), out of range, or matches no or several rows."""
    n = row_count(d)
    rows = "; ".join(describe_rows(d))
    if choice is None:
        if n == 1:
            return 0
        raise ProfileError(
            source,
            "profile_row",
            f"the file has {n} rows ({rows}); choose one by index or tp=N (setting "
            f"profile_row, simulate --profile-row, where {CHEAPEST!r} also works; "
            "profile show --row)",
        )
    if choice.index is not None:
        if choice.index >= n:
            raise ProfileError(
                source, "profile_row", f"{choice.index} out of range: the file has {n} rows"
            )
        return choice.index
    matches = [i for i, tp in enumerate(row_tps(d)) if tp == choice.tp]
    if len(matches) != 1:
        found = "no row" if not matches else f"{len(matches)} rows"
        raise ProfileError(source, "profile_row", f"tp={choice.tp} matches {found} ({rows})")
    return matches[0]
