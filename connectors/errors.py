"""Connector failures by kind: what went wrong talking to the environment, and whether
trying again can help."""

from __future__ import annotations

from connectors.protocols import ApplyReason
from planner.errors import ConnectorError


class ConnectorFault(ConnectorError):
    """A connector call failed; ``kind`` labels it for metrics and ApplyResult.reason."""

    kind: ApplyReason = ApplyReason.UNAVAILABLE
    #: whether the same call may succeed later without anyone changing anything
    transient: bool = False


class InvalidTarget(ConnectorFault):
    """The targets cannot be written as given (unknown component, negative count)."""

    kind = ApplyReason.INVALID


class Conflict(ConnectorFault):
    """Someone else changed the object between our read and our write (HTTP 409)."""

    kind = ApplyReason.CONFLICT
    transient = True


class Forbidden(ConnectorFault):
    """The planner's identity lacks a permission; the message names the missing rule."""

    kind = ApplyReason.FORBIDDEN


class NotFound(ConnectorFault):
    """The object the planner was told to scale does not exist; the message names it."""

    kind = ApplyReason.NOT_FOUND


class Unavailable(ConnectorFault):
    """The environment cannot be reached or answered 5xx."""

    kind = ApplyReason.UNAVAILABLE
    transient = True


class CallTimeout(ConnectorFault):
    """The environment did not answer in time."""

    kind = ApplyReason.TIMEOUT
    transient = True


class EnvironmentIOError(ConnectorFault):
    """Reading or writing the virtual target's files failed, or they hold bad JSON."""

    kind = ApplyReason.IO
    transient = True
