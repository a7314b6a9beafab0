"""One GPU pool, several graphs: the example settings file loads, bad multi-graph files
name every problem, floors that cannot fit stop start-up with exit code 2 naming the
graphs, and the pool planner's decisions say what each graph asked, got and why."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.core.arbitration import ComponentAsk, GraphAsk, arbitrate
from planner.core.pool_stage import apply_grant
from planner.core.types import Component, Reason
from planner.errors import ConfigError
from planner.pool.planner import PoolPlanner
from planner.pool.pricing import CostMeter
from planner.settings import load_settings
from planner.settings.graphs import graph_configs
from tests.conftest import REPO
from tests.core_cases import window

P, D = Component.PREFILL, Component.DECODE
EXAMPLE = REPO / "deploy" / "examples" / "pool.yaml"


def _write(tmp_path: Path, tree: dict[str, Any]) -> Path:
    path = tmp_path / "pool.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def _tree(**pool: Any) -> dict[str, Any]:
    return {
        "predictor": {"name": "constant"},
        "pool": {"gpus": 8, **pool},
        "graphs": [
            {"name": "chat", "priority": 10, "floor_gpus": 2, "ttft_ms": 300},
            {"name": "code", "priority": 1, "floor_gpus": 2, "capacity_type": "spot"},
        ],
    }


def test_the_example_settings_file_loads_into_two_graphs() -> None:
    """deploy/examples/pool.yaml validates; each graph gets the top-level settings with
    its own overrides (trace, model filter), and both have a price."""
    s = load_settings(config_file=EXAMPLE)
    graphs = graph_configs(s)
    assert [g.name for g in graphs] == ["chat", "code"]
    chat, code = graphs
    assert chat.entry.priority > code.entry.priority
    assert chat.settings.metrics.model == "llama-3.1-8b-chat"
    assert code.settings.emulator.rate_scale == 15
    assert chat.settings.ttft_ms == s.ttft_ms == 500
    assert s.pool.usd_per_gpu_hour(code.entry.gpu_type, code.entry.capacity_type) == 1.60


def test_graph_overrides_merge_section_by_section(tmp_path: Path) -> None:
    """A graph's ``prefill: {min_replicas: 2}`` keeps the top-level prefill's other keys."""
    tree = _tree()
    tree["prefill"] = {"max_replicas": 7}
    tree["graphs"][0]["prefill"] = {"min_replicas": 2}
    graphs = graph_configs(load_settings(config_file=_write(tmp_path, tree)))
    assert (graphs[0].settings.prefill.min_replicas, graphs[0].settings.prefill.max_replicas) == (
        2,
        7,
    )
    assert graphs[0].settings.ttft_ms == 300 and graphs[1].settings.ttft_ms == 500


def test_every_problem_of_every_graph_is_named(tmp_path: Path) -> None:
    """Bad values in two graphs, a missing price and a repeated name are all reported at
    once, each field under graphs.<name>."""
    tree = _tree(prices=[{"gpu_type": "H200", "usd_per_gpu_hour": 4.0}])
    tree["graphs"][0]["ttft_ms"] = -1
    tree["graphs"][1]["decode"] = {"min_replicas": 5, "max_replicas": 2}
    tree["graphs"].append({"name": "chat"})
    with pytest.raises(ConfigError) as err:
        load_settings(config_file=_write(tmp_path, tree))
    fields = [f for f, _, _ in err.value.problems]
    assert "graphs" in fields
    assert "graphs.chat.ttft_ms" in fields
    assert "graphs.code.decode" in fields
    assert "graphs.code.gpu_type" in fields  # H200/spot has no price


def test_graphs_without_a_pool_size_are_refused(tmp_path: Path) -> None:
    """Listing graphs without pool.gpus is a ConfigError naming pool.gpus."""
    tree = _tree()
    del tree["pool"]
    with pytest.raises(ConfigError) as err:
        load_settings(config_file=_write(tmp_path, tree))
    assert err.value.field == "pool.gpus"


def test_floors_that_do_not_fit_stop_start_up_naming_the_graphs(tmp_path: Path) -> None:
    """Floors 6 + 5 GPUs in a pool of 8: PoolPlanner raises ConfigError on pool.gpus
    naming each graph's need, and ``sla-planner run`` exits 2 with that message."""
    tree = _tree()
    tree["graphs"][0]["floor_gpus"] = 6
    tree["graphs"][1]["floor_gpus"] = 5
    path = _write(tmp_path, tree)
    with pytest.raises(ConfigError) as err:
        PoolPlanner(graph_configs(load_settings(config_file=path)), pool_gpus=8)
    assert err.value.field == "pool.gpus"
    assert "chat 6" in str(err.value) and "code 5" in str(err.value)
    r = subprocess.run(
        [sys.executable, "-m", "planner", "run", "--config", str(path), "--max-ticks", "1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 2, r.stderr
    assert "chat 6" in r.stderr and "pool.gpus" in r.stderr


def test_pool_planner_cuts_the_low_priority_graph_and_says_why(tmp_path: Path) -> None:
    """Both graphs loaded to need more than a 6-GPU pool: the high-priority graph gets
    what it asked, the low one is cut to its floor with ``preempted`` naming the other
    graph and the numbers in its message; the pool is never exceeded."""
    tree = _tree()
    tree["pool"]["gpus"] = 6
    tree["graphs"][0]["floor_gpus"] = 2
    tree["graphs"][1]["floor_gpus"] = 2
    pool = PoolPlanner(
        graph_configs(load_settings(config_file=_write(tmp_path, tree))), pool_gpus=6
    )
    obs = {"chat": window(20.0), "code": window(20.0)}
    out = pool.step(obs, now=60.0)
    chat, code = out.result.grants["chat"], out.result.grants["code"]
    assert chat.asked_gpus > 2 and code.asked_gpus > 2
    assert out.result.used_gpus <= 6
    assert chat.granted_gpus == min(chat.asked_gpus, 4)
    assert code.reason is Reason.PREEMPTED and code.preempted_by == "chat"
    cut = out.decisions["code"].components
    assert any(Reason.PREEMPTED in cd.reasons for cd in cut.values())
    msg = next(cd.message for cd in cut.values() if Reason.PREEMPTED in cd.reasons)
    assert "preempted_by=chat" in msg and f"asked {code.asked_gpus} GPUs" in msg
    # the graph's state carries what it was granted
    assert pool.planners["code"].state.last_targets == out.decisions["code"].targets


def test_apply_grant_keeps_the_direction_reason_first() -> None:
    """A component cut below its current replicas reads scale_down first, then the pool
    reason; an uncut decision is returned unchanged."""
    asks = [
        GraphAsk(
            name="a",
            components={P: ComponentAsk(4, 1, 1), D: ComponentAsk(4, 1, 1)},
            priority=1,
        ),
        GraphAsk(name="b", components={P: ComponentAsk(4, 1, 1), D: ComponentAsk(4, 1, 1)}),
    ]
    result = arbitrate(asks, pool_gpus=10)
    assert result.grants["a"].reason is None
    b = result.grants["b"]
    assert b.targets == {P: 1, D: 1} and b.reason is Reason.PREEMPTED
    from planner.core.types import ComponentDecision, CorrectionFactors, Decision

    decision = Decision(
        time_s=60.0,
        policy="sla",
        components={
            c: ComponentDecision(
                c, 3, 4, 4, 1, (Reason.SCALE_UP,), f"{c.value} 3->4 (model wants 4)"
            )
            for c in (P, D)
        },
        correction=CorrectionFactors(),
        forecast=None,
        budget_gpus=None,
    )
    cut = apply_grant(decision, b)
    assert cut.components[P].target == 1
    assert cut.components[P].reasons == (Reason.SCALE_DOWN, Reason.PREEMPTED)
    assert "preempted_by=a" in cut.components[P].message
    assert apply_grant(decision, result.grants["a"]) is decision


def test_cost_meter_prices_gpu_hours_and_good_requests() -> None:
    """4 GPUs for half an hour at $2/GPU-h is $4; with 2,000 requests that met the SLO,
    $2 per 1,000; $8/h now."""
    m = CostMeter(usd_per_gpu_hour=2.0)
    assert m.usd_per_1k_good is None
    m.hold(gpus=4, seconds=1800)
    m.served(2000)
    assert m.usd == pytest.approx(4.0)
    assert m.usd_per_1k_good == pytest.approx(2.0)
    assert m.usd_per_hour == pytest.approx(8.0)


def test_docs_show_the_tested_example_file() -> None:
    """The settings example in docs/pool.md is deploy/examples/pool.yaml (same tree)."""
    import re

    doc = (REPO / "docs" / "pool.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", doc, re.S)
    assert block is not None
    assert yaml.safe_load(block.group(1)) == yaml.safe_load(EXAMPLE.read_text())


def test_every_reason_code_is_documented() -> None:
    """Every ``reason`` label value (Reason) has a row in docs/service.md's reason table,
    the pool's pool_clamped and preempted included."""
    doc = (REPO / "docs" / "service.md").read_text()
    table = doc.split("### Reason codes", 1)[1].split("\n\n", 2)[2]
    missing = [r.value for r in Reason if f"`{r.value}`" not in table]
    assert missing == []


def test_priced_summaries_and_the_html_report_show_dollars() -> None:
    """priced(): 2 GPU-hours at $3 is $6; with 1,000 of 2,000 requests within target,
    $6 per 1,000; the HTML report shows the dollar columns only when priced."""
    from planner.sim.report import priced, render_report
    from tests.unit.test_report import META, _summary

    s = _summary("sla", 0.5, 2.0)
    s["requests"] = 2000
    p = priced(s, usd_per_gpu_hour=3.0)
    assert p["usd"] == pytest.approx(6.0) and p["usd_per_1k_good"] == pytest.approx(6.0)
    plain = render_report(summaries=[p], meta=META, images=[])
    dollars = render_report(summaries=[p], meta={**META, "usd_per_gpu_hour": 3.0}, images=[])
    assert "$ / 1k met" not in plain and "$ / 1k met" in dollars
    assert "6.000" in dollars


def _agg(name: str, requested: int, **kw: Any) -> GraphAsk:
    return GraphAsk(name=name, components={Component.AGG: ComponentAsk(requested, 0, 1)}, **kw)


def test_weights_share_what_is_left_within_one_priority() -> None:
    """Two graphs of one priority, weights 2 and 1, both asking 20 of a 12-GPU pool with
    floors of 1: the 10 GPUs left go 7 to 3 (2:1 to within one GPU, the tie to the first
    name), and both say pool_clamped (nobody of a higher priority holds them)."""
    result = arbitrate(
        [_agg("a", 20, weight=2.0, floor_gpus=1), _agg("b", 20, weight=1.0, floor_gpus=1)],
        pool_gpus=12,
    )
    a, b = result.grants["a"], result.grants["b"]
    assert (a.granted_gpus - 1, b.granted_gpus - 1) == (7, 3)
    assert a.reason is b.reason is Reason.POOL_CLAMPED


def test_a_cluster_cap_below_the_pool_is_applied(tmp_path: Path) -> None:
    """``PoolPlanner.step(cap_gpus=...)``: the pool is min(pool.gpus, the cap) that tick."""
    tree = _tree()
    tree["pool"]["gpus"] = 20
    pool = PoolPlanner(
        graph_configs(load_settings(config_file=_write(tmp_path, tree))), pool_gpus=20
    )
    out = pool.step({"chat": window(20.0), "code": window(20.0)}, now=60.0, cap_gpus=6)
    assert out.result.pool_gpus == 6 and out.result.used_gpus <= 6
