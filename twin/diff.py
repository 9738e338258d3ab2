"""What changed between two states of a community, element by element (matched by GlobalId).

`diff_twins(base, other)` sorts every GlobalId into added, removed, geometry-changed (the
placed geometry hash of `Twin.geometry_hash` differs: mesh content or placement), data-changed
(class, predefined type, name, object type, container/storey/building, direct attributes,
property sets, renovation status, port connections or systems differ) and unchanged. An
element can be both geometry- and data-changed. For each changed element the diff keeps what
changed — which fields, which properties, old → new — so a reviewer can read the proposal as
a list of edits, and the viewer can colour and explain each element.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twin.errors import TwinError
from twin.model import Element, Twin

STATUSES = ("added", "removed", "geometry", "data", "geometry+data", "unchanged")
"""Every value `TwinDiff.status_of` can return, in legend order."""

DATA_FIELDS = (
    "ifc_class", "predefined_type", "name", "object_type",
    "container", "storey", "building", "status", "connected_to", "systems",
)
"""Element fields compared one by one (attributes and psets are compared key by key)."""

_FLOAT_REL_TOL = 1e-9
"""Property floats equal to this relative tolerance are the same value (unit-conversion noise)."""


@dataclass(kw_only=True)
class GeometryChange:
    """How an element's placed geometry changed."""

    mesh: bool
    """The mesh content changed (or the element gained or lost its mesh)."""
    placement: bool
    """The 4×4 placement changed (beyond 0.1 mm)."""
    moved_m: float
    """Distance between the old and new placement origins, metres."""


@dataclass(kw_only=True)
class ElementChange:
    """What changed on one element present in both states. Each change is an (old, new) pair."""

    global_id: str
    ifc_class: str
    """The element's class in the other (newer) state."""
    geometry: GeometryChange | None = None
    """None when the placed geometry is the same."""
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    """Changed element fields from DATA_FIELDS, e.g. {'name': ('Wall 1', 'Wall 1a')}."""
    attributes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    """Changed direct attributes; a missing attribute is None."""
    psets: dict[str, dict[str, tuple[Any, Any]]] = field(default_factory=dict)
    """Changed properties by set, e.g. {'Pset_WallCommon': {'FireRating': ('REI60', 'REI90')}}."""

    @property
    def data_changed(self) -> bool:
        return bool(self.fields or self.attributes or self.psets)

    @property
    def status(self) -> str:
        if self.geometry is not None and self.data_changed:
            return "geometry+data"
        return "geometry" if self.geometry is not None else "data" if self.data_changed else "unchanged"


