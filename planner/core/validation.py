"""Checks for the values that enter the decision core: finite, non-negative, in range.

Each raises ``InputError`` naming the owner type, the field, the value and what was
expected, so a caller of the library API (``Planner.step``) learns exactly which number
was wrong instead of meeting a NaN several stages later.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from planner.errors import InputError


def finite(owner: str, field: str, value: float, *, low: float = 0.0) -> None:
    """``value`` is a finite number >= ``low``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(owner, field, value, f"a number >= {low:g}")
    if not math.isfinite(value) or value < low:
        raise InputError(owner, field, value, f"a finite number >= {low:g}")


def positive(owner: str, field: str, value: float) -> None:
    """``value`` is a finite number > 0."""
    finite(owner, field, value)
    if value <= 0:
        raise InputError(owner, field, value, "a finite number > 0")


def optional(owner: str, field: str, value: float | None) -> None:
    """``value`` is None or a finite number >= 0."""
    if value is not None:
        finite(owner, field, value)


def fraction(owner: str, field: str, value: float) -> None:
    """``value`` is in the open interval (0, 1)."""
    finite(owner, field, value)
    if not 0.0 < value < 1.0:
        raise InputError(owner, field, value, "a number in (0, 1)")


def counts(owner: str, field: str, value: Mapping[Any, int], *, low: int = 0) -> None:
    """Every value of a per-component mapping is an integer >= ``low``."""
    for key, n in value.items():
        if isinstance(n, bool) or not isinstance(n, int) or n < low:
            name = getattr(key, "value", key)
            raise InputError(owner, f"{field}[{name}]", n, f"an integer >= {low}")


def histogram(owner: str, field: str, buckets: tuple[tuple[float, float], ...]) -> None:
    """Cumulative (upper bound, count) pairs: bounds ascending, the last +inf, counts
    finite and >= 0 (counts may dip slightly: ``increase`` extrapolates per series)."""
    if not buckets:
        raise InputError(owner, field, buckets, "at least the +inf bucket")
    previous = -math.inf
    for le, count in buckets:
        if math.isnan(le) or le <= previous:
            raise InputError(owner, field, buckets, "bucket bounds strictly ascending")
        if not math.isfinite(count) or count < 0:
            raise InputError(owner, field, buckets, "bucket counts finite and >= 0")
        previous = le
    if not math.isinf(buckets[-1][0]):
        raise InputError(owner, field, buckets, "the last bucket bound to be +inf")
