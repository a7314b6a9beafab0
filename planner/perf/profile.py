"""Loading a performance profile: where the shipped one lives, which layout a path holds,
and the checks every loaded profile passes (the values are in ``profile_data``, the file
layouts in ``profile_formats``).

Formats read, in order of preference inside a directory:

1. ``profile.json``: our format (``format: sla-planner-profile``), arrays with units in
   their names plus metadata (GPU, model, engine, TP, KV capacity, startup time, ...).
2. Dynamo raw data: ``selected_prefill_interpolation/raw_data.npz`` and
   ``selected_decode_interpolation/raw_data.npz`` (or ``prefill_raw_data.json`` /
   ``decode_raw_data.json`` with the same keys, in those folders or at the top).
3. Dynamo pre-swept: ``pre_swept_prefill.npz`` / ``pre_swept_decode.npz`` (or
   ``prefill.npz`` / ``decode.npz``) with arrays of shape (n_configs, n_points); a file
   with several rows needs a ``row`` (planner/perf/preswept.py).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from importlib import resources
from pathlib import Path

from planner.errors import ProfileError
from planner.perf.preswept import CHEAPEST, parse_row
from planner.perf.profile_data import (
    DecodeData,
    FloatArray,
    NonMonotonic,
    PrefillData,
    ProfileData,
    ProfileMeta,
    ttft_falls,
    validate_decode,
    validate_prefill,
)
from planner.perf.profile_formats import (
    FORMAT_NAME,
    FORMAT_VERSION,
    profile_to_json,
    read_any,
    write_profile,
)

__all__ = [
    "DEFAULT_PROFILE_DIR",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "DecodeData",
    "FloatArray",
    "NonMonotonic",
    "PrefillData",
    "ProfileData",
    "ProfileMeta",
    "load_profile",
    "profile_to_json",
    "shipped_profile",
    "ttft_falls",
    "validate_decode",
    "validate_prefill",
    "write_profile",
]


def shipped_profile(name: str | None = None) -> Path:
    """The folder of a profile shipped in the ``profiles`` package (default: the measured
    H200 / Llama-3.1-8B-FP8 one). Resolved through importlib.resources, so an editable
    install, a wheel and the container image all find the same files."""
    from profiles import DEFAULT_PROFILE

    root = resources.files("profiles")
    # the loader reads files with numpy and json by path: a zipped install cannot work
    if not isinstance(root, Path):
        raise ProfileError(
            str(root), "profiles", "the package is not on the file system (zipped install)"
        )
    return root / (name or DEFAULT_PROFILE)


#: the measured H200 / Llama-3.1-8B-FP8 profile shipped in the ``profiles`` package
DEFAULT_PROFILE_DIR = shipped_profile()

log = logging.getLogger("sla_planner.profile")


def load_profile(
    path: str | Path,
    *,
    row: int | str | None = None,
    config_index: int | None = None,
    non_monotonic: NonMonotonic = "error",
) -> ProfileData:
    """Load a profile from a directory or a ``profile.json`` file; raise ProfileError.

    ``row`` picks a row of a multi-row (pre-swept) file: an index, ``tp=N`` (see
    planner/perf/preswept.py; ``config_index`` is the older name of an index). A file
    with several rows and no choice is an error naming them; single-row formats ignore
    it. A prefill curve whose TTFT falls as ISL grows is an error, or with
    ``non_monotonic="warn"`` a logged warning (also in ``ProfileData.warnings``).
    """
    choice = row if row is not None else config_index
    try:
        parsed = parse_row(choice) if choice is not None else None
    except ValueError as exc:
        raise ProfileError(str(path), "profile_row", str(exc)) from exc
    if parsed == CHEAPEST:
        raise ProfileError(
            str(path),
            "profile_row",
            f"{CHEAPEST!r} needs a workload's ISL and OSL to compare the rows: pick one "
            "with `sla-planner profile rows` or `sla-planner simulate --profile-row "
            f"{CHEAPEST}`",
        )
    assert not isinstance(parsed, str)
    profile = read_any(Path(path), choice=parsed)
    falls = ttft_falls(profile.prefill)
    if falls is None:
        return profile
    if non_monotonic == "error":
        raise ProfileError(
            profile.source,
            "prefill_ttft",
            f"{falls} (set profile_non_monotonic: warn to load it anyway)",
        )
    log.warning("profile %s: %s", profile.source, falls)
    return replace(profile, warnings=(*profile.warnings, falls))
