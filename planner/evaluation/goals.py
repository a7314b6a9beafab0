"""The bars the ``sla`` policy is held to on each scenario, judged from its summaries.

Every scenario: (1) the sla policy keeps at least 99% of requests within both targets,
and (2) it uses no more GPU-hours than static99, the smallest fixed fleet that itself
kept 99%. A day-long diurnal scenario also: (3) GPU-hours <= static99 - 0.3 x (static99
- oracle), 30% of what a fixed fleet pays over the oracle's perfect foresight saved.

(2) and (3) measure against static99, so they are judged only when static99 reached 99%;
when it did not (no fixed fleet tried reached it, e.g. because more than 1% of the
requests cannot meet the targets on any fleet) the bar says so instead of a number. (3)
is not judged either when the oracle cost more than static99: the oracle picks each
interval's fewest replicas and spends its miss budget as it goes, which is then no
lower bound, and the line would sit above static99.
Pure: summaries in, verdicts out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

GOAL = 0.99
#: the share of static99's excess over the oracle a day-long diurnal run must save
DIURNAL_SHARE = 0.3


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: what it asks, the value reached, and whether it was met (None: not
    judged, with ``note`` saying why)."""

    name: str
    asked: str
    reached: str
    met: bool | None
    note: str = ""


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def static_reached(static: Mapping[str, Any]) -> bool:
    """Whether the static row is a real static99 (it kept the goal itself)."""
    if static.get("static_reached_goal") is False:
        return False
    return float(static["attainment"]["both"]) >= GOAL


def bars(summaries: Sequence[Mapping[str, Any]], *, diurnal: bool) -> list[Bar]:
    """The sla policy's bars on one scenario (module docstring)."""
    pol = {s["policy"]: s for s in summaries}
    sla = pol["sla"]
    att = float(sla["attainment"]["both"])
    gpu_h = float(sla["gpu_hours"])
    out = [Bar("attainment", f">= {_pct(GOAL)}", _pct(att), att >= GOAL)]
    static = pol.get("static")
    if static is None:
        return out
    s_h = float(static["gpu_hours"])
    if not static_reached(static):
        why = (
            f"static99 not defined: the largest fixed fleet tried, {static.get('static_fleet')},"
            f" kept {_pct(float(static['attainment']['both']))}"
        )
        out.append(Bar("GPU-h vs static99", "<= static99", f"{gpu_h:.2f}", None, why))
        if diurnal:
            out.append(Bar("diurnal GPU-h", "<= static99 - 0.3 x (static99 - oracle)",
                           f"{gpu_h:.2f}", None, why))  # fmt: skip
        return out
    out.append(Bar("GPU-h vs static99", f"<= {s_h:.2f}", f"{gpu_h:.2f}", gpu_h <= s_h))
    oracle = pol.get("oracle")
    if diurnal and oracle is not None:
        o_h = float(oracle["gpu_hours"])
        line = s_h - DIURNAL_SHARE * (s_h - o_h)
        asked = f"<= {s_h:.2f} - 0.3 x ({s_h:.2f} - {o_h:.2f}) = {line:.2f}"
        if o_h >= s_h:
            # the oracle decides interval by interval and spends its miss budget as it
            # goes; when that costs more than a fixed fleet it is no lower bound, and a
            # line above static99 would be met by anything that meets bar (2)
            why = f"the oracle ({o_h:.2f}) cost more than static99 ({s_h:.2f})"
            out.append(Bar("diurnal GPU-h", asked, f"{gpu_h:.2f}", None, why))
        else:
            out.append(Bar("diurnal GPU-h", asked, f"{gpu_h:.2f}", gpu_h <= line))
    return out


def verdict_cell(bar: Bar) -> str:
    """``yes`` / ``no`` / ``not judged`` for a table cell."""
    return "not judged" if bar.met is None else ("yes" if bar.met else "no")
