"""Progress of a profiling sweep on stderr: a tqdm bar (with the last point measured) on
a terminal, one plain line per point otherwise, so a sweep that runs for minutes on a
GPU machine leaves a readable log."""

from __future__ import annotations

import shutil
import sys
import time
from typing import Any, TextIO


class Progress:
    """``step(label)`` once per measured point; ``close()`` (or the last step) ends it."""

    def __init__(self, total: int, *, stream: TextIO | None = None) -> None:
        self.total = max(1, total)
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self._start = time.monotonic()
        self._bar: Any = None
        if bool(getattr(self.stream, "isatty", lambda: False)()):
            from tqdm import tqdm

            size = shutil.get_terminal_size((100, 24))
            self._bar = tqdm(
                total=self.total,
                file=self.stream,
                unit="point",
                ncols=size.columns,
                nrows=size.lines,
            )

    def step(self, label: str) -> None:
        self.done = min(self.total, self.done + 1)
        if self._bar is not None:
            self._bar.set_postfix_str(label, refresh=False)
            self._bar.update(1)
            if self.done == self.total:
                self.close()
            return
        elapsed = time.monotonic() - self._start
        eta = elapsed / self.done * (self.total - self.done)
        self.stream.write(f"{self.done}/{self.total} {label} (ETA {eta:.0f} s)\n")
        self.stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
