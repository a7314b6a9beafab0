"""The evaluation's scenarios: the tuning set (planner/evaluation/tuning_set.py), which
the policy is tuned on, and the validation set (planner/evaluation/validation_set.py),
traffic it was never tuned on. A change to the policy is judged on the validation set
after the fact; a setting changed because of it would make it a second tuning set."""

from __future__ import annotations

from planner.errors import ConfigError
from planner.evaluation.scenario import SETS, Scenario, SetName
from planner.evaluation.tuning_set import TUNING
from planner.evaluation.validation_set import VALIDATION

SCENARIOS: dict[str, Scenario] = {s.name: s for s in (*TUNING, *VALIDATION)}


def scenarios_in(set_name: SetName | None = None) -> list[Scenario]:
    """Every scenario, or those of one set, in registry order."""
    if set_name is not None and set_name not in SETS:
        raise ConfigError("--set", set_name, f"one of {', '.join(SETS)}")
    return [s for s in SCENARIOS.values() if set_name is None or s.set == set_name]
