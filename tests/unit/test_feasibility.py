"""The feasibility analysis' needed-margin arithmetic (tests/bench/feasibility.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.bench.feasibility import lead_intervals, needed_margin, new_high_minutes


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
