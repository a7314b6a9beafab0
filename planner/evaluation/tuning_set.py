"""The tuning set: the ten scenarios the policy is tuned on (Azure LLM 2023 conversation
and code traces, a ServeGen m-small day, generated spikes shorter than a worker's
start-up, and a generated load on 8-GPU Llama2-70B workers), each also with workers
1.2x slower than the profile. Public traces from ../shared/data/traces."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from planner.evaluation.scenario import PROFILES, Scenario
from planner.workload.generators import burst_rate, generated_trace
from planner.workload.readers import read_request_trace
from planner.workload.servegen import ServeGenData, read_servegen
from planner.workload.trace import RequestTrace

SERVEGEN = "servegen_language_m-small.tar.gz"


@lru_cache(maxsize=2)
def servegen_data(path: Path) -> ServeGenData:
    """The parsed ServeGen archive (parsed once per process)."""
    return read_servegen(path)


@lru_cache(maxsize=4)
def _read(path: Path, rate_scale: float, seed: int, hours: float | None) -> RequestTrace:
    # servegen and servegen-slow share one expansion (it takes seconds)
    return read_request_trace(path, rate_scale=rate_scale, seed=seed, servegen_hours=hours)


def _trace(file: str, *, rate_scale: float, seed: int, hours: float | None = None) -> Any:
    def build(data: Path) -> RequestTrace:
        return _read(data / file, rate_scale, seed, hours)

    return build


def _azure(name: str, file: str, scale: float, slow: float, recipe: str) -> Scenario:
    args = f"--trace ../shared/data/traces/{file} --rate-scale {scale:g}"
    return Scenario(
        name=name,
        set="tuning",
        recipe=recipe,
        seed=0,
        ttft_ms=500,
        itl_ms=50,
        build=_trace(file, rate_scale=scale, seed=0),
        slowdown=slow,
        simulate_args=args,
    )


def _servegen_day(name: str, slow: float) -> Scenario:
    return Scenario(
        name=name,
        set="tuning",
        seed=0,
        ttft_ms=500,
        itl_ms=50,
        slowdown=slow,
        diurnal=True,
        recipe="ServeGen m-small day 1 (hours 0-24) expanded at x0.01 of its rate, lengths "
        "from its per-window distributions",
        build=_trace(SERVEGEN, rate_scale=0.01, seed=0, hours=24.0),
        simulate_args=f"--trace ../shared/data/traces/{SERVEGEN} --rate-scale 0.01 --hours 24",
    )


SPIKES_RECIPE = (
    "10 req/s Poisson with spikes to 35 req/s lasting 20-90 s (shorter than the 180 s "
    "start-up) every 3-9 min, 2 h; ISL lognormal mean 1,500 (CV 1.2), OSL mean 300 (CV 0.8)"
)


def _spikes_trace(data: Path) -> RequestTrace:
    del data  # generated: no input file
    rate = burst_rate(
        base_rps=10, burst_rps=35, duration_s=7200, burst_s=(20, 90), gap_s=(180, 540), seed=21
    )
    return generated_trace(
        "spikes",
        rate,
        duration_s=7200.0,
        isl_mean=1500,
        isl_cv=1.2,
        osl_mean=300,
        osl_cv=0.8,
        seed=21,
    )


def _generated(name: str, slow: float, *, recipe: str, **fields: Any) -> Scenario:
    """A generated tuning scenario (``fields``: seed, targets, build, profile...)."""
    return Scenario(
        name=name,
        set="tuning",
        recipe=recipe + ("" if slow == 1.0 else f"; workers {slow:g}x slower"),
        slowdown=slow,
        **fields,
    )


WIDE_RECIPE = (
    "Llama2-70B on H100, TP8 workers (8 GPUs each); 4 -> 16 req/s and back, a triangle "
    "over 2 h; ISL lognormal mean 1,500 (CV 0.8), OSL mean 200 (CV 1); TTFT 2 s, ITL 60 ms"
)


def _wide_trace(data: Path) -> RequestTrace:
    del data  # generated: no input file

    def rate(t: Any) -> Any:
        up = np.clip(t / 3600.0, 0.0, 2.0)
        return 4.0 + 12.0 * np.where(up <= 1.0, up, 2.0 - up)

    return generated_trace(
        "wide-workers",
        rate,
        duration_s=7200.0,
        isl_mean=1500,
        isl_cv=0.8,
        osl_mean=200,
        osl_cv=1.0,
        seed=22,
    )


TUNING = (
    _azure("conv", "azure_llm_2023_conv.csv", 30, 1.0, "Azure LLM 2023 conversation trace x30"),
    _azure("conv-slow", "azure_llm_2023_conv.csv", 30, 1.2, "Azure conversation x30"),
    _azure("code", "azure_llm_2023_code.csv", 15, 1.0, "Azure LLM 2023 code trace x15"),
    _azure("code-slow", "azure_llm_2023_code.csv", 15, 1.2, "Azure code x15"),
    _servegen_day("servegen", 1.0),
    _servegen_day("servegen-slow", 1.2),
    *(
        _generated(
            name, slow, recipe=SPIKES_RECIPE, seed=21, ttft_ms=500, itl_ms=50, build=_spikes_trace
        )
        for name, slow in (("spikes", 1.0), ("spikes-slow", 1.2))
    ),
    *(
        _generated(
            name,
            slow,
            recipe=WIDE_RECIPE,
            seed=22,
            ttft_ms=2000,
            itl_ms=60,
            build=_wide_trace,
            profile=PROFILES[1],
            profile_row="tp=8",
        )
        for name, slow in (("tp8", 1.0), ("tp8-slow", 1.2))
    ),
)
