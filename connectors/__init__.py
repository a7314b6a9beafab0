"""Adapters to outside systems: metrics sources and replica targets.

``make_connector(settings)`` builds the configured replica target (see connectors/factory.py).
"""

from connectors.protocols import (
    ApplyReason,
    ApplyResult,
    ComponentState,
    Connector,
    GraphState,
    MetricsSource,
)

__all__ = [
    "ApplyReason",
    "ApplyResult",
    "ComponentState",
    "Connector",
    "GraphState",
    "MetricsSource",
    "make_connector",
]


def __getattr__(name: str) -> object:
    # lazy, so importing the protocols never imports aiohttp or kubernetes_asyncio
    if name == "make_connector":
        from connectors.factory import make_connector

        return make_connector
    raise AttributeError(name)
