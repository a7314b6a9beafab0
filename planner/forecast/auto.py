"""The ``auto`` forecaster: per series and horizon, the member with the lowest recent
error, but ``constant`` unless a challenger is clearly better.

Every member (default: constant, seasonal, kalman, arima,
prophet) sees every point and forecasts
every horizon ``auto`` is asked for; each member's point forecasts are scored when
their target interval arrives (absolute error per member, series and horizon). The
choice for (series, h) is the member with the lowest mean error over the last
``window`` scores, if it has at least ``min_scored`` of them, that error is below
(1 - ``margin``) x constant's on the same targets, and its long-run mean error (last
``long_window`` scores) is below constant's too; otherwise constant. The long-run test
keeps a member that was lucky over one window (rare level jumps dominate the error of
step-like series such as ServeGen's ISL/OSL) from displacing constant.
The upper quantile is calibrated on ``auto``'s own output. Fits of all
members due run in one job (inline or through ``AsyncRefitter``); a failing member
falls back on its own and the note says which.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from planner.core.types import Forecast, LoadPoint
from planner.forecast.base import FitJob, Forecaster
from planner.forecast.engine import ModelForecaster
from planner.forecast.history import SERIES

DEFAULT_MEMBERS = ("constant", "seasonal", "kalman", "arima", "prophet")
_FIELDS = {"rate": "request_rate_rps", "isl": "isl_tokens", "osl": "osl_tokens"}


class AutoForecaster(ModelForecaster):
    """Picks, per series and horizon, the member that has recently erred least."""

    name = "auto"

    def __init__(
        self,
        *,
        members: Sequence[str] = DEFAULT_MEMBERS,
        window: int = 48,
        min_scored: int = 24,
        margin: float = 0.10,
        long_window: int = 2000,
        member_options: dict[str, dict[str, Any]] | None = None,
        make_member: Callable[..., Forecaster] | None = None,
        **kw: Any,
    ) -> None:
        if make_member is None:
            raise ValueError("make_member: expected the registry's factory (make_forecaster)")
        if "constant" not in members:
            members = ("constant", *members)
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
        self.window, self.min_scored, self.margin = window, min_scored, margin
        self.long_window = long_window
        self._errors: dict[tuple[str, str, int], deque[float]] = {}
        self._pending: dict[tuple[str, str, int], dict[int, float]] = {}
        self._current: dict[str, Forecast] = {}
        self.choices: dict[tuple[str, int], str] = {}

    def observe(self, point: LoadPoint) -> None:
        for member in self.members.values():
            member.observe(point)
        super().observe(point)

    def forecast(self, *, horizon_s: float) -> Forecast:
        steps = self.history.steps(horizon_s)
        target = self.history.total - 1 + steps
        self._current = {n: m.forecast(horizon_s=horizon_s) for n, m in self.members.items()}
        for n, fc in self._current.items():
            for s in SERIES:
                point = getattr(fc, _FIELDS[s]).point
                self._pending.setdefault((n, s, steps), {})[target] = point
        out = super().forecast(horizon_s=horizon_s)
        picked = [f"{s}={self.choices.get((s, steps), 'constant')}" for s in SERIES]
        notes = [f"auto: {', '.join(picked)}"]
        for n in dict.fromkeys(self.choices.get((s, steps), "constant") for s in SERIES):
            if self._current[n].note:
                notes.append(self._current[n].note)
        if out.note:
            notes.append(out.note)
        return replace(out, note="; ".join(notes))

    def _on_append(self, index: int) -> None:
        for (n, s, steps), pending in self._pending.items():
            for target in [t for t in pending if t <= index]:
                point = pending.pop(target)
                actual = self.history.at(s, index)
                if target == index and np.isfinite(actual):
                    key = (n, s, steps)
                    errs = self._errors.setdefault(key, deque(maxlen=self.long_window))
                    errs.append(abs(actual - point))

    def rolling_error(
        self, member: str, series: str, steps: int, *, long_run: bool = False
    ) -> float | None:
        """Mean absolute error over the last ``window`` (or ``long_window``) scores."""
        errs = self._errors.get((member, series, steps))
        if errs is None or len(errs) < self.min_scored:
            return None
        if long_run:
            return float(np.mean(errs))
        recent = list(itertools.islice(reversed(errs), self.window))
        return float(np.mean(recent))

    def _predict(self, series: str, steps: int) -> float | None:
        base = self.rolling_error("constant", series, steps)
        choice = "constant"
        if base is not None:
            scored = {
                n: e
                for n in self.members
                if (e := self.rolling_error(n, series, steps)) is not None
            }
            best = min(scored, key=lambda n: scored[n])
            if best != "constant" and scored[best] < (1.0 - self.margin) * base:
                long_best = self.rolling_error(best, series, steps, long_run=True)
                long_base = self.rolling_error("constant", series, steps, long_run=True)
                if long_best is not None and long_base is not None and long_best < long_base:
                    choice = best
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
