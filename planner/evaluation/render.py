"""docs/simulation.md from the evaluation's results: the two sets side by side (each
policy's attainment and GPU-hours, static99's own attainment, the sla policy's bars and
whether each is met), the validation set's recipes, and one section per scenario.

The doc is the template (planner/evaluation/simulation_template.md) with ``{{SUMMARY}}``,
``{{VALIDATION_SET}}`` and ``{{RESULTS}}`` filled in; blocks other scripts write (the
feasibility block) are kept from the current doc.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from planner.evaluation.goals import bars, static_reached, verdict_cell
from planner.evaluation.scenario import SETS
from planner.evaluation.scenarios import SCENARIOS, scenarios_in

TEMPLATE = Path(__file__).parent / "simulation_template.md"
#: blocks other scripts write into the doc (kept when the doc is regenerated)
FEASIBILITY = ("<!-- feasibility:begin -->", "<!-- feasibility:end -->")
_ORDER = ("sla", "dynamo", "threshold", "static", "oracle")


def _cell(p: Mapping[str, Any]) -> str:
    return f"{100 * p['attainment']['both']:.2f}% / {p['gpu_hours']:.2f}"


def summary_table(results: Mapping[str, Any]) -> str:
    """Both sets, one row per scenario run: SLA attainment / GPU-hours of each policy and
    the sla policy's bars."""
    head = (
        "| set | scenario | sla | dynamo | threshold | static99 (fleet) | oracle "
        "| sla >= 99% | sla <= static99 | diurnal: sla <= static99 - 0.3 x (static99 - oracle) |"
    )
    lines = [head, "|" + "---|" * 10]
    for set_name in SETS:
        for sc in scenarios_in(set_name):
            if sc.name not in results:
                continue
            pol = {p["policy"]: p for p in results[sc.name]["policies"]}
            st = pol["static"]
            fleet = ", ".join(f"{k[0]}{v}" for k, v in (st.get("static_fleet") or {}).items())
            static = f"{_cell(st)} ({fleet})" + ("" if static_reached(st) else " not 99%")
            b = bars(list(pol.values()), diurnal=sc.diurnal)
            judged = [verdict_cell(x) for x in b] + ["-"] * (3 - len(b))
            lines.append(
                f"| {set_name} | {sc.name} | {_cell(pol['sla'])} | {_cell(pol['dynamo'])} | "
                f"{_cell(pol['threshold'])} | {static} | {_cell(pol['oracle'])} | "
                f"{' | '.join(judged)} |"
            )
    return "\n".join(lines)


def where_table(results: Mapping[str, Any]) -> str:
    """Where the sla policy's misses and GPU-hours are, per scenario: its TTFT and ITL
    attainment, TTFT p99, and GPU-hours by component against static99's and the
    oracle's."""
    lines = [
        "| set | scenario | sla TTFT / ITL att. | sla TTFT p99 ms | prefill GPU-h sla / "
        "static99 / oracle | decode GPU-h sla / static99 / oracle |",
        "|---|---|---|---|---|---|",
    ]
    for sc in scenarios_in():
        if sc.name not in results:
            continue
        pol = {p["policy"]: p for p in results[sc.name]["policies"]}
        sla, a = pol["sla"], pol["sla"]["attainment"]

        def by(comp: str, pol: Mapping[str, Any] = pol) -> str:
            return " / ".join(
                f"{pol[x]['gpu_hours_by_component'].get(comp, 0.0):.1f}"
                for x in ("sla", "static", "oracle")
            )

        lines.append(
            f"| {sc.set} | {sc.name} | {100 * a['ttft']:.2f}% / {100 * a['itl']:.2f}% | "
            f"{sla['ttft_ms']['p99'] or 0:.0f} | {by('prefill')} | {by('decode')} |"
        )
    return "\n".join(lines)


def validation_table() -> str:
    """The validation set's recipes: name, requests, SLO, profile, worker speed, seed."""
    lines = [
        "| scenario | recipe | TTFT / ITL ms | profile (row) | workers vs profile | seed |",
        "|---|---|---|---|---|---|",
    ]
    for sc in scenarios_in("validation"):
        row = f" ({sc.profile_row})" if sc.profile_row else ""
        lines.append(
            f"| {sc.name} | {sc.recipe} | {sc.ttft_ms:g} / {sc.itl_ms:g} | {sc.profile}{row} "
            f"| {sc.slowdown:g}x latency | {sc.seed} |"
        )
    return "\n".join(lines)


