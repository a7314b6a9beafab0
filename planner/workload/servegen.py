"""ServeGen aggregate workloads (Alibaba Bailian "m-small"): per-client 600-s windows of
rate and fitted inter-arrival distribution, plus 6-h length distributions.

Read from the published ``.tar.gz`` or an extracted directory. Windows where every
client is empty are collection gaps (missing), not idle. Expansion to per-request
arrivals draws inter-arrival times from each window's fitted Gamma or Weibull (scale
divided by the rate scale, so the mean rate scales and the shape is kept) and lengths
from the client's distribution for that 6-h window (or, for clients without one, the
pooled distribution of the clients that have one).
"""

from __future__ import annotations

import ast
import csv
import io
import json
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from planner.errors import TraceError
from planner.workload.trace import LoadSeries, RequestTrace

WINDOW_S = 600.0
LENGTH_WINDOW_S = 21600.0

Dist = tuple[NDArray[np.float64], NDArray[np.float64]]  # (token values, probabilities)


@dataclass(frozen=True)
class ServeGenClient:
    client: str
    window_start_s: NDArray[np.float64]
    rate_rps: NDArray[np.float64]
    pattern: tuple[str, ...]
    shape: NDArray[np.float64]
    scale: NDArray[np.float64]
    #: 6-h window start (s) -> (input dist, output dist); absent when not published
    lengths: dict[int, tuple[Dist, Dist]]


@dataclass(frozen=True)
class ServeGenData:
    name: str
    clients: tuple[ServeGenClient, ...]

    @property
    def n_windows(self) -> int:
        return len(self.clients[0].rate_rps)


def _files(path: Path) -> Iterator[tuple[str, bytes]]:
    if path.is_dir():
        for f in sorted(path.rglob("chunk-*")):
            yield f.name, f.read_bytes()
        return
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar.getmembers():
                name = Path(member.name).name
                if member.isfile() and name.startswith("chunk-"):
                    fh = tar.extractfile(member)
                    if fh is not None:
                        yield name, fh.read()
    except (OSError, tarfile.TarError) as exc:
        raise TraceError(f"{path}: cannot read ServeGen archive ({exc})") from exc


def _dist(source: str, text: object) -> Dist | None:
    parsed = ast.literal_eval(text) if isinstance(text, str) else text
    if not isinstance(parsed, dict):
        raise TraceError(f"{source}: length distribution is not a mapping")
    if not parsed:
        return None
    values = np.array([float(k) for k in parsed], dtype=np.float64)
    probs = np.array([float(v) for v in parsed.values()], dtype=np.float64)
    if (values < 0).any() or (probs < 0).any() or probs.sum() <= 0:
        raise TraceError(f"{source}: negative tokens or probabilities")
    return values, probs / probs.sum()


def _parse_trace(
    name: str, raw: bytes
) -> tuple[list[float], list[float], list[float], list[float], list[str]]:
    cols: tuple[list[float], list[float], list[float], list[float]] = ([], [], [], [])
    patterns: list[str] = []
    for line_no, row in enumerate(csv.reader(io.StringIO(raw.decode())), start=1):
        if not row:
            continue
        try:
            t, rate, _cv, pattern, shape, scale = row
            cols[0].append(float(t))
            cols[1].append(float(rate))
            cols[2].append(float(shape or 0))
            cols[3].append(float(scale or 0))
            patterns.append(pattern)
        except ValueError as exc:
            raise TraceError(
                f"{name}:{line_no}: {exc}: expected timestamp_s,rate,cv,pattern,shape,scale"
            ) from exc
    return (*cols, patterns)


def read_servegen(path: str | Path) -> ServeGenData:
    p = Path(path)
    traces: dict[str, bytes] = {}
    datasets: dict[str, bytes] = {}
    for name, raw in _files(p):
        m = re.fullmatch(r"chunk-(\w+)-(trace\.csv|dataset\.json)", name)
        if m:
            (traces if m.group(2) == "trace.csv" else datasets)[m.group(1)] = raw
    if not traces:
        raise TraceError(f"{p}: no chunk-<client>-trace.csv files found")
    clients: list[ServeGenClient] = []
    for cid in sorted(traces, key=lambda c: (len(c), c)):
        t, rate, shape, scale, patterns = _parse_trace(f"chunk-{cid}-trace.csv", traces[cid])
        lengths: dict[int, tuple[Dist, Dist]] = {}
        if cid in datasets:
            src = f"chunk-{cid}-dataset.json"
            for start, entry in json.loads(datasets[cid]).items():
                din = _dist(src, entry.get("input_tokens", "{}"))
                dout = _dist(src, entry.get("output_tokens", "{}"))
                if din is not None and dout is not None:
                    lengths[int(float(start))] = (din, dout)
        clients.append(
            ServeGenClient(
                client=cid,
                window_start_s=np.array(t),
                rate_rps=np.array(rate),
                pattern=tuple(patterns),
                shape=np.array(shape),
                scale=np.array(scale),
                lengths=lengths,
            )
        )
    n = {len(c.rate_rps) for c in clients}
    if len(n) != 1:
        raise TraceError(f"{p}: clients have different window counts {sorted(n)}")
    return ServeGenData(name=p.name.split(".")[0], clients=tuple(clients))


def _mean(d: Dist) -> float:
    return float(np.dot(d[0], d[1]))


