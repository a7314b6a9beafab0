"""Each graph's own settings in a multi-graph file: the top-level settings with the
graph's overrides merged over them, section by section, validated like the top level.
Every problem of every graph is reported at once, each field named
``graphs.<name>.<field>``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from planner.errors import ConfigError
from planner.settings.describe import describe
from planner.settings.pool import GraphSettings
from planner.settings.tree import PlannerSettings

#: the graph's own keys (its standing in the pool), not overrides
_OWN = frozenset(GraphSettings.model_fields)


@dataclass(frozen=True)
class GraphConfig:
    """One graph of the pool: its standing and its complete settings."""

    entry: GraphSettings
    settings: PlannerSettings

    @property
    def name(self) -> str:
        return self.entry.name


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def graph_overrides(entry: GraphSettings) -> dict[str, Any]:
    return {k: v for k, v in (entry.model_extra or {}).items() if k not in _OWN}


def pool_problems(settings: PlannerSettings) -> list[tuple[str, object, str]]:
    """Problems of the pool as a whole: names, the pool's size, missing prices."""
    problems: list[tuple[str, object, str]] = []
    if not settings.graphs:
        return problems
    names = [g.name for g in settings.graphs]
    if len(set(names)) != len(names):
        problems.append(("graphs", names, "graphs with distinct names"))
    if settings.pool.gpus is None:
        problems.append(("pool.gpus", None, "the GPUs the graphs share (graphs are listed)"))
    if settings.pool.prices:
        for g in settings.graphs:
            if settings.pool.usd_per_gpu_hour(g.gpu_type, g.capacity_type) is None:
                problems.append(
                    (
                        f"graphs.{g.name}.gpu_type",
                        f"{g.gpu_type}/{g.capacity_type}",
                        "a GPU type and capacity type with a price in pool.prices",
                    )
                )
    return problems


def graph_configs(settings: PlannerSettings) -> tuple[GraphConfig, ...]:
    """Every graph's settings (none for a single-graph file); raises ``ConfigError``
    listing every problem of every graph."""
    problems = pool_problems(settings)
    base = settings.model_dump(exclude={"graphs", "pool"})
    out: list[GraphConfig] = []
    for entry in settings.graphs:
        merged = _merge(base, graph_overrides(entry))
        for nested in ("graphs", "pool"):
            if nested in merged and nested in graph_overrides(entry):
                problems.append(
                    (f"graphs.{entry.name}.{nested}", "...", "no nested pool in a graph")
                )
                merged.pop(nested)
        try:
            out.append(GraphConfig(entry=entry, settings=PlannerSettings.model_validate(merged)))
        except ValidationError as exc:
            for err in exc.errors():
                field, value, expected = describe(err)
                problems.append((f"graphs.{entry.name}.{field}", value, expected))
    if problems:
        raise ConfigError.of(problems)
    return tuple(out)
