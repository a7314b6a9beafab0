"""An emulated LLM engine: an OpenAI-compatible streaming server whose latencies come
from a profile.

It stands for one disaggregated prefill worker and one decode worker:

- **Prefill** handles one request at a time in arrival order (requests that overlap
  queue), taking TTFT(ISL) from the profile's prefill curve; the first token is sent
  when the prefill ends.
- **Decode** runs continuous-batching steps over every request in it; a step takes
  ITL(KV usage, context) from the profile's decode surface, with KV usage = the sum of
  the running requests' contexts / max_kv_tokens (= concurrent requests x mean context
  / max_kv_tokens) and context = their mean context. Each step sends one token to every
  running request. A request joins at the next step boundary, and waits while its
  final context would not fit in the KV cache.

Prompt length without a tokenizer: the engine counts whitespace-separated words of the
prompt (or of the chat messages' contents) as tokens; a list of token ids counts its
length. It always generates ``max_tokens`` tokens (as with ``ignore_eos``).

``time_scale`` multiplies every latency (0.1 = ten times faster than the profile) so
tests run in seconds; a profiler divides what it measures by the same factor. Step
deadlines are absolute (each starts where the previous one ended), so event-loop
overhead does not accumulate into the measured latencies.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from planner.errors import ConfigError
from planner.perf.model import PerfModel
from planner.perf.profile import ProfileData


@dataclass(eq=False)
class _Request:
    isl: int
    max_tokens: int
    arrival_s: float
    out: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    generated: int = 0
    cancelled: bool = False

    @property
    def context(self) -> int:
        return self.isl + self.generated

    def emit(self) -> None:
        self.generated += 1
        self.out.put_nowait(f" t{self.generated}")
        if self.generated >= self.max_tokens:
            self.out.put_nowait(None)


class EmulatedEngine:
    """The two worker loops; :meth:`submit` a request, read its tokens from ``out``."""

    def __init__(self, profile: ProfileData, *, time_scale: float = 1.0) -> None:
        if not time_scale > 0:
            raise ConfigError("time_scale", time_scale, "a positive factor")
        self.perf = PerfModel(profile)
        self.max_kv_tokens = profile.decode.max_kv_tokens
        self.time_scale = time_scale
        self._prefill_q: asyncio.Queue[_Request] = asyncio.Queue()
        self._decode_waiting: deque[_Request] = deque()
        self._decode_wake = asyncio.Event()
        self._running: list[_Request] = []
        self._prefill_free_at = 0.0
        self.steps = 0

    def submit(self, *, isl: int, max_tokens: int) -> _Request:
        req = _Request(isl=max(1, isl), max_tokens=max(1, max_tokens), arrival_s=self._now())
        self._prefill_q.put_nowait(req)
        return req

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    async def _sleep_until(self, deadline_s: float) -> None:
        await asyncio.sleep(max(0.0, deadline_s - self._now()))

    async def run(self) -> None:
        """Both loops until cancelled."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._prefill_loop())
            tg.create_task(self._decode_loop())

    async def _prefill_loop(self) -> None:
        while True:
            req = await self._prefill_q.get()
            if req.cancelled:
                continue
            # queueing: a prefill starts when it arrived or when the previous one ended
            start = max(req.arrival_s, self._prefill_free_at)
            done = start + self.perf.prefill.ttft_ms(req.isl).value * self.time_scale / 1e3
            await self._sleep_until(done)
            self._prefill_free_at = done
            if req.cancelled:
                continue
            req.emit()
            if req.generated < req.max_tokens:
                self._decode_waiting.append(req)
                self._decode_wake.set()

    def _admit(self) -> None:
        reserved = sum(r.isl + r.max_tokens for r in self._running)
        while self._decode_waiting:
            nxt = self._decode_waiting[0]
            need = nxt.isl + nxt.max_tokens
            if self._running and reserved + need > self.max_kv_tokens:
                break
            self._running.append(self._decode_waiting.popleft())
            reserved += need

    def step_ms(self, contexts: list[int]) -> float:
        """Latency of one decode step over requests with these contexts (unscaled)."""
        total = sum(contexts)
        return self.perf.decode.itl_ms(
            kv_usage=total / self.max_kv_tokens, context_tokens=total / len(contexts)
        ).value

    async def _decode_loop(self) -> None:
        clock = self._now()
        while True:
            self._running = [r for r in self._running if not r.cancelled]
            self._admit()
            if not self._running:
                self._decode_wake.clear()
                await self._decode_wake.wait()
                clock = self._now()  # idle: the next step starts when work arrives
                continue
            clock += self.step_ms([r.context for r in self._running]) * self.time_scale / 1e3
            await self._sleep_until(clock)
            self.steps += 1
            for r in self._running:
                if not r.cancelled:
                    r.emit()
            self._running = [r for r in self._running if r.generated < r.max_tokens]


