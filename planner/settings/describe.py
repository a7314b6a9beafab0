"""Validation errors in the user's words: the field, the value and what was expected,
with "did you mean" for near-miss names of settings."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel

from planner.settings.tree import PlannerSettings


def section(model: type[BaseModel], path: tuple[str, ...]) -> type[BaseModel] | None:
    """The settings section at ``path`` (None when the path leaves the tree)."""
    for part in path:
        field = model.model_fields.get(part)
        ann = field.annotation if field is not None else None
        # Optional sections (kubernetes: X | None) hold the model in their args
        candidates = [ann, *getattr(ann, "__args__", ())]
        nxt = next(
            (a for a in candidates if isinstance(a, type) and issubclass(a, BaseModel)), None
        )
        if nxt is None:
            return None
        model = nxt
    return model


def suggest(word: str, choices: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, compared case-insensitively."""
    by_lower = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""


#: pydantic error types whose own wording is for programmers, in the user's words
_PLAIN = {
    "model_type": "a section of settings (a mapping of names to values)",
    "model_attributes_type": "a section of settings (a mapping of names to values)",
    "dict_type": "a mapping of names to values",
}


def describe(err: Any) -> tuple[str, object, str]:
    loc = tuple(str(p) for p in err.get("loc", ()))
    field = ".".join(loc) or "<settings>"
    value = err.get("input")
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        parent = section(PlannerSettings, loc[:-1])
        prefix = "".join(f"{p}." for p in loc[:-1])
        known = [prefix + k for k in sorted(parent.model_fields)] if parent is not None else []
        where = f" of {'.'.join(loc[:-1])}" if loc[:-1] else ""
        return field, value, f"a known setting{where}" + suggest(field, known)
    if kind == "missing":
        return field, "<unset>", "a value (this setting is required)"
    if kind in _PLAIN:
        return field, value, _PLAIN[kind]
    text = str(err.get("msg", "a valid value"))
    for prefix in ("Value error, ", "Input should be ", "Assertion failed, "):
        text = text.removeprefix(prefix)
    ctx = err.get("ctx") or {}
    if "expected" in ctx and str(ctx["expected"]) not in text:
        text = f"{text} ({ctx['expected']})"
    return field, value, text
