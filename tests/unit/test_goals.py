"""The sla policy's bars: 99% attainment, GPU-hours against static99 (only a static99 that
reached 99% counts), and the diurnal 30% line."""

from __future__ import annotations

from typing import Any

from planner.evaluation.goals import bars, verdict_cell


def _p(policy: str, both: float, gpu_h: float, **extra: Any) -> dict[str, Any]:
    return {"policy": policy, "attainment": {"both": both}, "gpu_hours": gpu_h, **extra}


def test_every_scenario_asks_99_percent_and_no_more_than_static99() -> None:
    """sla 99.2% at 90 GPU-h against static99 at 100: both bars met; at 110, the second
    is not."""
    static = _p("static", 0.991, 100.0, static_reached_goal=True, static_fleet={"prefill": 3})
    ok = bars([_p("sla", 0.992, 90.0), static, _p("oracle", 0.99, 40.0)], diurnal=False)
    assert [(b.name, b.met) for b in ok] == [("attainment", True), ("GPU-h vs static99", True)]
    over = bars([_p("sla", 0.992, 110.0), static, _p("oracle", 0.99, 40.0)], diurnal=False)
    assert over[1].met is False and over[1].reached == "110.00"


def test_a_diurnal_day_asks_for_30_percent_of_the_excess_back() -> None:
    """static99 100, oracle 40: the line is 100 - 0.3 x 60 = 82; 85 misses it, 80 meets it."""
    static = _p("static", 0.995, 100.0, static_reached_goal=True)
    for gpu_h, met in ((85.0, False), (80.0, True)):
        got = bars([_p("sla", 0.99, gpu_h), static, _p("oracle", 0.99, 40.0)], diurnal=True)
        assert got[2].name == "diurnal GPU-h" and got[2].met is met
        assert got[2].asked.endswith("= 82.00")


def test_no_bar_is_measured_against_a_static_fleet_that_missed_99() -> None:
    """When the static search found no fleet reaching 99%, the GPU-hour bars say 'not
    judged' with the reason, never 'met'."""
    static = _p("static", 0.975, 300.0, static_reached_goal=False, static_fleet={"prefill": 64})
    got = bars([_p("sla", 0.98, 50.0), static, _p("oracle", 0.98, 20.0)], diurnal=True)
    assert [b.met for b in got] == [False, None, None]
    assert "static99 not defined" in got[1].note and "97.50%" in got[1].note
    assert [verdict_cell(b) for b in got] == ["no", "not judged", "not judged"]


def test_the_diurnal_bar_is_not_judged_when_the_oracle_cost_more_than_static99() -> None:
    """An oracle above static99 is no lower bound: the 30% line would lie above static99,
    so the bar is 'not judged' with the two numbers, not 'met'."""
    static = _p("static", 0.991, 240.0, static_reached_goal=True)
    got = bars([_p("sla", 0.99, 130.0), static, _p("oracle", 0.99, 276.5)], diurnal=True)
    assert got[1].met is True and got[2].met is None
    assert "the oracle (276.50) cost more than static99 (240.00)" in got[2].note
