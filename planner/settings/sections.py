"""Settings sections of the service (``service``) and the emulated graph (``emulator``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from planner.core.settings import Section


class ServiceSettings(Section):
    """The long-running service (``sla-planner run``)."""

    host: str = "127.0.0.1"
    port: int = Field(9085, ge=0, le=65535)
    #: compute and publish decisions without writing replicas
    advisory: bool = False
    #: decisions kept for /status
    keep_decisions: int = Field(50, ge=1, le=10000)
    #: most seconds (planner time) between ticks after repeated failures
    max_backoff_s: float = Field(600.0, gt=0)
    #: planner seconds per wall second (>1 replays time faster; 1 = real time)
    time_compression: float = Field(1.0, gt=0, le=10000)
    #: stop after this many ticks (None = run until signalled)
    max_ticks: int | None = Field(None, ge=1)
    #: log format of the one line per tick
    log_format: Literal["kv", "json"] = "kv"


class EmulatorSettings(Section):
    """The emulated prefill/decode graph (``sla-planner emulate`` and ``run``'s default)."""

    #: request trace (Azure CSV or Mooncake JSONL); None = the bundled Azure conversation trace
    trace: Path | None = None
    #: multiply the trace's request rate (copies shifted in time, see RequestTrace.scaled)
    rate_scale: float = Field(1.0, gt=0, le=1000)
    #: replay only this many seconds of the trace (None = all of it)
    duration_s: float | None = Field(None, gt=0)
    #: worker start-up delay (trace seconds); None = the planner's ``startup_s``
    startup_s: float | None = Field(None, ge=0)
    #: replicas running when the emulation starts
    initial_prefill: int = Field(1, ge=0)
    initial_decode: int = Field(1, ge=0)
    initial_agg: int = Field(1, ge=0)
    #: whose metric names /metrics serves: Dynamo's frontend or vLLM's server (None = the
    #: ``metrics.preset``, so the planner reads what it expects)
    metrics_flavor: Literal["dynamo", "vllm"] | None = None
    #: the model label on the served series
    model: str = "emulated"
    #: address of the emulator's own /metrics (``sla-planner emulate``)
    host: str = "127.0.0.1"
    port: int = Field(9087, ge=0, le=65535)
    seed: int = 0
