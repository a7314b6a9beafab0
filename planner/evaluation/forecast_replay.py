"""Replays ``auto``'s choices from its members' recorded forecasts, so variants of the
switch rule (the ablations in docs/forecasting.md) are scored without re-running the
members; the shipped rule replayed gives ``auto``'s own forecasts exactly (a test
checks it).

At the end of interval t, ``auto`` scores every member on target t (when it has a
value), then picks a member for target t + h from the rows scored so far; the replay
does the same over the members' point arrays (``Run.point``, indexed by target).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from planner.forecast.backtest import Run
from planner.forecast.history import SERIES
from planner.forecast.selection import BASELINE, Scoreboard, SwitchRule, dm_statistic


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


class _Variant(Scoreboard):
    """The shipped test with one part changed (ablations)."""

    def __init__(
        self, members: Sequence[str], *, steps: int, andrews: bool, hln: bool, bonferroni: bool
    ) -> None:
        super().__init__(members, steps=steps, rule=SwitchRule())
        self.andrews, self.hln, self.bonferroni = andrews, hln, bonferroni

    def statistic(self, d: NDArray[np.float64]) -> float:
        return dm_statistic(d, self.steps, andrews=self.andrews, small_sample=self.hln)

    def critical(self, n: int, challengers: int) -> float:
        return super().critical(n, challengers if self.bonferroni else 1)


def variant(*, andrews: bool = True, hln: bool = True, bonferroni: bool = True) -> BoardFactory:
    return lambda members, h: _Variant(
        members, steps=h, andrews=andrews, hln=hln, bonferroni=bonferroni
    )


@dataclass
class LegacyBoard:
    """The rule ``auto`` used before the significance test: the member with the lowest
    mean error over the last ``window`` rows (at least ``min_scored``), if below
    (1 - ``margin``) x constant's and also lower over the last ``long_window`` rows."""

    members: tuple[str, ...]
    window: int = 48
    min_scored: int = 24
    margin: float = 0.10
    long_window: int = 2000

    def __post_init__(self) -> None:
        self._rows: list[NDArray[np.float64]] = []

    def add(self, errors: Sequence[float]) -> None:
        self._rows.append(np.asarray(errors, dtype=np.float64))
        del self._rows[: -self.long_window]

    def choose(self) -> str:
        if len(self._rows) < self.min_scored:
            return BASELINE
        errs = np.vstack(self._rows)
        recent = errs[-self.window :].mean(axis=0)
        long_run = errs.mean(axis=0)
        base = self.members.index(BASELINE)
        best = int(np.argmin(recent))
        clearly = recent[best] < (1 - self.margin) * recent[base]
        if best != base and clearly and long_run[best] < long_run[base]:
            return self.members[best]
        return BASELINE


def legacy() -> BoardFactory:
    return lambda members, h: LegacyBoard(members)
