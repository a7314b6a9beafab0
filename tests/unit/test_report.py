"""The comparison report: the verdict (goal first, GPU-hours second, the oracle only a
reference) and the HTML page built from the Jinja2 template, verdict at the top."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from planner.sim.report import render_report
from planner.sim.verdict import verdict


def _summary(policy: str, both: float, gpu_hours: float) -> dict[str, Any]:
    return {
        "policy": policy,
        "attainment": {"both": both, "ttft": both, "itl": 1.0},
        "gpu_hours": gpu_hours,
        "peak_gpus_held": 4,
        "ttft_ms": {"p50": 40.0, "p99": 300.0},
        "itl_ms": {"p50": 9.5, "p99": 16.0},
        "goodput_rps": 17.5,
        "scale_events": {"prefill": 2, "decode": 1},
        "direction_reversals": {"prefill": 0, "decode": 0},
        "budget_violations": 0,
    }


SUMMARIES = [
    _summary("sla", 0.995, 41.0),
    _summary("dynamo", 0.971, 35.0),
    _summary("static", 0.999, 50.0),
    _summary("oracle", 0.991, 30.0),
]
META = {"trace": "/data/azure_conv.csv", "ttft_ms": 500.0, "itl_ms": 50.0, "mode": "disagg"}


def test_verdict_picks_the_cheapest_policy_that_met_the_goal() -> None:
    """dynamo is cheaper but missed 99%; the oracle is cheaper but sees the future; sla
    wins over static with 18% fewer GPU-hours, and the misses are listed."""
    v = verdict(SUMMARIES, goal=0.99)
    assert v.winner == "sla"
    assert v.headline == (
        "sla met the 99.00% goal (99.50% of requests within both targets) with the fewest "
        "GPU-hours: 41.00, 18% fewer than static (50.00)."
    )
    assert v.details[0] == "dynamo missed the goal: 97.10% at 35.00 GPU-hours."
    assert "oracle (perfect foresight, a cost reference, not deployable)" in v.details[1]


def test_verdict_when_no_policy_met_the_goal() -> None:
    """Nobody at 99%: no winner, the headline names the closest policy."""
    v = verdict([_summary("sla", 0.98, 40.0), _summary("dynamo", 0.95, 30.0)], goal=0.99)
    assert v.winner is None
    assert v.headline == (
        "No policy met the 99.00% goal; the closest was sla with 98.00% at 40.00 GPU-hours."
    )


class _Outline(HTMLParser):
    """The page's elements in order, with classes, and the text of table cells."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[str] = []
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        cls = dict(attrs).get("class") or ""
        self.order.append(f"{tag}.{cls}" if cls else tag)
        if tag == "tr":
            self.rows.append([])
        if tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_html_report_opens_with_the_verdict_then_a_real_table_and_the_plots() -> None:
    """The verdict section comes before any table; the policy table has one row per
    policy with formatted numbers (the winner's row marked); plots are embedded PNGs
    with captions; the run's settings are a table, not a JSON dump."""
    page = render_report(
        summaries=SUMMARIES, meta=META, images=[("comparison", b"\x89PNG fake")], goal=0.99
    )
    outline = _Outline()
    outline.feed(page)
    assert outline.order.index("section.verdict") < outline.order.index("table")
    assert "sla met the 99.00% goal" in page
    policy_rows = [r for r in outline.rows if r and r[0] in ("sla", "dynamo", "static", "oracle")]
    assert [r[0] for r in policy_rows] == ["sla", "dynamo", "static", "oracle"]
    assert policy_rows[0][:5] == ["sla", "99.50%", "99.50%", "100.00%", "41.00"]
    assert policy_rows[0][11] == "3"  # scale events summed over components
    assert '<tr class="winner">' in page
    assert "data:image/png;base64,iVBORyBmYWtl" in page and "<figcaption>GPUs held" in page
    assert any(r == ["disagg"] for r in outline.rows)
    assert "<title>sla-planner simulation: azure_conv.csv</title>" in page
