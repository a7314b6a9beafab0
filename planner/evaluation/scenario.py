"""One evaluation scenario: a seeded recipe for its requests, its SLO, the profile (and
row) the planner reads, the simulated workers' speed, and settings on top."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from planner.errors import ConfigError
from planner.workload.trace import RequestTrace

SetName = Literal["tuning", "validation"]
SETS: tuple[SetName, ...] = ("tuning", "validation")
#: the profiles scenarios name: the shipped H200 / Llama-3.1-8B-FP8, and the three-row
#: Llama2-70B / H100 profile converted from Splitwise (choose a row)
PROFILES = ("h200-llama3.1-8b", "h100-llama2-70b")


@dataclass(frozen=True)
class Scenario:
    name: str
    set: SetName
    #: how the requests are made, in one sentence for the doc
    recipe: str
    seed: int
    ttft_ms: float
    itl_ms: float
    build: Callable[[Path], RequestTrace] = field(repr=False, compare=False)
    profile: str = PROFILES[0]
    profile_row: str | None = None
    #: the simulated workers' latency / the profile's (throughput / it)
    slowdown: float = 1.0
    #: settings on top of the targets, interval 60 s and start-up 180 s
    settings: Mapping[str, Any] = field(default_factory=dict)
    #: a day-long diurnal load: its GPU-hour goal asks for 30% of static99's excess
    #: over the oracle back
    diurnal: bool = False
    #: the equivalent ``sla-planner simulate`` arguments, when a public trace file is
    #: all it needs
    simulate_args: str | None = None

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ConfigError("scenario.profile", self.profile, f"one of {PROFILES}")
