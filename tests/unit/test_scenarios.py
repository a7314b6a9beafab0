"""The scenario registry: the tuning set is the ten scenarios tuned on, and the validation
set covers what it must (long prompts beyond the profile at two TTFT targets, long
outputs over a day, a day-long diurnal load, short bursts, three worker speeds, TP2 and
TP4 workers, ITL- and TTFT-bound SLOs, the public sine load), each seeded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planner.errors import ConfigError
from planner.evaluation.scenarios import SCENARIOS, scenarios_in


def test_the_tuning_set_is_the_ten_scenarios_tuned_on() -> None:
    """Names, slowdowns and targets of today's ten; the spikes are shorter than the
    180-s start-up, and the wide workers hold 8 GPUs (a profile row no validation
    scenario uses)."""
    tuning = scenarios_in("tuning")
    assert [s.name for s in tuning] == [
        "conv", "conv-slow", "code", "code-slow", "servegen", "servegen-slow",
        "spikes", "spikes-slow", "tp8", "tp8-slow",
    ]  # fmt: skip
    assert [s.slowdown for s in tuning] == [1.0, 1.2] * 5
    assert {(s.ttft_ms, s.itl_ms) for s in tuning[:8]} == {(500, 50)}
    assert {s.seed for s in tuning} == {0, 21, 22}
    assert {s.profile_row for s in tuning} == {None, "tp=8"}
    assert not {"tp=8"} & {s.profile_row for s in scenarios_in("validation")}
    spikes = SCENARIOS["spikes"].build(Path("unused"))
    per_s = np.bincount(spikes.arrival_s.astype(int))
    assert spikes.duration_s == pytest.approx(7200, abs=5)
    assert 8 <= np.median(per_s) <= 12 and np.percentile(per_s, 99.5) >= 25


def test_the_validation_set_covers_the_brief() -> None:
    """8-12 scenarios, unique names, each with a recipe; the required shapes are there."""
    val = scenarios_in("validation")
    assert 8 <= len(val) <= 12
    assert len({s.name for s in val}) == len(val) and all(len(s.recipe) > 40 for s in val)
    assert {s.slowdown for s in val} >= {0.7, 1.0, 1.5}
    assert {s.profile_row for s in val} >= {"tp=2", "tp=4"}
    assert sum(s.diurnal for s in val) >= 2
    sine = SCENARIOS["sine"]
    assert (sine.ttft_ms, sine.itl_ms) == (200, 10)
    long = SCENARIOS["long-prompts"].build(Path("unused"))
    assert 11000 < long.isl_tokens.mean() < 13000 and (long.isl_tokens > 16372).any()
    tight = SCENARIOS["long-prompts-tight"]
    assert tight.ttft_ms < SCENARIOS["long-prompts"].ttft_ms
    assert SCENARIOS["itl-tight"].itl_ms <= 10 and SCENARIOS["ttft-tight"].ttft_ms <= 150
    reasoning = SCENARIOS["reasoning-day"].build(Path("unused"))
    assert 3000 <= reasoning.osl_tokens.mean() <= 5700 and reasoning.duration_s > 23 * 3600
    sine_tr = sine.build(Path("unused"))
    assert sine_tr.isl_tokens.min() == sine_tr.isl_tokens.max() == 3000
    rps = len(sine_tr) / sine_tr.duration_s
    assert 22 < rps < 28  # the mean of a 5 -> 45 req/s sine


def test_asking_for_an_unknown_set_names_the_known_ones() -> None:
    """--set garbage is a ConfigError listing tuning and validation."""
    with pytest.raises(ConfigError, match="tuning, validation"):
        scenarios_in("both")  # type: ignore[arg-type]