@dataclass(kw_only=True)
class TwinDiff:
    """The element-by-element difference from a base state to another state.

    `geometry_changed` and `data_changed` overlap for elements changed in both ways; the
    lists are sorted by GlobalId.
    """

    base_name: str
    other_name: str
    added: list[str] = field(default_factory=list)
    """In `other` only."""
    removed: list[str] = field(default_factory=list)
    """In `base` only."""
    geometry_changed: list[str] = field(default_factory=list)
    data_changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    changes: dict[str, ElementChange] = field(default_factory=dict)
    """Per changed element: what changed, old → new."""
    classes: dict[str, str] = field(default_factory=dict)
    """IFC class of every GlobalId seen (the other state's for elements in both)."""

    def __post_init__(self) -> None:
        self._status: dict[str, str] = {}
        for gid in self.unchanged:
            self._status[gid] = "unchanged"
        for gid in self.added:
            self._status[gid] = "added"
        for gid in self.removed:
            self._status[gid] = "removed"
        for gid in self.data_changed:
            self._status[gid] = "data"
        for gid in self.geometry_changed:
            self._status[gid] = "geometry+data" if self._status.get(gid) == "data" else "geometry"

    def status_of(self, global_id: str) -> str:
        """'added', 'removed', 'geometry', 'data', 'geometry+data' or 'unchanged'.

        Raises KeyError for a GlobalId in neither state.
        """
        try:
            return self._status[global_id]
        except KeyError:
            raise KeyError(f"{global_id} is in neither {self.base_name!r} nor {self.other_name!r}") from None

    def __contains__(self, global_id: str) -> bool:
        return global_id in self._status

    @property
    def changed(self) -> list[str]:
        """GlobalIds changed in geometry, data or both, sorted."""
        return sorted(set(self.geometry_changed) | set(self.data_changed))

    def summary(self) -> dict:
        """Counts by status overall and by IFC class (each element counted once, under its status)."""
        counts = dict.fromkeys(STATUSES, 0)
        by_class: dict[str, dict[str, int]] = {}
        for gid, status in self._status.items():
            counts[status] += 1
            cls = self.classes.get(gid, "unknown")
            by_class.setdefault(cls, dict.fromkeys(STATUSES, 0))[status] += 1
        return {
            "base": self.base_name,
            "other": self.other_name,
            "counts": counts,
            "changed": counts["geometry"] + counts["data"] + counts["geometry+data"],
            "by_class": dict(sorted(by_class.items())),
        }

    def to_json(self) -> dict:
        """Everything but the unchanged list, as plain JSON types (numpy converted, NaN → null)."""
        return {
            "base": self.base_name,
            "other": self.other_name,
            "summary": self.summary(),
            "added": list(self.added),
            "removed": list(self.removed),
            "geometry_changed": list(self.geometry_changed),
            "data_changed": list(self.data_changed),
            "classes": {gid: cls for gid, cls in self.classes.items() if self._status[gid] != "unchanged"},
            "changes": {gid: _change_to_json(change) for gid, change in self.changes.items()},
        }


def diff_twins(base: Twin, other: Twin) -> TwinDiff:
    """Compare two states of a community element by element, matched by GlobalId."""
    base_ids = base.elements.keys()
    other_ids = other.elements.keys()
    added = sorted(other_ids - base_ids)
    removed = sorted(base_ids - other_ids)
    classes = {gid: base.elements[gid].ifc_class for gid in removed}
    classes.update({gid: element.ifc_class for gid, element in other.elements.items()})

    geometry_changed: list[str] = []
    data_changed: list[str] = []
    unchanged: list[str] = []
    changes: dict[str, ElementChange] = {}
    for gid in sorted(base_ids & other_ids):
        old, new = base.elements[gid], other.elements[gid]
        change = ElementChange(global_id=gid, ifc_class=new.ifc_class)
        change.geometry = _geometry_change(base, old, other, new)
        _compare_data(old, new, change)
        if change.geometry is not None:
            geometry_changed.append(gid)
        if change.data_changed:
            data_changed.append(gid)
        if change.geometry is None and not change.data_changed:
            unchanged.append(gid)
        else:
            changes[gid] = change
    return TwinDiff(base_name=base.name, other_name=other.name, added=added, removed=removed,
                    geometry_changed=geometry_changed, data_changed=data_changed,
                    unchanged=unchanged, changes=changes, classes=classes)


def _geometry_change(base: Twin, old: Element, other: Twin, new: Element) -> GeometryChange | None:
    """None when the placed geometry is the same, else how it changed."""
    if old.mesh_id is None and new.mesh_id is None:
        return None
    if old.mesh_id is not None and new.mesh_id is not None:
        _check_mesh(base, old)
        _check_mesh(other, new)
        same_mesh_object = base.meshes[old.mesh_id] is other.meshes[new.mesh_id]
        # A state built from the baseline by actions shares Mesh objects and transforms with it:
        # identical inputs give identical hashes, so skip hashing them.
        if same_mesh_object and np.array_equal(old.transform, new.transform):
            return None
        if base.geometry_hash(old) == other.geometry_hash(new):
            return None
        mesh_changed = not same_mesh_object and (
            base.meshes[old.mesh_id].content_hash() != other.meshes[new.mesh_id].content_hash())
    else:
        mesh_changed = True
    old_t = np.asarray(old.transform, dtype=np.float64)
    new_t = np.asarray(new.transform, dtype=np.float64)
    placement_changed = not np.array_equal(np.round(old_t, 4), np.round(new_t, 4))
    moved_m = float(np.linalg.norm(new_t[:3, 3] - old_t[:3, 3]))
    return GeometryChange(mesh=mesh_changed, placement=placement_changed, moved_m=moved_m)


