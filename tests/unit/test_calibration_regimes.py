"""Upper quantiles after traffic stops: idle-origin forecasts use idle-origin errors."""

from __future__ import annotations

from planner.core.types import LoadPoint
from planner.forecast.base import Forecaster
from planner.forecast.registry import make_forecaster


def _busy(t: float, rate: float) -> LoadPoint:
    return LoadPoint(time_s=t, request_rate_rps=rate, isl_tokens=1000.0, osl_tokens=100.0)


def test_upper_band_drops_to_zero_when_traffic_stops() -> None:
    """After a noisy busy period, the first idle windows forecast upper 0 (not the
    busy residual quantile), so the planner can scale down to its minimum."""
    f = make_forecaster("constant", quantile=0.9, interval_s=60.0)
    for i in range(60):
        f.observe(_busy(60.0 * (i + 1), 50.0 + 30.0 * ((i * 7) % 5)))
        f.forecast(horizon_s=60.0)
    busy = f.forecast(horizon_s=60.0)
    assert busy.request_rate_rps.upper > busy.request_rate_rps.point > 0
    f.observe(LoadPoint(time_s=61 * 60.0, request_rate_rps=0.0))
    idle = f.forecast(horizon_s=60.0)
    assert idle.request_rate_rps.point == 0.0
    assert idle.request_rate_rps.upper == 0.0


def _twelve_bursts_after_lulls() -> tuple[Forecaster, float]:
    """A constant forecaster after 12 cycles of two idle minutes then 80 req/s,
    forecasting every tick as the planner does; returns it and the last time (s)."""
    f = make_forecaster("constant", quantile=0.9, interval_s=60.0)
    t = 0.0
    for _ in range(12):
        for rate in (0.0, 0.0, 80.0):
            t += 60.0
            f.observe(_busy(t, rate) if rate else LoadPoint(time_s=t, request_rate_rps=0.0))
            f.forecast(horizon_s=60.0)
    return f, t


def test_bursts_after_idle_windows_are_learned() -> None:
    """On intermittent load (bursts after idle windows) the idle-origin band grows to
    cover the bursts once a few idle-origin errors exist."""
    f, t = _twelve_bursts_after_lulls()
    f.observe(LoadPoint(time_s=t + 60.0, request_rate_rps=0.0))
    fc = f.forecast(horizon_s=60.0)
    assert fc.request_rate_rps.point == 0.0
    assert fc.request_rate_rps.upper >= 80.0


def test_a_silence_longer_than_any_seen_before_a_burst_drops_the_band() -> None:
    """Bursts that followed 2-interval lulls keep the band during a 2-interval lull, but
    after a longer silence (never seen followed by a burst) the band is 0 again, so
    spurious early idle windows cannot hold replicas up once traffic really stops."""
    f, t = _twelve_bursts_after_lulls()
    uppers = []
    for _ in range(4):
        t += 60.0
        f.observe(LoadPoint(time_s=t, request_rate_rps=0.0))
        uppers.append(f.forecast(horizon_s=60.0).request_rate_rps.upper)
    assert uppers[0] >= 80.0 and uppers[1] >= 80.0  # lulls of 1 and 2 were followed by bursts
    assert uppers[2] == 0.0 and uppers[3] == 0.0  # no silence of 3+ ever was
