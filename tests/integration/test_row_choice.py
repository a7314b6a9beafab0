"""The cheapest row of a multi-row profile: the one with the fewest GPU-seconds per
request at the targets (each row's perf model is built, so this is not a unit test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.errors import ProfileError
from planner.perf.row_choice import cheapest_row, row_costs
from tests.unit.test_profile_rows import two_rows

pytestmark = pytest.mark.slow


def test_the_cheapest_row_is_the_one_with_fewer_gpu_seconds(tmp_path: Path) -> None:
    """The faster row costs half the GPU-seconds of the 2x slower one and is chosen; with
    a TTFT target only the fast row meets, the slow one is listed with the reason."""
    d = two_rows(tmp_path)
    costs = row_costs(d, ttft_ms=500, itl_ms=50, isl=3000, osl=300)
    fast, slow = costs
    assert fast.gpu_s_per_request is not None and slow.gpu_s_per_request is not None
    assert slow.gpu_s_per_request > 1.5 * fast.gpu_s_per_request
    assert cheapest_row(d, ttft_ms=500, itl_ms=50, isl=3000, osl=300) == 0
    tight = row_costs(d, ttft_ms=80, itl_ms=50, isl=3000, osl=300)
    assert tight[0].reason is None and tight[1].reason and "TTFT(3000)" in tight[1].reason
    with pytest.raises(ProfileError, match="no row meets the targets"):
        cheapest_row(d, ttft_ms=10, itl_ms=50, isl=3000, osl=300)
