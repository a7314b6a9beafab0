"""A history pull's rows from its range answers: every interval gets a status and a
reason (gap, counter reset, missing series, a preset that is not the cluster's), and no
unknown becomes a zero. Also the PromQL the pull sends and how its results are parsed."""

from __future__ import annotations

import dataclasses
import math

import pytest

from connectors.history_queries import history_queries, parse_range
from connectors.history_rows import RangeAnswers, assemble_rows
from connectors.settings import MetricsSettings
from planner.errors import MetricsError

T = (100.0, 101.0, 102.0)  # row ends, Prometheus s (a 60-s interval at compression 60)
INF = math.inf
QUERIES = history_queries(MetricsSettings(), step_s=1.0)


def answers(**changes: object) -> RangeAnswers:
    """Three healthy intervals of 120 requests; ``changes`` replace scalar series."""
    scalars: dict[str, dict[float, float]] = {
        "requests": {t: 120.0 for t in T},
        "samples.requests": {t: 10.0 for t in T},
        "resets.requests": {t: 0.0 for t in T},
    }
    for col, total in (
        ("isl_mean_tokens", 360000.0),
        ("osl_mean_tokens", 18000.0),
        ("ttft_mean_s", 12.0),
        ("itl_mean_s", 214.56),
    ):
        scalars[f"{col}.sum"] = {t: total for t in T}
        scalars[f"{col}.count"] = {t: 120.0 if col != "itl_mean_s" else 17880.0 for t in T}
    for k, v in changes.items():
        if v is None:
            scalars.pop(k, None)
        else:
            assert isinstance(v, dict)
            scalars[k] = v
    buckets = {
        "ttft": {0.1: {t: 100.0 for t in T}, INF: {t: 120.0 for t in T}},
        "itl": {0.02: {t: 17000.0 for t in T}, INF: {t: 17880.0 for t in T}},
    }
    replicas = {"prefill": {t + 1.0: 2.0 for t in T}, "decode": {t + 1.0: 1.0 for t in T}}
    return RangeAnswers(
        grid_s=T, scalars=scalars, buckets=buckets, replicas=replicas, replicas_lag_s=1.0
    )


def rows(a: RangeAnswers, hint: str = "") -> list:  # type: ignore[type-arg]
    return list(
        assemble_rows(
            a, QUERIES, interval_s=60.0, components=("prefill", "decode"), missing_hint=hint
        )
    )


def test_healthy_intervals_are_ok_with_means_histograms_and_lagged_replicas() -> None:
    """120 requests in 60 s is 2 req/s; means are sum/count; replicas are read one step
    later (the planner's gauge describes the interval before its sample)."""
    r = rows(answers())[0]
    assert (r.status, r.reason) == ("ok", "")
    assert r.rate_rps == pytest.approx(2.0)
    assert r.isl_mean_tokens == pytest.approx(3000.0) and r.osl_mean_tokens == 150.0
    assert r.itl_mean_s == pytest.approx(0.012)
    assert r.ttft_buckets == ((0.1, 100.0), (INF, 120.0))
    assert r.replicas == {"prefill": 2.0, "decode": 1.0}


def test_a_scrape_gap_is_a_gap_with_its_reason_not_a_low_count() -> None:
    """An interval with no samples of the counter, and one with clearly fewer samples
    than a whole interval holds, are gaps without a request count (with replicas)."""
    a = answers(**{"samples.requests": {100.0: 10.0, 102.0: 4.0}})
    r0, r1, r2 = rows(a)
    assert r0.status == "ok"
    assert r1.status == "gap" and r1.requests is None and "no samples of" in r1.reason
    assert r2.status == "gap" and r2.requests is None and "metrics gap: 4 samples" in r2.reason
    assert not r1.usable and not r2.usable
    assert r1.replicas == {"prefill": 2.0, "decode": 1.0}  # the fleet is still known


def test_fast_scrapes_missing_a_sample_inside_the_window_are_not_a_gap() -> None:
    """With 15 samples in a whole interval, 13 is a missed scrape (no bias), 11 a gap."""
    a = answers(**{"samples.requests": {100.0: 15.0, 101.0: 15.0, 102.0: 13.0}})
    assert [r.status for r in rows(a)] == ["ok", "ok", "ok"]
    b = answers(**{"samples.requests": {100.0: 15.0, 101.0: 15.0, 102.0: 11.0}})
    assert [r.status for r in rows(b)] == ["ok", "ok", "gap"]


def test_a_counter_reset_is_counted_across_and_reported() -> None:
    """increase() has counted across the reset: the row keeps its count, says reset."""
    r = rows(answers(**{"resets.requests": {t: (1.0 if t == 101.0 else 0.0) for t in T}}))[1]
    assert r.status == "reset" and r.usable
    assert r.requests == 120.0 and r.counter_resets == 1
    assert "1 counter reset(s) of dynamo_frontend_requests_started_total" in r.reason


def test_no_demand_series_at_all_is_missing_with_the_preset_hint() -> None:
    """Neither the started counter nor its fallback has series: every row is missing,
    and the reason names both counters and the hint (another preset's series exist)."""
    a = answers(**{"requests": None, "samples.requests": None})
    out = rows(a, hint="series of preset 'vllm' exist: set metrics.preset=vllm")
    assert {r.status for r in out} == {"missing"}
    assert all(r.requests is None for r in out)
    assert "dynamo_frontend_requests_started_total nor its fallback" in out[0].reason
    assert "metrics.preset=vllm" in out[0].reason


