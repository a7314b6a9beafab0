"""Benchmark runner: runs each bench_*.py module's ``run() -> dict`` and records results.

Writes out/bench/results.json ({module: result}) and prints one table row per metric.
Only the named modules run when arguments are given (``python -m tests.bench core``).
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

OUT = Path("out/bench")


def _modules(selected: list[str]) -> list[str]:
    here = Path(__file__).parent
    names = sorted(p.stem for p in here.glob("bench_*.py"))
    if selected:
        names = [n for n in names if n.removeprefix("bench_") in selected or n in selected]
    return names


def _rows(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        rows: list[tuple[str, str]] = []
        for k, v in value.items():
            rows.extend(_rows(f"{prefix}.{k}" if prefix else str(k), v))
        return rows
    if isinstance(value, float):
        return [(prefix, f"{value:.6g}")]
    return [(prefix, str(value))]


def main(argv: list[str]) -> int:
    results: dict[str, Any] = {
        "_machine": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "processor": platform.processor(),
            "when_unix_s": time.time(),
        }
    }
    for name in _modules(argv):
        module = importlib.import_module(f"tests.bench.{name}")
        t0 = time.perf_counter()
        results[name] = module.run()
        results[name]["_bench_wall_s"] = round(time.perf_counter() - t0, 3)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    rows = [r for name in results if not name.startswith("_") for r in _rows(name, results[name])]
    width = max((len(k) for k, _ in rows), default=10)
    print(f"{'metric':<{width}}  value")
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print(f"\nwrote {OUT / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
