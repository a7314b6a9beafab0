"""A fake Kubernetes API server on 127.0.0.1 that speaks the REST protocol (real JSON
bodies, Status errors, resourceVersion compare-and-swap, merge-patch, /scale) plus a toy
controller that turns replicas into pods, for driving the real kubernetes_asyncio client."""

from __future__ import annotations

import asyncio
import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fakes.k8s_cluster import Cluster
from tests.fakes.k8s_store import merge_patch

TOKEN = "fake-token"
MERGE_PATCH = "application/merge-patch+json"
_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_CORE = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/(?P<res>[^/]+)(?:/(?P<name>[^/]+))?$")
_GROUP = re.compile(
    r"^/apis/(?P<group>[^/]+)/(?P<ver>[^/]+)/namespaces/(?P<ns>[^/]+)/(?P<res>[^/]+)"
    r"(?:/(?P<name>[^/]+)(?:/(?P<sub>[^/]+))?)?$"
)
#: cluster-scoped objects (nodes, NodePools) and lists across every namespace (pods)
_CORE_CLUSTER = re.compile(r"^/api/v1/(?P<res>[^/]+)(?:/(?P<name>[^/]+))?$")
_GROUP_CLUSTER = re.compile(
    r"^/apis/(?P<group>[^/]+)/(?P<ver>[^/]+)/(?P<res>[^/]+)(?:/(?P<name>[^/]+))?$"
)
#: resources that exist in the cluster scope (others, listed there, span every namespace)
CLUSTER_SCOPED = frozenset({"nodes", "nodepools", "namespaces", "resourceslices"})
_KINDS = {
    "pods": "PodList",
    "nodes": "NodeList",
    "resourcequotas": "ResourceQuotaList",
    "nodepools": "NodePoolList",
    "resourceslices": "ResourceSliceList",
    "resourceclaims": "ResourceClaimList",
}


