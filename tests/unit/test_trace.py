"""Trace readers: Azure CSV, Mooncake JSONL, ServeGen aggregates, scaling and binning."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from planner.errors import TraceError
from planner.workload.readers import read_request_trace
from planner.workload.trace import read_mooncake_jsonl


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
