"""The virtual target over two files in one folder: target.json (planner writes) and
ack.json (environment writes), each replaced atomically by write-then-rename."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from connectors.errors import EnvironmentIOError
from connectors.virtual.protocol import AckMessage, TargetMessage

TARGET_FILE = "target.json"
ACK_FILE = "ack.json"

log = logging.getLogger(__name__)


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
    """Planner side: publishes target.json, reads ack.json (blocking I/O off the loop).

    A target.json that cannot be parsed is moved aside to ``target.json.corrupt`` (kept
    for a person to look at) and read as absent; the connector then writes its last
    decision again, since the planner owns that file.
    """

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

    def _read_target(self) -> TargetMessage | None:
        path = self.target_path
        try:
            doc = read_json(path)
            return None if doc is None else TargetMessage.from_json(doc, source=str(path))
        except EnvironmentIOError as exc:
            if not path.is_file():
                raise  # a folder or an unreadable path: writing would not help
            corrupt = path.with_name(TARGET_FILE + ".corrupt")
            try:
                os.replace(path, corrupt)
            except OSError as move_exc:
                raise EnvironmentIOError(f"cannot move {path} aside: {move_exc}") from exc
            log.warning("virtual target: %s; moved it to %s", exc, corrupt.name)
            return None

    async def latest_target(self) -> TargetMessage | None:
        return await asyncio.to_thread(self._read_target)

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
