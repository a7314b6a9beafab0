"""Trace readers: Azure CSV, Mooncake JSONL, ServeGen aggregates, scaling and binning."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from planner.errors import TraceError
from planner.workload.readers import read_request_trace
from planner.workload.servegen import expand_servegen, read_servegen, servegen_series
from planner.workload.trace import bin_requests, read_azure_csv, read_mooncake_jsonl
from tests.conftest import shared


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


def test_mooncake_jsonl_reads_ms_timestamps(tmp_path: Path) -> None:
    """timestamp is in ms; rows may come unsorted; a bad line names its line number."""
    f = tmp_path / "t.jsonl"
    rows = [
        {"timestamp": 2500, "input_length": 10, "output_length": 3},
        {"timestamp": 500, "input_length": 20, "output_length": 4},
    ]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    tr = read_mooncake_jsonl(f)
    np.testing.assert_allclose(tr.arrival_s, [0.0, 2.0])
    assert tr.isl_tokens.tolist() == [20, 10]
    f.write_text('{"timestamp": 1, "input_length": 3}\n')
    with pytest.raises(TraceError, match=r"t\.jsonl:1"):
        read_mooncake_jsonl(f)


def test_unknown_trace_format_is_a_clear_error(tmp_path: Path) -> None:
    """A file of an unknown kind names what is expected."""
    f = tmp_path / "x.parquet"
    f.write_text("")
    with pytest.raises(TraceError, match=r"expected \.csv"):
        read_request_trace(f)


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
