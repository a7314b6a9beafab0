"""docs/simulation.md from results: both sets side by side with every policy's attainment
and GPU-hours, static99's own attainment and the bars; a static99 that missed 99% is
shown as such and judged against nothing; the feasibility block survives a re-render."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planner.evaluation.render import render_doc, summary_table

POLICIES = ("sla", "dynamo", "threshold", "static", "oracle")


def _summary(policy: str, both: float, gpu_h: float, **extra: Any) -> dict[str, Any]:
    return {
        "policy": policy, "attainment": {"both": both, "ttft": both, "itl": 1.0},
        "gpu_hours": gpu_h, "ttft_ms": {"p50": 50.0, "p90": 90.0, "p99": 400.0},
        "gpu_hours_by_component": {"prefill": 0.75 * gpu_h, "decode": 0.25 * gpu_h},
        "itl_ms": {"p50": 5.0, "p99": 9.0}, "goodput_rps": 10.0,
        "scale_events": {"prefill": 3}, "direction_reversals": {"prefill": 1}, **extra,
    }  # fmt: skip


def _result(name: str, *, static_ok: bool) -> dict[str, Any]:
    fleet = {"prefill": 4, "decode": 2}
    both = 0.995 if static_ok else 0.97
    static = _summary("static", both, 100.0, static_reached_goal=static_ok, static_fleet=fleet)
    pols = [_summary("sla", 0.992, 90.0), _summary("dynamo", 0.5, 30.0),
            _summary("threshold", 0.9, 60.0), static, _summary("oracle", 0.99, 40.0)]  # fmt: skip
    check = {"requests": 1000, "infeasible": 0, "ttft_infeasible": 0, "itl_infeasible": 0,
             "attainment_ceiling": 1.0, "out_of_range": 0, "isl_above_range": 0,
             "isl_below_range": 0, "context_above_range": 0}  # fmt: skip
    meta = {"scenario": name, "set": "x", "recipe": "r", "requests": 1000, "span_min": 60,
            "mean_isl": 1000, "mean_osl": 100, "ttft_ms": 500, "itl_ms": 50,
            "true_slowdown": 1.0, "gpus_per_worker": {}, "engine_limits": {},
            "initial_fleet": {}, "workload_check": check, "command": "c",
            "task_wall_s": dict.fromkeys(POLICIES, 1.0)}  # fmt: skip
    return {"meta": meta, "policies": pols}


def test_both_sets_are_side_by_side_with_the_bars() -> None:
    """servegen (tuning, diurnal) and sine (validation) rows, in set order, with each
    policy's cell, static99's own attainment and fleet, and the three bar columns."""
    table = summary_table({"sine": _result("sine", static_ok=False),
                           "servegen": _result("servegen", static_ok=True)})  # fmt: skip
    rows = [r for r in table.splitlines() if r.startswith("| tuning") or r.startswith("| valid")]
    assert [r.split(" | ")[1] for r in rows] == ["servegen", "sine"]
    servegen, sine = rows
    assert "99.20% / 90.00" in servegen and "99.50% / 100.00 (p4, d2)" in servegen
    # 90 <= 100 - 0.3 x (100 - 40) = 82? no: the diurnal bar is not met
    assert servegen.rstrip(" |").endswith("yes | yes | no")
    assert "97.00% / 100.00 (p4, d2) not 99%" in sine
    assert sine.rstrip(" |").endswith("yes | not judged | -")


def test_a_rerender_keeps_the_feasibility_block(tmp_path: Path) -> None:
    """Text between the feasibility markers is taken from the current doc."""
    doc = tmp_path / "simulation.md"
    doc.write_text("x\n<!-- feasibility:begin -->\nKEPT\n<!-- feasibility:end -->\ny\n")
    text = render_doc({"sine": _result("sine", static_ok=True)}, doc=doc)
    assert "<!-- feasibility:begin -->\nKEPT\n<!-- feasibility:end -->" in text
    assert "### sine" in text and "{{" not in text
    assert "| validation | sine | 99.20% / 100.00% | 400 | 67.5 / 75.0 / 30.0 |" in text
