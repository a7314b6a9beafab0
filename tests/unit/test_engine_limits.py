"""Engine limits in the simulator: where max_num_seqs / max_num_batched_tokens come from,
and what they bound (running sequences per decode worker, tokens per prefill batch)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from planner.core.settings import PolicySettings
from planner.core.types import Component
from planner.errors import ConfigError
from planner.perf.model import PerfModel
from planner.perf.profile import ProfileMeta
from planner.sim import Cluster, ClusterConfig, TruePerf
from planner.sim.engine import DEFAULT_BATCH_TOKENS, engine_limits

P, D = Component.PREFILL, Component.DECODE


@pytest.fixture(scope="module")
def truth(shipped_perf: PerfModel) -> TruePerf:
    return TruePerf(shipped_perf)


def _burst(cluster: Cluster, *, n: int, isl: int, osl: int, until_s: float) -> None:
    """``n`` requests arriving 1 ms apart at t = 0, simulated to ``until_s``."""
    arrival = np.arange(n) * 0.001
    cluster.submit(arrival, np.full(n, isl, np.int64), np.full(n, osl, np.int64))
    cluster.advance_to(until_s)


def test_limits_come_from_the_flag_then_the_settings_then_the_profile() -> None:
    """Each limit takes the first source that sets it: flag > settings > profile > none."""
    meta = ProfileMeta(max_num_seqs=128, max_num_batched_tokens=4096)
    plain = PolicySettings()
    engine = PolicySettings.model_validate({"engine": {"max_num_seqs": 256}})
    assert engine_limits(plain, ProfileMeta()).describe() == {
        "max_num_seqs": None,
        "max_num_seqs_source": "none",
        "max_num_batched_tokens": None,
        "max_num_batched_tokens_source": "none",
    }
    got = engine_limits(engine, meta)
    assert (got.max_num_seqs, got.max_num_seqs_source) == (256, "settings")
    assert (got.max_num_batched_tokens, got.max_num_batched_tokens_source) == (4096, "profile")
    flagged = engine_limits(engine, meta, max_num_seqs=8, max_num_batched_tokens=512)
    assert (flagged.max_num_seqs, flagged.max_num_seqs_source) == (8, "flag")
    assert flagged.batch_tokens == 512
    assert engine_limits(plain, ProfileMeta()).batch_tokens == DEFAULT_BATCH_TOKENS


def test_a_profile_max_batch_size_is_not_taken_as_the_running_cap() -> None:
    """The shipped profile's max_batch_size (128) is not a measured running cap, so it
    sets no max_num_seqs."""
    limits = engine_limits(PolicySettings(), ProfileMeta(max_batch_size=128))
    assert limits.max_num_seqs is None


def test_a_bad_limit_names_its_source_and_value() -> None:
    """A limit below 1 is a ConfigError naming where it came from."""
    with pytest.raises(ConfigError, match=r"flag\.max_num_seqs"):
        engine_limits(PolicySettings(), ProfileMeta(), max_num_seqs=0)
    with pytest.raises(ConfigError, match="max_num_seqs"):
        ClusterConfig(max_num_seqs=0)


def test_the_decode_cap_makes_requests_wait_and_shows_in_ttft(truth: TruePerf) -> None:
    """40 long requests on one decode worker capped at 8 sequences: never more than 8
    run, the rest wait (decode_waiting), and the waiting ones' TTFT grows; without the
    cap all 40 run at once."""
    capped = Cluster(truth, ClusterConfig(startup_s=0, max_num_seqs=8), initial={P: 4, D: 1})
    free = Cluster(truth, ClusterConfig(startup_s=0), initial={P: 4, D: 1})
    for c in (capped, free):
        _burst(c, n=40, isl=500, osl=400, until_s=2.0)
    assert capped.decode.active == 8 and capped.snapshot().decode_waiting == 32
    assert free.decode.active == 40 and free.snapshot().decode_waiting == 0
    for c in (capped, free):
        c.advance_to(600.0)
    ttft_capped = capped.outcomes()["first_token_s"] - capped.outcomes()["arrival_s"]
    ttft_free = free.outcomes()["first_token_s"] - free.outcomes()["arrival_s"]
    assert not np.isnan(capped.outcomes()["finish_s"]).any()  # all served in the end
    # the last 8 admitted waited for four batches of 400 tokens to finish
    assert np.sort(ttft_capped)[-8:].min() > 10 * np.sort(ttft_free)[-8:].max()


def test_a_cap_that_never_binds_changes_nothing(truth: TruePerf) -> None:
    """A max_num_seqs above the concurrency reached gives the outcomes of no cap, to the
    last bit (the default path is unchanged)."""
    outs = []
    for cap in (None, 10_000):
        c = Cluster(truth, ClusterConfig(startup_s=0, max_num_seqs=cap), initial={P: 2, D: 1})
        _burst(c, n=300, isl=800, osl=120, until_s=300.0)
        outs.append(c.outcomes())
    for key in outs[0]:
        np.testing.assert_array_equal(outs[0][key], outs[1][key])


def test_max_num_batched_tokens_bounds_a_prefill_batch(truth: TruePerf) -> None:
    """With a token cap of one prompt, every batch holds one prompt (one batch per
    request); with the default cap, a queue of prompts is batched."""
    one = Cluster(truth, ClusterConfig(startup_s=0, max_batch_tokens=1000), initial={P: 1, D: 4})
    many = Cluster(truth, ClusterConfig(startup_s=0), initial={P: 1, D: 4})
    for c in (one, many):
        _burst(c, n=50, isl=1000, osl=2, until_s=60.0)
    assert one.prefill.batches == 50
    assert many.prefill.batches < 25


def test_experiment_workers_obey_the_settings_limits(shipped_perf: PerfModel) -> None:
    """Experiment builds its clusters (runs, oracle, initial fleet) with the resolved
    limits: the settings' engine section, else the true profile's metadata."""
    from planner.settings import load_settings
    from planner.sim.experiment import Experiment
    from planner.workload.synthetic import synthetic_trace

    tr = synthetic_trace("constant", duration_s=60, base_rps=2)
    s = load_settings(overrides={"engine.max_num_seqs": 64})
    exp = Experiment(tr, s, shipped_perf, shipped_perf)
    cfg = exp.cluster_config()
    assert (cfg.max_num_seqs, cfg.max_batch_tokens) == (64, DEFAULT_BATCH_TOKENS)
    meta = dataclasses.replace(shipped_perf.profile.meta, max_num_batched_tokens=2048)
    truth = PerfModel(dataclasses.replace(shipped_perf.profile, meta=meta))
    exp2 = Experiment(tr, load_settings(), shipped_perf, truth)
    assert exp2.cluster_config().max_batch_tokens == 2048
    assert exp2.limits.max_num_batched_tokens_source == "profile"
