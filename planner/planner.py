"""Planner: the embeddable wrapper around the pure core (observe -> forecast -> plan)."""

from __future__ import annotations

from planner.core.config import PolicyConfig
from planner.core.pipeline import PlannerState, plan
from planner.core.types import Decision, Forecast, LoadPoint, Observation
from planner.forecast.base import Forecaster
from planner.forecast.registry import make_forecaster
from planner.perf.model import PerfModel
from planner.perf.profile import load_profile
from planner.settings import PlannerSettings


class Planner:
    """Feed it one observation per interval, get a decision.

    It holds the perf model, the forecaster and the policy state; it reads no clock and
    does no I/O after construction, so simulators and other controllers can drive it.
    """

    def __init__(
        self,
        settings: PlannerSettings,
        *,
        perf: PerfModel | None = None,
        forecaster: Forecaster | None = None,
    ) -> None:
        self.settings = settings
        if perf is None:
            profile = load_profile(settings.profile, non_monotonic=settings.profile_non_monotonic)
            perf = PerfModel(profile)
        self.perf = perf
        self.config = PolicyConfig(settings=settings, perf=self.perf)
        self.forecaster = forecaster or make_forecaster(
            settings.predictor.name, quantile=settings.predictor.quantile
        )
        self.state = PlannerState()
        #: trace points to seed the forecaster with, re-timed at the first step
        self._warm_points: list[LoadPoint] = []
        if settings.predictor.warm_start_trace is not None and forecaster is None:
            from planner.forecast.warm_start import load_series

            series = load_series(
                settings.predictor.warm_start_trace, interval_s=settings.interval_s
            )
            self._warm_points = series.points()

    @property
    def horizon_s(self) -> float:
        """How far ahead to forecast: the interval, plus worker start-up for ``sla``."""
        s = self.settings
        return s.interval_s + (s.startup_s if s.policy == "sla" else 0.0)

    def step(self, observation: Observation, *, now: float) -> Decision:
        """Record ``observation`` (the window ending at ``now``) and decide."""
        if self._warm_points:
            from planner.forecast.warm_start import retimed, warm_start

            warm_start(
                self.forecaster,
                retimed(self._warm_points, end_time_s=now - self.settings.interval_s),
            )
            self._warm_points = []
        self.forecaster.observe(observation.load_point(time_s=now))
        forecast = self.forecaster.forecast(horizon_s=self.horizon_s)
        return self.decide(observation, forecast, now=now)

    def decide(self, observation: Observation, forecast: Forecast, *, now: float) -> Decision:
        """Decide from an explicit forecast (bypasses the forecaster)."""
        decision, self.state = plan(observation, forecast, self.state, self.config, now=now)
        return decision
