"""Golden values of the shipped H200 profile under Dynamo's interpolation method."""

from __future__ import annotations

import pytest

from planner.perf.model import PerfModel


def test_prefill_ttft_and_throughput_at_3000(shipped_perf: PerfModel) -> None:
    """TTFT(3000) ~ 60.46 ms and 49,481 tok/s/GPU, as DESIGN.md's golden values say."""
    assert shipped_perf.prefill.ttft_ms(3000).value == pytest.approx(60.46, abs=0.01)
    assert shipped_perf.prefill.thpt_per_gpu(3000).value == pytest.approx(49481, rel=1e-4)


def test_best_decode_throughput_under_10ms_at_3150(shipped_perf: PerfModel) -> None:
    """Best decode throughput under ITL 10 ms at context 3150 ~ 4555.7 at KV usage ~0.16."""
    op = shipped_perf.decode.best_throughput(itl_ms=10.0, context_tokens=3150)
    assert op.feasible
    assert op.thpt_per_gpu == pytest.approx(4555.7, abs=0.1)
    assert op.kv_usage == pytest.approx(0.16, abs=0.01)
    assert op.itl_ms <= 10.0
