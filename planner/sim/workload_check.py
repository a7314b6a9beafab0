"""What a workload asks of the simulated hardware before any policy runs: requests that
cannot meet a target on any fleet, and requests outside the profile's measured range.

Infeasible at the target (on the true profile, the one the simulated workers follow):

- TTFT: the prompt alone on an idle prefill worker takes longer than the TTFT target
  (``TruePerf.ttft_one_s`` at the worker's GPUs; beyond the longest measured prompt the
  time grows linearly, see planner/sim/truth.py);
- ITL: the ITL target is below the smallest ITL the profile reaches at the request's
  mean decode context, ISL + OSL / 2, at any KV usage (``TruePerf.min_itl_s``).

No fleet serves these within both targets, so ``1 - infeasible / requests`` is the
highest attainment any policy (static99 and the oracle included) can reach.

Outside the measured range: ISL above the longest or below the shortest measured prompt,
or a final context (ISL + OSL) above the longest measured decode context. Their times
are extrapolated (linear prefill beyond the range, the surface's edge for decode), so
results that depend on them rest on that assumption.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from planner.sim.truth import TruePerf
from planner.workload.trace import RequestTrace


@dataclass(frozen=True, slots=True)
class WorkloadCheck:
    requests: int
    #: prompts no idle worker prefills within the TTFT target
    ttft_infeasible: int
    #: requests whose ITL target is below the profile's minimum at their context
    itl_infeasible: int
    #: requests infeasible for either reason (counted once)
    infeasible: int
    isl_above_range: int
    isl_below_range: int
    context_above_range: int
    #: requests outside the measured range for any of the three reasons
    out_of_range: int
    #: the profile's measured ranges (tokens)
    profile_isl_range: tuple[float, float]
    profile_max_context: float

    @property
    def attainment_ceiling(self) -> float:
        """The highest SLA attainment any policy can reach on this workload."""
        return 1.0 - self.infeasible / self.requests if self.requests else 1.0

    def as_dict(self) -> dict[str, object]:
        return asdict(self) | {"attainment_ceiling": self.attainment_ceiling}

    def warnings(self) -> list[str]:
        """One plain sentence per problem found (empty when there is none)."""
        out: list[str] = []
        n = max(self.requests, 1)
        if self.infeasible:
            out.append(
                f"{self.infeasible} of {self.requests} requests ({100 * self.infeasible / n:.2f}%)"
                f" cannot meet the targets on any fleet ({self.ttft_infeasible} prompts take "
                f"longer than the TTFT target on an idle worker, {self.itl_infeasible} have an "
                "ITL target below the profile's minimum at their context); no policy can "
                f"reach more than {100 * self.attainment_ceiling:.2f}%"
            )
        if self.out_of_range:
            lo, hi = self.profile_isl_range
            out.append(
                f"{self.out_of_range} requests ({100 * self.out_of_range / n:.2f}%) are outside "
                f"the profile's measured range (ISL above {hi:g}: {self.isl_above_range}; "
                f"below {lo:g}: {self.isl_below_range}; ISL + OSL above "
                f"{self.profile_max_context:g}: {self.context_above_range}); their times "
                "are extrapolated"
            )
        return out


def check_workload(
    trace: RequestTrace,
    truth: TruePerf,
    *,
    ttft_ms: float,
    itl_ms: float,
    prefill_gpus: int = 1,
) -> WorkloadCheck:
    """Count the infeasible and out-of-range requests of ``trace`` (module docstring)."""
    isl = np.asarray(trace.isl_tokens, dtype=np.float64)
    osl = np.asarray(trace.osl_tokens, dtype=np.float64)
    ttft_s = ttft_ms / 1000.0
    # one prompt on an idle worker: max(ISL / (thpt x GPUs), TTFT(ISL)), as the simulator
    # times a batch of one; tabulated per distinct ISL (traces repeat lengths a lot)
    values, inverse = np.unique(isl, return_inverse=True)
    alone = np.array(
        [
            truth.prefill_batch_s(total_tokens=v, count=1, max_isl=v, gpus=prefill_gpus)
            for v in values
        ]
    )
    late = alone[inverse] > ttft_s
    slow = truth.min_itl_s(isl + osl / 2.0) > itl_ms / 1000.0
    slow &= osl > 1  # a single output token has no gap to miss
    pre = truth.perf.prefill
    max_ctx = float(truth.perf.decode.max_context)
    above = isl > pre.max_isl
    below = isl < pre.min_isl
    ctx_above = isl + osl > max_ctx
    return WorkloadCheck(
        requests=len(isl),
        ttft_infeasible=int(late.sum()),
        itl_infeasible=int(slow.sum()),
        infeasible=int((late | slow).sum()),
        isl_above_range=int(above.sum()),
        isl_below_range=int(below.sum()),
        context_above_range=int(ctx_above.sum()),
        out_of_range=int((above | below | ctx_above).sum()),
        profile_isl_range=(float(pre.min_isl), float(pre.max_isl)),
        profile_max_context=max_ctx,
    )
