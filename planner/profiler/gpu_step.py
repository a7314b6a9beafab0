"""Times one forward step of a model shard on the GPU: GEMMs, attention, LM head.

All decoder layers have the same shape, so one layer is timed and multiplied by the
layer count; weights and KV cache exist for that one layer only (in a few copies that
calls rotate through, so the L2 cache cannot hold a memory-bound kernel's operands
between calls as it never could in a real model). TP > 1: the 1/TP shard is timed and
two all-reduces per layer are added from the stated interconnect bandwidth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.profiler.cost import Gemm, allreduce_bytes, allreduce_ms, layer_gemms, lm_head_gemm
from planner.profiler.gpu_kernels import Cublas, kernel_source
from planner.profiler.gpu_timer import GpuSession
from planner.profiler.model_shape import ModelShape

#: bytes of operands each copy set should exceed so rotating copies defeats the L2 cache
L2_DEFEAT_BYTES = 256 * 1024**2
SCORE_BUDGET_BYTES = 1024**3


def _ptr(buf: Any) -> np.uintp:
    """A device buffer as a kernel argument (its address)."""
    return np.uintp(int(buf))


@dataclass(frozen=True)
class StepTime:
    """One step's time split by kind of work (ms, whole model on one GPU)."""

    gemm_ms: float
    attention_ms: float
    lm_head_ms: float
    allreduce_ms: float

    @property
    def total_ms(self) -> float:
        return self.gemm_ms + self.attention_ms + self.lm_head_ms + self.allreduce_ms


