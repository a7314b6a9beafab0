"""sla-planner: an SLA-driven autoscaler for disaggregated LLM inference graphs."""

from planner.errors import ConfigError, PlannerError, ProfileError
from planner.types import (
    Component,
    ComponentDecision,
    Decision,
    Forecast,
    LoadPoint,
    Observation,
    Quantity,
    Reason,
)

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
