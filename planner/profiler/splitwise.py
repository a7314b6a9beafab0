"""A multi-row profile (one row per TP degree) from Splitwise's measured perf_model.csv.

Source: Mutinifni/splitwise-sim ``data/perf_model.csv`` (MIT, (c) 2024 Pratyush Patel;
Patel et al., "Splitwise", ISCA 2024): batch runs of one model on one machine, sweeping
prompt size, batch size and output tokens one at a time around (prompt 512, batch 1,
128 tokens), about 5 repeats each. Conversion, for one model and hardware:

- prefill, per TP: the prompt sweep at batch 1 (128 .. 8,192 tokens); TTFT(ISL) = the
  median ``prompt_time`` (ms) of the repeats; made non-decreasing in ISL by taking at
  each ISL the smallest median at that ISL or any longer one (a longer prompt cannot be
  faster; Llama2-70B at TP8 measured 58.2 ms at 128 tokens but 51.7 at 256);
  throughput per GPU = ISL / TTFT / TP (Dynamo's convention: per GPU).
- decode, per TP: ITL(b) = the median ``token_time`` (ms) of the batch sweep (prompt 512,
  128 tokens, so a mean context c0 = 512 + 128 / 2 = 576), linear between measured
  batch sizes. Batches whose KV cache does not fit the computed capacity are dropped
  (``drop_unfit``: Llama2-70B at TP2 batch 64 needs 64 x 640 = 40,960 tokens of a
  35,664-token cache, and its row reads like a different run: 361 ms to prefill 64
  prompts against 2,394 ms for 32). The data have no context sweep at batch > 1 (at
  batch 1 the context barely moves ITL), so longer contexts are modelled: ITL(b, c) =
  ITL(b) + b x (c - c0) x KV bytes per token per GPU / HBM bandwidth (reading the extra
  KV cache at the GPU's peak bandwidth, a lower bound on the time it adds). Points: at
  each of ``contexts``, 7 batch sizes geometric from 1 to the largest that fits 95% of
  the KV cache (at most the largest measured batch); KV usage = b x c / capacity;
  throughput per GPU = b / ITL / TP. The largest batch kept is the row's
  ``max_num_seqs`` (and ``max_batch_size``): the simulated workers run no more
  sequences at once than were measured, where the surface would only be filled in.
- KV capacity per worker: ``planner.profiler.kv_capacity`` for the model's shape at the
  TP degree (weights and KV in the model's dtype, ``gpu_memory_gib`` per GPU, 90% usable
  as vLLM's default ``gpu_memory_utilization``, 2 GiB reserve, 16-token blocks).
"""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from planner.errors import ProfileError
from planner.profiler.kv_capacity import GIB, kv_bytes_per_token, kv_capacity
from planner.profiler.model_shape import ModelShape

#: NVIDIA's figures for the H100 SXM5 80 GB of a DGX-H100: HBM3 bandwidth (bytes/s) and
#: the memory the driver reports (81,559 MiB)
H100_SXM_HBM_BYTES_PER_S = 3.35e12
H100_SXM_MEMORY_GIB = 81559 / 1024
#: mean decode contexts of the profile's points (tokens): the measured batch sweep's, and
#: longer ones up to the longest measured at batch 1 (prompt 8,192 + 64)
CONTEXTS = (576.0, 2048.0, 4096.0, 8256.0)
BATCH_POINTS = 7


@dataclass(frozen=True)
class SplitwiseRow:
    """One TP degree's profile arrays, ready for a pre-swept file."""

    tp: int
    isl_tokens: np.ndarray
    ttft_ms: np.ndarray
    prefill_thpt_per_gpu: np.ndarray
    kv_usage: np.ndarray
    context_tokens: np.ndarray
    itl_ms: np.ndarray
    decode_thpt_per_gpu: np.ndarray
    max_kv_tokens: int
    measured_batches: tuple[int, ...]


def read_medians(
    csv_path: Path, *, model: str, hardware: str
) -> dict[tuple[int, int, int, int], tuple[float, float]]:
    """(tp, prompt, batch, tokens) -> median (prompt_time, token_time) in ms."""
    groups: dict[tuple[int, int, int, int], list[tuple[float, float]]] = defaultdict(list)
    try:
        with csv_path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                if row["model"] != model or row["hardware"] != hardware:
                    continue
                key = (
                    int(row["tensor_parallel"]),
                    int(row["prompt_size"]),
                    int(row["batch_size"]),
                    int(row["token_size"]),
                )
                groups[key].append((float(row["prompt_time"]), float(row["token_time"])))
    except (OSError, KeyError, ValueError) as exc:
        raise ProfileError(str(csv_path), "file", f"cannot read Splitwise CSV ({exc})") from exc
    if not groups:
        raise ProfileError(str(csv_path), "model/hardware", f"no rows for {model} on {hardware}")
    return {
        k: (statistics.median(p for p, _ in v), statistics.median(t for _, t in v))
        for k, v in groups.items()
    }


def _prefill(med: dict[tuple[int, int, int, int], tuple[float, float]], tp: int) -> np.ndarray:
    points = sorted((p, v[0]) for (t, p, b, n), v in med.items() if t == tp and b == 1 and n == 128)
    arr = np.array(points, dtype=np.float64)
    # non-decreasing TTFT: the smallest median at this ISL or any longer one
    arr[:, 1] = np.minimum.accumulate(arr[::-1, 1])[::-1]
    return arr


