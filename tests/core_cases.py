"""Builders for decision-core tests: a config from dotted overrides, observations,
forecasts and a one-call ``decide`` (the shipped H200 profile, built once)."""

from __future__ import annotations

from typing import Any

from planner.core.config import PolicyConfig
from planner.core.pipeline import PlannerState, plan
from planner.core.types import Component, Decision, Forecast, Observation, Quantity
from planner.perf.model import PerfModel
from planner.perf.profile import DEFAULT_PROFILE_DIR, load_profile
from planner.settings import load_settings

P, D, A = Component.PREFILL, Component.DECODE, Component.AGG
PERF = PerfModel(load_profile(DEFAULT_PROFILE_DIR))


def config(**overrides: Any) -> PolicyConfig:
    """A PolicyConfig on the shipped profile; ``overrides`` as dotted settings names
    (``config(**{"prefill.max_replicas": 5})``)."""
    return PolicyConfig(settings=load_settings(overrides=overrides), perf=PERF)


def forecast(
    rate: float, isl: float = 3000.0, osl: float = 150.0, *, upper: float | None = None
) -> Forecast:
    return Forecast(
        horizon_s=240.0,
        request_rate_rps=Quantity(rate, rate if upper is None else upper),
        isl_tokens=Quantity.exact(isl),
        osl_tokens=Quantity.exact(osl),
    )


def window(rate_rps: float, *, isl: float = 3000.0, osl: float = 150.0, **kw: Any) -> Observation:
    """A 60-s window at ``rate_rps`` (idle at 0), settled unless replicas say otherwise."""
    base: dict[str, Any] = {"window_s": 60.0, "requests": rate_rps * 60.0}
    if rate_rps > 0:
        base.update(isl_tokens=isl, osl_tokens=osl)
    base.update(kw)
    return Observation(**base)


def decide(
    obs: Observation,
    fc: Forecast,
    cfg: PolicyConfig,
    *,
    state: PlannerState | None = None,
    now: float = 0.0,
) -> tuple[Decision, PlannerState]:
    return plan(obs, fc, state or PlannerState(), cfg, now=now)