class StepTimer:
    def __init__(
        self,
        session: GpuSession,
        shape: ModelShape,
        *,
        tp: int,
        block_size: int = 16,
        interconnect_gb_s: float = 450.0,
        allreduce_latency_us: float = 10.0,
        warmup: int = 3,
        repeat: int = 10,
    ) -> None:
        from pycuda.compiler import SourceModule

        self.s, self.shape, self.tp = session, shape, tp
        self.block_size = block_size
        self.interconnect_gb_s = interconnect_gb_s
        self.allreduce_latency_us = allreduce_latency_us
        self.warmup, self.repeat = warmup, repeat
        self.dt = shape.dtype
        self.eb = shape.dtype_bytes
        self.cublas = Cublas()
        mod = SourceModule(
            kernel_source(dtype=self.dt, head_dim=shape.head_dim, block_size=block_size),
            no_extern_c=True,
            options=["-O3"],
        )
        self.softmax = mod.get_function("causal_softmax")
        self.paged = mod.get_function("paged_decode_attention")
        gemms = layer_gemms(shape, tokens=1, tp=tp)
        per_copy = sum(g.k * g.n for g in gemms) * self.eb
        self.copies = max(2, math.ceil(L2_DEFEAT_BYTES / per_copy))
        self.weights = [
            {g.name: self._random(g.k * g.n * self.eb, seed=c) for g in gemms}
            for c in range(self.copies)
        ]
        head = lm_head_gemm(shape, rows=1, tp=tp)
        self.head_weight = self._random(head.k * head.n * self.eb, seed=99)

    def _random(self, nbytes: int, *, seed: int) -> Any:
        buf = self.s.alloc(nbytes)
        self.s.fill_random(buf, nbytes, seed=seed)
        return buf

    def _time(self, fn: Any) -> float:
        return self.s.time_ms(fn, warmup=self.warmup, repeat=self.repeat)

    # ------------------------------------------------------------------ pieces

    def gemm_ms(self, g: Gemm, weight_of: Any) -> float:
        a = self._random(g.m * g.k * self.eb, seed=1)
        c = self.s.alloc(g.m * g.n * self.eb)

        def run(i: int) -> None:
            self.cublas.gemm(
                int(a),
                int(weight_of(i)),
                int(c),
                m=g.m,
                n=g.n,
                k=g.k,
                dtype=self.dt,
                out_dtype=self.dt,
            )

        try:
            return self._time(run)
        finally:
            a.free()
            c.free()

    def layer_gemm_ms(self, tokens: int) -> dict[str, float]:
        return {
            g.name: self.gemm_ms(g, lambda i, n=g.name: self.weights[i % self.copies][n])
            for g in layer_gemms(self.shape, tokens=tokens, tp=self.tp)
        }

    def lm_head_ms(self, rows: int) -> float:
        return self.gemm_ms(
            lm_head_gemm(self.shape, rows=rows, tp=self.tp), lambda i: self.head_weight
        )

    def prefill_attention_ms(self, isl: int) -> float:
        """Unfused causal attention over ``isl`` tokens for this GPU's heads (one layer)."""
        d = self.shape.head_dim
        hkv = self.shape.kv_heads_per_gpu(self.tp)
        group = self.shape.heads // self.tp // hkv
        ln = isl
        q = self._random(group * hkv * ln * d * self.eb, seed=2)
        k = self._random(hkv * ln * d * self.eb, seed=3)
        v = self._random(hkv * ln * d * self.eb, seed=4)
        o = self.s.alloc(group * hkv * ln * d * self.eb)
        rows = max(1, min(ln, SCORE_BUDGET_BYTES // (group * ln * 4)))
        s_buf = self.s.alloc(group * rows * ln * 4)
        p_buf = self.s.alloc(group * rows * ln * self.eb)
        scale = np.float32(1.0 / math.sqrt(d))

        def run(_: int) -> None:
            for g in range(hkv):
                qg = int(q) + g * group * ln * d * self.eb
                kg = int(k) + g * ln * d * self.eb
                vg = int(v) + g * ln * d * self.eb
                og = int(o) + g * group * ln * d * self.eb
                for q0 in range(0, ln, rows):
                    r = min(rows, ln - q0)
                    cols = q0 + r  # causal: keys after the chunk's last query are masked
                    self.cublas.gemm_batched(
                        qg + q0 * d * self.eb,
                        kg,
                        int(s_buf),
                        m=r,
                        n=cols,
                        k=d,
                        lda=d,
                        ldb=d,
                        ldc=cols,
                        stride_a=ln * d,
                        stride_b=0,
                        stride_c=r * cols,
                        batch=group,
                        trans_b=True,
                        dtype=self.dt,
                        out_dtype="fp32",
                    )
                    self.softmax(
                        _ptr(s_buf),
                        _ptr(p_buf),
                        np.int32(r),
                        np.int32(cols),
                        np.int32(q0),
                        scale,
                        block=(256, 1, 1),
                        grid=(r, group),
                    )
                    self.cublas.gemm_batched(
                        int(p_buf),
                        vg,
                        og + q0 * d * self.eb,
                        m=r,
                        n=d,
                        k=cols,
                        lda=cols,
                        ldb=d,
                        ldc=d,
                        stride_a=r * cols,
                        stride_b=0,
                        stride_c=ln * d,
                        batch=group,
                        trans_b=False,
                        dtype=self.dt,
                        out_dtype=self.dt,
                    )

        try:
            return self._time(run)
        finally:
            for b in (q, k, v, o, s_buf, p_buf):
                b.free()

    def decode_attention_ms(self, batch: int, context: int) -> float:
        """Paged attention of ``batch`` sequences over ``context`` cached tokens (one layer)."""
        d, bs = self.shape.head_dim, self.block_size
        hq = self.shape.heads // self.tp
        hkv = self.shape.kv_heads_per_gpu(self.tp)
        per_seq = -(-context // bs)
        block_bytes = bs * hkv * d * self.eb
        copies = max(1, min(64, math.ceil(L2_DEFEAT_BYTES / (2 * batch * per_seq * block_bytes))))
        nblocks = copies * batch * per_seq
        kc = self._random(nblocks * block_bytes, seed=5)
        vc = self._random(nblocks * block_bytes, seed=6)
        rng = np.random.default_rng(7)
        # paged: each sequence's blocks are scattered over the cache, as after churn
        tables_host = rng.permutation(nblocks).astype(np.int32).reshape(copies, batch, per_seq)
        tables = self.s.alloc(tables_host.nbytes)
        self.s.drv.memcpy_htod(int(tables), tables_host)
        lens_host = np.full(batch, context, dtype=np.int32)
        lens = self.s.alloc(lens_host.nbytes)
        self.s.drv.memcpy_htod(int(lens), lens_host)
        q = self._random(batch * hq * d * self.eb, seed=8)
        out = self.s.alloc(batch * hq * d * self.eb)
        scale = np.float32(1.0 / math.sqrt(d))
        table_bytes = batch * per_seq * 4

        def run(i: int) -> None:
            self.paged(
                _ptr(q),
                _ptr(kc),
                _ptr(vc),
                np.uintp(int(tables) + (i % copies) * table_bytes),
                _ptr(lens),
                _ptr(out),
                np.int32(hq),
                np.int32(hkv),
                np.int32(per_seq),
                scale,
                block=(32 * 8, 1, 1),
                grid=(hq, batch),
            )

        try:
            return self._time(run)
        finally:
            for b in (kc, vc, tables, lens, q, out):
                b.free()

    # ------------------------------------------------------------------ steps

    def _allreduce_ms(self, tokens: int) -> float:
        one = allreduce_ms(
            allreduce_bytes(self.shape, tokens=tokens),
            tp=self.tp,
            bandwidth_gb_s=self.interconnect_gb_s,
            latency_us=self.allreduce_latency_us,
        )
        return 2 * self.shape.layers * one

    def prefill(self, isl: int) -> StepTime:
        layers = self.shape.layers
        return StepTime(
            gemm_ms=layers * sum(self.layer_gemm_ms(isl).values()),
            attention_ms=layers * self.prefill_attention_ms(isl),
            lm_head_ms=self.lm_head_ms(1),
            allreduce_ms=self._allreduce_ms(isl),
        )

    def decode(self, batch: int, context: int) -> StepTime:
        layers = self.shape.layers
        return StepTime(
            gemm_ms=layers * sum(self.layer_gemm_ms(batch).values()),
            attention_ms=layers * self.decode_attention_ms(batch, context),
            lm_head_ms=self.lm_head_ms(batch),
            allreduce_ms=self._allreduce_ms(batch),
        )

    def close(self) -> None:
        for copy in self.weights:
            for buf in copy.values():
                buf.free()
        self.head_weight.free()
        self.cublas.close()
