"""The composed settings tree: the core's policy settings plus every part's section,
read from init values (CLI flags), ``PLANNER_`` env vars and a YAML file, in that order."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from connectors.settings import ConnectorSettings, MetricsSettings
from planner.core.settings import PolicySettings
from planner.forecast.settings import PredictorSettings
from planner.perf.preswept import parse_row
from planner.perf.profile import DEFAULT_PROFILE_DIR, NonMonotonic
from planner.settings.pool import GraphSettings, PoolSettings
from planner.settings.sections import EmulatorSettings, ServiceSettings

ENV_PREFIX = "PLANNER_"
CONFIG_FILE_VAR = "_PLANNER_CONFIG_FILE"


class PlannerSettings(PolicySettings, BaseSettings):
    """Everything the planner reads at start-up."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    profile: Path = DEFAULT_PROFILE_DIR
    #: the row of a multi-row (pre-swept) profile: an index, tp=N, or "cheapest"
    #: (simulate only: the fewest GPU-seconds per request for the trace); None: a
    #: profile with one row. planner/perf/preswept.py
    profile_row: str | None = None
    #: a profile whose TTFT falls as ISL grows: stop start-up, or load it with a warning
    profile_non_monotonic: NonMonotonic = "error"
    predictor: PredictorSettings = PredictorSettings()
    connector: ConnectorSettings = ConnectorSettings()
    metrics: MetricsSettings = MetricsSettings()
    service: ServiceSettings = ServiceSettings()
    emulator: EmulatorSettings = EmulatorSettings()
    #: a GPU pool shared by several graphs (docs/pool.md); unused with no ``graphs``
    pool: PoolSettings = PoolSettings()
    #: the graphs one planner plans in one pool; empty: one graph, these settings
    graphs: tuple[GraphSettings, ...] = ()

    @field_validator("profile_row", mode="before")
    @classmethod
    def _row_readable(cls, value: object) -> object:
        if value is None:
            return None
        try:
            parse_row(value if isinstance(value, int) else str(value))
        except ValueError:
            raise ValueError("a row index (0, 1, ...), tp=N, or 'cheapest'") from None
        return str(value)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_path = os.environ.get(CONFIG_FILE_VAR)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if yaml_path:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=yaml_path))
        return tuple(sources)
