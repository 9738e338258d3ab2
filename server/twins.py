"""Loaded states, kept in a small in-process LRU and reloaded when one of their files changes.

A state is loaded on first request (never at import or app creation) through
`twin.project.load_state` with the content cache, so a server restart reloads a state in a
fraction of the first load. Requests run on several waitress threads: a per-state lock makes
concurrent requests for a state that is not loaded yet wait for one load instead of each
starting its own. What is derived from a loaded state (its layers, its diff against another
state, its GeoJSON) is computed once per loaded state and kept with it (`StateStore.memo`).

A state's fingerprint is a digest of the size and mtime of every file it is built from
(project.toml, its IFC or actions file and, for actions, its base state's files, the CIM
context) and of the twin package's source files, so an edited model or a changed loader
gives a new fingerprint: the LRU reloads it and the GLB cache (server.glb_cache) regenerates.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

import twin as twin_package
from twin.diff import TwinDiff, diff_twins
from twin.errors import TwinError
from twin.model import Twin
from twin.project import Project, load_state

from server.catalog import file_stamp

DEFAULT_CAPACITY = 4
"""States kept loaded: a project's baseline and a few proposals (each a few tens of MB)."""


def code_stamps() -> list[tuple | None]:
    """Size and mtime of the twin package's modules: a changed loader or exporter changes
    every fingerprint, so no GLB made by old code is served after an upgrade."""
    folder = Path(twin_package.__file__).parent
    return [file_stamp(path) for path in sorted(folder.glob("*.py"))]


def state_sources(project: Project, state: str) -> list[Path]:
    """The files a state is built from: project.toml, the context, its IFC or its actions file
    and, for an actions state, its base state's files (recursively)."""
    from twin.actions import read_actions

    files = [project.root / "project.toml"]
    if project.context is not None:
        files.append(project.context)
    seen: set[str] = set()
    name: str | None = state
    while name is not None and name not in seen:
        seen.add(name)
        spec = project.state(name)
        if spec.ifc is not None:
            files.append(spec.ifc)
            break
        files.append(spec.actions)
        try:
            header, _ = read_actions(spec.actions)
        except TwinError:  # reported properly by the load itself
            break
        name = spec.base or header.get("base") or project.baseline.name
    return files


class _Loaded:
    """One loaded state with the products derived from it."""

    def __init__(self, fingerprint: str, twin: Twin) -> None:
        self.fingerprint = fingerprint
        self.twin = twin
        self._memo: dict[Any, Any] = {}
        self._lock = threading.RLock()  # re-entrant: a product may be derived from another

    def memo(self, key: Any, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key not in self._memo:
                self._memo[key] = compute()
            return self._memo[key]


class StateStore:
    """Loaded Twins by (project folder, state name), least recently used evicted first."""

    def __init__(self, *, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"the state LRU needs room for at least one state, not {capacity}")
        self.capacity = capacity
        self._lru: OrderedDict[tuple[str, str], _Loaded] = OrderedDict()
        self._loading: dict[tuple[str, str], threading.Lock] = {}
        self._lock = threading.Lock()
        self.loads = 0
        """How many times a state was loaded (tests and benchmarks read it)."""

    def fingerprint(self, project: Project, state: str) -> str:
        stamps = [file_stamp(path) for path in state_sources(project, state)] + code_stamps()
        return hashlib.sha256(repr((str(project.root), state, stamps)).encode()).hexdigest()

    def _cached(self, key: tuple[str, str], fingerprint: str) -> _Loaded | None:
        loaded = self._lru.get(key)
        if loaded is None or loaded.fingerprint != fingerprint:
            return None
        self._lru.move_to_end(key)
        return loaded

    def loaded(self, project: Project, state: str, *,
               progress: Callable[[int, int, str], None] | None = None) -> _Loaded:
        """The loaded state, loading it (once, whatever the number of waiting threads) if needed.
        `progress(done, total, what)` is the loader's callback, called only if a load happens.
        Raises the loader's TwinError for a bad file."""
        fingerprint = self.fingerprint(project, state)
        key = (str(project.root), state)
        with self._lock:
            loaded = self._cached(key, fingerprint)
            if loaded is not None:
                return loaded
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                loaded = self._cached(key, fingerprint)
                if loaded is not None:
                    return loaded
            loaded = _Loaded(fingerprint, load_state(project, state, cache=True, progress=progress))
            with self._lock:
                self.loads += 1
                self._lru[key] = loaded
                self._lru.move_to_end(key)
                while len(self._lru) > self.capacity:
                    self._lru.popitem(last=False)
            return loaded

    def twin(self, project: Project, state: str) -> Twin:
        return self.loaded(project, state).twin

    def layers(self, project: Project, state: str):
        """The state's simulation layers (twin.layers.Layers), extracted once."""
        loaded = self.loaded(project, state)
        return loaded.memo("layers", lambda: loaded.twin.layers)

    def diff(self, project: Project, base: str, other: str) -> TwinDiff:
        """diff_twins(base, other), computed once per pair of loaded versions."""
        base_loaded = self.loaded(project, base)
        other_loaded = self.loaded(project, other)
        return other_loaded.memo(("diff", base, base_loaded.fingerprint),
                                 lambda: diff_twins(base_loaded.twin, other_loaded.twin))

    def diff_json(self, project: Project, base: str, other: str) -> dict[str, Any]:
        """TwinDiff.to_json() of diff(base, other), computed once per pair of loaded versions."""
        diff = self.diff(project, base, other)
        base_fingerprint = self.loaded(project, base).fingerprint
        return self.loaded(project, other).memo(("diff_json", base, base_fingerprint), diff.to_json)

    def memo(self, project: Project, state: str, key: Any, compute: Callable[[Twin], Any]) -> Any:
        """compute(twin) for the loaded state, computed once per loaded version."""
        loaded = self.loaded(project, state)
        return loaded.memo(key, lambda: compute(loaded.twin))
