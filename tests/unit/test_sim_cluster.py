"""The simulated cluster: conservation, drain on scale-down, start-up, billing, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from planner.core.types import Component
from planner.errors import ConfigError, TraceError
from planner.perf.model import PerfModel
from planner.sim import Cluster, ClusterConfig, TruePerf, observation_between, scaled_profile
from planner.workload.synthetic import synthetic_trace

P, D, A = Component.PREFILL, Component.DECODE, Component.AGG


@pytest.fixture(scope="module")
def truth(shipped_perf: PerfModel) -> TruePerf:
    return TruePerf(shipped_perf)


def _run(cluster: Cluster, trace, *, until_s: float) -> None:
    cluster.submit(trace.arrival_s, trace.isl_tokens, trace.osl_tokens)
    cluster.advance_to(until_s)


def test_every_request_completes_once_in_order_of_its_phases(truth: TruePerf) -> None:
    """Each request gets prefill <= first token <= finish, all after arrival, none lost."""
    tr = synthetic_trace("sine", duration_s=300, base_rps=5, peak_rps=40, length_cv=0.5, seed=1)
    c = Cluster(truth, ClusterConfig(startup_s=30), initial={P: 1, D: 1})
    _run(c, tr, until_s=900)
    o = c.outcomes()
    assert len(o["arrival_s"]) == len(tr) > 1000
    assert not np.isnan(o["finish_s"]).any()
    assert (o["prefill_done_s"] > o["arrival_s"]).all()
    assert (o["first_token_s"] >= o["prefill_done_s"]).all()
    assert (o["finish_s"] >= o["first_token_s"]).all()
    snap = c.snapshot()
    assert snap.requests_total == snap.requests_finished == snap.ttft_count == len(tr)
    assert snap.decode_active == snap.decode_waiting == 0


def test_scale_down_drains_in_flight_requests_before_release(truth: TruePerf) -> None:
    """Removing workers mid-load drops nothing; drained workers bill until their work ends."""
    tr = synthetic_trace("constant", duration_s=200, base_rps=60, osl_tokens=400, seed=2)
    c = Cluster(truth, ClusterConfig(startup_s=0), initial={P: 4, D: 4})
    c.submit(tr.arrival_s, tr.isl_tokens, tr.osl_tokens)
    c.advance_to(100.0)
    active_before = c.decode.active
    assert active_before > 0
    c.set_targets({P: 1, D: 1}, now_s=100.0)
    snap = c.snapshot()
    assert snap.desired_replicas == {P: 1, D: 1}
    assert snap.draining_replicas[D] == 3  # still finishing their requests
    c.advance_to(400.0)
    o = c.outcomes()
    assert not np.isnan(o["finish_s"]).any()
    drained = [w for w in c.fleet.workers if w.component is D and w.draining_since is not None]
    assert len(drained) == 3
    for w in drained:
        assert w.released_s is not None and w.released_s > 100.0  # held until drained
    assert c.snapshot().draining_replicas[D] == 0


def test_new_workers_serve_only_after_startup(truth: TruePerf) -> None:
    """A worker asked for at t becomes ready at t + startup_s, not before."""
    c = Cluster(truth, ClusterConfig(startup_s=120), initial={P: 1, D: 1})
    c.set_targets({P: 3}, now_s=10.0)
    c.advance_to(129.0)
    assert c.snapshot().ready_replicas[P] == 1
    assert c.snapshot().desired_replicas[P] == 3
    c.advance_to(130.0)
    assert c.snapshot().ready_replicas[P] == 3


def test_gpu_seconds_bill_from_request_to_release(truth: TruePerf) -> None:
    """Billing: initial workers from t0; added ones from the ask; cancelled start-ups too."""
    cfg = ClusterConfig(startup_s=100, gpus_per_worker={P: 2, D: 1})
    c = Cluster(truth, cfg, initial={P: 1, D: 1})
    c.set_targets({P: 2}, now_s=50.0)  # +1 prefill (2 GPUs) from t=50
    c.set_targets({P: 1}, now_s=80.0)  # cancelled while starting: 30 s x 2 GPUs
    c.advance_to(200.0)
    snap = c.snapshot()
    assert snap.gpu_seconds[P] == pytest.approx(200 * 2 + 30 * 2)
    assert snap.gpu_seconds[D] == pytest.approx(200)
    assert snap.gpu_hours == pytest.approx((460 + 200) / 3600)
    assert c.fleet.scale_events[P] == 2


def test_same_inputs_same_outcomes(truth: TruePerf) -> None:
    """Determinism: the simulator has no hidden randomness."""
    tr = synthetic_trace("spike", duration_s=200, base_rps=10, peak_rps=60, length_cv=1, seed=3)
    outs = []
    for _ in range(2):
        c = Cluster(truth, ClusterConfig(startup_s=20), initial={P: 1, D: 1})
        _run(c, tr, until_s=600)
        c.set_targets({P: 2, D: 2}, now_s=600)
        outs.append(c.outcomes())
    for k in outs[0]:
        np.testing.assert_array_equal(outs[0][k], outs[1][k])


def _sliced(truth: TruePerf, tr, slices: list[float], *, feed: bool) -> Cluster:
    """A cluster advanced through ``slices``, scaled up at t = 200 s; ``feed`` submits
    each slice's arrivals just before advancing over them (as the emulated graph does)."""
    c = Cluster(truth, ClusterConfig(startup_s=60), initial={P: 1, D: 1})
    if not feed:
        c.submit(tr.arrival_s, tr.isl_tokens, tr.osl_tokens)
    fed = 0
    for t in slices:
        if feed:
            hi = int(np.searchsorted(tr.arrival_s, t, side="right"))
            c.submit(tr.arrival_s[fed:hi], tr.isl_tokens[fed:hi], tr.osl_tokens[fed:hi])
            fed = hi
        c.advance_to(t)
        if t == 200.0:
            c.set_targets({P: 3, D: 2}, now_s=t)
    c.advance_to(1200.0)
    return c


