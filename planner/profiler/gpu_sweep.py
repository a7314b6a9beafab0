"""The ``profile gpu`` run: KV capacity from free memory, sweep plan, timing, profile.

TTFT(ISL) = one prefill step of an ISL-token prompt; ITL(batch, context) = one decode
step of ``batch`` sequences at ``context`` tokens; KV usage = batch x context /
max_kv_tokens; throughput per GPU divides by TP. ``--compare-torch`` adds the checks a
GPU session should report: cuBLAS GEMM throughput against PyTorch's matmul (run in a
subprocess, so two CUDA contexts never mix), decode-attention bandwidth against a
device-to-device copy, and TTFT / ITL ratios to the measured H200 profile we ship.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass
from typing import Any

from planner.errors import ConfigError
from planner.perf.model import PerfModel
from planner.perf.profile import DEFAULT_PROFILE_DIR, ProfileData, load_profile
from planner.profiler.cost import decode_attention_bytes, layer_gemms
from planner.profiler.kv_capacity import GIB, kv_capacity
from planner.profiler.metadata import gpu_meta
from planner.profiler.model_shape import load_shape
from planner.profiler.progress import Progress
from planner.profiler.sweep import DecodeSample, PrefillSample, build_profile, plan_sweep


@dataclass(frozen=True)
class GpuSweep:
    """Settings of one GPU profiling run (CLI flags map one to one)."""

    model: str = "llama-3.1-8b"
    tp: int = 1
    dtype: str | None = None
    device: int = 0
    max_context: int = 16384
    prefill_points: int = 12
    contexts: int = 5
    batches: int = 8
    max_batch: int = 256
    block_size: int = 16
    memory_fraction: float = 0.9
    reserve_gib: float = 2.0
    interconnect_gb_s: float = 450.0
    allreduce_latency_us: float = 10.0
    warmup: int = 3
    repeat: int = 10


def run_gpu_sweep(
    cfg: GpuSweep, *, progress: bool = True, compare: bool = False
) -> tuple[ProfileData, dict[str, Any]]:
    """Profile the model on the GPU; returns the profile and the comparison report."""
    from planner.profiler.gpu_step import StepTimer
    from planner.profiler.gpu_timer import GpuSession

    shape = load_shape(cfg.model, dtype=cfg.dtype)
    if shape.dtype == "fp8":
        raise ConfigError("dtype", "fp8", "fp16, bf16 or fp32 for GPU timing (--dtype bf16)")
    shape.check_tp(cfg.tp)
    session = GpuSession(cfg.device)
    try:
        info = session.info()
        cap = kv_capacity(
            shape,
            tp=cfg.tp,
            free_bytes=info.free_bytes,
            memory_fraction=cfg.memory_fraction,
            reserve_bytes=int(cfg.reserve_gib * GIB),
            block_size=cfg.block_size,
        )
        plan = plan_sweep(
            max_kv_tokens=cap.max_kv_tokens,
            max_isl=cfg.max_context,
            prefill_points=cfg.prefill_points,
            contexts=cfg.contexts,
            batches=cfg.batches,
            max_batch=cfg.max_batch,
            max_context=min(cfg.max_context, cap.max_kv_tokens),
        )
        timer = StepTimer(
            session,
            shape,
            tp=cfg.tp,
            block_size=cfg.block_size,
            interconnect_gb_s=cfg.interconnect_gb_s,
            allreduce_latency_us=cfg.allreduce_latency_us,
            warmup=cfg.warmup,
            repeat=cfg.repeat,
        )
        bar = Progress(plan.size) if progress else None
        prefill, decode, breakdown = [], [], []
        for isl in plan.prefill_isls:
            st = timer.prefill(isl)
            prefill.append(PrefillSample(isl_tokens=isl, ttft_ms=st.total_ms))
            breakdown.append({"phase": "prefill", "isl": isl, **asdict(st)})
            if bar:
                bar.step(f"prefill isl={isl} ttft={st.total_ms:.1f} ms")
        for p in plan.decode_points:
            st = timer.decode(p.batch, p.context_tokens)
            decode.append(DecodeSample(p.batch, float(p.context_tokens), st.total_ms))
            breakdown.append(
                {"phase": "decode", "batch": p.batch, "context": p.context_tokens, **asdict(st)}
            )
            if bar:
                bar.step(f"decode batch={p.batch} ctx={p.context_tokens} itl={st.total_ms:.2f} ms")
        report = compare_report(timer, session, cfg) if compare else {}
        meta = gpu_meta(
            shape=shape,
            tp=cfg.tp,
            device=info,
            max_batch=cfg.max_batch,
            block_size=cfg.block_size,
            interconnect_gb_s=cfg.interconnect_gb_s if cfg.tp > 1 else None,
            gemm_backend=f"cuBLAS {timer.cublas.version()} via ctypes ({timer.cublas.path})",
            extra={
                "kv_capacity": asdict(cap),
                "warmup": cfg.warmup,
                "repeat": cfg.repeat,
                "step_breakdown_ms": breakdown,
                **({"comparison": report} if report else {}),
            },
        )
        timer.close()
        profile = build_profile(
            prefill,
            decode,
            max_kv_tokens=cap.max_kv_tokens,
            gpus_per_worker=cfg.tp,
            meta=meta,
            source=f"gpu:{info.name}",
        )
        if report:
            report["vs_shipped_h200"] = ratio_to_reference(profile)
        return profile, report
    finally:
        session.close()


def compare_report(timer: Any, session: Any, cfg: GpuSweep) -> dict[str, Any]:
    """GEMM TFLOP/s vs torch.matmul and decode-attention GB/s vs a device copy."""
    shape, tp = timer.shape, timer.tp
    gemm_rows = []
    for tokens in (1, 64, 4096):
        for g in layer_gemms(shape, tokens=tokens, tp=tp):
            ms = timer.gemm_ms(g, lambda i, n=g.name: timer.weights[i % timer.copies][n])
            gemm_rows.append({"m": g.m, "n": g.n, "k": g.k, "ours_tflops": g.flops / ms / 1e9})
    torch_tflops = torch_gemm_tflops(
        [(r["m"], r["n"], r["k"]) for r in gemm_rows], dtype=shape.dtype, device=cfg.device
    )
    for i, r in enumerate(gemm_rows):
        t = torch_tflops[i] if torch_tflops else None
        r["torch_tflops"] = t
        r["ratio_to_torch"] = r["ours_tflops"] / t if t else None
    copy_gb_s = session.copy_bandwidth_gb_s()
    attn_rows = []
    for batch, ctx in ((1, 4096), (32, 4096), (128, 2048)):
        ms = timer.decode_attention_ms(batch, ctx)
        nbytes = decode_attention_bytes(shape, batch=batch, context=ctx, tp=tp)
        gb_s = nbytes / (ms / 1e3) / 1e9
        attn_rows.append(
            {"batch": batch, "context": ctx, "gb_s": gb_s, "ratio_to_copy": gb_s / copy_gb_s}
        )
    return {"gemm": gemm_rows, "copy_gb_s": copy_gb_s, "decode_attention": attn_rows}


_TORCH_SCRIPT = """
import json, sys, torch
shapes, dtype, dev = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
dt = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[dtype]
torch.cuda.set_device(dev)
out = []
for m, n, k in shapes:
    a = torch.randn(m, k, device="cuda", dtype=dt); b = torch.randn(k, n, device="cuda", dtype=dt)
    for _ in range(3): a @ b
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(20): a @ b
    e.record(); e.synchronize()
    out.append(2 * m * n * k / (s.elapsed_time(e) / 20) / 1e9)
