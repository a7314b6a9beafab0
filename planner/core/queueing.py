"""Queueing maths for a pool of identical workers (M/D/c and its approximations).

- Erlang C: the probability that an arrival waits in an M/M/c queue with offered load a
  (in workers): C(c, a) = c B / (c - a (1 - B)), B the Erlang B loss built up one server
  at a time (B_k = a B_{k-1} / (k + a B_{k-1})).
- Waiting tail of an M/D/c queue (Allen-Cunneen: deterministic service halves the M/M/c
  wait): P(W > x) = C(c, a) exp(-2 c (1 - a/c) x / S), S the service time.
- Mean wait of an M/D/c queue: W = C(c, a) S / (2 (c - a)).
- M/D/1 utilisation cap for a mean latency target T with service S: the mean wait
  rho S / (2 (1 - rho)) stays within T - S for rho <= 2 (T - S) / (2 T - S).
"""

from __future__ import annotations

import math


def erlang_c(servers: int, offered: float) -> float:
    """Probability that an arrival waits in an M/M/c queue (1.0 when overloaded)."""
    if offered <= 0:
        return 0.0
    if offered >= servers:
        return 1.0
    b = 1.0
    for k in range(1, servers + 1):
        b = offered * b / (k + offered * b)
    return servers * b / (servers - offered * (1.0 - b))


def wait_tail(*, servers: int, offered: float, service_ms: float, slack_ms: float) -> float:
    """P(W > slack) in an M/D/c queue (1.0 when overloaded)."""
    if offered >= servers:
        return 1.0
    c = erlang_c(servers, offered)
    return c * math.exp(-2.0 * (servers - offered) * slack_ms / service_ms)


def tail_workers(*, offered: float, service_ms: float, slack_ms: float, tail: float) -> int:
    """Smallest c with P(W > slack) <= tail in an M/D/c queue (at least 1).

    The search stops at a + 100 a + 1000 workers, far past any fleet a budget allows:
    the tail falls exponentially in c - a once c > a.
    """
    c = max(1, math.floor(offered) + 1)
    limit = offered * 100 + 1000
    while c < limit:
        if wait_tail(servers=c, offered=offered, service_ms=service_ms, slack_ms=slack_ms) <= tail:
            return c
        c += 1
    return c


def mean_wait_ms(*, servers: int, offered: float, service_ms: float) -> float:
    """Mean wait in an M/D/c queue (ms); ``offered`` must be below ``servers``."""
    return erlang_c(servers, offered) * service_ms / (2.0 * (servers - offered))


def mean_latency_utilization(*, service_ms: float, target_ms: float, ceiling: float) -> float:
    """Highest utilisation at which the M/D/1 mean latency stays within the target
    (0 when one request's service alone exceeds it), never above ``ceiling``."""
    if service_ms >= target_ms:
        return 0.0
    rho = 2.0 * (target_ms - service_ms) / (2.0 * target_ms - service_ms)
    return min(rho, ceiling)
