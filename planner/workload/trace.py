"""Per-request traces (Azure LLM CSV, Mooncake-style JSONL), rate scaling, and binning
into per-interval load series shared by the backtester, the simulator and warm starts."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from planner.core.types import LoadPoint
from planner.errors import TraceError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class RequestTrace:
    """Requests sorted by arrival; ``arrival_s`` starts at 0."""

    name: str
    arrival_s: FloatArray
    isl_tokens: IntArray
    osl_tokens: IntArray

    def __len__(self) -> int:
        return len(self.arrival_s)

    @property
    def duration_s(self) -> float:
        return float(self.arrival_s[-1]) if len(self) else 0.0

    def window(self, *, start_s: float, end_s: float) -> RequestTrace:
        """The requests arriving in [start_s, end_s), re-based to start at 0."""
        lo, hi = np.searchsorted(self.arrival_s, [start_s, end_s])
        return RequestTrace(
            name=self.name,
            arrival_s=self.arrival_s[lo:hi] - start_s,
            isl_tokens=self.isl_tokens[lo:hi],
            osl_tokens=self.osl_tokens[lo:hi],
        )

    def scaled(
        self, rate_scale: float, *, seed: int = 0, shift_window_s: float = 60.0
    ) -> RequestTrace:
        """``rate_scale`` times the traffic over the same span.

        The integer part adds copies of the trace; copy k > 0 is shifted by a random
        offset in [0, shift_window_s) and wrapped into the span, which keeps the
        minute-scale rate shape but does not stack request-level bursts exactly on top
        of each other. The fractional part keeps a random subset of one more copy.
        """
        if rate_scale <= 0:
            raise TraceError(f"rate_scale={rate_scale!r}: expected > 0")
        if rate_scale == 1.0 or len(self) == 0:
            return self
        rng = np.random.default_rng(seed)
        span = max(self.duration_s, 1e-9)
        whole, frac = int(rate_scale), rate_scale - int(rate_scale)
        parts: list[tuple[FloatArray, IntArray, IntArray]] = []
        copies = whole + (1 if frac > 0 else 0)
        for k in range(copies):
            arr = (
                self.arrival_s
                if k == 0
                else (self.arrival_s + rng.uniform(0, shift_window_s)) % span
            )
            keep = np.ones(len(self), bool) if k < whole else rng.random(len(self)) < frac
            parts.append((arr[keep], self.isl_tokens[keep], self.osl_tokens[keep]))
        arrival = np.concatenate([p[0] for p in parts])
        order = np.argsort(arrival, kind="stable")
        return RequestTrace(
            name=f"{self.name}x{rate_scale:g}",
            arrival_s=arrival[order],
            isl_tokens=np.concatenate([p[1] for p in parts])[order],
            osl_tokens=np.concatenate([p[2] for p in parts])[order],
        )


@dataclass(frozen=True)
class LoadSeries:
    """Per-interval aggregates: rate (req/s), mean ISL and OSL (NaN when idle or missing).

    ``missing`` marks intervals with no data at all (collection gaps); they are not idle.
    """

    name: str
    interval_s: float
    start_s: float
    rate_rps: FloatArray
    isl_tokens: FloatArray
    osl_tokens: FloatArray
    missing: NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.rate_rps)

    def time_s(self, i: int) -> float:
        """End of interval ``i`` (when its aggregate becomes known)."""
        return self.start_s + (i + 1) * self.interval_s

    def point(self, i: int) -> LoadPoint:
        t = self.time_s(i)
        if self.missing[i]:
            return LoadPoint(time_s=t, request_rate_rps=None)
        rate = float(self.rate_rps[i])
        if rate <= 0:
            return LoadPoint(time_s=t, request_rate_rps=0.0)
        return LoadPoint(
            time_s=t,
            request_rate_rps=rate,
            isl_tokens=float(self.isl_tokens[i]),
            osl_tokens=float(self.osl_tokens[i]),
        )

    def points(self) -> list[LoadPoint]:
        return [self.point(i) for i in range(len(self))]


def bin_requests(trace: RequestTrace, *, interval_s: float) -> LoadSeries:
    """Bin a request trace into intervals of ``interval_s`` (rate = count / interval)."""
    if interval_s <= 0:
        raise TraceError(f"interval_s={interval_s!r}: expected > 0")
    n = max(1, int(np.ceil((trace.duration_s + 1e-9) / interval_s)))
    idx = np.minimum((trace.arrival_s // interval_s).astype(np.int64), n - 1)
    count = np.bincount(idx, minlength=n).astype(np.float64)
    isl_sum = np.bincount(idx, weights=trace.isl_tokens, minlength=n)
    osl_sum = np.bincount(idx, weights=trace.osl_tokens, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        isl = np.where(count > 0, isl_sum / count, np.nan)
        osl = np.where(count > 0, osl_sum / count, np.nan)
    return LoadSeries(
        name=trace.name,
        interval_s=interval_s,
        start_s=0.0,
        rate_rps=count / interval_s,
        isl_tokens=isl,
        osl_tokens=osl,
        missing=np.zeros(n, bool),
    )


def _from_rows(name: str, rows: list[tuple[float, int, int]]) -> RequestTrace:
    if not rows:
        raise TraceError(f"{name}: no requests")
    arr = np.array([r[0] for r in rows], dtype=np.float64)
    isl = np.array([r[1] for r in rows], dtype=np.int64)
    osl = np.array([r[2] for r in rows], dtype=np.int64)
    if (isl < 0).any() or (osl < 0).any():
        raise TraceError(f"{name}: negative token counts")
    order = np.argsort(arr, kind="stable")
    arr = arr[order]
    return RequestTrace(
        name=name, arrival_s=arr - arr[0], isl_tokens=isl[order], osl_tokens=osl[order]
    )


def read_azure_csv(path: str | Path) -> RequestTrace:
    """Azure LLM inference trace: TIMESTAMP, ContextTokens, GeneratedTokens."""
    p = Path(path)
    rows: list[tuple[float, int, int]] = []
    try:
        with p.open(newline="") as fh:
            reader = csv.DictReader(fh)
            need = {"TIMESTAMP", "ContextTokens", "GeneratedTokens"}
            if not need <= set(reader.fieldnames or ()):
                raise TraceError(f"{p}: columns {reader.fieldnames}: expected {sorted(need)}")
            for line, row in enumerate(reader, start=2):
                try:
                    # 7 fractional digits: trim to the 6 datetime accepts
                    stamp = row["TIMESTAMP"].strip()
                    head, _, frac = stamp.partition(".")
                    t = datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}")
                    rows.append(
                        (t.timestamp(), int(row["ContextTokens"]), int(row["GeneratedTokens"]))
                    )
                except (ValueError, TypeError) as exc:
                    raise TraceError(f"{p}:{line}: {exc} in {row!r}") from exc
    except OSError as exc:
        raise TraceError(f"{p}: cannot read ({exc})") from exc
    return _from_rows(p.stem, rows)


def read_mooncake_jsonl(path: str | Path) -> RequestTrace:
    """Mooncake-style JSONL: one object per line with ``timestamp`` (ms),
    ``input_length`` and ``output_length`` (tokens)."""
    p = Path(path)
    rows: list[tuple[float, int, int]] = []
    try:
        with p.open() as fh:
            for line_no, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                    rows.append(
                        (
                            float(obj["timestamp"]) / 1000.0,
                            int(obj["input_length"]),
                            int(obj["output_length"]),
                        )
                    )
                except (ValueError, KeyError, TypeError) as exc:
                    raise TraceError(
                        f"{p}:{line_no}: {exc!r}: expected timestamp (ms), "
                        "input_length, output_length"
                    ) from exc
    except OSError as exc:
        raise TraceError(f"{p}: cannot read ({exc})") from exc
    return _from_rows(p.stem, rows)
