"""Log set-up of the long-running commands: the per-tick lines on stdout and everything
else on stderr, as text (``kv``) or as one JSON object per line (``json``), where every
line carries its wall-clock time (UTC, ISO 8601) and its level."""

from __future__ import annotations

import logging
import sys
from typing import Literal

#: the logger the service writes one line per tick to
TICK_LOGGER = "sla_planner.tick"
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def json_formatter() -> logging.Formatter:
    """``{"time": ..., "level": ..., "logger": ..., "message": ..., <extra fields>}``."""
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        ["levelname", "name", "message"],
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
    )


def configure_logging(log_format: Literal["kv", "json"]) -> None:
    """Install the handlers (replacing earlier ones, so a second call is harmless)."""
    structured = log_format == "json"
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    err = logging.StreamHandler(sys.stderr)
    err.setFormatter(json_formatter() if structured else logging.Formatter(_TEXT_FORMAT))
    root.addHandler(err)
    root.setLevel(logging.INFO)
    tick = logging.getLogger(TICK_LOGGER)
    for old in list(tick.handlers):
        tick.removeHandler(old)
    out = logging.StreamHandler(sys.stdout)
    # a kv tick line is already a complete record; JSON lines get time and level added
    out.setFormatter(json_formatter() if structured else logging.Formatter("%(message)s"))
    tick.addHandler(out)
    tick.propagate = False
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
