"""API client setup: in-cluster service account when running in a pod, else a kubeconfig;
and the namespace the connector works in."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from connectors.errors import Unavailable
from connectors.settings import KubernetesConnectorSettings
from planner.errors import ConfigError

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and SERVICE_ACCOUNT_DIR.is_dir()


def kubeconfig_path(settings: KubernetesConnectorSettings) -> Path:
    """settings.kubeconfig, else the first file of $KUBECONFIG, else ~/.kube/config."""
    path = (
        settings.kubeconfig
        or Path(os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0]).expanduser()
    )
    if not path.is_file():
        raise ConfigError(
            "connector.kubernetes.kubeconfig",
            str(path),
            "an existing kubeconfig file (or run in a pod with a service account)",
        )
    return path


async def connect(settings: KubernetesConnectorSettings) -> tuple[Any, str]:
    """An ApiClient and the namespace: settings.namespace, else the pod's own, else the
    kubeconfig context's, else ``default``."""
    from kubernetes_asyncio import client, config

    configuration = client.Configuration()
    namespace = settings.namespace
    if settings.kubeconfig is None and settings.context is None and in_cluster():
        load_incluster: Any = config.load_incluster_config
        load_incluster(client_configuration=configuration)
        if namespace is None:
            namespace = (SERVICE_ACCOUNT_DIR / "namespace").read_text().strip()
    else:
        path = kubeconfig_path(settings)
        try:
            loader = await config.load_kube_config(
                config_file=str(path),
                context=settings.context,
                client_configuration=configuration,
                persist_config=False,
            )
        except config.ConfigException as exc:
            raise ConfigError(
                "connector.kubernetes.kubeconfig", str(path), f"a usable kubeconfig ({exc})"
            ) from exc
        if namespace is None:
            context = loader.current_context or {}
            namespace = (context.get("context") or {}).get("namespace")
    try:
        api_client = client.ApiClient(configuration)
    except Exception as exc:  # aiohttp session setup; nothing specific to catch
        raise Unavailable(f"cannot create the Kubernetes client: {exc}") from exc
    return api_client, namespace or "default"


def default_identity() -> str:
    """A leader-election identity unique per replica: the pod name, else host and pid."""
    return os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"
