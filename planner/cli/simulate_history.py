"""``simulate --history FILE``: the file's load expanded into requests for the policies,
and what actually ran beside them (measured GPU-hours and attainment, and the real
fleet replayed as a fixed schedule: the simulator's own error on this cluster)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.errors import ConfigError
from planner.history.expand import ExpansionNote, expand_history
from planner.history.format import HistoryFile, read_history
from planner.sim.actual import (
    ScheduleController,
    measured_attainment,
    measured_gpu_hours,
    predicted_attainment,
    schedule,
    sim_error,
)
from planner.sim.experiment import Experiment
from planner.sim.metrics import summarize
from planner.sim.runner import SimRun
from planner.workload.trace import RequestTrace


def settings_overrides(path: str | Path, given: dict[str, Any]) -> dict[str, Any]:
    """The interval and mode the file was pulled at (a different ``--interval-s`` is an
    error: the rows are counts per interval)."""
    meta = read_history(path).meta
    out = dict(given)
    interval = out.get("interval_s")
    if interval is not None and not math.isclose(interval, meta.interval_s):
        raise ConfigError("--interval-s", interval, f"{meta.interval_s:g}, the interval of {path}")
    out["interval_s"] = meta.interval_s
    if "mode" not in out:
        out["mode"] = "agg" if meta.components == ("agg",) else "disagg"
    return out


@dataclass
class HistoryReplay:
    path: Path
    history: HistoryFile
    trace: RequestTrace
    note: ExpansionNote

    @classmethod
    def load(cls, path: str | Path, *, seed: int) -> HistoryReplay:
        p = Path(path)
        history = read_history(p)
        trace, note = expand_history(history, seed=seed, name=p.stem)
        return cls(path=p, history=history, trace=trace, note=note)

    def run_actual(
        self, exp: Experiment
    ) -> tuple[dict[str, Any] | None, SimRun | None, dict[str, Any]]:
        """The real fleet replayed as a fixed schedule, its summary, and the comparison
        of measured and replayed (over the intervals the replay covers). A file without
        replica columns has no fleet to replay: (None, None, the measured part)."""
        s = exp.settings
        n = max(1, math.ceil((self.trace.duration_s + 1e-9) / s.interval_s))
        measured = measured_attainment(self.history, ttft_ms=s.ttft_ms, itl_ms=s.itl_ms, rows=n)
        gpus = measured_gpu_hours(self.history, rows=n)
        report: dict[str, Any] = {
            "file": str(self.path),
            "intervals": n,
            "rows": self.note.rows,
            "unusable_rows": self.note.unusable_rows,
            "filled_length_rows": self.note.filled_length_rows,
            "requests_in_file": self.note.requests_in_file,
            "requests_expanded": self.note.requests_expanded,
            "measured": {**gpus, "attainment": measured},
            "replayed": None,
            "gpu_hours_diff_pct": None,
            "sim_error_pp": {"ttft": None, "itl": None},
            "gpus_per_worker": {
                "file": dict(self.history.meta.gpus_per_worker),
                "simulator": {c.value: g for c, g in exp.gpus.items()},
            },
        }
        if gpus["covered_intervals"] == 0:
            return None, None, report
        fleet = schedule(self.history, rows=n)
        run = exp.run(ScheduleController(fleet), initial=fleet[0])
        summary = summarize(run, exp.targets)
        predicted = predicted_attainment(
            run.outcomes, self.history, ttft_ms=s.ttft_ms, itl_ms=s.itl_ms
        )
        report["replayed"] = {"gpu_hours": run.gpu_hours, "attainment": predicted}
        if gpus["gpu_hours"] > 0:
            report["gpu_hours_diff_pct"] = (
                100.0 * (run.gpu_hours - gpus["gpu_hours"]) / gpus["gpu_hours"]
            )
        report["sim_error_pp"] = sim_error(measured, predicted)
        summary["history"] = report
        return summary, run, report

    def add_actual(
        self, exp: Experiment, *, summaries: list[dict[str, Any]], runs: dict[str, SimRun]
    ) -> dict[str, Any]:
        """``run_actual``, its summary and run added as policy ``actual``; the report."""
        summary, run, report = self.run_actual(exp)
        if summary is not None and run is not None:
            summaries.append(summary)
            runs["actual"] = run
        return report

    def write_plot(self, path: Path, *, runs: dict[str, SimRun], ttft_ms: float) -> Path:
        """The first plot (planner/sim/history_plot.py)."""
        from planner.sim.history_plot import write_history_figure

        path.parent.mkdir(parents=True, exist_ok=True)
        return write_history_figure(path, history=self.history, runs=runs, ttft_ms=ttft_ms)


def _pct(share: dict[str, float] | None) -> str:
    if share is None:
        return "n/a"
    lo, hi = 100 * share["low"], 100 * share["high"]
    return f"{lo:.2f}%" if hi - lo < 0.005 else f"{lo:.2f}-{hi:.2f}%"


def report_lines(report: dict[str, Any]) -> list[str]:
    """The measured-vs-replayed block printed under the policy table."""
    m, r = report["measured"], report["replayed"]
    err = report["sim_error_pp"]

    def pp(e: dict[str, float] | None) -> str:
        return "n/a" if e is None else f"{e['low']:+.2f}..{e['high']:+.2f} pp"

    diff = report["gpu_hours_diff_pct"]
    head = [
        f"what actually ran ({report['file']}, {report['intervals']} intervals, "
        f"{report['unusable_rows']} unusable rows):",
        f"  measured  GPU-h {m['gpu_hours']:.3f} ({m['covered_intervals']}/{m['intervals']} "
        f"intervals with replicas)  TTFT {_pct(m['attainment']['ttft'])}  "
        f"ITL {_pct(m['attainment']['itl'])}",
    ]
    if r is None:
        return [*head, "  no replica columns in the file: the real fleet is not replayed"]
    return [
        *head,
        f"  replayed  GPU-h {r['gpu_hours']:.3f} "
        f"({'n/a' if diff is None else f'{diff:+.2f}%'})  TTFT {_pct(r['attainment']['ttft'])}  "
        f"ITL {_pct(r['attainment']['itl'])}",
        f"  simulator error (replayed - measured): TTFT {pp(err['ttft'])}, ITL {pp(err['itl'])}",
    ]
