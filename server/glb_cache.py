"""GLB files of states, generated once and kept in the instance folder, so a repeat is a file send.

One file per (project, state, diff base) and fingerprint of everything it is made from
(server.twins: source files and twin code); the fingerprint is also the HTTP ETag. A file is
written to a temporary name and renamed, so a crash never leaves half a GLB to be served,
and older files of the same (project, state, diff base) are removed once the new one is in.
Concurrent requests for a GLB being generated wait for it rather than generate it again.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from twin.export import encode_glb
from twin.project import Project

from server.twins import StateStore


@dataclass(frozen=True)
class CachedGlb:
    path: Path
    etag: str
    generated: bool
    """True when this call generated the file, False when it was already there."""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:48] or "_"


class GlbCache:
    """GLB files of states in `folder` (the app's instance folder / glb)."""

    def __init__(self, folder: Path, states: StateStore) -> None:
        self.folder = Path(folder)
        self.states = states
        self._locks: dict[Path, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, project: Project, state: str, *, diff_base: str | None = None) -> CachedGlb:
        """The GLB of `state` coloured by class, or by diff status against `diff_base` with the
        elements removed since it drawn as ghosts; generated if not cached yet."""
        fingerprint = self.states.fingerprint(project, state)
        if diff_base is not None:
            fingerprint += self.states.fingerprint(project, diff_base)
        etag = hashlib.sha256(f"{fingerprint}|{diff_base}".encode()).hexdigest()[:32]
        variant = f"{state}|diff={diff_base}"
        stem = (_slug(state) + (f".diff-{_slug(diff_base)}" if diff_base else "")
                + "-" + hashlib.sha1(variant.encode()).hexdigest()[:8])
        folder = self.folder / f"{_slug(project.name)}-{hashlib.sha1(str(project.root).encode()).hexdigest()[:8]}"
        path = folder / f"{stem}-{etag}.glb"
        if path.exists():
            return CachedGlb(path=path, etag=etag, generated=False)
        with self._lock:
            lock = self._locks.setdefault(path, threading.Lock())
        with lock:
            if path.exists():
                return CachedGlb(path=path, etag=etag, generated=False)
            data = self._encode(project, state, diff_base)
            folder.mkdir(parents=True, exist_ok=True)
            _write_atomically(path, data)
            for stale in folder.glob(f"{stem}-*.glb"):
                if stale != path:
                    stale.unlink(missing_ok=True)
        with self._lock:
            self._locks.pop(path, None)
        return CachedGlb(path=path, etag=etag, generated=True)

    def _encode(self, project: Project, state: str, diff_base: str | None) -> bytes:
        twin = self.states.twin(project, state)
        if diff_base is None:
            data, _ = encode_glb(twin, colour_by="class")
        else:
            base = self.states.twin(project, diff_base)
            diff = self.states.diff(project, diff_base, state)
            data, _ = encode_glb(twin, diff=diff, colour_by="diff", removed_from=base)
        return data


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".glb")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
