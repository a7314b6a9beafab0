"""Starts Debian's real ``prometheus`` on 127.0.0.1 with a generated config and a temporary
storage folder; tests that need it are marked ``prometheus`` and fail (not skip) in CI."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import BinaryIO

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prometheus_binary() -> str:
    """The binary's path; skips locally but FAILS under CI when it is missing."""
    path = shutil.which("prometheus")
    if path is None:
        msg = (
            "prometheus is not installed (apt-get install prometheus; scripts/ensure-prometheus.sh)"
        )
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path


class PrometheusProcess:
    """One prometheus server scraping ``targets`` every ``scrape_s`` seconds."""

    def __init__(self, *, workdir: Path, targets: list[str], scrape_s: float) -> None:
        self.binary = prometheus_binary()
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        ms = max(1, round(scrape_s * 1000))
        config = workdir / "prometheus.yml"
        config.write_text(
            "global:\n"
            f"  scrape_interval: {ms}ms\n"
            f"  evaluation_interval: {ms}ms\n"
            "scrape_configs:\n"
            "  - job_name: emulated-graph\n"
            f"    scrape_timeout: {ms}ms\n"
            f"    static_configs:\n      - targets: [{', '.join(repr(t) for t in targets)}]\n"
        )
        self.config = config
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: BinaryIO | None = None

    def start(self, *, timeout_s: float = 20.0) -> None:
        self._log = log = (self.workdir / "prometheus.log").open("ab")
        self.proc = subprocess.Popen(
            [
                self.binary,
                f"--config.file={self.config}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"prometheus not ready in {timeout_s}s: {self.log_tail()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self) -> str:
        p = self.workdir / "prometheus.log"
        return p.read_text()[-2000:] if p.exists() else ""
