"""The files a profile is stored in: our ``profile.json`` and Dynamo's raw-data and
pre-swept layouts (read), and our format plus Dynamo's raw data (written)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from planner.errors import ProfileError
from planner.perf.npz import load_npz
from planner.perf.preswept import RowChoice, row_count, select_row
from planner.perf.profile_data import (
    DecodeData,
    PrefillData,
    ProfileData,
    ProfileMeta,
    validate_decode,
    validate_prefill,
)

FORMAT_NAME = "sla-planner-profile"
FORMAT_VERSION = 1


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


def read_any(p: Path, *, choice: RowChoice | None) -> ProfileData:
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
