"""`make deploy-check`: every overlay renders (kubectl when present, and the in-test
renderer always), validates against the Kubernetes schemas offline, grants exactly the
RBAC the connector calls, runs non-root, and its alerts and dashboard use real metrics."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.kubernetes.rbac import required_rbac
from planner.perf.profile import DEFAULT_PROFILE_DIR, load_profile
from planner.settings import PlannerSettings, load_settings
from tests.integration.kustomize_lite import Doc, by_identity, render

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
OVERLAYS = sorted(p.name for p in (DEPLOY / "overlays").iterdir() if p.is_dir())
K8S_VERSION = "1.30"
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
#: the series the planner service exports (issue 6) plus the connector's own
EXPORTED = {
    "sla_planner_ticks_total",
    "sla_planner_tick_errors_total",
    "sla_planner_desired_replicas",
    "sla_planner_current_replicas",
    "sla_planner_decisions_total",
    "sla_planner_metrics_missing_total",
    "sla_planner_tick_duration_seconds",
    "sla_planner_correction_factor",
    "sla_planner_prefill_pressure",
    "sla_planner_gpu_hours_total",
    "sla_planner_connector_errors_total",
    "sla_planner_leader",
    "sla_planner_connector_calls_total",
    "sla_planner_connector_call_duration_seconds",
}


def kubectl_render(overlay: Path) -> list[Doc] | None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None
    out = subprocess.run(
        [kubectl, "kustomize", str(overlay)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> tuple[str, dict[tuple[str, str], Doc]]:
    return request.param, by_identity(render(DEPLOY / "overlays" / request.param))


def _settings(docs: dict[tuple[str, str], Doc], tmp_path: Path) -> PlannerSettings:
    cm = docs[("ConfigMap", "sla-planner-config")]
    path = tmp_path / "settings.yaml"
    path.write_text(cm["data"]["settings.yaml"])
    profile = tmp_path / "profile.json"
    profile.write_text(cm["data"]["profile.json"])
    return load_settings(config_file=path, overrides={"profile": str(profile)})


def test_overlays_exist() -> None:
    """Both shipped overlays (Dynamo graph, plain vLLM) are present."""
    assert {"dynamo", "vllm"} <= set(OVERLAYS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kubectl_and_lite_renderer_agree(overlay: str) -> None:
    """Where kubectl exists, `kubectl kustomize` and the in-test renderer give the same
    objects (so the checks below hold for what users apply)."""
    theirs = kubectl_render(DEPLOY / "overlays" / overlay)
    if theirs is None:
        pytest.skip("kubectl not installed; the in-test renderer alone is checked")
    assert by_identity(theirs) == by_identity(render(DEPLOY / "overlays" / overlay))


def test_core_kinds_validate_against_schemas(
    rendered: tuple[str, dict[tuple[str, str], Doc]],
) -> None:
    """Every core object validates (strict) against the Kubernetes OpenAPI schema."""
    import kubernetes_validate

    _, docs = rendered
    core = [d for d in docs.values() if d["kind"] not in CRD_KINDS]
    assert {d["kind"] for d in core} >= {
        "ServiceAccount",
        "Role",
        "RoleBinding",
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

    docs = by_identity(render(DEPLOY / "overlays" / OVERLAYS[0]))
    bad: Any = json.loads(json.dumps(docs[("Deployment", "sla-planner")]))
    bad["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFS"] = True
    with pytest.raises(ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_crds_have_required_fields(rendered: tuple[str, dict[tuple[str, str], Doc]]) -> None:
    """ServiceMonitor selects the Service on a named port; every PrometheusRule rule is
    an alert with an expression, a duration, a severity and a summary."""
    _, docs = rendered
    service = docs[("Service", "sla-planner")]
    sm = docs[("ServiceMonitor", "sla-planner")]
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    labels = service["metadata"]["labels"]
    assert sm["spec"]["selector"]["matchLabels"].items() <= labels.items()
    ports = {p["name"] for p in service["spec"]["ports"]}
    assert all(ep["port"] in ports and ep["path"] == "/metrics" for ep in sm["spec"]["endpoints"])
    rule = docs[("PrometheusRule", "sla-planner")]
    alerts = [r for g in rule["spec"]["groups"] for r in g["rules"]]
    for a in alerts:
        assert a["alert"] and a["expr"] and a["for"], a
        assert a["labels"]["severity"] in ("critical", "warning")
        assert a["annotations"]["summary"]
    names = {a["alert"] for a in alerts}
    assert {
        "SlaPlannerDown",
        "SlaPlannerTicksFailing",
        "SlaPlannerBudgetClampedForLong",
        "SlaPlannerMetricsMissing",
    } <= names


def test_role_grants_exactly_what_the_connector_calls(
    rendered: tuple[str, dict[tuple[str, str], Doc]], tmp_path: Path
) -> None:
    """The Role's (group, resource, verb) set equals connectors.kubernetes.rbac's
    required_rbac for the overlay's own settings; Lease get/update name the lease."""
    _, docs = rendered
    settings = _settings(docs, tmp_path)
    k = settings.connector.kubernetes
    assert settings.connector.kind == "kubernetes" and k is not None
    want = required_rbac(
        target=k.target,
        scaling_adapters=k.scaling_adapters,
        leader_election=k.leader_election.enabled,
    )
    granted: set[tuple[str, str, str]] = set()
    for rule in docs[("Role", "sla-planner")]["rules"]:
        assert "nonResourceURLs" not in rule and "*" not in str(rule), rule
        for g in rule["apiGroups"]:
            for r in rule["resources"]:
                for v in rule["verbs"]:
                    granted.add((g, r, v))
                    if r == "leases" and v in ("get", "update"):
                        assert rule["resourceNames"] == [k.leader_election.lease_name]
    assert granted == {(r.group, r.resource, r.verb) for r in want}
    binding = docs[("RoleBinding", "sla-planner")]
    assert binding["roleRef"]["name"] == "sla-planner"
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": "sla-planner",
            "namespace": docs[("Role", "sla-planner")]["metadata"]["namespace"],
        }
    ]