print(json.dumps(out))
"""


def torch_gemm_tflops(
    shapes: list[tuple[int, int, int]], *, dtype: str, device: int
) -> list[float] | None:
    """torch.matmul TFLOP/s at these shapes, or None where torch is not installed."""
    proc = subprocess.run(
        [sys.executable, "-c", _TORCH_SCRIPT, json.dumps(shapes), dtype, str(device)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        return None
    return [float(x) for x in json.loads(proc.stdout.strip().splitlines()[-1])]


def ratio_to_reference(profile: ProfileData) -> dict[str, Any]:
    """Our TTFT and ITL over the shipped H200 profile's at the same ISL / batch+context."""
    ref = PerfModel(load_profile(DEFAULT_PROFILE_DIR))
    ours = profile
    ttft = [
        {"isl": float(i), "ours_ms": float(t), "h200_ms": ref.prefill.ttft_ms(float(i)).value}
        for i, t in zip(ours.prefill.isl_tokens, ours.prefill.ttft_ms, strict=True)
        if ref.prefill.min_isl <= i <= ref.prefill.max_isl
    ]
    itl = []
    for kv, ctx, t in zip(
        ours.decode.kv_usage, ours.decode.context_tokens, ours.decode.itl_ms, strict=True
    ):
        batch = kv * ours.decode.max_kv_tokens / ctx
        ref_kv = batch * ctx / ref.decode.max_kv_tokens
        if ref_kv <= 1 and ref.decode.min_context <= ctx <= ref.decode.max_context:
            h = ref.decode.itl_ms(kv_usage=ref_kv, context_tokens=float(ctx)).value
            itl.append(
                {"batch": round(batch), "context": float(ctx), "ours_ms": float(t), "h200_ms": h}
            )
    for row in (*ttft, *itl):
        row["ratio"] = row["ours_ms"] / row["h200_ms"]
    return {
        "reference": str(DEFAULT_PROFILE_DIR.name),
        "note": "reference is vLLM serving FP8 weights on H200 (engine overheads included)",
        "ttft": ttft,
        "itl": itl,
    }
