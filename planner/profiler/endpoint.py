"""Profiling a running OpenAI-compatible streaming server (vLLM, SGLang, Dynamo frontend).

Requests go to ``/v1/completions`` (or ``/v1/chat/completions``) with ``stream=true``;
the server answers with SSE ``data:`` lines and ``data: [DONE]``. Every non-empty text
chunk counts as one token, stamped when it arrives.

Prompt length without a tokenizer: the prompt is ``prompt_word`` repeated N times (one
token per word for common tokenizers, exactly one per word on the emulated engine).
``max_tokens`` = ``min_tokens`` = OSL and ``ignore_eos`` make the server generate
exactly OSL tokens. When the server reports ``usage.prompt_tokens`` (we ask with
``stream_options.include_usage``), that count is used instead of N.

- TTFT(ISL): one request at a time, first token time - send time, median of repeats.
- ITL(batch, context): ``batch`` requests at once. Only the steady window counts: from
  the last request's first token to the first request's last token, when all ``batch``
  requests are decoding together. ITL is the mean gap between tokens inside it; the
  context of a gap is the request's prompt plus the tokens it already has, averaged.
  OSL is made long enough that the window exists although prefills queue up.

Latencies are divided by ``time_scale`` (for an emulated engine that runs faster than
its profile); leave it at 1 for a real server.
"""

from __future__ import annotations

import asyncio
import json
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from planner.errors import ConfigError, EndpointError
from planner.profiler.sweep import DecodeSample, PrefillSample


@dataclass(frozen=True)
class StreamTiming:
    """One streamed request: send time, arrival time of each token, prompt length."""

    sent_s: float
    token_s: tuple[float, ...]
    prompt_tokens: int
    prompt_tokens_reported: bool


@dataclass(frozen=True)
class SteadyDecode:
    itl_s: float
    context_tokens: float
    gaps: int


def steady_decode(timings: Sequence[StreamTiming]) -> SteadyDecode:
    """Mean inter-token gap while every request is decoding (see the module docstring)."""
    if any(len(t.token_s) < 2 for t in timings):
        raise EndpointError("a decode request returned fewer than 2 tokens")
    start = max(t.token_s[0] for t in timings)
    end = min(t.token_s[-1] for t in timings)
    gaps: list[float] = []
    contexts: list[int] = []
    for t in timings:
        for k in range(1, len(t.token_s)):
            a, b = t.token_s[k - 1], t.token_s[k]
            if a >= start and b <= end:
                gaps.append(b - a)
                contexts.append(t.prompt_tokens + k)  # k tokens exist when step k+1 runs
    if not gaps:
        raise EndpointError(
            "no steady decode window: requests did not overlap while decoding "
            "(raise --osl or lower the batch sizes)"
        )
    return SteadyDecode(
        itl_s=statistics.fmean(gaps), context_tokens=statistics.fmean(contexts), gaps=len(gaps)
    )


