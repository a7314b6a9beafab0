"""Endpoint profiling end to end against the emulated engine, and the engine's model."""

from __future__ import annotations

import asyncio

import aiohttp
import numpy as np
import pytest

from planner.errors import EndpointError
from planner.perf.model import PerfModel
from planner.perf.profile import ProfileData, ProfileMeta, validate_decode, validate_prefill
from planner.profiler.emulated_engine import EmulatedEngine, count_prompt_tokens, serve_emulated
from planner.profiler.endpoint import (
    EndpointClient,
    StreamTiming,
    decode_lengths,
    steady_decode,
)
from planner.profiler.endpoint_sweep import EndpointSweep, run_endpoint_sweep

pytestmark = pytest.mark.slow

MAX_KV = 40_000


@pytest.fixture(scope="module")
def engine_profile() -> ProfileData:
    """A smooth profile: TTFT = 80 + 0.04 ISL ms; ITL = 6 + 20 KV + 0.0005 context ms."""
    isl = np.linspace(100, 8000, 9)
    ttft = 80 + 0.04 * isl
    kv, ctx = np.meshgrid(np.linspace(0, 1, 6), [500.0, 2000.0, 4000.0, 8000.0])
    itl = 6 + 20 * kv + 0.0005 * ctx
    return ProfileData(
        prefill=validate_prefill("t", isl, ttft, isl / ttft * 1e3),
        decode=validate_decode(
            "t", kv.ravel(), ctx.ravel(), itl.ravel(), 1e3 / itl.ravel(), MAX_KV
        ),
        meta=ProfileMeta(),
        source="synthetic",
        layout="sla-planner",
    )


async def test_endpoint_profile_matches_the_engine_profile_within_10_percent(
    engine_profile: ProfileData,
) -> None:
    """The whole measurement path (HTTP, SSE, steady window, sweep, profile)
    recovers the curves the emulated engine was started with, within 10% at every point."""
    # the profile's own time (scale 1): at 0.5 a 50-ms TTFT left event-loop jitter on a
    # loaded machine a tenth of the reading
    scale = 1.0
    async with serve_emulated(engine_profile, time_scale=scale) as url:
        cfg = EndpointSweep(
            base_url=url,
            model="emulated",
            max_isl=6000,
            min_isl=500,
            prefill_points=4,
            repeats=2,
            contexts=2,
            batches=3,
            max_batch=8,
            time_scale=scale,
        )
        measured = await run_endpoint_sweep(cfg, progress=False)
    truth = PerfModel(engine_profile)
    assert len(measured.prefill.isl_tokens) == 4
    for isl, ttft in zip(measured.prefill.isl_tokens, measured.prefill.ttft_ms, strict=True):
        assert ttft == pytest.approx(truth.prefill.ttft_ms(isl).value, rel=0.10)
    d = measured.decode
    assert len(d.itl_ms) >= 5
    assert d.kv_usage.max() > 0.5  # the sweep reached loaded points, not only batch 1
    for kv, ctx, itl in zip(d.kv_usage, d.context_tokens, d.itl_ms, strict=True):
        expected = truth.decode.itl_ms(kv_usage=kv, context_tokens=ctx).value
        assert itl == pytest.approx(expected, rel=0.10), (kv, ctx)
    assert measured.decode.max_kv_tokens == MAX_KV  # read from the engine's /health
    assert measured.meta.extra["prompt_tokens_source"] == "usage.prompt_tokens"


async def test_overlapping_requests_queue_for_prefill(engine_profile: ProfileData) -> None:
    """Two prompts sent together: the second's TTFT includes the first's prefill."""
    async with serve_emulated(engine_profile, time_scale=0.5) as url, aiohttp.ClientSession() as s:
        client = EndpointClient(s, base_url=url, model="emulated")
        await client.stream(isl=10, osl=1)  # warm-up: open the connection pool
        a, b = await asyncio.gather(client.stream(isl=2000, osl=1), client.stream(isl=2000, osl=1))
    first, second = sorted((a.token_s[0] - a.sent_s, b.token_s[0] - b.sent_s))
    one = (80 + 0.04 * 2000) * 0.5 / 1e3
    assert first >= one
    # the second waited for the first prefill: its TTFT is one prefill longer
    assert second - first == pytest.approx(one, rel=0.15)


def test_decode_step_grows_with_concurrency_and_context(engine_profile: ProfileData) -> None:
    """The engine's step time follows the surface: KV usage = sum of contexts / max_kv."""
    eng = EmulatedEngine(engine_profile)
    one = eng.step_ms([2000])
    many = eng.step_ms([2000] * 10)  # KV usage 0.5
    assert one == pytest.approx(6 + 20 * 2000 / MAX_KV + 1.0, rel=0.02)
    assert many == pytest.approx(6 + 20 * 0.5 + 1.0, rel=0.02)


async def test_chat_api_counts_words_and_reports_usage(engine_profile: ProfileData) -> None:
    """/v1/chat/completions streams deltas; usage.prompt_tokens = words of the messages."""
    async with serve_emulated(engine_profile, time_scale=0.1) as url, aiohttp.ClientSession() as s:
        t = await EndpointClient(s, base_url=url, model="emulated", api="chat").stream(
            isl=37, osl=5
        )
    assert len(t.token_s) == 5
    assert t.prompt_tokens == 37 and t.prompt_tokens_reported
    assert count_prompt_tokens({"prompt": [1, 2, 3]}) == 3


async def test_http_errors_raise_endpoint_error(engine_profile: ProfileData) -> None:
    """A wrong URL path gives EndpointError with the HTTP status, not a crash."""
    async with serve_emulated(engine_profile, time_scale=0.1) as url, aiohttp.ClientSession() as s:
        client = EndpointClient(s, base_url=url + "/nope", model="emulated")
        with pytest.raises(EndpointError, match="HTTP 404"):
            await client.stream(isl=3, osl=2)


def test_steady_window_uses_only_gaps_where_all_requests_decode() -> None:
    """Gaps before the last first-token or after the first last-token are excluded."""
    a = StreamTiming(0.0, (1.0, 1.1, 1.2, 1.3, 1.4), 100, True)  # alone until 1.2
    b = StreamTiming(0.0, (1.2, 1.5, 1.8, 2.1), 100, True)
    s = steady_decode([a, b])
    # window [1.2, 1.4]: a's gaps 1.2-1.3, 1.3-1.4; b has none inside
    assert s.gaps == 2
    assert s.itl_s == pytest.approx(0.1)
    assert s.context_tokens == pytest.approx(100 + (3 + 4) / 2)
    with pytest.raises(EndpointError, match="no steady decode window"):
        steady_decode(
            [StreamTiming(0, (1.0, 1.1), 10, True), StreamTiming(0, (2.0, 2.1), 10, True)]
        )


def test_decode_lengths_make_room_for_the_prefill_ramp() -> None:
    """OSL covers batch x TTFT / ITL ramp tokens plus the steady window; ISL centres it."""
    isl, osl = decode_lengths(context=4000, batch=1, ttft_s=0.1, itl_floor_s=0.01, steady_tokens=40)
    assert (isl, osl) == (3980, 40)
    isl, osl = decode_lengths(context=4000, batch=8, ttft_s=0.1, itl_floor_s=0.01, steady_tokens=40)
    assert osl == 80 + 40 and isl == 4000 - (80 + 120) // 2
