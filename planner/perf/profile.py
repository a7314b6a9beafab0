"""Reading and validating performance profiles (Dynamo's layouts and our own format).

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

import json
import logging
import math
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from planner.errors import ProfileError
from planner.perf.npz import load_npz
from planner.perf.preswept import CHEAPEST, RowChoice, parse_row, row_count, select_row

FORMAT_NAME = "sla-planner-profile"
FORMAT_VERSION = 1


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

FloatArray = NDArray[np.float64]
#: what a profile whose TTFT falls as ISL grows does: stop (``error``) or load with a
#: warning naming the points (``warn``)
NonMonotonic = Literal["error", "warn"]

log = logging.getLogger("sla_planner.profile")


@dataclass(frozen=True)
class ProfileMeta:
    """What was measured, on what, by whom. Unknown fields stay None."""

    gpu_type: str | None = None
    gpu_memory_gib: float | None = None
    model: str | None = None
    engine: str | None = None
    engine_version: str | None = None
    dtype: str | None = None
    tp_prefill: int | None = None
    tp_decode: int | None = None
    pp: int | None = None
    gpus_per_prefill_worker: int | None = None
    gpus_per_decode_worker: int | None = None
    kv_block_size: int | None = None
    max_batch_size: int | None = None
    #: the engine limits the profile was measured under (vLLM's names), when it says;
    #: the simulator's workers obey them unless the settings set others
    max_num_seqs: int | None = None
    max_num_batched_tokens: int | None = None
    worker_startup_s: float | None = None
    measured_by: str | None = None
    method: str | None = None
    date: str | None = None
    source: str | None = None
    licence: str | None = None
    notes: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PrefillData:
    isl_tokens: FloatArray
    ttft_ms: FloatArray
    thpt_tokens_per_s_per_gpu: FloatArray
    #: False when the source listed the points out of ISL order (they are sorted here)
    listed_in_order: bool = True


@dataclass(frozen=True)
class DecodeData:
    kv_usage: FloatArray
    context_tokens: FloatArray
    itl_ms: FloatArray
    thpt_tokens_per_s_per_gpu: FloatArray
    max_kv_tokens: int


@dataclass(frozen=True)
class ProfileData:
    """A validated profile: prefill curve, decode surface and metadata."""

    prefill: PrefillData
    decode: DecodeData
    meta: ProfileMeta
    #: where it was read from and in which layout
    source: str
    layout: str
    #: problems found and accepted (``non_monotonic="warn"``), one sentence each
    warnings: tuple[str, ...] = ()


# ----------------------------------------------------------------------------- validation


def _array(source: str, name: str, raw: object, *, ndim: int = 1) -> FloatArray:
    try:
        arr = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ProfileError(source, name, f"not numeric ({exc})") from exc
    if arr.ndim != ndim:
        raise ProfileError(source, name, f"expected a {ndim}-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise ProfileError(source, name, "is empty")
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = int(np.argmax(bad))
        raise ProfileError(source, name, f"value {arr.flat[idx]!r} at index {idx} is not finite")
    return arr


def _positive(source: str, name: str, arr: FloatArray) -> None:
    if (arr <= 0).any():
        idx = int(np.argmax(arr <= 0))
        raise ProfileError(
            source, name, f"value {arr[idx]!r} at index {idx} must be > 0 (expected positive)"
        )


def _same_length(source: str, arrays: dict[str, FloatArray]) -> None:
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ProfileError(source, ",".join(lengths), f"lengths differ: {lengths}")


def validate_prefill(source: str, isl: object, ttft: object, thpt: object) -> PrefillData:
    """Check and sort the prefill curve; raises ProfileError naming the bad field."""
    a_isl = _array(source, "prefill_isl", isl)
    a_ttft = _array(source, "prefill_ttft", ttft)
    a_thpt = _array(source, "prefill_thpt_per_gpu", thpt)
    _same_length(
        source, {"prefill_isl": a_isl, "prefill_ttft": a_ttft, "prefill_thpt_per_gpu": a_thpt}
    )
    for name, arr in (("prefill_isl", a_isl), ("prefill_ttft", a_ttft)):
        _positive(source, name, arr)
    _positive(source, "prefill_thpt_per_gpu", a_thpt)
    if len(a_isl) < 2:
        raise ProfileError(source, "prefill_isl", "needs at least 2 points to interpolate")
    order = np.argsort(a_isl, kind="stable")
    in_order = bool((order == np.arange(len(order))).all())
    a_isl, a_ttft, a_thpt = a_isl[order], a_ttft[order], a_thpt[order]
    dup = np.diff(a_isl) == 0
    if dup.any():
        raise ProfileError(
            source,
            "prefill_isl",
            f"duplicate ISL {a_isl[int(np.argmax(dup))]!r}: expected distinct input lengths",
        )
    return PrefillData(
        isl_tokens=a_isl, ttft_ms=a_ttft, thpt_tokens_per_s_per_gpu=a_thpt, listed_in_order=in_order
    )


def ttft_falls(prefill: PrefillData, *, shown: int = 3) -> str | None:
    """Where TTFT falls as ISL grows (a longer prompt cannot be served faster on the same
    worker, so such points are a measurement or a column mix-up), or None."""
    falls = np.flatnonzero(np.diff(prefill.ttft_ms) < 0)
    if falls.size == 0:
        return None
    isl, ttft = prefill.isl_tokens, prefill.ttft_ms
    pairs = [
        f"ISL {isl[i]:g} -> {ttft[i]:.4g} ms but ISL {isl[i + 1]:g} -> {ttft[i + 1]:.4g} ms"
        for i in falls[:shown]
    ]
    more = f" and {falls.size - shown} more" if falls.size > shown else ""
    order = "" if prefill.listed_in_order else " (the file lists ISL out of order)"
    return (
        f"TTFT falls as ISL grows at {falls.size} point(s){order}: {'; '.join(pairs)}{more}; "
        "expected TTFT to rise with ISL"
    )


def validate_decode(
    source: str, kv: object, ctx: object, itl: object, thpt: object, max_kv: object
) -> DecodeData:
    """Check the decode samples; raises ProfileError naming the bad field."""
    a_kv = _array(source, "x_kv_usage", kv)
    a_ctx = _array(source, "y_context_length", ctx)
    a_itl = _array(source, "z_itl", itl)
    a_thpt = _array(source, "z_thpt_per_gpu", thpt)
    _same_length(
        source,
        {"x_kv_usage": a_kv, "y_context_length": a_ctx, "z_itl": a_itl, "z_thpt_per_gpu": a_thpt},
    )
    if (a_kv < 0).any() or (a_kv > 1.5).any():
        raise ProfileError(
            source, "x_kv_usage", f"values {a_kv.min()!r}..{a_kv.max()!r}: expected fractions 0..1"
        )
    _positive(source, "y_context_length", a_ctx)
    _positive(source, "z_itl", a_itl)
    _positive(source, "z_thpt_per_gpu", a_thpt)
    if len(np.unique(a_ctx)) < 2 or len(np.unique(a_kv)) < 2:
        raise ProfileError(
            source,
            "y_context_length/x_kv_usage",
            "need at least 2 distinct context lengths and KV usages for a 2-D surface",
        )
    mk = np.asarray(max_kv, dtype=np.float64).ravel()
    if mk.size != 1 or not math.isfinite(float(mk[0])) or float(mk[0]) <= 0:
        raise ProfileError(
            source, "max_kv_tokens", f"value {max_kv!r}: expected one positive token count"
        )
    return DecodeData(
        kv_usage=a_kv,
        context_tokens=a_ctx,
        itl_ms=a_itl,
        thpt_tokens_per_s_per_gpu=a_thpt,
        max_kv_tokens=int(mk[0]),
    )


# ----------------------------------------------------------------------------- readers


def _load_npz(path: Path) -> dict[str, Any]:
    return load_npz(path)


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ProfileError(str(path), "file", f"cannot read JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ProfileError(str(path), "file", "expected a JSON object at the top level")
    return data


def _need(source: str, data: dict[str, Any], key: str) -> Any:
    if key not in data:
        raise ProfileError(source, key, f"missing key (have: {sorted(data)})")
    return data[key]


def _read_dynamo_prefill(source: str, d: dict[str, Any]) -> PrefillData:
    return validate_prefill(
        source,
        _need(source, d, "prefill_isl"),
        _need(source, d, "prefill_ttft"),
        _need(source, d, "prefill_thpt_per_gpu"),
    )


def _read_dynamo_decode(source: str, d: dict[str, Any]) -> DecodeData:
    return validate_decode(
        source,
        _need(source, d, "x_kv_usage"),
        _need(source, d, "y_context_length"),
        _need(source, d, "z_itl"),
        _need(source, d, "z_thpt_per_gpu"),
        _need(source, d, "max_kv_tokens"),
    )


def _first(directory: Path, candidates: list[str]) -> Path | None:
    for rel in candidates:
        p = directory / rel
        if p.is_file():
            return p
    return None


def _load_raw_part(path: Path) -> dict[str, Any]:
    return _load_npz(path) if path.suffix == ".npz" else _load_json(path)


def _pick_config(source: str, d: dict[str, Any], index: int) -> dict[str, Any]:
    """Select one row of a pre-swept file (arrays shaped (n_configs, n_points))."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        arr = np.asarray(v)
        if arr.ndim >= 1 and arr.shape[0] > 0:
            if index >= arr.shape[0]:
                raise ProfileError(
                    source, "config_index", f"{index} out of range: file has {arr.shape[0]}"
                )
            out[k] = arr[index]
        else:
            out[k] = arr
    return out