def test_the_completed_counter_is_the_fallback_and_says_so() -> None:
    """Without the started counter, demand comes from the completed one (reason says)."""
    a = answers(
        **{
            "requests": None,
            "samples.requests": None,
            "requests_fallback": {t: 90.0 for t in T},
            "samples.requests_fallback": {t: 10.0 for t in T},
        }
    )
    r = rows(a)[0]
    assert r.status == "ok" and r.requests == 90.0
    assert "completed-requests counter dynamo_frontend_requests_total" in r.reason


def test_a_missing_length_series_leaves_an_empty_cell_not_a_zero() -> None:
    """No ISL series: the row is partial, its ISL unknown, its count still usable."""
    r = rows(answers(**{"isl_mean_tokens.sum": None, "isl_mean_tokens.count": None}))[0]
    assert r.status == "partial" and r.usable
    assert r.isl_mean_tokens is None and "no series for isl" in r.reason
    assert r.osl_mean_tokens == 150.0


def test_missing_replicas_and_idle_windows() -> None:
    """The last row has no replica sample (partial); an idle row has no means."""
    a = answers(requests={100.0: 0.0, 101.0: 120.0, 102.0: 120.0})
    a.replicas["prefill"].pop(103.0)
    r0, _, r2 = rows(a)
    assert r0.status == "idle" and r0.rate_rps == 0.0 and r0.isl_mean_tokens is None
    assert r2.status == "partial" and "no prefill replicas sample" in r2.reason
    assert r2.replicas.get("prefill") is None and r2.replicas["decode"] == 1.0


def test_queries_use_increase_resets_and_sample_counts() -> None:
    """Counts are increase() (reset-safe), resets() and count_over_time() come along."""
    q = QUERIES
    assert q.scalars["requests"].startswith("sum(increase(dynamo_frontend_requests_started_total")
    assert q.scalars["resets.requests"].startswith("sum(resets(")
    assert "count_over_time(" in q.scalars["samples.requests"]
    assert q.buckets["ttft"].startswith("sum by (le) (increase(")
    assert q.replicas is not None and "sla_planner_current_replicas" in q.replicas


def test_kube_state_metrics_replicas_map_deployments_to_components() -> None:
    """The kube-state-metrics source groups by deployment and maps names back."""
    s = MetricsSettings(
        replicas={
            "source": "kube_state_metrics",
            "deployments": {"prefill": "llm-prefill", "decode": "llm-decode"},
        }
    )
    q = history_queries(s, step_s=60.0)
    assert q.replicas is not None and "kube_deployment_spec_replicas" in q.replicas
    assert 'deployment=~"llm-decode|llm-prefill"' in q.replicas
    assert q.replicas_components == {"llm-prefill": "prefill", "llm-decode": "decode"}


def test_parse_range_drops_nan_and_refuses_unaggregated_results() -> None:
    """A NaN point is a gap (absent), not a zero; two series where one was expected is
    an error naming the query."""
    result = [{"metric": {}, "values": [[100, "5"], [101, "NaN"]]}]
    assert parse_range(result, query="q") == {"": {100.0: 5.0}}
    with pytest.raises(MetricsError, match="2 series for q"):
        parse_range(result * 2, query="q")
    by = [{"metric": {"le": "0.1"}, "values": [[100, "1"]]}]
    assert parse_range(by, query="q", by="le") == {"0.1": {100.0: 1.0}}


def test_a_reset_between_two_intervals_is_found_by_the_two_interval_window() -> None:
    """A reset between the last sample of one interval and the first of the next is in
    neither one-interval window; the two-interval window sees it, and it is reported
    on the later interval only (a reset inside an interval is not counted twice)."""
    base = answers(
        **{
            "resets.requests": {99.0: 0.0, 100.0: 1.0, 101.0: 0.0, 102.0: 0.0},
            "resets2.requests": {100.0: 1.0, 101.0: 1.0, 102.0: 1.0},
        }
    )
    a = dataclasses.replace(base, step_s=1.0)
    r0, r1, r2 = rows(a)
    assert (r0.status, r0.counter_resets) == ("reset", 1)  # inside: once
    assert (r1.status, r1.counter_resets) == ("ok", 0)  # the same reset, not again
    assert (r2.status, r2.counter_resets) == ("reset", 1)  # at the 101/102 edge


def test_the_file_records_the_prometheus_url_without_credentials() -> None:
    """user:password@ and a query string never reach the file's metadata."""
    from connectors.history_pull import _public

    assert _public("https://bob:s3cret@prom.example:9090/api?token=x") == (
        "https://prom.example:9090/api"
    )
    assert _public("http://[::1]:9090") == "http://[::1]:9090"


def test_without_a_replicas_source_no_row_is_partial_for_it() -> None:
    """``metrics.replicas.source: none``: no replica columns, and no 'partial' for them."""
    a = dataclasses.replace(answers(), replicas={}, replicas_read=False)
    assert {r.status for r in rows(a)} == {"ok"}
