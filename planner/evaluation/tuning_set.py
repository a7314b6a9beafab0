"""The tuning set: the six scenarios the policy is tuned on (Azure LLM 2023 conversation
and code traces, a ServeGen m-small day), each also with workers 1.2x slower than the
profile. Public traces from ../shared/data/traces."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from planner.evaluation.scenario import Scenario
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


TUNING = (
    _azure("conv", "azure_llm_2023_conv.csv", 30, 1.0, "Azure LLM 2023 conversation trace x30"),
    _azure("conv-slow", "azure_llm_2023_conv.csv", 30, 1.2, "Azure conversation x30"),
    _azure("code", "azure_llm_2023_code.csv", 15, 1.0, "Azure LLM 2023 code trace x15"),
    _azure("code-slow", "azure_llm_2023_code.csv", 15, 1.2, "Azure code x15"),
    _servegen_day("servegen", 1.0),
    _servegen_day("servegen-slow", 1.2),
)
