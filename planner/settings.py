"""The one typed settings tree: YAML file < PLANNER_ env vars < CLI flags, validated once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
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
    name: str = "constant"
    #: nominal level of the upper quantile the forecasters report
    quantile: float = Field(0.9, gt=0.5, lt=1.0)


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


class ConnectorSettings(_Section):
    kind: Literal["virtual", "kubernetes"] = "virtual"
    model_config = ConfigDict(extra="allow", frozen=True)


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
    expected = err.get("msg", "a valid value")
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
