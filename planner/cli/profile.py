"""``sla-planner profile ...``: inspect and validate performance profiles."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("profile", help="show, validate (and produce) performance profiles")
    psub = p.add_subparsers(dest="profile_command", required=True, metavar="ACTION")
    show = psub.add_parser("show", help="summary table of a profile")
    show.add_argument("path", nargs="?", help="profile directory (default: shipped profile)")
    show.add_argument("--json", action="store_true")
    show.add_argument("--row", help="row of a multi-row profile: an index or tp=N")
    show.set_defaults(handler=run_show)
    val = psub.add_parser("validate", help="check a profile; exit 2 if it is broken")
    val.add_argument("path", help="profile directory or profile.json")
    val.add_argument(
        "--non-monotonic",
        choices=["error", "warn"],
        default="error",
        help="a TTFT that falls as ISL grows: fail (default) or report a warning",
    )
    val.add_argument("--row", help="row of a multi-row profile: an index or tp=N")
    val.set_defaults(handler=run_validate)
    rows = psub.add_parser(
        "rows",
        help="the rows of a multi-row profile and each one's GPU-seconds per request",
        description="Lists every row (configuration) of a pre-swept profile with its GPUs "
        "per worker and the GPU-seconds one request of ISL/OSL tokens costs at the targets "
        "(prefill at its TTFT, decode at its best point under the ITL target); marks the "
        "cheapest, the row 'profile_row: cheapest' would take.",
    )
    rows.add_argument("path", help="profile directory")
    rows.add_argument("--ttft-ms", type=float, default=500.0, help="TTFT target (default 500)")
    rows.add_argument("--itl-ms", type=float, default=50.0, help="ITL target (default 50)")
    rows.add_argument("--isl", type=float, default=3000.0, help="input tokens (default 3000)")
    rows.add_argument("--osl", type=float, default=300.0, help="output tokens (default 300)")
    rows.set_defaults(handler=run_rows)
    _register_producers(psub)


def _register_producers(psub: Any) -> None:
    gpu = psub.add_parser("gpu", help="time one forward step on this machine's GPU (pycuda)")
    gpu.add_argument("--model", default="llama-3.1-8b", help="preset name or shape JSON file")
    gpu.add_argument("--tp", type=int, default=1, help="tensor-parallel degree (shard timed)")
    gpu.add_argument("--dtype", choices=["fp16", "bf16", "fp32"], help="override model dtype")
    gpu.add_argument("--device", type=int, default=0)
    gpu.add_argument("--max-context", type=int, default=16384, help="largest ISL/context")
    gpu.add_argument("--prefill-points", type=int, default=12)
    gpu.add_argument("--contexts", type=int, default=5, help="decode context lengths")
    gpu.add_argument("--batches", type=int, default=8, help="decode batch sizes per context")
    gpu.add_argument("--max-batch", type=int, default=256)
    gpu.add_argument("--block-size", type=int, default=16, help="KV block size (tokens)")
    gpu.add_argument("--memory-fraction", type=float, default=0.9)
    gpu.add_argument("--reserve-gib", type=float, default=2.0, help="activations etc.")
    gpu.add_argument(
        "--interconnect-gb-s", type=float, default=450.0, help="all-reduce bus bandwidth, TP>1"
    )
    gpu.add_argument("--repeat", type=int, default=10)
    gpu.add_argument("--compare-torch", action="store_true", help="print validation ratios")
    gpu.add_argument("--out", default="out/profile-gpu", help="output directory")
    gpu.add_argument("--quiet", action="store_true", help="no progress on stderr")
    gpu.set_defaults(handler=run_gpu)

    ep = psub.add_parser("endpoint", help="measure a running OpenAI-compatible server")
    ep.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:8000")
    ep.add_argument("--model", required=True, help="model name the server serves")
    ep.add_argument("--api", choices=["completions", "chat"], default="completions")
    ep.add_argument("--max-kv-tokens", type=int, help="decode KV capacity (else from /health)")
    ep.add_argument("--max-isl", type=int, default=8192)
    ep.add_argument("--min-isl", type=int, default=128)
    ep.add_argument("--prefill-points", type=int, default=8)
    ep.add_argument("--repeats", type=int, default=3)
    ep.add_argument("--contexts", type=int, default=4)
    ep.add_argument("--batches", type=int, default=6)
    ep.add_argument("--max-batch", type=int, default=64)
    ep.add_argument("--steady-tokens", type=int, default=48, help="min tokens in ITL window")
    ep.add_argument("--max-osl", type=int, default=4096)
    ep.add_argument("--time-scale", type=float, default=1.0, help="emulated engines only")
    ep.add_argument("--gpus-per-worker", type=int, default=1)
    ep.add_argument("--gpu-type", help="recorded in the metadata")
    ep.add_argument("--engine", help="recorded in the metadata (vllm, sglang, ...)")
    ep.add_argument("--out", default="out/profile-endpoint", help="output directory")
    ep.add_argument("--quiet", action="store_true", help="no progress on stderr")
    ep.set_defaults(handler=run_endpoint)

    plot = psub.add_parser("plot", help="PNG of a profile's curves")
    plot.add_argument("path", nargs="?", help="profile directory (default: shipped profile)")
    plot.add_argument("--out", default="out/profile.png")
    plot.set_defaults(handler=run_plot)

    emu = psub.add_parser("serve-emulated", help="serve an emulated engine from a profile")
    emu.add_argument("path", nargs="?", help="profile directory (default: shipped profile)")
    emu.add_argument("--host", default="127.0.0.1")
    emu.add_argument("--port", type=int, default=8000)
    emu.add_argument("--time-scale", type=float, default=1.0, help="latency multiplier")
    emu.add_argument("--model-name", default="emulated")
    emu.set_defaults(handler=run_serve_emulated)


def _load(path: str | None, *, non_monotonic: str = "error", row: str | None = None) -> Any:
    from planner.perf.profile import DEFAULT_PROFILE_DIR, load_profile

    if non_monotonic == "warn":
        return load_profile(path or DEFAULT_PROFILE_DIR, row=row, non_monotonic="warn")
    return load_profile(path or DEFAULT_PROFILE_DIR, row=row)


def run_rows(args: argparse.Namespace) -> int:
    from planner.perf.row_choice import row_costs

    costs = row_costs(
        args.path, ttft_ms=args.ttft_ms, itl_ms=args.itl_ms, isl=args.isl, osl=args.osl
    )
    usable = [c for c in costs if c.gpu_s_per_request is not None]
    best = min(usable, key=lambda c: (c.gpu_s_per_request, c.index)).index if usable else None
    print(f"ISL {args.isl:g}, OSL {args.osl:g}, TTFT {args.ttft_ms:g} ms, ITL {args.itl_ms:g} ms")
    for c in costs:
        cost = (
            f"{c.gpu_s_per_request:.4f} GPU-s/request"
            if c.gpu_s_per_request is not None
            else f"cannot: {c.reason}"
        )
        mark = "  <- cheapest" if c.index == best else ""
        print(f"{c.label}: {c.gpus_per_worker} GPUs/worker, {cost}{mark}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from planner.perf.model import PerfModel

    profile = _load(args.path, row=args.row)
    summary = PerfModel(profile).summary()
    meta = {k: v for k, v in asdict(profile.meta).items() if v not in (None, {}, "")}
    if args.json:
        print(json.dumps({"summary": summary, "meta": meta}, indent=2))
        return 0
    rows = [*summary.items(), *meta.items()]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print()
    print(f"{'ISL (tokens)':>14} {'TTFT (ms)':>10} {'tok/s/GPU':>10}")
    pre = profile.prefill
    for i, t, h in zip(pre.isl_tokens, pre.ttft_ms, pre.thpt_tokens_per_s_per_gpu, strict=True):
        print(f"{i:14.0f} {t:10.2f} {h:10.0f}")
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from planner.perf.model import PerfModel

    profile = _load(args.path, non_monotonic=args.non_monotonic, row=args.row)
    PerfModel(profile)  # the warnings, if any, were logged while loading
    print(
        f"ok: {profile.source} ({profile.layout}): {len(profile.prefill.isl_tokens)} prefill "
        f"points, {len(profile.decode.kv_usage)} decode points"
        + (f", {len(profile.warnings)} warning(s)" if profile.warnings else "")
    )
    return 0


def _write(profile: Any, out: str) -> None:
    from planner.perf.profile import write_profile

    target = write_profile(profile, out)
    print(f"wrote {target} and Dynamo's selected_*_interpolation/raw_data.npz in {out}")


def run_gpu(args: argparse.Namespace) -> int:
    from planner.profiler.gpu_sweep import GpuSweep, run_gpu_sweep

    cfg = GpuSweep(
        model=args.model,
        tp=args.tp,
        dtype=args.dtype,
        device=args.device,
        max_context=args.max_context,
        prefill_points=args.prefill_points,
        contexts=args.contexts,
        batches=args.batches,
        max_batch=args.max_batch,
        block_size=args.block_size,
        memory_fraction=args.memory_fraction,
        reserve_gib=args.reserve_gib,
        interconnect_gb_s=args.interconnect_gb_s,
        repeat=args.repeat,
    )
    profile, report = run_gpu_sweep(cfg, compare=args.compare_torch, progress=not args.quiet)
    _write(profile, args.out)
    if report:
        print(json.dumps(report, indent=1))
    return 0


def run_endpoint(args: argparse.Namespace) -> int:
    import asyncio

    from planner.profiler.endpoint_sweep import EndpointSweep, run_endpoint_sweep

    cfg = EndpointSweep(
        base_url=args.url,
        model=args.model,
        api=args.api,
        max_kv_tokens=args.max_kv_tokens,
        max_isl=args.max_isl,
        min_isl=args.min_isl,
        prefill_points=args.prefill_points,
        repeats=args.repeats,
        contexts=args.contexts,
        batches=args.batches,
        max_batch=args.max_batch,
        steady_tokens=args.steady_tokens,
        max_osl=args.max_osl,
        time_scale=args.time_scale,
        gpus_per_worker=args.gpus_per_worker,
        gpu_type=args.gpu_type,
        engine=args.engine,
    )
    _write(asyncio.run(run_endpoint_sweep(cfg, progress=not args.quiet)), args.out)
    return 0


def run_plot(args: argparse.Namespace) -> int:
    from planner.profiler.plot import plot_profile

    print(f"wrote {plot_profile(_load(args.path), args.out)}")
    return 0


def run_serve_emulated(args: argparse.Namespace) -> int:
    import asyncio

    from planner.profiler.emulated_engine import serve_emulated

    profile = _load(args.path)

    async def serve() -> None:
        async with serve_emulated(
            profile,
            host=args.host,
            port=args.port,
            time_scale=args.time_scale,
            model=args.model_name,
        ) as url:
            print(
                f"emulated engine for {profile.source} at {url} (time scale "
                f"{args.time_scale}, max_kv_tokens {profile.decode.max_kv_tokens}); Ctrl-C stops",
                flush=True,
            )
            await asyncio.Event().wait()

    asyncio.run(serve())
    return 0
