"""Adapters to outside systems: metrics sources and replica targets."""

from connectors.protocols import ApplyResult, ComponentState, Connector, GraphState, MetricsSource

__all__ = ["ApplyResult", "ComponentState", "Connector", "GraphState", "MetricsSource"]