def _meta_from_preswept(d: dict[str, Any]) -> ProfileMeta:
    def s(key: str) -> str | None:
        return str(np.asarray(d[key]).ravel()[0]) if key in d else None

    def i(key: str) -> int | None:
        return int(np.asarray(d[key]).ravel()[0]) if key in d else None

    tp = i("tp")
    return ProfileMeta(
        gpu_type=s("gpu_type"),
        model=s("model"),
        engine=s("framework"),
        engine_version=s("framework_version"),
        tp_prefill=tp,
        tp_decode=tp,
        pp=i("pp"),
        gpus_per_prefill_worker=tp,
        gpus_per_decode_worker=tp,
        kv_block_size=i("block_size"),
        max_batch_size=i("max_batch_size"),
        max_num_seqs=i("max_num_seqs"),
        max_num_batched_tokens=i("max_num_batched_tokens"),
        method=s("method") or "dynamo pre-swept profile",
        source=s("source"),
        licence=s("licence"),
        notes=s("notes"),
    )


def _read_ours(path: Path) -> ProfileData:
    src = str(path)
    d = _load_json(path)
    if d.get("format") != FORMAT_NAME:
        raise ProfileError(src, "format", f"{d.get('format')!r}: expected {FORMAT_NAME!r}")
    if d.get("version") != FORMAT_VERSION:
        raise ProfileError(src, "version", f"{d.get('version')!r}: expected {FORMAT_VERSION}")
    pre = _need(src, d, "prefill")
    dec = _need(src, d, "decode")
    if not isinstance(pre, dict) or not isinstance(dec, dict):
        raise ProfileError(src, "prefill/decode", "expected JSON objects")
    prefill = validate_prefill(
        src,
        _need(src, pre, "isl_tokens"),
        _need(src, pre, "ttft_ms"),
        _need(src, pre, "throughput_tokens_per_s_per_gpu"),
    )
    decode = validate_decode(
        src,
        _need(src, dec, "kv_usage"),
        _need(src, dec, "context_length_tokens"),
        _need(src, dec, "itl_ms"),
        _need(src, dec, "throughput_tokens_per_s_per_gpu"),
        _need(src, dec, "max_kv_tokens"),
    )
    raw_meta = d.get("meta", {})
    if not isinstance(raw_meta, dict):
        raise ProfileError(src, "meta", "expected a JSON object")
    known = set(ProfileMeta.__dataclass_fields__) - {"extra"}
    meta = ProfileMeta(
        **{k: v for k, v in raw_meta.items() if k in known},
        extra={k: v for k, v in raw_meta.items() if k not in known},
    )
    return ProfileData(prefill=prefill, decode=decode, meta=meta, source=src, layout="sla-planner")


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
    profile = _read_any(Path(path), choice=parsed)
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


