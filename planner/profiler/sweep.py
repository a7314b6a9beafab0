"""Which points a profiling run measures, and how measured points become a profile.

Prefill: ISLs evenly spaced from ``min_isl`` to ``max_isl`` (as Dynamo's profiler does).
Decode: for each of ``contexts`` context lengths, batch sizes (concurrent requests)
evenly spaced from 1 to the largest batch whose KV fits, ``batch x context <=
max_kv_tokens``, capped at ``max_batch``. KV usage of a point = batch x context /
max_kv_tokens. Throughput per GPU: prefill ISL / TTFT / GPUs; decode batch / ITL / GPUs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.errors import ConfigError
from planner.perf.profile import ProfileData, ProfileMeta, validate_decode, validate_prefill


@dataclass(frozen=True)
class DecodePoint:
    batch: int
    context_tokens: int


@dataclass(frozen=True)
class SweepPlan:
    prefill_isls: tuple[int, ...]
    decode_points: tuple[DecodePoint, ...]
    max_kv_tokens: int

    @property
    def size(self) -> int:
        return len(self.prefill_isls) + len(self.decode_points)


@dataclass(frozen=True)
class PrefillSample:
    isl_tokens: int
    ttft_ms: float


@dataclass(frozen=True)
class DecodeSample:
    batch: int
    context_tokens: float
    itl_ms: float


def _count(name: str, value: int, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(name, value, f"an integer >= {minimum}")


def plan_sweep(
    *,
    max_kv_tokens: int,
    max_isl: int,
    min_isl: int = 128,
    prefill_points: int = 12,
    max_context: int | None = None,
    min_context: int | None = None,
    contexts: int = 5,
    batches: int = 8,
    max_batch: int = 256,
) -> SweepPlan:
    """Prefill ISLs and decode (batch, context) points for one profiling run."""
    _count("max_kv_tokens", max_kv_tokens, 1)
    _count("prefill_points", prefill_points, 2)
    _count("contexts", contexts, 2)
    _count("batches", batches, 2)
    _count("max_batch", max_batch, 2)
    _count("min_isl", min_isl, 1)
    if max_isl <= min_isl:
        raise ConfigError("max_isl", max_isl, f"an ISL greater than min_isl {min_isl}")
    isls = np.unique(np.linspace(min_isl, max_isl, prefill_points).round().astype(int))

    top = max_context or max_isl
    bottom = min_context or max(1, top // 16)
    if top <= bottom:
        raise ConfigError("max_context", top, f"a context greater than {bottom}")
    if top > max_kv_tokens:
        raise ConfigError(
            "max_context", top, f"at most max_kv_tokens {max_kv_tokens} (one request must fit)"
        )
    points: list[DecodePoint] = []
    for ctx in np.unique(np.linspace(bottom, top, contexts).round().astype(int)):
        cap = min(max_batch, max_kv_tokens // int(ctx))
        if cap < 1:
            continue
        for b in np.unique(np.linspace(1, cap, min(batches, cap)).round().astype(int)):
            points.append(DecodePoint(batch=int(b), context_tokens=int(ctx)))
    return SweepPlan(
        prefill_isls=tuple(int(i) for i in isls),
        decode_points=tuple(points),
        max_kv_tokens=max_kv_tokens,
    )


def build_profile(
    prefill: list[PrefillSample],
    decode: list[DecodeSample],
    *,
    max_kv_tokens: int,
    gpus_per_worker: int,
    meta: ProfileMeta,
    source: str,
) -> ProfileData:
    """Turn measured samples into a validated profile (our layout)."""
    _count("gpus_per_worker", gpus_per_worker, 1)
    isl = [float(s.isl_tokens) for s in prefill]
    ttft = [s.ttft_ms for s in prefill]
    pre_thpt = [s.isl_tokens / (s.ttft_ms / 1e3) / gpus_per_worker for s in prefill]
    kv = [s.batch * s.context_tokens / max_kv_tokens for s in decode]
    ctx = [s.context_tokens for s in decode]
    itl = [s.itl_ms for s in decode]
    dec_thpt = [s.batch / (s.itl_ms / 1e3) / gpus_per_worker for s in decode]
    return ProfileData(
        prefill=validate_prefill(source, isl, ttft, pre_thpt),
        decode=validate_decode(source, kv, ctx, itl, dec_thpt, max_kv_tokens),
        meta=meta,
        source=source,
        layout="sla-planner",
    )
