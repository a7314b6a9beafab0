"""``sla-planner run`` with a multi-graph settings file: two emulated graphs through the
virtual connector in one small pool; the low-priority graph is preempted and says so in
its tick line, the pool's series and dollars are in /metrics' registry."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from planner.service.pool_app import PoolApp
from planner.settings import load_settings


def _file(tmp_path: Path) -> Path:
    tree = {
        "predictor": {"name": "constant"},
        "service": {"port": 0, "max_ticks": 4, "time_compression": 60},
        "pool": {
            "gpus": 5,
            "prices": [
                {"gpu_type": "H200", "capacity_type": "on-demand", "usd_per_gpu_hour": 4.0},
                {"gpu_type": "H200", "capacity_type": "spot", "usd_per_gpu_hour": 1.6},
            ],
        },
        "graphs": [
            {
                "name": "chat",
                "priority": 10,
                "floor_gpus": 2,
                "emulator": {"rate_scale": 8, "duration_s": 400},
            },
            {
                "name": "code",
                "priority": 1,
                "floor_gpus": 2,
                "capacity_type": "spot",
                "emulator": {"rate_scale": 8, "duration_s": 400, "seed": 3},
            },
        ],
    }
    path = tmp_path / "pool.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


@pytest.mark.slow
def test_two_emulated_graphs_share_one_pool(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Four ticks (~5 s wall): every tick's grants fit the 5-GPU pool, code is preempted
    by chat at least once (its tick line says preempted_by=chat), and the registry has
    per-graph dollars per hour at the configured prices, and each graph's connector
    series with its graph label, every family once in the exposition."""
    app = PoolApp(load_settings(config_file=_file(tmp_path)))
    caplog.set_level("INFO", logger="sla_planner.tick")
    result = asyncio.run(app.run())
    assert result.ticks == 4 and result.tick_errors == 0
    assert app.service is not None and app.service.last is not None
    assert app.service.last.result.used_gpus <= 5
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("graph=")]
    assert any(x.startswith("graph=code") and "preempted_by=chat" in x for x in lines), lines
    reg = app.service.telemetry.registry
    chat_rate = reg.get_sample_value("sla_planner_cost_usd_per_hour", {"graph": "chat"})
    code_rate = reg.get_sample_value("sla_planner_cost_usd_per_hour", {"graph": "code"})
    assert chat_rate is not None and chat_rate % 4.0 == pytest.approx(0.0)
    assert code_rate is not None and code_rate > 0
    assert reg.get_sample_value("sla_planner_pool_capacity_gpus") == 5
    for graph in ("chat", "code"):
        reads = reg.get_sample_value(
            "sla_planner_connector_calls_total", {"op": "read", "graph": graph}
        )
        assert reads is not None and reads >= 4, (graph, reads)
    names = [f.name for f in text_string_to_metric_families(generate_latest(reg).decode())]
    assert len(names) == len(set(names)) and "sla_planner_connector_calls" in names


@pytest.mark.slow
def test_simulate_graphs_measures_the_shared_pool_against_separate_pools(
    tmp_path: Path,
) -> None:
    """``simulate --graphs`` on 15 minutes of two bundled-trace graphs and a 7-GPU pool
    (chat's peak plus code's floor): the report has both runs per graph; the shared pool
    reserves fewer GPU-hours than the separate pools, and the high-priority graph keeps
    at least 99% of its requests within target."""
    import json
    import subprocess
    import sys

    from tests.conftest import REPO

    tree = yaml.safe_load(_file(tmp_path).read_text())
    tree["pool"]["gpus"] = 7  # chat's peak (5) and code's floor (2)
    for g in tree["graphs"]:
        g["emulator"]["duration_s"] = 900
    config = tmp_path / "sim.yaml"
    config.write_text(yaml.safe_dump(tree))
    out = tmp_path / "out"
    args = ["simulate", "--graphs", "--config", str(config), "--out", str(out)]
    r = subprocess.run(
        [sys.executable, "-m", "planner", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    result = json.loads((out / "summary.json").read_text())
    assert "| chat | 10 | shared |" in (out / "report.md").read_text()
    chat = next(g for g in result["graphs"] if g["graph"] == "chat")
    assert chat["shared"]["attainment"] >= 0.99
    pools = result["pools"]
    assert pools["shared"]["reserved_gpu_hours"] < pools["separate"]["reserved_gpu_hours"]
    assert pools["shared"]["reserved_gpus"] == 7


def test_simulate_without_a_trace_or_graphs_is_a_config_error() -> None:
    """``simulate`` with neither --trace nor --graphs exits 2 naming --trace."""
    import subprocess
    import sys

    from tests.conftest import REPO

    r = subprocess.run(
        [sys.executable, "-m", "planner", "simulate"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 2 and "--trace" in r.stderr
