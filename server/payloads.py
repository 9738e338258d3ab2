"""Twin objects as JSON payloads: an element's or spatial node's properties, the layers as GeoJSON.

Keys are camelCase like the GLB node extras the viewer picks from (globalId, ifcClass, ...),
and every value goes through `twin.diff.jsonable` (numpy to Python, NaN to null).
Layer features are in twin coordinates (metres, x east, y north, z up from `origin`), not
WGS 84: the viewer hangs them under the GLB's twin-root node, where the meshes are too.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from shapely.geometry import LineString, Point, mapping
from shapely.geometry.base import BaseGeometry

from twin.diff import jsonable
from twin.layers import LAYER_NAMES, Layers
from twin.model import Element, SpatialNode, Twin


def element_json(element: Element) -> dict[str, Any]:
    return {
        "globalId": element.global_id,
        "ifcClass": element.ifc_class,
        "predefinedType": element.predefined_type,
        "name": element.name,
        "objectType": element.object_type,
        "storey": element.storey,
        "building": element.building,
        "container": element.container,
        "status": element.status,
        "attributes": jsonable(element.attributes),
        "psets": jsonable(element.psets),
        "systems": jsonable(element.systems),
        "connectedTo": jsonable(element.connected_to),
        "spatial": False,
    }


def spatial_json(twin: Twin, node: SpatialNode) -> dict[str, Any]:
    """A site, building or storey (or the project): the element keys that apply, plus its
    parent, children and elevation."""
    children = [gid for gid, other in twin.spatial.items() if other.parent == node.global_id]
    building = None
    cursor: SpatialNode | None = node
    while cursor is not None:  # the building a storey belongs to (or the node itself)
        if cursor.ifc_class == "IfcBuilding":
            building = cursor.global_id
            break
        cursor = twin.spatial.get(cursor.parent) if cursor.parent else None
    return {
        "globalId": node.global_id,
        "ifcClass": node.ifc_class,
        "predefinedType": None,
        "name": node.name,
        "objectType": None,
        "storey": node.name if node.ifc_class == "IfcBuildingStorey" else None,
        "building": building,
        "container": node.parent,
        "status": None,
        "attributes": {},
        "psets": jsonable(node.psets),
        "systems": [],
        "connectedTo": [],
        "spatial": True,
        "parent": node.parent,
        "children": children,
        "elevationM": jsonable(node.elevation_m),
        "elements": sum(1 for e in twin.elements.values() if e.container == node.global_id),
    }


def layers_geojson(twin: Twin, layers: Layers) -> dict[str, Any]:
    """Every layer item as a GeoJSON feature: `properties.layer` names its layer, the other
    properties are the item's fields; the geometry is its footprint, centreline, pipe axis
    (start → end) or position."""
    features = []
    for layer in LAYER_NAMES:
        for item in getattr(layers, layer):
            geometry, properties = _split(item)
            features.append({
                "type": "Feature",
                "id": f"{layer}:{properties.get('global_id')}",
                "geometry": geometry,
                "properties": {"layer": layer, **properties},
            })
    if layers.site_boundary is not None:
        features.append({"type": "Feature", "id": "site_boundary", "geometry": _geometry(layers.site_boundary),
                         "properties": {"layer": "site_boundary", "area_m2": jsonable(layers.site_boundary.area)}})
    return {
        "type": "FeatureCollection",
        "features": features,
        "twin": {"name": twin.name, "crs": twin.crs, "origin": jsonable(twin.origin),
                 "frame": "twin coordinates: metres, x east, y north, z up, relative to origin"},
        "counts": layers.counts(),
    }


def _split(item: Any) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(GeoJSON geometry, the other fields) of a layer dataclass."""
    values = {f.name: getattr(item, f.name) for f in dataclasses.fields(item)}
    geometry = None
    for name in ("footprint", "centreline"):
        if isinstance(values.get(name), BaseGeometry):
            geometry = _geometry(values.pop(name))
            break
    if geometry is None and values.get("start") is not None and values.get("end") is not None:
        geometry = _geometry(LineString([values["start"], values["end"]]))
    if geometry is None and values.get("position") is not None:
        geometry = _geometry(Point(values["position"]))
    properties = {name: jsonable(value) for name, value in values.items()
                  if not isinstance(value, BaseGeometry)}
    return geometry, properties


def _geometry(shape: BaseGeometry) -> dict[str, Any] | None:
    if shape is None or shape.is_empty:
        return None
    return jsonable(mapping(shape))
