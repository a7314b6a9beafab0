"""The feasibility analysis (planner/evaluation/feasibility.py): needed-margin arithmetic and
the hindsight summary."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from planner.evaluation.feasibility import (
    DEFAULT_KNOBS,
    hindsight_markdown,
    lead_intervals,
    needed_margin,
)
from planner.evaluation.feasibility_servegen import new_high_minutes


def test_lead_is_interval_plus_startup_in_whole_intervals() -> None:
    """A decision's capacity serves from ceil((interval + start-up) / interval) on."""
    assert lead_intervals(interval_s=60, startup_s=180) == 4
    assert lead_intervals(interval_s=60, startup_s=150) == 4
    assert lead_intervals(interval_s=60, startup_s=0) == 1


def test_needed_margin_on_a_step_is_the_step_weighted_by_requests() -> None:
    """Ten requests a minute for 5 minutes, then 30 a minute for 5 (equal sizes): with a
    one-interval lead there are nine origins: eight with ratio 1 and the step's with
    ratio 3. Weighted by the requests of the later interval, the step carries 30 of
    190 requests (16 %), so p50 = 1 and p95 = 3. The trace's last, partial interval is left out."""
    arrivals = [m * 60 + (i + 0.5) * 60 / 10 for m in range(5) for i in range(10)]
    arrivals += [m * 60 + (i + 0.5) * 60 / 30 for m in range(5, 10) for i in range(30)]
    arrivals += [600.5]  # one request in a partial 11th minute: not an interval
    a = np.asarray(arrivals)
    q = needed_margin(a, np.ones_like(a), interval_s=60, lead=1, quantiles=(0.5, 0.95))
    assert q == pytest.approx({"p50": 1.0, "p95": 3.0})


def test_needed_margin_skips_idle_origins() -> None:
    """An interval with no work gives no ratio (undefined), so a burst after silence
    is not scored as an infinite margin; with no defined ratio the result is empty."""
    a = np.asarray([10.0, 130.0, 131.0, 250.0])  # minutes 0, 2, 2, 4 (4 is partial)
    q = needed_margin(a, np.ones_like(a), interval_s=60, lead=1, quantiles=(0.5,))
    # origins: minute 0 -> 1 (ratio 0), minute 2 -> 3 (ratio 0); minute 1 is idle
    assert q == {"p50": 0.0}
    assert needed_margin(np.asarray([10.0, 70.0]), np.ones(2), interval_s=60, lead=1) == {}


def test_new_high_windows_start_at_each_record_and_last_the_lead() -> None:
    """Per-minute counts 5, 3, 6, 6, 2, 9, 1: minute 2 (6 > 5) and minute 5 (9 > 6) are
    new highs (minute 3 only ties); with a lead of 2 the windows are minutes 2-3 and
    5-6. The first minute is no new high (nothing before it to beat)."""
    counts = [5, 3, 6, 6, 2, 9, 1]
    a = np.asarray([m * 60.0 + i for m, c in enumerate(counts) for i in range(c)])
    mask = new_high_minutes(a, interval_s=60.0, lead=2)
    assert mask.tolist() == [False, False, True, True, False, True, True]
    assert not new_high_minutes(np.asarray([1.0, 2.0]), interval_s=60.0, lead=4).any()


def _hindsight_results(code_hours: float) -> dict[str, Any]:
    conv = {
        "goal_gpu_hours": 12.5,
        "hindsight": [
            {"hold": 4, "margin": 1.0, "attainment": 0.95, "gpu_hours": 11.0},
            {"hold": 4, "margin": 1.1, "attainment": 0.991, "gpu_hours": 13.4},
        ],
        "sla": [{"knobs": DEFAULT_KNOBS, "attainment": 1.0, "gpu_hours": 16.4}],
    }
    code = {
        "goal_gpu_hours": 9.79,
        "hindsight": [{"hold": 6, "margin": 1.0, "attainment": 0.992, "gpu_hours": code_hours}],
        "sla": [{"knobs": DEFAULT_KNOBS, "attainment": 0.998, "gpu_hours": 9.0}],
    }
    return {"conv": conv, "code": code}


def test_hindsight_summary_follows_the_numbers() -> None:
    """The sentence under the hindsight table is computed: with code's cheapest 99%
    hindsight point inside its goal it says so (and that the default sla beat it there,
    9.00 < 9.50); with it above the goal it says no scenario has one within."""
    text = "\n".join(hindsight_markdown(_hindsight_results(9.5)))
    assert "| conv | 4 | 1: 95.00% / 11.00, 1.1: 99.10% / 13.40 | 13.40 | 12.50 |" in text
    assert "Hindsight reaches 99% within the goal on code." in text
    assert "fewer GPU-hours than every hindsight point that does on code (9.00 GPU-h)" in text
    text = "\n".join(hindsight_markdown(_hindsight_results(12.0)))
    assert "No hindsight point reaching 99% is within the goal on any of conv, code." in text
    assert "code (9.00 GPU-h)" in text
