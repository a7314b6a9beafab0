"""What the policy remembers between ticks (``PlannerState``): the feedback it learned,
the stabilisation history, burst memory, and when each pool was last grown."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from planner.core.burst_memory import BurstMemory
from planner.core.decode_fit import DecodeFit
from planner.core.demand_band import DemandBand
from planner.core.types import Component, CorrectionFactors

Recommendation = tuple[float, int]  # (time_s, replicas)
#: one window's attainment evidence (planner/core/attainment.py)
Window = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class FeedbackState:
    """What the feedback stage learned from past windows."""

    correction: CorrectionFactors = field(default_factory=CorrectionFactors)
    #: the decode workers' fitted speed factor and KV scale (planner/core/decode_fit.py)
    decode_fit: DecodeFit = field(default_factory=DecodeFit)
    #: measured forecast errors of each phase's demand (planner/core/demand_band.py)
    demand_band: DemandBand = field(default_factory=DemandBand)
    #: multipliers on the prefill (decode) demand from TTFT (ITL) attainment feedback
    prefill_pressure: float = 1.0
    decode_pressure: float = 1.0
    #: recent windows' TTFT and ITL attainment evidence
    ttft_windows: tuple[Window, ...] = ()
    itl_windows: tuple[Window, ...] = ()
    #: the prefill pool had all its replicas ready at the previous tick
    prefill_settled: bool = True


@dataclass(frozen=True)
class PlannerState:
    """The state ``plan()`` returns and takes back on the next tick."""

    feedback: FeedbackState = field(default_factory=FeedbackState)
    #: per component, recent (time, recommendation) pairs for the stabilisation windows
    history: Mapping[Component, tuple[Recommendation, ...]] = field(default_factory=dict)
    #: the targets of the last decision (used when the observation lacks replicas)
    last_targets: Mapping[Component, int] = field(default_factory=dict)
    #: per component, released capacity and re-need gaps (lengthens the down window)
    bursts: Mapping[Component, BurstMemory] = field(default_factory=dict)
    #: per component, when its target was last raised (workers still starting then
    #: become ready about ``startup_s`` later)
    raised_at_s: Mapping[Component, float] = field(default_factory=dict)

    @property
    def correction(self) -> CorrectionFactors:
        return self.feedback.correction

    @property
    def prefill_pressure(self) -> float:
        return self.feedback.prefill_pressure
