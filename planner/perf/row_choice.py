"""Which row of a multi-row profile serves a workload for the fewest GPU-seconds at the
SLO targets (``profile_row: cheapest``).

Per row (one measured configuration, e.g. one TP degree), for requests of ``isl`` input
and ``osl`` output tokens:

- prefill: usable only if TTFT(isl) <= the TTFT target; GPU-seconds per request =
  isl / prefill tokens/s per GPU at isl (the profile's throughput is per GPU, so a TP4
  worker's four GPUs are counted);
- decode: the best operating point at context isl + osl / 2 whose ITL meets the target
  (``DecodeModel.best_throughput``, the measured load range only); GPU-seconds per
  request = osl / its tokens/s per GPU;
- cost = the sum, in GPU-seconds per request (and per token: / (isl + osl)).

A row that cannot meet a target at that workload is listed with the reason and never
chosen; if none can, the choice is an error naming every row's reason. This compares
capacity at full use of each configuration, before queueing headroom and the rounding
of replicas, which a fleet of larger workers pays more of.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from planner.errors import ProfileError
from planner.perf.model import PerfModel
from planner.perf.npz import load_npz
from planner.perf.preswept import describe_rows, row_count
from planner.perf.profile import NonMonotonic, load_profile


@dataclass(frozen=True, slots=True)
class RowCost:
    """One row's cost for the workload (None when it cannot meet a target)."""

    index: int
    label: str
    gpus_per_worker: int
    gpu_s_per_request: float | None
    reason: str | None = None


def _preswept_prefill(directory: Path) -> Path | None:
    for name in ("pre_swept_prefill.npz", "prefill.npz"):
        if (directory / name).is_file():
            return directory / name
    return None


def row_costs(
    path: str | Path,
    *,
    ttft_ms: float,
    itl_ms: float,
    isl: float,
    osl: float,
    non_monotonic: NonMonotonic = "error",
) -> list[RowCost]:
    """Every row's GPU-seconds per request at the targets (module docstring)."""
    p = Path(path)
    pre = _preswept_prefill(p) if p.is_dir() else None
    raw = load_npz(pre) if pre is not None else {}
    labels = describe_rows(raw) if pre is not None else ["0"]
    out = []
    for i in range(row_count(raw) if pre is not None else 1):
        profile = load_profile(p, row=i, non_monotonic=non_monotonic)
        perf = PerfModel(profile)
        gpus = profile.meta.gpus_per_prefill_worker or 1
        ttft = perf.prefill.ttft_ms(isl).value
        point = perf.decode.best_throughput(itl_ms=itl_ms, context_tokens=isl + osl / 2.0)
        reason = None
        if ttft > ttft_ms:
            reason = f"TTFT({isl:g}) = {ttft:.0f} ms > {ttft_ms:g} ms"
        elif not point.feasible or point.thpt_per_gpu <= 0:
            reason = f"ITL {itl_ms:g} ms below the minimum {point.min_itl_ms:.1f} ms"
        cost = None
        if reason is None:
            cost = isl / perf.prefill.thpt_per_gpu(isl).value + osl / point.thpt_per_gpu
        out.append(RowCost(i, labels[i], gpus, cost, reason))
    return out


def cheapest_row(
    path: str | Path,
    *,
    ttft_ms: float,
    itl_ms: float,
    isl: float,
    osl: float,
    non_monotonic: NonMonotonic = "error",
) -> int:
    """The index of the row with the fewest GPU-seconds per request at the targets."""
    costs = row_costs(
        path, ttft_ms=ttft_ms, itl_ms=itl_ms, isl=isl, osl=osl, non_monotonic=non_monotonic
    )
    usable = [c for c in costs if c.gpu_s_per_request is not None]
    if not usable:
        why = "; ".join(f"{c.label}: {c.reason}" for c in costs)
        raise ProfileError(
            str(path), "profile_row", f"no row meets the targets at ISL {isl:g}: {why}"
        )
    return min(usable, key=lambda c: (c.gpu_s_per_request, c.index)).index
