"""make evaluate --policy: only the named policies run; the others' results come from the
earlier results.json, unchanged, and a scenario without them is refused."""

from __future__ import annotations

import pytest

from planner.evaluation.evaluate import run_scenarios
from planner.sim.experiment import POLICIES

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_only_sla_runs_and_the_baselines_are_kept() -> None:
    """The sine scenario, sla only: its summary is fresh (its own policy name and a real
    attainment), the four baselines are the earlier ones verbatim; without earlier
    results for the baselines it raises, naming the scenario."""
    earlier = {
        "sine": {
            "meta": {"warnings": [], "task_wall_s": {"static": 1.0}},
            "policies": [{"policy": p, "marker": p} for p in POLICIES],
        }
    }
    got = run_scenarios(["sine"], jobs=1, policies=("sla",), previous=earlier)["sine"]
    by = {x["policy"]: x for x in got["policies"]}
    assert [x["policy"] for x in got["policies"]] == list(POLICIES)
    assert "marker" not in by["sla"] and 0.5 < by["sla"]["attainment"]["both"] <= 1.0
    assert all(by[p] == {"policy": p, "marker": p} for p in POLICIES if p != "sla")
    assert got["meta"]["task_wall_s"]["static"] == 1.0 and got["meta"]["task_wall_s"]["sla"] > 0
    with pytest.raises(ValueError, match="sine"):
        run_scenarios(["sine"], jobs=1, policies=("sla",), previous={})
