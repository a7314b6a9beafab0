"""What the decode workers really are, learned from the windows they served: a speed
factor f and a KV scale k over the profile's ITL surface.

    ITL_true(N, c) = f x ITL_profile(KV = k x N x c / max_kv, c)

for N requests running per worker at mean context c. f is how much slower (> 1) the
worker is than its profile at the same load; k is how much more KV per request the
engine counts than the requests' tokens (block rounding, pre-allocation) or, read the
other way, how the engine's latency grows with load compared with the profile's. One
multiplicative factor (k = 1) cannot fit an engine whose ITL is higher than the profile
at small batches and lower at large ones; the KV scale stretches the load axis and can.

Each settled window (no requests waiting for decode admission, enough requests) gives
a sample (N, c, ITL): N by Little's law, req/s x time in decode / ready workers. The
fit keeps the last ``WINDOWS`` samples, weighted by ``DECAY`` per sample of age, and
chooses k on a log grid in [1/3, 3] and, for each k, the least-squares log f, with
Gaussian priors log k ~ N(0, 0.5^2) and log f ~ N(0, 1): with samples at one load only,
the prior keeps k near 1 and f becomes the familiar ratio of observed to expected ITL.
Residuals are weighed with an assumed 10% noise on a window's mean ITL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from planner.perf.model import DecodeModel

#: (running requests per worker, mean context tokens, observed mean ITL ms)
Sample = tuple[float, float, float]
WINDOWS = 60
DECAY = 0.97
MIN_SAMPLES = 10
_K_GRID = np.exp(np.linspace(math.log(1 / 3), math.log(3.0), 41))
_SIGMA_K, _SIGMA_F, _NOISE = 0.5, 1.0, 0.1
#: the prior's cost of each k, (log k / sigma_k)^2
_K_PRIOR = np.array([(math.log(k) / _SIGMA_K) ** 2 for k in _K_GRID])


@dataclass(frozen=True, slots=True)
class DecodeFit:
    """The decode workers' speed factor and KV scale (1, 1: the profile)."""

    factor: float = 1.0
    kv_scale: float = 1.0
    samples: tuple[Sample, ...] = ()
    #: weighted standard deviation of the fit's log residuals (its model error)
    spread: float | None = None

    def headroom(self, objective: float, *, default: float) -> float:
        """The ITL plan's fraction of the target: exp(-z x spread), z the standard normal
        quantile of the objective, so a lognormal model error leaves the target met for
        that share of windows; ``default`` until ``MIN_SAMPLES`` samples exist."""
        if self.spread is None or len(self.samples) < MIN_SAMPLES:
            return default
        from statistics import NormalDist

        z = NormalDist().inv_cdf(objective)
        return math.exp(-z * self.spread)

    def with_sample(self, sample: Sample, model: DecodeModel, *, kv_tokens: float) -> DecodeFit:
        """The fit after one more window (oldest sample dropped past ``WINDOWS``)."""
        kept = (*self.samples, sample)[-WINDOWS:]
        factor, scale, spread = fit(kept, model, kv_tokens=kv_tokens)
        return DecodeFit(factor=factor, kv_scale=scale, samples=kept, spread=spread)


def fit(
    samples: tuple[Sample, ...], model: DecodeModel, *, kv_tokens: float
) -> tuple[float, float, float]:
    """(f, k, residual spread) minimising the weighted squared log error plus the priors
    (see module); the spread is the weighted standard deviation of the log residuals."""
    if not samples:
        return 1.0, 1.0, 0.0
    arr = np.asarray(samples, dtype=np.float64)
    n, ctx, itl = arr[:, 0], arr[:, 1], arr[:, 2]
    w = DECAY ** np.arange(len(arr) - 1, -1, -1, dtype=np.float64) / _NOISE**2
    # every k of the grid at once: one row of log residuals per k
    kv = _K_GRID[:, None] * n[None, :] * ctx[None, :] / kv_tokens
    pred = model.itl_many(kv, np.broadcast_to(ctx, kv.shape))
    r = np.log(itl)[None, :] - np.log(pred)
    log_f = (w * r).sum(axis=1) / (w.sum() + 1.0 / _SIGMA_F**2)
    sq = (w * (r - log_f[:, None]) ** 2).sum(axis=1)
    cost = sq + (log_f / _SIGMA_F) ** 2 + _K_PRIOR
    i = int(np.argmin(cost))
    return math.exp(float(log_f[i])), float(_K_GRID[i]), math.sqrt(float(sq[i]) / float(w.sum()))
