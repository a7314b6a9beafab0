"""Which counter a window's demand (its request count) is read from: the preset's
started/arrived counter, or its completed-requests fallback when the first has no series.

The two are not interchangeable. A started counter grows when a request arrives, so it
reads the load offered to the graph. A completed counter grows when a request ends: under
backpressure completions are capped by the capacity in place, so it reads less than the
load exactly when more capacity is needed. The fallback keeps older frontends working;
``DemandCounter.status()`` (shown in the service's /status) says when it is in use.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from connectors.settings import MetricsSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DemandCounter:
    """The counter the last window's request count came from."""

    metric: str
    #: True when the preset's demand counter had no series and the fallback was read
    fallback: bool
    #: the demand counter that was wanted (equal to ``metric`` unless ``fallback``)
    wanted: str

    def status(self) -> dict[str, Any]:
        """A /status entry: the counter read and, for the fallback, why it matters."""
        out: dict[str, Any] = {"counter": self.metric, "fallback": self.fallback}
        if self.fallback:
            out["note"] = (
                f"{self.wanted} has no series, so demand is read from {self.metric}, "
                "which counts requests when they complete: under backpressure it reads "
                "less than the load offered. Upgrade the frontend or set metrics.requests."
            )
        return out


class DemandChooser:
    """Picks the counter per window and logs each switch between the two once."""

    def __init__(self, settings: MetricsSettings) -> None:
        self.primary = settings.name("requests")
        self.fallback = settings.name("requests_fallback") or None
        self.current: DemandCounter | None = None

    def choose(
        self, primary: float | None, fallback: float | None
    ) -> tuple[float | None, DemandCounter | None]:
        """The window's request count and where it came from; (None, None) when neither
        counter has a series (the window is missing)."""
        if primary is not None:
            return primary, self._use(DemandCounter(self.primary, False, self.primary))
        if self.fallback is not None and fallback is not None:
            return fallback, self._use(DemandCounter(self.fallback, True, self.primary))
        return None, None

    def missing_reason(self) -> str:
        if self.fallback is None:
            return f"no series for {self.primary}"
        return f"no series for {self.primary} nor its fallback {self.fallback}"

    def _use(self, counter: DemandCounter) -> DemandCounter:
        if self.current is None or self.current.fallback != counter.fallback:
            if counter.fallback:
                log.warning("demand: %s", counter.status()["note"])
            else:
                log.info("demand: reading %s", counter.metric)
        self.current = counter
        return counter
