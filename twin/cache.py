"""A cache of loaded Twins keyed by file content, so an unchanged file reloads fast.

Entries are pickles in `$TWIN_CACHE_DIR` (default `~/.cache/community-twin`), named by the
SHA-256 of the file's bytes and the loader version. Written to a temporary file and renamed,
so a crash never leaves half an entry; an unreadable entry is ignored and rewritten.
"""
from __future__ import annotations

import gc
import hashlib
import os
import pickle
from pathlib import Path

from twin.atomic import write_atomically
from twin.errors import OutputError
from twin.model import Twin


def cache_dir() -> Path:
    return Path(os.environ.get("TWIN_CACHE_DIR") or Path.home() / ".cache" / "community-twin")


def content_key(data: bytes, version: str) -> str:
    return hashlib.sha256(version.encode() + b"\0" + data).hexdigest()


def get(key: str) -> Twin | None:
    path = cache_dir() / f"{key}.pickle"
    collecting = gc.isenabled()
    gc.disable()  # unpickling creates many objects and no cycles: the collector only costs time (about 2×)
    try:
        with open(path, "rb") as handle:
            twin = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
        return None
    finally:
        if collecting:
            gc.enable()
    return twin if isinstance(twin, Twin) else None


def put(key: str, twin: Twin) -> None:
    """Store a Twin; failures to write (read-only home, full disk) only cost the speed-up."""
    folder = cache_dir()
    layers, twin._layers = twin._layers, None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomically(folder / f"{key}.pickle", lambda stream: pickle.dump(twin, stream, protocol=pickle.HIGHEST_PROTOCOL), mode=0o600)
    except (OSError, OutputError):
        pass
    finally:
        twin._layers = layers
