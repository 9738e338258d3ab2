"""Write one state of a community as a GLB for the viewer — the only module that writes GLB.

Layout of the file (glTF 2.0, binary container):

- one root node named after the twin whose matrix turns twin coordinates (x east, y north,
  z up) into glTF's y-up frame: (x, y, z) → (x, z, −y), a rotation of −90° about x, so the
  frame stays right-handed (no mirroring). Everything below it is in twin coordinates, so the
  viewer can hang simulation overlays (vehicles, people, water) under it unchanged;
- under it the spatial tree (project → site → building → storey), one node per spatial
  element named by its GlobalId, with identity matrices, when `Twin.spatial` is filled;
- one node per element named by its GlobalId, child of its container, with `extras`
  {globalId, ifcClass, name, storey, building, predefinedType, status, diffStatus} for
  picking, and its `Element.transform` as the node matrix;
- instancing: the vertices and indices of each `Twin.meshes` entry are written once, and
  every element using it references the same glTF mesh (one glTF mesh per geometry and
  material, all sharing the same accessors, since glTF puts materials on meshes);
- one material per IFC class (per class and predefined type where that reads better, e.g.
  roof slabs), or per diff status with `colour_by="diff"`; elements removed since the
  baseline are drawn as red translucent ghosts taken from `removed_from`;
- no normals: viewers compute flat ones (three.js does when NORMAL is absent), which keeps
  the file small and the shared vertices shared.

Scene extras carry the twin's name, source, CRS and origin (map coordinates of (0, 0, 0))
and the legend of the materials used.
"""
from __future__ import annotations

import json
import os
import struct
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from twin.diff import TwinDiff, diff_twins, jsonable
from twin.atomic import write_atomically
from twin.errors import TwinError
from twin.model import Element, Mesh, Twin

Z_UP_TO_Y_UP = np.array([
    [1.0, 0.0, 0.0, 0.0],
    [0.0, 0.0, 1.0, 0.0],
    [0.0, -1.0, 0.0, 0.0],
    [0.0, 0.0, 0.0, 1.0],
])
"""Twin (x east, y north, z up) → glTF (x, y up, z south): rotation of −90° about x, det +1."""

_GLB_MAGIC = 0x46546C67  # "glTF"
_CHUNK_JSON = 0x4E4F534A  # "JSON"
_CHUNK_BIN = 0x004E4942  # "BIN\0"
_ARRAY_BUFFER = 34962
_ELEMENT_ARRAY_BUFFER = 34963
_FLOAT = 5126
_UNSIGNED_SHORT = 5123
_UNSIGNED_INT = 5125
_MAX_UINT16_VERTICES = 65535
"""Vertices addressable by UNSIGNED_SHORT indices: 65535 itself is the primitive-restart value."""


@dataclass(frozen=True, kw_only=True)
class Style:
    """How a material looks: an sRGB colour and an opacity."""

    colour: str
    """sRGB hex, '#rrggbb' (converted to linear for glTF's baseColorFactor)."""
    alpha: float = 1.0
    """Opacity 0–1; below 1 the material is blended."""
    roughness: float = 0.9


_WALL = Style(colour="#ece6da")
_CONCRETE = Style(colour="#c9c5bd")
_STRUCTURE = Style(colour="#bdb8ae")
_TERRACOTTA = Style(colour="#b5523b")
_GLASS = Style(colour="#7fb2e5", alpha=0.45, roughness=0.1)
_ASPHALT = Style(colour="#4a4d52")
_PAVING = Style(colour="#9c9890")
_GREEN = Style(colour="#6aa84f")
_PIPE = Style(colour="#2f7fd1", roughness=0.5)
_WATER_STRUCTURE = Style(colour="#38598b")
_METAL = Style(colour="#5c6670", roughness=0.5)
_WOOD = Style(colour="#9a6b43")