def _check_mesh(twin: Twin, element: Element) -> None:
    if element.mesh_id not in twin.meshes:
        raise TwinError(f"{twin.name}: element {element.global_id} ({element.ifc_class}) refers to "
                        f"mesh {element.mesh_id!r}, which the twin does not have")


def _compare_data(old: Element, new: Element, change: ElementChange) -> None:
    for name in DATA_FIELDS:
        before, after = getattr(old, name), getattr(new, name)
        if not _same_value(before, after):
            change.fields[name] = (before, after)
    change.attributes.update(_dict_changes(old.attributes, new.attributes))
    for pset in sorted(old.psets.keys() | new.psets.keys()):
        changed = _dict_changes(old.psets.get(pset) or {}, new.psets.get(pset) or {})
        if changed:
            change.psets[pset] = changed


def _dict_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Keys whose values differ; a missing key and a None value are the same (as Element.prop)."""
    changed = {}
    for key in sorted(before.keys() | after.keys(), key=str):
        old, new = before.get(key), after.get(key)
        if not _same_value(old, new):
            changed[key] = (old, new)
    return changed


def _same_value(a: Any, b: Any) -> bool:
    """Equality for property values: floats to a relative 1e-9, NaN equals NaN, containers by item."""
    if a is b:
        return True
    if a is None or b is None:
        return False
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            return False
        return all(_same_value(x, y) for x, y in zip(a.ravel().tolist(), b.ravel().tolist()))
    a_is_bool, b_is_bool = isinstance(a, (bool, np.bool_)), isinstance(b, (bool, np.bool_))
    if a_is_bool or b_is_bool:  # True is not the number 1 in a property set
        return a_is_bool and b_is_bool and bool(a) == bool(b)
    if isinstance(a, (int, float, np.integer, np.floating)) and isinstance(b, (int, float, np.integer, np.floating)):
        fa, fb = float(a), float(b)
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        return fa == fb or math.isclose(fa, fb, rel_tol=_FLOAT_REL_TOL, abs_tol=1e-12)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)
    try:
        return bool(a == b)
    except Exception:  # exotic objects whose == is not a bool
        return repr(a) == repr(b)


def _change_to_json(change: ElementChange) -> dict:
    out: dict[str, Any] = {"status": change.status, "ifc_class": change.ifc_class}
    if change.geometry is not None:
        out["geometry"] = {"mesh": change.geometry.mesh, "placement": change.geometry.placement,
                           "moved_m": jsonable(change.geometry.moved_m)}
    if change.fields:
        out["fields"] = {name: _pair(pair) for name, pair in change.fields.items()}
    if change.attributes:
        out["attributes"] = {str(name): _pair(pair) for name, pair in change.attributes.items()}
    if change.psets:
        out["psets"] = {pset: {str(name): _pair(pair) for name, pair in props.items()}
                        for pset, props in change.psets.items()}
    return out


def _pair(pair: tuple[Any, Any]) -> dict:
    return {"old": jsonable(pair[0]), "new": jsonable(pair[1])}


def jsonable(value: Any) -> Any:
    """A value as plain JSON types: numpy scalars and arrays to Python, tuples and sets to lists,
    non-finite floats to None (JSON has no NaN), other objects to their str."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, (bytes, bytearray)):
            return value.decode("utf-8", "replace")
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((jsonable(v) for v in value), key=repr)
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    return str(value)
