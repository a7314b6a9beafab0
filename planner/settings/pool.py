"""Settings of one GPU pool shared by several graphs: the pool (``pool``: its GPUs and
their prices) and the graphs (``graphs``: each a name, its standing in the pool and its
own overrides of the top-level settings). docs/pool.md."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from planner.core.settings import Section

CapacityType = Literal["on-demand", "spot"]


class PriceSettings(Section):
    """What one GPU of a type costs, per hour, on one kind of capacity."""

    gpu_type: str = Field(min_length=1)
    capacity_type: CapacityType = "on-demand"
    usd_per_gpu_hour: float = Field(gt=0, le=10000)


class PoolSettings(Section):
    """The GPUs the graphs share and their prices."""

    #: GPUs the graphs share (real GPUs per worker); None: no pool (one graph)
    gpus: int | None = Field(None, ge=1)
    #: one price per (GPU type, capacity type); empty: no dollars are reported
    prices: tuple[PriceSettings, ...] = ()

    @model_validator(mode="after")
    def _one_price_each(self) -> PoolSettings:
        keys = [(p.gpu_type, p.capacity_type) for p in self.prices]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise ValueError(f"one price per GPU type and capacity type; repeated: {dup}")
        return self

    def usd_per_gpu_hour(self, gpu_type: str, capacity_type: str) -> float | None:
        for p in self.prices:
            if (p.gpu_type, p.capacity_type) == (gpu_type, capacity_type):
                return p.usd_per_gpu_hour
        return None


class GraphSettings(Section):
    """One graph of the pool. Every other key is an override of the top-level settings
    for this graph (``profile``, ``ttft_ms``, ``prefill``, ``metrics``, ``connector``,
    ``emulator``, ...), merged section by section over them."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
    #: higher is served first when the pool is short
    priority: int = Field(0, ge=0, le=1000)
    #: share of the GPUs left within one priority
    weight: float = Field(1.0, gt=0, le=1000)
    #: GPUs guaranteed to this graph (up to what it asks); its minimum replicas count too
    floor_gpus: int = Field(0, ge=0)
    gpu_type: str = Field("H200", min_length=1)
    capacity_type: CapacityType = "on-demand"
