"""Multi-row (pre-swept) profiles: loading one demands a row choice and names the rows;
a row is chosen by index or TP; the cheapest row at the targets is the one with the
fewest GPU-seconds per request."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planner.errors import ProfileError
from planner.perf.preswept import RowChoice, parse_row
from planner.perf.profile import DEFAULT_PROFILE_DIR, load_profile


def two_rows(directory: Path, *, slow: float = 2.0) -> Path:
    """The shipped profile as row 0 (TP1) and the same worker ``slow`` times slower as
    row 1 (labelled TP2), in Dynamo's pre-swept layout."""
    p = load_profile(DEFAULT_PROFILE_DIR)
    pre, dec = p.prefill, p.decode
    np.savez(
        directory / "pre_swept_prefill.npz",
        prefill_isl=np.stack([pre.isl_tokens, pre.isl_tokens]),
        prefill_ttft=np.stack([pre.ttft_ms, pre.ttft_ms * slow]),
        prefill_thpt_per_gpu=np.stack(
            [pre.thpt_tokens_per_s_per_gpu, pre.thpt_tokens_per_s_per_gpu / slow]
        ),
        tp=np.array([1, 2]),
        gpu_type=np.array(["h200_sxm", "h200_sxm"]),
    )
    np.savez(
        directory / "pre_swept_decode.npz",
        x_kv_usage=np.stack([dec.kv_usage, dec.kv_usage]),
        y_context_length=np.stack([dec.context_tokens, dec.context_tokens]),
        z_itl=np.stack([dec.itl_ms, dec.itl_ms * slow]),
        z_thpt_per_gpu=np.stack(
            [dec.thpt_tokens_per_s_per_gpu, dec.thpt_tokens_per_s_per_gpu / slow]
        ),
        max_kv_tokens=np.array([dec.max_kv_tokens, dec.max_kv_tokens]),
        tp=np.array([1, 2]),
    )
    return directory


def test_a_multi_row_profile_without_a_choice_names_its_rows(tmp_path: Path) -> None:
    """No silent row 0: the error lists each row with its TP and says how to choose."""
    with pytest.raises(ProfileError, match=r"2 rows \(0 \(tp=1.*1 \(tp=2.*profile_row"):
        load_profile(two_rows(tmp_path))


def test_a_row_is_chosen_by_index_or_by_tp(tmp_path: Path) -> None:
    """Index 1, "tp=2" and "tp2" all load the second row; its GPUs per worker are its TP."""
    d = two_rows(tmp_path)
    base = load_profile(DEFAULT_PROFILE_DIR)
    for choice in (1, "1", "tp=2", "TP2"):
        p = load_profile(d, row=choice)
        assert p.meta.tp_prefill == 2 and p.meta.gpus_per_decode_worker == 2
        np.testing.assert_allclose(p.prefill.ttft_ms, base.prefill.ttft_ms * 2.0)
    assert load_profile(d, row="tp=1").meta.tp_prefill == 1


@pytest.mark.parametrize(
    ("choice", "message"),
    [(5, "5 out of range: the file has 2 rows"), ("tp=4", "tp=4 matches no row"),
     ("fast", "expected a row index"), ("cheapest", "needs a workload")],
)  # fmt: skip
def test_a_bad_row_choice_says_what_was_expected(
    tmp_path: Path, choice: object, message: str
) -> None:
    """Out of range, an unknown TP, garbage, and 'cheapest' without a workload."""
    with pytest.raises(ProfileError, match=message):
        load_profile(two_rows(tmp_path), row=choice)  # type: ignore[arg-type]


def test_parse_row_reads_the_three_forms() -> None:
    """Digits, tp=N and 'cheapest'; anything else is a ValueError."""
    assert parse_row("3") == RowChoice(index=3)
    assert parse_row("tp = 8") == RowChoice(tp=8)
    assert parse_row("Cheapest") == "cheapest"
    with pytest.raises(ValueError, match="profile_row"):
        parse_row("tp=0")
