"""Any workload file by its kind: Azure CSV, Mooncake JSONL (planner/workload/trace.py)
or a ServeGen archive (planner/workload/servegen.py), as requests or as a load series."""

from __future__ import annotations

from pathlib import Path

from planner.errors import TraceError
from planner.workload.trace import (
    LoadSeries,
    RequestTrace,
    bin_requests,
    read_azure_csv,
    read_mooncake_jsonl,
)


def is_servegen(path: str | Path) -> bool:
    p = Path(path)
    return (p.name.endswith(".tar.gz") and "servegen" in p.name) or (
        p.is_dir() and any(p.rglob("chunk-*-trace.csv"))
    )


def read_request_trace(
    path: str | Path, *, rate_scale: float = 1.0, seed: int = 0, servegen_hours: float | None = None
) -> RequestTrace:
    """Any supported trace as requests (ServeGen aggregates are expanded with ``seed``)."""
    p = Path(path)
    if not p.exists():
        raise TraceError(f"{p}: does not exist")
    if is_servegen(p):
        from planner.workload.servegen import expand_servegen, read_servegen

        return expand_servegen(
            read_servegen(p), rate_scale=rate_scale, seed=seed, hours=servegen_hours
        )
    if p.suffix == ".csv":
        trace = read_azure_csv(p)
    elif p.suffix in (".jsonl", ".json"):
        trace = read_mooncake_jsonl(p)
    else:
        raise TraceError(
            f"{p}: unknown trace format: expected .csv (Azure), .jsonl "
            "(Mooncake) or a ServeGen .tar.gz / directory"
        )
    return trace.scaled(rate_scale, seed=seed) if rate_scale != 1.0 else trace


def read_load_series(path: str | Path, *, interval_s: float) -> LoadSeries:
    """A trace as a per-interval series; ServeGen aggregates are read at their own
    600-s windows (``interval_s`` must then be a multiple of 600)."""
    p = Path(path)
    if is_servegen(p):
        from planner.workload.servegen import read_servegen, servegen_series

        return servegen_series(read_servegen(p), interval_s=interval_s)
    return bin_requests(read_request_trace(p), interval_s=interval_s)
