"""The code's shape: the decision core imports on its own (no web, Kubernetes, plotting
or forecasting libraries), there are no import cycles between modules or packages,
core modules stay under 300 lines, and connectors never read the planner's settings."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("aiohttp", "kubernetes_asyncio", "matplotlib", "statsmodels", "prophet")


def test_the_core_imports_without_heavy_libraries() -> None:
    """Importing the core and running one plan() loads none of aiohttp,
    kubernetes_asyncio, matplotlib, statsmodels or prophet (a fresh interpreter)."""
    code = (
        "import sys\n"
        "from planner.core import plan, PlannerState\n"
        "from planner.core.config import PolicyConfig\n"
        "from planner.core.settings import PolicySettings\n"
        "from planner.perf.model import PerfModel\n"
        "from planner.perf.profile import DEFAULT_PROFILE_DIR, load_profile\n"
        "from tests.core_cases import forecast, window\n"
        "perf = PerfModel(load_profile(DEFAULT_PROFILE_DIR))\n"
        "cfg = PolicyConfig(settings=PolicySettings(), perf=perf)\n"
        "plan(window(10.0), forecast(10.0), PlannerState(), cfg, now=60.0)\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for top in ("planner", "connectors"):
        for path in (REPO / top).rglob("*.py"):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(path: Path) -> set[str]:
    """Every planner/connectors module imported anywhere in the file (lazy imports too),
    except under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _graph(unit: dict[str, str]) -> dict[str, set[str]]:
    mods = _modules()

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in mods.items():
        for imported in _imports(path):
            target = resolve(imported)
            if target is None:
                continue
            a, b = unit.get(name, name), unit.get(target, target)
            if a != b and not a.startswith(b + "."):
                graph[a].add(b)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_between_modules() -> None:
    """No two modules import each other, directly or through others (lazy imports
    count: they are cycles waiting for the first call)."""
    assert _cycles(_graph({})) == []


def test_no_import_cycle_between_packages() -> None:
    """No two packages import each other (a plain module at the top of planner/ or
    connectors/ counts as its own unit)."""
    mods = _modules()
    unit = {}
    for name, path in mods.items():
        parent = name.rpartition(".")[0]
        is_pkg = path.name == "__init__.py"
        unit[name] = name if is_pkg or parent in ("planner", "connectors", "") else parent
    assert _cycles(_graph(unit)) == []


def test_core_modules_stay_small() -> None:
    """Every module of the decision core is at most 300 lines."""
    big = {
        p.name: n
        for p in (REPO / "planner" / "core").glob("*.py")
        if (n := len(p.read_text().splitlines())) > 300
    }
    assert big == {}


def test_connectors_do_not_read_the_planner_settings_tree() -> None:
    """connectors/ owns its settings (connectors/settings.py) and never imports
    planner.settings."""
    offenders = [
        str(p.relative_to(REPO))
        for p in (REPO / "connectors").rglob("*.py")
        if any(i == "planner.settings" or i.startswith("planner.settings.") for i in _imports(p))
    ]
    assert offenders == []


def test_the_cycle_finder_finds_cycles() -> None:
    """The detector itself: a -> b -> c -> a is one cycle, d -> a is not part of it."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
