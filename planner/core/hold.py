"""The hold stage: the sizing's asks become proposals, and a component holds its current
replicas when the window is missing (a failed query: ``held_no_data``) or when the
strategy could not size it (an infeasible target, an idle window for ``dynamo``).

Missing and idle are different: an idle window (zero requests) is data and may scale
down; a missing one is not, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from planner.core.strategy import Ask
from planner.core.tick import Proposal, Tick
from planner.core.types import Component, Reason


def hold_on_missing(tick: Tick, asks: Mapping[Component, Ask]) -> dict[Component, Proposal]:
    obs = tick.observation
    out: dict[Component, Proposal] = {}
    for c in tick.config.components:
        ask = asks.get(c, Ask(None, note="not sized"))
        cur = tick.current[c]
        notes = (ask.note,) if ask.note else ()
        if obs.is_missing:
            out[c] = Proposal(
                component=c,
                current=cur,
                desired=cur,
                target=cur,
                reasons=(Reason.HELD_NO_DATA, *ask.reasons),
                notes=(*notes, f"no data: {obs.missing_reason}"),
                held=True,
            )
        elif ask.replicas is None:
            out[c] = Proposal(
                component=c,
                current=cur,
                desired=cur,
                target=cur,
                reasons=ask.reasons,
                notes=notes,
                held=True,
            )
        else:
            out[c] = Proposal(
                component=c,
                current=cur,
                desired=ask.replicas,
                target=ask.replicas,
                reasons=ask.reasons,
                notes=notes,
                floor=ask.floor,
            )
    return out
