"""A deployment rehearsal: the planner pods a rendered overlay describes, run as they would
run, against stand-ins for the cluster around them.

- the pods: as many processes as the Deployment's replicas, each the installed
  (non-editable) ``sla-planner`` with the container's args, its literal env, POD_NAME
  from the downward API, and the ConfigMap's files laid out at their mount path;
- the API server: the in-process fake (tests/fakes/k8s_api.py) speaking the REST
  protocol, holding the graph the overlay's settings name (a DynamoGraphDeployment, or
  Deployments), with pods that follow their replicas;
- the graph: the emulated graph replaying a load trace, its workers following the
  objects' replicas, serving Dynamo's or vLLM's metric names; vLLM as separate prefill
  and decode servers;
- Prometheus: Debian's real server scraping the graph's servers and every planner pod,
  with the labels a Prometheus Operator scrape adds (namespace, service, pod).

What differs from a cluster, each through the planner's ordinary settings channels:
KUBECONFIG points at the fake API server (a pod reads its service account instead),
PLANNER_METRICS__URL at the local Prometheus (the overlay names an in-cluster service),
PLANNER_SERVICE__HOST/PORT put each pod on 127.0.0.1 and its own port (pods have their
own addresses), and PLANNER_SERVICE__TIME_COMPRESSION replays planner time faster.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from planner.clock import ServiceClock
from planner.core.types import Component
from planner.emulator.build import build_graph
from planner.emulator.server import serve_metrics
from planner.settings import PlannerSettings, load_settings
from tests.fakes.k8s_api import FakeKubeApi
from tests.integration.installed import Installed
from tests.integration.k8s_target import KubeObjectsTarget
from tests.integration.kustomize import Doc, one
from tests.integration.pod_spec import PodRun, pod_run
from tests.integration.prometheus_server import PrometheusProcess, ScrapeJob, free_port

P, D = Component.PREFILL, Component.DECODE
#: planner seconds per wall second: a 60 s interval is 1.5 s, the 60 s window 1.5 s
COMPRESSION = 40.0
#: the load (planner seconds): low, then high, then low again
HIGH_FROM_S, HIGH_TO_S, END_S = 600.0, 1500.0, 2700.0
LOW_RPS, HIGH_RPS = 2.0, 25.0


def write_trace(path: Path) -> None:
    """Azure-format CSV of 3000-token prompts and 150-token answers: LOW_RPS, HIGH_RPS
    between HIGH_FROM_S and HIGH_TO_S, LOW_RPS to END_S (seeded Poisson arrivals)."""
    rng = np.random.default_rng(7)
    times: list[float] = []
    for start, end, rps in (
        (0.0, HIGH_FROM_S, LOW_RPS),
        (HIGH_FROM_S, HIGH_TO_S, HIGH_RPS),
        (HIGH_TO_S, END_S, LOW_RPS),
    ):
        n = rng.poisson(rps * (end - start))
        times += sorted(rng.uniform(start, end, n))
    t0 = np.datetime64("2023-11-16T18:00:00.000000")
    lines = ["TIMESTAMP,ContextTokens,GeneratedTokens"]
    for t in times:
        stamp = str(t0 + np.timedelta64(int(t * 1e6), "us")).replace("T", " ")
        lines.append(f"{stamp},3000,150")
    path.write_text("\n".join(lines) + "\n")


@dataclass
class Rehearsal:
    """What one rehearsal saw."""

    namespace: str
    #: (planner time s, replicas per component of the Kubernetes objects)
    timeline: list[tuple[float, dict[Component, int]]] = field(default_factory=list)
    exit_codes: list[int | None] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    #: (planner time s, PromQL) -> result vector, from the real Prometheus
    queries: dict[tuple[float, str], list[dict[str, Any]]] = field(default_factory=dict)
    lease_holder: str | None = None
    pod_names: list[str] = field(default_factory=list)
    writes: int = 0
    #: every (group, resource, verb) the pods called, and the HTTP statuses answered
    rules_used: set[tuple[str, str, str]] = field(default_factory=set)
    statuses: set[int] = field(default_factory=set)

    def replicas_between(self, start_s: float, end_s: float) -> Iterator[dict[Component, int]]:
        return (r for t, r in self.timeline if start_s <= t <= end_s)

    def log_tails(self, chars: int = 3000) -> str:
        return "\n".join(f"--- planner {i}\n{log[-chars:]}" for i, log in enumerate(self.logs))


def _seed(fake: FakeKubeApi, settings: PlannerSettings, namespace: str) -> KubeObjectsTarget:
    """The objects the overlay's settings name, one replica each, and the graph's view,
    on two 16-GPU nodes (room for the load's peak: the planner reads the cluster's
    capacity when the overlay says so)."""
    k = settings.connector.kubernetes
    assert k is not None
    for i in range(2):
        fake.cluster.add_node(f"gpu-node-{i}", 16)
    if k.target == "dgd":
        assert k.graph_name is not None
        fake.cluster.add_graph(
            namespace,
            k.graph_name,
            {
                "Frontend": {"componentType": "frontend", "replicas": 1},
                "VllmPrefillWorker": {"subComponentType": "prefill", "replicas": 1, "gpu": 1},
                "VllmDecodeWorker": {"subComponentType": "decode", "replicas": 1, "gpu": 1},
            },
            adapters=True,
        )
        objects = {P: ("dgd", "VllmPrefillWorker"), D: ("dgd", "VllmDecodeWorker")}
        return KubeObjectsTarget(
            fake.cluster, namespace=namespace, objects=objects, graph=k.graph_name
        )
    names = {Component(c): n for c, n in k.services.items()}
    for name in names.values():
        fake.cluster.add_workload(namespace, name, plural="deployments", replicas=1, gpus=1)
    return KubeObjectsTarget(
        fake.cluster,
        namespace=namespace,
        objects={c: ("deployment", n) for c, n in names.items()},
    )


def _frontend_jobs(settings: PlannerSettings, namespace: str, port: int) -> list[ScrapeJob]:
    """Scrape jobs for the graph's servers, labelled as the operator's scrapes label them."""
    target = f"127.0.0.1:{port}"
    if settings.metrics.preset == "dynamo":
        labels = {"namespace": namespace, "service": "frontend", "pod": "frontend-0"}
        return [ScrapeJob("frontend", {target: labels})]
    k = settings.connector.kubernetes
    assert k is not None
    jobs = []
    for comp in ("prefill", "decode"):
        service = k.services[comp]  # type: ignore[index]
        labels = {"namespace": namespace, "service": service, "pod": f"{service}-0"}
        jobs.append(ScrapeJob(service, {target: labels}, path=f"/metrics/{comp}"))
    return jobs


def _start(cmd: list[str], *, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            cmd, env=env, cwd=log_path.parent, stdout=log, stderr=subprocess.STDOUT
        )


def _pod_env(run: PodRun, pod_name: str, extra: dict[str, str]) -> dict[str, str]:
    env = {"PATH": "/usr/bin:/bin", **run.env, **extra}
    for name, path in run.field_env.items():
        assert path == "metadata.name", f"env {name} from {path}: not reproduced here"
        env[name] = pod_name
    return env


async def rehearse(
    docs: list[Doc],
    *,
    installed: Installed,
    workdir: Path,
    queries: dict[float, list[str]],
) -> Rehearsal:
    """Run the rendered overlay ``docs`` through the load trace; ``queries``: at each
    planner time, PromQL (``$namespace`` and ``$job`` filled in) to ask Prometheus."""
    run = pod_run(docs)
    assert not run.command, "the image's entrypoint (sla-planner) runs the args"
    args = run.materialize(workdir / "pod")
    settings = load_settings(config_file=args[args.index("--config") + 1])
    namespace = one(docs, "Deployment")["metadata"]["namespace"]
    result = Rehearsal(namespace=namespace)
    trace = workdir / "trace.csv"
    write_trace(trace)

    fake = FakeKubeApi()
    target = _seed(fake, settings, namespace)
    await fake.start()
    kubeconfig = fake.write_kubeconfig(workdir / "kubeconfig", namespace=namespace)
    graph_settings = load_settings(
        overrides={
            "ttft_ms": settings.ttft_ms,
            "itl_ms": settings.itl_ms,
            "interval_s": settings.interval_s,
            "metrics.preset": settings.metrics.preset,
            "emulator.trace": str(trace),
            "emulator.startup_s": 0.0,  # the fake cluster's pods are ready at once too
        }
    )
    clock = ServiceClock.start(compression=COMPRESSION)
    graph = build_graph(graph_settings, clock=clock, target=target)  # type: ignore[arg-type]
    runner, frontend_port = await serve_metrics(graph, host="127.0.0.1", port=0)
    ports = [free_port() for _ in range(run.replicas)]
    result.pod_names = [f"sla-planner-rehearsal-{i}" for i in range(run.replicas)]
    planner_job = ScrapeJob(
        "sla-planner",
        {
            f"127.0.0.1:{port}": {"namespace": namespace, "service": "sla-planner", "pod": pod}
            for port, pod in zip(ports, result.pod_names, strict=True)
        },
    )
    prom = PrometheusProcess(
        workdir=workdir,
        scrape_s=0.25,
        jobs=[*_frontend_jobs(settings, namespace, frontend_port), planner_job],
    )
    stop = asyncio.Event()
    procs: list[subprocess.Popen[bytes]] = []
    log_paths = [workdir / f"planner-{i}.log" for i in range(run.replicas)]
    graph_task: asyncio.Task[None] | None = None
    try:
        await asyncio.to_thread(prom.start)
        graph_task = asyncio.create_task(graph.run(stop))
        for port, pod, log_path in zip(ports, result.pod_names, log_paths, strict=True):
            env = _pod_env(
                run,
                pod,
                {
                    "HOME": str(workdir),
                    "MPLCONFIGDIR": str(workdir / "mpl"),
                    "KUBECONFIG": str(kubeconfig),
                    "PLANNER_METRICS__URL": prom.url,
                    "PLANNER_SERVICE__HOST": "127.0.0.1",
                    "PLANNER_SERVICE__PORT": str(port),
                    "PLANNER_SERVICE__TIME_COMPRESSION": str(COMPRESSION),
                },
            )
            cmd = [str(installed.entry_point), *args]
            procs.append(await asyncio.to_thread(_start, cmd, env=env, log_path=log_path))
        pending = sorted(queries.items())
        while clock.now_s() < END_S and all(p.poll() is None for p in procs):
            result.timeline.append((clock.now_s(), target.replicas()))
            while pending and clock.now_s() >= pending[0][0]:
                at_s, exprs = pending.pop(0)
                for q in exprs:
                    expr = q.replace("$namespace", namespace).replace("$job", "sla-planner")
                    result.queries[(at_s, q)] = await asyncio.to_thread(prom.query, expr)
            await asyncio.sleep(0.2)
        lease = fake.cluster.get(("coordination.k8s.io", "leases", namespace), "sla-planner")
        result.lease_holder = (lease or {}).get("spec", {}).get("holderIdentity")
        result.writes = len(fake.writes())
        result.rules_used = fake.rules_used()
        result.statuses = {c.status for c in fake.calls}
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                result.exit_codes.append(await asyncio.to_thread(p.wait, 30))
            except subprocess.TimeoutExpired:
                p.kill()
                result.exit_codes.append(await asyncio.to_thread(p.wait, 10))
        stop.set()
        if graph_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await graph_task
        await runner.cleanup()
        await asyncio.to_thread(prom.stop)
        await fake.close()
        result.logs = [p.read_text(errors="replace") for p in log_paths if p.exists()]
    return result
