"""A state as the baseline plus a short list of retrofit actions (an actions TOML file).

Kinds of action (coordinates in twin metres; see ifc_models/sample_community/proposal_b.toml):

- `remove_building` — `building` (GlobalId): the building, its storeys and all it contains.
- `remove` — `elements` (list of GlobalIds).
- `add_building` — `key`, `name`, `footprint` [[x, y], ...], `storeys`, `storey_height_m`,
  optional `base_m`, `psets` (of the building: CT_ServicePoint, CT_Residential ...; a
  `CT_Surface` set goes on its roof). Makes an IfcBuilding with storeys, a floor slab and an
  exterior wall per storey, and a roof.
- `add_element` — `key`, `ifc_class`, optional `predefined_type`, `name`, `footprint`,
  `base_m`, `height_m`, `psets`, `container` (GlobalId; default the site).
- `set_property` — `element` (GlobalId), `pset`, `values` {name: value}.

GlobalIds of new elements derive from `key`, so applying the same file twice gives the
same Twin and diffs stay stable. The result is the same kind of Twin an IFC file gives.
"""
from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
from shapely.geometry import Polygon

from twin.errors import ProjectError
from twin.geometry import extrude_footprint, global_id
from twin.model import Element, Mesh, SpatialNode, Twin

KINDS = ("remove_building", "remove", "add_building", "add_element", "set_property")


