"""The Twin: one state of one community — elements keyed by IFC GlobalId, their meshes, and layers.

Everything is in metres, in one right-handed frame: x east, y north, z up, relative to
`Twin.origin` (the map coordinates of the twin's (0, 0, 0)), so eastings of a few hundred
kilometres never go through float32. Meshes are stored once per shared geometry (IFC
representation maps, repeated windows) and placed by a float64 4×4 transform per element.

Nothing here imports ifcopenshell: a Twin is built by `twin.ifc` from an IFC file, or by
`twin.actions` from a baseline Twin plus a list of retrofit actions, and both give the same
kind of object.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(kw_only=True)
class Mesh:
    """A triangle mesh in an element's local frame (metres)."""

    vertices: np.ndarray
    """(n, 3) float32 vertex positions, metres, element-local."""
    faces: np.ndarray
    """(m, 3) int32 vertex indices, counter-clockwise seen from outside."""

    def __post_init__(self) -> None:
        self.vertices = np.ascontiguousarray(self.vertices, dtype=np.float32).reshape(-1, 3)
        self.faces = np.ascontiguousarray(self.faces, dtype=np.int32).reshape(-1, 3)

    def content_hash(self) -> str:
        """A hash of the geometry, insensitive to float noise below 0.1 mm."""
        digest = hashlib.sha1()
        digest.update((np.round(self.vertices.astype(np.float64), 4) + 0.0).tobytes())  # + 0.0: -0.0 → 0.0
        digest.update(self.faces.tobytes())
        return digest.hexdigest()


@dataclass(kw_only=True)
class SpatialNode:
    """A node of the spatial tree: project → site → building → storey (and IFC4X3 facilities)."""

    global_id: str
    ifc_class: str
    name: str | None = None
    parent: str | None = None
    """GlobalId of the parent node, None for the project."""
    elevation_m: float | None = None
    """Storey elevation above the twin's z = 0, metres (storeys only)."""
    psets: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Property sets of the spatial element (a building's Pset_BuildingCommon, CT_Residential)."""
    outline: list[tuple[float, float]] | None = None
    """Plan outline from a 2D 'FootPrint' representation (a site boundary), twin coordinates."""
    mesh_id: str | None = None
    """Key into Twin.meshes when the node has its own shape (a site's terrain or footprint)."""
    transform: np.ndarray = field(default_factory=lambda: np.eye(4))
    """(4, 4) float64 matrix from the mesh's local frame to twin coordinates."""


@dataclass(kw_only=True)
class Element:
    """One physical element of the twin, identified by its IFC GlobalId."""

    global_id: str
    ifc_class: str
    predefined_type: str | None = None
    name: str | None = None
    object_type: str | None = None
    container: str | None = None
    """GlobalId of the spatial element that contains it (storey, building, site, ...)."""
    storey: str | None = None
    """Name of the containing storey, if any."""
    building: str | None = None
    """GlobalId of the building it belongs to, if any."""
    attributes: dict[str, Any] = field(default_factory=dict)
    """Scalar direct attributes worth keeping (OverallWidth, Tag, ...), lengths in metres."""
    psets: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Property sets and quantity sets (type's first, occurrence's override), lengths in metres."""
    status: str | None = None
    """Renovation status from Pset_*Common.Status: NEW, EXISTING, DEMOLISH, TEMPORARY or None."""
    connected_to: list[str] = field(default_factory=list)
    """GlobalIds of elements connected through ports (IfcRelConnectsPorts), in port order."""
    systems: list[str] = field(default_factory=list)
    """Predefined types (or names) of the distribution systems it belongs to, e.g. STORMWATER."""
    mesh_id: str | None = None
    """Key into Twin.meshes; None for elements without body geometry."""
    transform: np.ndarray = field(default_factory=lambda: np.eye(4))
    """(4, 4) float64 matrix from the mesh's local frame to twin coordinates."""

    def prop(self, pset: str, name: str, default: Any = None) -> Any:
        """A property value, or `default` when the set or the property is missing."""
        value = self.psets.get(pset, {}).get(name)
        return default if value is None else value

    def find_prop(self, name: str, default: Any = None) -> Any:
        """The first property of this name in any set (standard Pset_*Common names vary by class)."""
        for values in self.psets.values():
            if values.get(name) is not None:
                return values[name]
        return default


@dataclass(kw_only=True)
class Twin:
    """One state of one community."""

    name: str
    """State name, e.g. 'baseline' or 'proposal_a'."""
    source: str
    """Where it came from: an IFC path, or 'baseline + actions.toml'."""
    schema: str
    """IFC schema of the source, e.g. IFC4X3_ADD2."""
    crs: str | None = None
    """Projected CRS name (e.g. 'EPSG:4549') when the file is georeferenced."""
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Map coordinates (easting, northing, height) of the twin's (0, 0, 0), metres."""
    elements: dict[str, Element] = field(default_factory=dict)
    meshes: dict[str, Mesh] = field(default_factory=dict)
    spatial: dict[str, SpatialNode] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    """CIM context layers (GeoJSON-derived, same CRS), filled by twin.cim."""
    _layers: Any = field(default=None, repr=False, compare=False)

    def world_vertices(self, element: Element) -> np.ndarray:
        """The element's mesh vertices in twin coordinates, (n, 3) float64; empty if no mesh."""
        if element.mesh_id is None:
            return np.zeros((0, 3))
        mesh = self.meshes[element.mesh_id]
        v = mesh.vertices.astype(np.float64)
        return v @ element.transform[:3, :3].T + element.transform[:3, 3]

    def world_mesh(self, element: Element) -> tuple[np.ndarray, np.ndarray]:
        """(vertices in twin coordinates, faces) of an element; empty arrays if no mesh."""
        if element.mesh_id is None:
            return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int32)
        return self.world_vertices(element), self.meshes[element.mesh_id].faces

    def geometry_hash(self, element: Element) -> str | None:
        """Hash of the placed geometry (mesh + transform rounded to 0.1 mm); None if no mesh."""
        if element.mesh_id is None:
            return None
        digest = hashlib.sha1(self.meshes[element.mesh_id].content_hash().encode())
        digest.update((np.round(element.transform, 4) + 0.0).tobytes())  # + 0.0: -0.0 → 0.0
        return digest.hexdigest()

    @property
    def layers(self):
        """The simulation layers (twin.layers.Layers), extracted on first use."""
        if self._layers is None:
            from twin.layers import extract_layers

            self._layers = extract_layers(self)
        return self._layers

    def invalidate_layers(self) -> None:
        self._layers = None

    def by_class(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for element in self.elements.values():
            counts[element.ifc_class] = counts.get(element.ifc_class, 0) + 1
        return dict(sorted(counts.items()))
