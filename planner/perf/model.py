"""Interpolated prefill and decode performance from a profile.

Method (compatible with Dynamo's planner, so golden values carry over):
prefill TTFT(ISL) and throughput/GPU(ISL) are 1-D cubic splines over the measured ISLs;
decode ITL and throughput/GPU are ``griddata`` cubic surfaces over (KV usage, context)
sampled on a ``resolution`` x ``resolution`` grid (KV usage 0..1, context 0..max), with
cells outside the convex hull of the samples filled by nearest neighbour. Inputs
outside the measured range are clamped and the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from planner.perf.profile import DecodeData, ProfileData


@dataclass(frozen=True, slots=True)
class Lookup:
    """An interpolated value and whether the input had to be clamped to the profile."""

    value: float
    clamped: bool


@dataclass(frozen=True, slots=True)
class DecodeOperatingPoint:
    """The best decode operating point under an ITL target at a context length.

    ``feasible`` is False when no KV load at that context meets the target; then
    ``thpt_per_gpu`` is 0 so callers cannot turn it into a replica count by accident.
    """

    thpt_per_gpu: float
    kv_usage: float
    itl_ms: float
    context_tokens: float
    feasible: bool
    clamped: bool
    #: smallest ITL the profile reaches at this context (ms), for messages
    min_itl_ms: float
    #: the ITL target allowed more load than the profile measured at this context, so
    #: the point is the highest measured load (the surface beyond it is filled in)
    at_measured_edge: bool = False


class PrefillModel:
    """TTFT and throughput per GPU as functions of ISL.

    Below the shortest measured ISL the values are held (a shorter prompt is not much
    faster). Beyond the longest they are extrapolated, not held: TTFT grows along the
    last measured segment's slope (ms per token), TTFT(x) = TTFT(max) + slope x (x -
    max), and tokens/s per GPU follows from it, thpt(x) = thpt(max) x (x / max) x
    TTFT(max) / TTFT(x). Attention makes real prefill grow faster than linearly, so the
    extrapolation is optimistic at long range; every such value is flagged (``clamped``)
    and the decision says ``out_of_profile_range``.
    """

    def __init__(self, profile: ProfileData) -> None:
        from scipy.interpolate import make_interp_spline

        p = profile.prefill
        k = min(3, len(p.isl_tokens) - 1)
        self.min_isl = float(p.isl_tokens[0])
        self.max_isl = float(p.isl_tokens[-1])
        self._ttft = make_interp_spline(p.isl_tokens, p.ttft_ms, k=k)
        self._thpt = make_interp_spline(p.isl_tokens, p.thpt_tokens_per_s_per_gpu, k=k)
        # a spline may dip below the smallest sample between points; never below this
        self._ttft_floor = float(p.ttft_ms.min()) * 0.5
        self._thpt_floor = float(p.thpt_tokens_per_s_per_gpu.min()) * 0.5
        if len(p.isl_tokens) >= 2:
            dx = float(p.isl_tokens[-1] - p.isl_tokens[-2])
            self._slope_ms = max(0.0, float(p.ttft_ms[-1] - p.ttft_ms[-2]) / dx)
        else:
            self._slope_ms = float(p.ttft_ms[-1]) / self.max_isl
        self._ttft_max = float(p.ttft_ms[-1])
        self._thpt_max = float(p.thpt_tokens_per_s_per_gpu[-1])

    def _clamp(self, isl: float) -> tuple[float, bool]:
        c = min(max(isl, self.min_isl), self.max_isl)
        return c, c != isl

    def ttft_ms(self, isl_tokens: float) -> Lookup:
        if isl_tokens > self.max_isl:
            return Lookup(self._ttft_beyond(isl_tokens), True)
        x, clamped = self._clamp(isl_tokens)
        return Lookup(max(float(self._ttft(x)), self._ttft_floor), clamped)

    def thpt_per_gpu(self, isl_tokens: float) -> Lookup:
        if isl_tokens > self.max_isl:
            ratio = (isl_tokens / self.max_isl) * self._ttft_max / self._ttft_beyond(isl_tokens)
            return Lookup(self._thpt_max * ratio, True)
        x, clamped = self._clamp(isl_tokens)
        return Lookup(max(float(self._thpt(x)), self._thpt_floor), clamped)

    def _ttft_beyond(self, isl_tokens: float) -> float:
        return self._ttft_max + self._slope_ms * (isl_tokens - self.max_isl)


def _grid_surface(
    points: tuple[NDArray[np.float64], NDArray[np.float64]],
    values: NDArray[np.float64],
    grid: tuple[NDArray[np.float64], NDArray[np.float64]],
) -> NDArray[np.float64]:
    from scipy.interpolate import griddata

    surf: NDArray[np.float64] = griddata(points, values, grid, method="cubic")
    nan = np.isnan(surf)
    if nan.any():
        nearest: NDArray[np.float64] = griddata(points, values, grid, method="nearest")
        surf[nan] = nearest[nan]
    return surf


class DecodeModel:
    """ITL and throughput per GPU over (KV usage, context length)."""

    def __init__(self, profile: ProfileData, *, resolution: int = 100) -> None:
        d = profile.decode
        self.resolution = resolution
        self.max_kv_tokens = d.max_kv_tokens
        self.min_context = float(d.context_tokens.min())
        self.max_context = float(d.context_tokens.max())
        self.kv_axis = np.linspace(0.0, 1.0, resolution)
        self.ctx_axis = np.linspace(0.0, self.max_context, resolution)
        kv_grid, ctx_grid = np.meshgrid(self.kv_axis, self.ctx_axis)
        pts = (d.kv_usage, d.context_tokens)
        # rows: context index, columns: KV-usage index
        self.itl_grid = _grid_surface(pts, d.itl_ms, (kv_grid, ctx_grid))
        self.thpt_grid = _grid_surface(pts, d.thpt_tokens_per_s_per_gpu, (kv_grid, ctx_grid))
        # negative cubic overshoots are artefacts; keep the surfaces physical
        np.maximum(self.itl_grid, float(d.itl_ms.min()) * 0.5, out=self.itl_grid)
        np.maximum(self.thpt_grid, 0.0, out=self.thpt_grid)
        self.row_min_itl = self.itl_grid.min(axis=1)
        self.kv_envelope = _measured_kv_envelope(d, self.ctx_axis)
        # the last grid column at or inside the measured KV range, per context row
        # (half a grid step of slack: the grid need not land on a measured point)
        half_step = 0.5 / (resolution - 1)
        self.row_last_measured = (
            np.searchsorted(self.kv_axis, self.kv_envelope + half_step, side="right") - 1
        )

    def _row(self, context_tokens: float) -> tuple[int, bool]:
        clamped = not (self.min_context <= context_tokens <= self.max_context)
        step = self.ctx_axis[1] - self.ctx_axis[0]
        iy = int(np.clip(round(context_tokens / step), 0, self.resolution - 1))
        return iy, clamped

    def _bilinear(self, grid: NDArray[np.float64], kv_usage: float, context_tokens: float) -> float:
        fx = float(np.clip(kv_usage, 0.0, 1.0)) * (self.resolution - 1)
        fy = float(np.clip(context_tokens / self.max_context, 0.0, 1.0)) * (self.resolution - 1)
        x0, y0 = int(fx), int(fy)
        x1, y1 = min(x0 + 1, self.resolution - 1), min(y0 + 1, self.resolution - 1)
        tx, ty = fx - x0, fy - y0
        top = grid[y0, x0] * (1 - tx) + grid[y0, x1] * tx
        bot = grid[y1, x0] * (1 - tx) + grid[y1, x1] * tx
        return float(top * (1 - ty) + bot * ty)

    def kv_usage(self, *, concurrency: float, context_tokens: float) -> float:
        """KV usage (fraction) of ``concurrency`` requests of ``context_tokens`` each."""
        return concurrency * context_tokens / self.max_kv_tokens

    def itl_ms(self, *, kv_usage: float, context_tokens: float) -> Lookup:
        clamped = kv_usage > 1.0 or not (self.min_context <= context_tokens <= self.max_context)
        return Lookup(self._bilinear(self.itl_grid, kv_usage, context_tokens), clamped)

    def thpt_per_gpu(self, *, kv_usage: float, context_tokens: float) -> Lookup:
        clamped = kv_usage > 1.0 or not (self.min_context <= context_tokens <= self.max_context)
        return Lookup(self._bilinear(self.thpt_grid, kv_usage, context_tokens), clamped)

    def best_throughput(self, *, itl_ms: float, context_tokens: float) -> DecodeOperatingPoint:
        """Highest-load grid point at this context whose ITL meets ``itl_ms``, inside the
        load range the profile measured at this context.

        Scans the row rather than bisecting because the interpolated ITL need not be
        monotonic in load (a binary search could stop at a local dip).
        """
        iy, clamped = self._row(context_tokens)
        last = int(self.row_last_measured[iy])
        # only the load range measured at this context: beyond it the surface is the
        # nearest measured value copied outward, not a measurement
        row_itl = self.itl_grid[iy, : last + 1]
        # a point that makes no tokens (zero load) serves nobody, whatever its ITL
        ok = np.flatnonzero((row_itl <= itl_ms) & (self.thpt_grid[iy, : last + 1] > 0))
        min_itl = float(self.row_min_itl[iy])
        if ok.size == 0:
            return DecodeOperatingPoint(
                thpt_per_gpu=0.0,
                kv_usage=0.0,
                itl_ms=min_itl,
                context_tokens=float(self.ctx_axis[iy]),
                feasible=False,
                clamped=clamped,
                min_itl_ms=min_itl,
            )
        ix = int(ok[-1])
        return DecodeOperatingPoint(
            thpt_per_gpu=float(self.thpt_grid[iy, ix]),
            kv_usage=float(self.kv_axis[ix]),
            itl_ms=float(row_itl[ix]),
            context_tokens=float(self.ctx_axis[iy]),
            feasible=True,
            clamped=clamped,
            min_itl_ms=min_itl,
            at_measured_edge=ix == last,
        )

    def itl_many(
        self, kv_usage: NDArray[np.float64], context_tokens: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """ITL (ms) at many (KV usage, context) points: the bilinear lookup of ``itl_ms``,
        vectorised (KV usage clipped to 0..1)."""
        n = self.resolution - 1
        fx = np.clip(kv_usage, 0.0, 1.0) * n
        fy = np.clip(context_tokens / self.max_context, 0.0, 1.0) * n
        x0, y0 = fx.astype(int), fy.astype(int)
        x1, y1 = np.minimum(x0 + 1, n), np.minimum(y0 + 1, n)
        tx, ty = fx - x0, fy - y0
        g = self.itl_grid
        top = g[y0, x0] * (1 - tx) + g[y0, x1] * tx
        bot = g[y1, x0] * (1 - tx) + g[y1, x1] * tx
        out: NDArray[np.float64] = top * (1 - ty) + bot * ty
        return out

    def itl_extrapolated(
        self, kv_usage: NDArray[np.float64], context_tokens: float
    ) -> NDArray[np.float64]:
        """ITL (ms) along a context's row, beyond the measured load range continued on
        the slope of the last measured tenth of it (never falling): the surface the
        profile filled in there is the nearest measurement copied outward, flat, which
        would promise free load."""
        edge = self.measured_kv(context_tokens)
        ctx = np.full_like(kv_usage, context_tokens)
        inside = self.itl_many(np.minimum(kv_usage, edge), ctx)
        back = max(edge * 0.9, 0.0)
        at_edge, before = self.itl_many(np.array([edge, back]), np.full(2, context_tokens))
        slope = max(0.0, (at_edge - before) / max(edge - back, 1e-9))
        out: NDArray[np.float64] = inside + slope * np.maximum(kv_usage - edge, 0.0)
        return out

    def measured_kv(self, context_tokens: float) -> float:
        """The highest KV usage the profile measured at this context (interpolated)."""
        return float(np.interp(context_tokens, self.ctx_axis, self.kv_envelope))


def _measured_kv_envelope(d: DecodeData, ctx_axis: NDArray[np.float64]) -> NDArray[np.float64]:
    """Highest KV usage measured at each grid context: the per-context maxima,
    interpolated linearly between measured contexts and held flat beyond them."""
    contexts = np.unique(d.context_tokens)
    maxima = np.array([d.kv_usage[d.context_tokens == c].max() for c in contexts])
    envelope: NDArray[np.float64] = np.interp(ctx_axis, contexts, maxima)
    return envelope


class PerfModel:
    """Prefill curve + decode surface from one profile, built once at start-up."""

    def __init__(self, profile: ProfileData, *, resolution: int = 100) -> None:
        self.profile = profile
        self.prefill = PrefillModel(profile)
        self.decode = DecodeModel(profile, resolution=resolution)

    def summary(self) -> dict[str, Any]:
        p, d = self.profile.prefill, self.profile.decode
        return {
            "source": self.profile.source,
            "layout": self.profile.layout,
            "prefill_points": len(p.isl_tokens),
            "isl_range_tokens": [float(p.isl_tokens[0]), float(p.isl_tokens[-1])],
            "ttft_range_ms": [float(p.ttft_ms.min()), float(p.ttft_ms.max())],
            "decode_points": len(d.kv_usage),
            "context_lengths_tokens": sorted({float(c) for c in d.context_tokens}),
            "itl_range_ms": [float(d.itl_ms.min()), float(d.itl_ms.max())],
            "max_kv_tokens": d.max_kv_tokens,
        }
