"""Small mesh builders shared by the twin: prisms from plan polygons, IFC-style GlobalIds.

Used where the twin makes geometry itself rather than reading it from IFC: retrofit
actions (`twin.actions`) and LOD1 city context (`twin.cim`).
"""
from __future__ import annotations

import uuid

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.polygon import orient

_IFC_BASE64 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_$"
_NAMESPACE = uuid.UUID("6f1c3a52-8d0e-4b8e-9a51-3c2f0d4e7b10")


def global_id(key: str) -> str:
    """A deterministic 22-character IFC GlobalId for `key` (UUID5, IFC base-64 alphabet)."""
    number = uuid.uuid5(_NAMESPACE, key).int
    chars = [_IFC_BASE64[number >> 126]]
    chars += [_IFC_BASE64[(number >> (6 * i)) & 63] for i in range(20, -1, -1)]
    return "".join(chars)


def extrude_polygon(polygon: Polygon, z0: float, z1: float) -> tuple[np.ndarray, np.ndarray]:
    """A closed prism over `polygon` (holes allowed) from z0 to z1: (vertices (n,3) float64,
    faces (m,3) int32), outward-facing counter-clockwise triangles."""
    if polygon.is_empty or polygon.area <= 0:
        raise ValueError("cannot extrude an empty polygon")
    polygon = orient(polygon, sign=1.0)  # exterior counter-clockwise, holes clockwise
    tris = shapely.get_parts(shapely.constrained_delaunay_triangles(polygon))
    vertices: list[tuple[float, float, float]] = []
    faces: list[tuple[int, int, int]] = []
    for tri in tris:
        ring = np.asarray(tri.exterior.coords)[:3]
        a, b, c = ring
        if (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]) < 0:
            b, c = c, b
        n = len(vertices)
        vertices += [(a[0], a[1], z1), (b[0], b[1], z1), (c[0], c[1], z1)]
        faces.append((n, n + 1, n + 2))  # top, facing up
        vertices += [(a[0], a[1], z0), (b[0], b[1], z0), (c[0], c[1], z0)]
        faces.append((n + 3, n + 5, n + 4))  # bottom, facing down
    for ring in [polygon.exterior, *polygon.interiors]:
        coords = np.asarray(ring.coords)[:-1]
        for i in range(len(coords)):
            p, q = coords[i], coords[(i + 1) % len(coords)]
            n = len(vertices)
            vertices += [(p[0], p[1], z0), (q[0], q[1], z0), (q[0], q[1], z1), (p[0], p[1], z1)]
            faces += [(n, n + 1, n + 2), (n, n + 2, n + 3)]  # ring orientation makes these face out
    return np.asarray(vertices, dtype=np.float64), np.asarray(faces, dtype=np.int32)
