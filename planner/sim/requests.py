"""The request table: inputs as Python lists (fast scalar access in the hot loops) and
per-request outcomes as numpy arrays (NaN until known), growing as requests are submitted.

A clone shares the input lists with its origin (they are append-only) and holds only the
first ``len(table)`` entries of them; it copies them before its own first ``add``.
Readers therefore bound every search by ``len(table)``, never by the lists' lengths."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from planner.errors import TraceError

FloatArray = NDArray[np.float64]


class RequestTable:
    def __init__(self) -> None:
        self.arrival_s: list[float] = []
        self.isl: list[int] = []
        self.osl: list[int] = []
        #: cum_isl[k] = sum(isl[:k]) (tokens); len = n + 1
        self.cum_isl: list[float] = [0.0]
        self._cap = 0
        self._n = 0
        #: the input lists are shared with another table: copy before appending
        self._shared = False
        self.prefill_done_s: FloatArray = np.empty(0)
        self.first_token_s: FloatArray = np.empty(0)
        self.finish_s: FloatArray = np.empty(0)

    def __len__(self) -> int:
        return self._n

    def _grow(self, need: int) -> None:
        if need <= self._cap:
            return
        cap = max(need, 2 * self._cap, 1024)
        for name in ("prefill_done_s", "first_token_s", "finish_s"):
            old = getattr(self, name)
            new = np.full(cap, np.nan)
            new[: len(old)] = old
            setattr(self, name, new)
        self._cap = cap

    def add(
        self,
        arrival_s: FloatArray,
        isl: NDArray[np.int64],
        osl: NDArray[np.int64],
        *,
        not_before_s: float,
    ) -> range:
        """Append requests (sorted by arrival, none before ``not_before_s`` or the last one)."""
        n = len(arrival_s)
        if not (len(isl) == n and len(osl) == n):
            raise TraceError(f"submit: {n} arrivals but {len(isl)} ISLs and {len(osl)} OSLs")
        if n == 0:
            return range(len(self), len(self))
        arr = np.asarray(arrival_s, dtype=np.float64)
        last = self.arrival_s[self._n - 1] if self._n else not_before_s
        if arr[0] < max(last, not_before_s) - 1e-9 or (n > 1 and bool((np.diff(arr) < 0).any())):
            raise TraceError(
                f"submit: arrivals must be sorted and >= {max(last, not_before_s):.6f}s "
                f"(got first {arr[0]:.6f}s)"
            )
        i_in = np.asarray(isl, dtype=np.int64)
        o_in = np.asarray(osl, dtype=np.int64)
        if (i_in < 1).any() or (o_in < 1).any():
            raise TraceError("submit: ISL and OSL must be >= 1 token")
        start = len(self)
        if self._shared:
            self.arrival_s = self.arrival_s[:start]
            self.isl = self.isl[:start]
            self.osl = self.osl[:start]
            self.cum_isl = self.cum_isl[: start + 1]
            self._shared = False
        self._grow(start + n)
        self.arrival_s.extend(arr.tolist())
        self.isl.extend(i_in.tolist())
        self.osl.extend(o_in.tolist())
        base = self.cum_isl[start]
        self.cum_isl.extend((base + np.cumsum(i_in, dtype=np.float64)).tolist())
        self._n = start + n
        return range(start, start + n)

    def clone(self, *, limit: int | None = None) -> RequestTable:
        """An independent copy holding the first ``limit`` requests (all when None)."""
        m = len(self) if limit is None else max(0, min(limit, len(self)))
        out = RequestTable()
        out.arrival_s, out.isl, out.osl = self.arrival_s, self.isl, self.osl
        out.cum_isl = self.cum_isl
        out._n = m
        out._shared = self._shared = True
        out.prefill_done_s = self.prefill_done_s[:m].copy()
        out.first_token_s = self.first_token_s[:m].copy()
        out.finish_s = self.finish_s[:m].copy()
        out._cap = m
        return out

    def outcomes(self) -> dict[str, FloatArray]:
        n = len(self)
        return {
            "arrival_s": np.asarray(self.arrival_s[:n]),
            "isl": np.asarray(self.isl[:n], dtype=np.float64),
            "osl": np.asarray(self.osl[:n], dtype=np.float64),
            "prefill_done_s": self.prefill_done_s[:n].copy(),
            "first_token_s": self.first_token_s[:n].copy(),
            "finish_s": self.finish_s[:n].copy(),
        }
