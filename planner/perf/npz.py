"""Reading a profile's ``.npz`` archive safely: every way the file can be broken (empty,
truncated, not a zip, a damaged member, pickled objects) becomes a ProfileError in plain
words, never a traceback and never advice to load untrusted data with pickle."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from planner.errors import ProfileError

#: an npz file is a zip archive; these are the signatures a zip file can start with
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")


def _problem(path: Path, what: str) -> ProfileError:
    return ProfileError(str(path), "file", what)


def _check_signature(path: Path) -> None:
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise _problem(path, f"cannot read the file ({exc.strerror or exc})") from exc
    if not head:
        raise _problem(path, "the file is empty: expected an npz archive")
    if head not in _ZIP_SIGNATURES:
        raise _problem(
            path,
            "not an npz archive (it does not start with a zip header); expected the "
            "raw_data.npz that Dynamo's profiler writes",
        )


def load_npz(path: Path) -> dict[str, Any]:
    """Every array of the npz file at ``path``, by name; raises ProfileError."""
    _check_signature(path)
    try:
        # our own handle: np.load leaves its own open when the zip directory is unreadable
        with path.open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except ProfileError:
        raise
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise _problem(
            path,
            f"the npz archive is damaged or truncated ({exc}); copy or regenerate the profile",
        ) from exc
    except ValueError as exc:
        if "pickle" in str(exc):
            # object arrays are not profile data, and loading them would run code
            raise _problem(path, "holds Python objects (pickled data), not numeric arrays") from exc
        raise _problem(path, f"cannot read the npz archive ({exc})") from exc
    except OSError as exc:
        raise _problem(path, f"cannot read the file ({exc.strerror or exc})") from exc
