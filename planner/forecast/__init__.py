"""Load forecasters: request rate, ISL and OSL for the next interval."""

from planner.forecast.base import Forecaster
from planner.forecast.registry import available_forecasters, make_forecaster

__all__ = ["Forecaster", "available_forecasters", "make_forecaster"]
