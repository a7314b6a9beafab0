"""The planner's error hierarchy, rooted at PlannerError."""

from __future__ import annotations


class PlannerError(Exception):
    """Base of every error the planner raises on purpose."""

    #: process exit code the CLI uses when this error stops a command
    exit_code: int = 1


class ConfigError(PlannerError):
    """One or more settings are invalid: each names the field, the value and what was
    expected. ``field``, ``value`` and ``expected`` describe the first; ``problems``
    holds them all (settings are validated at once and every error is reported)."""

    exit_code = 2

    def __init__(
        self,
        field: str,
        value: object,
        expected: str,
        *,
        more: tuple[tuple[str, object, str], ...] = (),
    ) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        self.problems: tuple[tuple[str, object, str], ...] = ((field, value, expected), *more)
        if not more:
            text = f"invalid setting {field}={value!r}: expected {expected}"
        else:
            lines = [f"  {f}={v!r}: expected {e}" for f, v, e in self.problems]
            text = f"{len(self.problems)} invalid settings:\n" + "\n".join(lines)
        super().__init__(text)

    @classmethod
    def of(cls, problems: list[tuple[str, object, str]]) -> ConfigError:
        """One error carrying every problem (at least one)."""
        (field, value, expected), *rest = problems
        return cls(field, value, expected, more=tuple(rest))

    def __reduce__(self) -> tuple[object, ...]:
        # rebuilt from its fields, so it survives a process pool (simulate, evaluate)
        return (_rebuild_config_error, (self.problems,))


def _rebuild_config_error(problems: tuple[tuple[str, object, str], ...]) -> ConfigError:
    return ConfigError.of(list(problems))


class ProfileError(PlannerError):
    """A performance profile is missing, malformed or physically implausible."""

    exit_code = 2

    def __init__(self, source: str, field: str, problem: str) -> None:
        self.source = source
        self.field = field
        self.problem = problem
        super().__init__(f"bad profile {source}: {field}: {problem}")

    def __reduce__(self) -> tuple[type[ProfileError], tuple[str, str, str]]:
        return (type(self), (self.source, self.field, self.problem))


class TraceError(PlannerError):
    """A request trace cannot be read."""

    exit_code = 2


class ForecastError(PlannerError):
    """A forecaster could not fit or predict (callers fall back, never crash)."""


class MetricsError(PlannerError):
    """A metrics query failed or returned unusable data."""


class ConnectorError(PlannerError):
    """Reading or writing replicas through a connector failed."""


class EndpointError(PlannerError):
    """A serving endpoint being profiled refused a request or sent an unreadable stream."""


class InputError(PlannerError, ValueError):
    """A value handed to the decision core is invalid (NaN, negative, inconsistent):
    names the type and field, the value and what was expected."""

    def __init__(self, owner: str, field: str, value: object, expected: str) -> None:
        self.owner = owner
        self.field = field
        self.value = value
        self.expected = expected
        super().__init__(f"{owner}.{field}={value!r}: expected {expected}")

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str, object, str]]:
        return (type(self), (self.owner, self.field, self.value, self.expected))


class InvariantViolation(PlannerError):
    """A decision broke one of the core's stated invariants (a bug, never an input
    problem): the tick fails and the current replicas stay."""
