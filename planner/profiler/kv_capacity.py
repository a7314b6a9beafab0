"""KV-cache capacity of one GPU: bytes per token, weights per GPU, tokens that fit.

bytes per token per GPU = 2 (K and V) x layers x kv_heads/tp x head_dim x KV dtype bytes
(with fewer KV heads than TP ranks each rank keeps one replicated head).
KV budget = free memory x memory fraction - weights per GPU - activation reserve;
max KV tokens = budget / bytes per token, rounded down to whole KV blocks.
This is how vLLM-style engines size their cache (``gpu_memory_utilization``); the
reserve stands for activations, CUDA graphs and the allocator's slack.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.errors import ConfigError
from planner.profiler.model_shape import DTYPE_BYTES, ModelShape

GIB = 1024**3


def kv_bytes_per_token(shape: ModelShape, *, tp: int, kv_dtype: str | None = None) -> int:
    """KV-cache bytes one token occupies on each of ``tp`` GPUs."""
    dt = kv_dtype or shape.dtype
    if dt not in DTYPE_BYTES:
        raise ConfigError("kv_dtype", dt, f"one of {sorted(DTYPE_BYTES)}")
    return 2 * shape.layers * shape.kv_heads_per_gpu(tp) * shape.head_dim * DTYPE_BYTES[dt]


def weight_bytes_per_gpu(shape: ModelShape, *, tp: int) -> int:
    """Weights held by one GPU (everything sharded over TP; norms are negligible)."""
    shape.check_tp(tp)
    return -(-shape.params() * shape.dtype_bytes // tp)


@dataclass(frozen=True)
class KvCapacity:
    """How the memory of one GPU splits between weights, reserve and KV cache."""

    free_bytes: int
    memory_fraction: float
    weight_bytes: int
    reserve_bytes: int
    kv_budget_bytes: int
    bytes_per_token: int
    block_size: int
    max_kv_tokens: int


def kv_capacity(
    shape: ModelShape,
    *,
    tp: int,
    free_bytes: int,
    memory_fraction: float = 0.9,
    reserve_bytes: int = 2 * GIB,
    kv_dtype: str | None = None,
    block_size: int = 16,
) -> KvCapacity:
    """Tokens of KV cache one GPU holds; ConfigError if the model does not fit."""
    if free_bytes <= 0:
        raise ConfigError("free_bytes", free_bytes, "a positive number of bytes")
    if not 0 < memory_fraction <= 1:
        raise ConfigError("memory_fraction", memory_fraction, "a fraction in (0, 1]")
    if reserve_bytes < 0:
        raise ConfigError("reserve_bytes", reserve_bytes, "a non-negative number of bytes")
    if block_size <= 0:
        raise ConfigError("block_size", block_size, "a positive number of tokens")
    per_token = kv_bytes_per_token(shape, tp=tp, kv_dtype=kv_dtype)
    weights = weight_bytes_per_gpu(shape, tp=tp)
    budget = int(free_bytes * memory_fraction) - weights - reserve_bytes
    tokens = max(0, budget) // per_token // block_size * block_size
    if tokens <= 0:
        raise ConfigError(
            "tp",
            tp,
            f"more GPUs per worker: {shape.name} needs {weights / GIB:.1f} GiB of weights per "
            f"GPU + {reserve_bytes / GIB:.1f} GiB reserve, but only "
            f"{free_bytes * memory_fraction / GIB:.1f} GiB are usable",
        )
    return KvCapacity(
        free_bytes=free_bytes,
        memory_fraction=memory_fraction,
        weight_bytes=weights,
        reserve_bytes=reserve_bytes,
        kv_budget_bytes=budget,
        bytes_per_token=per_token,
        block_size=block_size,
        max_kv_tokens=tokens,
    )