def test_wall_clock_slices_give_the_outcomes_of_one_advance(truth: TruePerf) -> None:
    """An emulated graph advances in small slices while feeding arrivals as they come.
    Slices that are whole multiples of the decode tick (1 s) reproduce one long advance;
    slices of any length (1.5-6 s) shorten a tick each, which moves no prefill or first
    token here and finishes by at most two ticks."""
    tr = synthetic_trace("sine", duration_s=600, base_rps=5, peak_rps=60, length_cv=0.5, seed=3)
    whole = _sliced(truth, tr, [200.0, 1200.0], feed=False)
    grid = _sliced(truth, tr, [float(t) for t in range(1, 1201)], feed=True)
    rng = np.random.default_rng(0)
    ends = np.cumsum(rng.uniform(1.5, 6.0, 500))  # 50-200 ms of wall time at 30x
    ragged = _sliced(truth, tr, sorted({*ends[ends < 1200].tolist(), 200.0, 1200.0}), feed=True)
    ref = whole.outcomes()
    assert not np.isnan(ref["finish_s"]).any()
    step = whole.config.decode_step_s
    for c, tol_s in ((grid, 1e-9), (ragged, 2 * step)):
        o = c.outcomes()
        for k in ("prefill_done_s", "first_token_s", "finish_s"):
            np.testing.assert_allclose(o[k], ref[k], rtol=0, atol=tol_s, err_msg=k)
        a, b = c.snapshot(), whole.snapshot()
        assert a.requests_finished == b.requests_finished == len(tr)
        assert a.ttft_sum_s == pytest.approx(b.ttft_sum_s, rel=1e-6)
        assert a.itl_sum_s == pytest.approx(b.itl_sum_s, rel=0.01)
        assert a.gpu_seconds == pytest.approx(b.gpu_seconds)
    assert grid.snapshot().itl_sum_s == pytest.approx(whole.snapshot().itl_sum_s, rel=1e-9)