def read_actions(path: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """([state] table, [[actions]] list) of an actions file, checked for shape."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProjectError(f"{path}: no such actions file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProjectError(f"{path}: not valid TOML: {exc}") from None
    actions = data.get("actions", [])
    if not isinstance(actions, list):
        raise ProjectError(f"{path}: 'actions' must be an array of tables ([[actions]])")
    for index, action in enumerate(actions):
        kind = action.get("kind")
        if kind not in KINDS:
            raise ProjectError(f"{path}: actions[{index}].kind is {kind!r}; expected one of {', '.join(KINDS)}")
    return data.get("state", {}), actions


def apply_actions(base: Twin, actions: list[dict[str, Any]], *, name: str, source: str) -> Twin:
    """A new Twin: `base` with `actions` applied in order (base is not modified)."""
    twin = Twin(name=name, source=source, schema=base.schema, crs=base.crs, origin=base.origin,
                elements=copy.deepcopy(base.elements), meshes=dict(base.meshes),
                spatial=copy.deepcopy(base.spatial), warnings=list(base.warnings), context=base.context)
    for index, action in enumerate(actions):
        where = f"{source}: actions[{index}] ({action.get('kind')})"
        handler = {"remove_building": _remove_building, "remove": _remove, "add_building": _add_building,
                   "add_element": _add_element, "set_property": _set_property}[action["kind"]]
        handler(twin, action, where)
    used = {e.mesh_id for e in twin.elements.values()} | {s.mesh_id for s in twin.spatial.values()}
    twin.meshes = {k: m for k, m in twin.meshes.items() if k in used}
    return twin


def _need(action: dict, field: str, where: str):
    if field not in action:
        raise ProjectError(f"{where}: missing field '{field}'")
    return action[field]


def _footprint(action: dict, where: str) -> Polygon:
    points = _need(action, "footprint", where)
    try:
        polygon = Polygon([(float(x), float(y)) for x, y in points])
    except (TypeError, ValueError):
        raise ProjectError(f"{where}: footprint must be a list of [x, y] pairs in metres") from None
    if not polygon.is_valid or polygon.area <= 0:
        raise ProjectError(f"{where}: footprint is not a simple polygon with positive area")
    return polygon


def _site_id(twin: Twin) -> str | None:
    return next((n.global_id for n in twin.spatial.values() if n.ifc_class == "IfcSite"), None)


def _remove_building(twin: Twin, action: dict, where: str) -> None:
    building = _need(action, "building", where)
    node = twin.spatial.get(building)
    if node is None or node.ifc_class != "IfcBuilding":
        raise ProjectError(f"{where}: building {building!r} is not an IfcBuilding of the base state")
    doomed = {building}
    changed = True
    while changed:
        changed = False
        for gid, child in twin.spatial.items():
            if child.parent in doomed and gid not in doomed:
                doomed.add(gid)
                changed = True
    for gid in doomed:
        twin.spatial.pop(gid, None)
    for gid in [g for g, e in twin.elements.items() if e.building == building or e.container in doomed]:
        del twin.elements[gid]


def _remove(twin: Twin, action: dict, where: str) -> None:
    for gid in _need(action, "elements", where):
        if gid not in twin.elements:
            raise ProjectError(f"{where}: element {gid!r} is not in the base state")
        del twin.elements[gid]


def _set_property(twin: Twin, action: dict, where: str) -> None:
    gid = _need(action, "element", where)
    pset = _need(action, "pset", where)
    values = _need(action, "values", where)
    target = twin.elements.get(gid) or twin.spatial.get(gid)
    if target is None:
        raise ProjectError(f"{where}: element {gid!r} is not in the base state")
    target.psets.setdefault(pset, {}).update(values)


def _add_mesh(twin: Twin, key: str, polygon: Polygon, z0: float, z1: float) -> str:
    vertices, faces = extrude_footprint(polygon, z1 - z0, base_z=z0)
    mesh_id = f"action:{key}"
    twin.meshes[mesh_id] = Mesh(vertices=vertices, faces=faces)
    return mesh_id


def _add_element(twin: Twin, action: dict, where: str) -> None:
    key = _need(action, "key", where)
    polygon = _footprint(action, where)
    base = float(action.get("base_m", 0.0))
    height = float(action.get("height_m", 0.2))
    if height <= 0:
        raise ProjectError(f"{where}: height_m must be positive, got {height}")
    container = action.get("container") or _site_id(twin)
    gid = global_id(key)
    if gid in twin.elements:
        raise ProjectError(f"{where}: key {key!r} gives GlobalId {gid} that already exists")
    node = twin.spatial.get(container or "")
    building = None
    storey = None
    while node is not None:
        if node.ifc_class == "IfcBuildingStorey" and storey is None:
            storey = node.name
        if node.ifc_class == "IfcBuilding":
            building = node.global_id
            break
        node = twin.spatial.get(node.parent or "")
    twin.elements[gid] = Element(
        global_id=gid, ifc_class=_need(action, "ifc_class", where), predefined_type=action.get("predefined_type"),
        name=action.get("name"), object_type=action.get("object_type"), container=container, storey=storey, building=building,
        psets=copy.deepcopy(action.get("psets", {})), status="NEW",
        mesh_id=_add_mesh(twin, key, polygon, base, base + height), transform=np.eye(4),
    )


def _add_building(twin: Twin, action: dict, where: str) -> None:
    key = _need(action, "key", where)
    polygon = _footprint(action, where)
    storeys = int(_need(action, "storeys", where))
    storey_height = float(action.get("storey_height_m", 3.0))
    base = float(action.get("base_m", 0.0))
    if storeys < 1 or storey_height <= 0:
        raise ProjectError(f"{where}: storeys must be ≥ 1 and storey_height_m > 0")
    psets = copy.deepcopy(action.get("psets", {}))
    roof_surface = psets.pop("CT_Surface", {"SurfaceType": "roof"})
    building_id = global_id(f"{key}/building")
    twin.spatial[building_id] = SpatialNode(global_id=building_id, ifc_class="IfcBuilding", name=action.get("name"),
                                            parent=_site_id(twin), psets={"Pset_BuildingCommon": {"NumberOfStoreys": storeys}, **psets})
    wall_ring = polygon.difference(polygon.buffer(-0.3, join_style="mitre"))
    for level in range(storeys):
        storey_id = global_id(f"{key}/storey/{level}")
        z = base + level * storey_height
        name = f"{level + 1}F"
        twin.spatial[storey_id] = SpatialNode(global_id=storey_id, ifc_class="IfcBuildingStorey", name=name, parent=building_id, elevation_m=z)
        slab_id = global_id(f"{key}/slab/{level}")
        twin.elements[slab_id] = Element(global_id=slab_id, ifc_class="IfcSlab", predefined_type="FLOOR", name=f"Floor {name}",
                                         container=storey_id, storey=name, building=building_id, status="NEW",
                                         mesh_id=_add_mesh(twin, f"{key}/slab/{level}", polygon, z, z + 0.2))
        if not wall_ring.is_empty and wall_ring.geom_type == "Polygon":
            wall_id = global_id(f"{key}/wall/{level}")
            twin.elements[wall_id] = Element(global_id=wall_id, ifc_class="IfcWall", name=f"Exterior wall {name}",
                                             container=storey_id, storey=name, building=building_id, status="NEW",
                                             psets={"Pset_WallCommon": {"IsExternal": True}},
                                             mesh_id=_add_mesh(twin, f"{key}/wall/{level}", wall_ring, z + 0.2, z + storey_height))
    top = base + storeys * storey_height
    roof_id = global_id(f"{key}/roof")
    twin.elements[roof_id] = Element(global_id=roof_id, ifc_class="IfcRoof", name="Roof", container=global_id(f"{key}/storey/{storeys - 1}"),
                                     storey=f"{storeys}F", building=building_id, status="NEW", psets={"CT_Surface": roof_surface},
                                     mesh_id=_add_mesh(twin, f"{key}/roof", polygon, top, top + 0.3))
    entrance = polygon.exterior.interpolate(0.5, normalized=True)
    door_id = global_id(f"{key}/door")
    door_poly = Polygon([(entrance.x - 0.9, entrance.y - 0.1), (entrance.x + 0.9, entrance.y - 0.1),
                         (entrance.x + 0.9, entrance.y + 0.1), (entrance.x - 0.9, entrance.y + 0.1)])
    twin.elements[door_id] = Element(global_id=door_id, ifc_class="IfcDoor", predefined_type="DOOR", name="Main entrance",
                                     container=global_id(f"{key}/storey/0"), storey="1F", building=building_id, status="NEW",
                                     attributes={"OverallWidth": 1.8}, psets={"Pset_DoorCommon": {"IsExternal": True}},
                                     mesh_id=_add_mesh(twin, f"{key}/door", door_poly, base, base + 2.4))
