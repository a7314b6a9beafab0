"""The validation set: traffic the policy was never tuned on. Long prompts near and past
the profile's range (two TTFT targets), long reasoning outputs over a day, a ServeGen
fortnight's other days time-warped, bursts shorter than the start-up on workers 0.7x,
1x and 1.5x the profile's latency, multi-GPU (TP2, TP4) Llama2-70B workers, an ITL-bound
and a TTFT-bound SLO near the profile's limits, and the public sine load."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from planner.evaluation.scenario import PROFILES, Scenario
from planner.evaluation.tuning_set import SERVEGEN, servegen_data
from planner.workload.generators import burst_rate, day_rate, generated_trace, servegen_warped
from planner.workload.synthetic import rate_function
from planner.workload.trace import RequestTrace


def _gen(name: str, rate: Any, hours: float, lengths: tuple[float, float, float, float]) -> Any:
    isl, isl_cv, osl, osl_cv = lengths

    def build(data: Path, *, seed: int) -> RequestTrace:
        del data  # generated: no input file
        return generated_trace(
            name,
            rate(seed),
            duration_s=hours * 3600.0,
            isl_mean=isl,
            isl_cv=isl_cv,
            osl_mean=osl,
            osl_cv=osl_cv,
            seed=seed,
        )

    return build


def _seeded(build: Any, seed: int) -> Callable[[Path], RequestTrace]:
    return lambda data: build(data, seed=seed)


def _pattern(pattern: str, base: float, peak: float, **kw: float) -> Any:
    return lambda seed: rate_function(pattern, base_rps=base, peak_rps=peak, **kw)


_LONG = _gen(
    "long-prompts",
    _pattern("sine", 8, 20, duration_s=3600, period_s=1800),
    1.0,
    (12000, 0.25, 300, 1.0),
)
_BURSTS = _gen(
    "bursts",
    lambda seed: burst_rate(
        base_rps=15, burst_rps=60, duration_s=3600, burst_s=(30, 120), gap_s=(240, 720), seed=seed
    ),
    1.0,
    (2000, 1.0, 250, 1.0),
)
_REASONING = _gen(
    "reasoning", lambda seed: day_rate(trough_rps=2, peak_rps=8), 24.0, (1500, 1.0, 4000, 0.6)
)
_SEVENTY = _gen(
    "70b-conversation",
    _pattern("sine", 10, 30, duration_s=3600, period_s=1200),
    1.0,
    (1000, 1.0, 250, 1.0),
)
_BURSTS_RECIPE = (
    "15 req/s Poisson with bursts to 60 req/s lasting 30-120 s (shorter than the 180 s "
    "start-up) every 4-12 min, 1 h; ISL lognormal mean 2,000 (CV 1), OSL mean 250 (CV 1)"
)
_LONG_RECIPE = (
    "sine 8 -> 20 req/s (period 30 min), 1 h; ISL lognormal mean 12,000 (CV 0.25: 8% "
    "beyond the profile's 16,372), OSL mean 300 (CV 1)"
)
_70B_RECIPE = (
    "Llama2-70B on H100 ({tp}); sine 10 -> 30 req/s (period 20 min), 1 h; ISL lognormal "
    "mean 1,000 (CV 1), OSL mean 250 (CV 1)"
)


def _warped(data: Path, *, seed: int) -> RequestTrace:
    return servegen_warped(
        servegen_data(data / SERVEGEN), start_day=5, days=2, warp=2.0, rate_scale=0.005, seed=seed
    )


VALIDATION = (
    Scenario("long-prompts", "validation", _LONG_RECIPE, 11, 1000, 50, _seeded(_LONG, 11)),
    Scenario(
        "long-prompts-tight",
        "validation",
        _LONG_RECIPE + "; a 500 ms TTFT target",
        11,
        500,
        50,
        _seeded(_LONG, 11),
    ),
    Scenario(
        "reasoning-day",
        "validation",
        "daily cycle 2 -> 8 req/s (peak at 14:00), 24 h; ISL lognormal mean 1,500 (CV 1), "
        "OSL mean 4,000 (CV 0.6: long reasoning outputs); engine max_num_seqs 256",
        12,
        1000,
        50,
        _seeded(_REASONING, 12),
        diurnal=True,
        settings={"engine.max_num_seqs": 256},
    ),
    Scenario(
        "diurnal-warp",
        "validation",
        "ServeGen m-small days 6-7 (hours 120-168) at x0.005, time squeezed 2x into 24 h "
        "(two daily cycles, every surge twice as steep, ~x0.01 of the rate), lengths from "
        "the per-window distributions",
        13,
        500,
        50,
        _seeded(_warped, 13),
        diurnal=True,
    ),
    Scenario("bursts", "validation", _BURSTS_RECIPE, 14, 500, 50, _seeded(_BURSTS, 14)),
    Scenario(
        "bursts-fast",
        "validation",
        _BURSTS_RECIPE + "; workers 0.7x the profile's latency",
        14,
        500,
        50,
        _seeded(_BURSTS, 14),
        slowdown=0.7,
    ),
    Scenario(
        "bursts-slow",
        "validation",
        _BURSTS_RECIPE + "; workers 1.5x the profile's latency",
        14,
        500,
        50,
        _seeded(_BURSTS, 14),
        slowdown=1.5,
    ),
    Scenario(
        "70b-tp4",
        "validation",
        _70B_RECIPE.format(tp="TP4 workers, 4 GPUs each"),
        15,
        1000,
        60,
        _seeded(_SEVENTY, 15),
        profile=PROFILES[1],
        profile_row="tp=4",
    ),
    Scenario(
        "70b-tp2",
        "validation",
        _70B_RECIPE.format(tp="TP2 workers, 2 GPUs each"),
        15,
        1000,
        60,
        _seeded(_SEVENTY, 15),
        profile=PROFILES[1],
        profile_row="tp=2",
    ),
    Scenario(
        "itl-tight",
        "validation",
        "step 10 -> 30 req/s at 20 min, 1 h; ISL lognormal mean 1,000 (CV 0.5), OSL mean 500 "
        "(CV 0.5); an ITL target of 8 ms (the profile reaches 4.4 at best), TTFT 2 s",
        16,
        2000,
        8,
        _seeded(
            _gen(
                "itl-tight",
                _pattern("step", 10, 30, duration_s=3600, at_s=1200),
                1.0,
                (1000, 0.5, 500, 0.5),
            ),
            16,
        ),
    ),
    Scenario(
        "ttft-tight",
        "validation",
        "ramp 10 -> 40 req/s, 1 h; ISL lognormal mean 3,000 (CV 0.3), OSL mean 150 (CV 1); a "
        "TTFT target of 120 ms (a 3,000-token prompt alone takes 60), ITL 100 ms",
        17,
        120,
        100,
        _seeded(
            _gen(
                "ttft-tight", _pattern("ramp", 10, 40, duration_s=3600), 1.0, (3000, 0.3, 150, 1.0)
            ),
            17,
        ),
    ),
    Scenario(
        "sine",
        "validation",
        "sine 5 -> 45 req/s, period 600 s, 1 h; ISL 3,000 and OSL 300 tokens (fixed); TTFT "
        "200 ms, ITL 10 ms (the public Dynamo planner test load)",
        18,
        200,
        10,
        _seeded(
            _gen(
                "sine",
                _pattern("sine", 5, 45, duration_s=3600, period_s=600),
                1.0,
                (3000, 0.0, 300, 0.0),
            ),
            18,
        ),
    ),
)
