"""Planner: the embeddable wrapper around the pure core (observe -> forecast -> plan)."""

from __future__ import annotations

from planner.core.config import PolicyConfig
from planner.core.pipeline import PlannerState, plan
from planner.core.strategies import strategy_named
from planner.core.types import Decision, Forecast, LoadPoint, Observation
from planner.errors import ConfigError
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
            profile = load_profile(
                settings.profile,
                row=settings.profile_row,
                non_monotonic=settings.profile_non_monotonic,
            )
            perf = PerfModel(profile)
        self.perf = perf
        self.config = PolicyConfig(settings=settings, perf=self.perf)
        self.strategy = strategy_named(settings.policy)
        self.warnings = self._check_gpus()
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

    def _check_gpus(self) -> tuple[str, ...]:
        """Warnings where the profile's GPUs per worker disagree with the settings; a
        ConfigError when the minimum replicas, counted that way, exceed the budget."""
        c = self.config
        counts = {comp: c.gpus_per_worker(comp) for comp in c.components}
        budget = self.settings.budget.max_gpus
        need = sum(c.limits(comp).min_replicas * n.gpus for comp, n in counts.items())
        if budget is not None and need > budget:
            raise ConfigError(
                "budget.max_gpus",
                budget,
                f">= {need} GPUs, what the minimum replicas hold at the profile's GPUs per "
                "worker; raise the budget or lower min_replicas",
            )
        return tuple(n.warning for n in counts.values() if n.warning)

    @property
    def horizon_s(self) -> float:
        """How far ahead to forecast: the strategy's horizon (``sla``: the interval plus
        worker start-up; ``dynamo``: the interval)."""
        return self.strategy.horizon_s(self.settings)

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
