"""PolicyConfig: the immutable bundle a policy needs (settings + perf model)."""

from __future__ import annotations

from dataclasses import dataclass

from planner.core.settings import ComponentSettings, PolicySettings
from planner.core.types import Component
from planner.perf.model import PerfModel


@dataclass(frozen=True)
class PolicyConfig:
    settings: PolicySettings
    perf: PerfModel

    @property
    def components(self) -> tuple[Component, ...]:
        if self.settings.mode == "agg":
            return (Component.AGG,)
        return (Component.PREFILL, Component.DECODE)

    def limits(self, component: Component) -> ComponentSettings:
        s = self.settings
        return {Component.PREFILL: s.prefill, Component.DECODE: s.decode, Component.AGG: s.agg}[
            component
        ]

    @property
    def prefill_component(self) -> Component:
        """The component that runs prefill (the aggregated worker in agg mode)."""
        return Component.AGG if self.settings.mode == "agg" else Component.PREFILL

    @property
    def decode_component(self) -> Component:
        return Component.AGG if self.settings.mode == "agg" else Component.DECODE
