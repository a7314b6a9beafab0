"""Backtest scoring of the upper quantile: hits, coverage and its Wilson interval."""

from __future__ import annotations

import numpy as np
import pytest

from planner.forecast.backtest import Run, in_band_probability, score, wilson_interval


def test_wilson_interval_matches_published_values() -> None:
    """The Wilson score interval reproduces textbook 95 % values: 5/10 -> 23.66-76.34 %,
    0/10 -> 0-27.75 %, 10/10 -> 72.25-100 %, and is symmetric under hits -> n - hits."""
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    low, high = wilson_interval(22, 27)
    assert wilson_interval(5, 27) == pytest.approx((1 - high, 1 - low))


def test_wilson_interval_rejects_impossible_counts() -> None:
    """More hits than targets, negative hits or no targets are errors naming both."""
    for hits, n in ((3, 2), (-1, 4), (0, 0)):
        with pytest.raises(ValueError, match=f"hits={hits}, n={n}"):
            wilson_interval(hits, n)


def test_score_reports_hits_and_interval_of_coverage() -> None:
    """On 20 scored targets of which 17 are at or under the upper value, score reports
    17 hits, 85 % coverage and the Wilson interval of 17/20 in percent (the interval
    holds 90 %, so the cell is not evidence against the nominal level)."""
    n = 21
    actual = np.arange(n, dtype=float) + 1.0
    upper = actual.copy()
    upper[[4, 9, 14]] -= 0.5  # three misses
    run = Run(name="x", steps=(1,))
    run.point[(1, "rate")] = actual.copy()
    run.upper[(1, "rate")] = upper
    m = score(run, run, {"rate": actual}, 1, "rate")
    assert m["n"] == 20  # the first interval cannot be forecast from the past
    assert m["covered"] == 17
    assert m["coverage_pct"] == pytest.approx(85.0)
    low, high = wilson_interval(17, 20)
    assert m["coverage_ci95_pct"] == pytest.approx([100 * low, 100 * high])
    assert 100 * low < 90.0 < 100 * high


def test_in_band_probability_sums_the_binomial_inside_the_band() -> None:
    """On 10 targets at level 0.9 only 9 hits (90 %) is within ±5 points: probability
    10 x 0.9^9 x 0.1 = 0.3874; a ±10-point band adds 8 and 10 hits (0.1937 + 0.3487);
    a band of 100 points covers every outcome (1.0), as ±5 points does on 2,000 targets
    (7.5 standard deviations); impossible arguments are refused."""
    assert in_band_probability(10, level=0.9, band=5.0) == pytest.approx(0.387420489)
    assert in_band_probability(10, level=0.9, band=10.0) == pytest.approx(
        0.387420489 + 0.1937102445 + 0.3486784401
    )
    assert in_band_probability(7, level=0.9, band=100.0) == pytest.approx(1.0)
    # large n (no float overflow): the normal approximation, 5 / sqrt(0.09 / 2000) = 7.45 sd
    assert in_band_probability(2000, level=0.9, band=5.0) == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(ValueError, match="n=0"):
        in_band_probability(0, level=0.9, band=5.0)
