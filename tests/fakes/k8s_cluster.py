"""The fake API server's toy controllers over its object store: /scale views,
scaling adapters propagated to their graph, pods that run or stay Pending by capacity,
and (when any are added) Nodes, Karpenter NodePools, ResourceQuotas and other tenants'
pods, with a toy scheduler that binds a pod to a node with room or leaves it Pending."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

from tests.fakes.k8s_dra import dra_room
from tests.fakes.k8s_nodes import (
    GPU,
    is_ready,
    node_object,
    nodepool_object,
    pod_gpus,
    pod_object,
    quota_object,
    running_status,
    schedule,
)
from tests.fakes.k8s_store import Key, Store, rfc3339

GRAPH_LABEL = "nvidia.com/dynamo-graph-deployment-name"
COMPONENT_LABEL = "nvidia.com/dynamo-component"
DYNAMO = "nvidia.com"
ADAPTERS = "dynamographdeploymentscalingadapters"


def _selector(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


class Cluster(Store):
    """The store with the controllers a cluster runs: /scale views, adapters propagated
    to their graph, pods scheduled by capacity, status written back."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock=clock)
        #: workload id ("deployments/x", "dgd/g/svc") -> pods that can be scheduled
        self.capacity: dict[str, int] = {}
        #: new scheduled pods become Ready at once (False: wait for mark_ready)
        self.start_ready = True
        #: the extended resource pods request and nodes offer (a MIG profile works too)
        self.gpu_resource = GPU
        self._pod_ids = itertools.count()

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

    # --- cluster-scoped objects and other tenants (tests/fakes/k8s_nodes.py) -----------

    def add_node(
        self, name: str, gpus: int, *, ready: bool = True, nodepool: str | None = None
    ) -> None:
        """A Node with ``gpus`` allocatable of ``gpu_resource`` (cluster-scoped); pods
        Pending for room are scheduled onto it at once."""
        body = node_object(name, gpus, resource=self.gpu_resource, ready=ready, nodepool=nodepool)
        self.create(("", "nodes", ""), body)

    def add_nodepool(self, name: str, *, limit_gpus: int | None) -> None:
        """A Karpenter v1 NodePool (cluster-scoped), with a GPU limit or none."""
        body = nodepool_object(name, resource=self.gpu_resource, limit_gpus=limit_gpus)
        self.create(("karpenter.sh", "nodepools", ""), body)

    def add_quota(self, namespace: str, name: str, *, hard_gpus: int) -> None:
        """A ResourceQuota on ``requests.<gpu_resource>``; the controller keeps ``used``
        and refuses to create pods beyond ``hard``."""
        body = quota_object(name, resource=self.gpu_resource, hard_gpus=hard_gpus)
        self.create(("", "resourcequotas", namespace), body)

    def add_pod(self, namespace: str, name: str, *, gpus: int, node: str | None = None) -> None:
        """Another tenant's pod asking for ``gpus``: bound to ``node``, or left to the
        toy scheduler (Pending when no node has room)."""
        labels = {"tenant": name}
        pod = pod_object(namespace, name, labels=labels, resource=self.gpu_resource, gpus=gpus)
        if node is not None:
            pod["spec"]["nodeName"] = node
            pod["status"] = running_status(ready=True)
        self.create(("", "pods", namespace), pod)

    # --- toy controllers ----------------------------------------------------------------

    def _workloads(self) -> Iterator[tuple[str, str, dict[str, str], int, int]]:
        """(namespace, workload id, pod labels, replicas, GPUs per pod) for every
        scalable thing."""
        for (group, plural, ns), bucket in list(self._store.items()):
            for name, obj in bucket.items():
                if group == "apps":
                    labels = obj["spec"]["selector"]["matchLabels"]
                    containers = obj["spec"]["template"]["spec"]["containers"]
                    gpus = sum(
                        int((c.get("resources") or {}).get("limits", {}).get(GPU, 0))
                        for c in containers
                    )
                    replicas = int(obj["spec"].get("replicas", 1))
                    yield ns, f"{plural}/{name}", labels, replicas, gpus
                elif plural == "dynamographdeployments":
                    for svc, s in obj["spec"]["services"].items():
                        labels = {GRAPH_LABEL: name, COMPONENT_LABEL: svc}
                        gpus = int((s.get("resources") or {}).get("limits", {}).get("gpu", 0))
                        wid = f"dgd/{name}/{svc}"
                        yield ns, wid, labels, int(s.get("replicas", 1)), gpus

    def _pod(self, ns: str, wid: str, labels: dict[str, str], *, gpus: int) -> dict[str, Any]:
        name = f"{wid.replace('/', '-').lower()}-{next(self._pod_ids)}"
        return pod_object(ns, name, labels=labels, resource=self.gpu_resource, gpus=gpus)

    def _quota_room(self, ns: str) -> int | None:
        """GPUs the namespace's quotas still admit (None: no quota)."""
        key = f"requests.{self.gpu_resource}"
        room: int | None = None
        used = sum(pod_gpus(p, self.gpu_resource) for p in self.objects(("", "pods", ns)))
        for q in self.objects(("", "resourcequotas", ns)):
            hard = int(q["spec"]["hard"].get(key, 0))
            q["status"]["used"][key] = str(used)
            room = hard - used if room is None else min(room, hard - used)
        return room

    def reconcile(self) -> None:
        """Create or delete pods to match replicas (within the namespace's quota), then
        schedule Pending pods, oldest first, up to each workload's capacity and, when
        the cluster has Nodes, onto a node with room for their GPUs."""
        wid_of: dict[tuple[str, str], str] = {}
        owned: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for ns, wid, labels, replicas, gpus in list(self._workloads()):
            pods_key: Key = ("", "pods", ns)
            bucket = self._store.setdefault(pods_key, {})
            mine = [p for p in bucket.values() if p["metadata"]["labels"] == labels]
            # scale down: Pending first, then newest
            mine.sort(key=lambda p: (p["status"]["phase"] != "Pending", p["metadata"]["name"]))
            while len(mine) > replicas:
                del bucket[mine.pop(0)["metadata"]["name"]]
            for _ in range(replicas - len(mine)):
                room = self._quota_room(ns)
                if room is not None and gpus > room:
                    break  # the quota admission refuses the pod: it is never created
                pod = self._pod(ns, wid, labels, gpus=gpus)
                pod["metadata"]["creationTimestamp"] = rfc3339(self.clock())
                bucket[pod["metadata"]["name"]] = self._bump(pod)
                mine.append(pod)
            self._quota_room(ns)
            owned[(ns, wid)] = mine
            for p in mine:
                wid_of[(ns, p["metadata"]["name"])] = wid
        self._schedule(wid_of)
        for ns, wid, _, replicas, _ in list(self._workloads()):
            ready = sum(1 for p in owned.get((ns, wid), []) if is_ready(p))
            self._write_status(ns, wid, replicas, ready)

    def _schedule(self, wid_of: dict[tuple[str, str], str]) -> None:
        pods = [(k[2], p) for k, bucket in self.buckets() if k[:2] == ("", "pods") for p in bucket]
        started = schedule(
            pods,
            self.objects(("", "nodes", "")),
            wid_of=wid_of,
            capacity=self.capacity,
            resource=self.gpu_resource,
            start_ready=self.start_ready,
            dra_room=dra_room(self),
        )
        for pod in started:
            self._bump(pod)

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
                        pod["status"] = running_status(ready=True)
        self.reconcile()
