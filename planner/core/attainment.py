"""TTFT attainment feedback: the share of a window's requests that met the TTFT target,
read off its latency histogram, and the prefill pressure that share drives.

The sla sizing promises a TTFT tail from an M/D/c queue with Poisson arrivals. Traffic
that arrives in bursts inside the interval (ServeGen's per-window inter-arrival
distributions, or a client sending batches) queues longer than that model says, most of
all on small fleets, and a mean TTFT (what the prefill correction factor reads) is a
weak signal for a 1% tail. The histogram shows the tail directly:

    share = requests with TTFT <= target / requests,

interpolated linearly inside the bucket that holds the target (PromQL's
``histogram_quantile`` assumption); a target beyond the last finite bound counts only
what that bound shows (conservative).

The pressure p (>= 1) multiplies the prefill demand. After a window whose share is
below ``sla.attainment_target`` while the share over the last
``sla.attainment_window_s`` (requests-weighted, that window included) is below it too,
the error budget is being spent: p <- min(p x ``pressure_step``, ``max_pressure``).
After a window at or above the target the excess decays: p <- 1 + (p - 1) x
``pressure_decay``. A short window in a good hour changes nothing (reacting to every
short window cost conv-slow 1.63 GPU-h in the simulator without changing attainment).

The pressure answers one question: did the queueing model under-provision a fleet it
sized? So it moves only on windows the model's own fleet served from start to end.
Windows without a histogram, with fewer than ``correction.min_requests`` first tokens,
missing, with the prefill pool changing at this tick or the previous one (its misses
are capacity arriving late, already acted on), or whose ready pool was below what the
sizing asks for the load that actually came (at this pressure and factor, no forecast
margin: a forecast miss, which the forecast's calibration answers) keep the pressure
and add no evidence. Without these rules and the factor's (planner/core/correction.py), a
25 % load step met by a warm forecaster (Azure conv x30, minutes 15-60, forecaster
warm-started from minutes 0-15) drove the pressure to 1.95 and the prefill factor to
2.06, and the plan to 39 prefill workers; with them it peaks at 16 (20.75 against
11.80 GPU-h, attainment 98.09 % and 98.01 %).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from planner.core.config import PolicyConfig
from planner.core.sizing import prefill_need
from planner.core.types import Component, Observation


def share_within(buckets: Sequence[tuple[float, float]], threshold_s: float) -> float | None:
    """Share (0..1) of the histogram's observations at or below ``threshold_s``.

    ``buckets`` are cumulative (upper bound, count) pairs, ascending, the last bound
    +inf. Counts that dip (per-series extrapolation of ``increase`` can make a larger
    bound a hair smaller) are lifted to the running maximum. None when there is no
    total or no +inf bound.
    """
    if not buckets or not math.isinf(buckets[-1][0]):
        return None
    counts: list[float] = []
    top = 0.0
    for _, c in buckets:
        top = max(top, c)
        counts.append(top)
    total = counts[-1]
    if total <= 0:
        return None
    lo_bound, lo_count = 0.0, 0.0
    for (le, _), c in zip(buckets, counts, strict=True):
        if threshold_s <= le:
            if math.isinf(le):
                return lo_count / total
            # linear inside (lo_bound, le]
            within = lo_count + (c - lo_count) * (threshold_s - lo_bound) / (le - lo_bound)
            return within / total
        lo_bound, lo_count = le, c
    return lo_count / total


def pool_settled(obs: Observation, component: Component) -> bool:
    """True unless the observation shows ``component`` with replicas still starting."""
    ready = obs.ready_replicas.get(component)
    return ready is None or ready == obs.current_replicas.get(component, ready)


def update_pressure(
    previous: float,
    windows: tuple[tuple[float, float, float], ...],
    obs: Observation,
    config: PolicyConfig,
    *,
    now: float,
    gpus: int,
    factor: float = 1.0,
    settled_before: bool = True,
) -> tuple[float, tuple[tuple[float, float, float], ...], str]:
    """The next prefill pressure, the windows kept (end s, met, total) and a note."""
    s = config.settings
    sla = s.sla
    if not sla.ttft_feedback:
        return 1.0, (), ""
    kept = tuple(w for w in windows if now - w[0] < sla.attainment_window_s)

    def held(why: str) -> tuple[float, tuple[tuple[float, float, float], ...], str]:
        return previous, kept, f"TTFT pressure held at {previous:.2f}: {why}"

    if obs.is_missing or obs.ttft_buckets is None:
        return held("no TTFT histogram")
    total = obs.ttft_buckets[-1][1] if obs.ttft_buckets else 0.0
    if total < s.correction.min_requests:
        return held(f"{total:g} first tokens < {s.correction.min_requests}")
    pc = config.prefill_component
    ready = obs.ready_replicas.get(pc)
    if not pool_settled(obs, pc):
        # capacity asked for earlier is still starting: misses now are its lateness,
        # already acted on, not evidence that the sizing model under-provisions
        return held(f"{pc.value} mid-change")
    if not settled_before:
        return held(f"{pc.value} changed during the window")
    share = share_within(obs.ttft_buckets, s.ttft_ms / 1000.0)
    if share is None:
        return held("empty TTFT histogram")
    kept = (*kept, (now, share * total, total))
    rolling = sum(w[1] for w in kept) / sum(w[2] for w in kept)
    target = sla.attainment_target
    need_workers: int | None = None
    if share < target and rolling < target and ready is not None and obs.isl_tokens:
        # what the sizing itself (this pressure, the factor, no forecast margin) asks
        # for the load that actually came: a ready pool below that was short of the
        # load (a forecast miss, or capacity still catching up), not misled by the model
        need = prefill_need(
            config,
            demand_tokens_per_s=obs.request_rate_rps * obs.isl_tokens * previous,
            isl_tokens=obs.isl_tokens,
            factor=factor,
            gpus=gpus,
        )
        need_workers = math.ceil(need.workers - 1e-9)
    why = ""
    if need_workers is not None and ready is not None and ready < need_workers:
        new = previous
        why = f"; {ready} ready {pc.value} short of the load's {need_workers}: held"
    elif share < target and rolling < target:
        new = min(sla.max_pressure, previous * sla.pressure_step)
    elif share >= target:
        new = 1.0 + (previous - 1.0) * sla.pressure_decay
    else:
        new = previous
    return (
        new,
        kept,
        (
            f"TTFT within {s.ttft_ms:g}ms for {100 * share:.2f}% this window, "
            f"{100 * rolling:.2f}% over {sla.attainment_window_s:g}s (target "
            f"{100 * target:g}%): pressure {previous:.2f} -> {new:.2f}{why}"
        ),
    )
