"""The Kubernetes replica target (kubernetes_asyncio is imported only when a connector
starts): DynamoGraphDeployment, its scaling adapters, or Deployments/StatefulSets."""

from connectors.kubernetes.connector import KubernetesConnector
from connectors.kubernetes.rbac import REQUIRED_RBAC, Rule, required_rbac

__all__ = ["REQUIRED_RBAC", "KubernetesConnector", "Rule", "required_rbac"]
