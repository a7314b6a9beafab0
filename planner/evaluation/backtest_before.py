"""``auto`` and ``constant`` as an earlier commit forecast them, on the same series, so
docs/forecasting.md can set the numbers before a change beside those after it.

``python -m planner.evaluation.backtest_before COMMIT [--sets tuning,validation]``
exports the commit's ``planner`` package (``git archive``) to a temporary folder,
writes every series of the sets (built by the current code) there, runs the old
``run_predictor`` on each in a process pool and saves the point forecasts to
out/backtests/before/<set>/<label>.npz (the layout of out/backtests/runs/). The
backtest report adds a "before" column when these files exist.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from planner.evaluation import REPO
from planner.evaluation.backtests import OUT, SETS, horizons_for

PREDICTORS = ("constant", "auto")

DRIVER = """
import concurrent.futures, sys
from pathlib import Path
import numpy as np

def one(args):
    src, dst, predictors = args
    from planner.forecast.backtest import actuals, run_predictor
    from planner.workload.trace import LoadSeries
    with np.load(src) as z:
        series = LoadSeries(name=Path(src).stem, interval_s=float(z["interval_s"]), start_s=0.0,
                            rate_rps=z["rate"], isl_tokens=z["isl"], osl_tokens=z["osl"],
                            missing=z["missing"])
        steps = [int(h) for h in z["steps"]]
    arrays = {f"actual|{s}": v for s, v in actuals(series).items()}
    for name in predictors:
        run = run_predictor(series, name, steps=steps, quantile=0.9)
        for (h, s), v in run.point.items():
            arrays[f"{name}|{h}|{s}"] = v
    np.savez_compressed(dst, **arrays)
    return Path(dst).stem

import planner
assert Path(planner.__file__).is_relative_to(Path(__file__).parent), planner.__file__
jobs = [(line.split()[0], line.split()[1], sys.argv[2].split(","))
        for line in Path(sys.argv[1]).read_text().splitlines()]
with concurrent.futures.ProcessPoolExecutor(int(sys.argv[3])) as pool:
    for label in pool.map(one, jobs):
        print(label, file=sys.stderr, flush=True)
"""


def export(commit: str, folder: Path) -> None:
    """The commit's ``planner`` package, unpacked into ``folder``."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", commit, "planner"], check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)


def main(argv: list[str]) -> int:
    from planner.evaluation.forecast_sets import labels, series_by_label

    parser = argparse.ArgumentParser(prog="python -m planner.evaluation.backtest_before")
    parser.add_argument("commit")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        export(args.commit, root)
        jobs: list[str] = []
        for set_name in args.sets.split(","):
            out = OUT / "before" / set_name
            out.mkdir(parents=True, exist_ok=True)
            for label in labels(set_name):
                s = series_by_label(set_name, label).series
                steps = [round(h / s.interval_s) for h in horizons_for(s.interval_s)]
                src = root / f"{set_name}-{label}.npz"
                np.savez(
                    src,
                    interval_s=s.interval_s,
                    rate=s.rate_rps,
                    isl=s.isl_tokens,
                    osl=s.osl_tokens,
                    missing=s.missing,
                    steps=steps,
                )
                jobs.append(f"{src} {out / label}.npz")
        (root / "jobs.txt").write_text("\n".join(jobs) + "\n")
        (root / "driver.py").write_text(DRIVER)
        command = [sys.executable, str(root / "driver.py"), str(root / "jobs.txt")]
        subprocess.run(
            [*command, ",".join(PREDICTORS), str(args.workers)],
            cwd=root,
            env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
            check=True,
        )
    print(f"wrote {OUT / 'before'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
