"""One test per defect the decision-core review reproduced; each fails on the core as it
was before the rebuild (commit 7829071) and passes now."""

from __future__ import annotations

import math

import pytest

from planner.core.burst_memory import BurstMemory, remember
from planner.core.pipeline import PlannerState
from planner.core.types import Observation, Reason
from planner.errors import ConfigError, InputError
from planner.planner import Planner
from planner.settings import load_settings
from tests.core_cases import PERF, A, D, P, config, decide, forecast, window


def test_budget_counts_the_gpus_each_worker_really_holds() -> None:
    """max_gpus 8 on 2-GPU workers (the cluster's reading) allows 4 workers in all, not
    8: the old core counted the configured 1 GPU per worker and asked for {P: 7, D: 1},
    16 real GPUs."""
    cfg = config(**{"budget.max_gpus": 8})
    reps = {P: 4, D: 4}
    obs = window(100, current_replicas=reps, ready_replicas=reps, gpus_per_worker={P: 2, D: 2})
    d, _ = decide(obs, forecast(100), cfg)
    assert sum(d.targets[c] * 2 for c in (P, D)) <= 8
    assert d.total_gpus <= 8 and d.components[P].gpus_per_worker == 2
    assert Reason.BUDGET_CLAMPED in d.components[P].reasons


def test_gpus_per_worker_disagreement_is_a_warning() -> None:
    """The cluster says 2 GPUs per prefill worker, the profile (TP1) says 1 and the
    settings 4: the cluster's count is used and the decision warns, naming all three;
    the Planner warns at start-up when the settings disagree with the profile."""
    cfg = config(**{"prefill.gpus_per_worker": 4})
    obs = window(10, current_replicas={P: 1, D: 1}, gpus_per_worker={P: 2})
    d, _ = decide(obs, forecast(10), cfg)
    assert d.components[P].gpus_per_worker == 2
    assert any("cluster 2, profile 1, settings 4" in w for w in d.warnings)
    planner = Planner(load_settings(overrides={"prefill.gpus_per_worker": 4}), perf=PERF)
    assert any("profile 1, settings 4" in w for w in planner.warnings)


def test_minimums_over_budget_at_the_profiles_gpus_stop_start_up() -> None:
    """Minimums that fit the budget at 1 GPU each but not at the profile's count are a
    ConfigError naming budget.max_gpus (exit 2)."""
    from dataclasses import replace

    meta = replace(PERF.profile.meta, gpus_per_prefill_worker=4)
    perf = type(PERF)(replace(PERF.profile, meta=meta))
    s = load_settings(overrides={"budget.max_gpus": 4, "prefill.min_replicas": 1})
    with pytest.raises(ConfigError, match=r"budget\.max_gpus=4: expected >= 5 GPUs"):
        Planner(s, perf=perf)


@pytest.mark.parametrize(("current", "rate"), [(20, 1.0), (10, 5.0)])
def test_max_replicas_is_a_hard_cap(current: int, rate: float) -> None:
    """With max_replicas 5 a pool of 20 goes to 5 at once (the old step limit ran after
    the clamp: 16), and a pool of 10 held by the window goes to 5 (old: stayed 10)."""
    cfg = config(**{"prefill.max_replicas": 5})
    reps = {P: current, D: 1}
    d, _ = decide(window(rate, current_replicas=reps, ready_replicas=reps), forecast(rate), cfg)
    assert d.targets[P] == 5
    assert Reason.MAX_REPLICAS in d.components[P].reasons


@pytest.mark.parametrize("rate", [0.05, 0.5, 2.0, 5.0])
def test_aggregated_mode_asks_one_worker_for_a_light_load(rate: float) -> None:
    """An aggregated worker that prefills and decodes a light load is one worker (the old
    core added a whole prefill worker to the fractional decode need: 2 at any load)."""
    d, _ = decide(window(rate, current_replicas={A: 1}), forecast(rate), config(mode="agg"))
    assert d.targets[A] == 1


def test_aggregated_workers_grow_with_load_and_share_time() -> None:
    """More load, more aggregated workers; never fewer than either phase alone needs."""
    asks = []
    for rate in (1.0, 10.0, 40.0, 80.0):
        d, _ = decide(window(rate, current_replicas={A: 1}), forecast(rate), config(mode="agg"))
        asks.append(d.components[A].desired)
    assert asks == sorted(asks) and asks[-1] > asks[0]
    p, _ = decide(window(80.0, current_replicas={P: 1, D: 1}), forecast(80.0), config())
    assert asks[-1] >= max(p.components[P].desired, p.components[D].desired)