def build_row(
    med: dict[tuple[int, int, int, int], tuple[float, float]],
    *,
    tp: int,
    shape: ModelShape,
    gpu_memory_gib: float = H100_SXM_MEMORY_GIB,
    hbm_bytes_per_s: float = H100_SXM_HBM_BYTES_PER_S,
) -> SplitwiseRow:
    """One TP degree's row (module docstring)."""
    pre = _prefill(med, tp)
    isl, ttft = pre[:, 0], pre[:, 1]
    cap = kv_capacity(shape, tp=tp, free_bytes=int(gpu_memory_gib * GIB)).max_kv_tokens
    c0 = 512.0 + 128.0 / 2.0
    sweep = sorted((b, v[1]) for (t, p, b, n), v in med.items() if (t, p, n) == (tp, 512, 128))
    # drop batches whose final contexts (512 + 128 each) do not fit the cache
    fit = [(b, itl) for b, itl in sweep if b * (512 + 128) <= cap]
    batches = np.array([b for b, _ in fit], dtype=np.float64)
    itl_b = np.array([i for _, i in fit])
    per_token = kv_bytes_per_token(shape, tp=tp)
    kv, ctx, itl = [], [], []
    for c in CONTEXTS:
        top = min(float(batches[-1]), 0.95 * cap / c)
        if top < 1.0:
            raise ProfileError("splitwise", "contexts", f"context {c:g} does not fit at TP{tp}")
        for b in np.geomspace(1.0, top, BATCH_POINTS):
            extra_ms = b * (c - c0) * per_token / hbm_bytes_per_s * 1000.0
            kv.append(b * c / cap)
            ctx.append(c)
            itl.append(float(np.interp(b, batches, itl_b)) + extra_ms)
    kv_a, itl_a = np.array(kv), np.array(itl)
    batch_a = kv_a * cap / np.array(ctx)
    return SplitwiseRow(
        tp=tp,
        isl_tokens=isl,
        ttft_ms=ttft,
        prefill_thpt_per_gpu=isl / (ttft / 1000.0) / tp,
        kv_usage=kv_a,
        context_tokens=np.array(ctx),
        itl_ms=itl_a,
        decode_thpt_per_gpu=batch_a / (itl_a / 1000.0) / tp,
        max_kv_tokens=int(cap),
        measured_batches=tuple(int(b) for b in batches),
    )


def write_preswept(
    rows: list[SplitwiseRow], directory: Path, *, meta: dict[str, str], gpu_type: str
) -> None:
    """``pre_swept_prefill.npz`` and ``pre_swept_decode.npz``, one row per TP degree, with
    Dynamo's metadata arrays (``tp``, ``gpu_type``, ``model``, ...) and ours."""
    directory.mkdir(parents=True, exist_ok=True)
    n = len(rows)
    common: dict[str, Any] = {
        "tp": np.array([r.tp for r in rows]),
        "pp": np.ones(n, dtype=np.int64),
        "max_batch_size": np.array([max(r.measured_batches) for r in rows]),
        "max_num_seqs": np.array([max(r.measured_batches) for r in rows]),
        "gpu_type": np.array([gpu_type] * n),
        **{k: np.array([v] * n) for k, v in meta.items()},
    }
    prefill: dict[str, Any] = {
        "prefill_isl": np.stack([r.isl_tokens for r in rows]),
        "prefill_ttft": np.stack([r.ttft_ms for r in rows]),
        "prefill_thpt_per_gpu": np.stack([r.prefill_thpt_per_gpu for r in rows]),
    }
    decode: dict[str, Any] = {
        "x_kv_usage": np.stack([r.kv_usage for r in rows]),
        "y_context_length": np.stack([r.context_tokens for r in rows]),
        "z_itl": np.stack([r.itl_ms for r in rows]),
        "z_thpt_per_gpu": np.stack([r.decode_thpt_per_gpu for r in rows]),
        "max_kv_tokens": np.array([r.max_kv_tokens for r in rows]),
    }
    np.savez(directory / "pre_swept_prefill.npz", **(prefill | common))
    np.savez(directory / "pre_swept_decode.npz", **(decode | common))


#: the shipped profile: Llama2-70B on DGX-H100 at TP2, TP4 and TP8
SHIPPED_DIR = Path(__file__).resolve().parents[2] / "profiles" / "h100_llama2-70b_splitwise_tp2-4-8"


def build(csv_path: Path, directory: Path) -> list[SplitwiseRow]:
    """Write the shipped Llama2-70B / H100 profile (TP2, TP4, TP8) from the CSV."""
    from planner.profiler.model_shape import load_shape

    med = read_medians(csv_path, model="llama2-70b", hardware="h100-80gb")
    shape = load_shape("llama-2-70b")
    rows = [build_row(med, tp=tp, shape=shape) for tp in (2, 4, 8)]
    write_preswept(
        rows,
        directory,
        gpu_type="h100_sxm",
        meta={
            "model": "meta-llama/Llama-2-70b-hf",
            "source": "Mutinifni/splitwise-sim data/perf_model.csv @ "
            "378088013a54df6f2052c27ff5ae6ea7619c3ecc",
            "licence": "MIT",
            "method": "converted by planner/profiler/splitwise.py (see its SOURCE.md)",
            "notes": "prefill measured; decode measured at context 576, longer contexts modelled",
        },
    )
    return rows


if __name__ == "__main__":  # python -m planner.profiler.splitwise CSV [OUT]
    import sys

    out = Path(sys.argv[2]) if len(sys.argv) > 2 else SHIPPED_DIR
    for r in build(Path(sys.argv[1]), out):
        print(f"TP{r.tp}: KV {r.max_kv_tokens} tokens, batches {r.measured_batches}")
    print(f"wrote {out}")
