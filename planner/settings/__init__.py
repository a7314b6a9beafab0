"""The one typed settings tree: YAML file < PLANNER_ env vars < CLI flags, validated once.

Each part owns its section (the core: limits, budget, stabilisation, correction, sla;
the forecaster: ``predictor``; the connectors: ``connector`` and ``metrics``; the
service and the emulated graph: ``service`` and ``emulator``); ``tree`` composes them
and ``loader`` validates and reports every problem at once.
"""

from connectors.settings import (
    METRIC_PRESETS,
    ConnectorSettings,
    KubernetesConnectorSettings,
    LeaderElectionSettings,
    MetricsSettings,
    RetrySettings,
    VirtualConnectorSettings,
)
from planner.core.settings import (
    BudgetSettings,
    ComponentSettings,
    CorrectionSettings,
    EngineSettings,
    PolicySettings,
    SlaPolicySettings,
    StabilizationSettings,
)
from planner.forecast.settings import PredictorSettings
from planner.settings.loader import load_settings
from planner.settings.sections import EmulatorSettings, ServiceSettings
from planner.settings.tree import PlannerSettings

__all__ = [
    "METRIC_PRESETS",
    "BudgetSettings",
    "ComponentSettings",
    "ConnectorSettings",
    "CorrectionSettings",
    "EmulatorSettings",
    "EngineSettings",
    "KubernetesConnectorSettings",
    "LeaderElectionSettings",
    "MetricsSettings",
    "PlannerSettings",
    "PolicySettings",
    "PredictorSettings",
    "RetrySettings",
    "ServiceSettings",
    "SlaPolicySettings",
    "StabilizationSettings",
    "VirtualConnectorSettings",
    "load_settings",
]
