"""Plots (matplotlib Agg, imported lazily) and a self-contained HTML report of a comparison
(a Jinja2 template: the verdict first, a table of the policies, the plots, the run)."""

from __future__ import annotations

import base64
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from planner.sim.metrics import windowed_percentiles
from planner.sim.runner import SimRun
from planner.sim.verdict import verdict

#: the share of requests within both targets a policy must reach (Experiment's goal)
ATTAINMENT_GOAL = 0.99

_COLORS = {"prefill": "tab:blue", "decode": "tab:orange", "agg": "tab:green"}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def policy_figure(run: SimRun, *, ttft_ms: float, itl_ms: float) -> Any:
    """Load, replicas (asked and ready) and latency percentiles over time for one run."""
    plt = _plt()
    t = np.array([r.time_s for r in run.records]) / 60.0
    fig, axes = plt.subplots(4, 1, figsize=(9, 10), sharex=True)
    axes[0].plot(t, [r.requests / run.interval_s for r in run.records], color="k")
    axes[0].set_ylabel("load (req/s)")
    comps = sorted({c for r in run.records for c in r.desired}, key=lambda c: c.value)
    for c in comps:
        col = _COLORS.get(c.value)
        axes[1].step(
            t,
            [r.desired.get(c, 0) for r in run.records],
            where="post",
            color=col,
            label=f"{c.value} asked",
        )
        axes[1].step(
            t,
            [r.ready.get(c, 0) for r in run.records],
            where="post",
            color=col,
            linestyle=":",
            label=f"{c.value} ready",
        )
    axes[1].set_ylabel("replicas")
    axes[1].legend(fontsize=7, ncol=2)
    pct = windowed_percentiles(run)
    for ax, name, target in ((axes[2], "ttft", ttft_ms), (axes[3], "itl", itl_ms)):
        for q, style in (("50", "-"), ("90", "--"), ("99", ":")):
            ax.plot(t, pct[f"{name}_p{q}"], style, label=f"p{q}")
        ax.axhline(target, color="red", linewidth=0.8, label="target")
        ax.set_yscale("log")
        ax.set_ylabel(f"{name.upper()} (ms)")
        ax.legend(fontsize=7, ncol=4)
    axes[3].set_xlabel("time (min)")
    fig.suptitle(f"{run.policy} on {run.trace_name}")
    fig.tight_layout()
    return fig


def comparison_figure(runs: dict[str, SimRun], summaries: list[dict[str, Any]]) -> Any:
    """GPUs held over time per policy, and GPU-hours against SLA attainment."""
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.5))
    for name, run in runs.items():
        t = np.array([r.time_s for r in run.records]) / 60.0
        ax1.step(t, [r.gpus_held for r in run.records], where="post", label=name)
    ax1.set_xlabel("time (min)")
    ax1.set_ylabel("GPUs held (incl. starting, draining)")
    ax1.legend(fontsize=8)
    for s in summaries:
        ax2.scatter(s["gpu_hours"], 100 * s["attainment"]["both"])
        ax2.annotate(s["policy"], (s["gpu_hours"], 100 * s["attainment"]["both"]), fontsize=8)
    ax2.axhline(99, color="red", linewidth=0.8)
    ax2.set_xlabel("GPU-hours")
    ax2.set_ylabel("SLA attainment (%)")
    fig.tight_layout()
    return fig


def _png(fig: Any, path: Path) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    _plt().close(fig)
    data = buf.getvalue()
    path.write_bytes(data)
    return data


def _num(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:,.{digits}f}"


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.2f}%"


def _plain(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_plain(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("planner.sim", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,  # a misspelt field fails the test, not the reader
    )
    env.filters.update(num=_num, pct=_pct, plain=_plain, basename=lambda p: Path(str(p)).name)
    return env


def render_report(
    *,
    summaries: list[dict[str, Any]],
    meta: dict[str, Any],
    images: list[tuple[str, bytes]],
    goal: float = ATTAINMENT_GOAL,
) -> str:
    """The self-contained HTML page: the verdict first, then the table, the plots
    (embedded PNGs) and the run's settings."""
    captions = {"comparison": "GPUs held over time by each policy, and GPU-hours against SLA"}
    captions["comparison"] += " attainment (the red line is the goal)."
    for name, _ in images:
        captions.setdefault(
            name,
            f"{name}: load, replicas asked for and ready, TTFT and ITL percentiles per "
            "interval against their targets (red).",
        )
    return str(
        _environment()
        .get_template("report.html.j2")
        .render(
            verdict=verdict(summaries, goal=goal),
            summaries=summaries,
            meta=meta,
            goal=goal,
            images=[(n, base64.b64encode(b).decode()) for n, b in images],
            captions=captions,
        )
    )


def write_report(
    out_dir: Path,
    *,
    runs: dict[str, SimRun],
    summaries: list[dict[str, Any]],
    meta: dict[str, Any],
    plots: bool = True,
    goal: float = ATTAINMENT_GOAL,
) -> dict[str, Path]:
    """summary.json, one PNG per policy plus a comparison PNG, and report.html."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {"summary": out_dir / "summary.json"}
    written["summary"].write_text(
        json.dumps({"meta": meta, "policies": summaries}, indent=2, default=str) + "\n"
    )
    images: list[tuple[str, bytes]] = []
    if plots:
        comp = comparison_figure(runs, summaries)
        images.append(("comparison", _png(comp, out_dir / "comparison.png")))
        for name, run in runs.items():
            fig = policy_figure(run, ttft_ms=meta["ttft_ms"], itl_ms=meta["itl_ms"])
            images.append((name, _png(fig, out_dir / f"policy_{name}.png")))
    written["report"] = out_dir / "report.html"
    page = render_report(summaries=summaries, meta=meta, images=images, goal=goal)
    written["report"].write_text(page)
    return written


def priced(summary: dict[str, Any], *, usd_per_gpu_hour: float) -> dict[str, Any]:
    """``summary`` with dollars: ``usd`` for its GPU-hours and ``usd_per_1k_good``, per
    1,000 requests that met both targets (None when none did)."""
    usd = summary["gpu_hours"] * usd_per_gpu_hour
    good = summary["attainment"]["both"] * summary["requests"]
    per_k = usd / good * 1000.0 if good > 0 else None
    return {**summary, "usd": usd, "usd_per_1k_good": per_k}


def write_pool_report(out_dir: Path, *, result: dict[str, Any], table: str) -> dict[str, Path]:
    """A shared-pool measurement (planner/evaluation/pool_sim.py): summary.json and
    report.md with its table (attainment, GPU-hours and dollars per graph and pool)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {"summary": out_dir / "summary.json", "report": out_dir / "report.md"}
    written["summary"].write_text(json.dumps(result, indent=2, default=str) + "\n")
    head = (
        f"# {len(result['graphs'])} graphs on one pool of {result['pool_gpus']} GPUs\n\n"
        f"Span {result['span_h']:.2f} h; simulated in {result['wall_s']} s.\n\n"
    )
    written["report"].write_text(head + table + "\n")
    return written
