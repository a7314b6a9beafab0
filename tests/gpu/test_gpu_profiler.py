"""GPU profiler on a real GPU: kernels against numpy, then a tiny sweep end to end.

Skipped cleanly where pycuda (or a GPU) is missing. Run with `make gpu-test`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

drv = pytest.importorskip("pycuda.driver", exc_type=ImportError)

from planner.profiler.gpu_kernels import Cublas, kernel_source  # noqa: E402
from planner.profiler.gpu_timer import GpuSession  # noqa: E402

pytestmark = pytest.mark.gpu


def _have_gpu() -> bool:
    try:
        drv.init()
        return bool(drv.Device.count())
    except drv.Error:
        return False


@pytest.fixture(scope="module")
def session() -> Iterator[GpuSession]:
    if not _have_gpu():
        pytest.skip("no CUDA device")
    s = GpuSession(0)
    yield s
    s.close()


def _to_gpu(s: GpuSession, arr: np.ndarray) -> Any:
    buf = s.alloc(arr.nbytes)
    drv.memcpy_htod(int(buf), np.ascontiguousarray(arr))
    return buf


def _from_gpu(buf: Any, shape: tuple[int, ...], dtype: Any = np.float32) -> np.ndarray:
    out = np.empty(shape, dtype=dtype)
    drv.memcpy_dtoh(out, int(buf))
    return out


def test_cublas_row_major_gemm_matches_numpy(session: GpuSession) -> None:
    """Cublas.gemm computes row-major A @ B (fp32) like numpy."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 7), dtype=np.float32)
    b = rng.standard_normal((7, 5), dtype=np.float32)
    da, db, dc = _to_gpu(session, a), _to_gpu(session, b), session.alloc(3 * 5 * 4)
    blas = Cublas()
    blas.gemm(int(da), int(db), int(dc), m=3, n=5, k=7, dtype="fp32", out_dtype="fp32")
    drv.Context.synchronize()
    np.testing.assert_allclose(_from_gpu(dc, (3, 5)), a @ b, rtol=1e-4, atol=1e-4)
    blas.close()


def _module() -> Any:
    from pycuda.compiler import SourceModule

    return SourceModule(kernel_source(dtype="fp32", head_dim=64, block_size=16), no_extern_c=True)


def test_causal_softmax_matches_numpy(session: GpuSession) -> None:
    """Rows of a chunk starting at query q0 attend keys 0..q0+row; the rest get 0."""
    rng = np.random.default_rng(1)
    group, rows, cols, q0 = 2, 5, 9, 4
    s = rng.standard_normal((group, rows, cols), dtype=np.float32)
    ds, dp = _to_gpu(session, s), session.alloc(s.nbytes)
    fn = _module().get_function("causal_softmax")
    fn(
        np.uintp(int(ds)),
        np.uintp(int(dp)),
        np.int32(rows),
        np.int32(cols),
        np.int32(q0),
        np.float32(0.5),
        block=(256, 1, 1),
        grid=(rows, group),
    )
    got = _from_gpu(dp, s.shape)
    want = np.zeros_like(s)
    for r in range(rows):
        lim = q0 + r + 1
        x = s[:, r, :lim] * 0.5
        e = np.exp(x - x.max(axis=1, keepdims=True))
        want[:, r, :lim] = e / e.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_paged_decode_attention_matches_numpy(session: GpuSession) -> None:
    """Attention over a scattered paged KV cache equals dense softmax(qK^T/sqrt(d))V (GQA)."""
    rng = np.random.default_rng(2)
    batch, hq, hkv, d, bs, ctx = 2, 4, 2, 64, 16, 37
    per_seq = -(-ctx // bs)
    nblocks = batch * per_seq + 3
    kc = rng.standard_normal((nblocks, bs, hkv, d), dtype=np.float32)
    vc = rng.standard_normal((nblocks, bs, hkv, d), dtype=np.float32)
    q = rng.standard_normal((batch, hq, d), dtype=np.float32)
    tables = rng.permutation(nblocks)[: batch * per_seq].astype(np.int32).reshape(batch, per_seq)
    lens = np.array([ctx, ctx - 10], dtype=np.int32)
    bufs = [_to_gpu(session, x) for x in (q, kc, vc, tables, lens)]
    out = session.alloc(q.nbytes)
    fn = _module().get_function("paged_decode_attention")
    fn(
        *[np.uintp(int(x)) for x in (*bufs, out)],
        np.int32(hq),
        np.int32(hkv),
        np.int32(per_seq),
        np.float32(1 / np.sqrt(d)),
        block=(256, 1, 1),
        grid=(hq, batch),
    )
    got = _from_gpu(out, q.shape)
    for b in range(batch):
        tok = np.arange(lens[b])
        blk = tables[b, tok // bs]
        for h in range(hq):
            kvh = h // (hq // hkv)
            k = kc[blk, tok % bs, kvh]
            v = vc[blk, tok % bs, kvh]
            w = k @ q[b, h] / np.sqrt(d)
            p = np.exp(w - w.max())
            np.testing.assert_allclose(got[b, h], p @ v / p.sum(), rtol=1e-4, atol=1e-4)


def test_tiny_sweep_produces_a_valid_profile(tmp_path: Path) -> None:
    """`profile gpu` on a tiny model: a loadable profile with full device metadata."""
    if not _have_gpu():
        pytest.skip("no CUDA device")
    from planner.perf.profile import load_profile, write_profile
    from planner.profiler.gpu_sweep import GpuSweep, run_gpu_sweep

    shape = tmp_path / "tiny.json"
    shape.write_text(
        json.dumps(
            {
                "name": "tiny",
                "layers": 2,
                "hidden_size": 512,
                "heads": 8,
                "kv_heads": 2,
                "intermediate_size": 1024,
                "vocab_size": 4096,
                "dtype": "bf16",
            }
        )
    )
    cfg = GpuSweep(
        model=str(shape),
        max_context=1024,
        prefill_points=3,
        contexts=2,
        batches=2,
        max_batch=4,
        repeat=2,
    )
    profile, _ = run_gpu_sweep(cfg, progress=False)
    write_profile(profile, tmp_path / "out")
    back = load_profile(tmp_path / "out")
    assert back.meta.gpu_type and back.meta.extra["cuda_version"]
    assert back.meta.extra["model_shape"]["hidden_size"] == 512
    assert (back.prefill.ttft_ms > 0).all() and (back.decode.itl_ms > 0).all()
    assert back.prefill.ttft_ms[-1] > back.prefill.ttft_ms[0]
