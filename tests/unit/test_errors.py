"""The error hierarchy: exit codes, and errors that survive a process pool."""

from __future__ import annotations

import pickle

import pytest

from planner.errors import ConfigError, PlannerError, ProfileError, TraceError


@pytest.mark.parametrize(
    "error",
    [
        ConfigError("sla.max_pressure", 0.5, ">= 1"),
        ProfileError("profiles/h200", "prefill.ttft_ms", "not increasing"),
        TraceError("trace.csv: no rows"),
    ],
)
def test_errors_pickle_round_trip_with_their_fields_and_message(error: PlannerError) -> None:
    """A worker process of simulate/evaluate/feasibility raising one of these hands the
    parent the same error (type, message, fields); a ConfigError used to fail to rebuild
    ("missing 2 required positional arguments") and hid the setting that was wrong."""
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error)
    assert str(back) == str(error)
    assert vars(back) == vars(error)
    assert back.exit_code == error.exit_code


def test_bad_input_errors_stop_with_exit_code_2() -> None:
    """Config, profile and trace errors are bad input (exit 2); the base class is 1."""
    assert ConfigError.exit_code == ProfileError.exit_code == TraceError.exit_code == 2
    assert PlannerError.exit_code == 1
