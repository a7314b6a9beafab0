"""The seam between the pipeline and a policy: a sizing ``Strategy`` learns from the
window (the feedback stage) and says how many workers the forecast needs (the size
stage). Stages never ask which strategy they run; they read what it returned."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from planner.core.settings import PolicySettings
from planner.core.state import FeedbackState
from planner.core.tick import Tick
from planner.core.types import Component, Reason


@dataclass(frozen=True, slots=True)
class Learned:
    """The feedback stage's output."""

    state: FeedbackState
    #: what was learned or why not, for the decision message
    note: str = ""


@dataclass(frozen=True, slots=True)
class Ask:
    """What the sizing asks for one component."""

    #: replicas needed; None = cannot size now (the hold stage keeps the current ones)
    replicas: int | None
    #: replicas for the planned load x (1 + scale_down_tolerance): a scale-down goes no
    #: lower (hysteresis); None = no floor
    floor: int | None = None
    reasons: tuple[Reason, ...] = ()
    note: str = ""


class Strategy(Protocol):
    """A policy's sizing and feedback. Implementations: planner/core/sla.py (default)
    and planner/core/dynamo.py; register new ones in planner/core/strategies.py."""

    #: the name ``settings.policy`` selects it by
    name: str
    #: True: the stabilise stage applies windows, hysteresis, holds and step limits
    stabilises: bool

    def horizon_s(self, settings: PolicySettings) -> float:
        """How far ahead the forecast this strategy sizes for should look (s)."""
        ...

    def learn(self, tick: Tick) -> Learned:
        """Update what is learned from the window (correction factors, attainment)."""
        ...

    def size(self, tick: Tick, learned: Learned) -> Mapping[Component, Ask]:
        """Replicas the forecast needs per component, given what was learned."""
        ...
