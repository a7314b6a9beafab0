"""Broken profile files (truncated, garbage, pickled, empty npz; a TTFT that falls as ISL
grows) give a ProfileError in plain words, and the non-monotonic check can be relaxed to a
warning that names the points."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from planner.errors import ProfileError
from planner.perf.profile import DEFAULT_PROFILE_DIR, load_profile, profile_to_json
from planner.planner import Planner
from planner.settings import load_settings

PREFILL_NPZ = "selected_prefill_interpolation/raw_data.npz"


def _dynamo_copy(tmp_path: Path) -> Path:
    out = tmp_path / "dynamo"
    shutil.copytree(DEFAULT_PROFILE_DIR / "dynamo", out)
    return out


def _load_error(path: Path) -> ProfileError:
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    return info.value


def test_truncated_npz_is_a_plain_profile_error(tmp_path: Path) -> None:
    """Half of a real raw_data.npz: a ProfileError (exit 2) naming the file and saying it
    is damaged or truncated, not a BadZipFile traceback."""
    d = _dynamo_copy(tmp_path)
    npz = d / PREFILL_NPZ
    data = npz.read_bytes()
    npz.write_bytes(data[: len(data) // 2])
    err = _load_error(d)
    assert err.exit_code == 2 and err.source == str(npz)
    assert "damaged or truncated" in str(err)


def test_damaged_member_is_a_plain_profile_error(tmp_path: Path) -> None:
    """Bytes overwritten inside an array member (CRC mismatch) read as damaged."""
    d = _dynamo_copy(tmp_path)
    npz = d / PREFILL_NPZ
    data = bytearray(npz.read_bytes())
    data[120:180] = bytes(60)
    npz.write_bytes(bytes(data))
    assert "damaged or truncated" in str(_load_error(d))


def test_garbage_npz_never_suggests_allow_pickle(tmp_path: Path) -> None:
    """A file of random bytes named raw_data.npz is 'not an npz archive'; numpy's advice
    to load it with allow_pickle (which would run code from the file) never reaches the
    user."""
    d = _dynamo_copy(tmp_path)
    (d / PREFILL_NPZ).write_bytes(np.random.default_rng(0).bytes(3000))
    text = str(_load_error(d))
    assert "not an npz archive" in text
    assert "pickle" not in text.lower()


def test_object_arrays_are_refused_without_pickle_advice(tmp_path: Path) -> None:
    """An npz holding a Python object array is refused as 'Python objects', plainly."""
    d = _dynamo_copy(tmp_path)
    np.savez(
        d / PREFILL_NPZ,
        prefill_isl=np.array([{"a": 1}], dtype=object),
        prefill_ttft=np.ones(3),
        prefill_thpt_per_gpu=np.ones(3),
    )
    text = str(_load_error(d))
    assert "Python objects" in text and "allow_pickle" not in text


def test_empty_npz_says_empty(tmp_path: Path) -> None:
    """A zero-byte raw_data.npz is reported as empty."""
    d = _dynamo_copy(tmp_path)
    (d / PREFILL_NPZ).write_bytes(b"")
    assert "empty" in str(_load_error(d))


def _shuffled_ttft_profile(tmp_path: Path) -> Path:
    """Our format with the ISL column reversed but TTFT and throughput left as they were
    (a column mix-up): sorting by ISL then makes TTFT fall as ISL grows."""
    doc = profile_to_json(load_profile(DEFAULT_PROFILE_DIR))
    doc["prefill"]["isl_tokens"] = doc["prefill"]["isl_tokens"][::-1]
    (tmp_path / "profile.json").write_text(json.dumps(doc))
    return tmp_path


def test_ttft_falling_with_isl_is_an_error_naming_the_points(tmp_path: Path) -> None:
    """An ISL-unsorted profile whose TTFT then falls with ISL stops loading; the message
    names the field, the first points (ISL and TTFT), says the file was out of order and
    how to load it anyway."""
    err = _load_error(_shuffled_ttft_profile(tmp_path))
    text = str(err)
    assert err.field == "prefill_ttft" and err.exit_code == 2
    assert "TTFT falls as ISL grows at 16 point(s)" in text
    assert "out of order" in text
    assert "ISL 100 -> 375.5 ms but ISL 1117 -> 354.1 ms" in text
    assert "profile_non_monotonic: warn" in text


def test_non_monotonic_warn_setting_loads_and_names_the_points(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With profile_non_monotonic=warn the planner starts; the warning (logged and kept
    on the profile) names the points."""
    path = _shuffled_ttft_profile(tmp_path)
    settings = load_settings(overrides={"profile": str(path), "profile_non_monotonic": "warn"})
    with caplog.at_level(logging.WARNING, logger="sla_planner.profile"):
        planner = Planner(settings)
    assert planner.perf is not None
    assert any("ISL 100 -> 375.5 ms" in r.getMessage() for r in caplog.records)
    warned = load_profile(path, non_monotonic="warn")
    assert len(warned.warnings) == 1 and "16 point(s)" in warned.warnings[0]


def test_shipped_profile_is_monotonic() -> None:
    """The shipped profile passes the check with no warning (the check is not a blanket
    rejection)."""
    assert load_profile(DEFAULT_PROFILE_DIR).warnings == ()
