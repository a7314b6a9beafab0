"""Builds the configured Connector from settings: the one place that names concrete
connectors (kubernetes_asyncio is imported only for kind kubernetes)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from connectors.instrumented import InstrumentedConnector
from connectors.protocols import Connector
from connectors.reconcile import ReapplyingConnector
from connectors.settings import ConnectorSettings


def make_connector(
    settings: ConnectorSettings,
    *,
    registry: Any = None,
    clock: Callable[[], float] = time.time,
) -> InstrumentedConnector:
    """InstrumentedConnector(ReapplyingConnector(<virtual or kubernetes connector>)).

    Nothing connects until the first call. ``registry`` (a prometheus_client
    CollectorRegistry) receives the connector's series; without it only the plain
    counters on the returned object are kept.
    """
    cs = settings
    inner: Connector
    if cs.kind == "kubernetes":
        from connectors.kubernetes import KubernetesConnector

        assert cs.kubernetes is not None  # settings validate this
        inner = KubernetesConnector(cs.kubernetes, clock=clock)
    else:
        from connectors.virtual import VirtualConnector
        from connectors.virtual.connector import PlannerTransport

        v = cs.virtual
        transport: PlannerTransport
        if v.transport == "http":
            from connectors.virtual.http_transport import HttpPlannerTransport

            transport = HttpPlannerTransport(host=v.host, port=v.port)
        else:
            from connectors.virtual.file_transport import FilePlannerTransport

            transport = FilePlannerTransport(v.directory)
        inner = VirtualConnector(transport, not_coming_after_s=v.not_coming_after_s, clock=clock)
    return InstrumentedConnector(ReapplyingConnector(inner), registry=registry)