def test_starting_workers_are_not_counted_as_missing() -> None:
    """12 asked, 4 ready, 100 req/s x 3,000 tokens: a settled pool of 12 needs 7, and so
    does this one once the 8 starting workers (asked 170 s ago, start-up 180 s) arrive;
    the old core projected the ready pool's deficit over the whole start-up and asked 13.
    A restarted planner that did not ask for them assumes the last tick did, and still
    never asks for more than the 12 already coming."""
    obs = window(100, current_replicas={P: 12, D: 4}, ready_replicas={P: 4, D: 4})
    state = PlannerState(raised_at_s={P: 830.0})
    d, _ = decide(obs, forecast(100), config(), state=state, now=1000.0)
    settled = window(100, current_replicas={P: 12, D: 4}, ready_replicas={P: 12, D: 4})
    s, _ = decide(settled, forecast(100), config(), now=1000.0)
    assert d.components[P].desired == s.components[P].desired == 7
    fresh, _ = decide(obs, forecast(100), config(), now=1000.0)
    assert fresh.components[P].desired <= 12 and fresh.targets[P] == 12


def test_a_zero_forecast_keeps_draining_a_queued_backlog() -> None:
    """50 M prompt tokens queued and a forecast of 0 req/s: prefill grows to drain them
    within an interval (the old core read the zero forecast as no load: 4 -> 3)."""
    reps = {P: 4, D: 2}
    obs = window(0, current_replicas=reps, ready_replicas=reps, queued_prefill_tokens=50e6)
    d, _ = decide(obs, forecast(0), config())
    assert d.targets[P] > 4
    assert "backlog 50000000 tok" in d.components[P].message


def test_dynamo_survives_a_zero_observed_itl() -> None:
    """An observed ITL (or TTFT) of 0 leaves Dynamo's factors undefined and the factors
    held, instead of dividing by zero on every tick."""
    reps = {P: 2, D: 2}
    obs = window(10, ttft_s=0.0, itl_s=0.0, request_duration_s=2.0,
                 current_replicas=reps, ready_replicas=reps)  # fmt: skip
    d, state = decide(obs, forecast(10), config(policy="dynamo"))
    assert d.correction.decode == 1.0 and d.message == "dynamo factors undefined"
    assert state.correction.prefill == 1.0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ttft_s", math.nan),
        ("isl_tokens", -3.0),
        ("requests", math.inf),
        ("kv_usage", math.nan),
        ("queued_prefill_tokens", -1.0),
        ("window_s", 0.0),
    ],
)
def test_a_bad_number_in_an_observation_is_named(field: str, value: float) -> None:
    """NaN, infinite or negative numbers are rejected where they enter, naming the field
    (the old core accepted them and plan() crashed or returned NaN-driven targets)."""
    kw = {"window_s": 60.0, "requests": 10.0, field: value}
    with pytest.raises(InputError, match=rf"Observation\.{field}="):
        Observation(**kw)


def test_replica_counts_and_histograms_are_validated() -> None:
    """Negative replica counts, zero GPUs per worker and a histogram without its +inf
    bucket are rejected with the field named."""
    with pytest.raises(InputError, match=r"current_replicas\[prefill\]=-1"):
        Observation(window_s=60, requests=0, current_replicas={P: -1})
    with pytest.raises(InputError, match=r"gpus_per_worker\[decode\]=0"):
        Observation(window_s=60, requests=0, gpus_per_worker={D: 0})
    with pytest.raises(InputError, match=r"ttft_buckets.*\+inf"):
        Observation(window_s=60, requests=10, ttft_buckets=((0.5, 3.0), (1.0, 10.0)))


def test_decode_plans_only_where_the_profile_measured() -> None:
    """At context 350 the profile measured KV usage up to 0.58; a loose ITL target takes
    the highest measured point and says so (the old core took KV 1.00 from the
    nearest-value fill beyond the measurements, silently). Decode sizing past the
    measured load continues the ITL on its last measured slope, not flat, and says so."""
    op = PERF.decode.best_throughput(itl_ms=45.0, context_tokens=350.0)
    assert op.kv_usage <= 0.59 and op.at_measured_edge
    tight = PERF.decode.best_throughput(itl_ms=10.0, context_tokens=350.0)
    assert not tight.at_measured_edge and tight.kv_usage < op.kv_usage
    import numpy as np

    beyond = PERF.decode.itl_extrapolated(np.array([0.58, 0.9]), 350.0)
    assert beyond[1] > beyond[0]
    d, _ = decide(window(50, isl=300, osl=100), forecast(50, isl=300, osl=100), config())
    assert "extrapolated past the measured KV 0.5" in d.components[D].message


