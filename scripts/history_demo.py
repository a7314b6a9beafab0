"""The run docs/history.md shows: the emulated graph under the planner, scraped by the
real Prometheus (Debian's package), then ``sla-planner history`` and ``sla-planner
simulate --history`` on the pulled range, exactly as a user would type them. Writes the
transcript to out/history_demo/transcript.txt and the first plot to
docs/history_example.png. About a minute; needs ``prometheus`` on the PATH.

    .venv/bin/python scripts/history_demo.py
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from planner.cli.main import main  # noqa: E402
from tests.integration.history_run import COMPRESSION, INTERVAL_S, record_run  # noqa: E402

RANGE_S = (120.0, 1380.0)
OUT = REPO / "out" / "history_demo"


def _cli(args: list[str], log: list[str]) -> int:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        code = main(args)
    log.append("$ sla-planner " + " ".join(args))
    log.append(buf.getvalue().rstrip())
    return code


async def _run(work: Path, log: list[str]) -> None:
    run = await record_run(work)
    try:
        start = run.wall_at_zero_s + RANGE_S[0] / COMPRESSION
        end = run.wall_at_zero_s + RANGE_S[1] / COMPRESSION
        history = OUT / "history.csv"
        args = ["history", "--url", run.prometheus.url, "--from", f"{start:.0f}"]
        args += ["--to", f"{end:.0f}", "--interval-s", f"{INTERVAL_S:g}"]
        args += ["--time-compression", f"{COMPRESSION:g}", "--out", str(history)]
        assert await asyncio.to_thread(_cli, args, log) == 0, log[-1]
    finally:
        await asyncio.to_thread(run.prometheus.stop)
    from planner.history.format import read_history

    rows = read_history(history).rows
    first = run.planner_s(rows[0].end_unix_s) - INTERVAL_S
    last = run.planner_s(rows[-1].end_unix_s)
    billed = run.billed_gpu_hours(start_s=first, end_s=last)
    log.append(
        f"# the emulator billed {billed:.4f} GPU-hours over the same span "
        f"(planner time {first:.0f}-{last:.0f} s)"
    )
    sim = OUT / "sim"
    args = ["simulate", "--history", str(history), "--policy", "sla", "dynamo", "--quiet"]
    args += ["--startup-s", f"{INTERVAL_S:g}", "--jobs", "1", "--out", str(sim)]
    assert await asyncio.to_thread(_cli, args, log) == 0, log[-1]
    shutil.copy(sim / "history.png", REPO / "docs" / "history_example.png")


def demo() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    log: list[str] = []
    with tempfile.TemporaryDirectory() as work:
        asyncio.run(_run(Path(work), log))
    text = "\n".join(log) + "\n"
    (OUT / "transcript.txt").write_text(text)
    print(text)


if __name__ == "__main__":
    demo()