CLASS_STYLES: dict[str, Style] = {
    # building envelope and structure
    "IfcWall": _WALL, "IfcWallStandardCase": _WALL, "IfcWallElementedCase": _WALL,
    "IfcCurtainWall": Style(colour="#9fc4de", alpha=0.55, roughness=0.2),
    "IfcWindow": _GLASS, "IfcWindowStandardCase": _GLASS,
    "IfcDoor": _WOOD, "IfcDoorStandardCase": _WOOD,
    "IfcRoof": _TERRACOTTA,
    "IfcSlab": _CONCRETE, "IfcSlabStandardCase": _CONCRETE, "IfcSlabElementedCase": _CONCRETE,
    "IfcColumn": _STRUCTURE, "IfcColumnStandardCase": _STRUCTURE,
    "IfcBeam": _STRUCTURE, "IfcBeamStandardCase": _STRUCTURE,
    "IfcMember": _STRUCTURE, "IfcMemberStandardCase": _STRUCTURE,
    "IfcPlate": Style(colour="#a9b3bd"), "IfcPlateStandardCase": Style(colour="#a9b3bd"),
    "IfcStair": Style(colour="#b8b2a6"), "IfcStairFlight": Style(colour="#b8b2a6"),
    "IfcRamp": Style(colour="#b8b2a6"), "IfcRampFlight": Style(colour="#b8b2a6"),
    "IfcRailing": _METAL,
    "IfcCovering": Style(colour="#ddd6c8"),
    "IfcFooting": Style(colour="#8e8a82"), "IfcPile": Style(colour="#8e8a82"),
    "IfcChimney": Style(colour="#8c5a48"),
    "IfcShadingDevice": Style(colour="#6f7f6a"),
    "IfcBuildingElementProxy": Style(colour="#cfc6b8"), "IfcBuiltElement": Style(colour="#cfc6b8"),
    "IfcSpace": Style(colour="#f2e6a0", alpha=0.15),
    "IfcFurnishingElement": Style(colour="#a88b6a"), "IfcFurniture": Style(colour="#a88b6a"),
    "IfcTransportElement": Style(colour="#7d8b99", roughness=0.5),
    # site, roads and green space
    "IfcSite": Style(colour="#b9c79a"),
    "IfcRoad": _ASPHALT, "IfcRoadPart": _ASPHALT, "IfcPavement": _ASPHALT, "IfcCourse": _ASPHALT,
    "IfcKerb": Style(colour="#a7a9ac"),
    "IfcGeographicElement": _GREEN,
    "IfcEarthworksFill": Style(colour="#a1896b"), "IfcEarthworksCut": Style(colour="#a1896b"),
    "IfcCivilElement": _PAVING,
    "IfcSign": Style(colour="#e0b000"), "IfcSignal": Style(colour="#e0b000"),
    "IfcLightFixture": Style(colour="#f4e7a1"), "IfcLamp": Style(colour="#f4e7a1"),
    # drainage and services
    "IfcPipeSegment": _PIPE, "IfcPipeFitting": _PIPE,
    "IfcDistributionChamberElement": _WATER_STRUCTURE,
    "IfcFlowTerminal": Style(colour="#4f8fc0"), "IfcSanitaryTerminal": Style(colour="#4f8fc0"),
    "IfcWasteTerminal": Style(colour="#4f8fc0"), "IfcStackTerminal": Style(colour="#4f8fc0"),
    "IfcTank": Style(colour="#3a7ca5"), "IfcInterceptor": Style(colour="#3a7ca5"),
    "IfcFireSuppressionTerminal": Style(colour="#d03c2f"),
    "IfcDuctSegment": Style(colour="#9aa6b2"), "IfcCableSegment": Style(colour="#444444"),
    "IfcElectricAppliance": Style(colour="#3aa36b"), "IfcOutlet": Style(colour="#3aa36b"),
}
"""Colour of each IFC class in `colour_by="class"` exports."""

