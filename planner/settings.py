"""The one typed settings tree: YAML file < PLANNER_ env vars < CLI flags, validated once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from planner.errors import ConfigError
from planner.profile import DEFAULT_PROFILE_DIR


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ComponentSettings(_Section):
    """Scaling limits for one worker type."""

    gpus_per_worker: int = Field(1, ge=1, le=64)
    min_replicas: int = Field(1, ge=0)
    max_replicas: int = Field(64, ge=1)

    @model_validator(mode="after")
    def _min_le_max(self) -> ComponentSettings:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas={self.min_replicas} must be <= max_replicas={self.max_replicas}"
            )
        return self


class BudgetSettings(_Section):
    #: total GPUs the planner may hold; None means unlimited
    max_gpus: int | None = Field(None, ge=1)


class StabilizationSettings(_Section):
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


class CorrectionSettings(_Section):
    """How observed/expected latency ratios are smoothed and bounded."""

    enabled: bool = True
    #: weight of the newest sample in the exponential moving average
    smoothing: float = Field(0.3, gt=0, le=1)
    #: windows with fewer requests than this do not update the factors
    min_requests: int = Field(20, ge=1)
    min_factor: float = Field(0.5, gt=0)
    max_factor: float = Field(3.0, gt=0)


class PredictorSettings(_Section):
    #: a registered forecaster: constant, seasonal, kalman, arima, prophet or auto
    name: str = "constant"
    #: nominal level of the upper quantile the forecasters report
    quantile: float = Field(0.9, gt=0.5, lt=1.0)
    #: trace file to seed the forecaster from at start-up (see docs/forecasting.md)
    warm_start_trace: Path | None = None
    #: wall-clock budget of one background refit before it is abandoned
    refit_budget_s: float = Field(30.0, gt=0)

    @field_validator("name")
    @classmethod
    def _registered(cls, value: str) -> str:
        from planner.forecast.registry import available_forecasters

        if value not in available_forecasters():
            raise ValueError(f"one of {', '.join(available_forecasters())}")
        return value

    @field_validator("warm_start_trace")
    @classmethod
    def _exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.exists():
            raise ValueError("an existing trace file")
        return value


class SlaPolicySettings(_Section):
    """Knobs of the default ``sla`` policy."""

    #: plan with the forecast's upper quantile (True) or its point value
    use_upper_quantile: bool = True
    #: cap on prefill utilisation on top of the queueing-derived cap
    max_prefill_utilization: float = Field(0.95, gt=0, le=1)
    #: cap on decode KV load, fraction of the profile's best point under the ITL target
    max_decode_utilization: float = Field(0.85, gt=0, le=1)
    #: seconds in which a queued prefill backlog should be drained
    backlog_drain_s: float | None = Field(None, gt=0)
    #: size prefill so this share of requests meets the TTFT target (M/D/c tail);
    #: None sizes for the mean TTFT instead (M/D/1 utilisation cap)
    ttft_quantile: float | None = Field(0.99, gt=0.5, lt=1.0)
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
    #: earlier had to be asked back (see planner/burst_memory.py); <= the base window
    #: (stabilization.scale_down_window_s) turns it off. An hour, because ServeGen's
    #: evening surges come back 25-60 min after a release (a 900 s cap ignored them)
    max_scale_down_window_s: float = Field(3600.0, ge=0)
    #: TTFT attainment feedback (planner/attainment.py): after a window in which fewer
    #: than ``attainment_target`` of the requests met the TTFT target (read off the TTFT
    #: histogram), and fewer over ``attainment_window_s`` too, the prefill demand is
    #: multiplied by ``pressure_step`` more (up to ``max_pressure``); each window at or
    #: above the target keeps ``pressure_decay`` of the excess pressure (toward 1).
    #: Only windows the model's own fleet served throughout count (see
    #: planner/attainment.py), so a high cap does not chase forecast misses; on ServeGen
    #: the pressure reached 3 in 45 of 1,439 ticks at 1.25 / 3 (98.44%, 81.87 GPU-h);
    #: 1.5 / 10 gave 99.02% at 108.9 GPU-h
    ttft_feedback: bool = True
    attainment_target: float = Field(0.99, gt=0.5, lt=1.0)
    pressure_step: float = Field(1.5, gt=1.0, le=4.0)
    pressure_decay: float = Field(0.98, gt=0.0, lt=1.0)
    max_pressure: float = Field(10.0, ge=1.0, le=50.0)
    #: the pressure rises only while the attainment over this many seconds is short too
    #: (the error budget is being spent), not on one bad window in a good hour
    attainment_window_s: float = Field(3600.0, gt=0)
    #: how long a re-need keeps the window long (s): a day, so the re-needs of one busy
    #: period still count at the next (with an hour, ServeGen one day 95.6% vs 98.0%)
    burst_lookback_s: float = Field(86400.0, gt=0)


#: metric names per preset: field -> metric (histograms without the _sum/_count suffix)
METRIC_PRESETS: dict[str, dict[str, str]] = {
    "dynamo": {
        "ttft": "dynamo_frontend_time_to_first_token_seconds",
        "itl": "dynamo_frontend_inter_token_latency_seconds",
        "request_duration": "dynamo_frontend_request_duration_seconds",
        "isl": "dynamo_frontend_input_sequence_tokens",
        "osl": "dynamo_frontend_output_sequence_tokens",
        "requests": "dynamo_frontend_requests_total",
        "model_label": "model",
        "namespace_label": "dynamo_namespace",
    },
    "vllm": {
        "ttft": "vllm:time_to_first_token_seconds",
        "itl": "vllm:time_per_output_token_seconds",
        "request_duration": "vllm:e2e_request_latency_seconds",
        "isl": "vllm:request_prompt_tokens",
        "osl": "vllm:request_generation_tokens",
        "requests": "vllm:request_success_total",
        "model_label": "model_name",
        "namespace_label": "",
    },
}


class MetricsSettings(_Section):
    """Where observations come from and which series they are built from.

    ``source``: ``emulated`` reads the in-process emulated graph (the embedded default),
    ``prometheus`` queries ``url``. Metric names default to the ``preset``; any name set
    here overrides the preset's.
    """

    source: Literal["emulated", "prometheus"] = "emulated"
    url: str = "http://127.0.0.1:9090"
    preset: Literal["dynamo", "vllm"] = "dynamo"
    ttft: str | None = None
    itl: str | None = None
    request_duration: str | None = None
    isl: str | None = None
    osl: str | None = None
    requests: str | None = None
    model_label: str | None = None
    namespace_label: str | None = None
    #: model name matched case-insensitively (None = all models)
    model: str | None = None
    #: Dynamo namespace matched exactly (None = all)
    namespace: str | None = None
    #: extra label matchers appended verbatim, e.g. 'job="frontend"'
    extra_filters: str = ""
    #: PromQL range window (s); None = the adjustment interval
    window_s: float | None = Field(None, gt=0)
    timeout_s: float = Field(5.0, gt=0)
    retries: int = Field(2, ge=0, le=10)
    backoff_s: float = Field(0.5, ge=0)
    bearer_token_file: Path | None = None
    ca_file: Path | None = None
    verify_tls: bool = True
    #: seconds of history read at start-up to warm the forecaster (0 = none; Prometheus
    #: source without time compression only)
    warm_start_s: float = Field(0.0, ge=0)

    def name(self, key: str) -> str:
        """The configured metric or label name for ``key`` (preset unless overridden)."""
        value = getattr(self, key)
        return str(value) if value is not None else METRIC_PRESETS[self.preset][key]


class ServiceSettings(_Section):
    """The long-running service (``sla-planner run``)."""

    host: str = "127.0.0.1"
    port: int = Field(9085, ge=0, le=65535)
    #: compute and publish decisions without writing replicas
    advisory: bool = False
    #: decisions kept for /status
    keep_decisions: int = Field(50, ge=1, le=10000)
    #: most seconds (planner time) between ticks after repeated failures
    max_backoff_s: float = Field(600.0, gt=0)
    #: connector read/apply attempts per tick and the pause between them (wall s)
    connector_attempts: int = Field(3, ge=1, le=10)
    connector_backoff_s: float = Field(0.2, ge=0)
    #: planner seconds per wall second (>1 replays time faster; 1 = real time)
    time_compression: float = Field(1.0, gt=0, le=10000)
    #: stop after this many ticks (None = run until signalled)
    max_ticks: int | None = Field(None, ge=1)
    #: log format of the one line per tick
    log_format: Literal["kv", "json"] = "kv"


class EmulatorSettings(_Section):
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
    #: address of the emulator's own /metrics (``sla-planner emulate``)
    host: str = "127.0.0.1"
    port: int = Field(9087, ge=0, le=65535)
    seed: int = 0


class VirtualConnectorSettings(_Section):
    """The local target protocol (docs/virtual-connector.md)."""

    transport: Literal["file", "http"] = "file"
    #: file transport: folder holding target.json (planner writes) and ack.json (env writes)
    directory: Path = Path("virtual-target")
    #: http transport: the planner serves GET /v1/target and POST /v1/ack here
    host: str = "127.0.0.1"
    port: int = Field(9086, ge=0, le=65535)
    #: workers asked for but not ready (or not acknowledged) this long count as not coming
    not_coming_after_s: float = Field(600.0, gt=0)


class RetrySettings(_Section):
    """Bounded retries with exponential backoff and full jitter for transient failures."""

    attempts: int = Field(4, ge=1, le=20)
    backoff_base_s: float = Field(0.2, gt=0)
    backoff_max_s: float = Field(5.0, gt=0)


class LeaderElectionSettings(_Section):
    """A coordination.k8s.io/v1 Lease so that of several replicas exactly one writes."""

    enabled: bool = True
    lease_name: str = "sla-planner"
    #: a holder that has not renewed for this long has lost the lease
    lease_duration_s: float = Field(15.0, gt=0)
    renew_every_s: float = Field(5.0, gt=0)
    #: defaults to $POD_NAME, then the host name
    identity: str | None = None

    @model_validator(mode="after")
    def _renew_inside_lease(self) -> LeaderElectionSettings:
        if self.renew_every_s >= self.lease_duration_s:
            raise ValueError(
                f"renew_every_s={self.renew_every_s} must be < "
                f"lease_duration_s={self.lease_duration_s}"
            )
        return self


class KubernetesConnectorSettings(_Section):
    """Which objects the Kubernetes connector scales and how it talks to the API server."""

    #: dgd: a DynamoGraphDeployment (through its scaling adapters when present);
    #: deployment / statefulset: plain apps/v1 workloads through /scale
    target: Literal["dgd", "deployment", "statefulset"] = "dgd"
    #: None: the pod's own namespace in-cluster, else the kubeconfig context's, else default
    namespace: str | None = None
    #: the DynamoGraphDeployment's name (target dgd)
    graph_name: str | None = None
    #: component -> DGD service name or workload name; for dgd, unnamed components are
    #: found by the service's subComponentType
    services: dict[Literal["prefill", "decode", "agg"], str] = Field(default_factory=dict)
    #: dgd: auto = use the adapters when they exist, else patch the graph
    scaling_adapters: Literal["auto", "always", "never"] = "auto"
    #: None: in-cluster config when running in a pod, else $KUBECONFIG / ~/.kube/config
    kubeconfig: Path | None = None
    context: str | None = None
    request_timeout_s: float = Field(10.0, gt=0)
    retry: RetrySettings = RetrySettings()
    #: pods Pending (or never created) this long after a change count as not coming
    not_coming_after_s: float = Field(600.0, gt=0)
    leader_election: LeaderElectionSettings = LeaderElectionSettings()

    @model_validator(mode="after")
    def _names_present(self) -> KubernetesConnectorSettings:
        if self.target == "dgd" and not self.graph_name:
            raise ValueError("graph_name is required when target is dgd")
        if self.target != "dgd" and not self.services:
            raise ValueError(
                f"services (component -> {self.target} name) is required when target is "
                f"{self.target}"
            )
        return self


class ConnectorSettings(_Section):
    """Where the replica targets go: a local virtual target or a Kubernetes cluster."""

    kind: Literal["virtual", "kubernetes"] = "virtual"
    virtual: VirtualConnectorSettings = VirtualConnectorSettings()
    #: required when kind is kubernetes
    kubernetes: KubernetesConnectorSettings | None = None

    @model_validator(mode="after")
    def _kubernetes_section(self) -> ConnectorSettings:
        if self.kind == "kubernetes" and self.kubernetes is None:
            raise ValueError("connector.kubernetes is required when connector.kind is kubernetes")
        return self


class PlannerSettings(BaseSettings):
    """Everything the planner reads at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="PLANNER_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    mode: Literal["disagg", "agg"] = "disagg"
    policy: Literal["sla", "dynamo"] = "sla"
    interval_s: float = Field(60.0, gt=0, le=3600)
    ttft_ms: float = Field(500.0, gt=0)
    itl_ms: float = Field(50.0, gt=0)
    profile: Path = DEFAULT_PROFILE_DIR
    #: time from asking for a worker until it serves traffic
    startup_s: float = Field(180.0, ge=0)
    prefill: ComponentSettings = ComponentSettings()
    decode: ComponentSettings = ComponentSettings()
    agg: ComponentSettings = ComponentSettings()
    budget: BudgetSettings = BudgetSettings()
    stabilization: StabilizationSettings = StabilizationSettings()
    correction: CorrectionSettings = CorrectionSettings()
    predictor: PredictorSettings = PredictorSettings()
    sla: SlaPolicySettings = SlaPolicySettings()
    connector: ConnectorSettings = ConnectorSettings()
    metrics: MetricsSettings = MetricsSettings()
    service: ServiceSettings = ServiceSettings()
    emulator: EmulatorSettings = EmulatorSettings()

    @model_validator(mode="after")
    def _minimums_fit_budget(self) -> PlannerSettings:
        if self.budget.max_gpus is None:
            return self
        if self.mode == "agg":
            need = self.agg.min_replicas * self.agg.gpus_per_worker
        else:
            need = (
                self.prefill.min_replicas * self.prefill.gpus_per_worker
                + self.decode.min_replicas * self.decode.gpus_per_worker
            )
        if need > self.budget.max_gpus:
            raise ValueError(
                f"the minimum replicas need {need} GPUs but budget.max_gpus="
                f"{self.budget.max_gpus}; raise the budget or lower min_replicas"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_path = os.environ.get("_PLANNER_CONFIG_FILE")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if yaml_path:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=yaml_path))
        return tuple(sources)


