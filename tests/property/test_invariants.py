"""The decision core's guarantees (planner/core/invariants.py), property-tested over the
whole ``plan()`` with hypothesis: random settings (both modes, every registered
strategy, limits, budgets, the cluster's GPU capacity, GPUs per worker from the
cluster / profile / settings,
stabilisation and sla knobs), random sequences of one to five windows (missing, idle,
loaded; replicas mid-change; histograms; backlogs; loads and lengths beyond the
profile) and random forecasts. Example counts are stated on each property."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from planner.core.config import PolicyConfig
from planner.core.pipeline import PlannerState, plan
from planner.core.strategies import strategy_names
from planner.core.types import Component, Decision, Forecast, Observation, Quantity, Reason
from planner.errors import InputError
from planner.settings import PlannerSettings
from tests.core_cases import PERF

pytestmark = pytest.mark.slow
P, D, A = Component.PREFILL, Component.DECODE, Component.AGG
HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]


@dataclass(frozen=True)
class Case:
    config: PolicyConfig
    ticks: tuple[tuple[float, Observation, Forecast], ...]

    @property
    def components(self) -> tuple[Component, ...]:
        return self.config.components


def _comps(mode: str) -> tuple[Component, ...]:
    return (A,) if mode == "agg" else (P, D)


@st.composite
def configs(draw: st.DrawFn) -> PolicyConfig:
    mode = draw(st.sampled_from(["disagg", "agg"]))
    ov: dict[str, Any] = {
        "mode": mode,
        "policy": draw(st.sampled_from(strategy_names())),
        "interval_s": draw(st.sampled_from([10.0, 60.0, 300.0])),
        "startup_s": draw(st.sampled_from([0.0, 30.0, 180.0, 900.0])),
        "ttft_ms": draw(st.sampled_from([5.0, 50.0, 200.0, 500.0, 5000.0])),
        "itl_ms": draw(st.sampled_from([1.0, 5.0, 10.0, 50.0, 200.0])),
        "stabilization.scale_down_window_s": draw(st.sampled_from([0.0, 60.0, 300.0])),
        "stabilization.scale_up_window_s": draw(st.sampled_from([0.0, 120.0])),
        "stabilization.max_scale_up_step": draw(st.sampled_from([None, 1, 4])),
        "stabilization.max_scale_down_step": draw(st.sampled_from([None, 1, 3])),
        "stabilization.max_scale_down_fraction": draw(st.sampled_from([None, 0.2, 1.0])),
        "sla.scale_down_tolerance": draw(st.sampled_from([0.0, 0.2, 1.0])),
        "objective": draw(st.sampled_from([0.9, 0.99, 0.999])),
        "sla.ttft_feedback": draw(st.booleans()),
        "sla.itl_feedback": draw(st.booleans()),
        "sla.spend_budget": draw(st.booleans()),
        "engine.max_num_seqs": draw(st.sampled_from([None, 8, 256])),
        "sla.max_scale_down_window_s": draw(st.sampled_from([0.0, 3600.0])),
        "correction.enabled": draw(st.booleans()),
    }
    need = 0
    for c in _comps(mode):
        lo = draw(st.integers(0, 4))
        ov[f"{c.value}.min_replicas"] = lo
        ov[f"{c.value}.max_replicas"] = draw(st.integers(max(lo, 1), 64))
        gpus = draw(st.sampled_from([None, 1, 2, 8]))
        ov[f"{c.value}.gpus_per_worker"] = gpus
        need += lo * (gpus or 1)
    ov["budget.max_gpus"] = draw(st.one_of(st.none(), st.integers(max(need, 1), 96)))
    nested: dict[str, Any] = {}
    for dotted, value in ov.items():  # None is a value here (no limit, mean rule, unset)
        *parents, leaf = dotted.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    try:
        return PolicyConfig(settings=PlannerSettings(**nested), perf=PERF)
    except ValidationError:
        assume(False)
        raise


finite = st.floats(min_value=0.0, allow_nan=False, allow_infinity=False)


@st.composite
def histograms(draw: st.DrawFn) -> tuple[tuple[float, float], ...] | None:
    if draw(st.booleans()):
        return None
    counts = sorted(draw(st.lists(st.floats(0, 5000), min_size=4, max_size=4)))
    bounds = (0.1, 0.5, 2.0, math.inf)
    return tuple(zip(bounds, counts, strict=True))


@st.composite
def windows(draw: st.DrawFn, comps: tuple[Component, ...]) -> Observation:
    current = {c: draw(st.integers(0, 80)) for c in comps}
    ready = {c: draw(st.integers(0, current[c] + 2)) for c in comps}
    reading = {c: draw(st.sampled_from([1, 2, 4, 8])) for c in comps if draw(st.booleans())}
    window_s = draw(st.sampled_from([10.0, 60.0]))
    cluster = draw(st.one_of(st.none(), st.integers(0, 200)))
    kind = draw(st.sampled_from(["missing", "idle", "load", "load"]))
    if kind == "missing":
        return Observation.missing(
            window_s=window_s, reason="query failed", current_replicas=current,
            ready_replicas=ready, gpus_per_worker=reading, cluster_gpus=cluster,
        )  # fmt: skip
    requests = 0.0 if kind == "idle" else draw(st.floats(0.5, 2e5))
    loaded = requests > 0
    return Observation(
        window_s=window_s,
        requests=requests,
        isl_tokens=draw(st.floats(1, 60000)) if loaded else None,
        osl_tokens=draw(st.floats(1, 20000)) if loaded else None,
        ttft_s=draw(st.one_of(st.none(), st.floats(0, 600))) if loaded else None,
        itl_s=draw(st.one_of(st.none(), st.floats(0, 5))) if loaded else None,
        request_duration_s=draw(st.one_of(st.none(), st.floats(0, 3600))) if loaded else None,
        current_replicas=current,
        ready_replicas=ready,
        queued_prefill_tokens=draw(st.one_of(st.none(), st.floats(0, 1e9))),
        kv_usage=draw(st.one_of(st.none(), st.floats(0, 1.5))),
        ttft_buckets=draw(histograms()) if loaded else None,
        itl_buckets=draw(histograms()) if loaded else None,
        decode_waiting=draw(st.one_of(st.none(), st.floats(0, 1e4))),
        gpus_per_worker=reading,
        cluster_gpus=cluster,
    )


@st.composite
def forecasts(draw: st.DrawFn) -> Forecast:
    # a point near zero under a wide band too (a cold forecaster after an idle spell,
    # subnormal rates included): upper / point may overflow a float
    point = draw(st.one_of(st.floats(0, 3000), st.floats(0, 1e-300)))
    upper = point * draw(st.floats(1, 3)) + draw(st.one_of(st.just(0.0), st.floats(0, 100)))
    return Forecast(
        horizon_s=draw(st.sampled_from([60.0, 240.0])),
        request_rate_rps=Quantity(point, upper),
        isl_tokens=Quantity.exact(draw(st.floats(0, 60000))),
        osl_tokens=Quantity.exact(draw(st.floats(0, 20000))),
    )


@st.composite
def cases(draw: st.DrawFn) -> Case:
    cfg = draw(configs())
    now, ticks = 0.0, []
    for _ in range(draw(st.integers(1, 5))):
        now += draw(st.sampled_from([10.0, 60.0, 61.5, 600.0]))
        ticks.append((now, draw(windows(cfg.components)), draw(forecasts())))
    return Case(config=cfg, ticks=tuple(ticks))


def _run(case: Case) -> list[tuple[Decision, Observation, PlannerState]]:
    state, out = PlannerState(), []
    for now, obs, fc in case.ticks:
        before = state
        decision, state = plan(obs, fc, state, case.config, now=now)
        out.append((decision, obs, before))
    return out


def _real_gpus(cfg: PolicyConfig, obs: Observation, c: Component) -> int:
    """The GPUs a worker holds, as the property states it (independent of the code)."""
    meta = cfg.perf.profile.meta
    profiled = meta.gpus_per_decode_worker if c is D else meta.gpus_per_prefill_worker
    return obs.gpus_per_worker.get(c) or profiled or cfg.limits(c).gpus_per_worker or 1


def _ready_gpus(cfg: PolicyConfig, obs: Observation) -> int:
    """GPUs the ready workers hold: the cluster's cap is never below it."""
    return sum(n * _real_gpus(cfg, obs, c) for c, n in obs.ready_replicas.items())


