"""CIM context: the city around the community, read from a GeoJSON FeatureCollection.

A community twin shows little on its own: designers and residents want to see the streets,
neighbouring blocks and service points the community sits in. `load_context` reads them
from one GeoJSON file in map coordinates (metres, in the twin's projected CRS — we never
reproject) and returns shapely geometries in twin coordinates (map minus `Twin.origin`);
`context_meshes` turns them into simple triangle meshes (LOD1 block buildings, flat road
ribbons and green areas) for the GLB export.

The file is a FeatureCollection whose features carry `properties.layer`:

| layer | geometry | properties (default when missing) |
|---|---|---|
| site_boundary | Polygon (at most one feature) | `name` |
| building | Polygon / MultiPolygon footprint | `height_m` (`storeys` × 3.0 m; one of the two is required), `name` |
| road | LineString / MultiLineString centreline, or Polygon / MultiPolygon surface | `width_m` (`lanes` × 3.5 m; 7.0 m), `name` |
| service_point | Point (a polygon is reduced to a point inside it) | `service_type`, `name` |
| green | Polygon / MultiPolygon | `name` |

The CRS is checked, not converted: a FeatureCollection may name its CRS in the GeoJSON 2008
`crs` member or in a top-level `crs_name`; it must then match the twin's CRS. Coordinates that
all fall within ±180 / ±90 are taken for longitude/latitude and rejected, whatever the file
declares — a projected community never lies within 180 m of its CRS's false origin.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, Polygon, shape
from shapely.validation import explain_validity

from twin.errors import ContextError
from twin.geometry import extrude_footprint, flat_surface

STOREY_HEIGHT_M = 3.0
"""Floor-to-floor height assumed when a context building gives `storeys` but no `height_m`
(typical of Chinese residential blocks, GB 50096-2011 allows 2.8–3.0 m)."""
LANE_WIDTH_M = 3.5
"""Lane width assumed when a road gives `lanes` but no `width_m` (CJJ 37-2012, urban roads)."""
DEFAULT_ROAD_WIDTH_M = 7.0
"""Carriageway width when a road gives neither `width_m` nor `lanes`: two 3.5 m lanes."""

LAYERS = ("site_boundary", "building", "road", "service_point", "green")

_ALLOWED_GEOMETRY = {
    "site_boundary": ("Polygon", "MultiPolygon"),
    "building": ("Polygon", "MultiPolygon"),
    "road": ("LineString", "MultiLineString", "Polygon", "MultiPolygon"),
    "service_point": ("Point", "Polygon", "MultiPolygon"),
    "green": ("Polygon", "MultiPolygon"),
}

# Geographic (longitude/latitude) CRSs likely to turn up for Chinese and international data:
# WGS 84, CGCS2000, Beijing 1954, Xian 1980, NAD83, ETRS89 and the OGC CRS84 family.
_GEOGRAPHIC_CRS = {
    "EPSG:4326", "EPSG:4490", "EPSG:4214", "EPSG:4610", "EPSG:4269", "EPSG:4258",
    "OGC:CRS84", "OGC:CRS83", "OGC:CRS27",
}


# --------------------------------------------------------------------------------------------
# Loading


def load_context(path: str | Path, *, crs: str | None, origin: tuple[float, float, float]) -> dict:
    """Read a GeoJSON context file into twin coordinates.

    `crs` is the twin's projected CRS (e.g. 'EPSG:4549') or None for a twin without
    georeferencing; `origin` is the map position of the twin's (0, 0, 0). Returns::

        {"site_boundary": Polygon | None,
         "buildings": [{"footprint", "height_m", "storeys", "name", "properties"}],
         "roads": [{"centreline", "surface", "width_m", "name", "properties"}],
         "service_points": [{"position", "service_type", "name", "properties"}],
         "green": [{"surface", "name", "properties"}],
         "source": str, "crs": str | None}

    Geometries are 2D shapely objects in metres relative to the origin. Raises
    `ContextError` naming the file, the feature index and the field for any bad input.
    """
    path = Path(path)
    collection = _read_json(path)
    features = _features(path, collection)
    declared_crs = _declared_crs(path, collection)
    _check_crs(path, declared_crs, crs)

    parsed = [_parse_feature(path, index, feature) for index, feature in enumerate(features)]
    _reject_lon_lat(path, [geometry for _, _, geometry in parsed], crs)

    offset = np.array([float(origin[0]), float(origin[1])])
    context: dict[str, Any] = {
        "site_boundary": None,
        "buildings": [],
        "roads": [],
        "service_points": [],
        "green": [],
        "source": str(path),
        "crs": crs,
    }
    for index, (layer, properties, geometry) in enumerate(parsed):
        local = shapely.transform(geometry, lambda xy: xy - offset)
        where = f"{path}: features[{index}] (layer '{layer}')"
        name = properties.get("name")
        if layer == "site_boundary":
            if context["site_boundary"] is not None:
                raise ContextError(f"{where}: a second site_boundary; the file may hold only one")
            context["site_boundary"] = _single_polygon(where, local)
        elif layer == "building":
            height_m, storeys = _building_height(where, properties)
            context["buildings"].append(
                {"footprint": local, "height_m": height_m, "storeys": storeys,
                 "name": name, "properties": properties}
            )
        elif layer == "road":
            context["roads"].append(_road(where, local, properties))
        elif layer == "service_point":
            position = local if isinstance(local, Point) else local.representative_point()
            context["service_points"].append(
                {"position": position, "service_type": properties.get("service_type"),
                 "name": name, "properties": properties}
            )
        else:  # green
            context["green"].append({"surface": local, "name": name, "properties": properties})
    return context


def attach_context(twin, path: str | Path) -> dict:
    """Load a context file for `twin` (its CRS and origin) and store it in `twin.context`."""
    twin.context = load_context(path, crs=twin.crs, origin=twin.origin)
    twin.invalidate_layers()
    return twin.context


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContextError(f"{path}: context file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ContextError(f"{path}: cannot read context file: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ContextError(
            f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None


def _features(path: Path, collection: Any) -> list:
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise ContextError(f"{path}: expected a GeoJSON FeatureCollection at the top level")
    features = collection.get("features")
    if not isinstance(features, list):
        raise ContextError(f"{path}: 'features' must be a list")
    return features


def _parse_feature(path: Path, index: int, feature: Any) -> tuple[str, dict, Any]:
    """(layer, properties, shapely geometry in map coordinates) of one feature, checked."""
    where = f"{path}: features[{index}]"
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise ContextError(f"{where}: expected a GeoJSON Feature object")
    properties = feature.get("properties")
    if not isinstance(properties, dict):
        raise ContextError(f"{where}: missing 'properties' (needs properties.layer)")
    layer = properties.get("layer")
    if layer is None:
        raise ContextError(f"{where}: missing properties.layer (one of {', '.join(LAYERS)})")
    if layer not in LAYERS:
        raise ContextError(
            f"{where}: unknown properties.layer {layer!r} (expected one of {', '.join(LAYERS)})"
        )
    where = f"{where} (layer '{layer}')"
    geojson_geometry = feature.get("geometry")
    if not isinstance(geojson_geometry, dict):
        raise ContextError(f"{where}: missing geometry")
    kind = geojson_geometry.get("type")
    allowed = _ALLOWED_GEOMETRY[layer]
    if kind not in allowed:
        raise ContextError(
            f"{where}: geometry type {kind!r} not allowed, expected {' or '.join(allowed)}"
        )
    try:
        geometry = shape(geojson_geometry)
    except Exception as exc:  # shapely raises several types for malformed coordinate arrays
        raise ContextError(f"{where}: malformed geometry coordinates: {exc}") from None
    geometry = shapely.force_2d(geometry)
    if geometry.is_empty:
        raise ContextError(f"{where}: empty geometry")
    if not np.isfinite(shapely.get_coordinates(geometry)).all():
        raise ContextError(f"{where}: geometry has non-finite coordinates")
    if kind in ("Polygon", "MultiPolygon") and not geometry.is_valid:
        raise ContextError(f"{where}: invalid polygon: {explain_validity(geometry)}")
    return layer, properties, geometry


# --------------------------------------------------------------------------------------------
# CRS checks


def normalise_crs_name(name: str) -> str:
    """'urn:ogc:def:crs:EPSG::4549', 'EPSG:4549', 'http://www.opengis.net/def/crs/EPSG/0/4549'
    all become 'EPSG:4549'; OGC CRS84 becomes 'OGC:CRS84'; anything else is stripped."""
    text = name.strip()
    match = re.search(r"EPSG(?:/0/|::?|:[\d.]*:)(\d+)\s*$", text, flags=re.IGNORECASE)
    if match:
        return f"EPSG:{int(match.group(1))}"
    match = re.search(r"(CRS\d\d)\s*$", text, flags=re.IGNORECASE)
    if match:
        return f"OGC:{match.group(1).upper()}"
    return text


def _declared_crs(path: Path, collection: dict) -> str | None:
    """The CRS the file declares, normalised, or None when it declares none."""
    names: list[str] = []
    member = collection.get("crs")
    if member is not None:
        props = member.get("properties") if isinstance(member, dict) else None
        if not isinstance(props, dict):
            raise ContextError(f"{path}: 'crs' member must be an object with 'properties'")
        if isinstance(props.get("name"), str):
            names.append(props["name"])
        elif member.get("type") == "EPSG" and props.get("code") is not None:  # pre-2008 form
            names.append(f"EPSG:{props['code']}")
        else:
            raise ContextError(f"{path}: 'crs' member has no properties.name")
    if "crs_name" in collection:
        if not isinstance(collection["crs_name"], str):
            raise ContextError(f"{path}: 'crs_name' must be a string such as 'EPSG:4549'")
        names.append(collection["crs_name"])
    normalised = {normalise_crs_name(name) for name in names}
    if len(normalised) > 1:
        raise ContextError(f"{path}: 'crs' and 'crs_name' disagree: {' vs '.join(sorted(normalised))}")
    return normalised.pop() if normalised else None


def _check_crs(path: Path, declared: str | None, twin_crs: str | None) -> None:
    if declared is None:
        return
    if declared.upper() in _GEOGRAPHIC_CRS:
        raise ContextError(
            f"{path}: declared CRS {declared} is longitude/latitude; context files need projected "
            f"coordinates in metres in the twin's CRS ({twin_crs or 'none'}) — reproject first, "
            f"e.g. ogr2ogr -t_srs {twin_crs or 'EPSG:<code>'} out.geojson {path.name}"
        )
    if twin_crs is None:
        raise ContextError(
            f"{path}: declares CRS {declared} but the twin is not georeferenced "
            "(its IFC has no IfcMapConversion), so the context cannot be placed"
        )
    if declared.casefold() != normalise_crs_name(twin_crs).casefold():
        raise ContextError(
            f"{path}: CRS mismatch: the file is in {declared}, the twin in {twin_crs}; "
            "reproject the context file to the twin's CRS"
        )


def _reject_lon_lat(path: Path, geometries: list, twin_crs: str | None) -> None:
    if not geometries:
        return
    xy = shapely.get_coordinates(geometries)
    if np.all(np.abs(xy[:, 0]) <= 180.0) and np.all(np.abs(xy[:, 1]) <= 90.0):
        raise ContextError(
            f"{path}: all coordinates lie within ±180/±90, so they look like longitude/latitude; "
            f"context files need projected coordinates in metres in the twin's CRS "
            f"({twin_crs or 'none'}) — we do not reproject"
        )


# --------------------------------------------------------------------------------------------
# Per-layer fields


def _positive_number(where: str, properties: dict, field: str) -> float | None:
    value = properties.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ContextError(f"{where}: properties.{field} must be a positive number, got {value!r}")
    return float(value)


def _building_height(where: str, properties: dict) -> tuple[float, int | None]:
    height_m = _positive_number(where, properties, "height_m")
    storeys = _positive_number(where, properties, "storeys")
    if storeys is not None and storeys != int(storeys):
        raise ContextError(f"{where}: properties.storeys must be a whole number, got {storeys!r}")
    storeys_count = int(storeys) if storeys is not None else None
    if height_m is None:
        if storeys_count is None:
            raise ContextError(f"{where}: building needs properties.height_m (metres) or properties.storeys")
        height_m = storeys_count * STOREY_HEIGHT_M
    return height_m, storeys_count


def _road(where: str, local, properties: dict) -> dict:
    width_m = _positive_number(where, properties, "width_m")
    lanes = _positive_number(where, properties, "lanes")
    if width_m is None:
        width_m = lanes * LANE_WIDTH_M if lanes is not None else DEFAULT_ROAD_WIDTH_M
    if isinstance(local, (LineString, MultiLineString)):
        centreline = local
        # Flat caps: the ribbon ends where the centreline ends, as the road does.
        surface = local.buffer(width_m / 2.0, cap_style="flat", join_style="round", quad_segs=2)
    else:
        centreline = None
        surface = local
    return {"centreline": centreline, "surface": surface, "width_m": width_m,
            "name": properties.get("name"), "properties": properties}


def _single_polygon(where: str, geometry) -> Polygon:
    if isinstance(geometry, MultiPolygon):
        if len(geometry.geoms) != 1:
            raise ContextError(f"{where}: site boundary must be a single polygon, got {len(geometry.geoms)} parts")
        return geometry.geoms[0]
    return geometry


# --------------------------------------------------------------------------------------------
# Meshes


def context_meshes(context: dict) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Triangle meshes of the context for display, in twin coordinates.

    Buildings are LOD1 blocks (walls, flat roof, flat floor: closed and outward-facing) from
    z = 0 to their height; roads and green areas are flat upward-facing surfaces at z = 0.
    Returns (name, vertices (n, 3) float64, faces (m, 3) int32) tuples named
    'context/building/<i>', 'context/road/<i>', 'context/green/<i>' after their index in
    the context lists.
    """
    meshes: list[tuple[str, np.ndarray, np.ndarray]] = []
    for index, building in enumerate(context.get("buildings", [])):
        vertices, faces = extrude_footprint(building["footprint"], building["height_m"])
        meshes.append((f"context/building/{index}", vertices, faces))
    for kind, items in (("road", context.get("roads", [])), ("green", context.get("green", []))):
        for index, item in enumerate(items):
            vertices, faces = flat_surface(item["surface"], z=0.0)
            if len(faces):
                meshes.append((f"context/{kind}/{index}", vertices, faces))
    return meshes
