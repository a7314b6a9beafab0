"""Profile loading: every Dynamo layout and ours, and validation of broken files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from planner.errors import ProfileError
from planner.perf.model import PerfModel
from planner.perf.profile import DEFAULT_PROFILE_DIR, load_profile, profile_to_json, write_profile
from tests.conftest import DYNAMO_PROFILE_DIR


def _dynamo_dir() -> Path:
    if not DYNAMO_PROFILE_DIR.exists():
        pytest.skip("shared Dynamo profile not present")
    return DYNAMO_PROFILE_DIR


def test_shipped_profile_equals_the_upstream_npz_arrays() -> None:
    """profiles/ ships profile.json whose arrays equal the byte-copied npz files."""
    ours = load_profile(DEFAULT_PROFILE_DIR)
    raw = load_profile(DEFAULT_PROFILE_DIR / "dynamo")
    assert ours.layout == "sla-planner" and raw.layout == "dynamo-raw"
    for a, b in [
        (ours.prefill.isl_tokens, raw.prefill.isl_tokens),
        (ours.prefill.ttft_ms, raw.prefill.ttft_ms),
        (ours.decode.itl_ms, raw.decode.itl_ms),
        (ours.decode.thpt_tokens_per_s_per_gpu, raw.decode.thpt_tokens_per_s_per_gpu),
    ]:
        np.testing.assert_array_equal(a, b)
    assert ours.decode.max_kv_tokens == raw.decode.max_kv_tokens == 945029
    assert ours.meta.gpu_type == "H200 SXM" and ours.meta.licence == "Apache-2.0"


def test_preswept_layout_reads_the_same_numbers_and_metadata() -> None:
    """The pre-swept (n_configs, n_points) npz files give the raw-data arrays and meta."""
    src = _dynamo_dir()
    raw = load_profile(src)  # directory has selected_* too; raw layout wins
    assert raw.layout == "dynamo-raw"
    d = Path(pytest.importorskip("tempfile").mkdtemp())
    try:
        shutil.copy(src / "pre_swept_prefill.npz", d)
        shutil.copy(src / "pre_swept_decode.npz", d)
        sw = load_profile(d)
        assert sw.layout == "dynamo-preswept"
        np.testing.assert_array_equal(sw.prefill.ttft_ms, raw.prefill.ttft_ms)
        np.testing.assert_array_equal(sw.decode.kv_usage, raw.decode.kv_usage)
        assert sw.meta.gpu_type == "h200_sxm" and sw.meta.tp_prefill == 1
        with pytest.raises(ProfileError, match="3 out of range: the file has 1 rows"):
            load_profile(d, config_index=3)
    finally:
        shutil.rmtree(d)


def test_dynamo_json_layout_round_trips(tmp_path: Path) -> None:
    """prefill_raw_data.json / decode_raw_data.json with Dynamo's keys load like npz."""
    p = load_profile(DEFAULT_PROFILE_DIR)
    (tmp_path / "prefill_raw_data.json").write_text(
        json.dumps(
            {
                "prefill_isl": p.prefill.isl_tokens.tolist(),
                "prefill_ttft": p.prefill.ttft_ms.tolist(),
                "prefill_thpt_per_gpu": p.prefill.thpt_tokens_per_s_per_gpu.tolist(),
            }
        )
    )
    (tmp_path / "decode_raw_data.json").write_text(
        json.dumps(
            {
                "x_kv_usage": p.decode.kv_usage.tolist(),
                "y_context_length": p.decode.context_tokens.tolist(),
                "z_itl": p.decode.itl_ms.tolist(),
                "z_thpt_per_gpu": p.decode.thpt_tokens_per_s_per_gpu.tolist(),
                "max_kv_tokens": [p.decode.max_kv_tokens],
            }
        )
    )
    q = load_profile(tmp_path)
    assert q.layout == "dynamo-raw"
    np.testing.assert_array_equal(q.prefill.isl_tokens, p.prefill.isl_tokens)


def test_writer_output_loads_in_both_layouts(tmp_path: Path) -> None:
    """write_profile writes profile.json and Dynamo npz that read back identically."""
    p = load_profile(DEFAULT_PROFILE_DIR)
    write_profile(p, tmp_path)
    ours = load_profile(tmp_path)
    (tmp_path / "profile.json").unlink()
    theirs = load_profile(tmp_path)
    assert theirs.layout == "dynamo-raw"
    np.testing.assert_array_equal(ours.decode.itl_ms, theirs.decode.itl_ms)
    assert profile_to_json(ours)["meta"]["model"] == "nvidia/Llama-3.1-8B-Instruct-FP8"


def test_unsorted_isl_is_sorted_with_its_values(tmp_path: Path) -> None:
    """A sortable ISL column is sorted together with TTFT and throughput."""
    doc = profile_to_json(load_profile(DEFAULT_PROFILE_DIR))
    pre = doc["prefill"]
    order = list(range(len(pre["isl_tokens"])))[::-1]
    for k in pre:
        pre[k] = [pre[k][i] for i in order]
    (tmp_path / "profile.json").write_text(json.dumps(doc))
    p = load_profile(tmp_path)
    assert np.all(np.diff(p.prefill.isl_tokens) > 0)
    assert PerfModel(p).prefill.ttft_ms(3000).value == pytest.approx(60.46, abs=0.01)


BROKEN = [
    ("prefill", "ttft_ms", lambda v: v[:-1], "lengths differ"),
    ("prefill", "ttft_ms", lambda v: [*v[:2], float("nan"), *v[3:]], "not finite"),
    ("prefill", "throughput_tokens_per_s_per_gpu", lambda v: [-1.0, *v[1:]], "must be > 0"),
    ("prefill", "isl_tokens", lambda v: [v[1], *v[1:]], "duplicate ISL"),
    ("decode", "itl_ms", lambda v: [0.0, *v[1:]], "must be > 0"),
    ("decode", "kv_usage", lambda v: [7.0, *v[1:]], "fractions 0..1"),
    ("decode", "max_kv_tokens", lambda v: -5, "positive token count"),
    ("decode", "itl_ms", lambda v: "fast", "not numeric"),
    ("decode", "itl_ms", lambda v: [v, v], "1-D array"),
]


@pytest.mark.parametrize(("part", "key", "mutate", "message"), BROKEN)
def test_broken_profile_names_field_and_problem(
    tmp_path: Path, part: str, key: str, mutate, message: str
) -> None:  # type: ignore[no-untyped-def]
    """Each kind of breakage raises ProfileError (exit code 2) with a precise message."""
    doc = profile_to_json(load_profile(DEFAULT_PROFILE_DIR))
    doc[part][key] = mutate(doc[part][key])
    (tmp_path / "profile.json").write_text(json.dumps(doc))
    with pytest.raises(ProfileError, match=message) as info:
        load_profile(tmp_path)
    assert info.value.exit_code == 2


def test_missing_key_and_missing_files_are_named(tmp_path: Path) -> None:
    """A missing key lists the keys present; an empty directory says what it looked for."""
    doc = profile_to_json(load_profile(DEFAULT_PROFILE_DIR))
    del doc["decode"]["itl_ms"]
    (tmp_path / "profile.json").write_text(json.dumps(doc))
    with pytest.raises(ProfileError, match="itl_ms: missing key"):
        load_profile(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ProfileError, match="pre_swept"):
        load_profile(empty)
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile(tmp_path / "nope")
