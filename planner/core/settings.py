"""The decision core's own settings: limits, budget, stabilisation, correction, and the
``sla`` strategy's knobs. ``PolicySettings`` is the part of the settings tree that
``plan()`` reads; the service's full tree (planner/settings/) extends it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Section(BaseModel):
    """A settings section: unknown keys are errors, values are frozen after load."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ComponentSettings(Section):
    """Scaling limits for one worker type."""

    #: GPUs one worker holds. None: take it from the cluster (the connector's reading),
    #: else the profile, else 1. A set value that disagrees with either is a warning.
    gpus_per_worker: int | None = Field(None, ge=1, le=64)
    min_replicas: int = Field(1, ge=0)
    max_replicas: int = Field(64, ge=1)

    @model_validator(mode="after")
    def _min_le_max(self) -> ComponentSettings:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas={self.min_replicas} must be <= max_replicas={self.max_replicas}"
            )
        return self


class BudgetSettings(Section):
    #: total GPUs the planner may hold; None means unlimited
    max_gpus: int | None = Field(None, ge=1)


class StabilizationSettings(Section):
    """Anti-flapping, after Kubernetes' HPA behaviour settings."""

    #: scale down only to the highest target recommended within this window
    scale_down_window_s: float = Field(300.0, ge=0)
    #: scale up only to the lowest target recommended within this window (0 = at once)
    scale_up_window_s: float = Field(0.0, ge=0)
    #: most replicas added / removed per component per tick (None = no limit)
    max_scale_up_step: int | None = Field(None, ge=1)
    max_scale_down_step: int | None = Field(None, ge=1)
    #: most replicas removed per tick as a share of the current ones (at least one);
    #: with max_scale_down_step too, the larger of the two removals is allowed (HPA's
    #: selectPolicy Max). None = no limit. 0.2 because a release can meet a surge half
    #: way: on ServeGen (seed 0, workers 1.2x slow) the prefill pool went 25 -> 23 ->
    #: 15 -> 12 in the minutes around the evening's surge (2,761 requests in a minute
    #: after ~1,000), which then missed 1,344 requests in three minutes
    #: (docs/simulation.md has the before and after)
    max_scale_down_fraction: float | None = Field(0.2, gt=0, le=1)


class CorrectionSettings(Section):
    """How observed/expected latency ratios are smoothed and bounded."""

    enabled: bool = True
    #: weight of the newest sample in the exponential moving average
    smoothing: float = Field(0.3, gt=0, le=1)
    #: windows with fewer requests than this do not update the factors
    min_requests: int = Field(20, ge=1)
    min_factor: float = Field(0.5, gt=0)
    max_factor: float = Field(3.0, gt=0)

    @model_validator(mode="after")
    def _bounds_ordered(self) -> CorrectionSettings:
        if self.min_factor > self.max_factor:
            raise ValueError(
                f"min_factor={self.min_factor} must be <= max_factor={self.max_factor}"
            )
        return self


