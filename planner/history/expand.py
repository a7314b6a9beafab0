"""A history file as load: the per-interval series the forecasters read, and requests for
the simulator, expanded from each interval's count and mean lengths.

Expansion, per usable row ``i`` covering [i x interval, (i + 1) x interval) of replay
time: ``n`` = the row's request count, rounded at random in proportion to its fraction
(so the total is kept on average), arrivals uniform in the interval (a Poisson process
given its count: the file has no inter-arrival shape, unlike ServeGen's fitted windows),
every request with the row's mean ISL and OSL (the file keeps means, not the length
distribution). A row without lengths takes the last known ones (the first known ones
before any). Rows that are not usable (``gap``, ``missing``) get no requests: the
replay cannot know what arrived there, and ``ExpansionNote`` counts them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from planner.errors import TraceError
from planner.history.format import HistoryFile, HistoryRow
from planner.workload.trace import LoadSeries, RequestTrace


@dataclass(frozen=True, slots=True)
class ExpansionNote:
    """What the expansion could not take from the file, for the report."""

    rows: int
    unusable_rows: int
    filled_length_rows: int
    requests_in_file: float
    requests_expanded: int


def history_series(history: HistoryFile, *, name: str = "history") -> LoadSeries:
    """Rate (req/s) and mean lengths per interval; unusable rows are missing (not idle)."""
    rows = history.rows
    rate = np.array([_rate(r) for r in rows], dtype=np.float64)
    missing = np.isnan(rate)
    isl = np.array([_len(r.isl_mean_tokens) for r in rows], dtype=np.float64)
    osl = np.array([_len(r.osl_mean_tokens) for r in rows], dtype=np.float64)
    return LoadSeries(
        name=name,
        interval_s=history.meta.interval_s,
        start_s=0.0,
        rate_rps=np.where(missing, 0.0, rate),
        isl_tokens=isl,
        osl_tokens=osl,
        missing=missing,
    )


def _rate(row: HistoryRow) -> float:
    return row.rate_rps if row.usable and row.rate_rps is not None else math.nan


def _len(value: float | None) -> float:
    return math.nan if value is None else value


def _lengths(rows: tuple[HistoryRow, ...]) -> tuple[list[tuple[float, float] | None], int]:
    """Each row's (ISL, OSL): its own, else the last known, else the first known."""
    known = [
        (r.isl_mean_tokens, r.osl_mean_tokens)
        if r.isl_mean_tokens is not None and r.osl_mean_tokens is not None
        else None
        for r in rows
    ]
    first = next((k for k in known if k is not None), None)
    out: list[tuple[float, float] | None] = []
    last, filled = first, 0
    for r, k in zip(rows, known, strict=True):
        if k is not None:
            last = k
        elif r.usable and (r.requests or 0) > 0:
            filled += 1
        out.append(last if k is None else k)
    return out, filled


def expand_history(
    history: HistoryFile, *, seed: int = 0, name: str = "history"
) -> tuple[RequestTrace, ExpansionNote]:
    """Requests for the replay (see the module docstring) and what was filled or left out."""
    interval = history.meta.interval_s
    rng = np.random.default_rng(seed)
    lengths, filled = _lengths(history.rows)
    arrivals, isls, osls = [], [], []
    unusable = 0
    for i, (row, ln) in enumerate(zip(history.rows, lengths, strict=True)):
        if not row.usable or row.requests is None:
            unusable += 1
            continue
        whole = math.floor(row.requests)
        n = whole + int(rng.random() < row.requests - whole)
        if n == 0 or ln is None:
            continue
        arrivals.append(np.sort(rng.uniform(i * interval, (i + 1) * interval, n)))
        isls.append(np.full(n, max(1, round(ln[0])), dtype=np.int64))
        osls.append(np.full(n, max(1, round(ln[1])), dtype=np.int64))
    if not arrivals:
        raise TraceError(
            f"{name}: no requests to replay ({unusable} of {len(history.rows)} rows unusable; "
            "see their reason column)"
        )
    trace = RequestTrace(
        name=name,
        arrival_s=np.concatenate(arrivals),
        isl_tokens=np.concatenate(isls),
        osl_tokens=np.concatenate(osls),
    )
    note = ExpansionNote(
        rows=len(history.rows),
        unusable_rows=unusable,
        filled_length_rows=filled,
        requests_in_file=sum(r.requests or 0.0 for r in history.rows if r.usable),
        requests_expanded=len(trace),
    )
    return trace, note
