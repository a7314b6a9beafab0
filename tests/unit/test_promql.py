"""PromQL text built from settings, and strict parsing of Prometheus answers."""

from __future__ import annotations

import pytest

from connectors.promql import (
    interval_queries,
    label_filters,
    parse_buckets,
    parse_matrix,
    parse_scalar_vector,
    promql_duration,
    ttft_bucket_query,
)
from planner.errors import MetricsError
from planner.settings import MetricsSettings


def _vector(*values: str) -> dict[str, object]:
    result = [{"metric": {}, "value": [1.0, v]} for v in values]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def test_dynamo_default_queries_are_sum_of_increase_over_the_window() -> None:
    """Defaults follow DESIGN.md: Dynamo frontend names, sum(increase(X{f}[W])); demand
    is the started counter, with the completed one as its fallback."""
    q = interval_queries(MetricsSettings(), window_s=60)
    assert q.requests == "sum(increase(dynamo_frontend_requests_started_total{}[60000ms]))"
    assert q.requests_fallback == "sum(increase(dynamo_frontend_requests_total{}[60000ms]))"
    assert q.sums["ttft_s"] == (
        "sum(increase(dynamo_frontend_time_to_first_token_seconds_sum{}[60000ms]))"
    )
    assert q.counts["isl_tokens"] == (
        "sum(increase(dynamo_frontend_input_sequence_tokens_count{}[60000ms]))"
    )
    assert len(q.all()) == 12


def test_model_filter_is_case_insensitive_and_escaped() -> None:
    """The model matcher is a (?i) regex with regex and PromQL metacharacters escaped."""
    s = MetricsSettings(model='meta/Llama-3.1"x', namespace="ns1")
    f = label_filters(s)
    assert f.startswith('model=~"(?i)meta/Llama\\\\-3\\\\.1\\"x"')
    assert f.endswith(',dynamo_namespace="ns1"')


def test_vllm_preset_and_overrides() -> None:
    """The vLLM preset reads vLLM's own names with its model label (demand from the TTFT
    histogram's count, completed requests as the fallback); a set name overrides it and
    an empty fallback turns the fallback off."""
    q = interval_queries(MetricsSettings(preset="vllm", model="m"), window_s=3)
    sel = '{model_name=~"(?i)m"}'
    assert q.requests == f"sum(increase(vllm:time_to_first_token_seconds_count{sel}[3000ms]))"
    assert q.requests_fallback == f"sum(increase(vllm:request_success_total{sel}[3000ms]))"
    assert "vllm:inter_token_latency_seconds_sum" in q.sums["itl_s"]
    assert "vllm:request_prompt_tokens_count" in q.counts["isl_tokens"]
    assert "vllm:e2e_request_latency_seconds_sum" in q.sums["request_duration_s"]
    s = MetricsSettings(
        preset="vllm",
        requests="my_requests_total",
        requests_fallback="",
        itl="vllm:time_per_output_token_seconds",
    )
    q = interval_queries(s, window_s=3)
    assert q.requests == "sum(increase(my_requests_total{}[3000ms]))"
    assert q.requests_fallback is None and "requests_fallback" not in q.all()
    assert "vllm:time_per_output_token_seconds_sum" in q.sums["itl_s"]


def test_per_metric_filters_reach_only_their_metric() -> None:
    """metrics.filters adds matchers to one metric's queries (its sum, count, buckets),
    after the shared ones; the other metrics keep the shared selector; an unknown metric
    key is a settings error naming it."""
    s = MetricsSettings(
        preset="vllm",
        extra_filters='namespace="inference"',
        filters={"ttft": 'service="vllm-prefill"', "itl": 'service="vllm-decode"'},
    )
    q = interval_queries(s, window_s=1)
    prefill = '{namespace="inference",service="vllm-prefill"}'
    assert f"vllm:time_to_first_token_seconds_sum{prefill}" in q.sums["ttft_s"]
    assert f"vllm:time_to_first_token_seconds_count{prefill}" in q.counts["ttft_s"]
    assert f"vllm:time_to_first_token_seconds_bucket{prefill}" in ttft_bucket_query(s, window_s=1)
    assert (
        'vllm:inter_token_latency_seconds_sum{namespace="inference",service="vllm-decode"}'
        in (q.sums["itl_s"])
    )
    assert '_count{namespace="inference"}' in q.requests
    with pytest.raises(ValueError, match="filters"):
        MetricsSettings(filters={"latency": "x"})  # type: ignore[dict-item]


