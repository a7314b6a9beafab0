"""auto's switch rule (planner/forecast/selection.py): constant unless a challenger is
clearly better recently and better over the long run, compared on the same targets;
and the auto forecaster follows it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from planner.core.types import LoadPoint
from planner.forecast import make_forecaster
from planner.forecast.auto import AutoForecaster
from planner.forecast.selection import Scoreboard, SwitchRule

MEMBERS = ("constant", "a", "b")


def _board(rows: list[list[float]], **rule: Any) -> Scoreboard:
    board = Scoreboard(MEMBERS, steps=1, rule=SwitchRule(**rule))
    for row in rows:
        board.add(row)
    return board


def test_a_clearly_better_member_is_taken() -> None:
    """A member whose mean error is 15 % below constant's, recently and over the long
    run, is chosen; of two such members the lower wins."""
    assert _board([[1.0, 0.85, 0.95]] * 30).choose() == "a"
    assert _board([[1.0, 0.88, 0.8]] * 30).choose() == "b"


def test_within_the_margin_constant_stays() -> None:
    """A member only 5 % better than constant (inside the 10 % margin) is not taken."""
    assert _board([[1.0, 0.95, 1.2]] * 30).choose() == "constant"


def test_nothing_scored_keeps_constant() -> None:
    """Before any target is scored, constant; one row where a member was clearly better
    is enough (the rule has no minimum: with the default members it changed nothing)."""
    assert _board([]).choose() == "constant"
    assert _board([[1.0, 0.1, 0.5]]).choose() == "a"


def test_the_long_run_test_vetoes_a_recent_streak() -> None:
    """A member that was much worse for 200 targets and then better for the last 48 is
    not taken (its long-run mean error is above constant's); without the old history
    it would be."""
    rows = [[1.0, 3.0, 2.0]] * 200 + [[1.0, 0.5, 2.0]] * 48
    assert _board(rows).choose() == "constant"
    assert _board(rows[-48:]).choose() == "a"


def test_the_long_window_forgets() -> None:
    """Rows older than long_window no longer count: the same streak after 300 neutral
    rows with long_window 300 is taken."""
    rows = [[1.0, 3.0, 2.0]] * 200 + [[1.0, 1.0, 1.0]] * 300 + [[1.0, 0.5, 2.0]] * 48
    assert _board(rows, long_window=300).choose() == "a"
    assert _board(rows).choose() == "constant"


def test_the_ring_keeps_the_newest_rows_in_order() -> None:
    """After more than twice long_window rows, errors() holds exactly the newest
    long_window rows, oldest first."""
    board = Scoreboard(("constant", "a"), steps=1, rule=SwitchRule(window=2, long_window=5))
    for i in range(23):
        board.add([float(i), 0.0])
    np.testing.assert_array_equal(board.errors()[:, 0], np.arange(18.0, 23.0))
    assert len(board) == 5


def test_rule_validation() -> None:
    """Windows that cannot be met and margins outside [0, 1) are refused."""
    with pytest.raises(ValueError, match="window"):
        SwitchRule(window=100, long_window=50)
    with pytest.raises(ValueError, match="margin"):
        SwitchRule(margin=1.0)


def _points(y: np.ndarray, interval_s: float) -> list[LoadPoint]:
    return [
        LoadPoint(
            time_s=interval_s * (i + 1), request_rate_rps=float(v), isl_tokens=10.0, osl_tokens=5.0
        )
        for i, v in enumerate(y)
    ]


def test_auto_is_constant_on_a_random_walk() -> None:
    """On a random walk no member is clearly better than constant: auto's point
    forecast equals constant's at every tick, and its note names constant."""
    rng = np.random.default_rng(4)
    y = np.abs(np.cumsum(rng.normal(0, 1, 200)) + 40)
    auto = AutoForecaster(
        make_member=make_forecaster, interval_s=60.0, members=("constant", "seasonal", "kalman")
    )
    const = make_forecaster("constant", interval_s=60.0)
    for p in _points(y, 60.0):
        auto.observe(p)
        const.observe(p)
        a, c = auto.forecast(horizon_s=60.0), const.forecast(horizon_s=60.0)
        assert a.request_rate_rps.point == c.request_rate_rps.point
    assert "auto: rate=constant" in a.note


def test_auto_picks_seasonal_on_a_daily_pattern() -> None:
    """On a daily sine auto switches the 1-h rate forecast to the seasonal member and
    keeps constant for the flat lengths."""
    period = 144
    y = 100 + 50 * np.sin(2 * np.pi * np.arange(4 * period) / period)
    auto = AutoForecaster(
        make_member=make_forecaster, interval_s=600.0, members=("constant", "seasonal")
    )
    for p in _points(y, 600.0):
        auto.observe(p)
        auto.forecast(horizon_s=3600.0)
    assert auto.choices[("rate", 6)] == "seasonal"
    assert auto.choices[("isl", 6)] == "constant"
