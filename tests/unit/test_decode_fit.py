"""The decode fit's vectorised grid search gives, to the bit, what the plain loop over
the KV-scale grid gives (the per-k least-squares speed factor, the priors, the first
minimum on ties), so the speed-up changes no decision."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.core import decode_fit as df
from planner.perf.model import PerfModel
from planner.perf.profile import DEFAULT_PROFILE_DIR, load_profile

_DECODE = PerfModel(load_profile(DEFAULT_PROFILE_DIR)).decode


def _loop_fit(samples: tuple[df.Sample, ...], *, kv_tokens: float) -> tuple[float, float, float]:
    """The reference: one k at a time, as the fit is written in the module docstring."""
    arr = np.asarray(samples, dtype=np.float64)
    n, ctx, itl = arr[:, 0], arr[:, 1], arr[:, 2]
    w = df.DECAY ** np.arange(len(arr) - 1, -1, -1, dtype=np.float64) / df._NOISE**2
    best = (math.inf, 1.0, 1.0, 0.0)
    for k in df._K_GRID:
        r = np.log(itl) - np.log(_DECODE.itl_many(k * n * ctx / kv_tokens, ctx))
        log_f = float((w * r).sum() / (w.sum() + 1.0 / df._SIGMA_F**2))
        sq = float((w * (r - log_f) ** 2).sum())
        cost = sq + (log_f / df._SIGMA_F) ** 2 + (math.log(k) / df._SIGMA_K) ** 2
        if cost < best[0]:
            best = (cost, math.exp(log_f), float(k), math.sqrt(sq / float(w.sum())))
    return best[1], best[2], best[3]


_SAMPLE = st.tuples(st.floats(0.5, 400.0), st.floats(50.0, 12_000.0), st.floats(2.0, 200.0))


@settings(max_examples=300, deadline=None)
@given(samples=st.lists(_SAMPLE, min_size=1, max_size=df.WINDOWS), kv=st.floats(1e4, 5e6))
def test_vectorised_fit_equals_the_loop_to_the_bit(samples: list[df.Sample], kv: float) -> None:
    """Any window samples and KV size: (factor, KV scale, spread) are identical."""
    got = df.fit(tuple(samples), _DECODE, kv_tokens=kv)
    assert got == _loop_fit(tuple(samples), kv_tokens=kv)


def test_a_worker_slower_at_every_load_is_read_as_a_speed_factor() -> None:
    """Samples whose ITL is the profile's x1.5 at the same loads give f near 1.5 and a
    KV scale near 1, with a small residual spread."""
    kv = 500_000.0
    samples = tuple(
        (
            float(n),
            2_000.0,
            1.5 * float(_DECODE.itl_many(np.array([n * 2_000.0 / kv]), np.array([2_000.0]))[0]),
        )
        for n in (4, 16, 32, 64, 96, 128, 160, 192)
    )
    f, k, spread = df.fit(samples, _DECODE, kv_tokens=kv)
    assert abs(f - 1.5) < 0.1 and abs(k - 1.0) < 0.15 and spread < 0.05
