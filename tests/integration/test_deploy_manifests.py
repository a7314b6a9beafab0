"""`make deploy-check`: every overlay renders with the real `kubectl kustomize`, validates
against the Kubernetes schemas offline, grants exactly the RBAC the connector calls
(read-only for the advisory overlay), runs non-root, mounts a hash-named settings
ConfigMap, and its settings are what a deployed pod needs: the real metrics source and
a listen address the probes reach."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.kubernetes.rbac import READ_VERBS, required_cluster_rbac, required_rbac
from planner.perf.profile import DEFAULT_PROFILE_DIR
from planner.settings import PlannerSettings, load_settings
from tests.integration.kustomize import DEPLOY, OVERLAYS, Doc, one, render
from tests.integration.pod_spec import config_map, pod_run

K8S_VERSION = "1.30"
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
CONFIG_PATH = "/etc/sla-planner/settings.yaml"


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[Doc]]:
    return request.param, render(DEPLOY / "overlays" / request.param)


def _settings(docs: list[Doc], tmp_path: Path) -> PlannerSettings:
    """The settings the pod loads: its ConfigMap's files at their mount path, read
    through the real loader, as `run --config` does."""
    run = pod_run(docs)
    args = run.materialize(tmp_path)
    return load_settings(config_file=args[args.index("--config") + 1])


def test_overlays_exist() -> None:
    """The shipped overlays: a Dynamo graph, plain vLLM Deployments, advisory mode."""
    assert {"dynamo", "vllm", "advisory"} <= set(OVERLAYS)


def test_config_map_name_carries_a_content_hash(rendered: tuple[str, list[Doc]]) -> None:
    """The generated ConfigMap's name ends in a hash of its content and the Deployment
    mounts that name, so changing the settings rolls the pods."""
    _, docs = rendered
    name = config_map(docs)["metadata"]["name"]
    assert re.fullmatch(r"sla-planner-config-[a-z0-9]{10}", name), name
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert {"name": "config", "configMap": {"name": name}} in pod["volumes"]
    assert set(pod_run(docs).files) == {CONFIG_PATH}


def test_core_kinds_validate_against_schemas(rendered: tuple[str, list[Doc]]) -> None:
    """Every core object validates (strict) against the Kubernetes OpenAPI schema."""
    import kubernetes_validate

    _, docs = rendered
    core = [d for d in docs if d["kind"] not in CRD_KINDS]
    assert {d["kind"] for d in core} >= {
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Service",
        "ConfigMap",
        "PodDisruptionBudget",
    }
    for doc in core:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_schema_validation_catches_a_typo() -> None:
    """The validator used above rejects an unknown field (so the check can fail)."""
    import kubernetes_validate
    from kubernetes_validate.utils import ValidationError

    bad: Any = json.loads(json.dumps(one(render(DEPLOY / "overlays" / "dynamo"), "Deployment")))
    bad["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFS"] = True
    with pytest.raises(ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_settings_are_what_a_deployed_pod_needs(
    rendered: tuple[str, list[Doc]], tmp_path: Path
) -> None:
    """The pod's settings read the real Prometheus (not the built-in emulated graph, not
    loopback), listen on every address at the port the probes and the Service use, name
    a Kubernetes target, and leave the profile to the one packaged in the image."""
    name, docs = rendered
    s = _settings(docs, tmp_path)
    assert s.metrics.source == "prometheus"
    assert not re.match(r"https?://(127\.|localhost)", s.metrics.url), s.metrics.url
    assert s.metrics.preset == ("vllm" if name == "vllm" else "dynamo")
    assert s.service.host == "0.0.0.0"
    run = pod_run(docs)
    assert s.service.port == run.ports["http"] == 9085
    assert s.connector.kind == "kubernetes" and s.connector.kubernetes is not None
    assert s.profile == DEFAULT_PROFILE_DIR
    assert s.service.advisory is (name == "advisory")
    namespace = one(docs, "Deployment")["metadata"]["namespace"]
    assert f'namespace="{namespace}"' in s.metrics.extra_filters


def test_role_grants_exactly_what_the_connector_calls(
    rendered: tuple[str, list[Doc]], tmp_path: Path
) -> None:
    """The Role's (group, resource, verb) set equals connectors.kubernetes.rbac's
    required_rbac for the overlay's own settings (reads only when advisory); Lease
    get/update name the lease; the ClusterRole holds only the capacity's list rules."""
    name, docs = rendered
    settings = _settings(docs, tmp_path)
    k = settings.connector.kubernetes
    assert k is not None
    want = required_rbac(
        target=k.target,
        scaling_adapters=k.scaling_adapters,
        leader_election=k.leader_election.enabled,
        writes=not settings.service.advisory,
        cluster_capacity=k.cluster_capacity,
    )
    granted: set[tuple[str, str, str]] = set()
    for rule in one(docs, "Role")["rules"]:
        assert "nonResourceURLs" not in rule and "*" not in str(rule), rule
        for g in rule["apiGroups"]:
            for r in rule["resources"]:
                for v in rule["verbs"]:
                    granted.add((g, r, v))
                    if r == "leases" and v in ("get", "update"):
                        assert rule["resourceNames"] == [k.leader_election.lease_name]
    assert granted == {(r.group, r.resource, r.verb) for r in want}
    if name == "advisory":
        assert {v for _, _, v in granted} <= READ_VERBS
    _cluster_role_grants_only_the_capacity_reads(docs, cluster_capacity=k.cluster_capacity)
    binding = one(docs, "RoleBinding")
    assert binding["roleRef"]["name"] == "sla-planner"
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": "sla-planner",
            "namespace": one(docs, "Role")["metadata"]["namespace"],
        }
    ]


