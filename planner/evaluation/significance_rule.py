"""A switch rule that was tried for ``auto`` and not kept: ``constant`` unless a
challenger's lower error over the same targets is statistically significant. Chosen
on the tuning set, it lost to the margin rule (``planner.forecast.selection``) on the
validation set (docs/forecasting.md, ablations), so only the ablations use it.

Every member's absolute error on each scored target is stored in one row, so every
comparison is over identical targets. For challenger m the loss differential is
d_i = |e_m,i| - |e_constant,i| over the newest ``window`` rows, and

    DM = mean(d) / sqrt(V / n),   V = g_0 + 2 sum_{k=1..L} (1 - k / (L + 1)) g_k

(Diebold & Mariano 1995), with g_k the lag-k autocovariance of d and the Bartlett
(Newey-West) bandwidth L = max(h - 1, L_A): h-step errors overlap, so d is at least
MA(h - 1); L_A is Andrews' (1991) AR(1) plug-in, 1.1447 (a n)^(1/3) with
a = 4 r^2 / ((1 - r)^2 (1 + r)^2) and r the lag-1 autocorrelation of d, which widens
the bandwidth when the differential is persistent (a member that is off for a whole
regime). The statistic gets Harvey, Leybourne & Newbold's (1997) small-sample factor
sqrt((n + 1 - 2h + h(h - 1) / n) / n) and is compared with Student's t with n - 1
degrees of freedom. A challenger qualifies when DM < t_(alpha / K) (one-sided,
Bonferroni over the K challengers); among those qualifying the one with the lowest
mean error wins. Fewer than ``min_scored`` rows, or fewer than 2h (two non-overlapping
h-step errors): constant.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from planner.forecast.selection import BASELINE


@dataclass(frozen=True)
class SignificanceRule:
    """How sure the rule must be before it leaves ``constant``."""

    #: family-wise one-sided level of the test over all challengers
    alpha: float = 0.05
    #: newest scored targets the test looks at
    window: int = 1008
    #: fewer scored targets than this: constant
    min_scored: int = 24

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0 or self.window < 2 or self.min_scored < 2:
            raise ValueError(
                f"alpha={self.alpha}, window={self.window}, min_scored={self.min_scored}: "
                "expected 0 < alpha < 1, window >= 2, min_scored >= 2"
            )


@lru_cache(maxsize=4096)
def t_quantile(p: float, dof: int) -> float:
    """Student's t quantile (scipy.special, imported when first needed)."""
    from scipy.special import stdtrit

    return float(stdtrit(dof, p))


def andrews_bandwidth(d: NDArray[np.float64]) -> float:
    """Andrews' AR(1) plug-in bandwidth for the Bartlett kernel."""
    n = d.size
    x = d - d.mean()
    den = float(x[:-1] @ x[:-1])
    if n < 3 or den <= 0:
        return 0.0
    r = float(np.clip((x[1:] @ x[:-1]) / den, -0.97, 0.97))
    a = 4 * r * r / ((1 - r) ** 2 * (1 + r) ** 2)
    return float(1.1447 * (a * n) ** (1 / 3))


def autocovariances(x: NDArray[np.float64], lag: int) -> NDArray[np.float64]:
    """g_0 .. g_lag of centred ``x`` (divisor n), by FFT when many lags are needed."""
    n = x.size
    if lag <= 8:
        return np.array([x @ x] + [x[k:] @ x[:-k] for k in range(1, lag + 1)]) / n
    size = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(x, size)
    return np.fft.irfft(f * np.conj(f), size)[: lag + 1] / n


def dm_statistic(
    d: NDArray[np.float64], steps: int, *, andrews: bool = True, small_sample: bool = True
) -> float:
    """The HLN-corrected Diebold-Mariano statistic of loss differentials ``d`` (negative:
    the challenger erred less); -inf when it erred less on every target by the same
    amount, 0 when the differential is identically 0. ``andrews=False`` keeps the
    bandwidth at h - 1 and ``small_sample=False`` drops the HLN factor (ablations)."""
    n = d.size
    mean = float(d.mean())
    x = d - mean
    plug_in = math.floor(andrews_bandwidth(d)) if andrews else 0
    lag = min(n - 1, max(steps - 1, plug_in))
    gamma = autocovariances(x, lag)
    weights = 1 - np.arange(1, lag + 1) / (lag + 1)
    var = float(gamma[0] + 2 * weights @ gamma[1:])
    if var <= 0:
        return 0.0 if mean == 0 else math.copysign(math.inf, mean)
    hln = math.sqrt(max(n + 1 - 2 * steps + steps * (steps - 1) / n, 1.0) / n)
    return (hln if small_sample else 1.0) * mean / math.sqrt(var / n)


class SignificanceBoard:
    """Aligned absolute errors of every member for one (series, horizon), and the test."""

    def __init__(self, members: Sequence[str], *, steps: int, rule: SignificanceRule) -> None:
        if BASELINE not in members:
            raise ValueError(f"members {list(members)}: expected {BASELINE!r} among them")
        self.members = tuple(members)
        self.steps = steps
        self.rule = rule
        # a ring of 2 x window rows: the newest ``window`` are always contiguous
        self._rows = np.empty((2 * rule.window, len(self.members)))
        self._end = 0
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, errors: Sequence[float]) -> None:
        """One scored target: every member's absolute error, in ``members`` order."""
        window = self.rule.window
        if self._end == self._rows.shape[0]:
            self._rows[:window] = self._rows[-window:]
            self._end = window
        self._rows[self._end] = errors
        self._end += 1
        self._count = min(self._count + 1, window)

    def errors(self) -> NDArray[np.float64]:
        """The newest rows (oldest first), one column per member."""
        return self._rows[self._end - self._count : self._end]

    def statistic(self, d: NDArray[np.float64]) -> float:
        return dm_statistic(d, self.steps)

    def critical(self, n: int, challengers: int) -> float:
        """One-sided t critical value, Bonferroni over the challengers."""
        return t_quantile(self.rule.alpha / challengers, n - 1)

    def choose(self) -> str:
        n = self._count
        if n < max(self.rule.min_scored, 2 * self.steps) or len(self.members) == 1:
            return BASELINE  # fewer than two non-overlapping h-step errors: no variance
        errs = self.errors()
        base = errs[:, self.members.index(BASELINE)]
        challengers = [i for i, m in enumerate(self.members) if m != BASELINE]
        critical = self.critical(n, len(challengers))
        best, best_mean = BASELINE, float(base.mean())
        for i in challengers:
            mean = float(errs[:, i].mean())
            if mean >= best_mean:
                continue
            if self.statistic(errs[:, i] - base) < critical:
                best, best_mean = self.members[i], mean
        return best
