"""Plot of a backtest: actual vs each predictor's forecast, per series (matplotlib Agg)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from planner.forecast.backtest import Run, actuals
from planner.forecast.history import SERIES
from planner.workload.trace import LoadSeries

_LABELS = {"rate": "request rate (req/s)", "isl": "mean ISL (tokens)", "osl": "mean OSL (tokens)"}


def plot_runs(
    series: LoadSeries, runs: dict[str, Run], *, predictors: Sequence[str], path: str | Path
) -> None:
    """One panel per series at the first horizon; the upper band of the first predictor."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = actuals(series)
    hours = (np.arange(len(series)) + 1) * series.interval_s / 3600.0
    first = runs[predictors[0]]
    h = first.steps[0]
    fig, axes = plt.subplots(len(SERIES), 1, figsize=(12, 9), sharex=True)
    for ax, s in zip(axes, SERIES, strict=True):
        ax.plot(hours, values[s], color="black", lw=1.2, label="actual")
        for name in predictors:
            ax.plot(hours, runs[name].point[(h, s)], lw=0.9, label=name)
        ax.fill_between(
            hours, first.point[(h, s)], first.upper[(h, s)], alpha=0.2,
            label=f"{first.name} upper",
        )  # fmt: skip
        ax.set_ylabel(_LABELS[s])
    axes[0].set_title(f"{series.name}: forecast {h} interval(s) ahead")
    axes[0].legend(loc="upper right", fontsize=8, ncol=4)
    axes[-1].set_xlabel("hours")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