class EndpointClient:
    """Sends timed streaming requests with controlled ISL and OSL."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        model: str,
        api: str = "completions",
        prompt_word: str = "hello",
        clock: Callable[[], float] | None = None,
    ) -> None:
        if api not in ("completions", "chat"):
            raise ConfigError("api", api, "'completions' or 'chat'")
        self.session = session
        self.url = base_url.rstrip("/") + (
            "/v1/chat/completions" if api == "chat" else "/v1/completions"
        )
        self.model = model
        self.api = api
        self.prompt_word = prompt_word
        self.clock = clock or asyncio.get_running_loop().time
        #: streams whose server did not report usage.prompt_tokens
        self.unreported_prompts = 0

    def _body(self, isl: int, osl: int) -> dict[str, Any]:
        prompt = " ".join([self.prompt_word] * isl)
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": osl,
            "min_tokens": osl,
            "ignore_eos": True,
            "temperature": 0.0,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if self.api == "chat":
            body["messages"] = [{"role": "user", "content": prompt}]
        else:
            body["prompt"] = prompt
        return body

    def _text(self, chunk: dict[str, Any]) -> str:
        choices = chunk.get("choices") or []
        if not choices:
            return ""
        c = choices[0]
        if self.api == "chat":
            return str((c.get("delta") or {}).get("content") or "")
        return str(c.get("text") or "")

    async def stream(self, *, isl: int, osl: int) -> StreamTiming:
        """One request; raises EndpointError on an HTTP error or a malformed stream."""
        tokens: list[float] = []
        reported: int | None = None
        sent = self.clock()
        try:
            async with self.session.post(self.url, json=self._body(isl, osl)) as resp:
                if resp.status != 200:
                    text = (await resp.text())[:300]
                    raise EndpointError(f"POST {self.url}: HTTP {resp.status}: {text}")
                async for raw in resp.content:
                    line = raw.strip()
                    if not line.startswith(b"data:"):
                        continue
                    data = line[5:].strip()
                    if data == b"[DONE]":
                        break
                    now = self.clock()
                    try:
                        chunk = json.loads(data)
                    except json.JSONDecodeError as exc:
                        raise EndpointError(f"{self.url}: bad SSE data {data[:80]!r}") from exc
                    if self._text(chunk):
                        tokens.append(now)
                    usage = chunk.get("usage")
                    if isinstance(usage, dict) and usage.get("prompt_tokens"):
                        reported = int(usage["prompt_tokens"])
        except aiohttp.ClientError as exc:
            raise EndpointError(f"POST {self.url}: {exc}") from exc
        if not tokens:
            raise EndpointError(f"{self.url}: stream ended without a token")
        self.unreported_prompts += reported is None
        return StreamTiming(
            sent_s=sent,
            token_s=tuple(tokens),
            prompt_tokens=reported if reported is not None else isl,
            prompt_tokens_reported=reported is not None,
        )


async def measure_prefill(
    client: EndpointClient, *, isl: int, repeats: int, time_scale: float = 1.0
) -> PrefillSample:
    """Median TTFT of ``repeats`` sequential single-token requests of ``isl`` tokens."""
    runs = [await client.stream(isl=isl, osl=1) for _ in range(repeats)]
    ttft = statistics.median(r.token_s[0] - r.sent_s for r in runs) / time_scale
    return PrefillSample(isl_tokens=runs[-1].prompt_tokens, ttft_ms=ttft * 1e3)


def decode_lengths(
    *, context: int, batch: int, ttft_s: float, itl_floor_s: float, steady_tokens: int
) -> tuple[int, int]:
    """(ISL, OSL) so the steady window exists and its mean context is ``context``.

    Prefills may run one after another, so the last request can start decoding
    ``batch x TTFT`` after the first; the first must still be generating then:
    OSL >= ramp tokens + steady tokens, with ramp tokens = batch x TTFT / ITL(batch 1).
    The window covers tokens ramp..OSL, so ISL = context - (ramp + OSL) / 2.
    """
    ramp = 0 if batch == 1 else math.ceil(batch * ttft_s / max(itl_floor_s, 1e-6))
    osl = ramp + steady_tokens
    isl = max(1, round(context - (ramp + osl) / 2))
    return isl, osl


async def measure_decode(
    client: EndpointClient, *, batch: int, isl: int, osl: int, time_scale: float = 1.0
) -> DecodeSample:
    """ITL and context of ``batch`` concurrent requests in their steady window."""
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(client.stream(isl=isl, osl=osl)) for _ in range(batch)]
    steady = steady_decode([t.result() for t in tasks])
    return DecodeSample(
        batch=batch, context_tokens=steady.context_tokens, itl_ms=steady.itl_s / time_scale * 1e3
    )


async def read_max_kv_tokens(session: aiohttp.ClientSession, base_url: str) -> int | None:
    """``max_kv_tokens`` from the server's /health JSON (the emulated engine has it)."""
    try:
        async with session.get(base_url.rstrip("/") + "/health") as resp:
            if resp.status != 200:
                return None
            data = await resp.json(content_type=None)
    except (aiohttp.ClientError, json.JSONDecodeError, ValueError):
        return None
    value = data.get("max_kv_tokens") if isinstance(data, dict) else None
    return int(value) if isinstance(value, int) and value > 0 else None
