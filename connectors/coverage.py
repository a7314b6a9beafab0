"""Whether a query window is covered by scrapes: a window that straddles a metrics gap
(Prometheus down, the frontend not scraped) holds samples for only part of its length,
and ``increase()`` over it reads low, since it extrapolates only about half a scrape
interval past the first and last samples. Pure: the query text and the check.

The check needs no clock and no configured scrape interval: it measures how much of the
window the request counter's own samples span (earliest to latest across every series)
and the typical spacing between them (the scrape interval). Scrapes every ``s`` seconds
span at least ``W - 2s`` of a window of ``W`` seconds; less means a gap at an edge.
Gaps inside the window do not matter: a counter's increase between two samples is exact.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass
from typing import Any

from connectors.promql import label_filters, promql_duration
from connectors.settings import MetricsSettings
from planner.errors import MetricsError

#: slack on top of two scrape intervals for scrape jitter and evaluation lag
_JITTER_SPACINGS = 0.5


def samples_query(settings: MetricsSettings, *, window_s: float, metric: str = "") -> str:
    """A request counter's raw samples over the window (an instant range selector):
    ``metric``, or the preset's demand counter when empty."""
    sel = "{" + label_filters(settings) + "}"
    return f"{metric or settings.name('requests')}{sel}[{promql_duration(window_s)}]"


def sample_times(payload: Any, *, query: str) -> list[list[float]]:
    """Each series' sample timestamps (s), ascending; raises MetricsError when malformed."""
    if not isinstance(payload, dict) or payload.get("status") != "success":
        err = payload.get("error") if isinstance(payload, dict) else payload
        raise MetricsError(f"prometheus error for {query}: {err}")
    data = payload.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "matrix":
        got = data.get("resultType") if isinstance(data, dict) else data
        raise MetricsError(f"expected a matrix for {query}, got {got!r}")
    out: list[list[float]] = []
    try:
        for series in data["result"]:
            out.append(sorted(float(ts) for ts, _ in series.get("values", [])))
    except (KeyError, TypeError, ValueError) as exc:
        raise MetricsError(f"malformed samples for {query}") from exc
    return out


@dataclass(frozen=True, slots=True)
class Coverage:
    """How much of a window the samples span, and their typical spacing."""

    window_s: float
    spanned_s: float
    spacing_s: float | None

    @property
    def complete(self) -> bool:
        if self.spacing_s is None:
            return False  # at most one sample per series: no increase can be computed
        slack_s = (2.0 + _JITTER_SPACINGS) * self.spacing_s
        return self.spanned_s >= self.window_s - slack_s


def coverage(times: list[list[float]], *, window_s: float) -> Coverage:
    """The span (earliest to latest sample over all series) and the median spacing."""
    stamps = [t for series in times for t in series]
    if not stamps:
        return Coverage(window_s=window_s, spanned_s=0.0, spacing_s=None)
    gaps = [b - a for series in times for a, b in itertools.pairwise(series)]
    spacing = statistics.median(gaps) if gaps else None
    return Coverage(window_s=window_s, spanned_s=max(stamps) - min(stamps), spacing_s=spacing)


def gap_reason(cov: Coverage, *, metric: str) -> str | None:
    """Why the window cannot be planned on (it straddles a metrics gap), or None."""
    if cov.complete:
        return None
    spacing = f"samples about {cov.spacing_s:.3g} s apart" if cov.spacing_s else "one sample"
    return (
        f"metrics gap: samples of {metric} span {cov.spanned_s:.3g} s of the "
        f"{cov.window_s:.3g}-s window ({spacing}); a partly scraped window reads low, "
        "so replicas are held until a whole window is scraped"
    )
