"""The connectors' own settings: where metrics are read (Prometheus, metric presets) and
where replicas are written (virtual target, Kubernetes). The planner's settings tree
(planner/settings/) nests these sections; nothing here reads that tree."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from planner.core.settings import Section

#: metric names per preset: field -> metric (histograms without the _sum/_count suffix).
#: ``requests`` is the demand counter (requests arrived or started in the window) and
#: ``requests_fallback`` the counter read when it has no series.
METRIC_PRESETS: dict[str, dict[str, str]] = {
    # Dynamo's frontend. Demand is dynamo_frontend_requests_started_total, counted when the
    # frontend accepts a request; dynamo_frontend_requests_total counts requests when they
    # complete, so under backpressure it is capped by the capacity the planner is trying
    # to size (Dynamo's own planner moved to the started counter for that reason,
    # ai-dynamo/dynamo PR 9526). Frontends older than that counter only have the
    # completed one: it is the fallback, and /status says when it is in use.
    "dynamo": {
        "ttft": "dynamo_frontend_time_to_first_token_seconds",
        "itl": "dynamo_frontend_inter_token_latency_seconds",
        "request_duration": "dynamo_frontend_request_duration_seconds",
        "isl": "dynamo_frontend_input_sequence_tokens",
        "osl": "dynamo_frontend_output_sequence_tokens",
        "requests": "dynamo_frontend_requests_started_total",
        "requests_fallback": "dynamo_frontend_requests_total",
        "model_label": "model",
        "namespace_label": "dynamo_namespace",
    },
    # vLLM's own server (names from vLLM's docs/design/metrics.md and
    # vllm/v1/metrics/loggers.py; every series carries ``model_name``). vLLM has no
    # counter of requests received: vllm:request_success_total counts them when they
    # finish. Demand is therefore the TTFT histogram's count, which grows when a
    # request's first token is produced: it does not wait for long generations to end
    # (the bias of counting completions), though a queue in front of prefill still
    # delays it (the TTFT histogram then shows the misses the attainment feedback acts
    # on). vllm:inter_token_latency_seconds is the name since vLLM 0.11; for older
    # servers set ``metrics.itl: vllm:time_per_output_token_seconds`` (deprecated in
    # 0.11, removed in 0.13).
    "vllm": {
        "ttft": "vllm:time_to_first_token_seconds",
        "itl": "vllm:inter_token_latency_seconds",
        "request_duration": "vllm:e2e_request_latency_seconds",
        "isl": "vllm:request_prompt_tokens",
        "osl": "vllm:request_generation_tokens",
        "requests": "vllm:time_to_first_token_seconds_count",
        "requests_fallback": "vllm:request_success_total",
        "model_label": "model_name",
        "namespace_label": "",
    },
}


MetricKey = Literal[
    "ttft", "itl", "request_duration", "isl", "osl", "requests", "requests_fallback"
]


class ReplicasSettings(Section):
    """Where ``sla-planner history`` reads the replicas that actually ran.

    ``planner``: the planner's own gauge ``sla_planner_current_replicas{component}`` (set
    at each tick to what the graph ran during the interval that tick closes, so the
    history reads it one interval later). ``kube_state_metrics``:
    ``kube_deployment_spec_replicas{deployment}`` of the workloads named in
    ``deployments`` (component -> Deployment name). ``none``: no replica columns.
    """

    source: Literal["planner", "kube_state_metrics", "none"] = "planner"
    #: extra label matchers for the replica series, e.g. 'job="sla-planner"'
    filters: str = ""
    deployments: dict[Literal["prefill", "decode", "agg"], str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _deployments_named(self) -> ReplicasSettings:
        if self.source == "kube_state_metrics" and not self.deployments:
            raise ValueError(
                "deployments (component -> Deployment name) is required when source is "
                "kube_state_metrics"
            )
        return self


class MetricsSettings(Section):
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
    #: read when ``requests`` has no series ("" = no fallback: the window is missing)
    requests_fallback: str | None = None
    model_label: str | None = None
    namespace_label: str | None = None
    #: model name matched case-insensitively (None = all models)
    model: str | None = None
    #: Dynamo namespace matched exactly (None = all)
    namespace: str | None = None
    #: extra label matchers appended verbatim, e.g. 'job="frontend"'
    extra_filters: str = ""
    #: more matchers for one metric only, e.g. {ttft: 'service="vllm-prefill"'}: where
    #: separate servers export the same names (vLLM prefill and decode servers), each
    #: quantity is read from the servers that see it
    filters: dict[MetricKey, str] = Field(default_factory=dict)
    #: PromQL expressions for the requests waiting for / running on the decode workers
    #: now, e.g. 'sum(vllm:num_requests_waiting{service="decode"})' (None = not read;
    #: the sla policy then cannot tell a decode bottleneck from slow prefill)
    decode_waiting: str | None = None
    decode_running: str | None = None
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
    #: where ``sla-planner history`` reads the replicas that ran
    replicas: ReplicasSettings = ReplicasSettings()

    def name(self, key: str) -> str:
        """The configured metric or label name for ``key`` (preset unless overridden)."""
        value = getattr(self, key)
        return str(value) if value is not None else METRIC_PRESETS[self.preset][key]


class VirtualConnectorSettings(Section):
    """The local target protocol (docs/virtual-connector.md)."""

    transport: Literal["file", "http"] = "file"
    #: file transport: folder holding target.json (planner writes) and ack.json (env writes)
    directory: Path = Path("virtual-target")
    #: http transport: the planner serves GET /v1/target and POST /v1/ack here
    host: str = "127.0.0.1"
    port: int = Field(9086, ge=0, le=65535)
    #: workers asked for but not ready (or not acknowledged) this long count as not coming
    not_coming_after_s: float = Field(600.0, gt=0)


class RetrySettings(Section):
    """Bounded retries with exponential backoff and full jitter for transient failures."""

    attempts: int = Field(4, ge=1, le=20)
    backoff_base_s: float = Field(0.2, gt=0)
    backoff_max_s: float = Field(5.0, gt=0)


class LeaderElectionSettings(Section):
    """A coordination.k8s.io/v1 Lease so that of several replicas exactly one writes."""

    enabled: bool = True
    lease_name: str = "sla-planner"
    #: a holder that has not renewed for this long has lost the lease
    lease_duration_s: float = Field(15.0, gt=0)
    renew_every_s: float = Field(5.0, gt=0)
    #: the holder stops writing this long after its last successful renewal, leaving
    #: the rest of the lease for a write in flight to land; None = 2/3 of the lease
    renew_deadline_s: float | None = Field(None, gt=0)
    #: defaults to $POD_NAME, then the host name
    identity: str | None = None

    @model_validator(mode="after")
    def _renew_inside_lease(self) -> LeaderElectionSettings:
        if self.renew_every_s >= self.lease_duration_s:
            raise ValueError(
                f"renew_every_s={self.renew_every_s} must be < "
                f"lease_duration_s={self.lease_duration_s}"
            )
        deadline = self.renew_deadline_s
        if deadline is not None and not self.renew_every_s < deadline < self.lease_duration_s:
            raise ValueError(
                f"renew_deadline_s={deadline} must be between renew_every_s="
                f"{self.renew_every_s} and lease_duration_s={self.lease_duration_s}"
            )
        return self


class KubernetesConnectorSettings(Section):
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
    #: read the cluster's GPU capacity each tick (nodes, Karpenter NodePools, the
    #: namespace's ResourceQuotas, pods, DRA ResourceSlices and ResourceClaims) and plan
    #: within it (docs/capacity.md); needs the
    #: ClusterRole in deploy/base; a forbidden read falls back to budget.max_gpus
    cluster_capacity: bool = False
    #: the extended resource the graph's workers request, counted one unit per GPU:
    #: nvidia.com/gpu, or a MIG profile such as nvidia.com/mig-3g.40gb
    gpu_resource: str = Field("nvidia.com/gpu", min_length=1)
    #: DRA drivers whose ResourceSlice devices count as GPUs (cluster_capacity); a
    #: cluster without resource.k8s.io/v1beta1 simply has none
    dra_drivers: tuple[str, ...] = ("gpu.nvidia.com",)

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


class ConnectorSettings(Section):
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
