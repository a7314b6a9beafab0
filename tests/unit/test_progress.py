"""Progress output of the long commands: tqdm bars on a terminal only, plain lines (the
profiler) or nothing (simulate) elsewhere."""

from __future__ import annotations

import io

from planner.cli.progress import RunBars, bars_wanted
from planner.profiler.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bars_are_wanted_only_on_a_terminal_without_quiet() -> None:
    """A terminal without --quiet gets bars; --quiet or a pipe gets none."""
    assert bars_wanted(quiet=False, stream=_Terminal())
    assert not bars_wanted(quiet=True, stream=_Terminal())
    assert not bars_wanted(quiet=False, stream=io.StringIO())


def test_run_bars_number_repeated_runs_and_stay_silent_when_disabled() -> None:
    """A run of the same name starting over (the static search) gets its own numbered
    bar, each ending at 100%; a disabled RunBars writes nothing."""
    term = _Terminal()
    bars = RunBars(enabled=True, stream=term)
    for fraction in (0.0, 0.5, 1.0, 0.0, 1.0):
        bars("static", fraction)
    text = term.getvalue()
    assert "static " in text and "static #2" in text and text.count("100%|") == 2
    quiet = io.StringIO()
    RunBars(enabled=False, stream=quiet)("sla", 0.5)
    assert quiet.getvalue() == ""


def test_profiler_progress_bar_on_a_terminal_and_lines_in_a_log() -> None:
    """On a terminal a sweep shows one tqdm bar with the last point; in a log (no
    terminal) one plain line per point, without carriage returns."""
    term = _Terminal()
    bar = Progress(2, stream=term)
    bar.step("prefill isl=128")
    bar.step("prefill isl=256")
    assert "2/2" in term.getvalue() and "prefill isl=256" in term.getvalue()
    log = io.StringIO()
    lines = Progress(2, stream=log)
    lines.step("a")
    lines.step("b")
    assert log.getvalue().splitlines()[0].startswith("1/2 a (ETA")
    assert "\r" not in log.getvalue() and len(log.getvalue().splitlines()) == 2
