"""Loading settings: every validation problem, unknown keys and unknown ``PLANNER_``
variables included, becomes one ``ConfigError`` that lists them all in plain words, with
"did you mean" for near-miss names."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from planner.errors import ConfigError
from planner.settings.describe import describe, section, suggest
from planner.settings.graphs import graph_configs
from planner.settings.tree import CONFIG_FILE_VAR, ENV_PREFIX, PlannerSettings


def _env_problems() -> list[tuple[str, object, str]]:
    """``PLANNER_`` variables that name no setting (pydantic would ignore them silently)."""
    problems: list[tuple[str, object, str]] = []
    for name, value in sorted(os.environ.items()):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        model: type[BaseModel] = PlannerSettings
        for depth, part in enumerate(parts):
            if part not in model.model_fields:
                known = [
                    ENV_PREFIX + "__".join((*parts[:depth], k)).upper() for k in model.model_fields
                ]
                problems.append((name, value, "a known PLANNER_ variable" + suggest(name, known)))
                break
            sub = section(model, (part,))
            if sub is None:
                break  # a plain (or mapping) field: its value is pydantic's to check
            model = sub
    return problems


def _env_name(field: str) -> str:
    """The ``PLANNER_`` variable that sets a dotted field (or the variable itself)."""
    if field.upper().startswith(ENV_PREFIX):
        return field.upper()
    return ENV_PREFIX + field.replace(".", "__").upper()


def _set_path(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(dotted, value, f"{part} to be a section")
    node[parts[-1]] = value


def _read_yaml(config_file: str | Path) -> None:
    path = Path(config_file)
    if not path.is_file():
        raise ConfigError("config_file", str(path), "an existing YAML file")
    try:
        import yaml

        parsed = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError("config_file", str(path), f"readable YAML ({exc})") from exc
    if parsed is not None and not isinstance(parsed, dict):
        raise ConfigError("config_file", str(path), "a YAML mapping at the top level")


def load_settings(
    *, config_file: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> PlannerSettings:
    """Build and validate settings; raises ConfigError (exit code 2) listing every bad field.

    ``overrides`` maps dotted field names (``"prefill.min_replicas"``) to values, as the
    CLI flags give them; None values are ignored.
    """
    if config_file is not None:
        _read_yaml(config_file)
    init: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if value is not None:
            _set_path(init, key, value)
    problems = _env_problems()
    previous = os.environ.get(CONFIG_FILE_VAR)
    try:
        if config_file is not None:
            os.environ[CONFIG_FILE_VAR] = str(config_file)
        else:
            os.environ.pop(CONFIG_FILE_VAR, None)
        settings = PlannerSettings(**init)
    except ValidationError as exc:
        described = [describe(e) for e in exc.errors()]
        # an unknown PLANNER_ variable also reaches pydantic as an unknown key: say it once
        from_env = {_env_name(f) for f, _, _ in problems}
        described = [d for d in described if _env_name(d[0]) not in from_env]
        raise ConfigError.of([*described, *problems]) from exc
    finally:
        if previous is None:
            os.environ.pop(CONFIG_FILE_VAR, None)
        else:
            os.environ[CONFIG_FILE_VAR] = previous
    if problems:
        raise ConfigError.of(problems)
    if settings.graphs:
        graph_configs(settings)  # every graph's problems, at start-up
    return settings