def policy_table(result: Mapping[str, Any]) -> str:
    """One scenario's full table of policies, then its bars."""
    lines = [
        "| policy | SLA att. | TTFT att. | ITL att. | GPU-h | TTFT p50/p90/p99 ms "
        "| ITL p50/p99 ms | goodput req/s | scale events | reversals | sim. s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    walls = result["meta"].get("task_wall_s", {})
    pol = {p["policy"]: p for p in result["policies"]}
    for name in _ORDER:
        p = pol[name]
        a, t, i = p["attainment"], p["ttft_ms"], p["itl_ms"]
        label = name if name != "static" else f"static {p.get('static_fleet')}"
        lines.append(
            f"| {label} | {100 * a['both']:.2f}% | {100 * a['ttft']:.2f}% | "
            f"{100 * a['itl']:.2f}% | {p['gpu_hours']:.2f} | "
            f"{t['p50'] or 0:.0f} / {t['p90'] or 0:.0f} / {t['p99'] or 0:.0f} | "
            f"{i['p50'] or 0:.1f} / {i['p99'] or 0:.1f} | {p['goodput_rps']:.1f} | "
            f"{sum(p['scale_events'].values())} | {sum(p['direction_reversals'].values())} | "
            f"{walls.get(name) or 0:.0f} |"
        )
    sc = SCENARIOS.get(result["meta"]["scenario"])
    lines.append("")
    for b in bars(list(pol.values()), diurnal=bool(sc and sc.diurnal)):
        state = {None: "not judged", True: "met", False: "NOT met"}[b.met]
        note = f" ({b.note})" if b.note else ""
        lines.append(f"- sla {b.name} {b.asked}: {b.reached}, {state}{note}.")
    bound = pol["oracle"].get("startup_bound_gpu_hours")
    if bound is not None:
        lines.append(
            f"- Perfect foresight with the real 180 s start-up (the oracle's fleets, each "
            f"held from start-up seconds before it is needed): {bound:.2f} GPU-h; the "
            f"oracle searched {pol['oracle'].get('oracle_evaluations', 0)} candidate intervals."
        )
    return "\n".join(lines)


def _workload_line(check: Mapping[str, Any]) -> str:
    n = max(int(check["requests"]), 1)
    return (
        f"infeasible at the targets: {check['infeasible']} ({100 * check['infeasible'] / n:.2f}%:"
        f" {check['ttft_infeasible']} TTFT, {check['itl_infeasible']} ITL; ceiling "
        f"{100 * check['attainment_ceiling']:.2f}%); outside the profile's range: "
        f"{check['out_of_range']} ({check['isl_above_range']} ISL above, "
        f"{check['isl_below_range']} below, {check['context_above_range']} contexts above)"
    )


def section(result: Mapping[str, Any]) -> str:
    m = result["meta"]
    walls = m.get("task_wall_s", {})
    sim_s = sum(v or 0 for v in walls.values())
    limits = m.get("engine_limits", {})
    seqs = limits.get("max_num_seqs")
    return (
        f"### {m['scenario']} ({m['set']})\n\n{m['recipe']}. {m['requests']} requests over "
        f"{m['span_min']} min (mean ISL {m['mean_isl']:g}, OSL {m['mean_osl']:g}); TTFT "
        f"{m['ttft_ms']:g} ms, ITL {m['itl_ms']:g} ms; workers {m['true_slowdown']:g}x the "
        f"profile's latency; GPUs per worker {m['gpus_per_worker']}; engine max_num_seqs "
        f"{seqs if seqs is not None else 'none'} ({limits.get('max_num_seqs_source', 'none')});"
        f" initial fleet {m['initial_fleet']}; {_workload_line(m['workload_check'])}. The five "
        f"policies took {sim_s:.0f} s of simulation (one process each).\n\n"
        f"```\n{m['command']}\n```\n\n{policy_table(result)}\n"
    )


def _keep_block(new: str, doc: Path, markers: tuple[str, str]) -> str:
    """``new`` with the marked block's content taken from the current ``doc``."""
    begin, end = markers
    if not doc.exists() or begin not in new:
        return new
    old = doc.read_text()
    if begin not in old or end not in old:
        return new
    kept = old.split(begin, 1)[1].split(end, 1)[0]
    head, rest = new.split(begin, 1)
    return f"{head}{begin}{kept}{end}{rest.split(end, 1)[1]}"


def render_doc(results: Mapping[str, Any], *, doc: Path) -> str:
    """The whole doc from the template and ``results`` (scenario -> meta + policies)."""
    sections = [section(results[s.name]) for s in scenarios_in() if s.name in results]
    text = (
        TEMPLATE.read_text()
        .replace("{{SUMMARY}}", summary_table(results))
        .replace("{{WHERE}}", where_table(results))
        .replace("{{VALIDATION_SET}}", validation_table())
        .replace("{{RESULTS}}", "\n".join(sections))
    )
    return _keep_block(text, doc, FEASIBILITY)