def _read_any(p: Path, *, choice: RowChoice | None) -> ProfileData:
    if p.is_file():
        if p.suffix == ".json":
            return _read_ours(p)
        raise ProfileError(str(p), "path", "expected a profile directory or a profile.json file")
    if not p.is_dir():
        raise ProfileError(str(p), "path", "does not exist")
    ours = p / "profile.json"
    if ours.is_file():
        return _read_ours(ours)

    pre_path = _first(
        p,
        [
            "selected_prefill_interpolation/raw_data.npz",
            "selected_prefill_interpolation/prefill_raw_data.json",
            "prefill_raw_data.json",
        ],
    )
    dec_path = _first(
        p,
        [
            "selected_decode_interpolation/raw_data.npz",
            "selected_decode_interpolation/decode_raw_data.json",
            "decode_raw_data.json",
        ],
    )
    if pre_path and dec_path:
        prefill = _read_dynamo_prefill(str(pre_path), _load_raw_part(pre_path))
        decode = _read_dynamo_decode(str(dec_path), _load_raw_part(dec_path))
        return ProfileData(
            prefill=prefill,
            decode=decode,
            meta=ProfileMeta(method="dynamo raw_data"),
            source=str(p),
            layout="dynamo-raw",
        )

    sw_pre = _first(p, ["pre_swept_prefill.npz", "prefill.npz"])
    sw_dec = _first(p, ["pre_swept_decode.npz", "decode.npz"])
    if sw_pre and sw_dec:
        raw_pre, raw_dec = _load_npz(sw_pre), _load_npz(sw_dec)
        index = select_row(str(sw_pre), raw_pre, choice)
        if row_count(raw_dec) != row_count(raw_pre):
            raise ProfileError(
                str(sw_dec),
                "rows",
                f"{row_count(raw_dec)} decode rows but {row_count(raw_pre)} prefill rows: "
                "expected one decode row per prefill row",
            )
        dpre = _pick_config(str(sw_pre), raw_pre, index)
        ddec = _pick_config(str(sw_dec), raw_dec, index)
        return ProfileData(
            prefill=_read_dynamo_prefill(str(sw_pre), dpre),
            decode=_read_dynamo_decode(str(sw_dec), ddec),
            meta=_meta_from_preswept(dpre),
            source=str(p),
            layout="dynamo-preswept",
        )
    missing = "prefill" if not (pre_path or sw_pre) else "decode"
    raise ProfileError(
        str(p),
        f"{missing} data",
        "not found: expected profile.json, selected_*_interpolation/raw_data.npz "
        "(or *_raw_data.json), or pre_swept_*.npz",
    )


