"""Progress bars of the commands that run for minutes (tqdm, on stderr): shown only when
stderr is a terminal and ``--quiet`` is not given, so pipes and logs get no bars."""

from __future__ import annotations

import shutil
import sys
from collections import Counter
from typing import Any, TextIO


def bars_wanted(*, quiet: bool, stream: TextIO | None = None) -> bool:
    """Bars only on a terminal, never with --quiet."""
    target = stream if stream is not None else sys.stderr
    return not quiet and bool(getattr(target, "isatty", lambda: False)())


class RunBars:
    """One bar per simulated run, fed by the simulator's ``progress(name, fraction)``
    callback. A run of the same name starting again (the static fleet's search runs one
    simulation per fleet tried) gets its own numbered bar."""

    def __init__(self, *, enabled: bool, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self._bar: Any = None
        self._name = ""
        self._last = 0.0
        self._runs: Counter[str] = Counter()

    def __call__(self, name: str, fraction: float) -> None:
        if not self.enabled:
            return
        if self._bar is None or name != self._name or fraction < self._last:
            self._open(name)
        self._last = fraction
        done = min(100, round(100 * fraction))
        self._bar.update(done - self._bar.n)
        if fraction >= 1.0:
            self.close()

    def _open(self, name: str) -> None:
        from tqdm import tqdm

        self.close()
        self._runs[name] += 1
        label = name if self._runs[name] == 1 else f"{name} #{self._runs[name]}"
        self._name, self._last = name, 0.0
        size = shutil.get_terminal_size((100, 24))
        self._bar = tqdm(
            total=100,
            desc=f"{label:<16}",
            file=self.stream,
            unit="%",
            # a terminal that reports no size (0 x 0) would get empty lines: tqdm hides
            # bars below its last row
            ncols=size.columns,
            nrows=size.lines,
            bar_format="{desc} {percentage:3.0f}%|{bar:30}| {elapsed}<{remaining}",
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
