"""PolicyConfig: the immutable bundle a policy needs (settings and perf model), and where
the GPUs each worker holds come from."""

from __future__ import annotations

from dataclasses import dataclass

from planner.core.settings import ComponentSettings, PolicySettings
from planner.core.types import Component
from planner.perf.model import PerfModel


@dataclass(frozen=True, slots=True)
class GpuCount:
    """GPUs per worker for one component, where the number came from, and a warning
    when the sources disagree."""

    gpus: int
    source: str
    warning: str | None = None


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

    @property
    def max_num_seqs(self) -> int | None:
        """Most sequences a decode worker runs at once: ``engine.max_num_seqs``, else the
        limit the profile says it was measured under, else None (no limit)."""
        return self.settings.engine.max_num_seqs or self.perf.profile.meta.max_num_seqs

    def profile_gpus(self, component: Component) -> int | None:
        """GPUs per worker the profile was measured with (None when it does not say)."""
        meta = self.perf.profile.meta
        if component is Component.DECODE:
            return meta.gpus_per_decode_worker
        # prefill, and an aggregated worker (which prefills at the profile's prefill TP)
        return meta.gpus_per_prefill_worker

    def gpus_per_worker(self, component: Component, *, reading: int | None = None) -> GpuCount:
        """GPUs one worker holds: the cluster's ``reading`` when there is one, else the
        profile's, else the setting, else 1. Any two present sources that disagree give
        a warning naming all three."""
        configured = self.limits(component).gpus_per_worker
        profiled = self.profile_gpus(component)
        sources = {"cluster": reading, "profile": profiled, "settings": configured}
        present = {k: v for k, v in sources.items() if v is not None}
        source, gpus = next(iter(present.items()), ("default", 1))
        warning = None
        if len(set(present.values())) > 1:
            said = ", ".join(f"{k} {v}" for k, v in present.items())
            warning = (
                f"{component.value} GPUs per worker disagree ({said}); "
                f"the budget and sizing use {gpus} ({source})"
            )
        return GpuCount(gpus=gpus, source=source, warning=warning)

    def deployed_gpus(self) -> dict[Component, int]:
        """GPUs per worker of a deployment this configuration describes (the simulator's
        and the emulator's workers): the setting, else the profile's, else 1. The
        planner reads these back as the cluster's reading, so a setting that disagrees
        with the profile is warned about there too."""
        return {
            c: self.limits(c).gpus_per_worker or self.profile_gpus(c) or 1
            for c in (Component.PREFILL, Component.DECODE, Component.AGG)
        }
