"""What the pool costs: each graph's price per GPU-hour (by GPU type and capacity type),
its dollars per hour now, and its dollars per 1,000 requests that met the SLO."""

from __future__ import annotations

from dataclasses import dataclass

from planner.settings.pool import GraphSettings, PoolSettings


def graph_price(pool: PoolSettings, entry: GraphSettings) -> float | None:
    """US dollars per GPU-hour of ``entry``'s GPUs (None: no prices configured)."""
    return pool.usd_per_gpu_hour(entry.gpu_type, entry.capacity_type)


@dataclass
class CostMeter:
    """One graph's running cost: GPU-seconds held, dollars, and requests that met the SLO."""

    usd_per_gpu_hour: float
    gpus_now: float = 0.0
    gpu_seconds: float = 0.0
    usd: float = 0.0
    good_requests: float = 0.0

    def hold(self, *, gpus: float, seconds: float) -> None:
        """``gpus`` held for ``seconds`` (the interval that just ended)."""
        self.gpus_now = gpus
        self.gpu_seconds += gpus * seconds
        self.usd += gpus * seconds / 3600.0 * self.usd_per_gpu_hour

    def served(self, good_requests: float) -> None:
        self.good_requests += good_requests

    @property
    def usd_per_hour(self) -> float:
        return self.gpus_now * self.usd_per_gpu_hour

    @property
    def usd_per_1k_good(self) -> float | None:
        """Dollars per 1,000 requests that met the SLO (None before the first one)."""
        if self.good_requests <= 0:
            return None
        return self.usd / self.good_requests * 1000.0