# ----------------------------------------------------------------------------- writers


def profile_to_json(profile: ProfileData) -> dict[str, Any]:
    """Our format as a JSON-ready dict."""
    meta = asdict(profile.meta)
    extra = meta.pop("extra", {}) or {}
    meta.update(extra)
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "meta": {k: v for k, v in meta.items() if v is not None},
        "prefill": {
            "isl_tokens": profile.prefill.isl_tokens.tolist(),
            "ttft_ms": profile.prefill.ttft_ms.tolist(),
            "throughput_tokens_per_s_per_gpu": profile.prefill.thpt_tokens_per_s_per_gpu.tolist(),
        },
        "decode": {
            "kv_usage": profile.decode.kv_usage.tolist(),
            "context_length_tokens": profile.decode.context_tokens.tolist(),
            "itl_ms": profile.decode.itl_ms.tolist(),
            "throughput_tokens_per_s_per_gpu": profile.decode.thpt_tokens_per_s_per_gpu.tolist(),
            "max_kv_tokens": profile.decode.max_kv_tokens,
        },
    }


def write_profile(profile: ProfileData, directory: str | Path, *, dynamo: bool = True) -> Path:
    """Write ``profile.json`` (ours) and, if asked, Dynamo's two raw_data.npz files."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    target = out / "profile.json"
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(profile_to_json(profile), indent=1) + "\n")
    tmp.replace(target)
    if dynamo:
        pre_dir = out / "selected_prefill_interpolation"
        dec_dir = out / "selected_decode_interpolation"
        pre_dir.mkdir(exist_ok=True)
        dec_dir.mkdir(exist_ok=True)
        np.savez(
            pre_dir / "raw_data.npz",
            prefill_isl=profile.prefill.isl_tokens,
            prefill_ttft=profile.prefill.ttft_ms,
            prefill_thpt_per_gpu=profile.prefill.thpt_tokens_per_s_per_gpu,
        )
        np.savez(
            dec_dir / "raw_data.npz",
            x_kv_usage=profile.decode.kv_usage,
            y_context_length=profile.decode.context_tokens,
            z_itl=profile.decode.itl_ms,
            z_thpt_per_gpu=profile.decode.thpt_tokens_per_s_per_gpu,
            max_kv_tokens=np.array([profile.decode.max_kv_tokens]),
        )
    return target
