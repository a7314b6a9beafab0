"""The rule by which ``auto`` picks a member for one (series, horizon): ``constant``
unless a challenger has clearly erred less on the same targets, recently and over the
long run.

Every member's absolute error on each scored target is stored in one row of a
scoreboard, so every comparison is over identical targets. Let m be the member with
the lowest mean error over the newest ``window`` rows (ties: constant). m replaces
``constant`` when that error is below (1 - ``margin``) x constant's over the same rows
and m's mean error over the newest ``long_window`` rows is below constant's too;
otherwise ``constant``.

Each part is ablated on the validation set in docs/forecasting.md (removing the
margin, the long-run test or the recency window each let ``auto`` hurt more; the
earlier minimum of 24 scores changed no forecast and was dropped), where the
Diebold-Mariano significance test tried in its place
(``planner.evaluation.significance_rule``) is measured as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

BASELINE = "constant"


@dataclass(frozen=True)
class SwitchRule:
    """How clearly a challenger must beat ``constant`` before ``auto`` uses it."""

    #: newest scored targets the recent comparison looks at
    window: int = 48
    #: the challenger's recent mean error must be below (1 - margin) x constant's
    margin: float = 0.10
    #: newest scored targets of the long-run comparison
    long_window: int = 2000

    def __post_init__(self) -> None:
        if not 1 <= self.window <= self.long_window:
            raise ValueError(
                f"window={self.window}, long_window={self.long_window}: "
                "expected 1 <= window <= long_window"
            )
        if not 0.0 <= self.margin < 1.0:
            raise ValueError(f"margin={self.margin}: expected 0 <= margin < 1")


class Scoreboard:
    """Aligned absolute errors of every member for one (series, horizon)."""

    def __init__(self, members: Sequence[str], *, steps: int, rule: SwitchRule) -> None:
        if BASELINE not in members:
            raise ValueError(f"members {list(members)}: expected {BASELINE!r} among them")
        self.members = tuple(members)
        self.steps = steps
        self.rule = rule
        # a ring of 2 x long_window rows: the newest long_window are always contiguous
        self._rows = np.empty((2 * rule.long_window, len(self.members)))
        self._end = 0
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, errors: Sequence[float]) -> None:
        """One scored target: every member's absolute error, in ``members`` order."""
        keep = self.rule.long_window
        if self._end == self._rows.shape[0]:
            self._rows[:keep] = self._rows[-keep:]
            self._end = keep
        self._rows[self._end] = errors
        self._end += 1
        self._count = min(self._count + 1, keep)

    def errors(self) -> NDArray[np.float64]:
        """The newest rows (oldest first), one column per member."""
        return self._rows[self._end - self._count : self._end]

    def choose(self) -> str:
        if self._count == 0 or len(self.members) == 1:
            return BASELINE
        errs = self.errors()
        recent = errs[-self.rule.window :].mean(axis=0)
        base = self.members.index(BASELINE)
        best = int(np.argmin(recent))  # the first of equals: constant comes first
        if best == base or recent[best] >= (1.0 - self.rule.margin) * recent[base]:
            return BASELINE
        long_run = errs.mean(axis=0)
        return self.members[best] if long_run[best] < long_run[base] else BASELINE
