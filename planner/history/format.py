"""The history file: one CSV row per planner interval pulled from Prometheus, with a JSON
metadata line (preset, interval, range, where the replicas came from) on top.

Layout (docs/history.md)::

    # sla-planner history v1
    # meta: {"interval_s": 60.0, "preset": "dynamo", ...}
    end_unix_s,status,reason,requests,rate_rps,...,ttft_le_0.5_s,...,prefill_replicas,...

Units are in the column names. An empty cell is "unknown", never zero. ``status`` says
whether a row can be used (``ok``, ``idle``, ``reset``, ``partial``) or not (``gap``,
``missing``), and ``reason`` why, so a gap or a counter reset is reported per interval.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner.errors import TraceError

MAGIC = "# sla-planner history v1"
#: rows whose demand is known (a reset is handled by increase(); partial lacks a column)
USABLE = frozenset({"ok", "idle", "reset", "partial"})
STATUSES = USABLE | {"gap", "missing"}
MEANS = ("isl_mean_tokens", "osl_mean_tokens", "ttft_mean_s", "itl_mean_s")
Buckets = tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class HistoryMeta:
    """What the rows mean: interval (planner s), the Prometheus step and range, the
    preset and counters read, where replicas came from and the GPUs per worker."""

    interval_s: float
    time_compression: float
    start_unix_s: float
    end_unix_s: float
    preset: str
    demand_counter: str
    components: tuple[str, ...]
    gpus_per_worker: Mapping[str, int]
    replicas_source: str
    ttft_bounds_s: tuple[float, ...] = ()
    itl_bounds_s: tuple[float, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def step_prom_s(self) -> float:
        """The interval in Prometheus (wall) seconds."""
        return self.interval_s / self.time_compression


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One interval ending at ``end_unix_s`` (Prometheus time)."""

    end_unix_s: float
    status: str
    reason: str = ""
    requests: float | None = None
    rate_rps: float | None = None
    isl_mean_tokens: float | None = None
    osl_mean_tokens: float | None = None
    ttft_mean_s: float | None = None
    itl_mean_s: float | None = None
    ttft_buckets: Buckets | None = None
    itl_buckets: Buckets | None = None
    replicas: Mapping[str, float | None] = field(default_factory=dict)
    counter_resets: int = 0

    @property
    def usable(self) -> bool:
        return self.status in USABLE


@dataclass(frozen=True, slots=True)
class HistoryFile:
    meta: HistoryMeta
    rows: tuple[HistoryRow, ...]


def _le(bound: float) -> str:
    return "inf" if math.isinf(bound) else f"{bound:g}"


def _columns(meta: HistoryMeta) -> list[str]:
    cols = ["end_unix_s", "status", "reason", "requests", "rate_rps", *MEANS]
    cols += [f"ttft_le_{_le(b)}_s" for b in meta.ttft_bounds_s]
    cols += [f"itl_le_{_le(b)}_s" for b in meta.itl_bounds_s]
    cols += [f"{c}_replicas" for c in meta.components]
    return [*cols, "counter_resets"]


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.10g}"


def _bucket_cells(buckets: Buckets | None, bounds: tuple[float, ...]) -> list[str]:
    got = dict(buckets or ())
    return [_cell(got.get(b)) if buckets is not None else "" for b in bounds]


def write_history(path: str | Path, history: HistoryFile) -> Path:
    """Write ``history`` as CSV (see the module docstring); returns the path."""
    m = history.meta
    meta = {
        "interval_s": m.interval_s,
        "time_compression": m.time_compression,
        "start_unix_s": m.start_unix_s,
        "end_unix_s": m.end_unix_s,
        "step_prom_s": m.step_prom_s,
        "preset": m.preset,
        "demand_counter": m.demand_counter,
        "components": list(m.components),
        "gpus_per_worker": dict(m.gpus_per_worker),
        "replicas_source": m.replicas_source,
        "ttft_bounds_s": [_le(b) for b in m.ttft_bounds_s],
        "itl_bounds_s": [_le(b) for b in m.itl_bounds_s],
        **dict(m.extra),
    }
    p = Path(path)
    try:
        _write(p, history, meta)
    except OSError as exc:
        raise TraceError(f"{p}: cannot write the history file ({exc})") from exc
    return p


def _write(p: Path, history: HistoryFile, meta: dict[str, Any]) -> None:
    m = history.meta
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", newline="") as fh:
        fh.write(f"{MAGIC}\n# meta: {json.dumps(meta, sort_keys=True)}\n")
        w = csv.writer(fh)
        w.writerow(_columns(m))
        for r in history.rows:
            w.writerow(
                [
                    f"{r.end_unix_s:.3f}",
                    r.status,
                    r.reason,
                    _cell(r.requests),
                    _cell(r.rate_rps),
                    *(_cell(getattr(r, k)) for k in MEANS),
                    *_bucket_cells(r.ttft_buckets, m.ttft_bounds_s),
                    *_bucket_cells(r.itl_buckets, m.itl_bounds_s),
                    *(_cell(r.replicas.get(c)) for c in m.components),
                    str(r.counter_resets),
                ]
            )


