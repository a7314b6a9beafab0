"""Pure rules every replica target shares: when a change has settled, when a new one must
wait, and in which order two component changes are written."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from connectors.errors import InvalidTarget
from connectors.protocols import ComponentState, GraphState
from planner.core.types import Component


def component_settled(state: ComponentState) -> bool:
    """Ready workers plus the ones that are not coming account for the whole target."""
    return state.ready + state.not_coming == state.desired


def graph_settled(components: Mapping[Component, ComponentState]) -> bool:
    return all(component_settled(s) for s in components.values())


def unsettled_message(components: Mapping[Component, ComponentState]) -> str:
    parts = [
        f"{c.value}: {s.ready}/{s.desired} ready"
        + (f", {s.not_coming} not coming" if s.not_coming else "")
        for c, s in components.items()
        if not component_settled(s)
    ]
    return "; ".join(parts)


def check_targets(
    targets: Mapping[Component, int], known: Collection[Component] | None = None
) -> None:
    """Raise InvalidTarget naming the component and value unless every target is writable
    (``known`` None: the environment has not said which components it has)."""
    for component, value in targets.items():
        if not isinstance(component, Component):
            raise InvalidTarget(f"target key {component!r}: expected a Component")
        if known is not None and component not in known:
            raise InvalidTarget(
                f"target for {component.value!r}: the environment has no such component "
                f"(it has {sorted(c.value for c in known)})"
            )
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InvalidTarget(
                f"target for {component.value!r} is {value!r}: expected an integer >= 0"
            )


def deferral(state: GraphState, targets: Mapping[Component, int]) -> str | None:
    """Why ``targets`` must wait, or None if they may be written now.

    A change that grows a component is not stacked on an unsettled one (it would ask for
    more workers while earlier ones are still starting). Lowering a target is always
    allowed: it is how the planner gives up on workers that are not coming.
    """
    if state.settled:
        return None
    grows = [c for c, n in targets.items() if c in state.components and n > state.desired[c]]
    if not grows:
        return None
    names = ", ".join(c.value for c in grows)
    return (
        f"previous change has not settled ({unsettled_message(state.components)}); "
        f"not growing {names} further until it does or the workers count as not coming"
    )


@dataclass(frozen=True, slots=True)
class Change:
    component: Component
    old: int
    new: int


def ordered_changes(
    current: Mapping[Component, int], targets: Mapping[Component, int]
) -> list[Change]:
    """The components whose target differs, shrinks first.

    Lowering first means that mid-rebalance the total GPUs held never exceed the larger
    of the old and the new total, so a budget both respect is never crossed.
    """
    changes = [Change(c, current[c], n) for c, n in targets.items() if current[c] != n]
    return sorted(changes, key=lambda ch: (ch.new - ch.old, ch.component.value))
