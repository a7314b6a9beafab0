"""Sweep planning, building a profile from samples, writing it in both layouts, plotting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planner.errors import ConfigError, ProfileError
from planner.perf.profile import ProfileMeta, load_profile, write_profile
from planner.profiler.model_shape import load_shape
from planner.profiler.plot import context_groups, plot_profile
from planner.profiler.sweep import DecodeSample, PrefillSample, build_profile, plan_sweep


def test_decode_points_fit_the_kv_cache_and_the_batch_cap() -> None:
    """Every planned decode point has batch x context <= max_kv_tokens and batch <= cap."""
    plan = plan_sweep(max_kv_tokens=100_000, max_isl=16384, contexts=5, batches=8, max_batch=64)
    assert len(plan.prefill_isls) == 12
    assert plan.prefill_isls[0] == 128 and plan.prefill_isls[-1] == 16384
    assert len({p.context_tokens for p in plan.decode_points}) == 5
    for p in plan.decode_points:
        assert 1 <= p.batch <= 64
        assert p.batch * p.context_tokens <= 100_000
    longest = [p for p in plan.decode_points if p.context_tokens == 16384]
    assert max(p.batch for p in longest) == 100_000 // 16384


def test_bad_sweep_settings_are_rejected() -> None:
    """A context longer than the KV cache, or too few points, raise ConfigError by name."""
    with pytest.raises(ConfigError) as err:
        plan_sweep(max_kv_tokens=1000, max_isl=4096)
    assert err.value.field == "max_context"
    with pytest.raises(ConfigError) as err:
        plan_sweep(max_kv_tokens=10**6, max_isl=4096, prefill_points=1)
    assert err.value.field == "prefill_points"


def _samples() -> tuple[list[PrefillSample], list[DecodeSample]]:
    pre = [PrefillSample(isl, 10 + isl / 100) for isl in (100, 1000, 4000)]
    dec = [
        DecodeSample(b, float(c), 5 + b / 10 + c / 2000) for c in (1000, 4000) for b in (1, 8, 16)
    ]
    return pre, dec


def test_build_profile_derives_throughput_and_kv_usage() -> None:
    """Prefill tok/s/GPU = ISL/TTFT/GPUs; decode = batch/ITL/GPUs; KV usage = b x c / max."""
    pre, dec = _samples()
    prof = build_profile(
        pre, dec, max_kv_tokens=64_000, gpus_per_worker=2, meta=ProfileMeta(), source="t"
    )
    assert prof.prefill.thpt_tokens_per_s_per_gpu[1] == pytest.approx(1000 / 0.020 / 2)
    i = 4  # batch 8 at context 4000
    assert prof.decode.kv_usage[i] == pytest.approx(8 * 4000 / 64_000)
    assert prof.decode.thpt_tokens_per_s_per_gpu[i] == pytest.approx(8 / (7.8 / 1e3) / 2)


def test_build_profile_rejects_a_single_context() -> None:
    """Decode samples at one context cannot make a surface: ProfileError names the fields."""
    pre, dec = _samples()
    with pytest.raises(ProfileError, match="y_context_length"):
        build_profile(
            pre, dec[:3], max_kv_tokens=64_000, gpus_per_worker=1, meta=ProfileMeta(), source="t"
        )


def test_written_profile_reloads_in_both_layouts_with_metadata(tmp_path: Path) -> None:
    """write_profile writes ours (meta extra kept) and Dynamo's npz; both load back equal."""
    pre, dec = _samples()
    meta = ProfileMeta(
        gpu_type="H100",
        model="llama-3.1-8b",
        tp_prefill=1,
        extra={"model_shape": load_shape("llama-3.1-8b").to_json(), "cuda_version": "12.4"},
    )
    prof = build_profile(pre, dec, max_kv_tokens=64_000, gpus_per_worker=1, meta=meta, source="t")
    write_profile(prof, tmp_path)
    ours = load_profile(tmp_path)
    assert ours.meta.gpu_type == "H100"
    assert ours.meta.extra["model_shape"]["kv_heads"] == 8
    assert ours.meta.extra["cuda_version"] == "12.4"
    (tmp_path / "profile.json").unlink()
    dyn = load_profile(tmp_path)
    assert dyn.layout == "dynamo-raw"
    np.testing.assert_allclose(dyn.decode.itl_ms, ours.decode.itl_ms)
    np.testing.assert_allclose(dyn.prefill.ttft_ms, ours.prefill.ttft_ms)
    assert dyn.decode.max_kv_tokens == 64_000


def test_plot_writes_a_png(tmp_path: Path) -> None:
    """profile plot renders the three panels of a built profile to a non-empty PNG."""
    pre, dec = _samples()
    prof = build_profile(
        pre, dec, max_kv_tokens=64_000, gpus_per_worker=1, meta=ProfileMeta(), source="t"
    )
    out = plot_profile(prof, tmp_path / "p.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_context_groups_merge_measured_contexts_near_each_other() -> None:
    """Contexts within 10% of each other form one line in the plot."""
    groups = context_groups(np.array([1000.0, 4010.0, 980.0, 3990.0, 1010.0]))
    assert [sorted(g.tolist()) for g in groups] == [[0, 2, 4], [1, 3]]
