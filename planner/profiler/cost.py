"""Work of one forward step per GPU: matrix-product shapes, FLOPs, bytes, all-reduce.

Per decoder layer on one of ``tp`` GPUs (Megatron-style sharding: column-parallel QKV and
gate/up, row-parallel O and down, so each layer needs two all-reduces of the hidden
state). ``tokens`` is the number of rows the step pushes through the layer: the prompt
length for a prefill, the batch size for a decode step.

GEMM (m x k) @ (k x n): FLOPs = 2 m n k; bytes moved at least (m k + k n + m n) x dtype.
Prefill attention (causal, per layer): FLOPs = 2 x 2 x heads/tp x head_dim x L^2 / 2
(QK^T and PV, half the matrix under the causal mask). Decode attention (per layer, per
sequence of context C): reads K and V: 2 x kv_heads/tp x head_dim x C x dtype bytes.
Ring all-reduce of B bytes over tp GPUs: each GPU sends and receives 2 (tp-1)/tp x B.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.errors import ConfigError
from planner.profiler.model_shape import ModelShape


@dataclass(frozen=True)
class Gemm:
    """One matrix product C[m, n] = A[m, k] @ B[k, n] of a step, per GPU."""

    name: str
    m: int
    n: int
    k: int
    dtype_bytes: int

    @property
    def flops(self) -> int:
        return 2 * self.m * self.n * self.k

    @property
    def bytes(self) -> int:
        return (self.m * self.k + self.k * self.n + self.m * self.n) * self.dtype_bytes


def layer_gemms(shape: ModelShape, *, tokens: int, tp: int) -> list[Gemm]:
    """The four GEMMs of one decoder layer on one GPU (QKV, O, gate+up, down)."""
    if tokens <= 0:
        raise ConfigError("tokens", tokens, "a positive token count")
    shape.check_tp(tp)
    h, d, b = shape.hidden_size, shape.head_dim, shape.dtype_bytes
    q_heads = shape.heads // tp
    kv = shape.kv_heads_per_gpu(tp)
    inter = shape.intermediate_size // tp
    return [
        Gemm("qkv_proj", tokens, (q_heads + 2 * kv) * d, h, b),
        Gemm("o_proj", tokens, h, q_heads * d, b),
        Gemm("gate_up_proj", tokens, 2 * inter, h, b),
        Gemm("down_proj", tokens, h, inter, b),
    ]


def lm_head_gemm(shape: ModelShape, *, rows: int, tp: int) -> Gemm:
    """Logits for ``rows`` positions (one per sequence), vocabulary split over TP."""
    shape.check_tp(tp)
    return Gemm("lm_head", rows, -(-shape.vocab_size // tp), shape.hidden_size, shape.dtype_bytes)


def prefill_attention_flops(shape: ModelShape, *, isl: int, tp: int) -> int:
    """Causal self-attention FLOPs of one layer over an ``isl``-token prompt, per GPU."""
    shape.check_tp(tp)
    return 2 * (shape.heads // tp) * shape.head_dim * isl * isl  # 2 GEMMs x 2 FLOP x L^2/2


def decode_attention_bytes(shape: ModelShape, *, batch: int, context: int, tp: int) -> int:
    """KV-cache bytes one layer's decode attention reads, per GPU."""
    kv = shape.kv_heads_per_gpu(tp)
    return 2 * kv * shape.head_dim * context * batch * shape.dtype_bytes


def allreduce_bytes(shape: ModelShape, *, tokens: int) -> int:
    """Size of one all-reduce of the hidden state (tokens x hidden x dtype)."""
    return tokens * shape.hidden_size * shape.dtype_bytes


def allreduce_ms(nbytes: int, *, tp: int, bandwidth_gb_s: float, latency_us: float = 0.0) -> float:
    """Ring all-reduce time: 2 (tp-1)/tp x bytes / bus bandwidth, plus a fixed latency."""
    if tp == 1:
        return 0.0
    if bandwidth_gb_s <= 0:
        raise ConfigError("interconnect_gb_s", bandwidth_gb_s, "a positive bandwidth in GB/s")
    moved = 2.0 * (tp - 1) / tp * nbytes
    return moved / (bandwidth_gb_s * 1e9) * 1e3 + latency_us / 1e3


@dataclass(frozen=True)
class StepCost:
    """Totals of one forward step on one GPU."""

    gemm_flops: int
    gemm_bytes: int
    attention_flops: int
    attention_bytes: int
    allreduce_bytes: int
    allreduces: int

    @property
    def flops(self) -> int:
        return self.gemm_flops + self.attention_flops


def prefill_step_cost(shape: ModelShape, *, isl: int, tp: int) -> StepCost:
    """One prompt of ``isl`` tokens through every layer plus the LM head of its last token."""
    gemms = layer_gemms(shape, tokens=isl, tp=tp)
    head = lm_head_gemm(shape, rows=1, tp=tp)
    kv_write = 2 * shape.kv_heads_per_gpu(tp) * shape.head_dim * isl * shape.dtype_bytes
    return StepCost(
        gemm_flops=shape.layers * sum(g.flops for g in gemms) + head.flops,
        gemm_bytes=shape.layers * sum(g.bytes for g in gemms) + head.bytes,
        attention_flops=shape.layers * prefill_attention_flops(shape, isl=isl, tp=tp),
        attention_bytes=shape.layers * kv_write,
        allreduce_bytes=allreduce_bytes(shape, tokens=isl),
        allreduces=2 * shape.layers if tp > 1 else 0,
    )


def decode_step_cost(shape: ModelShape, *, batch: int, context: int, tp: int) -> StepCost:
    """One decode step of ``batch`` sequences, each attending over ``context`` tokens."""
    if context <= 0:
        raise ConfigError("context", context, "a positive token count")
    gemms = layer_gemms(shape, tokens=batch, tp=tp)
    head = lm_head_gemm(shape, rows=batch, tp=tp)
    # QK^T and PV for one new query per sequence: 2 x 2 x heads x head_dim x context
    attn_flops = 4 * (shape.heads // tp) * shape.head_dim * context * batch
    return StepCost(
        gemm_flops=shape.layers * sum(g.flops for g in gemms) + head.flops,
        gemm_bytes=shape.layers * sum(g.bytes for g in gemms) + head.bytes,
        attention_flops=shape.layers * attn_flops,
        attention_bytes=shape.layers
        * decode_attention_bytes(shape, batch=batch, context=context, tp=tp),
        allreduce_bytes=allreduce_bytes(shape, tokens=batch),
        allreduces=2 * shape.layers if tp > 1 else 0,
    )
