"""The forecasting tuning and validation sets are built as docs/forecasting.md states:
which clients, which days, the generated series' shapes, and the same data every time."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import shared

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # builds both sets from ServeGen


@pytest.fixture(scope="module")
def sets() -> dict[str, list]:
    shared("traces/servegen_language_m-small.tar.gz")
    from planner.evaluation.forecast_sets import tuning_set, validation_set

    return {"tuning": tuning_set(), "validation": validation_set()}


def test_validation_clients_exclude_the_aggregates_main_clients() -> None:
    """21 clients qualify; the three that carry 10 % or more of the tuning aggregate's
    volume (5, 17, 38) and the nearly always idle ones are out."""
    shared("traces/servegen_language_m-small.tar.gz")
    from planner.evaluation.forecast_sets import _servegen, validation_clients

    clients = validation_clients(_servegen())
    assert len(clients) == 21
    assert not {"5", "17", "38", "0", "3"} & set(clients)


def test_the_sets_are_disjoint_and_sized(sets: dict[str, list]) -> None:
    """17 tuning series (3 traces + 14 ServeGen days) and 57 validation series (42 client
    days, 7 fortnights, 3 mixes, 2 warps, 3 minute series); no label in both."""
    groups = {name: [n.group for n in s] for name, s in sets.items()}
    assert len(sets["tuning"]) == 17 and groups["tuning"].count("sg_day") == 14
    counts = {g: groups["validation"].count(g) for g in set(groups["validation"])}
    assert counts == {"day": 42, "fortnight": 7, "mix": 3, "warp": 2, "minute": 3}
    assert not {n.label for n in sets["tuning"]} & {n.label for n in sets["validation"]}


def test_series_shapes(sets: dict[str, list]) -> None:
    """Day series have 144 windows with the client busy in at least a sixth of them;
    fortnights and mixes 2,016; the 0.8 warp 1,612 (2,015 x 0.8) and the 1.25 warp is
    cut to 2,016; minute series are 360 intervals of 60 s."""
    for named in sets["validation"]:
        s = named.series
        if named.group == "day":
            assert len(s) == 144 and s.interval_s == 600.0
            assert np.mean(s.rate_rps > 0) >= 1 / 6
        elif named.group in ("fortnight", "mix"):
            assert len(s) == 2016
        elif named.group == "warp":
            assert len(s) == (1612 if "0.8" in named.label else 2016)
        else:
            assert len(s) == 360 and s.interval_s == 60.0
        assert np.all(np.isfinite(s.rate_rps[~s.missing]))


def test_building_twice_gives_the_same_series() -> None:
    """The recipes are seeded: a day series, a warp and a minute series come out
    identical when built again."""
    shared("traces/servegen_language_m-small.tar.gz")
    from planner.evaluation import forecast_sets

    labels = ("c14_d7", "mix2_warp1.25", "minute3")
    first = [forecast_sets.series_by_label("validation", label).series for label in labels]
    forecast_sets._clients.cache_clear()
    again = [forecast_sets.series_by_label("validation", label).series for label in labels]
    for a, b in zip(first, again, strict=True):
        for field in ("rate_rps", "isl_tokens", "osl_tokens", "missing"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
