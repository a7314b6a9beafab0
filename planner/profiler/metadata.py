"""The metadata a profiling run writes beside its curves (who, what, on what, how).

Fields ProfileMeta has are set directly; the rest (model shape, interconnect, CUDA
versions, sweep settings) go to ``extra`` and land flat in ``profile.json``'s ``meta``,
where load_profile reads them back into ``extra``.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import platform
from dataclasses import dataclass, field
from typing import Any

from planner.perf.profile import ProfileMeta
from planner.profiler.model_shape import ModelShape


@dataclass(frozen=True)
class DeviceInfo:
    """What the GPU profiler learns about the device it ran on."""

    name: str
    memory_bytes: int
    free_bytes: int
    compute_capability: str
    driver_version: str
    cuda_version: str
    extra: dict[str, Any] = field(default_factory=dict)


def planner_version() -> str:
    try:
        return importlib.metadata.version("sla-planner")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def today() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")


def _measured_by() -> str:
    return f"sla-planner {planner_version()} on {platform.node() or 'unknown host'}"


def gpu_meta(
    *,
    shape: ModelShape,
    tp: int,
    device: DeviceInfo,
    max_batch: int,
    block_size: int,
    interconnect_gb_s: float | None,
    gemm_backend: str,
    extra: dict[str, Any],
) -> ProfileMeta:
    """Metadata of a ``profile gpu`` run."""
    shard = (
        "one GPU timed its 1/TP shard; all-reduce time added from "
        f"{interconnect_gb_s} GB/s bus bandwidth (ring: 2(tp-1)/tp x bytes / bandwidth), "
        "not measured"
        if tp > 1
        else "TP1: no all-reduce"
    )
    return ProfileMeta(
        gpu_type=device.name,
        gpu_memory_gib=round(device.memory_bytes / 1024**3, 2),
        model=shape.name,
        engine="sla-planner gpu profiler (kernel timing, no serving engine)",
        engine_version=planner_version(),
        dtype=shape.dtype,
        tp_prefill=tp,
        tp_decode=tp,
        pp=1,
        gpus_per_prefill_worker=tp,
        gpus_per_decode_worker=tp,
        kv_block_size=block_size,
        max_batch_size=max_batch,
        measured_by=_measured_by(),
        method=(
            "PyCUDA: one decoder layer's GEMMs (" + gemm_backend + "), prefill attention and "
            "paged decode attention timed with CUDA events (warm-up, median of repeats), "
            "x layers, + LM head; " + shard
        ),
        date=today(),
        notes=(
            "models no engine scheduling, CUDA graphs, chunked prefill, sampling, norms, "
            "rotary or activation kernels; see docs/profiler.md"
        ),
        extra={
            "model_shape": shape.to_json(),
            "tp": tp,
            "interconnect_gb_s": interconnect_gb_s,
            "gpu_memory_free_bytes": device.free_bytes,
            "gpu_compute_capability": device.compute_capability,
            "driver_version": device.driver_version,
            "cuda_version": device.cuda_version,
            "gemm_backend": gemm_backend,
            **device.extra,
            **extra,
        },
    )


def endpoint_meta(
    *,
    model: str,
    base_url: str,
    api: str,
    gpus_per_worker: int,
    time_scale: float,
    gpu_type: str | None,
    engine: str | None,
    prompt_tokens_reported: bool,
    extra: dict[str, Any],
) -> ProfileMeta:
    """Metadata of a ``profile endpoint`` run."""
    return ProfileMeta(
        gpu_type=gpu_type,
        model=model,
        engine=engine,
        gpus_per_prefill_worker=gpus_per_worker,
        gpus_per_decode_worker=gpus_per_worker,
        measured_by=_measured_by(),
        method=(
            f"sla-planner profile endpoint: streaming {api} requests to {base_url}; TTFT from "
            "send to first SSE token (median of repeats, one request at a time); ITL = mean "
            "token gap while all concurrent requests decode"
            + (f"; latencies divided by time_scale {time_scale}" if time_scale != 1 else "")
        ),
        date=today(),
        extra={
            "endpoint_url": base_url,
            "api": api,
            "time_scale": time_scale,
            "prompt_tokens_source": (
                "usage.prompt_tokens" if prompt_tokens_reported else "words in the prompt"
            ),
            **extra,
        },
    )
