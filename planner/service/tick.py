"""What one tick produced (TickRecord), and how it is written: one log line, or JSON."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from planner.core.types import Decision, Observation


@dataclass(frozen=True, slots=True)
class TickRecord:
    """One tick: its observation and decision, whether the decision was applied, or why
    the tick failed (``error_kind`` set, decision possibly None)."""

    index: int
    time_s: float
    duration_s: float
    observation: Observation | None
    decision: Decision | None
    #: True applied, False not applied (will be re-applied), None nothing to apply/advisory
    applied: bool | None
    advisory: bool = False
    error_kind: str | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.error_kind is None


def _num(value: float | None, scale: float = 1.0, digits: int = 3) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value * scale, digits)


def _observed(obs: Observation | None) -> dict[str, Any]:
    if obs is None:
        return {}
    if obs.is_missing:
        return {"missing": obs.missing_reason}
    return {
        "rps": _num(obs.request_rate_rps),
        "isl": _num(obs.isl_tokens, digits=1),
        "osl": _num(obs.osl_tokens, digits=1),
        "ttft_ms": _num(obs.ttft_s, 1000.0, 1),
        "itl_ms": _num(obs.itl_s, 1000.0, 2),
    }


def tick_dict(rec: TickRecord) -> dict[str, Any]:
    """A JSON-able summary (used by /status and the JSON log format)."""
    out: dict[str, Any] = {
        "tick": rec.index,
        "time_s": round(rec.time_s, 3),
        "duration_ms": round(rec.duration_s * 1000.0, 3),
        "observed": _observed(rec.observation),
    }
    d = rec.decision
    if d is not None:
        if d.forecast is not None:
            f = d.forecast
            out["forecast"] = {
                "rps": [_num(f.request_rate_rps.point), _num(f.request_rate_rps.upper)],
                "isl": _num(f.isl_tokens.point, digits=1),
                "osl": _num(f.osl_tokens.point, digits=1),
                "predictor": f.predictor,
            }
        out["decision"] = {
            c.value: {"current": cd.current, "target": cd.target, "desired": cd.desired}
            for c, cd in d.components.items()
        }
        out["reasons"] = d.reasons()
        out["messages"] = {c.value: cd.message for c, cd in d.components.items()}
        out["correction"] = {"prefill": d.correction.prefill, "decode": d.correction.decode}
        out["prefill_pressure"] = d.prefill_pressure
        out["note"] = d.message
        out["budget_gpus"] = d.budget_gpus
    out["applied"] = rec.applied
    out["advisory"] = rec.advisory
    if rec.error_kind:
        out["error"] = {"kind": rec.error_kind, "message": rec.error}
    return out


def _fmt(value: Any) -> str:
    text = "-" if value is None else str(value)
    return json.dumps(text) if (" " in text or "=" in text or not text) else text


def tick_line(rec: TickRecord) -> str:
    """One key=value line: observed, forecast, decision, reason."""
    parts = [f"tick={rec.index}", f"t={rec.time_s:.1f}"]
    obs = _observed(rec.observation)
    if "missing" in obs:
        parts.append(f"observed=missing reason={_fmt(obs['missing'])}")
    else:
        parts.extend(f"{k}={_fmt(v)}" for k, v in obs.items())
    d = rec.decision
    if d is not None and d.forecast is not None:
        f = d.forecast
        parts.append(f"fc_rps={f.request_rate_rps.point:.3f}/{f.request_rate_rps.upper:.3f}")
    if d is not None:
        for c, cd in d.components.items():
            parts.append(f"{c.value}={cd.current}->{cd.target}")
        why = ",".join(f"{c.value}:{cd.primary_reason.value}" for c, cd in d.components.items())
        parts.append(f"reason={why}")
    if rec.advisory:
        parts.append("applied=advisory")
    elif rec.applied is not None:
        parts.append(f"applied={'yes' if rec.applied else 'no'}")
    if rec.error_kind:
        parts.append(f"error={rec.error_kind} detail={_fmt(rec.error)}")
    parts.append(f"dur_ms={rec.duration_s * 1000:.2f}")
    return " ".join(parts)
