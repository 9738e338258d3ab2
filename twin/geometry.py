"""Small mesh builders shared by the twin: prisms from plan polygons, IFC-style GlobalIds.

Used where the twin makes geometry itself rather than reading it from IFC: retrofit
actions (`twin.actions`) and LOD1 city context (`twin.cim`).
"""
from __future__ import annotations

import uuid

import numpy as np
import shapely
from shapely.geometry import Polygon

_IFC_BASE64 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_$"
_NAMESPACE = uuid.UUID("6f1c3a52-8d0e-4b8e-9a51-3c2f0d4e7b10")


def global_id(key: str) -> str:
    """A deterministic 22-character IFC GlobalId for `key` (UUID5, IFC base-64 alphabet)."""
    number = uuid.uuid5(_NAMESPACE, key).int
    chars = [_IFC_BASE64[number >> 126]]
    chars += [_IFC_BASE64[(number >> (6 * i)) & 63] for i in range(20, -1, -1)]
    return "".join(chars)


def _polygons(geometry) -> list[Polygon]:
    if isinstance(geometry, Polygon):
        return [geometry] if not geometry.is_empty else []
    if hasattr(geometry, "geoms"):
        return [part for child in geometry.geoms for part in _polygons(child)]
    return []


def _rings(polygon: Polygon) -> tuple[Polygon, list[np.ndarray]]:
    """The polygon without repeated points, and its rings as (k, 2) arrays without the closing
    point: exterior counter-clockwise, holes clockwise, so the interior is always on the left."""
    cleaned = shapely.orient_polygons(shapely.remove_repeated_points(polygon))
    rings = [cleaned.exterior, *cleaned.interiors]
    return cleaned, [np.asarray(ring.coords, dtype=np.float64)[:-1, :2] for ring in rings]


def _cap_triangles(polygon: Polygon, index_of: dict[tuple[float, float], int]) -> np.ndarray:
    """Counter-clockwise (upward) triangles of a polygon, as indices into its ring vertices."""
    triangles = shapely.constrained_delaunay_triangles(polygon)
    faces = []
    for triangle in triangles.geoms:
        corners = np.asarray(triangle.exterior.coords, dtype=np.float64)[:3, :2]
        # Shoelace: twice the signed area, positive when counter-clockwise.
        twice_area = ((corners[1, 0] - corners[0, 0]) * (corners[2, 1] - corners[0, 1])
                      - (corners[2, 0] - corners[0, 0]) * (corners[1, 1] - corners[0, 1]))
        if twice_area == 0.0:
            continue
        ids = [index_of[(x, y)] for x, y in corners]
        faces.append(ids if twice_area > 0 else ids[::-1])
    return np.asarray(faces, dtype=np.int32).reshape(-1, 3)


def extrude_footprint(footprint, height_m: float, base_z: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A closed prism over a (multi)polygon footprint: floor at `base_z`, roof at
    `base_z + height_m`, faces counter-clockwise seen from outside. Holes (courtyards) stay open
    to the sky with walls around them."""
    all_vertices: list[np.ndarray] = []
    all_faces: list[np.ndarray] = []
    offset = 0
    for polygon in _polygons(footprint):
        polygon, rings = _rings(polygon)
        plan = np.concatenate(rings)
        count = len(plan)
        index_of = {(float(x), float(y)): i for i, (x, y) in enumerate(plan)}
        roof = _cap_triangles(polygon, index_of)
        floor = roof[:, ::-1]
        walls = []
        start = 0
        for ring in rings:
            k = len(ring)
            a = start + np.arange(k)
            b = start + (np.arange(k) + 1) % k
            # With the interior on the left of a -> b, (a, b, b') faces outward (to the right).
            walls.append(np.stack([a, b, b + count], axis=1))
            walls.append(np.stack([a, b + count, a + count], axis=1))
            start += k
        vertices = np.vstack([
            np.column_stack([plan, np.full(count, base_z)]),
            np.column_stack([plan, np.full(count, base_z + height_m)]),
        ])
        faces = np.vstack([floor, roof + count, *walls])
        all_vertices.append(vertices)
        all_faces.append(faces + offset)
        offset += len(vertices)
    if not all_vertices:
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int32)
    return np.vstack(all_vertices).astype(np.float64), np.vstack(all_faces).astype(np.int32)


def flat_surface(surface, z: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Upward-facing triangles of a (multi)polygon at height z."""
    all_vertices: list[np.ndarray] = []
    all_faces: list[np.ndarray] = []
    offset = 0
    for polygon in _polygons(surface):
        polygon, rings = _rings(polygon)
        plan = np.concatenate(rings)
        index_of = {(float(x), float(y)): i for i, (x, y) in enumerate(plan)}
        all_vertices.append(np.column_stack([plan, np.full(len(plan), z)]))
        all_faces.append(_cap_triangles(polygon, index_of) + offset)
        offset += len(plan)
    if not all_vertices:
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int32)
    return np.vstack(all_vertices).astype(np.float64), np.vstack(all_faces).astype(np.int32)
