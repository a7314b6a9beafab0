"""The significance test tried as auto's switch rule (planner/evaluation/
significance_rule.py, measured in the ablations): the Diebold-Mariano statistic by its
formula, how often it leaves constant when no challenger is better, and that it does
leave for one that is."""

from __future__ import annotations

import math

import numpy as np
import pytest

from planner.evaluation.significance_rule import (
    SignificanceBoard,
    SignificanceRule,
    andrews_bandwidth,
    dm_statistic,
    t_quantile,
)

MEMBERS = ("constant", "a", "b")


def test_dm_statistic_matches_its_formula_for_one_step() -> None:
    """One step ahead, with no plug-in bandwidth, DM is the HLN factor times the plain
    t statistic mean / sqrt(var / n) (var with divisor n)."""
    d = np.array([-1.0, 0.5, -2.0, 0.25, -0.75, -1.5, 0.5, -0.25])
    n = d.size
    plain = d.mean() / math.sqrt(d.var() / n)
    hln = math.sqrt((n + 1 - 2 + 0) / n)
    assert dm_statistic(d, 1, andrews=False) == pytest.approx(hln * plain)
    assert dm_statistic(d, 1, andrews=False, small_sample=False) == pytest.approx(plain)


def test_overlapping_errors_widen_the_variance() -> None:
    """h-step differentials that come in runs of h (overlapping errors) give a smaller
    |DM| at h than the same numbers read as independent one-step differentials."""
    rng = np.random.default_rng(0)
    d = np.repeat(rng.normal(-0.3, 1.0, 40), 6)
    assert abs(dm_statistic(d, 6)) < 0.6 * abs(dm_statistic(d, 1, andrews=False))


def test_andrews_bandwidth_grows_with_persistence() -> None:
    """The plug-in bandwidth is small for white noise (about 3 on 500 values) and large
    for an AR(1) with coefficient 0.9 from the same innovations (about 35)."""
    rng = np.random.default_rng(1)
    e = rng.normal(size=500)
    ar = np.zeros_like(e)
    for i in range(1, e.size):
        ar[i] = 0.9 * ar[i - 1] + e[i]
    assert andrews_bandwidth(e) < 5.0
    assert andrews_bandwidth(ar) > 20.0


def test_constant_and_zero_differentials() -> None:
    """An identically zero differential is no evidence (0); a challenger better by the
    same amount on every target is infinitely significant (-inf)."""
    assert dm_statistic(np.zeros(30), 1) == 0.0
    assert dm_statistic(np.full(30, -2.0), 1) == -math.inf


def test_no_switch_before_enough_rows() -> None:
    """With fewer than min_scored rows (or fewer than 2h) constant is kept even when a
    challenger was better every time."""
    board = SignificanceBoard(MEMBERS, steps=20, rule=SignificanceRule(min_scored=24))
    for _ in range(39):
        board.add([1.0, 0.1, 0.5])
    assert board.choose() == "constant"
    board.add([1.0, 0.1, 0.5])
    assert board.choose() == "a"


def test_false_switch_rate_is_at_most_alpha() -> None:
    """When both challengers' errors come from constant's distribution (i.i.d.), the
    rule leaves constant in about alpha of 1,000 independent trials of 60 rows (alpha
    0.05, Bonferroni over two challengers: at most 5 % by the union bound; the bound
    6.5 % is two binomial standard deviations above it). Picking the lowest mean
    without a test would leave constant in about two thirds of them."""
    rng = np.random.default_rng(7)
    switched = 0
    trials = 1000
    for _ in range(trials):
        board = SignificanceBoard(MEMBERS, steps=1, rule=SignificanceRule(alpha=0.05))
        for row in rng.exponential(1.0, size=(60, 3)):
            board.add(row)
        switched += board.choose() != "constant"
    assert switched / trials <= 0.065


def test_a_better_challenger_is_taken_and_the_best_of_two() -> None:
    """Challenger b errs 30 % less than constant and a 10 % less, both with noise: after
    200 rows b is chosen (significant and lowest)."""
    rng = np.random.default_rng(3)
    board = SignificanceBoard(MEMBERS, steps=1, rule=SignificanceRule())
    for _ in range(200):
        e = rng.exponential(1.0)
        board.add([e + rng.normal(0, 0.05), 0.9 * e + 0.02, 0.7 * e + 0.02])
    assert board.choose() == "b"


def test_t_quantile() -> None:
    """The Student t quantile matches known values (df 10: 1.812 at 0.95)."""
    assert t_quantile(0.95, 10) == pytest.approx(1.8125, abs=1e-4)
    assert t_quantile(0.05, 10) == pytest.approx(-1.8125, abs=1e-4)
