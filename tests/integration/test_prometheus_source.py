"""PrometheusSource against a fake Prometheus HTTP API: idle vs missing, faults, auth, history."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connectors.prometheus import PrometheusSource
from planner.errors import MetricsError
from planner.settings import MetricsSettings
from tests.integration.fake_prometheus import FakePrometheus, dynamo_values


@pytest.fixture
async def fake() -> AsyncIterator[FakePrometheus]:
    server = FakePrometheus()
    await server.start()
    yield server
    await server.stop()


def _source(fake: FakePrometheus, **kw: object) -> PrometheusSource:
    settings = MetricsSettings(
        source="prometheus", url=fake.url, timeout_s=0.5, retries=1, backoff_s=0.01, **kw
    )
    return PrometheusSource(settings)


async def test_busy_window_gives_means_from_sum_over_count(fake: FakePrometheus) -> None:
    """Requests and each mean come from the increases; the rate uses the window."""
    fake.values = dynamo_values(requests=120, isl=2000, osl=150, ttft_s=0.3)
    src = _source(fake)
    obs = await src.observe(window_s=60)
    await src.close()
    assert not obs.is_missing and not obs.is_idle
    assert obs.requests == 120 and obs.request_rate_rps == pytest.approx(2.0)
    assert obs.isl_tokens == pytest.approx(2000) and obs.osl_tokens == pytest.approx(150)
    assert obs.ttft_s == pytest.approx(0.3) and obs.itl_s == pytest.approx(0.02)
    assert obs.request_duration_s == pytest.approx(2.0)
    # 2 demand counters, 10 sums/counts, the TTFT/ITL/ISL/OSL histograms (no _bucket
    # series here: None, not missing) and both demand counters' raw samples
    assert len(fake.queries) == 18 and all("[60000ms]" in q for q in fake.queries)
    assert obs.ttft_buckets is None


async def test_itl_isl_osl_histograms_and_decode_gauges_reach_the_observation(
    fake: FakePrometheus,
) -> None:
    """The ITL, ISL and OSL histograms are read like TTFT's (each with its own filter),
    and the decode waiting/running gauges come from their configured expressions; a
    negative gauge (a broken exporter) makes the window missing, naming the query."""
    fake.values = dynamo_values(requests=100) | {
        "vllm:num_requests_waiting": 7.0,
        "vllm:num_requests_running": 3.0,
    }
    p = "dynamo_frontend_"
    fake.buckets = {
        f"{p}inter_token_latency_seconds_bucket": [("0.05", 90.0), ("+Inf", 100.0)],
        f"{p}input_sequence_tokens_bucket": [("1024", 40.0), ("+Inf", 100.0)],
        f"{p}output_sequence_tokens_bucket": [("+Inf", 100.0), ("128", 70.0)],
    }
    src = _source(
        fake,
        decode_waiting='sum(vllm:num_requests_waiting{service="decode"})',
        decode_running='sum(vllm:num_requests_running{service="decode"})',
        filters={"itl": 'job="fe"'},
    )
    obs = await src.observe(window_s=60)
    fake.values["vllm:num_requests_running"] = -1.0
    broken = await src.observe(window_s=60)
    await src.close()
    assert broken.is_missing and "vllm:num_requests_running" in (broken.missing_reason or "")
    assert obs.itl_buckets == ((0.05, 90.0), (float("inf"), 100.0))
    assert obs.isl_buckets == ((1024.0, 40.0), (float("inf"), 100.0))
    assert obs.osl_buckets == ((128.0, 70.0), (float("inf"), 100.0))
    assert obs.ttft_buckets is None
    assert obs.decode_waiting == 7.0 and obs.decode_running == 3.0
    assert any(
        q.startswith(f"sum by (le) (increase({p}inter_token") and 'job="fe"' in q
        for q in fake.queries
    )


async def test_ttft_histogram_comes_back_sorted_and_a_broken_one_is_missing(
    fake: FakePrometheus,
) -> None:
    """The window's TTFT buckets (one series per le, any order) become the observation's
    cumulative histogram; a histogram without its +Inf bucket makes the window missing,
    with the reason, like any other broken metric."""
    fake.values = dynamo_values(requests=120)
    name = "dynamo_frontend_time_to_first_token_seconds_bucket"
    fake.buckets = {name: [("+Inf", 120.0), ("0.5", 114.0), ("0.1", 60.0)]}
    src = _source(fake)
    obs = await src.observe(window_s=60)
    assert obs.ttft_buckets == ((0.1, 60.0), (0.5, 114.0), (float("inf"), 120.0))
    fake.buckets = {name: [("0.5", 114.0)]}
    broken = await src.observe(window_s=60)
    await src.close()
    assert broken.is_missing and "+Inf" in (broken.missing_reason or "")


async def test_zero_requests_is_idle_not_missing(fake: FakePrometheus) -> None:
    """increase() == 0 (counters exist, nothing happened) is idle with undefined means."""
    fake.values = dynamo_values(requests=0)
    src = _source(fake)
    obs = await src.observe(window_s=60)
    await src.close()
    assert obs.is_idle and not obs.is_missing
    assert obs.ttft_s is None and obs.isl_tokens is None


async def test_absent_histogram_leaves_that_mean_undefined(fake: FakePrometheus) -> None:
    """A histogram with no series gives None for its mean, not 0, while others stay."""
    values = dynamo_values(requests=10)
    del values["dynamo_frontend_inter_token_latency_seconds_sum"]
    del values["dynamo_frontend_inter_token_latency_seconds_count"]
    fake.values = values
    src = _source(fake)
    obs = await src.observe(window_s=60)
    await src.close()
    assert obs.itl_s is None and obs.ttft_s == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("empty", "no series for dynamo_frontend_requests_started_total nor its fallback"),
        ("nan", "non-finite"),
        ("http500", "HTTP 500"),
        ("slow", "timed out"),
        ("bad_query", "parse error"),
    ],
)
async def test_faults_give_missing_with_reason(
    fake: FakePrometheus, mode: str, reason: str
) -> None:
    """No series, NaN, 500s, slowness and bad queries are 'missing', never a number."""
    fake.values = dynamo_values(requests=50)
    fake.mode = mode
    src = _source(fake)
    obs = await src.observe(window_s=60)
    await src.close()
    assert obs.is_missing and reason in (obs.missing_reason or "")
    assert obs.requests == 0 and obs.ttft_s is None


async def test_500s_are_retried_and_recover(fake: FakePrometheus) -> None:
    """A retryable failure is retried, at most retries + 1 attempts per query; once one
    query has used them all the window is missing and the others are cancelled, not
    left retrying."""
    fake.values = dynamo_values(requests=5)
    fake.mode = "http500"
    src = _source(fake)
    try:
        assert (await src.observe(window_s=60)).is_missing
        ours = ("_awaited", "PrometheusSource.", "PrometheusClient.")
        left = [t for t in asyncio.all_tasks() if t.get_coro().__qualname__.startswith(ours)]
        assert left == [], "queries still running after the window was reported missing"
        per_query = Counter(fake.queries)
        assert max(per_query.values()) == 2 and len(fake.queries) <= 36
        fake.mode = "ok"
        obs = await src.observe(window_s=60)
    finally:
        await src.close()
    assert obs.requests == 5


async def test_bearer_token_is_sent_and_reread_on_change(
    fake: FakePrometheus, tmp_path: Path
) -> None:
    """The token file is read per request and a rotated token is picked up."""
    token = tmp_path / "token"
    token.write_text("first\n")
    fake.values = dynamo_values(requests=1)
    src = _source(fake, bearer_token_file=token)
    await src.observe(window_s=60)
    first = len(fake.auth_headers)
    token.write_text("second-token\n")
    st = token.stat()
    os.utime(token, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    await src.observe(window_s=60)
    await src.close()
    assert first > 0 and len(fake.auth_headers) == 2 * first
    assert set(fake.auth_headers[:first]) == {"Bearer first"}
    assert set(fake.auth_headers[first:]) == {"Bearer second-token"}


async def test_missing_token_file_is_missing_data(fake: FakePrometheus, tmp_path: Path) -> None:
    """An unreadable token file makes the window missing with the path in the reason."""
    src = _source(fake, bearer_token_file=tmp_path / "nope")
    obs = await src.observe(window_s=60)
    await src.close()
    assert obs.is_missing and "nope" in (obs.missing_reason or "")


def test_bad_ca_file_is_a_clear_error(tmp_path: Path) -> None:
    """A CA file that is not a certificate fails at construction, naming the setting."""
    bad = tmp_path / "ca.pem"
    bad.write_text("not a cert")
    with pytest.raises(MetricsError, match="ca_file"):
        PrometheusSource(MetricsSettings(ca_file=bad))


async def test_compression_shrinks_the_query_window(fake: FakePrometheus) -> None:
    """With compression 20 a 60 s planner window is a 3 s Prometheus window."""
    fake.values = dynamo_values(requests=30)
    src = PrometheusSource(MetricsSettings(url=fake.url), time_compression=20)
    obs = await src.observe(window_s=60)
    await src.close()
    assert all("[3000ms]" in q for q in fake.queries)
    assert obs.window_s == 60 and obs.request_rate_rps == pytest.approx(0.5)


async def test_history_distinguishes_gaps_idle_and_load(fake: FakePrometheus) -> None:
    """query_range: a missing step is a gap (None), zero is idle, else rate per second."""
    p = "dynamo_frontend_"
    fake.ranges = {
        f"{p}requests_total": [(100.0, 60.0), (160.0, 0.0)],
        f"{p}input_sequence_tokens_sum": [(100.0, 60_000.0), (160.0, 0.0)],
        f"{p}input_sequence_tokens_count": [(100.0, 60.0), (160.0, 0.0)],
    }
    src = _source(fake)
    points = await src.history(start_s=100, end_s=220, step_s=60)
    await src.close()
    assert [p.request_rate_rps for p in points] == [1.0, 0.0, None]
    assert points[0].isl_tokens == pytest.approx(1000) and points[0].osl_tokens is None
    assert points[1].isl_tokens is None
    assert all("query_range" not in q for q in fake.queries)


async def test_demand_reads_started_requests_and_falls_back_to_completed(
    fake: FakePrometheus,
) -> None:
    """Demand is the started counter (120 here, while only 80 completed under
    backpressure); a frontend without it is read from the completed counter, and the
    source's status says so, naming both counters; without a fallback the window is
    missing."""
    fake.values = dynamo_values(requests=120, completed=80)
    src = _source(fake)
    assert src.status() == {"demand": None}
    obs = await src.observe(window_s=60)
    assert obs.requests == 120
    assert src.status()["demand"] == {
        "counter": "dynamo_frontend_requests_started_total",
        "fallback": False,
    }
    fake.values["dynamo_frontend_requests_started_total"] = None  # an older frontend
    obs = await src.observe(window_s=60)
    await src.close()
    assert obs.requests == 80
    demand = src.status()["demand"]
    assert demand["counter"] == "dynamo_frontend_requests_total" and demand["fallback"]
    assert "dynamo_frontend_requests_started_total has no series" in demand["note"]
    assert "backpressure" in demand["note"]
    strict = _source(fake, requests_fallback="")
    obs = await strict.observe(window_s=60)
    await strict.close()
    assert obs.is_missing
    assert obs.missing_reason == "no series for dynamo_frontend_requests_started_total"


async def test_history_prefers_started_requests(fake: FakePrometheus) -> None:
    """Warm-start history reads the started counter when it has samples."""
    p = "dynamo_frontend_"
    fake.ranges = {
        f"{p}requests_started_total": [(100.0, 120.0)],
        f"{p}requests_total": [(100.0, 60.0)],
    }
    src = _source(fake)
    points = await src.history(start_s=100, end_s=100, step_s=60)
    await src.close()
    assert [p.request_rate_rps for p in points] == [2.0]


async def test_history_failure_raises(fake: FakePrometheus) -> None:
    """history() is for warm starts: a failed range query raises MetricsError."""
    fake.mode = "http500"
    src = _source(fake)
    with pytest.raises(MetricsError, match="500"):
        await src.history(start_s=0, end_s=60, step_s=60)
    await src.close()


@pytest.mark.parametrize(
    ("covered_s", "missing"), [(None, False), (50.0, False), (44.0, True), (31.0, True)]
)
async def test_window_straddling_a_metrics_gap_is_missing(
    fake: FakePrometheus, covered_s: float | None, missing: bool
) -> None:
    """Samples 5 s apart that span only the last 44 s (or 31 s) of a 60-s window: a gap
    at the window's edge, so the window is missing with the reason, never read low; a
    window spanned but for about two scrape intervals is planned on."""
    fake.values = dynamo_values(requests=600)
    fake.scrape_s = 5.0
    fake.covered_s = covered_s
    src = _source(fake)
    obs = await src.observe(window_s=60)
    await src.close()
    assert obs.is_missing is missing
    if missing:
        assert "metrics gap" in (obs.missing_reason or "")
        assert "of the 60-s window" in (obs.missing_reason or "")
    else:
        assert obs.requests == 600
