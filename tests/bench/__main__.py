"""Bench runner: imports each tests/bench/bench_*.py, calls its ``run() -> dict``, writes
out/bench/results.json and prints a table. ``python -m tests.bench [name ...]``."""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent.parent / "out" / "bench"


def _flatten(prefix: str, value: object, rows: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, rows)
    else:
        rows.append((prefix, f"{value:.4g}" if isinstance(value, float) else str(value)))


def main(argv: list[str]) -> int:
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if argv:
        names = [n for n in names if any(a in n for a in argv)]
    results: dict[str, object] = {}
    for name in names:
        module = importlib.import_module(f"tests.bench.{name}")
        started = time.perf_counter()
        result = module.run()
        result["bench_wall_s"] = round(time.perf_counter() - started, 2)
        results[name.removeprefix("bench_")] = result
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    rows: list[tuple[str, str]] = []
    _flatten("", results, rows)
    width = max((len(k) for k, _ in rows), default=10)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print(f"\nwrote {OUT / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
