"""The deployment rehearsal (tests/integration/rehearsal.py): each overlay, rendered by
kubectl, runs as its pods would (the installed wheel, the container's args and env, the
ConfigMap at its mount path, two replicas electing a leader) against the real
Prometheus scraping an emulated graph under Dynamo's or vLLM's metric names, and the
fake API server holding the graph's objects. The objects' replicas must follow the
load: up when it rises, down when it falls; the dashboard shows the leader's decision,
the one written; the advisory overlay only reads, and what KEDA would read follows the
load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from planner.core.types import Component
from tests.integration.installed import Installed
from tests.integration.kustomize import DEPLOY, render
from tests.integration.rehearsal import END_S, HIGH_FROM_S, HIGH_RPS, HIGH_TO_S, rehearse

pytestmark = [pytest.mark.prometheus, pytest.mark.slow, pytest.mark.timeout(600)]
P, D = Component.PREFILL, Component.DECODE


def _dashboard_desired() -> str:
    dashboard = json.loads((DEPLOY / "grafana" / "sla-planner-dashboard.json").read_text())
    (panel,) = [p for p in dashboard["panels"] if p["title"].startswith("Replicas: desired")]
    return str(panel["targets"][0]["expr"])


KEDA = (
    'max by (component) (sla_planner_desired_replicas{namespace="$namespace", '
    'job="$job", component="prefill"})'
)
LEADERS = 'count(sla_planner_leader{namespace="$namespace", job="$job"} == 1)'
OBSERVED = 'max(sla_planner_observed_requests_per_second{namespace="$namespace", job="$job"})'
MID_S, LATE_S = HIGH_TO_S - 150, END_S - 200


def _values(vector: list[dict[str, Any]], label: str = "component") -> dict[str, float]:
    return {x["metric"].get(label, ""): float(x["value"][1]) for x in vector}


@pytest.mark.parametrize("overlay", ["dynamo", "vllm"])
async def test_rendered_overlay_scales_its_objects_with_the_load(
    overlay: str, installed_planner: Installed, tmp_path: Path
) -> None:
    """Before the load rises the objects stay at one prefill replica; while it is high
    prefill grows; once it is low again prefill comes back down. The pods read the
    offered load (the demand counter, from the right servers: vLLM's prefill and decode
    servers both count every request). Both pods run to the end and exit 0 on SIGTERM,
    one holds the lease, and late in the run the dashboard's desired replicas (the
    leader's, not a sum over the two pods) equal the object's replicas."""
    docs = render(DEPLOY / "overlays" / overlay)
    desired = _dashboard_desired()
    r = await rehearse(
        docs,
        installed=installed_planner,
        workdir=tmp_path,
        queries={MID_S: [OBSERVED], LATE_S: [desired, LEADERS]},
    )
    why = r.log_tails()
    assert r.timeline and r.timeline[-1][0] > LATE_S, why
    assert r.exit_codes == [0, 0], why
    before = [x[P] for x in r.replicas_between(0.0, HIGH_FROM_S)]
    during = [x[P] for x in r.replicas_between(HIGH_FROM_S, HIGH_TO_S)]
    assert before and set(before) == {1}, why
    peak = max(during)
    assert peak >= 2, why
    assert r.timeline[-1][1][P] < peak, why
    observed = _values(r.queries[(MID_S, OBSERVED)])[""]
    assert 0.8 * HIGH_RPS < observed < 1.2 * HIGH_RPS, observed
    assert r.lease_holder in r.pod_names and r.writes > 0
    assert _values(r.queries[(LATE_S, LEADERS)]) == {"": 1.0}
    shown = _values(r.queries[(LATE_S, desired)])
    # the object held the leader's number when the dashboard was read (give or take the
    # write in flight at that moment)
    around = {float(x[P]) for x in r.replicas_between(LATE_S - 120, LATE_S + 120)}
    assert shown["prefill"] in around, (shown, around)


async def test_advisory_overlay_publishes_and_never_writes(
    installed_planner: Installed, tmp_path: Path
) -> None:
    """The advisory overlay's pods read the graph and the cluster's capacity with nothing
    but the read-only Role's and ClusterRole's rules (no call is refused) and never
    write it, while the desired replicas they publish follow the load: what KEDA's
    query reads (once, with max by) rises during the high load."""
    docs = render(DEPLOY / "overlays" / "advisory")
    roles = [d for d in docs if d["kind"] in ("Role", "ClusterRole")]
    granted = {
        (g, res, v)
        for role in roles
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for res in rule["resources"]
        for v in rule["verbs"]
    }
    r = await rehearse(docs, installed=installed_planner, workdir=tmp_path, queries={MID_S: [KEDA]})
    why = r.log_tails()
    assert r.exit_codes == [0, 0], why
    assert r.writes == 0 and {x[P] for _, x in r.timeline} == {1}
    assert r.rules_used and r.rules_used <= granted, r.rules_used - granted
    assert 403 not in r.statuses
    assert r.lease_holder is None  # no leader election: nothing to elect for
    assert _values(r.queries[(MID_S, KEDA)])["prefill"] >= 2, why
