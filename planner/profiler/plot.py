"""A PNG of a profile's curves: TTFT vs ISL, ITL vs KV usage per context, throughput/GPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from planner.perf.profile import ProfileData


def context_groups(contexts: np.ndarray, *, rel_gap: float = 0.1) -> list[np.ndarray]:
    """Indices of decode samples grouped by context: measured contexts (endpoint mode)
    scatter a little around each planned one, so a new group starts only after a gap of
    more than ``rel_gap`` of the value."""
    order = np.argsort(contexts, kind="stable")
    groups: list[list[int]] = []
    last = None
    for i in order:
        c = float(contexts[i])
        if last is None or c - last > rel_gap * last:
            groups.append([])
        groups[-1].append(int(i))
        last = c
    return [np.array(g) for g in groups]


def plot_profile(profile: ProfileData, out: str | Path, *, title: str | None = None) -> Path:
    """Write a three-panel PNG and return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pre, dec = profile.prefill, profile.decode
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(16, 4.8))
    ax1.plot(pre.isl_tokens, pre.ttft_ms, "o-")
    ax1.set_xlabel("ISL (tokens)")
    ax1.set_ylabel("TTFT (ms)")
    ax1.set_title("Prefill: TTFT vs ISL")
    ax1.grid(alpha=0.3)

    for idx in context_groups(dec.context_tokens):
        order = idx[np.argsort(dec.kv_usage[idx])]
        label = f"context ~{np.mean(dec.context_tokens[order]):.0f}"
        ax2.plot(dec.kv_usage[order], dec.itl_ms[order], "o-", label=label)
        ax3.plot(
            dec.kv_usage[order], dec.thpt_tokens_per_s_per_gpu[order], "o-", label=f"decode {label}"
        )
    ax2.set_xlabel("KV usage (fraction of max_kv_tokens)")
    ax2.set_ylabel("ITL (ms)")
    ax2.set_title(f"Decode: ITL (max_kv_tokens {dec.max_kv_tokens:,})")
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8)

    ax3.set_xlabel("KV usage")
    ax3.set_ylabel("decode tokens/s/GPU")
    ax3.set_title("Throughput per GPU")
    ax3.grid(alpha=0.3)
    twin = ax3.twiny()
    twin.plot(pre.isl_tokens, pre.thpt_tokens_per_s_per_gpu, "k--", label="prefill (top axis: ISL)")
    twin.set_xlabel("ISL (tokens), prefill")
    lines = ax3.get_legend_handles_labels()
    tl = twin.get_legend_handles_labels()
    ax3.legend(lines[0] + tl[0], lines[1] + tl[1], fontsize=7)

    meta = profile.meta
    fig.suptitle(
        title
        or " / ".join(str(x) for x in (meta.model, meta.gpu_type, meta.engine) if x)
        or profile.source
    )
    fig.tight_layout()
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
