"""The ``profile endpoint`` run: plan the sweep, measure every point, build the profile."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from itertools import groupby

import aiohttp
import numpy as np

from planner.errors import ConfigError, EndpointError
from planner.perf.profile import ProfileData
from planner.profiler.endpoint import (
    EndpointClient,
    decode_lengths,
    measure_decode,
    measure_prefill,
    read_max_kv_tokens,
)
from planner.profiler.metadata import endpoint_meta
from planner.profiler.progress import Progress
from planner.profiler.sweep import DecodeSample, PrefillSample, build_profile, plan_sweep


@dataclass(frozen=True)
class EndpointSweep:
    """Settings of one endpoint profiling run (CLI flags map one to one)."""

    base_url: str
    model: str
    api: str = "completions"
    prompt_word: str = "hello"
    max_kv_tokens: int | None = None
    max_isl: int = 8192
    min_isl: int = 128
    prefill_points: int = 8
    repeats: int = 3
    contexts: int = 4
    batches: int = 6
    max_batch: int = 64
    #: fill at most this fraction of the KV cache, leaving room for the ramp's extra OSL
    kv_fraction: float = 0.8
    steady_tokens: int = 48
    max_osl: int = 4096
    time_scale: float = 1.0
    gpus_per_worker: int = 1
    gpu_type: str | None = None
    engine: str | None = None
    timeout_s: float = 600.0


async def run_endpoint_sweep(cfg: EndpointSweep, *, progress: bool = True) -> ProfileData:
    """Measure prefill and decode points against ``cfg.base_url``; EndpointError on failure."""
    if not 0 < cfg.kv_fraction <= 1:
        raise ConfigError("kv_fraction", cfg.kv_fraction, "a fraction in (0, 1]")
    timeout = aiohttp.ClientTimeout(total=cfg.timeout_s)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        max_kv = cfg.max_kv_tokens or await read_max_kv_tokens(session, cfg.base_url)
        if not max_kv:
            raise ConfigError(
                "max_kv_tokens", None, "the decode worker's KV capacity in tokens (--max-kv-tokens)"
            )
        plan = plan_sweep(
            max_kv_tokens=int(max_kv * cfg.kv_fraction),
            max_isl=cfg.max_isl,
            min_isl=cfg.min_isl,
            prefill_points=cfg.prefill_points,
            contexts=cfg.contexts,
            batches=cfg.batches,
            max_batch=cfg.max_batch,
        )
        client = EndpointClient(
            session,
            base_url=cfg.base_url,
            model=cfg.model,
            api=cfg.api,
            prompt_word=cfg.prompt_word,
        )
        bar = Progress(plan.size + 1) if progress else None
        await client.stream(isl=16, osl=2)  # warm-up: connections, caches, lazy init
        if bar:
            bar.step("warm-up")
        prefill: list[PrefillSample] = []
        for isl in plan.prefill_isls:
            prefill.append(
                await measure_prefill(
                    client, isl=isl, repeats=cfg.repeats, time_scale=cfg.time_scale
                )
            )
            if bar:
                bar.step(f"prefill isl={isl} ttft={prefill[-1].ttft_ms:.1f} ms")
        pre_isl = np.array([s.isl_tokens for s in prefill], dtype=float)
        pre_ttft_s = np.array([s.ttft_ms for s in prefill]) / 1e3 * cfg.time_scale

        decode: list[DecodeSample] = []
        skipped: list[str] = []
        for ctx, group in groupby(plan.decode_points, key=lambda p: p.context_tokens):
            itl_floor_s = 0.0
            for point in sorted(group, key=lambda p: p.batch):
                isl, osl = decode_lengths(
                    context=ctx,
                    batch=point.batch,
                    ttft_s=float(np.interp(ctx, pre_isl, pre_ttft_s)),
                    itl_floor_s=itl_floor_s,
                    steady_tokens=cfg.steady_tokens,
                )
                label = f"decode batch={point.batch} ctx={ctx}"
                if osl > cfg.max_osl or (point.batch > 1 and itl_floor_s == 0):
                    skipped.append(f"{label}: needs OSL {osl} > max_osl {cfg.max_osl}")
                else:
                    try:
                        s = await measure_decode(
                            client,
                            batch=point.batch,
                            isl=isl,
                            osl=osl,
                            time_scale=cfg.time_scale,
                        )
                    except EndpointError as exc:
                        skipped.append(f"{label}: {exc}")
                    else:
                        decode.append(s)
                        if point.batch == 1:
                            itl_floor_s = s.itl_ms / 1e3 * cfg.time_scale
                        label += f" itl={s.itl_ms:.2f} ms"
                if bar:
                    bar.step(label)
        for line in skipped:
            print(f"skipped {line}", file=sys.stderr)
        meta = endpoint_meta(
            model=cfg.model,
            base_url=cfg.base_url,
            api=cfg.api,
            gpus_per_worker=cfg.gpus_per_worker,
            time_scale=cfg.time_scale,
            gpu_type=cfg.gpu_type,
            engine=cfg.engine,
            prompt_tokens_reported=client.unreported_prompts == 0,
            extra={
                "repeats": cfg.repeats,
                "steady_tokens": cfg.steady_tokens,
                "kv_fraction": cfg.kv_fraction,
                "skipped_points": skipped,
            },
        )
        return build_profile(
            prefill,
            decode,
            max_kv_tokens=int(max_kv),
            gpus_per_worker=cfg.gpus_per_worker,
            meta=meta,
            source=cfg.base_url,
        )
