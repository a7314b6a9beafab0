"""The profiler CLI end to end: serve-emulated in a subprocess, endpoint, show, plot, gpu."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from planner.cli.main import main
from planner.perf.profile import DEFAULT_PROFILE_DIR, load_profile

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def emulated_url() -> Iterator[str]:
    """`sla-planner profile serve-emulated` on a free loopback port, stopped afterwards."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "planner",
            "profile",
            "serve-emulated",
            "--port",
            "0",
            "--time-scale",
            "1.0",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert " at http://127.0.0.1:" in line, proc.stderr.read() if proc.stderr else line
        yield line.split(" at ")[1].split()[0]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


def test_endpoint_profile_of_the_shipped_profile_via_the_cli(
    emulated_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """profile endpoint against serve-emulated (shipped H200 profile) writes a profile
    whose TTFTs are within 10% of the shipped curve; show and plot read it."""
    out = tmp_path / "prof"
    code = main(
        [
            "profile",
            "endpoint",
            "--url",
            emulated_url,
            "--model",
            "emulated",
            "--min-isl",
            "1000",
            "--max-isl",
            "6000",
            "--prefill-points",
            "2",
            # median of 3 at real-time latencies: loopback and scheduler jitter of a
            # few ms must stay well inside the 10% tolerance on a loaded 2-core machine
            "--repeats",
            "3",
            "--contexts",
            "2",
            "--batches",
            "2",
            "--max-batch",
            "4",
            "--time-scale",
            "1.0",
            "--steady-tokens",
            "24",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    measured = load_profile(out)
    shipped = load_profile(DEFAULT_PROFILE_DIR)
    assert measured.decode.max_kv_tokens == shipped.decode.max_kv_tokens
    from planner.perf.model import PerfModel

    truth = PerfModel(shipped)
    for isl, ttft in zip(measured.prefill.isl_tokens, measured.prefill.ttft_ms, strict=True):
        assert ttft == pytest.approx(truth.prefill.ttft_ms(isl).value, rel=0.10)
    assert (out / "selected_decode_interpolation" / "raw_data.npz").is_file()
    assert main(["profile", "show", str(out)]) == 0
    assert main(["profile", "plot", str(out), "--out", str(tmp_path / "p.png")]) == 0
    assert (tmp_path / "p.png").stat().st_size > 10_000
    assert "endpoint" in capsys.readouterr().out


def test_profile_gpu_without_pycuda_exits_2_with_a_clear_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without pycuda, `profile gpu` fails cleanly (exit 2) and says how to install it."""
    try:
        import pycuda.driver  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("pycuda is installed here")
    assert main(["profile", "gpu", "--model", "llama-3.1-8b"]) == 2
    assert "pycuda" in capsys.readouterr().err


def test_profile_rows_lists_each_row_and_marks_the_cheapest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`profile rows` on the TP2/TP4/TP8 profile prints one line per row with its GPUs
    per worker and cost, marks exactly one cheapest; `profile show` without --row is
    exit 2 naming the rows, with --row it shows that row."""
    from planner.profiler.splitwise import SHIPPED_DIR

    code = main(["profile", "rows", str(SHIPPED_DIR), "--ttft-ms", "1000", "--itl-ms", "60",
                 "--isl", "1000", "--osl", "250"])  # fmt: skip
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [ln for ln in lines if "GPUs/worker" in ln]
    assert [r.split(":")[0].split(" ")[0] for r in rows] == ["0", "1", "2"]
    assert [r.split(": ")[1].split(" ")[0] for r in rows] == ["2", "4", "8"]
    assert sum("<- cheapest" in r for r in rows) == 1
    assert main(["profile", "show", str(SHIPPED_DIR)]) == 2
    assert "3 rows" in capsys.readouterr().err
    assert main(["profile", "show", str(SHIPPED_DIR), "--row", "tp=8", "--json"]) == 0
    assert '"tp_prefill": 8' in capsys.readouterr().out
