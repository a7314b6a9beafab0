"""Bad input to ``sla-planner history``, through the real Prometheus: a frontend whose
counters reset (a restart) and which stops answering scrapes for a while. The reset
interval keeps its count (increase() counts across it) and says so; the scrape gap's
intervals are gaps, not low counts; the replicas can come from kube-state-metrics;
pulled with the other preset, every interval is missing, the reason names the preset
that does have series, and the command exits 2."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from planner.cli.main import main
from planner.history.format import read_history
from tests.integration.prometheus_server import PrometheusProcess, free_port
from tests.integration.service_helpers import until

pytestmark = [pytest.mark.prometheus, pytest.mark.slow, pytest.mark.timeout(90)]

RATE = 30.0  # requests per wall second = per 60-s interval at compression 60


class Frontend:
    """Dynamo-named counters growing at RATE per second; ``reset()`` restarts them at
    zero, ``down`` makes every scrape fail."""

    def __init__(self) -> None:
        self.base = time.time()
        self.down = False

    def reset(self) -> None:
        self.base = time.time()

    def text(self) -> str:
        n = RATE * (time.time() - self.base)
        p = "dynamo_frontend_"
        lines = [f"# TYPE {p}requests_started_total counter", f"{p}requests_started_total {n}"]
        for name, mean in (("input_sequence_tokens", 1000.0), ("output_sequence_tokens", 100.0)):
            lines += [
                f"# TYPE {p}{name} histogram",
                f'{p}{name}_bucket{{le="+Inf"}} {n}',
                f"{p}{name}_sum {mean * n}",
                f"{p}{name}_count {n}",
            ]
        for name, low in (
            ("time_to_first_token_seconds", 0.1),
            ("inter_token_latency_seconds", 0.02),
        ):
            lines += [
                f"# TYPE {p}{name} histogram",
                f'{p}{name}_bucket{{le="{low}"}} {0.9 * n}',
                f'{p}{name}_bucket{{le="+Inf"}} {n}',
                f"{p}{name}_sum {low * n}",
                f"{p}{name}_count {n}",
            ]
        lines += ["# TYPE kube_deployment_spec_replicas gauge"]
        lines += [
            f'kube_deployment_spec_replicas{{deployment="llm-{c}"}} 3'
            for c in ("prefill", "decode")
        ]
        lines += ["# TYPE sla_planner_current_replicas gauge"]
        lines += [
            f'sla_planner_current_replicas{{component="{c}"}} 1' for c in ("prefill", "decode")
        ]
        return "\n".join(lines) + "\n"


@pytest.fixture
def frontend() -> Iterator[tuple[Frontend, int]]:
    state = Frontend()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if state.down:
                self.send_response(503)
                self.end_headers()
                return
            body = state.text().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


async def test_reset_gap_and_wrong_preset_are_reported_per_interval(
    tmp_path: Path, frontend: tuple[Frontend, int], capsys: pytest.CaptureFixture[str]
) -> None:
    """See the module docstring; one-second intervals of Prometheus time."""
    state, port = frontend
    prom = PrometheusProcess(workdir=tmp_path, targets=[f"127.0.0.1:{port}"], scrape_s=0.1)
    await asyncio.to_thread(prom.start)
    try:
        # Prometheus applies its scrape targets a few seconds after it starts
        await until(
            lambda: bool(prom.query("dynamo_frontend_requests_started_total")), timeout_s=20
        )
        await asyncio.sleep(1.0)
        start = time.time()
        await asyncio.sleep(4.2)
        reset_at = time.time()
        state.reset()
        await asyncio.sleep(3.0)
        state.down = True
        down_at = time.time()
        await asyncio.sleep(3.0)
        state.down = False
        up_at = time.time()
        await asyncio.sleep(4.0)
        end = time.time() - 1.5  # the replica gauge is read one interval late
        out, wrong = tmp_path / "h.csv", tmp_path / "wrong.csv"
        base = ["history", "--url", prom.url, "--from", f"{start:.3f}", "--to", f"{end:.3f}"]
        base += ["--interval-s", "60", "--time-compression", "60"]
        code = await asyncio.to_thread(main, [*base, "--out", str(out)])
        ksm, config = tmp_path / "ksm.csv", tmp_path / "planner.yaml"
        config.write_text(
            "metrics:\n  replicas:\n    source: kube_state_metrics\n    deployments:\n"
            "      prefill: llm-prefill\n      decode: llm-decode\n"
        )
        code_ksm = await asyncio.to_thread(
            main, [*base, "--out", str(ksm), "--config", str(config)]
        )
        code_wrong = await asyncio.to_thread(main, [*base, "--out", str(wrong), "--preset", "vllm"])
    finally:
        await asyncio.to_thread(prom.stop)
    assert code == 0, capsys.readouterr()
    rows = read_history(out).rows

    def inside(t0: float, t1: float) -> list:  # type: ignore[type-arg]
        return [r for r in rows if t0 < r.end_unix_s - 0.5 < t1]

    resets = [r for r in rows if r.status == "reset"]
    assert len(resets) == 1, [(r.end_unix_s, r.status, r.reason) for r in rows]
    assert resets[0].end_unix_s - 1.0 < reset_at + 0.2 < resets[0].end_unix_s + 0.2
    assert resets[0].requests == pytest.approx(RATE, rel=0.4)
    assert "counter reset" in resets[0].reason
    down = inside(down_at + 0.3, up_at - 0.3)
    assert down and all(r.status == "gap" and r.requests is None for r in down), down
    healthy = [r for r in rows if r.status == "ok"]
    assert len(healthy) >= 5
    # one-second windows: a scrape delayed on a loaded machine moves one row's count by
    # tens of percent (the exporter's value is read later than its timestamp)
    assert statistics.median(r.requests or 0 for r in healthy) == pytest.approx(RATE, rel=0.1)
    for r in healthy:
        assert r.requests == pytest.approx(RATE, rel=0.4)
        assert r.isl_mean_tokens == pytest.approx(1000.0)
        assert r.replicas == {"prefill": 1.0, "decode": 1.0}
    assert code_ksm == 0
    from_ksm = read_history(ksm)
    assert from_ksm.meta.replicas_source == "kube_state_metrics"
    # (the exporter's outage took the replica series with it: those rows have none)
    ok_rows = [r for r in from_ksm.rows if r.status != "gap"]
    assert ok_rows and all(r.replicas == {"prefill": 3.0, "decode": 3.0} for r in ok_rows)
    assert code_wrong == 2
    missing = read_history(wrong).rows
    assert {r.status for r in missing} == {"missing"}
    assert "vllm:time_to_first_token_seconds_count" in missing[0].reason
    assert "set metrics.preset=dynamo" in missing[0].reason
