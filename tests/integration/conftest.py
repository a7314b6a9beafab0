"""Fixtures shared by the deployment tests: the planner installed from its wheel."""

from __future__ import annotations

import pytest

from tests.integration.installed import Installed, build_wheel, install


@pytest.fixture(scope="session")
def installed_planner(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """This checkout's wheel installed, with its runtime dependencies only, in its own
    venv (tests/integration/installed.py)."""
    return install(build_wheel(tmp_path_factory.mktemp("wheel")))
