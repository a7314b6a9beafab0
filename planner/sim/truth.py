"""The simulated workers' "true" performance: fast lookup tables from a profile.

The simulator evaluates prefill time and decode ITL millions of times, so the perf
model's splines and surfaces are tabulated once: prefill TTFT(ISL) and throughput/GPU
(ISL) every ``isl_step`` tokens, and the decode ITL grid with the same bilinear lookup
as ``DecodeModel`` but vectorised.

Outside the measured range: a prompt longer than the profile's longest takes
ISL / throughput(longest) = TTFT(longest) x ISL / longest (the last measured throughput
held: a lower bound, since attention grows faster than linearly); a prompt shorter than
the shortest takes TTFT(shortest); a decode context beyond the measured ones reads the
edge of the surface. planner/sim/workload_check.py counts such requests.
``scaled_profile`` makes a profile ``slowdown`` times slower (TTFT and ITL x slowdown,
throughput / slowdown) to play a graph that is slower than the planner believes.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import NDArray

from planner.errors import ConfigError
from planner.perf.model import PerfModel
from planner.perf.profile import ProfileData

FloatArray = NDArray[np.float64]


def scaled_profile(profile: ProfileData, *, slowdown: float) -> ProfileData:
    """``profile`` with every latency x ``slowdown`` and every throughput / ``slowdown``."""
    if not np.isfinite(slowdown) or slowdown <= 0:
        raise ConfigError("slowdown", slowdown, "a finite number > 0")
    p, d = profile.prefill, profile.decode
    return dataclasses.replace(
        profile,
        prefill=dataclasses.replace(
            p,
            ttft_ms=p.ttft_ms * slowdown,
            thpt_tokens_per_s_per_gpu=p.thpt_tokens_per_s_per_gpu / slowdown,
        ),
        decode=dataclasses.replace(
            d,
            itl_ms=d.itl_ms * slowdown,
            thpt_tokens_per_s_per_gpu=d.thpt_tokens_per_s_per_gpu / slowdown,
        ),
        source=f"{profile.source} x{slowdown:g} slower",
        meta=dataclasses.replace(
            profile.meta, notes=f"{profile.meta.notes or ''} (scaled {slowdown:g}x slower)".strip()
        ),
    )


class TruePerf:
    """Tabulated prefill and decode performance of the simulated workers."""

    def __init__(self, perf: PerfModel, *, isl_step: int = 8) -> None:
        self.perf = perf
        pre = perf.prefill
        self.isl_step = isl_step
        self.max_isl = pre.max_isl
        n = int(np.ceil(pre.max_isl / isl_step)) + 2
        grid = np.arange(n) * float(isl_step)
        #: seconds; index = round(isl / isl_step)
        self.ttft_s: list[float] = [pre.ttft_ms(float(x)).value / 1000.0 for x in grid]
        self.thpt_tok_s: list[float] = [pre.thpt_per_gpu(float(x)).value for x in grid]
        dec = perf.decode
        self.max_kv_tokens = float(dec.max_kv_tokens)
        self._itl_grid_s = dec.itl_grid / 1000.0
        #: the same grid as nested lists, for the scalar lookup
        self._itl_rows: list[list[float]] = self._itl_grid_s.tolist()
        self._res = dec.resolution
        self._max_ctx = dec.max_context

    def _index(self, isl: float) -> int:
        return min(int(isl / self.isl_step + 0.5), len(self.ttft_s) - 1)

    def ttft_one_s(self, isl: float) -> float:
        """One prompt's prefill time (s) on an idle worker; linear beyond the profile."""
        if isl > self.max_isl:
            return self.ttft_s[self._index(self.max_isl)] * isl / self.max_isl
        return self.ttft_s[self._index(isl)]

    def prefill_batch_s(
        self, *, total_tokens: float, count: int, max_isl: float, gpus: int
    ) -> float:
        """Time for one batch: total / (thpt_per_gpu(mean ISL) x GPUs), >= TTFT(longest)."""
        mean = total_tokens / count
        t = total_tokens / (self.thpt_tok_s[self._index(mean)] * gpus)
        floor = self.ttft_one_s(max_isl)
        return t if t > floor else floor

    def min_itl_s(self, context_tokens: FloatArray) -> FloatArray:
        """The smallest ITL (s) the surface gives at each context, over all KV usages
        (per-context minima of the grid, linear between grid contexts)."""
        axis = np.linspace(0.0, self._max_ctx, self._res)
        out: FloatArray = np.interp(context_tokens, axis, self._itl_grid_s.min(axis=1))
        return out

    def itl_one_s(self, kv_usage: float, context_tokens: float) -> float:
        """``itl_s`` for one worker, in plain floats: the same operations in the same
        order, so the same value to the last bit, without numpy's cost per call."""
        r = self._res - 1
        fx = min(max(kv_usage, 0.0), 1.0) * r
        fy = min(max(context_tokens / self._max_ctx, 0.0), 1.0) * r
        x0, y0 = int(fx), int(fy)
        x1, y1 = min(x0 + 1, r), min(y0 + 1, r)
        tx, ty = fx - x0, fy - y0
        row0, row1 = self._itl_rows[y0], self._itl_rows[y1]
        top = row0[x0] * (1 - tx) + row0[x1] * tx
        bot = row1[x0] * (1 - tx) + row1[x1] * tx
        return top * (1 - ty) + bot * ty

    def itl_s(self, kv_usage: FloatArray, context_tokens: FloatArray) -> FloatArray:
        """Vectorised bilinear ITL (s) on the profile's grid (kv clamped to [0, 1])."""
        r = self._res - 1
        # min(max(x, 0), 1) is np.clip's result, without its wrapper's per-call cost
        fx = np.minimum(np.maximum(kv_usage, 0.0), 1.0) * r
        fy = np.minimum(np.maximum(context_tokens / self._max_ctx, 0.0), 1.0) * r
        x0 = fx.astype(np.int64)
        y0 = fy.astype(np.int64)
        x1 = np.minimum(x0 + 1, r)
        y1 = np.minimum(y0 + 1, r)
        tx, ty = fx - x0, fy - y0
        g = self._itl_grid_s
        top = g[y0, x0] * (1 - tx) + g[y0, x1] * tx
        bot = g[y1, x0] * (1 - tx) + g[y1, x1] * tx
        out: FloatArray = top * (1 - ty) + bot * ty
        return out
