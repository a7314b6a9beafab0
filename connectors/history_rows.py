"""Turning a history pull's range answers into per-interval rows, each with a status and
the reason for it. Pure: no I/O.

Status, worst first (docs/history.md):

- ``missing``: the demand counter (and its fallback) has no series in the whole range,
  so no interval's request count is known.
- ``gap``: the demand counter has no sample in this interval, or clearly fewer than a
  whole interval holds (a scrape gap at an edge makes ``increase()`` read low). The
  replicas are kept: the fleet that ran is known even where the demand is not.
- ``reset``: the counter reset inside the interval (a restarted frontend);
  ``increase()`` counts across it, so the row is usable, and says so.
- ``partial``: the request count is known but another column is not (a histogram or
  the replicas have no series there): that cell is empty, never zero.
- ``idle``: zero requests (the means are undefined, left empty; the histograms keep
  what requests that started before it observed).
- ``ok``.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass

from connectors.history_queries import BUCKETED, HIST_MEANS, HistoryQueries, Points
from planner.history.format import Buckets, HistoryRow

#: a whole interval holds the typical count of samples; fewer by this many, or by this
#: share of it when more (fast scrapes may miss a sample inside the window, which does
#: not bias increase()), is a gap at an edge
_GAP_SAMPLES = 1.5
_GAP_SHARE = 0.2
_ORDER = ("missing", "gap", "reset", "partial", "idle", "ok")


@dataclass(frozen=True, slots=True)
class RangeAnswers:
    """What the pull read: row end times (Prometheus s) and the parsed series."""

    grid_s: tuple[float, ...]
    scalars: Mapping[str, Points]
    #: histogram -> le -> points
    buckets: Mapping[str, Mapping[float, Points]]
    #: component -> points
    replicas: Mapping[str, Points]
    #: the replica gauge describes the interval before its sample: read it this late
    replicas_lag_s: float = 0.0
    #: the interval in Prometheus seconds (0: resets at interval edges are not sought)
    step_s: float = 0.0
    #: False when no replicas were asked for (``metrics.replicas.source: none``)
    replicas_read: bool = True


def _at(points: Points | None, ts: float) -> float | None:
    return None if points is None else points.get(round(ts, 3))


def _resets(answers: RangeAnswers, key: str, ts: float) -> int:
    """Resets inside the interval, plus one between the previous interval's last sample
    and this one's first (seen only by the two-interval window)."""
    sc = answers.scalars
    inside = _at(sc.get(f"resets.{key}"), ts) or 0.0
    if answers.step_s <= 0:
        return int(inside)
    both = _at(sc.get(f"resets2.{key}"), ts) or 0.0
    before = _at(sc.get(f"resets.{key}"), ts - answers.step_s) or 0.0
    return int(inside + max(0.0, both - inside - before))


def _replicas(answers: RangeAnswers, ts: float, components: tuple[str, ...]) -> dict[str, float]:
    """The replicas of the interval ending at ``ts`` (read ``replicas_lag_s`` later)."""
    out: dict[str, float] = {}
    for c in components:
        value = _at(answers.replicas.get(c), ts + answers.replicas_lag_s)
        if value is not None:
            out[c] = value
    return out


def demand_key(answers: RangeAnswers, queries: HistoryQueries) -> str | None:
    """``requests`` when the demand counter has samples in the range, else
    ``requests_fallback`` when that one does, else None (every row is missing)."""
    for key in ("requests", "requests_fallback"):
        if answers.scalars.get(f"samples.{key}"):
            return key
    return None


def _buckets(answers: RangeAnswers, hist: str, ts: float) -> Buckets | None:
    per_le = answers.buckets.get(hist, {})
    got = [(le, _at(pts, ts)) for le, pts in sorted(per_le.items())]
    if not got or any(v is None for _, v in got):
        return None
    return tuple((le, float(v)) for le, v in got if v is not None)


def assemble_rows(
    answers: RangeAnswers,
    queries: HistoryQueries,
    *,
    interval_s: float,
    components: tuple[str, ...],
    missing_hint: str = "",
) -> tuple[HistoryRow, ...]:
    """One row per grid time; see the module docstring for the statuses."""
    key = demand_key(answers, queries)
    if key is None:
        what = queries.demand + (
            f" nor its fallback {queries.fallback}" if queries.fallback else ""
        )
        reason = f"no series for {what} in the range" + (
            f"; {missing_hint}" if missing_hint else ""
        )
        return tuple(
            HistoryRow(
                end_unix_s=t,
                status="missing",
                reason=reason,
                replicas=_replicas(answers, t, components),
            )
            for t in answers.grid_s
        )
    metric = queries.demand if key == "requests" else str(queries.fallback)
    samples = answers.scalars.get(f"samples.{key}", {})
    typical = statistics.median(samples.values()) if samples else 0.0
    rows = []
    for ts in answers.grid_s:
        rows.append(
            _row(
                answers,
                ts,
                key=key,
                metric=metric,
                typical=typical,
                interval_s=interval_s,
                components=components,
                fallback=key != "requests",
            )
        )
    return tuple(rows)


def _row(
    answers: RangeAnswers,
    ts: float,
    *,
    key: str,
    metric: str,
    typical: float,
    interval_s: float,
    components: tuple[str, ...],
    fallback: bool,
) -> HistoryRow:
    sc = answers.scalars
    n_samples = _at(sc.get(f"samples.{key}"), ts)
    count = _at(sc.get(key), ts)
    # the fleet that ran is known even where the demand counter is not
    replicas = _replicas(answers, ts, components)
    if n_samples is None or count is None:
        return HistoryRow(
            end_unix_s=ts, status="gap", reason=f"no samples of {metric}", replicas=replicas
        )
    if n_samples < typical - max(_GAP_SAMPLES, _GAP_SHARE * typical):
        return HistoryRow(
            end_unix_s=ts,
            status="gap",
            reason=f"metrics gap: {n_samples:g} samples of {metric} where a whole "
            f"interval holds {typical:g}; its increase would read low",
            replicas=replicas,
        )
    flags: list[tuple[str, str]] = []
    if fallback:
        flags.append(("ok", f"demand from the completed-requests counter {metric}"))
    resets = _resets(answers, key, ts)
    if resets:
        flags.append(("reset", f"{resets} counter reset(s) of {metric}: counted across"))
    means: dict[str, float | None] = {}
    for col in HIST_MEANS:
        total, n = _at(sc.get(f"{col}.sum"), ts), _at(sc.get(f"{col}.count"), ts)
        # an idle interval's means are undefined (as the service reads them), not zero
        means[col] = total / n if total is not None and n and count > 0 else None
        if count > 0 and (total is None or n is None):
            flags.append(("partial", f"no series for {col.rsplit('_', 2)[0]}"))
    hists = {h: _buckets(answers, h, ts) for h in BUCKETED}
    for h, b in hists.items():
        if count > 0 and b is None:
            flags.append(("partial", f"no {h} histogram"))
    for c in components if answers.replicas_read else ():
        if replicas.get(c) is None:
            flags.append(("partial", f"no {c} replicas sample"))
    if count <= 0:
        flags.append(("idle", "zero requests"))
    status = min((f[0] for f in flags), key=_ORDER.index, default="ok")
    return HistoryRow(
        end_unix_s=ts,
        status=status,
        reason="; ".join(f[1] for f in flags),
        requests=count,
        rate_rps=count / interval_s,
        ttft_buckets=hists["ttft"],
        itl_buckets=hists["itl"],
        replicas=replicas,
        counter_resets=resets,
        **means,
    )