def test_pod_runs_non_root_read_only_with_probes(
    rendered: tuple[str, dict[tuple[str, str], Doc]],
) -> None:
    """The planner pod runs as a non-root user with a read-only root filesystem, no
    capabilities and no privilege escalation, with probes on /healthz and /readyz at
    9085, resource requests and limits, two replicas and its leader identity."""
    _, docs = rendered
    dep = docs[("Deployment", "sla-planner")]
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
    assert {p["name"]: p["containerPort"] for p in c["ports"]}["http"] == 9085
    assert c["resources"]["requests"] and c["resources"]["limits"]
    assert c["args"] == ["run", "--config", "/etc/sla-planner/settings.yaml"]
    assert {e["name"] for e in c["env"]} >= {"POD_NAME"}


def test_dockerfile_is_multistage_pinned_and_non_root() -> None:
    """The image builds in stages from an exact base tag and runs as a numeric non-root
    user (what runAsNonRoot needs to verify)."""
    text = (DEPLOY / "Dockerfile").read_text()
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert len(froms) >= 2
    for image in froms:
        assert re.search(r"(:\d+\.\d+\.\d+[\w.-]*|@sha256:[0-9a-f]{64})$", image), image
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1].split(":")[0].isdigit() and users[-1].split(":")[0] != "0"
    assert "EXPOSE 9085" in text


def test_config_map_settings_load_and_profile_is_the_shipped_one(
    rendered: tuple[str, dict[tuple[str, str], Doc]], tmp_path: Path
) -> None:
    """The ConfigMap's settings load through the real settings loader, point at the
    mounted profile, and the profile is byte-identical to the shipped one."""
    _, docs = rendered
    cm = docs[("ConfigMap", "sla-planner-config")]
    raw = yaml.safe_load(cm["data"]["settings.yaml"])
    assert raw["profile"] == "/etc/sla-planner/profile.json"
    assert cm["data"]["profile.json"] == (DEFAULT_PROFILE_DIR / "profile.json").read_text()
    settings = _settings(docs, tmp_path)
    load_profile(settings.profile)


def _metric_names(expr: str) -> set[str]:
    names = set(re.findall(r"\bsla_planner_[a-z_]+", expr))
    return {re.sub(r"_(bucket|sum|count)$", "", n) for n in names}


def test_alerts_and_dashboard_use_exported_metrics() -> None:
    """Every sla_planner_* series named in the alerts and the dashboard is one the
    planner exports (histogram suffixes allowed)."""
    rule = by_identity(render(DEPLOY / "overlays" / OVERLAYS[0]))[("PrometheusRule", "sla-planner")]
    exprs = [r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]]
    dashboard = json.loads((DEPLOY / "grafana" / "sla-planner-dashboard.json").read_text())
    exprs += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = set().union(*(_metric_names(e) for e in exprs))
    assert used <= EXPORTED, used - EXPORTED
    assert {"sla_planner_leader", "sla_planner_desired_replicas"} <= used


def test_alert_rules_pass_promtool(tmp_path: Path) -> None:
    """promtool (Prometheus' own checker) accepts the alert rules' syntax."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (apt-get install prometheus)")
    rule = by_identity(render(DEPLOY / "overlays" / OVERLAYS[0]))[("PrometheusRule", "sla-planner")]
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    out = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr
