"""The validated profile values (prefill curve, decode surface, metadata) and the checks
every reader applies to the arrays it found."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from planner.errors import ProfileError

FloatArray = NDArray[np.float64]
#: what a profile whose TTFT falls as ISL grows does: stop (``error``) or load with a
#: warning naming the points (``warn``)
NonMonotonic = Literal["error", "warn"]


@dataclass(frozen=True)
class ProfileMeta:
    """What was measured, on what, by whom. Unknown fields stay None."""

    gpu_type: str | None = None
    gpu_memory_gib: float | None = None
    model: str | None = None
    engine: str | None = None
    engine_version: str | None = None
    dtype: str | None = None
    tp_prefill: int | None = None
    tp_decode: int | None = None
    pp: int | None = None
    gpus_per_prefill_worker: int | None = None
    gpus_per_decode_worker: int | None = None
    kv_block_size: int | None = None
    max_batch_size: int | None = None
    #: the engine limits the profile was measured under (vLLM's names), when it says;
    #: the simulator's workers obey them unless the settings set others
    max_num_seqs: int | None = None
    max_num_batched_tokens: int | None = None
    worker_startup_s: float | None = None
    measured_by: str | None = None
    method: str | None = None
    date: str | None = None
    source: str | None = None
    licence: str | None = None
    notes: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PrefillData:
    isl_tokens: FloatArray
    ttft_ms: FloatArray
    thpt_tokens_per_s_per_gpu: FloatArray
    #: False when the source listed the points out of ISL order (they are sorted here)
    listed_in_order: bool = True


@dataclass(frozen=True)
class DecodeData:
    kv_usage: FloatArray
    context_tokens: FloatArray
    itl_ms: FloatArray
    thpt_tokens_per_s_per_gpu: FloatArray
    max_kv_tokens: int


@dataclass(frozen=True)
class ProfileData:
    """A validated profile: prefill curve, decode surface and metadata."""

    prefill: PrefillData
    decode: DecodeData
    meta: ProfileMeta
    #: where it was read from and in which layout
    source: str
    layout: str
    #: problems found and accepted (``non_monotonic="warn"``), one sentence each
    warnings: tuple[str, ...] = ()


# ----------------------------------------------------------------------------- validation


def _array(source: str, name: str, raw: object, *, ndim: int = 1) -> FloatArray:
    try:
        arr = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ProfileError(source, name, f"not numeric ({exc})") from exc
    if arr.ndim != ndim:
        raise ProfileError(source, name, f"expected a {ndim}-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise ProfileError(source, name, "is empty")
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = int(np.argmax(bad))
        raise ProfileError(source, name, f"value {arr.flat[idx]!r} at index {idx} is not finite")
    return arr


def _positive(source: str, name: str, arr: FloatArray) -> None:
    if (arr <= 0).any():
        idx = int(np.argmax(arr <= 0))
        raise ProfileError(
            source, name, f"value {arr[idx]!r} at index {idx} must be > 0 (expected positive)"
        )


def _same_length(source: str, arrays: dict[str, FloatArray]) -> None:
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ProfileError(source, ",".join(lengths), f"lengths differ: {lengths}")


def validate_prefill(source: str, isl: object, ttft: object, thpt: object) -> PrefillData:
    """Check and sort the prefill curve; raises ProfileError naming the bad field."""
    a_isl = _array(source, "prefill_isl", isl)
    a_ttft = _array(source, "prefill_ttft", ttft)
    a_thpt = _array(source, "prefill_thpt_per_gpu", thpt)
    _same_length(
        source, {"prefill_isl": a_isl, "prefill_ttft": a_ttft, "prefill_thpt_per_gpu": a_thpt}
    )
    for name, arr in (("prefill_isl", a_isl), ("prefill_ttft", a_ttft)):
        _positive(source, name, arr)
    _positive(source, "prefill_thpt_per_gpu", a_thpt)
    if len(a_isl) < 2:
        raise ProfileError(source, "prefill_isl", "needs at least 2 points to interpolate")
    order = np.argsort(a_isl, kind="stable")
    in_order = bool((order == np.arange(len(order))).all())
    a_isl, a_ttft, a_thpt = a_isl[order], a_ttft[order], a_thpt[order]
    dup = np.diff(a_isl) == 0
    if dup.any():
        raise ProfileError(
            source,
            "prefill_isl",
            f"duplicate ISL {a_isl[int(np.argmax(dup))]!r}: expected distinct input lengths",
        )
    return PrefillData(
        isl_tokens=a_isl, ttft_ms=a_ttft, thpt_tokens_per_s_per_gpu=a_thpt, listed_in_order=in_order
    )


def ttft_falls(prefill: PrefillData, *, shown: int = 3) -> str | None:
    """Where TTFT falls as ISL grows (a longer prompt cannot be served faster on the same
    worker, so such points are a measurement or a column mix-up), or None."""
    falls = np.flatnonzero(np.diff(prefill.ttft_ms) < 0)
    if falls.size == 0:
        return None
    isl, ttft = prefill.isl_tokens, prefill.ttft_ms
    pairs = [
        f"ISL {isl[i]:g} -> {ttft[i]:.4g} ms but ISL {isl[i + 1]:g} -> {ttft[i + 1]:.4g} ms"
        for i in falls[:shown]
    ]
    more = f" and {falls.size - shown} more" if falls.size > shown else ""
    order = "" if prefill.listed_in_order else " (the file lists ISL out of order)"
    return (
        f"TTFT falls as ISL grows at {falls.size} point(s){order}: {'; '.join(pairs)}{more}; "
        "expected TTFT to rise with ISL"
    )


def validate_decode(
    source: str, kv: object, ctx: object, itl: object, thpt: object, max_kv: object
) -> DecodeData:
    """Check the decode samples; raises ProfileError naming the bad field."""
    a_kv = _array(source, "x_kv_usage", kv)
    a_ctx = _array(source, "y_context_length", ctx)
    a_itl = _array(source, "z_itl", itl)
    a_thpt = _array(source, "z_thpt_per_gpu", thpt)
    _same_length(
        source,
        {"x_kv_usage": a_kv, "y_context_length": a_ctx, "z_itl": a_itl, "z_thpt_per_gpu": a_thpt},
    )
    if (a_kv < 0).any() or (a_kv > 1.5).any():
        raise ProfileError(
            source, "x_kv_usage", f"values {a_kv.min()!r}..{a_kv.max()!r}: expected fractions 0..1"
        )
    _positive(source, "y_context_length", a_ctx)
    _positive(source, "z_itl", a_itl)
    _positive(source, "z_thpt_per_gpu", a_thpt)
    if len(np.unique(a_ctx)) < 2 or len(np.unique(a_kv)) < 2:
        raise ProfileError(
            source,
            "y_context_length/x_kv_usage",
            "need at least 2 distinct context lengths and KV usages for a 2-D surface",
        )
    mk = np.asarray(max_kv, dtype=np.float64).ravel()
    if mk.size != 1 or not math.isfinite(float(mk[0])) or float(mk[0]) <= 0:
        raise ProfileError(
            source, "max_kv_tokens", f"value {max_kv!r}: expected one positive token count"
        )
    return DecodeData(
        kv_usage=a_kv,
        context_tokens=a_ctx,
        itl_ms=a_itl,
        thpt_tokens_per_s_per_gpu=a_thpt,
        max_kv_tokens=int(mk[0]),
    )