@settings(max_examples=2000, deadline=None, suppress_health_check=HEALTH)
@given(cases())
def test_caps_floors_budget_and_finite_numbers_hold_on_every_tick(case: Case) -> None:
    """2,000 random sequences: on every tick each target is an integer in [min, max]
    (below min only when the budget cannot hold the minimums, said by
    budget_infeasible), the GPUs held (each worker counted as the cluster, else the
    profile, else the settings say) never exceed the budget, and every number in the
    decision is finite; plan() never raises on valid input."""
    for decision, obs, _ in _run(case):
        budget = case.config.settings.budget.max_gpus
        used = 0
        for c, d in decision.components.items():
            lim = case.config.limits(c)
            assert isinstance(d.target, int) and 0 <= d.target <= lim.max_replicas
            if d.target < lim.min_replicas:
                assert Reason.BUDGET_INFEASIBLE in d.reasons
            gpus = _real_gpus(case.config, obs, c)
            assert d.gpus_per_worker == gpus
            used += d.target * gpus
            assert d.reasons and d.message and "nan" not in d.message.lower()
        if budget is not None:
            assert used <= budget
        if obs.cluster_gpus is not None:
            assert used <= max(obs.cluster_gpus, _ready_gpus(case.config, obs))
        f = decision.correction
        assert math.isfinite(f.prefill) and f.prefill > 0
        assert math.isfinite(f.decode) and f.decode > 0
        assert math.isfinite(decision.prefill_pressure) and decision.prefill_pressure > 0


