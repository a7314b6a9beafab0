"""GPU budget properties (hypothesis) and the infeasible-minimums case."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from planner.core.budget import apply_budget
from planner.core.types import Component

P, D = Component.PREFILL, Component.DECODE


@st.composite
def budget_cases(draw):  # type: ignore[no-untyped-def]
    gp, gd = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    mp, md = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    rp, rd = draw(st.integers(0, 60)), draw(st.integers(0, 60))
    budget = draw(st.one_of(st.none(), st.integers(1, 200)))
    return {P: rp, D: rd}, {P: mp, D: md}, {P: gp, D: gd}, budget


@settings(max_examples=400, deadline=None)
@given(budget_cases())
def test_budget_invariants(case) -> None:  # type: ignore[no-untyped-def]
    """Never over budget; never above the request; minimums held when they fit;
    deterministic; no GPU left idle that could serve an unmet request."""
    req, mins, gpus, budget = case
    r = apply_budget(requested=req, minimums=mins, gpus_per_worker=gpus, max_gpus=budget)
    again = apply_budget(requested=req, minimums=mins, gpus_per_worker=gpus, max_gpus=budget)
    assert r == again
    used = sum(r.targets[c] * gpus[c] for c in req)
    for c in req:
        assert 0 <= r.targets[c] <= req[c]
    if budget is None:
        assert r.targets == req and not r.clamped
        return
    assert used <= budget
    floor = sum(min(mins[c], req[c]) * gpus[c] for c in req)
    if floor <= budget:
        assert not r.infeasible
        for c in req:
            assert r.targets[c] >= min(mins[c], req[c])
    else:
        assert r.infeasible and "cannot hold the minimum" in r.message
    # work-conserving: an unmet component could not fit one more worker
    for c in req:
        if r.targets[c] < req[c]:
            assert used + gpus[c] > budget


def test_budget_keeps_the_prefill_decode_balance() -> None:
    """Asked 6P+2D on 1-GPU workers with 4 GPUs: 3P+1D (both at half their request)."""
    r = apply_budget(
        requested={P: 6, D: 2}, minimums={P: 1, D: 1}, gpus_per_worker={P: 1, D: 1}, max_gpus=4
    )
    assert r.targets == {P: 3, D: 1}
    assert r.clamped == frozenset({P, D})


def test_minimums_that_do_not_fit_are_reported_not_zeroed() -> None:
    """Minimums of 2x4-GPU workers each on 6 GPUs: says so and fills one worker."""
    r = apply_budget(
        requested={P: 3, D: 3}, minimums={P: 2, D: 2}, gpus_per_worker={P: 4, D: 4}, max_gpus=6
    )
    assert r.infeasible
    assert sum(r.targets.values()) == 1
    assert "budget 6 GPUs cannot hold the minimum replicas (16 GPUs)" in r.message
