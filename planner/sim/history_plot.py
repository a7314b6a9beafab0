"""The first picture of ``simulate --history``: the cluster's load, the GPUs that actually
ran beside those each policy would have held, and the TTFT attainment measured per
interval beside the one the simulator predicts for the real fleet (matplotlib Agg,
imported lazily)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from planner.core.attainment import share_within
from planner.history.format import HistoryFile
from planner.sim.metrics import request_latencies
from planner.sim.runner import SimRun


def _measured_gpus(history: HistoryFile) -> list[float]:
    m = history.meta
    out = []
    for r in history.rows:
        vals = [r.replicas.get(c) for c in m.components]
        ok = all(v is not None for v in vals)
        total = sum(
            (v or 0.0) * m.gpus_per_worker.get(c, 1)
            for c, v in zip(m.components, vals, strict=True)
        )
        out.append(total if ok else float("nan"))
    return out


def _measured_ttft_share(history: HistoryFile, target_s: float) -> list[float]:
    out = []
    for r in history.rows:
        share = share_within(r.ttft_buckets, target_s) if r.ttft_buckets and r.usable else None
        out.append(100.0 * share.low if share is not None else float("nan"))
    return out


def _replayed_ttft_share(run: SimRun, *, n: int, interval_s: float, target_s: float) -> list[float]:
    ttft, _ = request_latencies(run.outcomes)
    idx = (run.outcomes["arrival_s"] // interval_s).astype(int)
    ok = np.nan_to_num(ttft, nan=np.inf) <= target_s
    out = []
    for i in range(n):
        sel = idx == i
        out.append(100.0 * float(ok[sel].mean()) if sel.any() else float("nan"))
    return out


def history_figure(history: HistoryFile, runs: dict[str, SimRun], *, ttft_ms: float) -> Any:
    """Three panels over the file's intervals (minutes of replay time)."""
    from planner.sim.report import _plt

    plt = _plt()
    interval = history.meta.interval_s
    n = len(history.rows)
    # each interval drawn from its start: row i covers [i, i + 1) intervals of replay
    t = np.arange(n + 1) * interval / 60.0
    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    rate = [r.rate_rps if r.usable and r.rate_rps is not None else np.nan for r in history.rows]
    ax1.step(t, [*rate, rate[-1]], where="post", color="black", label="measured")
    for i, r in enumerate(history.rows):
        if not r.usable:
            ax1.axvspan(t[i], t[i + 1], color="red", alpha=0.15, lw=0)
    ax1.set_ylabel("requests/s")
    ax1.set_title(f"{history.meta.preset} metrics, {interval:g}-s intervals (red: gap/missing)")
    gpus = _measured_gpus(history)
    ax2.step(t, [*gpus, gpus[-1]], where="post", color="black", lw=2, label="actual (measured)")
    for name, run in runs.items():
        # a record's GPUs are those held through the interval that ends at its time
        ts = [(rec.time_s - interval) / 60.0 for rec in run.records]
        held = [rec.gpus_held for rec in run.records]
        ts, held = [*ts, run.records[-1].time_s / 60.0], [*held, held[-1]]
        ax2.step(ts, held, where="post", label=f"{name} ({run.gpu_hours:.2f} GPU-h)", alpha=0.8)
    ax2.set_ylabel("GPUs held")
    ax2.legend(loc="upper left", fontsize=8)
    target_s = ttft_ms / 1000.0
    mid = t[:-1] + interval / 120.0
    ax3.plot(mid, _measured_ttft_share(history, target_s), "k.-", label="measured (histogram)")
    actual = runs.get("actual")
    if actual is not None:
        pred = _replayed_ttft_share(actual, n=n, interval_s=interval, target_s=target_s)
        ax3.plot(mid, pred, "x--", color="tab:red", label="simulator, real fleet replayed")
    ax3.set_ylabel(f"% TTFT <= {ttft_ms:g} ms")
    ax3.set_xlabel("minutes")
    ax3.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig


def write_history_figure(
    path: Path, *, history: HistoryFile, runs: dict[str, SimRun], ttft_ms: float
) -> Path:
    from planner.sim.report import _png

    _png(history_figure(history, runs, ttft_ms=ttft_ms), path)
    return path
