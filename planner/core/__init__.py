"""The pure decision path: types, pipeline stages, sizing strategies, queueing, feedback,
stabilisation, limits and budget. No I/O, no clock reads.

    from planner.core import plan, PlannerState, Observation, Forecast, Quantity
"""

from planner.core.pipeline import plan
from planner.core.state import FeedbackState, PlannerState
from planner.core.types import (
    Component,
    ComponentDecision,
    CorrectionFactors,
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
    "CorrectionFactors",
    "Decision",
    "FeedbackState",
    "Forecast",
    "LoadPoint",
    "Observation",
    "PlannerState",
    "Quantity",
    "Reason",
    "plan",
]
