"""Perf model behaviour outside the golden points: clamping, infeasibility, physics."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from planner.perf.model import PerfModel


def test_prefill_out_of_range_is_flagged_held_below_and_extrapolated_above(
    shipped_perf: PerfModel,
) -> None:
    """Below the measured ISL range the edge value is held; above it TTFT grows on the
    last measured segment's slope (never held flat), throughput per GPU follows from
    it; both flagged."""
    p = shipped_perf.prefill
    lo = p.ttft_ms(10)
    assert lo.clamped and lo.value == p.ttft_ms(p.min_isl).value
    edge = p.ttft_ms(p.max_isl).value
    a, b = p.ttft_ms(p.max_isl + 10_000), p.ttft_ms(p.max_isl + 20_000)
    assert a.clamped and b.clamped and edge < a.value < b.value
    assert b.value - a.value == pytest.approx(a.value - edge, rel=1e-9)
    thpt = p.thpt_per_gpu(p.max_isl + 10_000)
    ratio = (p.max_isl + 10_000) / p.max_isl * edge / a.value
    assert thpt.clamped and thpt.value == pytest.approx(p.thpt_per_gpu(p.max_isl).value * ratio)
    assert not p.ttft_ms(3000).clamped


def test_interpolation_passes_through_the_measured_points(shipped_perf: PerfModel) -> None:
    """At every measured ISL the spline returns the measured TTFT and throughput."""
    p = shipped_perf.profile.prefill
    for isl, ttft, thpt in zip(p.isl_tokens, p.ttft_ms, p.thpt_tokens_per_s_per_gpu, strict=True):
        assert abs(shipped_perf.prefill.ttft_ms(isl).value - ttft) < 1e-6 * ttft
        assert abs(shipped_perf.prefill.thpt_per_gpu(isl).value - thpt) < 1e-6 * thpt


def test_infeasible_itl_target_is_flagged_not_sized(shipped_perf: PerfModel) -> None:
    """An ITL target below the profile's minimum gives feasible=False and 0 throughput."""
    op = shipped_perf.decode.best_throughput(itl_ms=1.0, context_tokens=3000)
    assert not op.feasible
    assert op.thpt_per_gpu == 0.0
    assert op.min_itl_ms > 1.0


def test_looser_itl_target_never_lowers_best_throughput(shipped_perf: PerfModel) -> None:
    """The best operating point under a looser ITL target is at least as loaded."""
    for ctx in (500, 3000, 8000, 13000):
        kvs = [
            shipped_perf.decode.best_throughput(itl_ms=t, context_tokens=ctx).kv_usage
            for t in (8, 12, 20, 40, 80)
        ]
        assert all(b >= a for a, b in itertools.pairwise(kvs))


def test_decode_surfaces_are_finite_and_positive(shipped_perf: PerfModel) -> None:
    """Cubic griddata overshoot and NaN cells are repaired: ITL > 0, throughput >= 0."""
    d = shipped_perf.decode
    assert np.isfinite(d.itl_grid).all() and (d.itl_grid > 0).all()
    assert np.isfinite(d.thpt_grid).all() and (d.thpt_grid >= 0).all()
    assert d.itl_ms(kv_usage=2.0, context_tokens=3000).clamped
    assert abs(d.kv_usage(concurrency=100, context_tokens=9450.29) - 1.0) < 1e-12
