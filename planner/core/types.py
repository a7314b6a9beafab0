"""Value types that flow through one tick: observation, forecast, decision.

Observations and forecasts validate themselves on construction (no NaN, no negative
counts or lengths, a histogram that is one): they are the library API's inputs, and a
bad number should fail where it enters with ``InputError`` naming the field, not as an
exception or a NaN target several stages later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from planner.core import validation as check
from planner.errors import InputError


class Component(StrEnum):
    """A scalable part of the inference graph."""

    PREFILL = "prefill"
    DECODE = "decode"
    #: aggregated mode: one worker type serves prefill and decode
    AGG = "agg"


class Reason(StrEnum):
    """Machine-readable reason attached to each component's target (the ``reason`` label
    of ``sla_planner_decisions_total``; docs/service.md lists them)."""

    SCALE_UP = "scale_up"
    SCALE_DOWN = "scale_down"
    STEADY = "steady"
    #: a scale-down held by the stabilisation window (a higher recent recommendation)
    SCALE_DOWN_WINDOW = "scale_down_window"
    #: the same, with the window lengthened by burst memory (capacity re-needed before)
    SCALE_DOWN_BURST_WINDOW = "scale_down_burst_window"
    #: a scale-down held by hysteresis (the planned load x (1 + tolerance) needs more)
    SCALE_DOWN_HYSTERESIS = "scale_down_hysteresis"
    #: a prefill scale-down held because this window missed the TTFT objective
    #: a scale-up held by the scale-up stabilisation window
    SCALE_UP_WINDOW = "scale_up_window"
    STEP_LIMITED = "step_limited"
    MIN_REPLICAS = "min_replicas"
    MAX_REPLICAS = "max_replicas"
    BUDGET_CLAMPED = "budget_clamped"
    BUDGET_INFEASIBLE = "budget_infeasible"
    #: cut to the GPUs the cluster can place (nodes, NodePool limits, quota), which are
    #: fewer than ``budget.max_gpus``: growing further would only make Pending pods
    CAPACITY_UNAVAILABLE = "capacity_unavailable"
    #: cut by the shared GPU pool's arbitration (several graphs; planner/core/arbitration.py)
    POOL_CLAMPED = "pool_clamped"
    #: cut because a higher-priority graph holds the pool's GPUs above its floor (the
    #: decision's message and the tick log name it: ``preempted_by=<graph>``)
    PREEMPTED = "preempted"
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
    #: GPUs each worker really holds, per component, as the connector read them from the
    #: cluster (empty when it cannot say); the budget counts these first
    gpus_per_worker: Mapping[Component, int] = field(default_factory=dict)
    #: the window's ITL histogram (cumulative, like ``ttft_buckets``; Prometheus counts
    #: every token gap), and its input- and output-length histograms (tokens): None when
    #: not exported
    itl_buckets: tuple[tuple[float, float], ...] | None = None
    isl_buckets: tuple[tuple[float, float], ...] | None = None
    osl_buckets: tuple[tuple[float, float], ...] | None = None
    #: decode pool gauges at the window's end, summed over its workers: prefilled
    #: requests waiting for decode admission, and sequences running (None: not exported)
    decode_waiting: float | None = None
    decode_running: float | None = None
    #: the most GPUs the cluster can hold for this graph in all, its own workers
    #: included (planner/core/capacity.py); None: not read, the budget is the setting's
    cluster_gpus: int | None = None

    def __post_init__(self) -> None:
        name = "Observation"
        check.positive(name, "window_s", self.window_s)
        check.finite(name, "requests", self.requests)
        for f in ("isl_tokens", "osl_tokens", "ttft_s", "itl_s", "request_duration_s"):
            check.optional(name, f, getattr(self, f))
        check.optional(name, "queued_prefill_tokens", self.queued_prefill_tokens)
        check.optional(name, "kv_usage", self.kv_usage)
        check.counts(name, "current_replicas", self.current_replicas)
        check.counts(name, "ready_replicas", self.ready_replicas)
        check.counts(name, "gpus_per_worker", self.gpus_per_worker, low=1)
        for hist in ("ttft_buckets", "itl_buckets", "isl_buckets", "osl_buckets"):
            if getattr(self, hist) is not None:
                check.histogram(name, hist, getattr(self, hist))
        check.optional(name, "decode_waiting", self.decode_waiting)
        check.optional(name, "decode_running", self.decode_running)
        check.optional(name, "cluster_gpus", self.cluster_gpus)
        if self.missing_reason is not None and self.requests != 0:
            raise InputError(name, "requests", self.requests, "0 on a missing window")

    @classmethod
    def missing(
        cls,
        *,
        window_s: float,
        reason: str,
        current_replicas: Mapping[Component, int] | None = None,
        ready_replicas: Mapping[Component, int] | None = None,
        gpus_per_worker: Mapping[Component, int] | None = None,
        cluster_gpus: int | None = None,
    ) -> Observation:
        """A window whose query failed: no numbers, only why."""
        return cls(
            window_s=window_s,
            requests=0.0,
            current_replicas=dict(current_replicas or {}),
            ready_replicas=dict(ready_replicas or {}),
            missing_reason=reason,
            gpus_per_worker=dict(gpus_per_worker or {}),
            cluster_gpus=cluster_gpus,
        )

    @property
    def is_missing(self) -> bool:
        return self.missing_reason is not None

    @property
    def is_idle(self) -> bool:
        return not self.is_missing and self.requests <= 0.0

    @property
    def request_rate_rps(self) -> float:
        return self.requests / self.window_s

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
    """A forecast value: a point estimate and an upper quantile (upper >= point >= 0).

    An upper value below the point is an error, not silently lifted: a forecaster that
    produces one has a calibration bug that its contract tests must see.
    """

    point: float
    upper: float

    def __post_init__(self) -> None:
        check.finite("Quantity", "point", self.point)
        check.finite("Quantity", "upper", self.upper)
        if self.upper < self.point:
            raise InputError("Quantity", "upper", self.upper, f">= point ({self.point!r})")

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

    def __post_init__(self) -> None:
        check.finite("Forecast", "horizon_s", self.horizon_s)
        check.fraction("Forecast", "quantile", self.quantile)


@dataclass(frozen=True, slots=True)
class CorrectionFactors:
    """Observed / expected latency ratios (1.0 = the profile is right)."""

    prefill: float = 1.0
    decode: float = 1.0

    def __post_init__(self) -> None:
        check.positive("CorrectionFactors", "prefill", self.prefill)
        check.positive("CorrectionFactors", "decode", self.decode)


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
    #: the budget this tick planned in: the least of budget.max_gpus and the cluster's
    #: capacity (None: unlimited)
    budget_gpus: int | None
    #: short free-text summary of the whole decision
    message: str = ""
    #: sla: the TTFT attainment feedback's multiplier on the prefill demand (>= 1)
    prefill_pressure: float = 1.0
    #: things the operator should know that did not change the targets (e.g. the
    #: cluster's GPUs per worker disagree with the profile's); the service logs them
    warnings: tuple[str, ...] = ()

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