def test_token_histograms_count_every_request(truth: TruePerf) -> None:
    """ISL buckets count arrived requests and OSL buckets finished ones, with the same
    totals as the request counters (what the frontend's _count series expose)."""
    tr = synthetic_trace("constant", duration_s=60, base_rps=10, length_cv=1.0, seed=5)
    c = Cluster(truth, ClusterConfig(), initial={P: 1, D: 1})
    c.submit(tr.arrival_s, tr.isl_tokens, tr.osl_tokens)
    c.advance_to(30.0)
    mid = c.snapshot()
    assert mid.isl_buckets[-1] == (float("inf"), mid.requests_total)
    arrived = tr.isl_tokens[tr.arrival_s <= 30.0]
    assert dict(mid.isl_buckets)[1024.0] == int((arrived <= 1024).sum())
    c.advance_to(600.0)
    end = c.snapshot()
    assert end.isl_buckets[-1][1] == end.osl_buckets[-1][1] == len(tr)
    assert dict(end.osl_buckets)[256.0] == int((tr.osl_tokens <= 256).sum())
    counts = [n for _, n in end.osl_buckets]
    assert counts == sorted(counts)  # cumulative


def test_prefill_batch_time_follows_the_profile(truth: TruePerf, shipped_perf: PerfModel) -> None:
    """A lone prompt takes TTFT(ISL); a queue forms under overload and drains in order."""
    c = Cluster(truth, ClusterConfig(), initial={P: 1, D: 1})
    c.submit(np.array([0.0]), np.array([3000]), np.array([1]))
    c.advance_to(5.0)
    o = c.outcomes()
    assert o["prefill_done_s"][0] == pytest.approx(
        shipped_perf.prefill.ttft_ms(3000).value / 1000, rel=0.01
    )
    assert o["finish_s"][0] == pytest.approx(o["prefill_done_s"][0], abs=1e-9)  # OSL 1


def test_kv_capacity_makes_admission_wait(truth: TruePerf) -> None:
    """When decode KV is full, the next request waits (its TTFT grows) until KV frees."""
    cap = truth.max_kv_tokens
    big = int(cap * 0.6)
    c = Cluster(truth, ClusterConfig(), initial={P: 2, D: 1})
    c.submit(np.array([0.0, 0.0]), np.array([16000, 16000]), np.array([big, big]))
    c.advance_to(10_000.0)
    o = c.outcomes()
    # the second request could not be admitted while the first held 60 % of the KV
    assert o["first_token_s"][1] >= o["finish_s"][0] - 0.25


def test_observation_between_matches_the_window(truth: TruePerf) -> None:
    """The Observation counts the window's arrivals and means from counter deltas."""
    tr = synthetic_trace("constant", duration_s=120, base_rps=20, isl_tokens=800, seed=4)
    c = Cluster(truth, ClusterConfig(), initial={P: 1, D: 1})
    c.submit(tr.arrival_s, tr.isl_tokens, tr.osl_tokens)
    c.advance_to(60.0)
    a = c.snapshot()
    c.advance_to(120.0)
    b = c.snapshot()
    obs = observation_between(a, b)
    n = int(((tr.arrival_s > 60) & (tr.arrival_s <= 120)).sum())
    assert obs.requests == n and obs.window_s == 60.0
    assert obs.isl_tokens == pytest.approx(800)
    assert obs.ttft_s is not None and 0 < obs.ttft_s < 0.5
    assert obs.current_replicas == {P: 1, D: 1}


def test_aggregated_mode_serves_everything(truth: TruePerf) -> None:
    """Agg workers do both phases; decode slows while its GPU prefills; nothing is lost."""
    tr = synthetic_trace("constant", duration_s=120, base_rps=20, seed=5)
    c = Cluster(truth, ClusterConfig(mode="agg", startup_s=10), initial={A: 2})
    c.submit(tr.arrival_s, tr.isl_tokens, tr.osl_tokens)
    c.advance_to(60)
    c.set_targets({A: 1}, now_s=60)
    c.advance_to(600)
    o = c.outcomes()
    assert not np.isnan(o["finish_s"]).any()
    assert c.snapshot().draining_replicas[A] == 0


