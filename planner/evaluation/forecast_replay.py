"""Replays ``auto``'s choices from its members' recorded forecasts, so variants of the
switch rule (the ablations in docs/forecasting.md) are scored without re-running the
members; the shipped rule replayed gives ``auto``'s own forecasts exactly (a test
checks it, and every ``make backtests`` run checks it on both sets).

At the end of interval t, ``auto`` scores every member on target t (when it has a
value), then picks a member for target t + h from the rows scored so far; the replay
does the same over the members' point arrays (``Run.point``, indexed by target).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from planner.evaluation.significance_rule import (
    SignificanceBoard,
    SignificanceRule,
    dm_statistic,
)
from planner.forecast.backtest import Run
from planner.forecast.history import SERIES
from planner.forecast.selection import BASELINE, Scoreboard, SwitchRule


class Board(Protocol):
    """What the replay needs of a switch rule (``Scoreboard`` is one)."""

    def add(self, errors: Sequence[float]) -> None: ...

    def choose(self) -> str: ...


BoardFactory = Callable[[tuple[str, ...], int], Board]


def replay_auto(
    runs: Mapping[str, Run],
    values: Mapping[str, NDArray[np.float64]],
    *,
    members: Sequence[str],
    make_board: BoardFactory,
    name: str = "auto",
) -> Run:
    """``auto``'s point forecasts (upper values NaN) had it used ``make_board``'s rule."""
    order = tuple(dict.fromkeys([BASELINE, *members]))
    steps = runs[BASELINE].steps
    n = next(iter(values.values())).size
    out = Run(name=name, steps=steps)
    for h, s in itertools.product(steps, SERIES):
        actual = values[s]
        points = np.vstack([runs[m].point[(h, s)] for m in order])
        board = make_board(order, h)
        chosen = np.full(n, np.nan)
        for t in range(n):
            if t >= h and np.isfinite(actual[t]):
                board.add(np.abs(actual[t] - points[:, t]))
            if t + h < n:
                chosen[t + h] = points[order.index(board.choose()), t + h]
        out.point[(h, s)] = chosen
        out.upper[(h, s)] = np.full(n, np.nan)
    return out


def shipped(rule: SwitchRule | None = None) -> BoardFactory:
    """The rule ``auto`` ships with (or with another ``SwitchRule``)."""
    return lambda members, h: Scoreboard(members, steps=h, rule=rule or SwitchRule())


class _WithMinimum(Scoreboard):
    """The shipped rule, constant until ``minimum`` targets were scored (the earlier
    rule's 24)."""

    minimum = 24

    def choose(self) -> str:
        return BASELINE if len(self) < self.minimum else super().choose()


def with_minimum() -> BoardFactory:
    return lambda members, h: _WithMinimum(members, steps=h, rule=SwitchRule())


class _WithoutLongRun(Scoreboard):
    """The shipped rule without its long-run test (an ablation)."""

    def choose(self) -> str:
        if len(self) == 0:
            return BASELINE
        recent = self.errors()[-self.rule.window :].mean(axis=0)
        best = int(np.argmin(recent))
        base = self.members.index(BASELINE)
        if best != base and recent[best] < (1.0 - self.rule.margin) * recent[base]:
            return self.members[best]
        return BASELINE


def without_long_run() -> BoardFactory:
    return lambda members, h: _WithoutLongRun(members, steps=h, rule=SwitchRule())


def significance(rule: SignificanceRule | None = None) -> BoardFactory:
    """The significance test that was tried in the margin rule's place."""
    return lambda members, h: SignificanceBoard(members, steps=h, rule=rule or SignificanceRule())


class _SignificanceVariant(SignificanceBoard):
    """The significance test with one part changed."""

    def __init__(
        self, members: Sequence[str], *, steps: int, andrews: bool, hln: bool, bonferroni: bool
    ) -> None:
        super().__init__(members, steps=steps, rule=SignificanceRule())
        self.andrews, self.hln, self.bonferroni = andrews, hln, bonferroni

    def statistic(self, d: NDArray[np.float64]) -> float:
        return dm_statistic(d, self.steps, andrews=self.andrews, small_sample=self.hln)

    def critical(self, n: int, challengers: int) -> float:
        return super().critical(n, challengers if self.bonferroni else 1)


def significance_variant(
    *, andrews: bool = True, hln: bool = True, bonferroni: bool = True
) -> BoardFactory:
    return lambda members, h: _SignificanceVariant(
        members, steps=h, andrews=andrews, hln=hln, bonferroni=bonferroni
    )
