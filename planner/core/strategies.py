"""Strategies by name (``settings.policy``): the one place a policy name is looked up."""

from __future__ import annotations

from planner.core.dynamo import DynamoStrategy
from planner.core.sla import SlaStrategy
from planner.core.strategy import Strategy

_STRATEGIES: dict[str, Strategy] = {s.name: s for s in (SlaStrategy(), DynamoStrategy())}


def strategy_named(name: str) -> Strategy:
    """The registered strategy called ``name`` (settings validate the name)."""
    try:
        return _STRATEGIES[name]
    except KeyError:
        raise KeyError(
            f"no strategy {name!r}; registered: {', '.join(sorted(_STRATEGIES))}"
        ) from None


def strategy_names() -> tuple[str, ...]:
    return tuple(sorted(_STRATEGIES))
