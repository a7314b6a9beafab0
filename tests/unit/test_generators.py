"""Workload generators: the daily cycle peaks and bottoms where it says, bursts last and
recur as asked, generated traces are seeded, and lengths have the asked means."""

from __future__ import annotations

import numpy as np
import pytest

from planner.errors import ConfigError
from planner.workload.generators import burst_rate, day_rate, generated_trace, with_lengths
from planner.workload.synthetic import synthetic_trace


def test_the_day_rate_peaks_at_its_hour_and_bottoms_twelve_hours_away() -> None:
    """day_rate(2, 8) is 8 req/s at 14:00, 2 req/s at 02:00, 5 req/s at 08:00."""
    rate = day_rate(trough_rps=2, peak_rps=8)
    hours = np.array([14.0, 2.0, 8.0, 20.0]) * 3600
    np.testing.assert_allclose(rate(hours), [8.0, 2.0, 5.0, 5.0], atol=1e-9)
    with pytest.raises(ConfigError, match="trough_rps"):
        day_rate(trough_rps=5, peak_rps=1)


def test_bursts_last_and_recur_as_asked() -> None:
    """Every burst is 30-120 s long at 60 req/s, separated by 240-720 s at 15 req/s."""
    rate = burst_rate(base_rps=15, burst_rps=60, duration_s=3600, burst_s=(30, 120),
                      gap_s=(240, 720), seed=4)  # fmt: skip
    t = np.arange(0.0, 3600.0, 0.5)
    r = rate(t)
    assert set(np.unique(r)) == {15.0, 60.0}
    edges = np.flatnonzero(np.diff(r)) + 1
    starts = t[edges][r[edges] == 60]
    ends = t[edges][r[edges] == 15]
    lengths = ends[: len(starts)] - starts[: len(ends)]
    assert len(starts) >= 4 and ((lengths >= 29.5) & (lengths <= 120.5)).all()
    gaps = starts[1:] - ends[: len(starts) - 1]
    assert ((gaps >= 239.5) & (gaps <= 720.5)).all()


def test_generated_traces_are_seeded_and_have_the_asked_means() -> None:
    """Same seed, same requests; lognormal means within 3% over ~50k requests."""
    kwargs = dict(duration_s=3600.0, isl_mean=12000, isl_cv=0.25, osl_mean=300, osl_cv=1.0)
    rate = day_rate(trough_rps=14, peak_rps=14)
    a = generated_trace("x", rate, seed=3, **kwargs)  # type: ignore[arg-type]
    b = generated_trace("x", rate, seed=3, **kwargs)  # type: ignore[arg-type]
    c = generated_trace("x", rate, seed=4, **kwargs)  # type: ignore[arg-type]
    np.testing.assert_array_equal(a.arrival_s, b.arrival_s)
    np.testing.assert_array_equal(a.isl_tokens, b.isl_tokens)
    assert len(a) != len(c) or not np.array_equal(a.arrival_s, c.arrival_s)
    assert len(a) == pytest.approx(14 * 3600, rel=0.03)
    assert a.isl_tokens.mean() == pytest.approx(12000, rel=0.03)
    assert a.osl_tokens.mean() == pytest.approx(300, rel=0.03)
    assert 0.05 < (a.isl_tokens > 16372).mean() < 0.12  # the tail past the profile


def test_with_lengths_keeps_the_arrivals() -> None:
    """New lengths on an existing trace's timing."""
    base = synthetic_trace("constant", duration_s=600, base_rps=10, seed=1)
    long = with_lengths(base, isl_mean=8000, isl_cv=0.5, osl_mean=50, osl_cv=0.5, seed=2)
    np.testing.assert_array_equal(long.arrival_s, base.arrival_s)
    assert long.isl_tokens.mean() > 5 * base.isl_tokens.mean()
