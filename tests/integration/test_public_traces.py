"""Readers and series over the public traces in ../shared/data (data-heavy: slow)."""

from __future__ import annotations

import numpy as np
import pytest

from planner.core.types import LoadPoint
from planner.errors import TraceError
from planner.forecast import make_forecaster
from planner.forecast.warm_start import load_series, warm_start_from_trace
from planner.workload.servegen import expand_servegen, read_servegen, servegen_series
from planner.workload.trace import bin_requests, read_azure_csv
from tests.conftest import shared

pytestmark = pytest.mark.slow


def test_azure_conv_reads_every_row_sorted_from_zero() -> None:
    """The conversation trace has 19,366 rows over ~58.4 min, arrivals start at 0."""
    tr = read_azure_csv(shared("traces/azure_llm_2023_conv.csv"))
    assert len(tr) == 19366
    assert tr.arrival_s[0] == 0.0
    assert np.all(np.diff(tr.arrival_s) >= 0)
    assert tr.duration_s == pytest.approx(58.4 * 60 - 80, abs=120)
    assert tr.isl_tokens.mean() == pytest.approx(1155, abs=1)
    assert tr.osl_tokens.mean() == pytest.approx(211, abs=1)


def test_binning_conserves_requests_and_token_means() -> None:
    """Binned counts sum to the trace length and the weighted mean ISL is preserved."""
    tr = read_azure_csv(shared("traces/azure_llm_2023_code.csv"))
    s = bin_requests(tr, interval_s=60)
    counts = s.rate_rps * 60
    assert counts.sum() == pytest.approx(len(tr))
    busy = counts > 0
    weighted = np.sum(s.isl_tokens[busy] * counts[busy]) / counts.sum()
    assert weighted == pytest.approx(tr.isl_tokens.mean())
    assert s.point(0).request_rate_rps == pytest.approx(counts[0] / 60)


def test_rate_scaling_multiplies_requests_keeps_span_and_is_seeded() -> None:
    """x2.5 gives 2.5x the requests (+-1%) over the same span, identically per seed."""
    tr = read_azure_csv(shared("traces/azure_llm_2023_code.csv"))
    a = tr.scaled(2.5, seed=3)
    b = tr.scaled(2.5, seed=3)
    assert len(a) == pytest.approx(2.5 * len(tr), rel=0.01)
    assert a.arrival_s.max() <= tr.duration_s
    np.testing.assert_array_equal(a.arrival_s, b.arrival_s)
    with pytest.raises(TraceError, match="rate_scale"):
        tr.scaled(0)


@pytest.fixture(scope="module")
def servegen():  # type: ignore[no-untyped-def]
    return read_servegen(shared("traces/servegen_language_m-small.tar.gz"))


def test_servegen_series_marks_collection_gaps_missing(servegen) -> None:  # type: ignore[no-untyped-def]
    """14 days of 600-s windows; windows where every client is empty are missing."""
    s = servegen_series(servegen)
    assert len(s) == 2016
    assert s.missing.sum() == 37
    assert s.point(int(np.argmax(s.missing))).request_rate_rps is None
    live = ~s.missing
    assert np.isfinite(s.isl_tokens[live]).all()
    assert s.rate_rps[live].mean() == pytest.approx(1174, rel=0.05)


def test_servegen_expansion_matches_rates_and_is_deterministic(servegen) -> None:  # type: ignore[no-untyped-def]
    """Expanded arrivals match the summed window rate (+-2%) and repeat per seed."""
    a = expand_servegen(servegen, rate_scale=0.001, seed=7, hours=6)
    b = expand_servegen(servegen, rate_scale=0.001, seed=7, hours=6)
    s = servegen_series(servegen)
    expected = s.rate_rps[:36].sum() * 600 * 0.001
    assert len(a) == pytest.approx(expected, rel=0.02)
    np.testing.assert_array_equal(a.arrival_s, b.arrival_s)
    np.testing.assert_array_equal(a.isl_tokens, b.isl_tokens)
    assert a.arrival_s.max() < 6 * 3600


def test_load_series_marks_the_partial_last_interval_missing() -> None:
    """The Azure conv trace ends 21 s into its last 60-s bin: that bin's count / 60 s
    would understate the rate, so it is marked missing; the others are complete."""
    s = load_series(shared("traces/azure_llm_2023_conv.csv"), interval_s=60.0)
    assert s.missing[-1] and not s.missing[:-1].any()


def test_warm_start_from_trace_retimes_to_now() -> None:
    """A warm start from the ServeGen trace re-timed to end just before 'now' leaves a
    forecaster whose next live point continues the history without a gap."""
    f = make_forecaster("constant", interval_s=600.0)
    now = 1_700_000_000.0
    path = shared("traces/servegen_language_m-small.tar.gz")
    n = warm_start_from_trace(f, path, interval_s=600.0, end_time_s=now - 600.0, last_s=86400)
    assert n == 144
    f.observe(LoadPoint(time_s=now, request_rate_rps=1000.0, isl_tokens=500, osl_tokens=50))
    assert f.history.total == 145  # type: ignore[attr-defined]
    assert f.forecast(horizon_s=600.0).request_rate_rps.point == 1000.0
