"""Value types that flow through one tick: observation, forecast, decision."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Component(StrEnum):
    """A scalable part of the inference graph."""

    PREFILL = "prefill"
    DECODE = "decode"
    #: aggregated mode: one worker type serves prefill and decode
    AGG = "agg"


class Reason(StrEnum):
    """Machine-readable reason attached to each component's target."""

    SCALE_UP = "scale_up"
    SCALE_DOWN = "scale_down"
    STEADY = "steady"
    SCALE_DOWN_STABILIZED = "scale_down_stabilized"
    STEP_LIMITED = "step_limited"
    MIN_REPLICAS = "min_replicas"
    MAX_REPLICAS = "max_replicas"
    BUDGET_CLAMPED = "budget_clamped"
    BUDGET_INFEASIBLE = "budget_infeasible"
    HELD_NO_DATA = "held_no_data"
    IDLE = "idle"
    TARGET_INFEASIBLE = "target_infeasible"
    OUT_OF_PROFILE_RANGE = "out_of_profile_range"


@dataclass(frozen=True, slots=True)
class Observation:
    """One interval's aggregates as read from the metrics source.

    Missing and idle are different: an idle window has zero requests and undefined
    latency means (None); a missing window (``missing_reason`` set) is a failed query
    and carries no numbers at all.
    """

    window_s: float
    requests: float
    isl_tokens: float | None = None
    osl_tokens: float | None = None
    ttft_s: float | None = None
    itl_s: float | None = None
    request_duration_s: float | None = None
    #: replicas the graph is asked to run (spec), per component
    current_replicas: Mapping[Component, int] = field(default_factory=dict)
    #: replicas that were ready during the window, per component
    ready_replicas: Mapping[Component, int] = field(default_factory=dict)
    queued_prefill_tokens: float | None = None
    kv_usage: float | None = None
    #: the window's TTFT histogram: cumulative (upper bound s, requests with TTFT <= it),
    #: ascending, the last bound +inf (its count is the total); None when not exported
    ttft_buckets: tuple[tuple[float, float], ...] | None = None
    missing_reason: str | None = None

    @classmethod
    def missing(
        cls,
        *,
        window_s: float,
        reason: str,
        current_replicas: Mapping[Component, int] | None = None,
        ready_replicas: Mapping[Component, int] | None = None,
    ) -> Observation:
        """A window whose query failed: no numbers, only why."""
        return cls(
            window_s=window_s,
            requests=0.0,
            current_replicas=dict(current_replicas or {}),
            ready_replicas=dict(ready_replicas or {}),
            missing_reason=reason,
        )

    @property
    def is_missing(self) -> bool:
        return self.missing_reason is not None

    @property
    def is_idle(self) -> bool:
        return not self.is_missing and self.requests <= 0.0

    @property
    def request_rate_rps(self) -> float:
        return self.requests / self.window_s if self.window_s > 0 else 0.0

    def load_point(self, *, time_s: float) -> LoadPoint:
        """The forecaster's view of this window."""
        if self.is_missing:
            return LoadPoint(time_s=time_s, request_rate_rps=None)
        if self.is_idle:
            return LoadPoint(time_s=time_s, request_rate_rps=0.0)
        return LoadPoint(
            time_s=time_s,
            request_rate_rps=self.request_rate_rps,
            isl_tokens=self.isl_tokens,
            osl_tokens=self.osl_tokens,
        )


@dataclass(frozen=True, slots=True)
class LoadPoint:
    """One interval of load as a forecaster sees it.

    ``request_rate_rps`` None means the window is missing; 0 means idle (then ISL and
    OSL are None because a mean over no requests is undefined).
    """

    time_s: float
    request_rate_rps: float | None
    isl_tokens: float | None = None
    osl_tokens: float | None = None


@dataclass(frozen=True, slots=True)
class Quantity:
    """A forecast value: a point estimate and an upper quantile (upper >= point >= 0)."""

    point: float
    upper: float

    def __post_init__(self) -> None:
        for name in ("point", "upper"):
            v = getattr(self, name)
            if not math.isfinite(v) or v < 0:
                raise ValueError(f"Quantity.{name} must be finite and >= 0, got {v!r}")
        if self.upper < self.point:
            object.__setattr__(self, "upper", self.point)

    @classmethod
    def exact(cls, value: float) -> Quantity:
        return cls(point=value, upper=value)


@dataclass(frozen=True, slots=True)
class Forecast:
    """Next-interval load for a stated horizon."""

    horizon_s: float
    request_rate_rps: Quantity
    isl_tokens: Quantity
    osl_tokens: Quantity
    quantile: float = 0.9
    predictor: str = "constant"
    #: e.g. "arima refit overran its budget; using last good model"
    note: str = ""


@dataclass(frozen=True, slots=True)
class CorrectionFactors:
    """Observed / expected latency ratios (1.0 = the profile is right)."""

    prefill: float = 1.0
    decode: float = 1.0


@dataclass(frozen=True, slots=True)
class ComponentDecision:
    """The target for one component and why."""

    component: Component
    current: int
    #: what the perf model asked for before stabilisation, limits and budget
    desired: int
    target: int
    gpus_per_worker: int
    reasons: tuple[Reason, ...]
    message: str

    @property
    def primary_reason(self) -> Reason:
        return self.reasons[0]


@dataclass(frozen=True, slots=True)
class Decision:
    """One tick's outcome: a target per component, each with a reason."""

    time_s: float
    policy: str
    components: Mapping[Component, ComponentDecision]
    correction: CorrectionFactors
    forecast: Forecast | None
    budget_gpus: int | None
    #: short free-text summary of the whole decision
    message: str = ""
    #: sla: the TTFT attainment feedback's multiplier on the prefill demand (>= 1)
    prefill_pressure: float = 1.0

    @property
    def targets(self) -> dict[Component, int]:
        return {c: d.target for c, d in self.components.items()}

    @property
    def total_gpus(self) -> int:
        return sum(d.target * d.gpus_per_worker for d in self.components.values())

    @property
    def changed(self) -> bool:
        return any(d.target != d.current for d in self.components.values())

    def reasons(self) -> dict[str, list[str]]:
        return {c.value: [r.value for r in d.reasons] for c, d in self.components.items()}
