"""The shared pool's cluster cap from its graphs' own capacity readings (pure).

Each graph's reading (planner/core/capacity.py) is the most GPUs that graph could hold
in all: what is free to it plus its own workers' GPUs, the other graphs' pods counted
as held by others. For a pool the free part is the same cluster seen from each graph,
so the pool can hold

    cap = min over read graphs of (cap_g - own_g)  +  sum over all graphs of own_g

GPUs, where own_g is what graph g's desired workers hold (desired x GPUs per worker).
None when no graph has a reading (the virtual target, reading switched off, or every
limit unbounded): the pool is then ``pool.gpus`` alone.
"""

from __future__ import annotations

from collections.abc import Mapping


def pool_cap_gpus(*, caps: Mapping[str, int | None], own_gpus: Mapping[str, int]) -> int | None:
    """The pool's cap, or None; ``caps``: each graph's reading (None: none), ``own_gpus``:
    the GPUs each graph's desired workers hold now."""
    free = [cap - own_gpus.get(name, 0) for name, cap in caps.items() if cap is not None]
    if not free:
        return None
    return max(0, min(free)) + sum(own_gpus.values())
