"""The virtual target over two files in one folder: target.json (planner writes) and
ack.json (environment writes), each replaced atomically by write-then-rename."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from connectors.errors import EnvironmentIOError
from connectors.virtual.protocol import AckMessage, TargetMessage

TARGET_FILE = "target.json"
ACK_FILE = "ack.json"


def write_json_atomic(path: Path, document: dict[str, Any]) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``.

    A reader sees the old document or the new one, never a torn one (rename is atomic
    within a filesystem on POSIX).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(document, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> object | None:
    """The parsed document, or None when the file does not exist yet."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise EnvironmentIOError(f"cannot read {path}: {exc}") from exc
    try:
        doc: object = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EnvironmentIOError(f"{path} is not valid JSON: {exc}") from exc
    return doc


class FilePlannerTransport:
    """Planner side: publishes target.json, reads ack.json (blocking I/O off the loop)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    @property
    def target_path(self) -> Path:
        return self.directory / TARGET_FILE

    @property
    def ack_path(self) -> Path:
        return self.directory / ACK_FILE

    async def publish(self, target: TargetMessage) -> None:
        try:
            await asyncio.to_thread(write_json_atomic, self.target_path, target.to_json())
        except OSError as exc:
            raise EnvironmentIOError(f"cannot write {self.target_path}: {exc}") from exc

    async def latest_target(self) -> TargetMessage | None:
        doc = await asyncio.to_thread(read_json, self.target_path)
        return None if doc is None else TargetMessage.from_json(doc, source=str(self.target_path))

    async def latest_ack(self) -> AckMessage | None:
        doc = await asyncio.to_thread(read_json, self.ack_path)
        return None if doc is None else AckMessage.from_json(doc, source=str(self.ack_path))

    async def close(self) -> None:
        return None


class FileEnvironmentTransport:
    """Environment side of the same two files."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    async def fetch(self) -> TargetMessage | None:
        path = self.directory / TARGET_FILE
        doc = await asyncio.to_thread(read_json, path)
        return None if doc is None else TargetMessage.from_json(doc, source=str(path))

    async def acknowledge(self, ack: AckMessage) -> None:
        path = self.directory / ACK_FILE
        try:
            await asyncio.to_thread(write_json_atomic, path, ack.to_json())
        except OSError as exc:
            raise EnvironmentIOError(f"cannot write {path}: {exc}") from exc

    async def close(self) -> None:
        return None