def _describe(err: Any) -> ConfigError:
    field = ".".join(str(p) for p in err.get("loc", ())) or "<settings>"
    value = err.get("input")
    expected = str(err.get("msg", "a valid value")).removeprefix("Value error, ")
    ctx = err.get("ctx") or {}
    if "expected" in ctx:
        expected = f"{expected} ({ctx['expected']})"
    return ConfigError(field, value, expected)


def _set_path(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(dotted, value, f"{part} to be a section")
    node[parts[-1]] = value


def load_settings(
    *, config_file: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> PlannerSettings:
    """Build and validate settings; raises ConfigError (exit code 2) on the first bad field.

    ``overrides`` maps dotted field names (``"prefill.min_replicas"``) to values, as the
    CLI flags give them; None values are ignored.
    """
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise ConfigError("config_file", str(path), "an existing YAML file")
        try:
            import yaml

            parsed = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError("config_file", str(path), f"readable YAML ({exc})") from exc
        if parsed is not None and not isinstance(parsed, dict):
            raise ConfigError("config_file", str(path), "a YAML mapping at the top level")
    init: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if value is not None:
            _set_path(init, key, value)
    previous = os.environ.get("_PLANNER_CONFIG_FILE")
    try:
        if config_file is not None:
            os.environ["_PLANNER_CONFIG_FILE"] = str(config_file)
        else:
            os.environ.pop("_PLANNER_CONFIG_FILE", None)
        return PlannerSettings(**init)
    except ValidationError as exc:
        raise _describe(exc.errors()[0]) from exc
    finally:
        if previous is None:
            os.environ.pop("_PLANNER_CONFIG_FILE", None)
        else:
            os.environ["_PLANNER_CONFIG_FILE"] = previous
