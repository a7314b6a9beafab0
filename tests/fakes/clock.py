"""A clock that moves only when told, shared by a connector and a fake environment."""

from __future__ import annotations


class ManualClock:
    """Callable returning seconds since the epoch; ``advance`` moves it forward."""

    def __init__(self, start_s: float = 1_700_000_000.0) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds
