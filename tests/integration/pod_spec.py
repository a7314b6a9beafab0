"""What the planner's pod runs, read off rendered manifests the way the kubelet reads
them: the container's args and env, and the files its ConfigMap volumes put at their
mount paths. ``materialize`` lays those files out under a folder, so a test can run the
same command line on this machine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tests.integration.kustomize import Doc, by_kind, one


@dataclass(frozen=True, slots=True)
class PodRun:
    """One container of the rendered Deployment."""

    replicas: int
    command: tuple[str, ...]
    args: tuple[str, ...]
    #: env entries with a literal value
    env: dict[str, str]
    #: env entries from the downward API: name -> field path (e.g. metadata.name)
    field_env: dict[str, str]
    #: absolute path in the pod -> content, for every ConfigMap key mounted
    files: dict[str, str]
    ports: dict[str, int]

    def materialize(self, root: Path) -> tuple[str, ...]:
        """Write the mounted files under ``root`` and return the args; a mount path named
        in the args or inside a mounted file (a settings file naming another mounted
        file) is rewritten to its copy under ``root``."""
        mounts = sorted({str(PurePosixPath(p).parent) for p in self.files}, key=len, reverse=True)

        def local(text: str) -> str:
            for mount in mounts:
                text = text.replace(mount + "/", f"{root}{mount}/")
            return text

        for pod_path, text in self.files.items():
            path = root / pod_path.lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(local(text))
        return tuple(local(a) for a in self.args)


def pod_run(docs: list[Doc], *, deployment: str = "sla-planner") -> PodRun:
    """The planner container of ``deployment`` in ``docs`` (rendered manifests).

    Raises AssertionError for what the rehearsal cannot reproduce (an env source other
    than a literal or the downward API, a volume that is not a ConfigMap or emptyDir),
    so a manifest change that needs it is noticed.
    """
    (dep,) = [d for d in by_kind(docs)["Deployment"] if d["metadata"]["name"] == deployment]
    pod = dep["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    config_maps = {d["metadata"]["name"]: d for d in by_kind(docs).get("ConfigMap", [])}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    files: dict[str, str] = {}
    for mount in container.get("volumeMounts", []):
        vol = volumes[mount["name"]]
        if "emptyDir" in vol:
            continue
        assert "configMap" in vol, f"volume {vol} is not a ConfigMap or emptyDir"
        cm = config_maps[vol["configMap"]["name"]]  # KeyError: a dangling reference
        for key, text in cm.get("data", {}).items():
            files[str(PurePosixPath(mount["mountPath"]) / key)] = text
    env: dict[str, str] = {}
    field_env: dict[str, str] = {}
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        else:
            ref = entry["valueFrom"]["fieldRef"]  # KeyError: not reproducible here
            field_env[entry["name"]] = ref["fieldPath"]
    return PodRun(
        replicas=int(dep["spec"].get("replicas", 1)),
        command=tuple(container.get("command", ())),
        args=tuple(container.get("args", ())),
        env=env,
        field_env=field_env,
        files=files,
        ports={p["name"]: p["containerPort"] for p in container.get("ports", [])},
    )


def config_map(docs: list[Doc]) -> Doc:
    """The settings ConfigMap (its generated name carries a content hash)."""
    return one(docs, "ConfigMap")