# ----------------------------------------------------------------------------- HTTP


def count_prompt_tokens(body: dict[str, Any]) -> int:
    """Whitespace-separated words of the prompt or chat messages (token ids: their count)."""
    if "messages" in body:
        msgs = body["messages"]
        if not isinstance(msgs, list):
            raise web.HTTPBadRequest(text="messages: expected a list")
        return sum(len(str(m.get("content", "")).split()) for m in msgs if isinstance(m, dict))
    prompt = body.get("prompt", "")
    if isinstance(prompt, list):
        if prompt and all(isinstance(t, int) for t in prompt):
            return len(prompt)
        prompt = prompt[0] if prompt else ""
    return len(str(prompt).split())


def _chunk(chat: bool, model: str, rid: str, text: str | None, usage: Any = None) -> bytes:
    if chat:
        delta = {"content": text} if text is not None else {}
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": None}
        obj = "chat.completion.chunk"
    else:
        choice = {"index": 0, "text": text or "", "finish_reason": None}
        obj = "text_completion"
    payload: dict[str, Any] = {"id": rid, "object": obj, "model": model}
    payload["choices"] = [choice] if text is not None else []
    if usage is not None:
        payload["usage"] = usage
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def make_app(engine: EmulatedEngine, *, model: str = "emulated") -> web.Application:
    """aiohttp app: /v1/completions, /v1/chat/completions, /v1/models, /health."""
    counter = iter(range(1, 1 << 62))

    async def generate(request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except json.JSONDecodeError as exc:
            raise web.HTTPBadRequest(text=f"body: expected JSON ({exc})") from exc
        chat = request.path.endswith("/chat/completions")
        isl = count_prompt_tokens(body)
        max_tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or 16)
        rid = f"emu-{next(counter)}"
        req = engine.submit(isl=isl, max_tokens=max_tokens)
        usage = {"prompt_tokens": isl, "completion_tokens": max_tokens}
        usage["total_tokens"] = isl + max_tokens
        try:
            if not body.get("stream"):
                parts = []
                while (tok := await req.out.get()) is not None:
                    parts.append(tok)
                text = "".join(parts)
                ch = {"index": 0, "finish_reason": "length"}
                ch.update(
                    {"message": {"role": "assistant", "content": text}} if chat else {"text": text}
                )
                return web.json_response(
                    {"id": rid, "model": model, "choices": [ch], "usage": usage}
                )
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            while (tok := await req.out.get()) is not None:
                await resp.write(_chunk(chat, model, rid, tok))
            if (body.get("stream_options") or {}).get("include_usage"):
                await resp.write(_chunk(chat, model, rid, None, usage))
            await resp.write(b"data: [DONE]\n\n")
            await resp.write_eof()
            return resp
        finally:
            req.cancelled = req.generated < req.max_tokens

    async def models(_: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": model, "object": "model"}]})

    async def health(_: web.Request) -> web.Response:
        return web.json_response(
            {
                "status": "ok",
                "max_kv_tokens": engine.max_kv_tokens,
                "time_scale": engine.time_scale,
                "decode_steps": engine.steps,
            }
        )

    async def lifecycle(_: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(engine.run())
        yield
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task

    app = web.Application()
    app.router.add_post("/v1/completions", generate)
    app.router.add_post("/v1/chat/completions", generate)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/health", health)
    app.cleanup_ctx.append(lifecycle)
    return app


@asynccontextmanager
async def serve_emulated(
    profile: ProfileData,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    time_scale: float = 1.0,
    model: str = "emulated",
) -> AsyncIterator[str]:
    """Run the emulated engine; yields its base URL (``port=0`` picks a free port)."""
    app = make_app(EmulatedEngine(profile, time_scale=time_scale), model=model)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1]
        yield f"http://{host}:{bound}"
    finally:
        await runner.cleanup()