def test_burst_memory_measures_a_re_need_from_the_step_that_released_it() -> None:
    """Released 10 -> 8 -> 6 -> 4 at t = 0, 60, 120 and taken back to 10 at t = 300: the
    workers 9 and 10 went at t = 0, so the gap is 300 s (the old memory measured from
    the last step: 180 s); taken back only to 8, the gap is 240 s (workers 7, 8)."""
    kw = {"max_s": 3600.0, "lookback_s": 86400.0}
    m = BurstMemory()
    for t, (cur, tgt) in zip((0.0, 60.0, 120.0), ((10, 8), (8, 6), (6, 4)), strict=True):
        m = remember(m, now_s=t, current=cur, target=tgt, **kw)
    partial = remember(m, now_s=300.0, current=4, target=8, **kw)
    assert partial.gaps == ((300.0, 240.0),)
    m = remember(m, now_s=300.0, current=4, target=10, **kw)
    assert m.gaps == ((300.0, 300.0),)
    # a later release re-needed soon is measured from its own step
    m = remember(m, now_s=4000.0, current=10, target=8, **kw)
    m = remember(m, now_s=4100.0, current=8, target=10, **kw)
    assert m.gaps[-1] == (4100.0, 100.0)


def test_factor_bounds_must_be_ordered() -> None:
    """correction.min_factor above max_factor stops start-up, naming both."""
    with pytest.raises(ConfigError, match=r"min_factor=4.0 must be <= max_factor=3.0"):
        load_settings(overrides={"correction.min_factor": 4.0})


def test_decode_correction_skips_a_kv_bound_window() -> None:
    """A window whose decode load needed more KV than the ready workers hold says
    nothing about the ITL surface: the decode factor is held, as prefill's is when
    overloaded (the old core read the queue's ITL as a slower profile)."""
    reps = {P: 8, D: 1}
    obs = window(100, isl=3000, osl=500, ttft_s=0.1, itl_s=0.2, request_duration_s=100.0,
                 current_replicas=reps, ready_replicas=reps)  # fmt: skip
    d, _ = decide(obs, forecast(100, osl=500), config())
    assert d.correction.decode == 1.0
    assert "decode fit held" in d.message and "(KV at final context" in d.message


def test_a_subnormal_rate_after_a_loaded_window_plans_without_overflow() -> None:
    """A window of 2.2e-313 req/s after 20 req/s (a constant forecaster's point reads
    it, its cold band stays wide): upper / point overflowed and plan() raised
    OverflowError; now the margin is capped and every decision is finite."""
    planner = Planner(load_settings(overrides={"predictor.name": "constant"}))
    cur = {P: 1, D: 1}
    for i, rate in enumerate([20.0, 2.2e-313, 5e-320]):
        d = planner.step(window(rate, current_replicas=cur, ready_replicas=cur), now=60.0 * (i + 1))
        assert all(t >= 0 for t in d.targets.values())


def test_the_profiles_max_num_seqs_bounds_decode_when_the_settings_leave_it_unset() -> None:
    """A profile measured under max_num_seqs 8 (its metadata) and no engine setting: the
    decode sizing holds at most 8 requests per worker and asks for more decode workers
    than without the limit, saying so; engine.max_num_seqs, when set, wins over it."""
    from dataclasses import replace

    from planner.core.config import PolicyConfig
    from planner.perf.model import PerfModel

    profile = PERF.profile
    capped = PerfModel(replace(profile, meta=replace(profile.meta, max_num_seqs=8)))
    free = config()
    limited = PolicyConfig(settings=free.settings, perf=capped)
    assert free.max_num_seqs is None and limited.max_num_seqs == 8
    overridden = PolicyConfig(
        settings=load_settings(overrides={"engine.max_num_seqs": 64}), perf=capped
    )
    assert overridden.max_num_seqs == 64
    obs, fc = window(20, isl=1000, osl=400), forecast(20, isl=1000, osl=400)
    d_free, _ = decide(obs, fc, free)
    d_limited, _ = decide(obs, fc, limited)
    assert d_limited.components[D].desired > d_free.components[D].desired
    assert "max_num_seqs 8" in d_limited.components[D].message