PREDEFINED_STYLES: dict[tuple[str, str], Style] = {
    ("IfcSlab", "ROOF"): _TERRACOTTA,
    ("IfcSlabStandardCase", "ROOF"): _TERRACOTTA,
    ("IfcCovering", "ROOFING"): _TERRACOTTA,
    ("IfcGeographicElement", "TERRAIN"): Style(colour="#b7ad86"),
    ("IfcDoor", "GATE"): _METAL,
    ("IfcRailing", "FENCE"): _METAL,
    ("IfcSpace", "PARKING"): Style(colour="#8a9bb0", alpha=0.35),
}
"""Where a predefined type reads better in its own colour (roof slabs are roofs)."""

SURFACE_STYLES: dict[str, Style] = {
    "roof": _TERRACOTTA, "road": _ASPHALT, "paving": _PAVING, "permeable_paving": Style(colour="#b9a27a"),
    "green": _GREEN, "water": Style(colour="#4f8fc9", alpha=0.8, roughness=0.1),
}
"""The surface type of docs/ifc_mapping.md (CT_Surface.SurfaceType) wins over the class: a
TERRAIN lawn is green, a paving slab is paving."""
LID_STYLES: dict[str, Style] = {
    "bioretention": Style(colour="#2e8b57"), "rain_garden": Style(colour="#2e8b57"),
    "green_roof": Style(colour="#58a55c"), "storage_tank": _WATER_STRUCTURE,
}

DEFAULT_STYLE = Style(colour="#b4b4b4")

DIFF_STYLES: dict[str, Style] = {
    "added": Style(colour="#2fb344"),
    "removed": Style(colour="#e03131", alpha=0.3),
    "geometry": Style(colour="#fd7e14"),
    "data": Style(colour="#fcc419"),
    "geometry+data": Style(colour="#d9480f"),
    "unchanged": Style(colour="#d9d9d9"),
}
"""Colour of each diff status in `colour_by="diff"` exports; removed elements are ghosts."""


@dataclass(frozen=True, kw_only=True)
class ExportStats:
    """What a GLB export wrote."""

    nodes: int
    """All nodes: root, spatial tree, elements, removed ghosts, site bodies."""
    element_nodes: int
    """Nodes of elements of the state (ghosts excluded)."""
    ghost_nodes: int
    """Nodes of elements removed since the baseline, drawn as ghosts."""
    meshes: int
    """glTF meshes: one per geometry and material."""
    geometries: int
    """Distinct vertex/index buffers written (one per Twin.meshes entry used)."""
    instanced_nodes: int
    """Nodes whose geometry is shared with at least one other node."""
    bytes: int
    """Size of the GLB file."""


def export_glb(twin: Twin, path: str | os.PathLike, *, diff: TwinDiff | None = None,
               colour_by: Literal["class", "diff"] = "class",
               removed_from: Twin | None = None) -> ExportStats:
    """Write `twin` as a GLB at `path`, atomically (temporary file in the same folder, then rename).

    `diff` (from `diff_twins(baseline, twin)`) adds `diffStatus` to every element's extras;
    `colour_by="diff"` colours by it. `removed_from` is the baseline: elements the diff lists
    as removed are drawn from it as ghosts (a diff is computed when none is given). The folder
    of `path` must exist. Raises TwinError naming the element for non-finite geometry, and
    naming the file when it cannot be written; nothing is left behind either way.
    """
    data, stats = encode_glb(twin, diff=diff, colour_by=colour_by, removed_from=removed_from)
    write_atomically(path, lambda stream: stream.write(data))
    return stats


def encode_glb(twin: Twin, *, diff: TwinDiff | None = None,
               colour_by: Literal["class", "diff"] = "class",
               removed_from: Twin | None = None) -> tuple[bytes, ExportStats]:
    """The GLB bytes `export_glb` writes, and their stats (for serving without a file)."""
    if colour_by not in ("class", "diff"):
        raise ValueError(f"colour_by must be 'class' or 'diff', not {colour_by!r}")
    if diff is None and removed_from is not None:
        diff = diff_twins(removed_from, twin)
    if colour_by == "diff" and diff is None:
        raise ValueError("colour_by='diff' needs a diff or the baseline twin as removed_from")
    return _GlbBuilder(twin, diff=diff, colour_by=colour_by, removed_from=removed_from).build()