def status_body(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    """A metav1.Status failure body, as the API server sends with every error."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": details,
        "code": code,
    }


@dataclass(frozen=True, slots=True)
class Call:
    """One request as the fake saw it, with the RBAC rule it needs."""

    method: str
    path: str
    group: str
    resource: str
    verb: str
    name: str | None
    content_type: str
    status: int

    @property
    def rule(self) -> tuple[str, str, str]:
        return (self.group, self.resource, self.verb)


@dataclass
class Fault:
    """Answer matching requests with ``status`` (0: pass through after ``delay_s``)."""

    status: int = 500
    times: int = 1
    delay_s: float = 0.0
    method: str | None = None
    resource: str | None = None
    verb: str | None = None
    name: str | None = None
    #: let this many matching requests through before the fault starts
    after: int = 0

    def matches(self, method: str, resource: str, verb: str, name: str | None) -> bool:
        hit = (
            self.times > 0
            and (self.method is None or self.method == method)
            and (self.resource is None or self.resource == resource)
            and (self.verb is None or self.verb == verb)
            and (self.name is None or self.name == name)
        )
        if hit and self.after > 0:
            self.after -= 1
            return False
        return hit


@dataclass
class FakeKubeApi:
    """Start with ``await fake.start()``, stop with ``await fake.close()``."""

    cluster: Cluster = field(default_factory=Cluster)
    #: RBAC rules (group, resource, verb) the planner's identity lacks: 403
    denied: set[tuple[str, str, str]] = field(default_factory=set)
    #: rules it lacks only cluster-wide (it has a Role but no ClusterRole for them)
    denied_cluster_wide: set[tuple[str, str, str]] = field(default_factory=set)
    faults: list[Fault] = field(default_factory=list)
    #: every write gets a concurrent change first (a genuine 409) on odd attempts
    conflict_storm: bool = False
    calls: list[Call] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None
    _storm_count: dict[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Listen (again, on the same port after ``stop``)."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        if self.port == 0:
            server: Any = site._server
            self.port = int(server.sockets[0].getsockname()[1])
        self._runner = runner

    async def stop(self) -> None:
        """Stop listening (the API server is down); ``start`` brings it back."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def close(self) -> None:
        await self.stop()

    def write_kubeconfig(self, path: Path, *, namespace: str = "default") -> Path:
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "planner", "user": {"token": TOKEN}}],
            "contexts": [
                {
                    "name": "fake",
                    "context": {"cluster": "fake", "user": "planner", "namespace": namespace},
                }
            ],
            "current-context": "fake",
        }
        path.write_text(json.dumps(doc))
        return path

    def rules_used(self) -> set[tuple[str, str, str]]:
        return {c.rule for c in self.calls}

    def writes(self, resource: str | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.verb in ("update", "patch", "create")
            and c.status < 300
            and (resource is None or c.resource == resource)
        ]

    # --- request handling -------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        parsed = self._route(request)
        if parsed is None:
            return self._error(404, "NotFound", f"the server could not find {request.path}")
        group, ns, res, name, sub = parsed
        resource = f"{res}/{sub}" if sub else res
        verb = "list" if request.method == "GET" and name is None else _VERBS[request.method]
        response = await self._dispatch(request, group, ns, res, name, sub, resource, verb)
        self.calls.append(
            Call(
                request.method,
                request.path,
                group,
                resource,
                verb,
                name,
                request.headers.get("Content-Type", ""),
                response.status,
            )
        )
        return response

    def _route(self, request: web.Request) -> tuple[str, str, str, str | None, str | None] | None:
        m = _CORE.match(request.path)
        if m:
            return "", m["ns"], m["res"], m["name"], None
        m = _GROUP.match(request.path)
        if m:
            return m["group"], m["ns"], m["res"], m["name"], m["sub"]
        m = _CORE_CLUSTER.match(request.path)
        if m and m["res"] != "namespaces":
            return "", "", m["res"], m["name"], None
        m = _GROUP_CLUSTER.match(request.path)
        if m and m["res"] != "namespaces":
            return m["group"], "", m["res"], m["name"], None
        return None

    def _error(self, code: int, reason: str, message: str, **details: Any) -> web.Response:
        return web.json_response(status_body(code, reason, message, **details), status=code)

    async def _dispatch(
        self,
        request: web.Request,
        group: str,
        ns: str,
        res: str,
        name: str | None,
        sub: str | None,
        resource: str,
        verb: str,
    ) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._error(401, "Unauthorized", "Unauthorized")
        for fault in self.faults:
            if fault.matches(request.method, resource, verb, name):
                fault.times -= 1
                if fault.delay_s:
                    await asyncio.sleep(fault.delay_s)
                if fault.status:
                    return self._error(fault.status, "InternalError", "injected fault")
                break
        rule = (group, resource, verb)
        if rule in self.denied or (ns == "" and rule in self.denied_cluster_wide):
            gr = f"{res}.{group}" if group else res
            user = "system:serviceaccount:planner:sla-planner"
            return self._error(
                403,
                "Forbidden",
                f'{gr} "{name}" is forbidden: User "{user}" cannot {verb} resource '
                f'"{resource}" in API group "{group}" '
                + (f'in the namespace "{ns}"' if ns else "at the cluster scope"),
                name=name,
                group=group,
                kind=res,
            )
        key = (group, res, ns)
        if ns == "" and res not in CLUSTER_SCOPED and (name is not None or verb != "list"):
            return self._error(404, "NotFound", f"the server could not find {request.path}")
        if verb == "list":
            return self._list(
                key,
                request.query.get("labelSelector", ""),
                request.query.get("fieldSelector", ""),
                api_version=f"{group}/{request.path.split('/')[3]}" if group else "v1",
            )
        if verb == "create":
            body = await request.json()
            created = self.cluster.create(key, body)
            if created is None:
                name = body.get("metadata", {}).get("name")
                return self._error(409, "AlreadyExists", f'{res} "{name}" already exists')
            return web.json_response(created, status=201)
        assert name is not None
        obj = self.cluster.get(key, name)
        if obj is None:
            return self._error(
                404, "NotFound", f'{res}.{group} "{name}" not found', name=name, kind=res
            )
        if sub is not None and sub != "scale":
            return self._error(404, "NotFound", f"no subresource {sub}")
        if verb == "get":
            return web.json_response(self.cluster.scale_of(key, obj) if sub else obj)
        body = await request.json()
        if verb == "patch" and request.content_type != MERGE_PATCH:
            return self._error(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media types "
                f"include: {MERGE_PATCH} (got {request.content_type})",
            )
        if self.conflict_storm:
            n = self._storm_count.get(f"{key}/{name}", 0)
            self._storm_count[f"{key}/{name}"] = n + 1
            if n % 2 == 0:  # another writer touches the object just before us
                self.cluster.touch(key, name)
                obj = self.cluster.get(key, name)
                assert obj is not None
        sent_rv = (body.get("metadata") or {}).get("resourceVersion")
        if sent_rv is not None and str(sent_rv) != obj["metadata"]["resourceVersion"]:
            return self._error(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {res}.{group} "{name}": the object has '
                "been modified; please apply your changes to the latest version and try again",
                name=name,
                kind=res,
            )
        if sub == "scale":
            replicas = int((body.get("spec") or {}).get("replicas", 0))
            updated = self.cluster.set_scale(key, name, replicas)
            return web.json_response(self.cluster.scale_of(key, updated))
        if verb == "patch":
            patched = merge_patch(copy.deepcopy(obj), body)
            return web.json_response(self.cluster.replace(key, name, patched))
        return web.json_response(self.cluster.replace(key, name, body))

    def _list(
        self, key: tuple[str, str, str], selector: str, fields: str, *, api_version: str
    ) -> web.Response:
        group, res, ns = key
        if ns == "" and res not in CLUSTER_SCOPED:  # e.g. /api/v1/pods: every namespace
            objects = [
                o for (g, r, _), b in self.cluster.buckets() if g == group and r == res for o in b
            ]
        else:
            objects = self.cluster.objects(key)
        wanted = dict(part.split("=", 1) for part in selector.split(",") if part)
        items = [
            o
            for o in objects
            if all((o["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())
            and _fields_match(o, fields)
        ]
        kind = _KINDS.get(res, res[:-1].capitalize() + "List")
        return web.json_response(
            {
                "kind": kind,
                "apiVersion": api_version,
                "metadata": {"resourceVersion": str(self.cluster.rv)},
                "items": items,
            }
        )


def _fields_match(obj: dict[str, Any], selector: str) -> bool:
    """A field selector of ``path=value`` / ``path!=value`` terms (e.g. status.phase)."""
    for term in filter(None, selector.split(",")):
        negate = "!=" in term
        path, value = term.split("!=" if negate else "=", 1)
        node: Any = obj
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if (str(node) == value.lstrip("=")) == negate:
            return False
    return True
