"""``sla-planner run`` as a process: ticks print one line each, SIGTERM ends it cleanly
with the summary, and a short replay ends on its own with the summary."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO


def _run(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "planner", "run", "--port", "0", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigterm_finishes_the_tick_and_exits_zero_with_summary() -> None:
    """The first SIGTERM lets the current tick finish, then prints ticks and summary."""
    proc = _run("--time-compression", "60")
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.startswith("tick=1 "), first
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "SLA attainment" in out and "GPU-hours" in out
    assert "finishing the current tick" in err


def test_short_replay_ends_with_summary() -> None:
    """--duration-s bounds the replay; the run stops by itself after the trace."""
    started = time.monotonic()
    proc = _run("--time-compression", "120", "--duration-s", "300", "--rate-scale", "4")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    lines = [ln for ln in out.splitlines() if ln.startswith("tick=")]
    assert 4 <= len(lines) <= 6, out
    assert all(" reason=prefill:" in ln for ln in lines)
    assert "requests " in out and "scale events" in out
    assert time.monotonic() - started < 60


def test_kubernetes_connector_with_the_emulated_source_is_refused(tmp_path: Path) -> None:
    """A config that names a Kubernetes target but leaves metrics.source at its default
    (the emulated graph) would run a made-up graph and write nothing: run exits 2 naming
    the field, the value and the fix. --emulate asks for it on purpose and runs."""
    config = tmp_path / "settings.yaml"
    config.write_text(
        "connector:\n  kind: kubernetes\n  kubernetes:\n    target: dgd\n    graph_name: g\n"
    )
    refused = subprocess.run(
        [sys.executable, "-m", "planner", "run", "--port", "0", "--config", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2, refused.stderr
    assert "metrics.source='emulated'" in refused.stderr
    assert "connector.kind is kubernetes" in refused.stderr and "--emulate" in refused.stderr
    proc = _run(
        "--config", str(config), "--emulate", "--time-compression", "120", "--max-ticks", "1"
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "tick=1 " in out and "connector.kind=kubernetes is not used" in err