def style_for(ifc_class: str, predefined_type: str | None, psets: dict | None = None) -> tuple[str, Style]:
    """(material name, style) of an element in a by-class export."""
    lid_type = str((psets or {}).get("CT_LID", {}).get("LIDType") or "").lower()
    if lid_type in LID_STYLES:
        return f"lid.{lid_type}", LID_STYLES[lid_type]
    surface_type = str((psets or {}).get("CT_Surface", {}).get("SurfaceType") or "").lower()
    if surface_type in SURFACE_STYLES:
        return f"surface.{surface_type}", SURFACE_STYLES[surface_type]
    if predefined_type and (ifc_class, predefined_type) in PREDEFINED_STYLES:
        return f"{ifc_class}.{predefined_type}", PREDEFINED_STYLES[(ifc_class, predefined_type)]
    return ifc_class, CLASS_STYLES.get(ifc_class, DEFAULT_STYLE)


class _GlbBuilder:
    """Collects nodes, meshes, materials and binary data, then packs them into one GLB."""

    def __init__(self, twin: Twin, *, diff: TwinDiff | None, colour_by: str,
                 removed_from: Twin | None) -> None:
        self.twin = twin
        self.diff = diff
        self.colour_by = colour_by
        self.removed_from = removed_from
        self.nodes: list[dict[str, Any]] = []
        self.parent_of: dict[int, int] = {}
        self.spatial_node: dict[str, int] = {}
        self.materials: list[dict[str, Any]] = []
        self.legend: list[dict[str, Any]] = []
        self.material_index: dict[str, int] = {}
        self.meshes: list[dict[str, Any]] = []
        self.mesh_index: dict[tuple[Any, int], int] = {}
        self.accessors: list[dict[str, Any]] = []
        self.geometry: dict[Any, tuple[int, int] | None] = {}
        """Geometry key → (POSITION accessor, indices accessor); None for an empty mesh."""
        self.geometry_users: Counter = Counter()
        self.chunks: dict[str, list[bytes]] = {"positions": [], "indices16": [], "indices32": []}
        self.chunk_bytes: dict[str, int] = {"positions": 0, "indices16": 0, "indices32": 0}
        self.element_nodes = 0
        self.ghost_nodes = 0

    # -- assembling ---------------------------------------------------------------------

    def build(self) -> tuple[bytes, ExportStats]:
        twin = self.twin
        root = self._add_node({
            "name": twin.name,
            "matrix": _column_major(Z_UP_TO_Y_UP),
            "extras": {"role": "twin-root", "twin": twin.name,
                       "frame": "children are in twin coordinates (x east, y north, z up, metres "
                                "from origin); this node maps them to glTF y-up as (x, z, -y)"},
        }, parent=None)
        self._add_spatial_tree(root)
        for element in twin.elements.values():
            status = self._status_of(element.global_id)
            self._add_element(twin, element, status=status, root=root)
            self.element_nodes += 1
        if self.diff is not None and self.removed_from is not None:
            for gid in self.diff.removed:
                ghost = self.removed_from.elements.get(gid)
                if ghost is None:
                    raise ValueError(f"removed_from ({self.removed_from.name!r}) has no element {gid}: "
                                     f"it is not the baseline of the diff ({self.diff.base_name!r})")
                self._add_element(self.removed_from, ghost, status="removed", root=root)
                self.ghost_nodes += 1
        self._add_context(root)
        return self._pack()

    def _add_context(self, root: int) -> None:
        """The CIM context (twin.cim: LOD1 neighbours, city roads, green) as one group of nodes,
        so the community is seen in its city; not elements, so no GlobalIds."""
        if not self.twin.context:
            return
        from twin.cim import context_meshes

        group = self._add_node({"name": "context", "extras": {"role": "context"}}, parent=root)
        for name, vertices, faces in context_meshes(self.twin.context):
            kind = name.split("/")[1]
            style = Style(colour={"building": "#d9d4cc", "road": "#8c8c8c", "green": "#a8c98f"}.get(kind, "#cccccc"))
            material = self._material(f"context:{kind}", style)
            accessors = self._geometry_accessors(("context", name), Mesh(vertices=vertices, faces=faces), f"context {name}")
            node: dict[str, Any] = {"name": name, "extras": {"role": "context", "layer": kind}}
            if accessors is not None:
                node["mesh"] = self._mesh(("context", name), accessors, material)
            self._add_node(node, parent=group)

    def _status_of(self, gid: str) -> str | None:
        if self.diff is None:
            return None
        if gid not in self.diff:
            raise ValueError(f"element {gid} of {self.twin.name!r} is not in the diff "
                             f"{self.diff.base_name!r} → {self.diff.other_name!r}")
        return self.diff.status_of(gid)

    def _add_node(self, node: dict[str, Any], parent: int | None) -> int:
        index = len(self.nodes)
        self.nodes.append(node)
        if parent is not None:
            self.parent_of[index] = parent
        return index

    def _add_spatial_tree(self, root: int) -> None:
        for gid in self.twin.spatial:
            self._spatial_index(gid, self.twin, root, ghost=False)

    def _spatial_index(self, gid: str, source: Twin, root: int, *, ghost: bool) -> int:
        """Node index of a spatial element, created (with its parents) on first use."""
        if gid in self.spatial_node:
            return self.spatial_node[gid]
        chain = []
        seen: set[str] = set()
        cursor: str | None = gid
        while cursor is not None and cursor not in self.spatial_node and cursor in source.spatial:
            if cursor in seen:
                raise TwinError(f"{source.name}: the spatial tree has a cycle through {cursor}")
            seen.add(cursor)
            chain.append(source.spatial[cursor])
            cursor = source.spatial[cursor].parent
        parent = self.spatial_node.get(cursor, root) if cursor is not None else root
        for spatial in reversed(chain):
            extras = {"globalId": spatial.global_id, "ifcClass": spatial.ifc_class,
                      "name": _text(spatial.name)}
            if spatial.elevation_m is not None:
                extras["elevationM"] = float(spatial.elevation_m)
            if ghost:
                extras["diffStatus"] = "removed"
            parent = self._add_node({"name": spatial.global_id, "extras": extras}, parent=parent)
            self.spatial_node[spatial.global_id] = parent
            self._add_spatial_body(source, spatial, parent)
        return parent

    def _add_spatial_body(self, source: Twin, spatial, parent: int) -> None:
        """A site's own geometry (terrain) as a child node, so the site's matrix stays identity
        for the elements below it."""
        mesh_id = getattr(spatial, "mesh_id", None)
        if mesh_id is None:
            return
        transform = getattr(spatial, "transform", None)
        transform = np.eye(4) if transform is None else np.asarray(transform, dtype=np.float64)
        where = f"{source.name}: spatial element {spatial.global_id} ({spatial.ifc_class})"
        if self.colour_by == "diff":
            material = self._material("diff:unchanged", DIFF_STYLES["unchanged"])
        else:
            name, style = style_for(spatial.ifc_class, None)
            material = self._material(f"class:{name}", style)
        node: dict[str, Any] = {"name": f"{spatial.global_id}:body",
                                "extras": {"globalId": spatial.global_id, "ifcClass": spatial.ifc_class,
                                           "name": _text(spatial.name), "role": "body"}}
        self._place(node, source, mesh_id, transform, material, where, bake_key=("body", spatial.global_id))
        self._add_node(node, parent=parent)

    def _add_element(self, source: Twin, element: Element, *, status: str | None, root: int) -> None:
        gid = element.global_id
        ghost = status == "removed"
        container = next((c for c in (element.container, element.building)
                          if c is not None and (c in self.spatial_node or (ghost and c in source.spatial))), None)
        parent = root if container is None else self._spatial_index(container, source, root, ghost=ghost)
        extras: dict[str, Any] = {
            "globalId": gid,
            "ifcClass": element.ifc_class,
            "name": _text(element.name),
            "storey": _text(element.storey),
            "building": _text(element.building),
            "predefinedType": _text(element.predefined_type),
            "status": _text(element.status),
        }
        if status is not None:
            extras["diffStatus"] = status
        node: dict[str, Any] = {"name": gid, "extras": extras}
        if element.mesh_id is not None:
            if ghost or self.colour_by == "diff":
                material = self._material(f"diff:{status}", DIFF_STYLES[status])
            else:
                name, style = style_for(element.ifc_class, element.predefined_type, element.psets)
                material = self._material(f"class:{name}", style)
            where = f"{source.name}: element {gid} ({element.ifc_class})"
            self._place(node, source, element.mesh_id, element.transform, material, where,
                        bake_key=("element", source is self.twin, gid))
        self._add_node(node, parent=parent)

    def _place(self, node: dict[str, Any], source: Twin, mesh_id: str, transform: np.ndarray,
               material: int, where: str, *, bake_key: tuple) -> None:
        """Give `node` its mesh and matrix; bake the transform into the vertices when glTF cannot
        take it as a node matrix (shear, zero scale)."""
        mesh = source.meshes.get(mesh_id)
        if mesh is None:
            raise TwinError(f"{where} refers to mesh {mesh_id!r}, which the twin does not have")
        transform = np.asarray(transform, dtype=np.float64)
        if transform.shape != (4, 4) or not np.isfinite(transform).all():
            raise TwinError(f"{where}: transform is not a finite 4×4 matrix")
        if _is_trs(transform):
            key = self._geometry_key(source, mesh_id, mesh)
            accessors = self._geometry_accessors(key, mesh, f"{where}, mesh {mesh_id!r}")
            if np.array_equal(transform[:3, :3], np.eye(3)):  # pure translation: shorter JSON
                if transform[:3, 3].any():
                    node["translation"] = [float(v) for v in transform[:3, 3]]
            else:
                node["matrix"] = _column_major(transform)
        else:
            world = Mesh(vertices=_checked_vertices(mesh, f"{where}, mesh {mesh_id!r}") @ transform[:3, :3].T
                         + transform[:3, 3], faces=mesh.faces)
            key = bake_key
            accessors = self._geometry_accessors(key, world, f"{where} (baked placement)")
        if accessors is None:
            return  # a mesh without triangles: the node stays, for the tree and picking
        self.geometry_users[key] += 1
        node["mesh"] = self._mesh(key, accessors, material)

    def _geometry_key(self, source: Twin, mesh_id: str, mesh: Mesh) -> tuple:
        """Meshes of the state are keyed by id; a ghost's mesh reuses the state's when equal."""
        if source is self.twin:
            return ("twin", mesh_id)
        same = self.twin.meshes.get(mesh_id)
        if same is not None and (same is mesh or same.content_hash() == mesh.content_hash()):
            return ("twin", mesh_id)
        return ("baseline", mesh_id)

    def _geometry_accessors(self, key: Any, mesh: Mesh, where: str) -> tuple[int, int] | None:
        if key in self.geometry:
            return self.geometry[key]
        vertices = _checked_vertices(mesh, where)
        faces = mesh.faces
        if len(vertices) == 0 or len(faces) == 0:
            self.geometry[key] = None
            return None
        if faces.min() < 0 or faces.max() >= len(vertices):
            raise TwinError(f"{where}: face indices run outside its {len(vertices)} vertices")
        positions = vertices.astype("<f4")
        position_accessor = self._accessor("positions", positions.tobytes(), {
            "componentType": _FLOAT, "count": len(positions), "type": "VEC3",
            "min": [float(v) for v in positions.min(axis=0)],
            "max": [float(v) for v in positions.max(axis=0)],
        })
        if len(vertices) <= _MAX_UINT16_VERTICES:
            index_chunk, index_data, component = "indices16", faces.astype("<u2"), _UNSIGNED_SHORT
        else:
            index_chunk, index_data, component = "indices32", faces.astype("<u4"), _UNSIGNED_INT
        index_accessor = self._accessor(index_chunk, index_data.tobytes(), {
            "componentType": component, "count": int(index_data.size), "type": "SCALAR",
        })
        self.geometry[key] = (position_accessor, index_accessor)
        return self.geometry[key]

    def _accessor(self, chunk: str, data: bytes, accessor: dict[str, Any]) -> int:
        # Every accessor's offset is a multiple of its component size: positions come in
        # 12-byte vertices, uint16 indices in 6-byte triangles, uint32 in 12-byte ones.
        accessor = {"bufferView": chunk, "byteOffset": self.chunk_bytes[chunk], **accessor}
        self.chunks[chunk].append(data)
        self.chunk_bytes[chunk] += len(data)
        self.accessors.append(accessor)
        return len(self.accessors) - 1

    def _mesh(self, key: Any, accessors: tuple[int, int], material: int) -> int:
        if (key, material) not in self.mesh_index:
            position_accessor, index_accessor = accessors
            name = key[1] if key[0] == "twin" else ":".join(str(part) for part in key)
            self.meshes.append({"name": str(name), "primitives": [{
                "attributes": {"POSITION": position_accessor},
                "indices": index_accessor, "material": material}]})
            self.mesh_index[(key, material)] = len(self.meshes) - 1
        return self.mesh_index[(key, material)]

    def _material(self, name: str, style: Style) -> int:
        if name not in self.material_index:
            material: dict[str, Any] = {
                "name": name,
                "pbrMetallicRoughness": {"baseColorFactor": [*_linear_rgb(style.colour), style.alpha],
                                         "metallicFactor": 0.0, "roughnessFactor": style.roughness},
                # IFC triangulations are not always consistently wound, and ground sheets are
                # seen from below when orbiting: draw both sides.
                "doubleSided": True,
            }
            if style.alpha < 1.0:
                material["alphaMode"] = "BLEND"
            self.materials.append(material)
            self.legend.append({"material": name, "colour": style.colour, "alpha": style.alpha})
            self.material_index[name] = len(self.materials) - 1
        return self.material_index[name]

    # -- packing --------------------------------------------------------------------------

    def _pack(self) -> tuple[bytes, ExportStats]:
        twin = self.twin
        for index, parent in self.parent_of.items():
            self.nodes[parent].setdefault("children", []).append(index)
        scene_extras = {
            "twin": twin.name, "source": twin.source, "schema": twin.schema,
            "crs": twin.crs, "origin": [float(v) for v in twin.origin],
            "upAxis": "Y", "twinFrame": "x east, y north, z up (root node maps to glTF y-up)",
            "colourBy": self.colour_by, "legend": self.legend,
        }
        if self.diff is not None:
            scene_extras["diff"] = {"base": self.diff.base_name, "other": self.diff.other_name}
        gltf: dict[str, Any] = {
            "asset": {"version": "2.0", "generator": "Community Twin twin.export"},
            "scene": 0,
            "scenes": [{"name": twin.name, "nodes": [0], "extras": jsonable(scene_extras)}],
            "nodes": self.nodes,
        }
        binary = b""
        if self.meshes:
            binary, views, view_index = self._binary_and_views()
            for accessor in self.accessors:
                accessor["bufferView"] = view_index[accessor["bufferView"]]
            gltf.update(meshes=self.meshes, materials=self.materials, accessors=self.accessors,
                        bufferViews=views, buffers=[{"byteLength": len(binary)}])
        try:
            text = json.dumps(gltf, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except ValueError as exc:  # a NaN in a transform would have been caught earlier; be explicit
            raise TwinError(f"{twin.name}: cannot encode GLB JSON: {exc}") from exc
        data = _glb_container(text.encode("utf-8"), binary)
        shared = sum(users for users in self.geometry_users.values() if users > 1)
        stats = ExportStats(nodes=len(self.nodes), element_nodes=self.element_nodes,
                            ghost_nodes=self.ghost_nodes, meshes=len(self.meshes),
                            geometries=sum(1 for g in self.geometry.values() if g is not None),
                            instanced_nodes=shared, bytes=len(data))
        return data, stats

    def _binary_and_views(self) -> tuple[bytes, list[dict[str, Any]], dict[str, int]]:
        """One BIN chunk: all positions, then uint16 indices, then uint32 indices, 4-byte aligned;
        its buffer views, and the view index of each chunk name."""
        parts: list[bytes] = []
        offset = 0
        views: list[dict[str, Any]] = []
        view_index: dict[str, int] = {}
        for chunk, target in (("positions", _ARRAY_BUFFER), ("indices16", _ELEMENT_ARRAY_BUFFER),
                              ("indices32", _ELEMENT_ARRAY_BUFFER)):
            length = self.chunk_bytes[chunk]
            if length == 0:
                continue
            view: dict[str, Any] = {"buffer": 0, "byteOffset": offset, "byteLength": length, "target": target}
            if chunk == "positions":
                view["byteStride"] = 12  # several POSITION accessors share this view
            view_index[chunk] = len(views)
            views.append(view)
            parts.extend(self.chunks[chunk])
            padding = -length % 4
            parts.append(b"\0" * padding)
            offset += length + padding
        return b"".join(parts), views, view_index


def _glb_container(json_bytes: bytes, binary: bytes) -> bytes:
    """GLB: 12-byte header, JSON chunk padded with spaces, BIN chunk padded with zeros."""
    json_bytes += b" " * (-len(json_bytes) % 4)
    chunks = [struct.pack("<II", len(json_bytes), _CHUNK_JSON), json_bytes]
    if binary:
        binary += b"\0" * (-len(binary) % 4)
        chunks += [struct.pack("<II", len(binary), _CHUNK_BIN), binary]
    body = b"".join(chunks)
    return struct.pack("<III", _GLB_MAGIC, 2, 12 + len(body)) + body


def _checked_vertices(mesh: Mesh, where: str) -> np.ndarray:
    vertices = mesh.vertices
    if not np.isfinite(vertices).all():
        bad = int(np.count_nonzero(~np.isfinite(vertices).all(axis=1)))
        raise TwinError(f"{where}: {bad} vertices are not finite (NaN or infinity)")
    return vertices


def _is_trs(matrix: np.ndarray) -> bool:
    """Whether glTF can take the matrix as a node matrix: affine, columns orthogonal (rotation
    times a non-zero scale, mirroring allowed), no shear or projection."""
    if not np.array_equal(matrix[3], [0.0, 0.0, 0.0, 1.0]):
        return False
    linear = matrix[:3, :3]
    gram = linear.T @ linear
    scale_squared = np.diag(gram)
    if scale_squared.min() <= 1e-12 * max(scale_squared.max(), 1e-300):
        return False
    off_diagonal = gram - np.diag(scale_squared)
    cosines = off_diagonal / np.sqrt(np.outer(scale_squared, scale_squared))
    return float(np.abs(cosines).max()) <= 1e-6


def _column_major(matrix: np.ndarray) -> list[float]:
    return [float(v) for v in np.asarray(matrix, dtype=np.float64).T.ravel()]


def _linear_rgb(hex_colour: str) -> list[float]:
    """sRGB '#rrggbb' → linear RGB, as glTF's baseColorFactor expects (IEC 61966-2-1)."""
    srgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.float64) / 255.0
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    return [round(float(c), 5) for c in linear]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
