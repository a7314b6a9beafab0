"""The shipped three-row Llama2-70B / H100 profile: rebuilt from Splitwise's CSV it gives
the shipped arrays; its conversion keeps the measured medians; and the simulator bills a
TP8 worker as 8 GPUs."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest

from planner.core.types import Component
from planner.perf.model import PerfModel
from planner.perf.npz import load_npz
from planner.perf.profile import load_profile
from planner.profiler.splitwise import SHIPPED_DIR, build, read_medians
from planner.settings import load_settings
from planner.sim.controllers import StaticController
from planner.sim.experiment import Experiment
from planner.workload.synthetic import synthetic_trace
from tests.conftest import shared

P, D = Component.PREFILL, Component.DECODE


def test_rebuilding_from_the_csv_gives_the_shipped_arrays(tmp_path: Path) -> None:
    """python -m planner.profiler.splitwise reproduces profiles/h100_llama2-70b_*."""
    build(shared("profiles/splitwise_perf_model.csv"), tmp_path)
    for name in ("pre_swept_prefill.npz", "pre_swept_decode.npz"):
        ours, shipped = load_npz(tmp_path / name), load_npz(SHIPPED_DIR / name)
        assert sorted(ours) == sorted(shipped)
        for key in ours:
            np.testing.assert_array_equal(ours[key], shipped[key], err_msg=key)


def test_the_conversion_keeps_the_measured_medians() -> None:
    """Prefill TTFT at 2,048 tokens and decode ITL at batch 16 (context 576) are the
    CSV's medians; TP8's 128-token point is lowered to its 256-token median (monotone)."""
    csv = shared("profiles/splitwise_perf_model.csv")
    med = read_medians(csv, model="llama2-70b", hardware="h100-80gb")
    for row, tp in enumerate((2, 4, 8)):
        p = load_profile(SHIPPED_DIR, row=row)
        assert p.meta.tp_prefill == tp == p.meta.gpus_per_prefill_worker
        isl = list(p.prefill.isl_tokens)
        assert p.prefill.ttft_ms[isl.index(2048)] == med[(tp, 2048, 1, 128)][0]
        ctx0 = p.decode.context_tokens == 576
        b16 = np.isclose(p.decode.kv_usage * p.decode.max_kv_tokens / 576, 16)
        if b16[ctx0].any():
            assert p.decode.itl_ms[ctx0 & b16][0] == pytest.approx(med[(tp, 512, 16, 128)][1])
    tp8 = load_profile(SHIPPED_DIR, row="tp=8").prefill.ttft_ms
    assert tp8[0] == tp8[1] == med[(8, 256, 1, 128)][0]
    raw = [float(r.split(",")[7]) for r in csv.read_text().splitlines()[1:]
           if r.startswith("llama2-70b,h100-80gb,128,1,128,") and r.endswith(",8")]  # fmt: skip
    assert statistics.median(raw) > tp8[0]  # the measured 128-token median was higher


def test_a_tp8_worker_is_billed_eight_gpus() -> None:
    """One TP8 prefill + one TP8 decode worker held for 600 s = 16 GPUs x 600 s."""
    perf = PerfModel(load_profile(SHIPPED_DIR, row="tp=8"))
    trace = synthetic_trace("constant", duration_s=600, base_rps=1, isl_tokens=500, seed=3)
    settings = load_settings(overrides={"ttft_ms": 1000, "itl_ms": 60})
    exp = Experiment(trace, settings, perf, perf)
    assert exp.gpus[P] == exp.gpus[D] == 8
    fleet = {P: 1, D: 1}
    run = exp.run(StaticController(fleet), initial=fleet)
    assert run.gpu_hours == pytest.approx(16 * run.span_s / 3600.0)
    assert exp.cluster_config().max_num_seqs == 64  # the row's measured batch cap
