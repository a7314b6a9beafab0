"""sla-planner: an SLA-driven autoscaler for disaggregated LLM inference graphs."""

from planner.core.types import (
    Component,
    ComponentDecision,
    Decision,
    Forecast,
    LoadPoint,
    Observation,
    Quantity,
    Reason,
)
from planner.errors import ConfigError, PlannerError, ProfileError

__all__ = [
    "Component",
    "ComponentDecision",
    "ConfigError",
    "Decision",
    "Forecast",
    "LoadPoint",
    "Observation",
    "PlannerError",
    "ProfileError",
    "Quantity",
    "Reason",
]
