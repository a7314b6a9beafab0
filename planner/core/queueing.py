"""Queueing maths for a pool of identical workers (M/D/c and its approximations).

- Erlang C: the probability that an arrival waits in an M/M/c queue with offered load a
  (in workers): C(c, a) = c B / (c - a (1 - B)), B the Erlang B loss
  B(c, a) = (a^c / c!) / sum_{k<=c} a^k / k! = Poisson(a) pmf(c) / cdf(c).
- Waiting tail of an M/D/c queue (Allen-Cunneen: deterministic service halves the M/M/c
  wait): P(W > x) = C(c, a) exp(-2 c (1 - a/c) x / S), S the service time.
- Mean wait of an M/D/c queue: W = C(c, a) S / (2 (c - a)).
"""

from __future__ import annotations

import math
from collections.abc import Callable


def erlang_c(servers: int, offered: float) -> float:
    """Probability that an arrival waits in an M/M/c queue (1.0 when overloaded).

    Erlang B is the Poisson(a) pmf at c over its cdf at c (scipy.special, O(1) for any
    pool, where the textbook recursion costs c steps), then C = c B / (c - a (1 - B)).
    """
    if offered <= 0:
        return 0.0
    if offered >= servers:
        return 1.0
    from scipy.special import gammaln, pdtr

    log_pmf = servers * math.log(offered) - offered - float(gammaln(servers + 1))
    b = math.exp(log_pmf) / float(pdtr(servers, offered))
    return servers * b / (servers - offered * (1.0 - b))


def wait_tail(*, servers: int, offered: float, service_ms: float, slack_ms: float) -> float:
    """P(W > slack) in an M/D/c queue (1.0 when overloaded or when there is no slack)."""
    if offered >= servers or slack_ms <= 0:
        return 1.0
    c = erlang_c(servers, offered)
    return c * math.exp(-2.0 * (servers - offered) * slack_ms / service_ms)


def smallest(low: int, fits: Callable[[int], bool], *, limit: int) -> int:
    """The smallest n in [low, limit] with ``fits(n)``, for a predicate that stays true
    once true (monotone in n): a doubling search for a fitting n, then bisection, so a
    pool of thousands costs a few dozen evaluations. ``limit`` if nothing fits."""
    if fits(low):
        return low
    bad, step = low, 1
    good = min(low + step, limit)
    while not fits(good):
        if good >= limit:
            return limit
        bad, step = good, step * 2
        good = min(low + step, limit)
    while good - bad > 1:
        mid = (bad + good) // 2
        if fits(mid):
            good = mid
        else:
            bad = mid
    return good


def tail_workers(*, offered: float, service_ms: float, slack_ms: float, tail: float) -> int:
    """Smallest c with P(W > slack) <= tail in an M/D/c queue (at least 1).

    The tail falls as c grows (fewer waits, shorter ones), so the search is monotone.
    It stops at 100 a + 1000 workers, far past any fleet a budget allows.
    """

    def fits(c: int) -> bool:
        return (
            wait_tail(servers=c, offered=offered, service_ms=service_ms, slack_ms=slack_ms) <= tail
        )

    return smallest(max(1, math.floor(offered) + 1), fits, limit=int(offered * 100) + 1000)


def mean_wait_ms(*, servers: int, offered: float, service_ms: float) -> float:
    """Mean wait in an M/D/c queue (ms); ``offered`` must be below ``servers``."""
    return erlang_c(servers, offered) * service_ms / (2.0 * (servers - offered))