class SlaPolicySettings(Section):
    """Knobs of the default ``sla`` policy."""

    #: plan with the forecast's upper quantile (True) or its point value
    use_upper_quantile: bool = True
    #: cap on prefill utilisation on top of the queueing-derived cap
    max_prefill_utilization: float = Field(0.95, gt=0, le=1)
    #: cap on decode KV load, fraction of the profile's best point under the ITL target
    max_decode_utilization: float = Field(1.0, gt=0, le=1)
    #: seconds in which a queued prefill backlog should be drained
    backlog_drain_s: float | None = Field(None, gt=0)
    #: add the backlog the ready fleet will pile up during start-up to the demand
    project_backlog: bool = True
    #: plan decode for ITL target x this (margin for a noisy decode correction factor)
    itl_headroom: float = Field(0.9, gt=0, le=1)
    #: hysteresis: scale down only to the replicas that would still serve the planned
    #: load x (1 + this), so a load hovering at a replica boundary does not flap
    scale_down_tolerance: float = Field(0.2, ge=0, le=2)
    #: decode KV bound: the requests resident in a batch are length-biased (each stays
    #: for its OSL), so their mean final context is ISL + this x mean OSL
    #: (E[OSL^2] / E[OSL] = (1 + CV^2) x mean: 2 for exponential output lengths)
    resident_osl_factor: float = Field(2.0, ge=1, le=10)
    #: burst memory: lengthen the scale-down window up to this (s) when capacity released
    #: earlier had to be asked back (see planner/core/burst_memory.py); <= the base window
    #: (stabilization.scale_down_window_s) turns it off. An hour, because ServeGen's
    #: evening surges come back 25-60 min after a release (a 900 s cap ignored them)
    max_scale_down_window_s: float = Field(3600.0, ge=0)
    #: attainment feedback (planner/core/attainment.py): after a window in which fewer
    #: than ``objective`` of the requests met the TTFT (ITL) target, read off its
    #: histogram, and fewer over ``attainment_window_s`` too, the prefill (decode) demand
    #: is multiplied by ``pressure_step`` more (up to ``max_pressure``); each window that
    #: met the objective keeps ``pressure_decay`` of the excess (toward 1). Only windows
    #: the model's own pool served throughout, and only misses more of that pool could
    #: fix, count (see planner/core/attainment.py)
    ttft_feedback: bool = True
    itl_feedback: bool = True
    #: spend the error budget: while the rolling attainment leaves more than half of it
    #: unspent, the pressure drifts below 1, down to planning at the point forecast
    spend_budget: bool = False
    pressure_step: float = Field(1.5, gt=1.0, le=4.0)
    pressure_decay: float = Field(0.98, gt=0.0, lt=1.0)
    max_pressure: float = Field(10.0, ge=1.0, le=50.0)
    #: the pressure rises only while the attainment over this many seconds is short too
    #: (the error budget is being spent), not on one bad window in a good hour
    attainment_window_s: float = Field(3600.0, gt=0)
    #: how long a re-need keeps the window long (s): a day, so the re-needs of one busy
    #: period still count at the next (with an hour, ServeGen one day 95.6% vs 98.0%)
    burst_lookback_s: float = Field(86400.0, gt=0)


class EngineSettings(Section):
    """Limits of the serving engine that bound what one worker can run (vLLM's names).
    Unset: the profile's metadata when it has them, else no limit."""

    #: most sequences a worker runs at once (vLLM ``max_num_seqs``); bounds decode
    #: concurrency per worker
    max_num_seqs: int | None = Field(None, ge=1)
    #: most tokens a worker schedules in one step (vLLM ``max_num_batched_tokens``);
    #: bounds a prefill step
    max_num_batched_tokens: int | None = Field(None, ge=1)


class PolicySettings(BaseModel):
    """What the pure decision path reads (``plan()``'s settings)."""

    mode: Literal["disagg", "agg"] = "disagg"
    policy: Literal["sla", "dynamo"] = "sla"
    interval_s: float = Field(60.0, gt=0, le=3600)
    #: the SLO: this share of requests meets both the TTFT and the ITL target. It sets
    #: the prefill queue's tail, the attainment feedback's objective and the report's bar
    objective: float = Field(0.99, gt=0.5, lt=1.0)
    ttft_ms: float = Field(500.0, gt=0)
    itl_ms: float = Field(50.0, gt=0)
    #: time from asking for a worker until it serves traffic
    startup_s: float = Field(180.0, ge=0)
    prefill: ComponentSettings = ComponentSettings()
    decode: ComponentSettings = ComponentSettings()
    agg: ComponentSettings = ComponentSettings()
    budget: BudgetSettings = BudgetSettings()
    stabilization: StabilizationSettings = StabilizationSettings()
    correction: CorrectionSettings = CorrectionSettings()
    sla: SlaPolicySettings = SlaPolicySettings()
    engine: EngineSettings = EngineSettings()

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="after")
    def _minimums_fit_budget(self) -> PolicySettings:
        if self.budget.max_gpus is None:
            return self
        parts = (self.agg,) if self.mode == "agg" else (self.prefill, self.decode)
        # GPUs per worker not set here are checked again once the profile is read
        need = sum(p.min_replicas * (p.gpus_per_worker or 1) for p in parts)
        if need > self.budget.max_gpus:
            raise ValueError(
                f"the minimum replicas need {need} GPUs but budget.max_gpus="
                f"{self.budget.max_gpus}; raise the budget or lower min_replicas"
            )
        return self
