"""Entry point: builds the argparse tree from command modules and maps errors to exit codes.

Each command module exposes ``register(subparsers)`` and keeps heavy imports inside its
handler, so ``sla-planner --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from planner.errors import PlannerError

#: command modules, in the order --help lists them
COMMAND_MODULES = (
    "planner.cli.plan",
    "planner.cli.profile",
    "planner.cli.run",
    "planner.cli.simulate",
    "planner.cli.backtest",
    "planner.cli.history",
)


def version() -> str:
    """The installed package's version (``unknown`` when run from a bare checkout)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("sla-planner")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sla-planner",
        description="SLA-driven autoscaler for disaggregated LLM inference.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.handler(args)
    except PlannerError as exc:
        print(f"sla-planner: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
