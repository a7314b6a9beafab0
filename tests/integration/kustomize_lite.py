"""A small kustomize renderer for the features deploy/ uses (resources, labels, namespace,
configMapGenerator with merge, JSON 6902 patches), so the manifests are checked where
kubectl is absent; where kubectl exists the tests compare both renderings."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Doc = dict[str, Any]
#: kinds deploy/ uses that are cluster-scoped (none today; kept explicit)
CLUSTER_SCOPED: frozenset[str] = frozenset({"Namespace", "ClusterRole", "ClusterRoleBinding"})


class KustomizeLiteError(Exception):
    """A kustomization uses something this renderer does not implement."""


def _pointer(path: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in path.lstrip("/").split("/")]


def json6902(doc: Doc, ops: list[Doc]) -> Doc:
    out = copy.deepcopy(doc)
    for op in ops:
        parts = _pointer(op["path"])
        parent: Any = out
        for p in parts[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent[p]
        last = parts[-1]
        kind = op["op"]
        if isinstance(parent, list):
            if kind == "add":
                idx = len(parent) if last == "-" else int(last)
                parent.insert(idx, copy.deepcopy(op["value"]))
            elif kind == "replace":
                parent[int(last)] = copy.deepcopy(op["value"])
            elif kind == "remove":
                del parent[int(last)]
            else:
                raise KustomizeLiteError(f"json6902 op {kind!r} not supported")
        elif kind in ("add", "replace"):
            parent[last] = copy.deepcopy(op["value"])
        elif kind == "remove":
            del parent[last]
        else:
            raise KustomizeLiteError(f"json6902 op {kind!r} not supported")
    return out


def _matches(doc: Doc, target: Doc) -> bool:
    if "kind" in target and doc.get("kind") != target["kind"]:
        return False
    return "name" not in target or doc["metadata"]["name"] == target["name"]


def _config_map(directory: Path, gen: Doc) -> Doc:
    data = {}
    for entry in gen.get("files", []):
        key, _, rel = entry.partition("=") if "=" in entry else (Path(entry).name, "", entry)
        data[key] = (directory / rel).read_text()
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": gen["name"]},
        "data": data,
    }


def render(directory: Path) -> list[Doc]:
    """The kustomization in ``directory``, rendered."""
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text())
    known = {
        "apiVersion",
        "kind",
        "resources",
        "labels",
        "namespace",
        "patches",
        "configMapGenerator",
        "generatorOptions",
    }
    unknown = set(spec) - known
    if unknown:
        raise KustomizeLiteError(f"{directory}: unsupported fields {sorted(unknown)}")
    options = spec.get("generatorOptions")
    if options is not None and not options.get("disableNameSuffixHash", False):
        raise KustomizeLiteError("generated names with hash suffixes are not supported")
    docs: list[Doc] = []
    for res in spec.get("resources", []):
        path = directory / res
        if path.is_dir():
            docs.extend(render(path))
        else:
            docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    for gen in spec.get("configMapGenerator", []):
        behavior = gen.get("behavior", "create")
        new = _config_map(directory, gen)
        existing = [d for d in docs if d["kind"] == "ConfigMap" and _matches(d, gen)]
        if behavior == "create":
            if existing:
                raise KustomizeLiteError(f"ConfigMap {gen['name']} already exists")
            docs.append(new)
        elif behavior == "merge":
            existing[0]["data"].update(new["data"])
        elif behavior == "replace":
            existing[0]["data"] = new["data"]
        else:
            raise KustomizeLiteError(f"configMapGenerator behavior {behavior!r}")
    for patch in spec.get("patches", []):
        ops = yaml.safe_load((directory / patch["path"]).read_text())
        if not isinstance(ops, list):
            raise KustomizeLiteError("only JSON 6902 patches (a list of ops) are supported")
        docs = [json6902(d, ops) if _matches(d, patch["target"]) else d for d in docs]
    for label in spec.get("labels", []):
        if label.get("includeSelectors") or label.get("includeTemplates"):
            raise KustomizeLiteError("labels with includeSelectors/includeTemplates")
        for d in docs:
            d["metadata"].setdefault("labels", {}).update(label["pairs"])
    ns = spec.get("namespace")
    if ns:
        for d in docs:
            if d["kind"] not in CLUSTER_SCOPED:
                d["metadata"]["namespace"] = ns
            if d["kind"] in ("RoleBinding", "ClusterRoleBinding"):
                for s in d.get("subjects", []):
                    if s.get("kind") == "ServiceAccount":
                        s["namespace"] = ns
    return docs


def by_identity(docs: list[Doc]) -> dict[tuple[str, str], Doc]:
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}
