"""The planner's error hierarchy, rooted at PlannerError."""

from __future__ import annotations


class PlannerError(Exception):
    """Base of every error the planner raises on purpose."""

    #: process exit code the CLI uses when this error stops a command
    exit_code: int = 1


class ConfigError(PlannerError):
    """A setting is invalid: names the field, the value and what was expected."""

    exit_code = 2

    def __init__(self, field: str, value: object, expected: str) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        super().__init__(f"invalid setting {field}={value!r}: expected {expected}")

    def __reduce__(self) -> tuple[type[ConfigError], tuple[str, object, str]]:
        # rebuilt from its fields, so it survives a process pool (simulate, evaluate)
        return (type(self), (self.field, self.value, self.expected))


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