def _cluster_role_grants_only_the_capacity_reads(
    docs: list[Doc], *, cluster_capacity: bool
) -> None:
    """The ClusterRole's rules equal required_cluster_rbac (list only, nothing written),
    bound to the planner's service account by a binding named after its namespace."""
    want = {
        (r.group, r.resource, r.verb)
        for r in required_cluster_rbac(cluster_capacity=cluster_capacity)
    }
    roles = [d for d in docs if d["kind"] == "ClusterRole"]
    granted = {
        (g, r, v)
        for role in roles
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }
    assert granted == want
    assert {v for _, _, v in granted} <= {"list"}
    if not want:
        return
    namespace = one(docs, "Role")["metadata"]["namespace"]
    binding = one(docs, "ClusterRoleBinding")
    assert binding["metadata"]["name"] == f"sla-planner-capacity-{namespace}"
    assert binding["roleRef"]["name"] == roles[0]["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "sla-planner", "namespace": namespace}
    ]


def test_pod_runs_non_root_read_only_with_probes(rendered: tuple[str, list[Doc]]) -> None:
    """The planner pod runs as a non-root user with a read-only root filesystem, no
    capabilities and no privilege escalation, with probes on /healthz and /readyz at
    9085, resource requests and limits, two replicas and its leader identity."""
    _, docs = rendered
    dep = one(docs, "Deployment")
    pod = dep["spec"]["template"]["spec"]
    assert dep["spec"]["replicas"] >= 2
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["serviceAccountName"] == "sla-planner"
    (c,) = pod["containers"]
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["resources"]["requests"] and c["resources"]["limits"]
    run = pod_run(docs)
    assert run.args == ("run", "--config", CONFIG_PATH)
    assert run.field_env == {"POD_NAME": "metadata.name"}


def test_dockerfile_is_multistage_pinned_and_non_root() -> None:
    """The image builds in stages from a base pinned to an exact tag by default, installs
    the package (profiles inside it) and nothing else from the source tree, and runs as
    a numeric non-root user (what runAsNonRoot needs to verify)."""
    text = (DEPLOY / "Dockerfile").read_text()
    (base,) = re.findall(r"^ARG BASE=(\S+)", text, re.M)
    assert re.search(r"(:\d+\.\d+\.\d+[\w.-]*|@sha256:[0-9a-f]{64})$", base), base
    assert re.findall(r"^FROM\s+(\S+)", text, re.M) == ["${BASE}", "${BASE}"]
    assert "/opt/sla-planner/profiles" not in text  # the profile ships in the package
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1].split(":")[0].isdigit() and users[-1].split(":")[0] != "0"
    assert "EXPOSE 9085" in text
    assert re.search(r'^ENTRYPOINT \["sla-planner"\]', text, re.M)


def test_keda_and_hpa_examples(tmp_path: Path) -> None:
    """The HPA example validates strictly against the autoscaling/v2 schema; the KEDA
    ScaledObject and the prometheus-adapter rule read the desired replicas once (max,
    never sum, over the planner's replicas), one component per object, at one replica
    per unit of the metric."""
    import kubernetes_validate

    examples = DEPLOY / "examples"
    hpa = yaml.safe_load((examples / "hpa-external.yaml").read_text())
    kubernetes_validate.validate(hpa, K8S_VERSION, strict=True)
    (metric,) = hpa["spec"]["metrics"]
    assert metric["external"]["metric"]["name"] == "sla_planner_desired_replicas"
    assert metric["external"]["target"] == {"type": "AverageValue", "averageValue": "1"}
    so = yaml.safe_load((examples / "keda-scaledobject.yaml").read_text())
    assert so["apiVersion"] == "keda.sh/v1alpha1" and so["kind"] == "ScaledObject"
    assert so["spec"]["scaleTargetRef"] == hpa["spec"]["scaleTargetRef"]
    (trigger,) = so["spec"]["triggers"]
    meta = trigger["metadata"]
    assert trigger["type"] == "prometheus" and meta["threshold"] == "1"
    assert meta["query"].startswith("max by (component) (sla_planner_desired_replicas{")
    assert 'component="decode"' in meta["query"] and "sum" not in meta["query"]
    adapter = yaml.safe_load((examples / "prometheus-adapter-rules.yaml").read_text())
    (rule,) = adapter["externalRules"]
    assert rule["metricsQuery"].startswith("max(<<.Series>>")