@settings(max_examples=1000, deadline=None, suppress_health_check=HEALTH)
@given(cases())
def test_the_budget_only_ever_lowers_a_target(case: Case) -> None:
    """1,000 random sequences: the last tick decided with the budget never holds a
    component above what the same tick decides without one (same state and inputs, no
    configured cap and no cluster cap), so the budget never grows a component the other
    stages shrank."""
    *_, (decision, obs, before) = _run(case)
    now, _, fc = case.ticks[-1]
    free = PolicyConfig(
        settings=case.config.settings.model_copy(
            update={"budget": case.config.settings.budget.model_copy(update={"max_gpus": None})}
        ),
        perf=PERF,
    )
    unlimited, _ = plan(replace(obs, cluster_gpus=None), fc, before, free, now=now)
    for c, d in decision.components.items():
        assert d.target <= unlimited.components[c].target


@settings(max_examples=1000, deadline=None, suppress_health_check=HEALTH)
@given(cases())
def test_a_cut_by_the_cluster_says_capacity_unavailable(case: Case) -> None:
    """1,000 random sequences: a component the cluster's capacity cuts (the capacity
    below budget.max_gpus and below what the plan holds without it) says
    capacity_unavailable, not budget_clamped, and the message has the cluster's number;
    the same tick without a capacity reading never holds fewer workers."""
    *_, (decision, obs, before) = _run(case)
    now, _, fc = case.ticks[-1]
    unread, _ = plan(replace(obs, cluster_gpus=None), fc, before, case.config, now=now)
    budget = case.config.settings.budget.max_gpus
    for c, d in decision.components.items():
        assert d.target <= unread.components[c].target
        if d.target < unread.components[c].target:
            cluster = obs.cluster_gpus
            assert cluster is not None and (budget is None or cluster < budget)
            assert Reason.CAPACITY_UNAVAILABLE in d.reasons
            assert Reason.BUDGET_CLAMPED not in d.reasons
            assert "the cluster can place" in d.message


@settings(max_examples=300, deadline=None, suppress_health_check=HEALTH)
@given(cases())
def test_same_inputs_give_the_same_decision_and_state(case: Case) -> None:
    """300 random sequences: plan() is a pure function of its arguments."""
    first = [(d, s) for d, _, s in _run(case)]
    again = [(d, s) for d, _, s in _run(case)]
    assert first == again


FIELDS = ("window_s", "requests", "isl_tokens", "osl_tokens", "ttft_s", "itl_s",
          "request_duration_s", "queued_prefill_tokens", "kv_usage")  # fmt: skip


@settings(max_examples=1000, deadline=None)
@given(
    field=st.sampled_from(FIELDS),
    bad=st.sampled_from([math.nan, math.inf, -math.inf, -1.0, -1e-9]),
)
def test_any_bad_number_is_refused_where_it_enters(field: str, bad: float) -> None:
    """1,000 draws of a NaN, infinite or negative number in any Observation field: the
    constructor raises InputError naming that field (nothing else is raised)."""
    with pytest.raises(InputError) as info:
        Observation(**{"window_s": 60.0, "requests": 10.0, field: bad})
    assert info.value.field == field


@settings(max_examples=300, deadline=None)
@given(point=st.floats(0, 1e6), gap=st.floats(1e-6, 1e6))
def test_an_upper_quantile_below_the_point_cannot_be_built(point: float, gap: float) -> None:
    """300 draws: Quantity(point, upper < point) raises InputError; nothing is lifted."""
    assume(point - gap < point)
    with pytest.raises(InputError, match=r"Quantity\.upper"):
        Quantity(point, point - gap)
