"""The ``auto`` forecaster: per series and horizon, ``constant`` unless a challenger has
clearly erred less on the same targets, recently and over the long run
(``planner.forecast.selection``).

Every member (default: constant and seasonal; kalman, arima and prophet can be added
with ``members=``, docs/forecasting.md gives the numbers against it) sees every point
and forecasts every horizon ``auto`` is asked for; when a target interval arrives, every
member's absolute error on it goes into one row of that (series, horizon)'s
scoreboard, so all comparisons are over identical targets. The upper quantile is
calibrated on ``auto``'s own output. Fits of all members due run in one job (inline or
through ``AsyncRefitter``); a failing member falls back on its own and the note says
which.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from planner.core.types import Forecast, LoadPoint
from planner.forecast.base import FitJob, Forecaster
from planner.forecast.engine import ModelForecaster
from planner.forecast.history import SERIES
from planner.forecast.selection import BASELINE, Scoreboard, SwitchRule

#: kalman, arima and prophet are not default members: docs/forecasting.md has the ablation
DEFAULT_MEMBERS = ("constant", "seasonal")
_FIELDS = {"rate": "request_rate_rps", "isl": "isl_tokens", "osl": "osl_tokens"}


class AutoForecaster(ModelForecaster):
    """Picks, per series and horizon, a member clearly better than constant."""

    name = "auto"

    def __init__(
        self,
        *,
        members: Sequence[str] = DEFAULT_MEMBERS,
        rule: SwitchRule | None = None,
        member_options: dict[str, dict[str, Any]] | None = None,
        make_member: Callable[..., Forecaster] | None = None,
        **kw: Any,
    ) -> None:
        if make_member is None:
            raise ValueError("make_member: expected the registry's factory (make_forecaster)")
        if BASELINE not in members:
            members = (BASELINE, *members)
        kw.setdefault("warmup", 1)
        super().__init__(**kw)
        shared = {"quantile": self.quantile, "interval_s": kw.get("interval_s")}
        opts = member_options or {}
        self.members: dict[str, ModelForecaster] = {}
        for name in dict.fromkeys(members):
            if name == "auto":
                raise ValueError("auto cannot be its own member")
            member = make_member(name, **shared, **opts.get(name, {}))
            if not isinstance(member, ModelForecaster):
                raise ValueError(f"member {name!r} is not a ModelForecaster")
            member.inline_refit = False  # auto schedules its members' fits
            self.members[name] = member
        self.rule = rule or SwitchRule()
        self._boards: dict[tuple[str, int], Scoreboard] = {}
        #: steps -> target index -> member points, one row per series
        self._pending: dict[int, dict[int, np.ndarray]] = {}
        self._current: dict[str, Forecast] = {}
        self.choices: dict[tuple[str, int], str] = {}

    def board(self, series: str, steps: int) -> Scoreboard:
        key = (series, steps)
        if key not in self._boards:
            self._boards[key] = Scoreboard(tuple(self.members), steps=steps, rule=self.rule)
        return self._boards[key]

    def observe(self, point: LoadPoint) -> None:
        for member in self.members.values():
            member.observe(point)
        super().observe(point)

    def forecast(self, *, horizon_s: float) -> Forecast:
        steps = self.history.steps(horizon_s)
        target = self.history.total - 1 + steps
        self._current = {n: m.forecast(horizon_s=horizon_s) for n, m in self.members.items()}
        self._pending.setdefault(steps, {})[target] = np.array(
            [[getattr(fc, _FIELDS[s]).point for fc in self._current.values()] for s in SERIES]
        )
        out = super().forecast(horizon_s=horizon_s)
        picked = [f"{s}={self.choices.get((s, steps), BASELINE)}" for s in SERIES]
        notes = [f"auto: {', '.join(picked)}"]
        for n in dict.fromkeys(self.choices.get((s, steps), BASELINE) for s in SERIES):
            if self._current[n].note:
                notes.append(self._current[n].note)
        if out.note:
            notes.append(out.note)
        return replace(out, note="; ".join(notes))

    def _on_append(self, index: int) -> None:
        for steps, pending in self._pending.items():
            for target in [t for t in pending if t <= index]:
                points = pending.pop(target)
                if target != index:
                    continue
                for row, s in enumerate(SERIES):
                    actual = self.history.at(s, index)
                    if np.isfinite(actual):
                        self.board(s, steps).add(np.abs(actual - points[row]))

    def _predict(self, series: str, steps: int) -> float | None:
        choice = self.board(series, steps).choose()
        self.choices[(series, steps)] = choice
        return float(getattr(self._current[choice], _FIELDS[series]).point)

    # -- refits: one job for every member that is due ----------------------------------

    def needs_refit(self) -> bool:
        return any(m.needs_refit() for m in self.members.values())

    def fit_snapshot(self) -> FitJob:
        jobs = {n: m.fit_snapshot() for n, m in self.members.items() if m.needs_refit()}

        def job() -> dict[str, Any]:
            out: dict[str, Any] = {}
            for n, member_job in jobs.items():
                try:
                    out[n] = member_job()
                except Exception as exc:  # one member failing must not block the others
                    out[n] = exc
            return out

        return job

    def _install(self, model: Any) -> None:
        assert isinstance(model, dict)
        for n, m in model.items():
            if isinstance(m, BaseException):
                self.members[n].fit_failed(f"fit failed ({type(m).__name__}: {m})")
            else:
                self.members[n].install(m)

    def fit_failed(self, reason: str) -> None:
        for m in self.members.values():
            m.fit_failed(reason)
        super().fit_failed(reason)
