"""The fake API server's object store and toy controllers: resourceVersions, /scale views,
scaling adapters propagated to their graph, and pods that run or stay Pending by capacity."""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

Key = tuple[str, str, str]  # (group, plural, namespace)
GRAPH_LABEL = "nvidia.com/dynamo-graph-deployment-name"
COMPONENT_LABEL = "nvidia.com/dynamo-component"
DYNAMO = "nvidia.com"
ADAPTERS = "dynamographdeploymentscalingadapters"


def rfc3339(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = merge_patch(target.get(k), v)
    return target


def _selector(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


class Cluster:
    """Objects by (group, plural, namespace) and name; every change bumps resourceVersion."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.rv = 1000
        self._store: dict[Key, dict[str, dict[str, Any]]] = {}
        #: workload id ("deployments/x", "dgd/g/svc") -> pods that can be scheduled
        self.capacity: dict[str, int] = {}
        #: new scheduled pods become Ready at once (False: wait for mark_ready)
        self.start_ready = True
        self._pod_ids = itertools.count()

    # --- store ------------------------------------------------------------------------

    def _bump(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        return obj

    def objects(self, key: Key) -> list[dict[str, Any]]:
        return list(self._store.get(key, {}).values())

    def get(self, key: Key, name: str) -> dict[str, Any] | None:
        return self._store.get(key, {}).get(name)

    def create(self, key: Key, body: dict[str, Any]) -> dict[str, Any] | None:
        name = body["metadata"]["name"]
        bucket = self._store.setdefault(key, {})
        if name in bucket:
            return None
        obj = copy.deepcopy(body)
        obj["metadata"].setdefault("namespace", key[2])
        obj["metadata"]["creationTimestamp"] = rfc3339(self.clock())
        obj["metadata"]["uid"] = f"uid-{name}-{self.rv}"
        bucket[name] = self._bump(obj)
        self.reconcile()
        return obj

    def replace(self, key: Key, name: str, body: dict[str, Any]) -> dict[str, Any]:
        old = self._store[key][name]
        obj = copy.deepcopy(body)
        for keep in ("creationTimestamp", "uid", "namespace", "name"):
            if keep in old["metadata"]:
                obj.setdefault("metadata", {})[keep] = old["metadata"][keep]
        if "status" in old and key[1] != "leases":
            obj["status"] = old["status"]  # the main resource does not write status
        self._store[key][name] = self._bump(obj)
        self.reconcile()
        return obj

    def touch(self, key: Key, name: str) -> None:
        """Another writer changes an unrelated field."""
        obj = self._store[key][name]
        obj["metadata"].setdefault("annotations", {})["touched-by"] = f"other-{self.rv}"
        self._bump(obj)

    # --- /scale -----------------------------------------------------------------------

    def scale_of(self, key: Key, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        if key[1] == ADAPTERS:
            selector = (obj.get("status") or {}).get("selector", "")
        else:
            selector = _selector(obj["spec"]["selector"]["matchLabels"])
        return {
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {
                "name": meta["name"],
                "namespace": meta["namespace"],
                "resourceVersion": meta["resourceVersion"],
                "uid": meta.get("uid", ""),
            },
            "spec": {"replicas": obj["spec"].get("replicas", 1)},
            "status": {
                "replicas": (obj.get("status") or {}).get("replicas", 0),
                "selector": selector,
            },
        }

    def set_scale(self, key: Key, name: str, replicas: int) -> dict[str, Any]:
        obj = self._store[key][name]
        obj["spec"]["replicas"] = replicas
        self._bump(obj)
        if key[1] == ADAPTERS:  # the operator propagates the adapter to its graph
            ref = obj["spec"]["dgdRef"]
            graph = self._store[(DYNAMO, "dynamographdeployments", key[2])][ref["name"]]
            graph["spec"]["services"][ref["serviceName"]]["replicas"] = replicas
            self._bump(graph)
        self.reconcile()
        return obj

    # --- seeding ----------------------------------------------------------------------

    def add_graph(
        self,
        namespace: str,
        name: str,
        services: dict[str, dict[str, Any]],
        *,
        adapters: bool = False,
    ) -> None:
        """A DGD; each service: {"subComponentType", "replicas", "gpu"} (all optional)."""
        spec_services: dict[str, Any] = {}
        for svc, opts in services.items():
            s: dict[str, Any] = {
                "componentType": opts.get("componentType", "worker"),
                "replicas": opts.get("replicas", 1),
            }
            if "subComponentType" in opts:
                s["subComponentType"] = opts["subComponentType"]
            if "gpu" in opts:
                s["resources"] = {"limits": {"gpu": str(opts["gpu"])}}
            spec_services[svc] = s
        self.create(
            (DYNAMO, "dynamographdeployments", namespace),
            {
                "apiVersion": "nvidia.com/v1alpha1",
                "kind": "DynamoGraphDeployment",
                "metadata": {"name": name},
                "spec": {"services": spec_services},
            },
        )
        if not adapters:
            return
        for svc, s in spec_services.items():
            labels = {GRAPH_LABEL: name, COMPONENT_LABEL: svc}
            self.create(
                (DYNAMO, ADAPTERS, namespace),
                {
                    "apiVersion": "nvidia.com/v1alpha1",
                    "kind": "DynamoGraphDeploymentScalingAdapter",
                    "metadata": {"name": f"{name}-{svc.lower()}"},
                    "spec": {
                        "replicas": s["replicas"],
                        "dgdRef": {"name": name, "serviceName": svc},
                    },
                    "status": {"replicas": s["replicas"], "selector": _selector(labels)},
                },
            )

    def add_workload(
        self, namespace: str, name: str, *, plural: str, replicas: int, gpus: int
    ) -> None:
        kind = "Deployment" if plural == "deployments" else "StatefulSet"
        labels = {"app": name}
        self.create(
            ("apps", plural, namespace),
            {
                "apiVersion": "apps/v1",
                "kind": kind,
                "metadata": {"name": name, "labels": labels},
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "containers": [
                                {
                                    "name": "vllm",
                                    "image": "vllm/vllm-openai:v0.6.0",
                                    "resources": {"limits": {"nvidia.com/gpu": str(gpus)}},
                                }
                            ]
                        },
                    },
                },
                "status": {"replicas": 0, "readyReplicas": 0},
            },
        )

    # --- toy controllers ----------------------------------------------------------------

    def _workloads(self) -> Iterator[tuple[str, str, dict[str, str], int]]:
        """(namespace, workload id, pod labels, replicas) for every scalable thing."""
        for (group, plural, ns), bucket in list(self._store.items()):
            for name, obj in bucket.items():
                if group == "apps":
                    labels = obj["spec"]["selector"]["matchLabels"]
                    yield ns, f"{plural}/{name}", labels, int(obj["spec"].get("replicas", 1))
                elif plural == "dynamographdeployments":
                    for svc, s in obj["spec"]["services"].items():
                        labels = {GRAPH_LABEL: name, COMPONENT_LABEL: svc}
                        yield ns, f"dgd/{name}/{svc}", labels, int(s.get("replicas", 1))

    def _pod(self, ns: str, wid: str, labels: dict[str, str]) -> dict[str, Any]:
        name = f"{wid.replace('/', '-').lower()}-{next(self._pod_ids)}"
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
            "spec": {"containers": [{"name": "worker", "image": "worker:1"}]},
            "status": {"phase": "Pending"},
        }

    def reconcile(self) -> None:
        """Create or delete pods to match replicas; schedule up to each capacity."""
        for ns, wid, labels, replicas in list(self._workloads()):
            pods_key: Key = ("", "pods", ns)
            bucket = self._store.setdefault(pods_key, {})
            mine = [p for p in bucket.values() if p["metadata"]["labels"] == labels]
            # scale down: Pending first, then newest
            mine.sort(key=lambda p: (p["status"]["phase"] != "Pending", p["metadata"]["name"]))
            while len(mine) > replicas:
                del bucket[mine.pop(0)["metadata"]["name"]]
            for _ in range(replicas - len(mine)):
                pod = self._pod(ns, wid, labels)
                pod["metadata"]["creationTimestamp"] = rfc3339(self.clock())
                bucket[pod["metadata"]["name"]] = self._bump(pod)
                mine.append(pod)
            cap = self.capacity.get(wid, 1 << 30)
            running = sum(1 for p in mine if p["status"]["phase"] == "Running")
            for pod in sorted(mine, key=lambda p: p["metadata"]["creationTimestamp"]):
                if pod["status"]["phase"] == "Pending" and running < cap:
                    running += 1
                    pod["status"] = self._running(ready=self.start_ready)
                elif pod["status"]["phase"] == "Pending":
                    pod["status"] = {
                        "phase": "Pending",
                        "conditions": [
                            {
                                "type": "PodScheduled",
                                "status": "False",
                                "reason": "Unschedulable",
                                "message": "0/4 nodes are available: 4 Insufficient "
                                "nvidia.com/gpu.",
                            }
                        ],
                    }
            self._write_status(ns, wid, replicas, sum(1 for p in mine if _ready(p)))

    def _running(self, *, ready: bool) -> dict[str, Any]:
        return {
            "phase": "Running",
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "True" if ready else "False"},
            ],
        }

    def _write_status(self, ns: str, wid: str, replicas: int, ready: int) -> None:
        parts = wid.split("/")
        if parts[0] == "dgd":
            graph = self._store[(DYNAMO, "dynamographdeployments", ns)][parts[1]]
            status = graph.setdefault("status", {}).setdefault("services", {})
            status[parts[2]] = {"replicas": replicas, "readyReplicas": ready}
            adapter = self.get((DYNAMO, ADAPTERS, ns), f"{parts[1]}-{parts[2].lower()}")
            if adapter is not None:
                adapter["status"]["replicas"] = replicas
        else:
            obj = self._store[("apps", parts[0], ns)][parts[1]]
            obj["status"] = {"replicas": replicas, "readyReplicas": ready}

    def mark_ready(self) -> None:
        """Every Running pod passes its readiness probe."""
        for (_, plural, _), bucket in self._store.items():
            if plural == "pods":
                for pod in bucket.values():
                    if pod["status"]["phase"] == "Running":
                        pod["status"] = self._running(ready=True)
        self.reconcile()


def _ready(pod: dict[str, Any]) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", [])
    )
