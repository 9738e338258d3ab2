"""Write a file whole or not at all: into a temporary file beside it, then rename over it.

Every output of the twin (GLB, PNG, cache entries, reports) goes through here, so a crash,
a full disk or a bad element never leaves half a file where a reader expects a whole one.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

from twin.errors import OutputError


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], None], *, mode: int = 0o644) -> Path:
    """Call write(stream) on a temporary file in path's folder, then rename it to `path`.

    Raises OutputError naming the path when the folder is missing or the disk refuses; any
    other exception from `write` propagates, and nothing is left behind in either case.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)  # mkstemp makes files private; outputs are shared and served
        os.replace(temporary, path)
    except BaseException as exc:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
        raise
    return path