def is_history_file(path: str | Path) -> bool:
    """True when ``path`` is a file starting with the history magic line."""
    p = Path(path)
    try:
        with p.open() as fh:
            return p.is_file() and fh.readline().rstrip("\n") == MAGIC
    except (OSError, UnicodeDecodeError):
        return False


def _float(src: str, line: int, col: str, text: str) -> float | None:
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise TraceError(f"{src}:{line}: {col}={text!r}: expected a finite number >= 0 or empty")
    return value


def _bounds(raw: Any, src: str, key: str) -> tuple[float, ...]:
    try:
        return tuple(float(b) for b in raw)
    except (TypeError, ValueError) as exc:
        raise TraceError(f"{src}: meta {key}={raw!r}: expected a list of numbers") from exc


def _meta(src: str, text: str) -> HistoryMeta:
    if not text.startswith("# meta: "):
        raise TraceError(f"{src}:2: expected '# meta: {{...}}', got {text[:40]!r}")
    try:
        raw = json.loads(text[len("# meta: ") :])
        known = set(HistoryMeta.__dataclass_fields__) | {"step_prom_s"}
        return HistoryMeta(
            interval_s=float(raw["interval_s"]),
            time_compression=float(raw["time_compression"]),
            start_unix_s=float(raw["start_unix_s"]),
            end_unix_s=float(raw["end_unix_s"]),
            preset=str(raw["preset"]),
            demand_counter=str(raw["demand_counter"]),
            components=tuple(str(c) for c in raw["components"]),
            gpus_per_worker={str(k): int(v) for k, v in raw["gpus_per_worker"].items()},
            replicas_source=str(raw["replicas_source"]),
            ttft_bounds_s=_bounds(raw.get("ttft_bounds_s", []), src, "ttft_bounds_s"),
            itl_bounds_s=_bounds(raw.get("itl_bounds_s", []), src, "itl_bounds_s"),
            extra={k: v for k, v in raw.items() if k not in known},
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TraceError(f"{src}:2: meta: {exc!r}: expected the fields of docs/history.md") from exc


def _buckets(
    row: dict[str, str], src: str, line: int, prefix: str, bounds: tuple[float, ...]
) -> Buckets | None:
    cols = [f"{prefix}_le_{_le(b)}_s" for b in bounds]
    cells = [row[c] for c in cols]
    if all(c == "" for c in cells):
        return None
    out: list[tuple[float, float]] = []
    for b, col, cell in zip(bounds, cols, cells, strict=True):
        value = _float(src, line, col, cell)
        if value is None:
            raise TraceError(f"{src}:{line}: {col} is empty while other {prefix} buckets are not")
        out.append((b, value))
    return tuple(out)


def read_history(path: str | Path) -> HistoryFile:
    """Read a file ``write_history`` wrote; TraceError names the line and column."""
    p = Path(path)
    src = str(p)
    try:
        with p.open(newline="") as fh:
            if fh.readline().rstrip("\n") != MAGIC:
                raise TraceError(f"{src}:1: expected {MAGIC!r}: not a history file")
            meta = _meta(src, fh.readline().rstrip("\n"))
            reader = csv.DictReader(fh)
            missing = set(_columns(meta)) - set(reader.fieldnames or ())
            if missing:
                raise TraceError(f"{src}:3: columns {sorted(missing)} missing from the header")
            rows = [_row(r, src, n, meta) for n, r in enumerate(reader, start=4)]
    except OSError as exc:
        raise TraceError(f"{src}: cannot read ({exc})") from exc
    return HistoryFile(meta=meta, rows=tuple(rows))


def _row(r: dict[str, str], src: str, line: int, meta: HistoryMeta) -> HistoryRow:
    status = r["status"]
    if status not in STATUSES:
        raise TraceError(f"{src}:{line}: status={status!r}: expected one of {sorted(STATUSES)}")
    end = _float(src, line, "end_unix_s", r["end_unix_s"])
    if end is None:
        raise TraceError(f"{src}:{line}: end_unix_s is empty: expected a Unix time")
    num = {k: _float(src, line, k, r[k]) for k in ("requests", "rate_rps", *MEANS)}
    try:
        resets = int(r["counter_resets"] or 0)
    except ValueError as exc:
        raise TraceError(f"{src}:{line}: counter_resets={r['counter_resets']!r}") from exc
    return HistoryRow(
        end_unix_s=end,
        status=status,
        reason=r["reason"],
        requests=num["requests"],
        rate_rps=num["rate_rps"],
        isl_mean_tokens=num["isl_mean_tokens"],
        osl_mean_tokens=num["osl_mean_tokens"],
        ttft_mean_s=num["ttft_mean_s"],
        itl_mean_s=num["itl_mean_s"],
        ttft_buckets=_buckets(r, src, line, "ttft", meta.ttft_bounds_s),
        itl_buckets=_buckets(r, src, line, "itl", meta.itl_bounds_s),
        replicas={
            c: v
            for c in meta.components
            if (v := _float(src, line, f"{c}_replicas", r[f"{c}_replicas"])) is not None
        },
        counter_resets=resets,
    )