def servegen_series(data: ServeGenData, *, interval_s: float = WINDOW_S) -> LoadSeries:
    """Summed rate over clients per window; rate-weighted mean lengths, where clients
    without published lengths count with the pooled distribution (as in expansion)."""
    k = round(interval_s / WINDOW_S)
    if k < 1 or abs(k * WINDOW_S - interval_s) > 1e-6:
        raise TraceError(f"interval_s={interval_s!r}: expected a multiple of {WINDOW_S:g} s")
    n = data.n_windows
    rate = np.zeros(n)
    isl_w, osl_w, wsum = np.zeros(n), np.zeros(n), np.zeros(n)
    pooled = _pooled(data)
    for c in data.clients:
        rate += c.rate_rps
        for i in np.flatnonzero(c.rate_rps > 0):
            key = int(c.window_start_s[i] // LENGTH_WINDOW_S * LENGTH_WINDOW_S)
            lengths = c.lengths.get(key) or pooled.get(key)
            if lengths is not None:
                din, dout = lengths
                isl_w[i] += c.rate_rps[i] * _mean(din)
                osl_w[i] += c.rate_rps[i] * _mean(dout)
                wsum[i] += c.rate_rps[i]
    missing = rate <= 0
    isl = np.full(n, np.nan)
    osl = np.full(n, np.nan)
    have = wsum > 0
    isl[have], osl[have] = isl_w[have] / wsum[have], osl_w[have] / wsum[have]
    last_i: float = np.nan
    last_o: float = np.nan
    for j in range(n):  # forward-fill lengths through windows without length data
        if have[j]:
            last_i, last_o = float(isl[j]), float(osl[j])
        elif not missing[j]:
            isl[j], osl[j] = last_i, last_o
    if k > 1:
        m = n // k
        r = rate[: m * k].reshape(m, k)
        miss: NDArray[np.bool_] = np.asarray(missing[: m * k].reshape(m, k).all(axis=1))
        wr = np.where(missing[: m * k], 0.0, rate[: m * k]).reshape(m, k)
        with np.errstate(invalid="ignore", divide="ignore"):
            isl = np.nansum(wr * np.nan_to_num(isl[: m * k]).reshape(m, k), 1) / wr.sum(1)
            osl = np.nansum(wr * np.nan_to_num(osl[: m * k]).reshape(m, k), 1) / wr.sum(1)
        valid = ~missing[: m * k].reshape(m, k)
        rate = np.where(valid.any(1), (r * valid).sum(1) / np.maximum(valid.sum(1), 1), 0.0)
        missing = miss
    return LoadSeries(
        name=data.name,
        interval_s=interval_s,
        start_s=0.0,
        rate_rps=rate,
        isl_tokens=isl,
        osl_tokens=osl,
        missing=missing,
    )


def _pooled(data: ServeGenData) -> dict[int, tuple[Dist, Dist]]:
    pooled: dict[int, tuple[Dist, Dist]] = {}
    keys = {k for c in data.clients for k in c.lengths}
    for key in keys:
        parts = [c.lengths[key] for c in data.clients if key in c.lengths]
        merged = []
        for side in (0, 1):
            vals = np.concatenate([p[side][0] for p in parts])
            probs = np.concatenate([p[side][1] for p in parts]) / len(parts)
            merged.append((vals, probs / probs.sum()))
        pooled[key] = (merged[0], merged[1])
    return pooled


def _interarrivals(
    rng: np.random.Generator, pattern: str, shape: float, scale: float, n: int
) -> NDArray[np.float64]:
    if pattern == "Weibull":
        return scale * rng.weibull(shape, n)
    return rng.gamma(shape, scale, n)


def expand_servegen(
    data: ServeGenData,
    *,
    rate_scale: float = 1.0,
    seed: int = 0,
    start_s: float = 0.0,
    hours: float | None = None,
) -> RequestTrace:
    """Per-request arrivals for [start_s, start_s + hours) at ``rate_scale`` x the rate."""
    if rate_scale <= 0:
        raise TraceError(f"rate_scale={rate_scale!r}: expected > 0")
    end_s = start_s + hours * 3600.0 if hours is not None else float("inf")
    rng = np.random.default_rng(seed)
    pooled = _pooled(data)
    arrivals: list[NDArray[np.float64]] = []
    isls: list[NDArray[np.float64]] = []
    osls: list[NDArray[np.float64]] = []
    for c in data.clients:
        for i in np.flatnonzero(c.rate_rps > 0):
            w0 = float(c.window_start_s[i])
            if w0 < start_s or w0 >= end_s or not c.pattern[i] or c.scale[i] <= 0:
                continue
            expected = c.rate_rps[i] * rate_scale * WINDOW_S
            n = int(expected * 1.3 + 6 * np.sqrt(expected) + 10)
            gaps = _interarrivals(rng, c.pattern[i], c.shape[i], c.scale[i] / rate_scale, n)
            # a random phase so windows of different clients do not all start at w0
            t = w0 + rng.uniform(0, gaps[0]) + np.cumsum(gaps[1:])
            t = t[t < w0 + WINDOW_S]
            if not t.size:
                continue
            key = int(w0 // LENGTH_WINDOW_S * LENGTH_WINDOW_S)
            lengths = c.lengths.get(key) or pooled.get(key)
            if lengths is None:
                continue
            (iv, ip), (ov, op) = lengths
            arrivals.append(t)
            isls.append(rng.choice(iv, size=t.size, p=ip))
            osls.append(rng.choice(ov, size=t.size, p=op))
    if not arrivals:
        raise TraceError(f"{data.name}: no requests in the selected span")
    arr = np.concatenate(arrivals)
    order = np.argsort(arr, kind="stable")
    return RequestTrace(
        name=f"{data.name}x{rate_scale:g}",
        arrival_s=arr[order] - start_s,
        isl_tokens=np.maximum(np.concatenate(isls)[order], 1).astype(np.int64),
        osl_tokens=np.maximum(np.concatenate(osls)[order], 1).astype(np.int64),
    )