def test_namespace_without_label_is_a_clear_error() -> None:
    """vLLM has no namespace label: asking to filter on one names the fix."""
    with pytest.raises(MetricsError, match="namespace_label"):
        label_filters(MetricsSettings(preset="vllm", namespace="x"))


def test_duration_is_whole_milliseconds() -> None:
    """Compressed windows (e.g. 60 s / 20) become exact millisecond durations."""
    assert promql_duration(3.0) == "3000ms"
    assert promql_duration(60 / 7) == "8571ms"
    assert promql_duration(0.0001) == "1ms"


def test_scalar_parse_separates_empty_zero_and_nan() -> None:
    """No series -> None; zero -> 0.0; NaN/Inf/negative/error -> MetricsError."""
    assert parse_scalar_vector(_vector(), query="q") is None
    assert parse_scalar_vector(_vector("0"), query="q") == 0.0
    assert parse_scalar_vector(_vector("12.5"), query="q") == 12.5
    for bad in ("NaN", "+Inf", "-3"):
        with pytest.raises(MetricsError):
            parse_scalar_vector(_vector(bad), query="q")
    with pytest.raises(MetricsError, match="series"):
        parse_scalar_vector(_vector("1", "2"), query="q")
    with pytest.raises(MetricsError, match="boom"):
        parse_scalar_vector({"status": "error", "error": "boom"}, query="q")
    matrix = {"status": "success", "data": {"resultType": "matrix", "result": []}}
    with pytest.raises(MetricsError, match="vector"):
        parse_scalar_vector(matrix, query="q")


def test_matrix_parse_drops_nan_points_as_gaps() -> None:
    """A NaN step in a range result is absent (a gap), never a zero."""
    payload = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [{"metric": {}, "values": [[10, "1"], [20, "NaN"], [30, "0"]]}],
        },
    }
    assert parse_matrix(payload, query="q") == {10.0: 1.0, 30.0: 0.0}


def _le_vector(series: list[tuple[str, str]]) -> dict[str, object]:
    result = [{"metric": {"le": le}, "value": [1.0, v]} for le, v in series]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def test_ttft_bucket_query_sums_each_bucket_series_by_le() -> None:
    """The window's TTFT histogram is one query: increase of every _bucket series,
    summed by le, with the same filters and window as the means."""
    q = ttft_bucket_query(MetricsSettings(model="Llama"), window_s=60)
    assert q.startswith("sum by (le) (increase(dynamo_frontend_time_to_first_token_seconds_bucket{")
    assert "[60000ms]" in q and "(?i)Llama" in q


def test_bucket_parse_sorts_bounds_and_needs_the_inf_bucket() -> None:
    """Series come in any order and are sorted by bound (+Inf last); no series is None;
    a missing +Inf bucket, a non-numeric le, or a NaN count is a MetricsError."""
    got = parse_buckets(_le_vector([("+Inf", "100"), ("0.5", "80"), ("1", "90")]), query="q")
    assert got == ((0.5, 80.0), (1.0, 90.0), (float("inf"), 100.0))
    assert parse_buckets(_le_vector([]), query="q") is None
    with pytest.raises(MetricsError, match="Inf"):
        parse_buckets(_le_vector([("0.5", "80")]), query="q")
    with pytest.raises(MetricsError, match="le='fast'"):
        parse_buckets(_le_vector([("fast", "1"), ("+Inf", "2")]), query="q")
    with pytest.raises(MetricsError, match="non-finite"):
        parse_buckets(_le_vector([("0.5", "NaN"), ("+Inf", "2")]), query="q")
