"""The one-paragraph verdict at the top of a comparison report: which deployable policy
met the SLA attainment goal with the fewest GPU-hours, by how much, and who missed.
Pure: summaries in, sentences out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: policies that see the future: a cost reference, never the verdict's winner
REFERENCES = frozenset({"oracle"})


@dataclass(frozen=True, slots=True)
class Verdict:
    """``winner`` is None when no deployable policy met the goal."""

    winner: str | None
    headline: str
    details: tuple[str, ...]


def _both(summary: Mapping[str, Any]) -> float:
    return float(summary["attainment"]["both"])


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def verdict(summaries: Sequence[Mapping[str, Any]], *, goal: float) -> Verdict:
    """Judge deployable policies by the goal first and GPU-hours second."""
    deployable = [s for s in summaries if s["policy"] not in REFERENCES]
    met = sorted((s for s in deployable if _both(s) >= goal), key=lambda s: s["gpu_hours"])
    missed = [s for s in deployable if _both(s) < goal]
    details: list[str] = []
    if met:
        best = met[0]
        headline = (
            f"{best['policy']} met the {_pct(goal)} goal ({_pct(_both(best))} of requests "
            f"within both targets) with the fewest GPU-hours: {best['gpu_hours']:.2f}"
        )
        if len(met) > 1:
            runner = met[1]
            saved = 1 - best["gpu_hours"] / runner["gpu_hours"] if runner["gpu_hours"] else 0.0
            headline += (
                f", {100 * saved:.0f}% fewer than {runner['policy']} ({runner['gpu_hours']:.2f})"
            )
        winner: str | None = best["policy"]
    else:
        top = max(deployable, key=_both, default=None)
        headline = f"No policy met the {_pct(goal)} goal"
        if top is not None:
            headline += (
                f"; the closest was {top['policy']} with {_pct(_both(top))} at "
                f"{top['gpu_hours']:.2f} GPU-hours"
            )
        winner = None
    headline += "."
    details.extend(
        f"{s['policy']} missed the goal: {_pct(_both(s))} at {s['gpu_hours']:.2f} GPU-hours."
        for s in missed
    )
    for s in summaries:
        if s["policy"] in REFERENCES:
            details.append(
                f"{s['policy']} (perfect foresight, a cost reference, not deployable): "
                f"{_pct(_both(s))} at {s['gpu_hours']:.2f} GPU-hours."
            )
    return Verdict(winner=winner, headline=headline, details=tuple(details))
