"""A project: one community, its states (baseline and proposals) and settings, from project.toml.

```toml
[project]
name = "sample_community"
context = "context.geojson"        # optional CIM context (twin.cim)

[[states]]
name = "baseline"
ifc = "baseline.ifc"               # a full IFC file (optional phase = "before" | "after")

[[states]]
name = "proposal_b"
actions = "proposal_b.toml"        # or the baseline plus retrofit actions (twin.actions)

[settings]                         # read by the engines
```
The first state is the baseline every other state is compared with.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from twin.errors import ProjectError
from twin.model import Twin


@dataclass(kw_only=True, frozen=True)
class StateSpec:
    name: str
    title_en: str = ""
    title_zh: str = ""
    ifc: Path | None = None
    phase: str = "all"
    actions: Path | None = None
    base: str | None = None


@dataclass(kw_only=True)
class Project:
    root: Path
    name: str
    title_en: str = ""
    title_zh: str = ""
    crs: str | None = None
    context: Path | None = None
    states: list[StateSpec] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def baseline(self) -> StateSpec:
        return self.states[0]

    def state(self, name: str) -> StateSpec:
        for spec in self.states:
            if spec.name == name:
                return spec
        raise ProjectError(f"{self.root / 'project.toml'}: no state named {name!r} (states: {', '.join(s.name for s in self.states)})")


def is_project_path(path: str | Path) -> bool:
    path = Path(path)
    return path.name == "project.toml" or (path.is_dir() and (path / "project.toml").exists())


def load_project(path: str | Path) -> Project:
    """Read project.toml (given it or its folder) and check every state's files exist."""
    path = Path(path)
    toml_path = path if path.suffix == ".toml" else path / "project.toml"
    try:
        data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProjectError(f"{toml_path}: no such project file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProjectError(f"{toml_path}: not valid TOML: {exc}") from None
    root = toml_path.parent
    meta = data.get("project", {})
    raw_states = data.get("states", [])
    if not raw_states:
        raise ProjectError(f"{toml_path}: no [[states]]; at least a baseline state is needed")
    states: list[StateSpec] = []
    for index, raw in enumerate(raw_states):
        where = f"{toml_path}: states[{index}]"
        name = raw.get("name")
        if not name or not isinstance(name, str):
            raise ProjectError(f"{where}: missing 'name'")
        if any(s.name == name for s in states):
            raise ProjectError(f"{where}: state name {name!r} used twice")
        ifc = raw.get("ifc")
        actions = raw.get("actions")
        if bool(ifc) == bool(actions):
            raise ProjectError(f"{where} ({name}): give exactly one of 'ifc' or 'actions'")
        if ifc and not (root / ifc).exists():
            raise ProjectError(f"{where} ({name}): ifc file {root / ifc} does not exist")
        if actions and not (root / actions).exists():
            raise ProjectError(f"{where} ({name}): actions file {root / actions} does not exist")
        if actions and index == 0:
            raise ProjectError(f"{where} ({name}): the first state is the baseline and must be an IFC file")
        phase = raw.get("phase", "all")
        if phase not in ("all", "before", "after"):
            raise ProjectError(f"{where} ({name}): phase must be all, before or after, not {phase!r}")
        states.append(StateSpec(name=name, title_en=raw.get("title_en", name), title_zh=raw.get("title_zh", ""),
                                ifc=root / ifc if ifc else None, phase=phase,
                                actions=root / actions if actions else None, base=raw.get("base")))
    context = meta.get("context")
    if context and not (root / context).exists():
        raise ProjectError(f"{toml_path}: context file {root / context} does not exist")
    return Project(root=root, name=meta.get("name", root.name), title_en=meta.get("title_en", ""), title_zh=meta.get("title_zh", ""),
                   crs=meta.get("crs"), context=root / context if context else None, states=states,
                   settings=data.get("settings", {}), meta=meta)


def _load_into_cache(path: str) -> str:
    from twin.ifc import load_ifc

    load_ifc(path, cache=True)
    return path


def warm_cache(project: Project, *, workers: int | None = None) -> list[str]:
    """Load every IFC file of the project into the cache, one file per core, so the states
    then load from the cache. Returns the files loaded; errors surface on the later load."""
    import os
    from concurrent.futures import ProcessPoolExecutor

    paths = sorted({str(spec.ifc) for spec in project.states if spec.ifc is not None})
    workers = min(len(paths), workers or os.cpu_count() or 1)
    if workers <= 1:
        return paths
    try:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(_load_into_cache, paths))
    except Exception:  # a bad file: the sequential load that follows reports it properly
        return []


def load_state(project: Project, name: str, *, cache: bool = True,
               progress: Callable[[int, int, str], None] | None = None, _seen: tuple[str, ...] = ()) -> Twin:
    """The Twin of one state: its IFC file, or its base state plus its actions."""
    from twin.actions import apply_actions, read_actions
    from twin.ifc import load_ifc

    spec = project.state(name)
    if spec.ifc is not None:
        twin = load_ifc(spec.ifc, phase=spec.phase, cache=cache, progress=progress, name=spec.name)
        twin.name = spec.name
    else:
        header, actions = read_actions(spec.actions)
        base_name = spec.base or header.get("base") or project.baseline.name
        if base_name in _seen or base_name == name:
            raise ProjectError(f"{spec.actions}: state {name!r} is based on itself through {' → '.join(_seen + (name,))}")
        base = load_state(project, base_name, cache=cache, progress=progress, _seen=_seen + (name,))
        twin = apply_actions(base, actions, name=spec.name, source=f"{base_name} + {spec.actions}")
    if project.context is not None and not twin.context:
        from twin.cim import attach_context

        attach_context(twin, project.context)
    return twin