def test_bad_input_is_rejected_with_the_field(truth: TruePerf) -> None:
    """Unsorted arrivals, arrivals in the past, and bad targets raise naming the problem."""
    c = Cluster(truth, ClusterConfig(), initial={P: 1, D: 1})
    with pytest.raises(TraceError, match="sorted"):
        c.submit(np.array([2.0, 1.0]), np.array([10, 10]), np.array([5, 5]))
    c.advance_to(10.0)
    with pytest.raises(TraceError, match="sorted"):
        c.submit(np.array([5.0]), np.array([10]), np.array([5]))
    with pytest.raises(ConfigError, match="agg"):
        c.set_targets({A: 1}, now_s=10.0)
    with pytest.raises(ConfigError, match="mode"):
        ClusterConfig(mode="both")


def test_scaled_profile_is_slower_everywhere(shipped_perf: PerfModel) -> None:
    """The --true-slowdown helper scales latency up and throughput down by the factor."""
    slow = PerfModel(scaled_profile(shipped_perf.profile, slowdown=1.2))
    assert slow.prefill.ttft_ms(3000).value == pytest.approx(
        1.2 * shipped_perf.prefill.ttft_ms(3000).value, rel=1e-6
    )
    a = slow.decode.itl_ms(kv_usage=0.5, context_tokens=3000).value
    b = shipped_perf.decode.itl_ms(kv_usage=0.5, context_tokens=3000).value
    assert a == pytest.approx(1.2 * b, rel=1e-3)
    with pytest.raises(ConfigError):
        scaled_profile(shipped_perf.profile, slowdown=0)


def test_clone_is_independent_and_continues_identically(truth: TruePerf) -> None:
    """A clone taken mid-run evolves exactly as the original would, and scaling or
    advancing the clone leaves the original untouched."""
    tr = synthetic_trace("sine", duration_s=240, base_rps=5, peak_rps=40, length_cv=0.5, seed=2)
    c = Cluster(truth, ClusterConfig(startup_s=30), initial={P: 1, D: 1})
    _run(c, tr, until_s=100)
    twin = c.clone()
    before = c.snapshot()
    other = c.clone()
    other.set_targets({P: 4, D: 3}, now_s=120)
    other.advance_to(600)
    assert c.snapshot() == before  # the original did not move
    for x in (c, twin):
        x.set_targets({P: 2}, now_s=130)
        x.advance_to(600)
    a, b = c.outcomes(), twin.outcomes()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert c.snapshot() == twin.snapshot()
    # the bigger fleet served the same requests at least as fast
    assert np.nanmean(other.outcomes()["first_token_s"]) <= np.nanmean(a["first_token_s"])


def test_clone_can_drop_requests_after_a_time(truth: TruePerf) -> None:
    """``requests_before_s`` keeps the arrived and the early requests, not the later ones."""
    tr = synthetic_trace("sine", duration_s=240, base_rps=5, peak_rps=40, length_cv=0.5, seed=3)
    c = Cluster(truth, ClusterConfig(startup_s=30), initial={P: 1, D: 1})
    _run(c, tr, until_s=60)
    part = c.clone(requests_before_s=120.0)
    expect = int(np.searchsorted(tr.arrival_s, 120.0))
    assert len(part.table) == expect < len(tr)
    part.advance_to(900)
    done = part.outcomes()["finish_s"]
    assert len(done) == expect and not np.isnan(done).any()
    assert len(c.table) == len(tr)


def test_clone_and_origin_submit_independently(truth: TruePerf) -> None:
    """The clone shares the request inputs until either side submits more; submitting
    to one never shows up in the other."""
    c = Cluster(truth, ClusterConfig(startup_s=0), initial={P: 1, D: 1})
    c.submit(np.array([0.0, 1.0]), np.array([100, 200]), np.array([10, 20]))
    twin = c.clone()
    twin.submit(np.array([2.0]), np.array([300]), np.array([30]))
    c.submit(np.array([3.0, 4.0]), np.array([400, 500]), np.array([40, 50]))
    assert len(twin.table) == 3 and len(c.table) == 4
    assert twin.outcomes()["isl"].tolist() == [100, 200, 300]
    assert c.outcomes()["isl"].tolist() == [100, 200, 400, 500]
    twin.advance_to(60)
    c.advance_to(60)
    assert twin.snapshot().requests_total == 3 and c.snapshot().requests_total == 4
