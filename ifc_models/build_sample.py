#!/usr/bin/env python
"""Generate the sample community: an old residential community in Zhifu district, Yantai.

    python ifc_models/build_sample.py [--out ifc_models/sample_community] [--check]

writes, in the output folder:

- ``baseline.ifc``    the community before retrofit (IFC4X3_ADD2, metres, georeferenced);
- ``proposal_a.ifc``  "comprehensive improvement": the baseline plus LID facilities, a one-way
  loop, parking and EV chargers, elevators, a new gate, renewed and upsized storm pipes, an
  elderly service point in converted ground-floor storage rooms;
- ``proposal_b.toml`` "demolition-renewal": an action list applied to the baseline;
- ``project.toml``    the states and settings;
- ``context.geojson`` the surrounding city (CIM context) in EPSG:4549 map coordinates;
- ``rain_synthetic_10y.csv`` a SYNTHETIC ten-year hourly rain record (annual control rate).

Both IFC files come from one in-code description of the community (`describe(state)`), so an
element that exists in both states has the same GlobalId in both: every GlobalId is derived
from a stable key (`gid(key)`, a name-based UUID). Reruns give byte-identical files: the header
timestamp and author are fixed and every GlobalId (relationships and property sets included)
is derived from a key, never random.

Coordinates are twin coordinates: metres, x east, y north, z up; (0, 0, 0) is the south-west
corner of the site at ground level, which is E 616000, N 4150000, H 10 m in EPSG:4549
(CGCS2000 / 3-degree Gauss-Kruger CM 120E). The community, its street names and everything in
it are fictitious; the layout follows north-China practice (E-W walk-up slabs, south gardens,
entrances on the north facade).

The surfaces tile the site exactly: roofs (building footprints), road pavements, paving
(per road-bounded cell: the cell minus roofs, green areas and parking lots; parking lots are
their own paving slabs) and green areas. The perimeter wall stands on the surfaces (the green
belt along the boundary, or the gate roads); it is not cut out of them. Road pavements meet at
junctions with mitred ends (each end point of a centreline lies on its own body, so no two
pavements overlap while every centreline still runs junction to junction along local +X).
"""
from __future__ import annotations

import argparse
import bisect
import json
import math
import os
import sys
import time
import uuid
from datetime import timedelta
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon, box
from shapely.geometry.polygon import orient
from shapely.ops import unary_union

import ifcopenshell
import ifcopenshell.api.aggregate
import ifcopenshell.api.context
import ifcopenshell.api.georeference
import ifcopenshell.api.project
import ifcopenshell.api.pset
import ifcopenshell.api.root
import ifcopenshell.api.spatial
import ifcopenshell.api.system
import ifcopenshell.api.type
import ifcopenshell.api.unit
import ifcopenshell.guid

# --------------------------------------------------------------------------- constants

STATES = ("baseline", "proposal_a")
ORIGIN = (616000.0, 4150000.0, 10.0)
"""EPSG:4549 easting, northing and orthometric height of the twin's (0, 0, 0)."""
CRS_NAME = "EPSG:4549"
CRS_DESCRIPTION = "CGCS2000 / 3-degree Gauss-Kruger CM 120E"
TIMESTAMP = "2025-01-01T00:00:00+08:00"
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "sample-community.community-twin")

SITE = [(0.0, 0.0), (440.0, 0.0), (500.0, 40.0), (500.0, 400.0), (250.0, 404.0), (0.0, 400.0)]
"""Site boundary, counter-clockwise. The north side peaks at (250, 404): the lowest corner of the
site (the ground falls gently north, toward the sea), where the storm outfall is."""
OUTFALL_XY = (250.0, 401.0)

RING_OFFSET, RING_W = 8.0, 6.5          # perimeter road centreline offset from the boundary, width
NS_ROADS, NS_W = (170.0, 335.0), 5.0    # internal north-south roads (fire lanes)
EW_ROADS = {100.0: 4.5, 200.0: 5.0, 300.0: 4.5}
LANES, LANE_W = (54.0, 150.0, 250.0, 346.0), 3.5
PATH_W = 2.0
ROW_LINES = (54.0, 100.0, 150.0, 200.0, 250.0, 300.0, 346.0)   # rows of cells between roads/lanes

WALL_T, WALL_H = 0.24, 2.2
STOREY_H, STOREYS, BLOCK_D, UNIT_W = 2.9, 6, 14.0, 12.5
SLAB_T, ROOF_T, EXT_WALL_T = 0.15, 0.2, 0.3
YARD = 6.0      # entrance yard north of a block
PATH = 3.0      # paved strip along roads before a lawn starts
DU_PER_FLOOR_PER_UNIT = 3

SPEED_LIMIT = 5.56   # m/s, 20 km/h (GB 50180-2018 internal roads)
MANNING_N = 0.013
MIN_SLOPE = 0.003
HEAD_INVERT = -1.2
STORM_Q = (2001.0, 0.811, 8.0, 0.711)
"""Storm-intensity formula q = A(1 + C lgP)/(t + b)^n, L/(s·ha), t in minutes: the typical
north-China set sim/stormwater/rainfall.py uses for Yantai (see docs/rainfall.md)."""
RUNOFF_COEF, INLET_TIME_MIN, FLOW_SPEED_MPS = 0.75, 5.0, 1.0
"""Rational-method sizing: composite runoff coefficient of an old community (roofs and roads
about two thirds of the site; SWMM gives a volumetric coefficient of about 0.75 here), inlet
time and pipe flow speed for the time of concentration (GB 50014-2021 §4.2)."""
BASE_RETURN_Y, RENEWED_RETURN_Y = 1.0, 3.0
"""The old network was sized for the 1-year storm; proposal A renews what falls short of 3 years."""
PIPE_SIZES = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.35, 1.5, 1.65, 1.8)
MAX_MANHOLE_SPACING = 40.0

# Cell plan: (column, row) -> use. "2" two 5-unit blocks; "1W:use"/"1E:use" one 6-unit block at
# the west/east end and the free part used as a parking lot, park (with an assembly area),
# garden, or paved square.
PLAN = {
    ("W", 0): "2", ("M", 0): "1W:lot", ("E", 0): "1W:garden",
    ("W", 1): "1E:lot", ("M", 1): "2", ("E", 1): "1W:square",
    ("W", 2): "1W:park", ("M", 2): "1E:garden", ("E", 2): "2",
    ("W", 3): "1E:garden", ("M", 3): "centre", ("E", 3): "1W:lot",
    ("W", 4): "1W:elderly", ("M", 4): "kindergarten", ("E", 4): "1E:square",
    ("W", 5): "2", ("M", 5): "1W:garden", ("E", 5): "1E:park",
    ("W", 6): "1E:lot", ("M", 6): "1W:park", ("E", 6): "2",
    ("W", 7): "1W:garden", ("M", 7): "1E:lot", ("E", 7): "1W:lot",
}
UNSAFE_BLOCK = 17
ELEVATOR_BLOCKS = (2, 5, 8, 11, 14, 20, 23, 26)
GREEN_ROOF_BLOCKS = (1, 6, 12, 19, 25)
RAIN_GARDEN_BLOCKS = (3, 7, 10, 13, 16, 21, 24, 27)
NEW_LOT_CELL, POCKET_PARK_CELL = ("E", 1), ("E", 4)

# Gates: key -> (boundary point, width, vehicular, service time s, states it exists in)
GATES = {
    "S": ((170.0, 0.0), 7.0, True, 4.0, STATES),
    "W": ((0.0, 200.0), 6.0, True, 4.0, STATES),
    "N": ((335.0, None), 2.0, False, 0.0, STATES),
    "E": ((500.0, 200.0), 7.0, True, 4.0, ("proposal_a",)),
}

# One-way loop of proposal A (clockwise around the community centre and the kindergarten).
ONE_WAY_LOOP = [(170.0, 150.0), (170.0, 200.0), (170.0, 250.0), (335.0, 250.0),
                (335.0, 200.0), (335.0, 150.0), (170.0, 150.0)]


def gid(key: str) -> str:
    """The GlobalId of the element with this stable key."""
    return ifcopenshell.guid.compress(uuid.uuid5(NAMESPACE, key).hex)


# --------------------------------------------------------------------------- description


@dataclass
class Obj:
    """One IFC object of the description: a spatial element or an element."""

    key: str
    ifc_class: str
    name: str
    parent: str | None = None
    """Spatial element key: the aggregating parent of a spatial element, the container of an element."""
    spatial: bool = False
    predefined: str | None = None
    object_type: str | None = None
    matrix: np.ndarray = field(default_factory=lambda: np.eye(4))
    """Object placement in twin coordinates (4x4)."""
    bodies: list = field(default_factory=list)
    """Solids in the object's local frame: ("prism", polygon, z0, h) | ("rect", x0, y0, dx, dy, z0, h)
    | ("cyl", r, z0, h) | ("pipe", r, length) | ("map", name)."""
    psets: dict = field(default_factory=dict)
    qtos: dict = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)


@dataclass
class Model:
    state: str
    objs: list[Obj] = field(default_factory=list)
    pipes: list[tuple[str, str, str, float, float]] = field(default_factory=list)
    """(pipe key, upstream node key, downstream node key, up port height, down port height)."""
    storm_members: list[str] = field(default_factory=list)
    typed: dict[str, list[str]] = field(default_factory=dict)
    covers: list[tuple[str, str]] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def add(self, obj: Obj) -> Obj:
        self.objs.append(obj)
        return obj


def translation(x: float, y: float, z: float = 0.0) -> np.ndarray:
    m = np.eye(4)
    m[:3, 3] = (x, y, z)
    return m


def frame(origin, xdir, zdir=(0.0, 0.0, 1.0)) -> np.ndarray:
    """A right-handed placement with local X along xdir and local Z along zdir."""
    x = np.asarray(xdir, float)
    x = x / np.linalg.norm(x)
    z = np.asarray(zdir, float)
    z = z - x * np.dot(z, x)
    z = z / np.linalg.norm(z)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = x, np.cross(z, x), z, origin
    return m


def to_local(poly: Polygon, m: np.ndarray) -> Polygon:
    """A plan polygon in twin coordinates expressed in the xy plane of placement m."""
    inv = np.linalg.inv(m)

    def conv(coords):
        a = np.asarray(coords)[:, :2]
        return a @ inv[:2, :2].T + inv[:2, 3]

    return Polygon(conv(poly.exterior.coords), [conv(r.coords) for r in poly.interiors])


def parts(geom) -> list[Polygon]:
    """The polygons of a (multi)polygon or collection, largest first, without slivers."""
    if geom.is_empty:
        return []
    polys = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon)]
    return sorted((p for p in polys if p.area > 0.01), key=lambda p: (-round(p.area, 3), p.centroid.x))


def normalized(poly: Polygon) -> Polygon:
    """The same polygon with a canonical vertex order: exterior counter-clockwise, holes clockwise,
    every ring starting at its lowest-leftmost vertex, holes sorted."""
    def ring(coords, ccw):
        pts = [tuple(c) for c in coords[:-1]]
        changed = True
        while changed:   # drop repeated, collinear and spike (back-tracking) vertices
            changed = False
            for i in range(len(pts)):
                a, b, c = np.array(pts[i - 1]), np.array(pts[i]), np.array(pts[(i + 1) % len(pts)])
                u, v = b - a, c - b
                if np.linalg.norm(u) < 1e-7 or abs(u[0] * v[1] - u[1] * v[0]) < 1e-7 * max(np.linalg.norm(u), 1e-9):
                    del pts[i]
                    changed = True
                    break
        assert len(set(pts)) == len(pts), "self-touching ring"
        if shapely.is_ccw(shapely.linearrings(pts)) != ccw:
            pts = pts[::-1]
        k = min(range(len(pts)), key=lambda i: (round(pts[i][1], 6), round(pts[i][0], 6)))
        return pts[k:] + pts[:k]
    poly = orient(poly, 1.0)
    holes = sorted((ring(list(r.coords), False) for r in poly.interiors), key=lambda h: (round(h[0][1], 6), round(h[0][0], 6)))
    return Polygon(ring(list(poly.exterior.coords), True), holes)


def plan_bodies(geom, m: np.ndarray, z0: float, h: float) -> list:
    return [("prism", to_local(normalized(p), m), z0, h) for p in parts(geom)]


def r6(v: float) -> float:
    return round(float(v), 6) + 0.0


# ------------------------------------------------------------------ roads and cells


@dataclass
class Road:
    key: str
    name: str
    kind: str
    width: float
    p0: tuple
    p1: tuple
    source: str
    poly: Any = None


def snap(p) -> tuple[float, float]:
    return (round(p[0], 6) + 0.0, round(p[1], 6) + 0.0)


def vertical_hits(ring: Polygon, x: float) -> list[float]:
    inter = LineString([(x, -50), (x, 500)]).intersection(ring.exterior)
    return sorted(p.y for p in getattr(inter, "geoms", [inter]))


def horizontal_hits(ring: Polygon, y: float) -> list[float]:
    inter = LineString([(-50, y), (550, y)]).intersection(ring.exterior)
    return sorted(p.x for p in getattr(inter, "geoms", [inter]))


def road_sources(site: Polygon, interior: Polygon, state: str) -> list[dict]:
    """The road centrelines before noding: name, kind, width, line."""
    src = [dict(name="Perimeter road", kind="perimeter", width=RING_W,
                line=LineString(list(interior.exterior.coords)))]
    for x in NS_ROADS:
        y0, y1 = vertical_hits(interior, x)
        src.append(dict(name=f"Road X{x:.0f}", kind="internal", width=NS_W, line=LineString([(x, y0), (x, y1)])))
    for y, w in EW_ROADS.items():
        x0, x1 = horizontal_hits(interior, y)
        src.append(dict(name=f"Road Y{y:.0f}", kind="internal", width=w, line=LineString([(x0, y), (x1, y)])))
    for y in LANES:
        x0, x1 = horizontal_hits(interior, y)
        src.append(dict(name=f"Lane Y{y:.0f}", kind="internal", width=LANE_W, line=LineString([(x0, y), (x1, y)])))
    for g, (pt, width, vehicular, _, states) in GATES.items():
        if state not in states:
            continue
        outer, inner = gate_points(site, interior, g)
        src.append(dict(name=f"Gate road {g}" if vehicular else f"Path to gate {g}",
                        kind="internal" if vehicular else "path", width=width if vehicular else PATH_W,
                        line=LineString([inner, outer]), gate=g))
    return src


def gate_points(site: Polygon, interior: Polygon, g: str):
    """(point on the boundary, point on the perimeter-road centreline) of a gate."""
    (x, y) = GATES[g][0]
    if g in ("S", "N"):
        ys = vertical_hits(site, x)
        yi = vertical_hits(interior, x)
        return ((x, ys[0]), (x, yi[0])) if g == "S" else ((x, ys[-1]), (x, yi[-1]))
    xs = horizontal_hits(site, y)
    xi = horizontal_hits(interior, y)
    return ((xs[0], y), (xi[0], y)) if g == "W" else ((xs[-1], y), (xi[-1], y))


def build_roads(site: Polygon, interior: Polygon, state: str) -> list[Road]:
    sources = road_sources(site, interior, state)
    # junctions: every vertex and end point of every centreline, and every crossing
    nodes: list[tuple] = []
    for s in sources:
        nodes.extend(snap(c) for c in s["line"].coords)
    for i, s in enumerate(sources):
        for t in sources[i + 1:]:
            inter = s["line"].intersection(t["line"])
            for g in getattr(inter, "geoms", [inter]):
                if isinstance(g, Point):
                    nodes.append(snap((g.x, g.y)))
    uniq: list[tuple] = []
    for p in sorted(set(nodes)):
        if all(math.dist(p, q) > 1e-4 for q in uniq):
            uniq.append(p)
    segs: dict[tuple, Road] = {}
    for s in sources:
        coords = list(s["line"].coords)
        for a, b in zip(coords[:-1], coords[1:]):
            piece = LineString([a, b])
            on = sorted((piece.project(Point(p)), p) for p in uniq if piece.distance(Point(p)) < 1e-4)
            pts = [p for _, p in on]
            for a2, b2 in zip(pts[:-1], pts[1:]):
                p0, p1 = (a2, b2) if a2 < b2 else (b2, a2)
                key = f"road/{p0[0]:.2f},{p0[1]:.2f}/{p1[0]:.2f},{p1[1]:.2f}"
                assert (p0, p1) not in segs, key
                segs[(p0, p1)] = Road(key=key, name=s["name"], kind=s["kind"], width=s["width"],
                                      p0=p0, p1=p1, source=s["name"])
    roads = sorted(segs.values(), key=lambda r: r.key)
    # number the segments of each source along its line
    by_source: dict[str, list[Road]] = {}
    for r in roads:
        by_source.setdefault(r.source, []).append(r)
    for name, rs in by_source.items():
        line = next(s["line"] for s in sources if s["name"] == name)
        rs.sort(key=lambda r: line.project(Point((r.p0[0] + r.p1[0]) / 2, (r.p0[1] + r.p1[1]) / 2)))
        for i, r in enumerate(rs):
            r.name = f"{name} {i + 1:02d}" if len(rs) > 1 else name
    mitre(roads, site)
    return roads


def rectangle(r: Road) -> Polygon:
    d = np.subtract(r.p1, r.p0)
    d = d / np.linalg.norm(d)
    n = np.array([-d[1], d[0]]) * r.width / 2
    a, b = np.array(r.p0), np.array(r.p1)
    return Polygon([a - n, b - n, b + n, a + n])


def mitre(roads: list[Road], site: Polygon) -> None:
    """Body polygons of the pavements: rectangles along the centrelines whose overlaps at a shared
    junction are split along the bisector of the two centrelines, then clipped to the site."""
    rect = {r.key: rectangle(r) for r in roads}
    losses: dict[str, list] = {r.key: [] for r in roads}
    at_node: dict[tuple, list[Road]] = {}
    for r in roads:
        at_node.setdefault(r.p0, []).append(r)
        at_node.setdefault(r.p1, []).append(r)
    big = 1000.0
    for node, rs in at_node.items():
        P = np.array(node)
        for i in range(len(rs)):
            for j in range(i + 1, len(rs)):
                ri, rj = rs[i], rs[j]
                overlap = rect[ri.key].intersection(rect[rj.key])
                if overlap.area < 1e-9:
                    continue
                ui = np.subtract(ri.p1 if ri.p0 == node else ri.p0, P)
                uj = np.subtract(rj.p1 if rj.p0 == node else rj.p0, P)
                ui, uj = ui / np.linalg.norm(ui), uj / np.linalg.norm(uj)
                b = ui + uj
                b = b / np.linalg.norm(b) if np.linalg.norm(b) > 1e-9 else np.array([-ui[1], ui[0]])
                n = np.array([-b[1], b[0]])
                if np.dot(n, ui) < 0:
                    n = -n
                side_i = Polygon([P - b * big, P + b * big, P + b * big + n * big, P - b * big + n * big])
                side_j = Polygon([P - b * big, P + b * big, P + b * big - n * big, P - b * big - n * big])
                losses[rj.key].append(overlap.intersection(side_i))
                losses[ri.key].append(overlap.intersection(side_j))
    for r in roads:
        poly = rect[r.key]
        if losses[r.key]:
            poly = poly.difference(unary_union(losses[r.key]))
        poly = poly.intersection(site)
        ps = parts(poly)
        assert len(ps) == 1, r.key
        r.poly = normalized(ps[0].simplify(1e-7))
    total = sum(r.poly.area for r in roads)
    union = unary_union([r.poly for r in roads]).area
    assert abs(total - union) < 1e-3, ("pavements overlap", total - union)


def span_y(poly: Polygon, x: float) -> tuple[float, float]:
    inter = LineString([(x, -50), (x, 500)]).intersection(poly)
    return inter.bounds[1], inter.bounds[3]


def span_x(poly: Polygon, y: float) -> tuple[float, float]:
    inter = LineString([(-50, y), (550, y)]).intersection(poly)
    return inter.bounds[0], inter.bounds[2]


def cell_of(p: Point) -> tuple[str, int]:
    col = "W" if p.x < NS_ROADS[0] else "M" if p.x < NS_ROADS[1] else "E"
    return col, bisect.bisect(ROW_LINES, p.y)


# ------------------------------------------------------------------------ describe


def describe(state: str) -> Model:
    """The community in one state; `proposal` switches on the retrofit measures of proposal A."""
    assert state in STATES
    proposal = state == "proposal_a"
    model = Model(state=state)
    site = Polygon(SITE)
    interior = site.buffer(-RING_OFFSET, join_style="mitre", mitre_limit=10.0)
    model.info["site_area"] = site.area

    # ---- spatial structure
    model.add(Obj("site", "IfcSite", "Sample community (Zhifu, Yantai)", spatial=True,
                  attrs={"LongName": "Old residential community, Zhifu district"}))
    model.add(Obj("road", "IfcRoad", "Internal roads", parent="site", spatial=True))

    # ---- roads
    roads = build_roads(site, interior, state)
    roads_union = unary_union([r.poly for r in roads])
    loop_dir = {}
    for a, b in zip(ONE_WAY_LOOP[:-1], ONE_WAY_LOOP[1:]):
        loop_dir[(min(a, b), max(a, b))] = (a, b)
    for r in roads:
        # informal parking along a few narrow internal roads in the baseline
        parked = 0.0
        if not proposal:
            if r.source == "Road Y100":
                parked = 1.8
            elif r.source == "Road Y300":
                parked = 2.0
            elif r.source == "Road X335" and r.p1[1] <= 200.0 + 1e-6:
                parked = 1.5
        loop_key = (r.p0, r.p1)
        one_way = proposal and loop_key in loop_dir
        start, end = r.p0, r.p1
        if one_way and loop_dir[loop_key][0] != r.p0:
            start, end = r.p1, r.p0          # flipped: local +X now runs along the loop
        m = frame((start[0], start[1], 0.0), (end[0] - start[0], end[1] - start[1], 0.0))
        lanes = 2 if r.width >= 5.0 else 1
        model.add(Obj(
            r.key, "IfcPavement", r.name, parent="road", predefined="FLEXIBLE", matrix=m,
            bodies=[("prism", to_local(r.poly, m), -0.2, 0.2)],
            psets={"CT_Road": {"Width": ("L", r.width), "Lanes": lanes, "SpeedLimit": ("V", SPEED_LIMIT),
                               "OneWay": bool(one_way), "FireLane": r.width >= 4.0,
                               "InformalParkingWidth": ("L", parked), "Kind": r.kind},
                   "CT_Surface": {"SurfaceType": "road"}}))
    model.info["roads"] = roads

    # ---- faces (cells bounded by roads) and the green belt along the wall
    faces = {}
    for p in parts(interior.difference(roads_union)):
        if p.area < 50:
            raise AssertionError(f"unexpected small face {p.area}")
        c = cell_of(p.representative_point())
        assert c not in faces, c
        faces[c] = p
    assert len(faces) == 24, len(faces)
    belt = parts(site.difference(interior).difference(roads_union))

    # ---- cells: buildings, lawns, lots, parks
    roofs, greens, lots = {}, {}, {}
    blocks, services, bays, assembly = [], [], [], []
    n_block = 0
    for row in range(8):
        for col in "WME":
            cell = (col, row)
            F = faces[cell]
            F3 = F.buffer(-PATH, join_style="mitre")
            fx0, fx1 = span_x(F, (F.bounds[1] + F.bounds[3]) / 2)
            plan = PLAN[cell]

            def yrange(x0, x1):
                bottom = max(span_y(F, x0)[0], span_y(F, x1)[0])
                top = min(span_y(F, x0)[1], span_y(F, x1)[1])
                return bottom, top

            def free_area(x0, x1, use):
                bottom, top = yrange(x0, x1)
                tag = f"{col}{row}"
                if use == "lot" or (use == "square" and proposal and cell == NEW_LOT_CELL):
                    # up to the road edge, even where that edge is slanted
                    lots[tag] = box(x0, bottom + PATH, x1, F.bounds[3] + 1.0).intersection(F)
                elif use in ("park", "garden") or (use == "square" and proposal and cell == POCKET_PARK_CELL):
                    key = "pocket_park" if use == "square" else f"{use}/{tag}"
                    poly = box(x0, bottom + PATH, x1, top - PATH).intersection(F3)
                    greens[key] = poly
                    if use == "park":
                        assembly.append((tag, poly))

            def add_block(x0, units):
                nonlocal n_block
                n_block += 1
                length = units * UNIT_W
                bottom, top = yrange(x0, x0 + length)
                y1 = top - YARD
                fp = box(x0, y1 - BLOCK_D, x0 + length, y1)
                assert fp.within(F3), (cell, n_block)
                blocks.append(dict(n=n_block, cell=cell, x0=x0, y0=y1 - BLOCK_D, units=units, bottom=bottom))
                roofs[f"block/{n_block}"] = fp
                lawn = box(x0, bottom + PATH, x0 + length, y1 - BLOCK_D - PATH).intersection(F3)
                greens[f"lawn/{n_block}"] = lawn
                bays.append((f"{col}{row}/{n_block}", box(x0, bottom, x0 + length, bottom + 2.5), n_block))
                return x0 + length

            if plan == "2":
                gap = (fx1 - fx0 - 2 * 5 * UNIT_W) / 3
                add_block(fx0 + gap, 5)
                add_block(fx0 + 2 * gap + 5 * UNIT_W, 5)
            elif plan.startswith("1W"):
                use = plan.split(":")[1]
                x1 = add_block(fx0 + 8.0, 6)
                if use == "elderly":
                    bottom, top = yrange(x1 + 10, x1 + 28)
                    fp = box(x1 + 10, top - YARD - 12, x1 + 28, top - YARD)
                    services.append(dict(key="elderly", name="Elderly service station", fp=fp, storeys=2,
                                         h=3.3, service="elderly_station", capacity=30, cell=cell))
                    greens[f"garden/{col}{row}"] = box(x1 + 36, bottom + PATH, fx1 - PATH, top - PATH).intersection(F3)
                    greens["lawn/elderly"] = box(x1 + 10, bottom + PATH, x1 + 28, top - YARD - 12 - PATH).intersection(F3)
                else:
                    free_area(x1 + 8.0, fx1 - PATH, use)
            elif plan.startswith("1E"):
                use = plan.split(":")[1]
                x0 = fx1 - 8.0 - 6 * UNIT_W
                add_block(x0, 6)
                free_area(fx0 + PATH, x0 - 8.0, use)
            elif plan == "centre":
                x0 = fx0 + 8.0
                bottom, top = yrange(x0, x0 + 25)
                fp = box(x0, top - YARD - 16, x0 + 25, top - YARD)
                services.append(dict(key="centre", name="Community service centre", fp=fp, storeys=2, h=4.2,
                                     service="community_centre", capacity=None, cell=cell))
                greens["lawn/centre"] = box(x0, bottom + PATH, x0 + 25, top - YARD - 16 - PATH).intersection(F3)
                plaza = box(x0 + 35, bottom + PATH, fx1 - PATH, top - PATH).intersection(F3)
                greens["plaza"] = plaza
                assembly.append(("plaza", plaza))
            elif plan == "kindergarten":
                x0 = fx0 + 10.0
                bottom, top = yrange(x0, x0 + 45)
                fp = box(x0, top - YARD - 16, x0 + 45, top - YARD)
                services.append(dict(key="kindergarten", name="Kindergarten", fp=fp, storeys=3, h=3.6,
                                     service="kindergarten", capacity=6, cell=cell))
                greens["playground"] = box(x0, bottom + PATH, x0 + 45, top - YARD - 16 - PATH).intersection(F3)
                greens[f"garden/{col}{row}"] = box(x0 + 55, bottom + PATH, fx1 - PATH, top - PATH).intersection(F3)
    for s in services:
        roofs[s["key"]] = s["fp"]
        assert s["fp"].within(faces[s["cell"]].buffer(-PATH)), s["key"]
    greens = {k: v for k, v in greens.items() if v.area > 1.0}
    assert len(blocks) == 27, len(blocks)

    # ---- surfaces: paving per face = face - roofs - greens - lots
    pavings = {}
    for cell, F in sorted(faces.items(), key=lambda kv: (kv[0][1], "WME".index(kv[0][0]))):
        # only what lies in this cell, so an unchanged cell gives exactly the same polygon
        inside = [g for g in list(roofs.values()) + list(greens.values()) + list(lots.values())
                  if g.intersection(F).area > 1e-6]
        pavings[f"{cell[0]}{cell[1]}"] = F.difference(unary_union(inside))
    model.info.update(faces=faces, belt=belt, roofs=roofs, greens=greens, lots=lots, pavings=pavings)

    surfaces_area = (sum(r.poly.area for r in roads) + sum(p.area for p in belt) + sum(p.area for p in roofs.values())
                     + sum(p.area for p in greens.values()) + sum(p.area for p in lots.values())
                     + sum(p.area for p in pavings.values()))
    model.info["surfaces_area_plan"] = surfaces_area

    def surface(key, ifc_class, name, geom, stype, predefined=None, extra=None):
        o = geom.representative_point()
        m = translation(math.floor(o.x), math.floor(o.y), 0.0)
        thick = 0.3 if stype == "green" else 0.15
        psets = {"CT_Surface": {"SurfaceType": stype}}
        psets.update(extra or {})
        return model.add(Obj(key, ifc_class, name, parent="site", predefined=predefined, matrix=m,
                             bodies=plan_bodies(geom, m, -thick, thick), psets=psets))

    for tag, geom in pavings.items():
        surface(f"paving/{tag}", "IfcSlab", f"Paving {tag}", geom, "paving", predefined="PAVING")
    for tag, geom in sorted(lots.items()):
        extra = None
        stype = "paving"
        if proposal:
            stype = "permeable_paving"
            extra = {"CT_LID": {"LIDType": "permeable_pavement", "StorageDepth": ("L", 0.3),
                                "SoilThickness": ("L", 0.0), "Underdrain": True}}
        surface(f"paving/lot/{tag}", "IfcSlab", f"Parking lot paving {tag}", geom, stype, "PAVING", extra)
    # belt pieces: keyed by the gate before them going counter-clockwise along the boundary
    ring = site.exterior
    perim = ring.length
    gate_pos = {}
    for g, (pt, *_rest, states) in GATES.items():
        if state in states:
            gate_pos[g] = ring.project(Point(gate_points(site, interior, g)[0]))
    for piece in belt:
        q = ring.project(piece.representative_point())
        before = min(gate_pos, key=lambda g: (q - gate_pos[g]) % perim)
        surface(f"green/belt/after_{before}", "IfcGeographicElement", f"Green belt after gate {before}",
                piece, "green", predefined="TERRAIN")
    for tag, geom in sorted(greens.items()):
        surface(f"green/{tag}", "IfcGeographicElement", f"Green {tag}", geom, "green", predefined="TERRAIN")

    # ---- perimeter wall and gates
    edges = list(zip(SITE, SITE[1:] + SITE[:1]))
    gates_here = {g: v for g, v in GATES.items() if state in v[4]}
    for ei, (a, b) in enumerate(edges):
        edge = LineString([a, b])
        cuts = []
        for g, (pt, width, vehicular, service, _) in gates_here.items():
            outer, _inner = gate_points(site, interior, g)
            if edge.distance(Point(outer)) < 1e-6:
                s = edge.project(Point(outer))
                cuts.append((s - width / 2, s + width / 2, g, width, vehicular, service))
        cuts.sort()
        stops = [0.0] + [c for cut in cuts for c in cut[:2]] + [edge.length]
        d = np.subtract(b, a) / edge.length
        for pi in range(len(stops) // 2):
            s0, s1 = stops[2 * pi], stops[2 * pi + 1]
            p0 = np.add(a, d * s0)
            m = frame((p0[0], p0[1], 0.0), (d[0], d[1], 0.0))
            model.add(Obj(f"wall/{ei}/{pi}", "IfcWall", f"Perimeter wall {ei + 1}.{pi + 1}", parent="site",
                          predefined="SOLIDWALL", matrix=m,
                          bodies=[("rect", 0.0, 0.0, s1 - s0, WALL_T, 0.0, WALL_H)],
                          psets={"Pset_WallCommon": {"IsExternal": True}}))
        for s0, s1, g, width, vehicular, service in cuts:
            p0 = np.add(a, d * s0)
            m = frame((p0[0], p0[1], 0.0), (d[0], d[1], 0.0))
            model.add(Obj(f"gate/{g}", "IfcDoor", f"Gate {g}" + ("" if vehicular else " (pedestrian)"), parent="site",
                          predefined="GATE", matrix=m, bodies=[("rect", 0.0, 0.0, width, WALL_T, 0.0, WALL_H)],
                          attrs={"OverallWidth": width, "OverallHeight": WALL_H},
                          psets={"Pset_DoorCommon": {"IsExternal": True},
                                 "CT_Gate": {"ClearWidth": ("L", width), "Vehicular": vehicular,
                                             "ServiceTime": ("T", service), "Open": True}}))

    # ---- buildings
    window_type = "type/window_1515"
    model.add(Obj(window_type, "IfcWindowType", "Window 1500x1500", predefined="WINDOW",
                  bodies=[("rect", 0.0, -0.05, 1.5, 0.1, 0.0, 1.5)], attrs={"PartitioningType": "SINGLE_PANEL"}))
    model.typed[window_type] = []
    grades = "BCBCCB"
    for b in blocks:
        n = b["n"]
        key = f"block/{n}"
        length = b["units"] * UNIT_W
        du = b["units"] * STOREYS * DU_PER_FLOOR_PER_UNIT
        factor = 2.3 + 0.2 * ((n * 7) % 10) / 9
        residents = int(round(du * factor))
        b.update(du=du, residents=residents, key=key)
        grade = "D" if n == UNSAFE_BLOCK else grades[n % len(grades)]
        model.add(Obj(key, "IfcBuilding", f"Block {n}", parent="site", spatial=True,
                      matrix=translation(b["x0"], b["y0"]),
                      psets={"Pset_BuildingCommon": {"NumberOfStoreys": STOREYS, "OccupancyType": "RESIDENTIAL",
                                                     "YearOfConstruction": str(1986 + (n * 5) % 11)},
                             "CT_Residential": {"DwellingUnits": du, "Residents": residents},
                             "CT_Retrofit": {"SafetyGrade": grade}}))
        add_building_body(model, key, b["x0"], b["y0"], length, BLOCK_D, STOREYS, STOREY_H,
                          doors=[(u + 0.5) * UNIT_W for u in range(b["units"])], door_w=1.2,
                          windows=b["units"], window_type=window_type)
        if proposal and n in ELEVATOR_BLOCKS:
            for u in range(b["units"]):
                x = b["x0"] + (u + 0.5) * UNIT_W + 0.9
                model.add(Obj(f"{key}/elevator/{u + 1}", "IfcTransportElement", f"Block {n} elevator {u + 1}",
                              parent=f"{key}/storey/0", predefined="ELEVATOR",
                              matrix=translation(x, b["y0"] + BLOCK_D, 0.0),
                              bodies=[("rect", 0.0, 0.0, 2.6, 2.4, 0.0, STOREYS * STOREY_H + ROOF_T + 1.5)]))
        if proposal and n in GREEN_ROOF_BLOCKS:
            inset = box(b["x0"], b["y0"], b["x0"] + length, b["y0"] + BLOCK_D).buffer(-0.6, join_style="mitre")
            top = STOREYS * STOREY_H + ROOF_T
            m = translation(b["x0"], b["y0"], top)
            model.add(Obj(f"{key}/green_roof", "IfcCovering", f"Block {n} green roof",
                          parent=f"{key}/storey/{STOREYS - 1}", predefined="ROOFING", matrix=m,
                          bodies=plan_bodies(inset, m, 0.0, 0.15),
                          psets={"CT_LID": {"LIDType": "green_roof", "SoilThickness": ("L", 0.1),
                                            "StorageDepth": ("L", 0.03), "TreatedArea": ("A", round(inset.area, 2))}}))
            model.covers.append((f"{key}/roof", f"{key}/green_roof"))
    for s in services:
        key = s["key"]
        x0, y0, x1, y1 = s["fp"].bounds
        psets = {"Pset_BuildingCommon": {"NumberOfStoreys": s["storeys"]},
                 "CT_ServicePoint": {"ServiceType": s["service"],
                                     "FloorArea": ("A", round((x1 - x0) * (y1 - y0) * s["storeys"], 1))}}
        if s["capacity"]:
            psets["CT_ServicePoint"]["Capacity"] = s["capacity"]
        model.add(Obj(key, "IfcBuilding", s["name"], parent="site", spatial=True, matrix=translation(x0, y0),
                      psets=psets))
        add_building_body(model, key, x0, y0, x1 - x0, y1 - y0, s["storeys"], s["h"],
                          doors=[(x1 - x0) * 0.25, (x1 - x0) * 0.75], door_w=1.8 if key == "kindergarten" else 1.5)
    if proposal:
        # An embedded elderly service point (嵌入式养老服务点), the usual retrofit answer where no
        # land is free: the ground-floor storage rooms of the two middle units of the block
        # farthest from the elderly station are converted (no dwelling is lost).
        station = next(s for s in services if s["key"] == "elderly")["fp"].centroid
        far = max(blocks, key=lambda b: (round(Point(b["x0"] + b["units"] * UNIT_W / 2, b["y0"] + BLOCK_D / 2)
                                                .distance(station), 3), b["n"]))
        x = far["x0"] + (far["units"] // 2 - 1) * UNIT_W + 0.3
        w, d = 2 * UNIT_W - 0.6, 4.7
        model.add(Obj(f"{far['key']}/elderly_point", "IfcSpace", f"Elderly service point, block {far['n']}",
                      parent=f"{far['key']}/storey/0", spatial=True, predefined="INTERNAL",
                      matrix=translation(x, far["y0"] + 0.3, 0.0), bodies=[("rect", 0.0, 0.0, w, d, 0.0, 2.6)],
                      psets={"CT_ServicePoint": {"ServiceType": "elderly_station", "FloorArea": ("A", round(w * d, 1)),
                                                 "Capacity": 15}}))
    model.info["blocks"] = blocks
    model.info["services"] = services

    # ---- parking
    for tag, geom in sorted(lots.items()):
        spaces = int(geom.area // 25.0)
        ev = 0
        if proposal:
            ev = 12 if (tag == f"{NEW_LOT_CELL[0]}{NEW_LOT_CELL[1]}") else max(4, spaces // 10)
        m = translation(math.floor(geom.bounds[0]), math.floor(geom.bounds[1]))
        model.add(Obj(f"parking/lot/{tag}", "IfcSpace", f"Parking lot {tag}", parent="site", spatial=True,
                      predefined="PARKING", matrix=m, bodies=plan_bodies(geom, m, 0.0, 2.2),
                      psets={"CT_Parking": {"Spaces": spaces, "EVChargers": ev, "Kind": "surface"}}))
    for tag, geom, n in bays:
        spaces = int((geom.bounds[2] - geom.bounds[0]) // 6.0)
        m = translation(geom.bounds[0], geom.bounds[1])
        model.add(Obj(f"parking/bay/{n}", "IfcSpace", f"On-street bays, block {n}", parent="site", spatial=True,
                      predefined="PARKING", matrix=m, bodies=plan_bodies(geom, m, 0.0, 2.2),
                      psets={"CT_Parking": {"Spaces": spaces, "EVChargers": 0, "Kind": "on_street"}}))

    # ---- assembly areas
    for tag, geom in assembly:
        m = translation(math.floor(geom.bounds[0]), math.floor(geom.bounds[1]))
        name = "Central plaza" if tag == "plaza" else f"Park {tag}"
        model.add(Obj(f"assembly/{tag}", "IfcSpace", f"Assembly area: {name}", parent="site", spatial=True,
                      predefined="EXTERNAL", matrix=m, bodies=plan_bodies(geom, m, 0.0, 3.0),
                      psets={"CT_Safety": {"AssemblyArea": True}}))

    # ---- storm network
    storm_network(model, roads, state)

    # ---- hydrants at internal crossroads and perimeter T-junctions
    hydrant_nodes = [(x, y) for y in ROW_LINES for x in NS_ROADS]
    hydrant_nodes += [(RING_OFFSET, 100.0), (RING_OFFSET, 300.0), (500 - RING_OFFSET, 100.0), (500 - RING_OFFSET, 300.0)]
    solid = unary_union(list(roofs.values()))
    for i, (x, y) in enumerate(hydrant_nodes):
        hw_ns = RING_W / 2 if x in (RING_OFFSET, 500 - RING_OFFSET) else NS_W / 2
        hw_ew = EW_ROADS.get(y, LANE_W) / 2
        sx = -1.0 if x == 500 - RING_OFFSET else 1.0
        p = (x + sx * (hw_ns + 1.0), y + hw_ew + 1.0)
        assert not solid.contains(Point(p)) and not roads_union.contains(Point(p))
        model.add(Obj(f"hydrant/{x:.0f},{y:.0f}", "IfcFireSuppressionTerminal", f"Hydrant H{i + 1:02d}",
                      parent="site", predefined="FIREHYDRANT", matrix=translation(*p, 0.0),
                      bodies=[("cyl", 0.15, 0.0, 0.8)]))

    # ---- illegal sheds (baseline only)
    if not proposal:
        bl = {b["n"]: b for b in blocks}
        sheds = [((60.0, 150.8), (4.0, 3.0), "on Lane Y150"), ((420.0, 249.5), (4.0, 3.0), "on Lane Y250"),
                 ((171.2, 120.0), (3.0, 4.0), "on fire lane X170"), ((333.8, 275.0), (3.0, 4.0), "on fire lane X335"),
                 ((9.6, 330.0), (3.0, 4.0), "on the perimeter road")]
        for n in (4, 12, 22):
            b = bl[n]
            sheds.append(((b["x0"] + 2 * UNIT_W, b["y0"] + BLOCK_D + 3.0), (4.0, 3.0), f"in the entrance yard of block {n}"))
        hard = unary_union([roads_union] + list(pavings.values()) + list(lots.values()))
        for i, ((cx, cy), (dx, dy), where) in enumerate(sheds):
            fp = box(cx - dx / 2, cy - dy / 2, cx + dx / 2, cy + dy / 2)
            assert fp.difference(hard).area < 1e-6, where
            model.add(Obj(f"shed/{i + 1}", "IfcBuildingElementProxy", f"Illegal shed {i + 1} ({where})",
                          parent="site", predefined="USERDEFINED", object_type="ILLEGAL_SHED",
                          matrix=translation(cx - dx / 2, cy - dy / 2, 0.0),
                          bodies=[("rect", 0.0, 0.0, dx, dy, 0.0, 2.5)],
                          psets={"CT_Retrofit": {"Illegal": True}}))

    # ---- proposal A: LID facilities
    if proposal:
        for i, n in enumerate(RAIN_GARDEN_BLOCKS):
            lawn = greens[f"lawn/{n}"]
            c = lawn.centroid
            w, d = 14.0, 5.0
            fp = box(c.x - w / 2, c.y - d / 2, c.x + w / 2, c.y + d / 2)
            assert fp.within(lawn.buffer(-1.0)), n
            m = translation(c.x - w / 2, c.y - d / 2, 0.0)
            kind = "rain_garden" if i % 2 == 0 else "bioretention"
            model.add(Obj(f"lid/rain_garden/{n}", "IfcGeographicElement",
                          f"{'Rain garden' if kind == 'rain_garden' else 'Bioretention cell'} by block {n}",
                          parent="site", predefined="USERDEFINED", object_type="RAIN_GARDEN", matrix=m,
                          bodies=[("rect", 0.0, 0.0, w, d, -0.35, 0.37)],
                          psets={"CT_LID": {"LIDType": kind, "SurfaceDepth": ("L", 0.2), "SoilThickness": ("L", 0.6),
                                            "StorageDepth": ("L", 0.3), "TreatedArea": ("A", 15 * w * d),
                                            "Underdrain": True}}))
        plaza = greens["plaza"]
        c = plaza.centroid
        m = translation(round(c.x) - 7.5, round(c.y) - 5.0, -3.0)
        model.add(Obj("lid/storage_tank", "IfcTank", "Rainwater storage tank (under the central plaza)", parent="site",
                      predefined="STORAGE", matrix=m, bodies=[("rect", 0.0, 0.0, 15.0, 10.0, 0.0, 2.0)],
                      psets={"CT_LID": {"LIDType": "storage_tank", "Volume": ("Vol", 300.0),
                                        "ReuseDemand": ("R", 20.0), "TreatedArea": ("A", 8000.0)}}))
    return model


def add_building_body(model: Model, key: str, x0: float, y0: float, length: float, depth: float,
                      storeys: int, h: float, doors: list[float], door_w: float,
                      windows: int = 0, window_type: str | None = None) -> None:
    """Storeys, floor slabs, exterior walls, roof, doors on the north facade and south windows."""
    for k in range(storeys):
        skey = f"{key}/storey/{k}"
        z = k * h
        model.add(Obj(skey, "IfcBuildingStorey", f"Storey {k + 1}", parent=key, spatial=True,
                      matrix=translation(x0, y0, z), attrs={"Elevation": r6(z)}))
        model.add(Obj(f"{key}/slab/{k}", "IfcSlab", f"Floor slab {k + 1}", parent=skey, predefined="FLOOR",
                      matrix=translation(x0, y0, z), bodies=[("rect", 0.0, 0.0, length, depth, 0.0, SLAB_T)]))
        wh = h - SLAB_T
        t = EXT_WALL_T
        walls = {
            "S": (frame((x0, y0, z + SLAB_T), (1, 0, 0)), length),
            "N": (frame((x0 + length, y0 + depth, z + SLAB_T), (-1, 0, 0)), length),
            "W": (frame((x0, y0 + depth - t, z + SLAB_T), (0, -1, 0)), depth - 2 * t),
            "E": (frame((x0 + length, y0 + t, z + SLAB_T), (0, 1, 0)), depth - 2 * t),
        }
        for side, (m, wl) in walls.items():
            model.add(Obj(f"{key}/wall/{k}/{side}", "IfcWall", f"Exterior wall {side} {k + 1}", parent=skey,
                          predefined="SOLIDWALL", matrix=m, bodies=[("rect", 0.0, 0.0, wl, t, 0.0, wh)],
                          psets={}))
        if window_type:
            for u in range(windows):
                for i, dx in enumerate((-3.2, 1.7)):
                    wkey = f"{key}/window/{k}/{u}/{i}"
                    x = x0 + (u + 0.5) * UNIT_W + dx
                    model.add(Obj(wkey, "IfcWindow", f"Window {k + 1}.{u + 1}.{i + 1}", parent=skey,
                                  matrix=translation(x, y0, z + 0.9), bodies=[("map", window_type)],
                                  attrs={"OverallHeight": 1.5, "OverallWidth": 1.5}))
                    model.typed[window_type].append(wkey)
    top = f"{key}/storey/{storeys - 1}"
    model.add(Obj(f"{key}/roof", "IfcRoof", "Roof", parent=top, predefined="FLAT_ROOF",
                  matrix=translation(x0, y0, storeys * h),
                  bodies=[("rect", 0.0, 0.0, length, depth, 0.0, ROOF_T)],
                  psets={"CT_Surface": {"SurfaceType": "roof"}}))
    for i, dx in enumerate(doors):
        m = frame((x0 + dx - door_w / 2, y0 + depth, SLAB_T), (1, 0, 0))
        model.add(Obj(f"{key}/door/{i + 1}", "IfcDoor", f"Entrance {i + 1}", parent=f"{key}/storey/0",
                      predefined="DOOR", matrix=m, bodies=[("rect", 0.0, -0.05, door_w, 0.1, 0.0, 2.1)],
                      attrs={"OverallWidth": door_w, "OverallHeight": 2.1},
                      psets={"Pset_DoorCommon": {"IsExternal": True}}))


# -------------------------------------------------------------------------- storm


def storm_network(model: Model, roads: list[Road], state: str) -> None:
    """A dendritic storm network under the roads, draining to one outfall at the north corner.

    The shortest-path tree of the road graph (rooted at the perimeter-road vertex next to the
    outfall) carries the pipes; roads off the tree drain from a high point to both ends.
    Manholes at every junction and at most every 40 m; diameters by the rational method for the
    1-year storm (the old standard; proposal A renews the pipes that fall short of the 3-year
    storm); slope 0.3 % (inverts in whole mm); at a manhole the outgoing pipe's axis is at or
    below the incoming axes (water-surface matching, GB 50014); heads start at 1.2 m and the
    deepest invert stays above 4 m."""
    proposal = state == "proposal_a"
    G = nx.Graph()
    for r in roads:
        if r.kind == "path" or r.source.startswith("Gate road"):
            continue
        G.add_edge(r.p0, r.p1, length=math.dist(r.p0, r.p1), road=r.key)
    root = min(G.nodes, key=lambda p: math.dist(p, (OUTFALL_XY[0], OUTFALL_XY[1] - 5.0)))
    assert math.dist(root, OUTFALL_XY) < 8.0
    dist, paths = nx.single_source_dijkstra(G, root, weight="length")
    parent = {v: p[-2] for v, p in paths.items() if len(p) > 1}

    def nkey(p, kind="mh"):
        return f"{kind}/{p[0]:.2f},{p[1]:.2f}"

    down: dict[str, str] = {}          # node key -> downstream node key
    pos: dict[str, tuple] = {}
    junction = set()

    def chain(points):
        for a, b in zip(points[:-1], points[1:]):
            ka, kb = nkey(a), nkey(b)
            pos[ka], pos[kb] = a, b
            assert ka not in down
            down[ka] = kb

    def subdivide(a, b, s0=0.0, s1=None):
        L = math.dist(a, b)
        s1 = L if s1 is None else s1
        n = max(1, math.ceil((s1 - s0) / MAX_MANHOLE_SPACING - 1e-9))
        d = np.subtract(b, a) / L
        return [snap(np.add(a, d * (s0 + (s1 - s0) * i / n))) for i in range(n + 1)]

    for v in sorted(parent):
        junction.add(nkey(v))
        chain(subdivide(v, parent[v]))
    junction.add(nkey(root))
    for u, v in sorted((tuple(sorted(e)) for e in G.edges), key=lambda e: e):
        if parent.get(u) == v or parent.get(v) == u:
            continue
        L = math.dist(u, v)
        s = min(max((L + dist[v] - dist[u]) / 2, 0.0), L)   # balance point, from u
        if s > 6.0:
            chain(subdivide(u, v, 0.0, s - 2.0 if L - s > 6.0 else L - 3.0)[::-1])
        if L - s > 6.0:
            chain(subdivide(u, v, s + 2.0 if s > 6.0 else 3.0, L))
    out_key = "outfall"
    pos[out_key] = OUTFALL_XY
    down[nkey(root)] = out_key

    # upstream lengths, diameters
    ups: dict[str, list[str]] = {}
    for a, b in down.items():
        ups.setdefault(b, []).append(a)
    order: list[str] = []

    def visit(n):
        for u in sorted(ups.get(n, [])):
            visit(u)
        order.append(n)

    visit(out_key)
    assert len(order) == len(pos), "network is not a tree draining to the outfall"
    plen = {a: math.dist(pos[a], pos[b]) for a, b in down.items()}
    acc: dict[str, float] = {}
    for n in order:
        if n in down:
            acc[n] = plen[n] + sum(acc[u] for u in ups.get(n, []))

    # longest flow path to each pipe's downstream end (for the time of concentration)
    path: dict[str, float] = {}
    for n in order:
        if n in down:
            path[n] = plen[n] + max((path[u] for u in ups.get(n, [])), default=0.0)
    area_per_m = model.info["site_area"] / sum(plen.values())  # the site drains evenly along the pipes

    def rational_diameter(a: str, years: float, floor: float) -> float:
        """Smallest standard size whose full-flow Manning capacity at the minimum slope carries the
        rational-method peak Q = psi q F of the area upstream (GB 50014-2021 §4.2), never smaller
        than `floor` (pipes do not shrink downstream)."""
        a_, c_, b_, n_ = STORM_Q
        minutes = INLET_TIME_MIN + path[a] / FLOW_SPEED_MPS / 60.0
        q = a_ * (1.0 + c_ * math.log10(years)) / (minutes + b_) ** n_          # L/(s·ha)
        peak = RUNOFF_COEF * q * acc[a] * area_per_m / 1e4 / 1000.0              # m³/s
        for d in PIPE_SIZES:
            capacity = math.pi * d * d / 4 * (d / 4) ** (2 / 3) * math.sqrt(MIN_SLOPE) / MANNING_N
            if d >= floor and capacity >= peak:
                return d
        return PIPE_SIZES[-1]

    dia: dict[str, float] = {}
    need3: dict[str, float] = {}
    for n in order:
        if n in down:
            incoming = ups.get(n, [])
            dia[n] = rational_diameter(n, BASE_RETURN_Y, max((dia[u] for u in incoming), default=0.0))
            need3[n] = rational_diameter(n, RENEWED_RETURN_Y, max([dia[n]] + [need3[u] for u in incoming]))
    inv: dict[str, float] = {}
    up_inv, dn_inv = {}, {}
    for n in order:
        if n == out_key:
            inv[n] = min(dn_inv[u] for u in ups[n])
            continue
        incoming = ups.get(n, [])
        if not incoming:
            inv[n] = HEAD_INVERT
        else:
            crown = min(dn_inv[u] + dia[u] / 2 for u in incoming) - dia[n] / 2
            inv[n] = round(min(crown, min(dn_inv[u] for u in incoming)), 3)
        up_inv[n] = inv[n]
        dn_inv[n] = round(inv[n] - math.ceil(MIN_SLOPE * plen[n] * 1000 - 1e-9) / 1000, 3)   # whole mm, slope >= minimum

    # which pipes are combined (baseline) and upsized (proposal A)
    pipes = sorted(down)
    near = sorted(pipes, key=lambda a: (math.dist(pos[a], (90.0, 300.0)), a))
    combined = set(near[:10])
    upsized = {a for a in pipes if need3[a] > dia[a]}  # proposal A: renewed to the 3-year standard

    for n in order:
        p = pos[n]
        is_out = n == out_key
        depth = -inv[n]
        psets = {"CT_StormNode": {"NodeKind": "OUTFALL" if is_out else "JUNCTION",
                                  "InvertElevation": ("L", round(inv[n], 3)), "RimElevation": ("L", 0.0)}}
        if is_out:
            psets["CT_StormNode"]["Boundary"] = "FREE"
        else:
            psets["CT_StormNode"]["Inlet"] = n in junction or not ups.get(n) or dia[n] < 0.6
        model.add(Obj(n, "IfcDistributionChamberElement", "Outfall" if is_out else f"Manhole {p[0]:.0f},{p[1]:.0f}",
                      parent="site", predefined="OUTFALL" if is_out else "MANHOLE",
                      matrix=translation(p[0], p[1], round(inv[n], 3)),
                      bodies=[("cyl", 0.6 if is_out else 0.5, 0.0, round(depth, 3))], psets=psets))
        model.storm_members.append(n)
    final_d = set()
    for a in pipes:
        b = down[a]
        d = dia[a]
        renewed = False
        system = "COMBINED" if a in combined else "STORMWATER"
        if proposal:
            if a in combined:
                system, renewed = "STORMWATER", True
            if a in upsized:
                d, renewed = need3[a], True
        final_d.add(d)
        z0 = round(up_inv[a], 3) + d / 2
        z1 = round(dn_inv[a], 3) + d / 2
        start = np.array([pos[a][0], pos[a][1], z0])
        vec = np.array([pos[b][0], pos[b][1], z1]) - start
        length = float(np.linalg.norm(vec))
        m = frame(start, vec)
        key = f"pipe/{a}"
        model.add(Obj(key, "IfcPipeSegment", f"Storm pipe {a.split('/')[1]}", parent="site",
                      predefined="RIGIDSEGMENT", matrix=m, bodies=[("pipe", d / 2, length)],
                      psets={"CT_StormPipe": {"Diameter": ("L", d), "UpstreamInvert": ("L", round(up_inv[a], 3)),
                                              "DownstreamInvert": ("L", round(dn_inv[a], 3)),
                                              "ManningN": MANNING_N, "System": system, "Renewed": renewed}},
                      qtos={"Qto_PipeSegmentBaseQuantities": {"Length": round(length, 3)}}))
        model.pipes.append((key, a, b, z0 - inv[a], z1 - inv[b]))
        model.storm_members.append(key)
    model.info["storm"] = dict(pipes=len(pipes), nodes=len(order), combined=sorted(combined),
                               upsized=sorted(upsized), max_depth=-min(inv.values()),
                               min_head_depth=-max(inv.values()), diameters=sorted(final_d))


# --------------------------------------------------------------------------- writer


class Writer:
    """Writes a Model as an IFC4X3_ADD2 file with ifcopenshell.api (geometry items directly)."""

    def __init__(self, model: Model, filename: str):
        self.model = model
        self.f = f = ifcopenshell.api.project.create_file(version="IFC4X3_ADD2")
        f.header.file_name.name = filename
        f.header.file_name.time_stamp = TIMESTAMP
        f.header.file_name.author = ("Community Twin sample generator",)
        f.header.file_name.organization = ("Community Twin",)
        f.header.file_name.preprocessor_version = f"IfcOpenShell {ifcopenshell.version}"
        f.header.file_name.originating_system = "Community Twin ifc_models/build_sample.py"
        f.header.file_name.authorization = "none"
        self.keys: dict[int, str] = {}
        self.entities: dict[str, Any] = {}
        self.dirs: dict[tuple, Any] = {}
        self.world: dict[str, np.ndarray] = {}

    # -- small geometry helpers
    def point(self, xyz):
        return self.f.createIfcCartesianPoint(tuple(r6(v) for v in xyz))

    def direction(self, v):
        k = tuple(round(float(c), 12) + 0.0 for c in v)
        if k not in self.dirs:
            self.dirs[k] = self.f.createIfcDirection(k)
        return self.dirs[k]

    def axis3(self, m: np.ndarray | None = None, location=(0.0, 0.0, 0.0), z=None, x=None):
        if m is not None:
            location, x, z = m[:3, 3], m[:3, 0], m[:3, 2]
        if z is not None and np.allclose(z, (0, 0, 1), atol=1e-12) and np.allclose(x, (1, 0, 0), atol=1e-12):
            z = x = None
        return self.f.createIfcAxis2Placement3D(
            self.point(location), self.direction(z) if z is not None else None,
            self.direction(x) if x is not None else None)

    def curve(self, coords):
        pts = [(r6(x), r6(y)) for x, y in coords]
        idx = list(range(1, len(pts) + 1)) + [1]
        return self.f.createIfcIndexedPolyCurve(self.f.createIfcCartesianPointList2D(pts),
                                                [self.f.createIfcLineIndex(idx)], False)

    def solid(self, body):
        f = self.f
        kind = body[0]
        if kind == "prism":
            _, poly, z0, h = body
            poly = orient(poly, 1.0)
            outer = self.curve(list(poly.exterior.coords)[:-1])
            holes = [self.curve(list(r.coords)[:-1]) for r in poly.interiors]
            if holes:
                prof = f.createIfcArbitraryProfileDefWithVoids("AREA", None, outer, holes)
            else:
                prof = f.createIfcArbitraryClosedProfileDef("AREA", None, outer)
            return f.createIfcExtrudedAreaSolid(prof, self.axis3(location=(0, 0, z0)), self.direction((0, 0, 1)), r6(h))
        if kind == "rect":
            _, x0, y0, dx, dy, z0, h = body
            prof = f.createIfcRectangleProfileDef(
                "AREA", None, f.createIfcAxis2Placement2D(f.createIfcCartesianPoint((r6(x0 + dx / 2), r6(y0 + dy / 2)))),
                r6(dx), r6(dy))
            return f.createIfcExtrudedAreaSolid(prof, self.axis3(location=(0, 0, z0)), self.direction((0, 0, 1)), r6(h))
        if kind == "cyl":
            _, r, z0, h = body
            prof = f.createIfcCircleProfileDef("AREA", None, None, r6(r))
            return f.createIfcExtrudedAreaSolid(prof, self.axis3(location=(0, 0, z0)), self.direction((0, 0, 1)), r6(h))
        if kind == "pipe":
            _, r, length = body
            prof = f.createIfcCircleProfileDef("AREA", None, None, r6(r))
            pos = self.axis3(location=(0, 0, 0), z=(1.0, 0.0, 0.0), x=(0.0, 1.0, 0.0))
            return f.createIfcExtrudedAreaSolid(prof, pos, self.direction((0, 0, 1)), r6(length))
        raise ValueError(kind)

    def shape(self, bodies):
        items, rtype = [], "SweptSolid"
        for b in bodies:
            if b[0] == "map":
                rtype = "MappedRepresentation"
                items.append(self.f.createIfcMappedItem(self.maps[b[1]], self.map_op))
            else:
                items.append(self.solid(b))
        rep = self.f.createIfcShapeRepresentation(self.body_ctx, "Body", rtype, items)
        return rep

    # -- the file
    def write(self, path: Path) -> None:
        f, model = self.f, self.model
        api = ifcopenshell.api
        project = api.root.create_entity(f, ifc_class="IfcProject", name="sample_community")
        project.LongName = "Community Twin sample community"
        self.register(project, "project")
        assignment = api.unit.assign_unit(f, units=[api.unit.add_si_unit(f, unit_type=t) for t in (
            "LENGTHUNIT", "AREAUNIT", "VOLUMEUNIT", "PLANEANGLEUNIT", "TIMEUNIT")])
        # assign_unit passes the units through a Python set, whose order follows object hashes:
        # sort them so the file's bytes do not change from run to run.
        assignment.Units = sorted(assignment.Units, key=lambda u: u.id())
        model_ctx = api.context.add_context(f, context_type="Model")
        self.body_ctx = api.context.add_context(f, context_type="Model", context_identifier="Body",
                                                target_view="MODEL_VIEW", parent=model_ctx)
        foot_ctx = api.context.add_context(f, context_type="Model", context_identifier="FootPrint",
                                           target_view="SKETCH_VIEW", parent=model_ctx)
        api.georeference.add_georeferencing(f, name=CRS_NAME)
        metre = next(u for u in f.by_type("IfcSIUnit") if u.UnitType == "LENGTHUNIT")
        api.georeference.edit_georeferencing(
            f, projected_crs={"Name": CRS_NAME, "Description": CRS_DESCRIPTION, "GeodeticDatum": "CGCS2000",
                              "VerticalDatum": "National Height Datum 1985",
                              "MapProjection": "Gauss-Kruger 3-degree", "MapZone": "CM 120E", "MapUnit": metre},
            coordinate_operation={"Eastings": ORIGIN[0], "Northings": ORIGIN[1], "OrthogonalHeight": ORIGIN[2],
                                  "XAxisAbscissa": 1.0, "XAxisOrdinate": 0.0, "Scale": 1.0})
        self.map_op = f.createIfcCartesianTransformationOperator3D(None, None, self.point((0, 0, 0)), None, None)
        self.maps = {}

        # 1. entities; 2. spatial relationships (before any placement exists, so the api has
        # nothing to re-place); 3. placements relative to the parent, and bodies.
        aggregates: dict[str, list] = {}
        contains: dict[str, list] = {}
        for obj in model.objs:
            e = api.root.create_entity(f, ifc_class=obj.ifc_class, predefined_type=obj.predefined, name=obj.name)
            self.register(e, obj.key)
            if obj.object_type:
                e.ObjectType = obj.object_type
            for k, v in obj.attrs.items():
                setattr(e, k, v)
            if obj.ifc_class.endswith("Type"):
                continue
            if obj.key == "site":
                api.aggregate.assign_object(f, products=[e], relating_object=project)
            elif obj.spatial:
                aggregates.setdefault(obj.parent, []).append(e)
            else:
                contains.setdefault(obj.parent, []).append(e)
        for parent, es in aggregates.items():
            api.aggregate.assign_object(f, products=es, relating_object=self.entities[parent])
        for parent, es in contains.items():
            api.spatial.assign_container(f, products=es, relating_structure=self.entities[parent])
        for obj in model.objs:
            e = self.entities[obj.key]
            if obj.ifc_class.endswith("Type"):
                # a type: its body becomes the one representation map shared by all occurrences
                rmap = f.createIfcRepresentationMap(self.axis3(), self.shape(obj.bodies))
                e.RepresentationMaps = [rmap]
                self.maps[obj.key] = rmap
                api.project.assign_declaration(f, definitions=[e], relating_context=project)
                continue
            self.world[obj.key] = obj.matrix
            parent_m = self.world[obj.parent] if obj.parent else np.eye(4)
            rel = np.linalg.inv(parent_m) @ obj.matrix
            rel[np.abs(rel) < 1e-12] = 0.0
            rel_to = self.entities[obj.parent].ObjectPlacement if obj.parent else None
            e.ObjectPlacement = f.createIfcLocalPlacement(rel_to, self.axis3(rel))
            if obj.key == "site":
                fp = f.createIfcShapeRepresentation(foot_ctx, "FootPrint", "Curve2D", [self.curve(SITE)])
                e.Representation = f.createIfcProductDefinitionShape(None, None, [fp])
            elif obj.bodies:
                e.Representation = f.createIfcProductDefinitionShape(None, None, [self.shape(obj.bodies)])
        for tkey, keys in model.typed.items():
            api.type.assign_type(f, related_objects=[self.entities[k] for k in keys],
                                 relating_type=self.entities[tkey], should_map_representations=False)
        for roof, covering in model.covers:
            rel = f.createIfcRelCoversBldgElements(None, None, None, None, self.entities[roof], [self.entities[covering]])
            self.register(rel, f"{covering}/covers")
        # property and quantity sets
        for obj in model.objs:
            e = self.entities[obj.key]
            for name, props in obj.psets.items():
                if not props:
                    continue
                pset = api.pset.add_pset(f, product=e, name=name)
                api.pset.edit_pset(f, pset=pset, properties={k: self.value(v) for k, v in props.items()})
            for name, props in obj.qtos.items():
                qto = api.pset.add_qto(f, product=e, name=name)
                api.pset.edit_qto(f, qto=qto, properties=props)
        self.storm()
        self.fix_global_ids()
        tmp = path.with_name(path.name + ".tmp")
        f.write(str(tmp))
        os.replace(tmp, path)

    def value(self, v):
        if isinstance(v, tuple):
            kind, x = v
            cls = {"L": "IfcLengthMeasure", "A": "IfcAreaMeasure", "V": "IfcLinearVelocityMeasure",
                   "T": "IfcTimeMeasure", "Vol": "IfcVolumeMeasure", "R": "IfcReal"}[kind]
            return self.f.create_entity(cls, float(x))
        return v

    def storm(self):
        f, model, api = self.f, self.model, ifcopenshell.api
        system = api.system.add_system(f, ifc_class="IfcDistributionSystem")
        system.Name = "Storm drainage"
        system.PredefinedType = "STORMWATER"
        self.register(system, "system/storm")
        api.system.assign_system(f, products=[self.entities[k] for k in model.storm_members], system=system)
        serves = f.createIfcRelServicesBuildings(None, None, None, None, system, [self.entities["site"]])
        self.register(serves, "system/storm/serves")
        n_in: dict[str, int] = {}

        def port(owner_key, name, flow, h, x=0.0):
            element = self.entities[owner_key]
            p = api.system.add_port(f, element=element)
            self.register(p, f"{owner_key}/port/{name}")
            p.Name = name
            p.FlowDirection = flow
            p.PredefinedType = "PIPE"
            p.SystemType = "STORMWATER"
            p.ObjectPlacement = f.createIfcLocalPlacement(element.ObjectPlacement, self.axis3(location=(x, 0.0, h)))
            return p

        for key, a, b, h_up, h_dn in model.pipes:
            obj = self.objs_by_key[key]
            length = obj.bodies[0][2]
            p_up = port(key, "inlet", "SINK", 0.0)
            p_dn = port(key, "outlet", "SOURCE", 0.0, x=length)
            n_in[b] = n_in.get(b, 0) + 1
            node_in = port(b, f"in{n_in[b]}", "SINK", h_dn)
            node_out = port(a, "out", "SOURCE", h_up)
            api.system.connect_port(f, port1=node_out, port2=p_up, direction="SOURCE")
            api.system.connect_port(f, port1=p_dn, port2=node_in, direction="SOURCE")

    @property
    def objs_by_key(self):
        if not hasattr(self, "_objs_by_key"):
            self._objs_by_key = {o.key: o for o in self.model.objs}
        return self._objs_by_key

    def register(self, e, key: str) -> None:
        assert key not in self.entities, key
        e.GlobalId = gid(key)
        self.keys[e.id()] = key
        self.entities[key] = e

    def fix_global_ids(self) -> None:
        """Derive the GlobalIds of relationships and property sets from the objects they belong to."""
        # ifcopenshell.api builds these SETs through Python sets of entity instances, whose order
        # follows memory addresses: sort them by instance id so the file's bytes do not vary.
        for rel in self.f.by_type("IfcRelAggregates"):
            rel.RelatedObjects = sorted(rel.RelatedObjects, key=lambda x: x.id())
        for rel in self.f.by_type("IfcRelContainedInSpatialStructure"):
            rel.RelatedElements = sorted(rel.RelatedElements, key=lambda x: x.id())
        for rel in self.f.by_type("IfcRelAssignsToGroup"):
            rel.RelatedObjects = sorted(rel.RelatedObjects, key=lambda x: x.id())
        for rel in self.f.by_type("IfcRelDefinesByType"):
            rel.RelatedObjects = sorted(rel.RelatedObjects, key=lambda x: x.id())
        for rel in self.f.by_type("IfcRelNests"):  # ports: their order carries no meaning here
            rel.RelatedObjects = sorted(rel.RelatedObjects, key=lambda x: x.id())
        for rel in self.f.by_type("IfcRelDefinesByProperties"):
            rel.RelatedObjects = sorted(rel.RelatedObjects, key=lambda x: x.id())
        for rel in self.f.by_type("IfcRelAssociates"):
            rel.RelatedObjects = sorted(rel.RelatedObjects, key=lambda x: x.id())
        counters: dict[str, int] = {}
        for e in sorted(self.f.by_type("IfcRoot"), key=lambda e: e.id()):
            if e.id() in self.keys:
                continue
            key = None
            if e.is_a("IfcRelDefinesByProperties") and len(e.RelatedObjects) == 1:
                owner = self.keys.get(e.RelatedObjects[0].id())
                if owner:
                    key = f"{owner}/pset/{e.RelatingPropertyDefinition.Name}/rel"
            elif e.is_a("IfcPropertySetDefinition") and len(e.DefinesOccurrence) == 1 \
                    and len(e.DefinesOccurrence[0].RelatedObjects) == 1:
                owner = self.keys.get(e.DefinesOccurrence[0].RelatedObjects[0].id())
                if owner:
                    key = f"{owner}/pset/{e.Name}"
            elif e.is_a("IfcRelConnectsPorts"):
                key = f"{self.keys[e.RelatingPort.id()]}->{self.keys[e.RelatedPort.id()]}"
            elif e.is_a("IfcRelNests") and len(e.RelatedObjects) >= 1:
                key = f"{self.keys[e.RelatingObject.id()]}/nests"
            elif e.is_a("IfcRelAggregates"):
                key = f"{self.keys[e.RelatingObject.id()]}/aggregates"
            elif e.is_a("IfcRelContainedInSpatialStructure"):
                key = f"{self.keys[e.RelatingStructure.id()]}/contains"
            if key is None:
                n = counters.get(e.is_a(), 0)
                counters[e.is_a()] = n + 1
                key = f"{self.model.state}/{e.is_a()}/{n}"
            e.GlobalId = gid(key)


# ------------------------------------------------------------------- other outputs


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(v)


def proposal_b(base: Model) -> str:
    """The action list of proposal B, in twin coordinates, referring to baseline GlobalIds."""
    blocks = {b["n"]: b for b in base.info["blocks"]}
    b = blocks[UNSAFE_BLOCK]
    length = b["units"] * UNIT_W
    x0, y0, x1, y1 = b["x0"], b["y0"], b["x0"] + length, b["y0"] + BLOCK_D
    footprint = [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
    storeys, storey_h = 3, 4.2
    floor_area = round(length * BLOCK_D * storeys, 1)
    # the car park lies under the south gardens of the cell and under the new building
    F = base.info["faces"][b["cell"]]
    fx0, fx1 = span_x(F, (y0 + y1) / 2)
    south = b["bottom"] + PATH
    park = [[fx0 + PATH, south], [fx1 - PATH, south], [fx1 - PATH, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0],
            [fx0 + PATH, y0]]
    park_area = Polygon(park).area
    lane = next(r for r in base.info["roads"] if r.source == f"Lane Y{LANES[2]:.0f}"
                and r.p0[0] < b["x0"] + length / 2 < r.p1[0])
    parked = [r for r in base.info["roads"] if r.source == "Road Y300"]
    lot_tag = sorted(base.info["lots"])[0]

    def pts(coords):
        return toml_value([[round(x, 3), round(y, 3)] for x, y in coords])

    lines = [
        "# Proposal B, demolition-renewal: actions applied to baseline.ifc.",
        "# Twin coordinates (metres, x east, y north, origin at the site's south-west corner).",
        "# Generated by ifc_models/build_sample.py; GlobalIds refer to elements of baseline.ifc.",
        "",
        "[state]",
        'name = "proposal_b"',
        'title_en = "Demolition-renewal"',
        'title_zh = "拆除重建"',
        'base = "baseline"',
        "",
        "[[actions]]",
        'kind = "remove_building"',
        f"building = {toml_value(gid(b['key']))}",
        f'note = "Block {UNSAFE_BLOCK}: unsafe (grade D), demolished"',
        "",
        "[[actions]]",
        'kind = "add_building"',
        'key = "service_centre_b"',
        'name = "Community service centre (new)"',
        f"footprint = {pts(footprint)}",
        f"storeys = {storeys}",
        f"storey_height_m = {storey_h}",
        f'psets = {{ CT_ServicePoint = {{ ServiceType = "community_centre", FloorArea = {floor_area} }}, '
        'CT_Surface = { SurfaceType = "roof" } }',
        f'note = "On the footprint of block {UNSAFE_BLOCK}"',
        "",
        "[[actions]]",
        'kind = "add_element"',
        'key = "underground_parking_b"',
        'ifc_class = "IfcSpace"',
        'predefined_type = "PARKING"',
        'name = "Underground car park"',
        f"footprint = {pts(park)}",
        "base_m = -3.6",
        "height_m = 3.2",
        'psets = { CT_Parking = { Spaces = 120, EVChargers = 24, Kind = "underground" } }',
        f'note = "Under the gardens south of blocks {UNSAFE_BLOCK} and {UNSAFE_BLOCK + 1} and under the new centre, '
        f'{park_area:.0f} m2 (about 32 m2 per space)"',
        "",
        "[[actions]]",
        'kind = "set_property"',
        f"element = {toml_value(gid(lane.key))}",
        'pset = "CT_Road"',
        "values = { OneWay = true }",
        f"note = {toml_value(lane.name + ': one way eastbound (local +X), car park access')}",
    ]
    for r in parked:
        lines += ["", "[[actions]]", 'kind = "set_property"', f"element = {toml_value(gid(r.key))}",
                  'pset = "CT_Road"', "values = { InformalParkingWidth = 0.0 }",
                  f"note = {toml_value(r.name + ': parked cars moved to the underground car park')}"]
    lines += ["", "[[actions]]", 'kind = "set_property"', f"element = {toml_value(gid('parking/lot/' + lot_tag))}",
              'pset = "CT_Parking"', "values = { EVChargers = 10 }", f'note = "Parking lot {lot_tag}: EV chargers"', ""]
    return "\n".join(lines)


PROJECT_TOML = """\
# Sample community of Community Twin (fictitious; generated by ifc_models/build_sample.py).
[project]
name = "sample_community"
title_en = "Old residential community, Zhifu district"
title_zh = "芝罘区老旧小区"
city = "Yantai"
crs = "EPSG:4549"
context = "context.geojson"

[[states]]
name = "baseline"
title_en = "Before retrofit"
title_zh = "改造前"
ifc = "baseline.ifc"

[[states]]
name = "proposal_a"
title_en = "Comprehensive improvement"
title_zh = "综合整治"
ifc = "proposal_a.ifc"

[[states]]
name = "proposal_b"
title_en = "Demolition-renewal"
title_zh = "拆除重建"
actions = "proposal_b.toml"

[settings]
# Stormwater: design storm from the city's storm-intensity formula (GB 50014), Chicago hyetograph.
storm_city = "Yantai"
storm_return_period_years = 3
storm_duration_min = 120
storm_peak_ratio = 0.4            # position of the peak in the hyetograph, 0-1
# Traffic: morning peak hour; demand from twin.extract.roads.PeakDemand (0.4 cars/household x 12 % leaving).
traffic_duration_s = 3600
# Evacuation: everyone to the gates and assembly areas.
evacuation_premovement_s = 120
evacuation_walking_speed_mps = 1.2
# Rain record for the annual runoff volume control rate (a continuous run over all of it).
# SYNTHETIC: ten years made by sim.stormwater.rainfall.synthetic_series (north-China coastal
# climate, 670 mm a year), not a gauge record; replace it with the city's own hourly record.
stormwater_rain_series = "rain_synthetic_10y.csv"
# Random seed shared by the engines (same seed, same result).
seed = 20250101

[governance]
# Smart-governance items each state declares (shown as declared on the scorecard, not computed).
baseline = []
proposal_a = ["property_information_system", "smart_service_platform", "smart_parking", "smart_security"]
proposal_b = ["property_information_system", "smart_parking"]
"""


def context_geojson(site: Polygon) -> str:
    """Surrounding city in EPSG:4549 map coordinates: site boundary, buildings, roads, service points."""
    import random

    rng = random.Random(4549)
    E, N = ORIGIN[0], ORIGIN[1]

    def xy(p):
        return [round(E + p[0], 2), round(N + p[1], 2)]

    feats = [{"type": "Feature", "properties": {"layer": "site_boundary", "name": "Sample community"},
              "geometry": {"type": "Polygon", "coordinates": [[xy(p) for p in SITE + SITE[:1]]]}}]
    roads = [("Shengli Road", 20.0, [(-500, 420), (1000, 420)]),
             ("Dahaiyang Road", 24.0, [(-500, -16), (1000, -16)]),
             ("Qingnian Road", 20.0, [(-15, -500), (-15, 900)]),
             ("Xinglong Street", 16.0, [(516, -500), (516, 900)]),
             ("Huanshan Road", 16.0, [(-330, -500), (-330, 900)]),
             ("Beima Road", 20.0, [(-500, 700), (1000, 700)])]
    road_geom = unary_union([LineString(c).buffer(w / 2 + 4.0, cap_style="flat") for _, w, c in roads])
    taken = [site.buffer(20.0)]
    buildings = []
    tries = 0
    while len(buildings) < 32:
        tries += 1
        assert tries < 20000
        x = rng.uniform(-480, 950)
        y = rng.uniform(-380, 880)
        lx, ly = rng.uniform(30, 70), rng.uniform(12, 16)
        fp = box(x, y, x + lx, y + ly)
        if Point(x, y).distance(site) > 450 or fp.intersects(road_geom) or any(fp.intersects(t) for t in taken):
            continue
        taken.append(fp.buffer(12.0))
        storeys = rng.choice([6, 6, 7, 9, 11, 12, 18])
        buildings.append((fp, storeys))
    for i, (fp, storeys) in enumerate(buildings):
        feats.append({"type": "Feature",
                      "properties": {"layer": "building", "name": f"City building {i + 1}",
                                     "height_m": round(storeys * 3.0, 1), "storeys": storeys},
                      "geometry": {"type": "Polygon", "coordinates": [[xy(p) for p in fp.exterior.coords]]}})
    for name, w, coords in roads:
        feats.append({"type": "Feature", "properties": {"layer": "road", "name": name, "width_m": w},
                      "geometry": {"type": "LineString", "coordinates": [xy(p) for p in coords]}})
    points = [("clinic", "Zhifu community health centre", (-380.0, 260.0)),
              ("supermarket", "Xinglong supermarket", (840.0, 120.0)),
              ("bus_stop", "Qingnian Road South bus stop", (-27.0, -330.0)),
              ("bus_stop", "Shengli Road East bus stop", (820.0, 432.0))]
    for kind, name, p in points:
        d = Point(p).distance(site)
        assert 250 <= d <= 900, (name, d)
        assert not any(fp.contains(Point(p)) for fp, _ in buildings)
        feats.append({"type": "Feature", "properties": {"layer": "service_point", "service_type": kind, "name": name},
                      "geometry": {"type": "Point", "coordinates": xy(p)}})
    doc = {"type": "FeatureCollection", "name": "sample_community_context",
           "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4549"}}, "features": feats}
    return json.dumps(doc, ensure_ascii=False, indent=1) + "\n"


RAIN_YEARS = 10
RAIN_SEED = 20250101


def rain_record_csv() -> str:
    """The synthetic hourly rain record the project declares (`stormwater_rain_series`): wet hours
    only, plus the first and last hour of the record so that it spans whole years."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from sim.stormwater.rainfall import synthetic_series

    series = synthetic_series(RAIN_YEARS, RAIN_SEED)
    lines = ["; SYNTHETIC hourly rain record (sim.stormwater.rainfall.synthetic_series, "
             f"{RAIN_YEARS} years, seed {RAIN_SEED}), not a gauge record.",
             "time,depth_mm"]
    last = len(series.depths_mm) - 1
    for k, depth in enumerate(series.depths_mm):
        if depth > 0 or k in (0, last):
            when = series.start + timedelta(seconds=float(series.times_s[k]))
            lines.append(f"{when:%Y-%m-%d %H:%M},{depth:.1f}")
    return "\n".join(lines) + "\n"


def write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def build(out: Path) -> dict[str, Model]:
    """Write all outputs into `out`; returns the models."""
    out.mkdir(parents=True, exist_ok=True)
    models = {}
    for state in STATES:
        model = describe(state)
        Writer(model, f"{state}.ifc").write(out / f"{state}.ifc")
        models[state] = model
    write_text(out / "proposal_b.toml", proposal_b(models["baseline"]))
    write_text(out / "project.toml", PROJECT_TOML)
    write_text(out / "context.geojson", context_geojson(Polygon(SITE)))
    write_text(out / "rain_synthetic_10y.csv", rain_record_csv())
    return models


# -------------------------------------------------------------------------- checks


def check(out: Path, models: dict[str, Model]) -> dict:
    """Validate and measure the generated files (the figures reported by --check)."""
    import ifcopenshell.geom
    import ifcopenshell.util.element as uel
    import ifcopenshell.validate

    report = {}
    for state in STATES:
        path = out / f"{state}.ifc"
        f = ifcopenshell.open(str(path))
        logger = ifcopenshell.validate.json_logger()
        t = time.time()
        ifcopenshell.validate.validate(f, logger)
        t_val = time.time() - t
        errors = [s for s in logger.statements if s["level"] == "error"]
        buildings = f.by_type("IfcBuilding")
        residents = sum(uel.get_pset(b, "CT_Residential", "Residents") or 0 for b in buildings)
        doors = f.by_type("IfcDoor")
        gates = [d for d in doors if d.PredefinedType == "GATE"]
        windows = f.by_type("IfcWindow")
        maps = {w.Representation.Representations[0].Items[0].MappingSource.id() for w in windows}
        chambers = f.by_type("IfcDistributionChamberElement")
        outfalls = [c for c in chambers if uel.get_pset(c, "CT_StormNode", "NodeKind") == "OUTFALL"]
        # surfaces from the IFC geometry: upward-facing triangles of elements with CT_Surface
        surf = [e for e in f.by_type("IfcElement") if uel.get_pset(e, "CT_Surface")]
        settings = ifcopenshell.geom.settings()
        settings.set("use-world-coords", True)
        area = 0.0
        it = ifcopenshell.geom.iterator(settings, f, 1, include=surf)
        assert it.initialize()
        while True:
            shape = it.get()
            v = np.asarray(shape.geometry.verts).reshape(-1, 3)
            tri = np.asarray(shape.geometry.faces).reshape(-1, 3)
            a, b, c = v[tri[:, 0]], v[tri[:, 1]], v[tri[:, 2]]
            n = np.cross(b - a, c - a)
            up = n[:, 2] > 0.5 * np.linalg.norm(n, axis=1)
            area += float(np.sum(n[up, 2]) / 2)
            if not it.next():
                break
        # storm network connectivity
        G = nx.DiGraph()
        pipes = f.by_type("IfcPipeSegment")
        two_ports = 0
        for p in pipes:
            ports = [r.RelatedObjects for r in p.IsNestedBy]
            ports = [x for group in ports for x in group if x.is_a("IfcDistributionPort")]
            linked = []
            for port in ports:
                for rel in list(port.ConnectedTo) + list(port.ConnectedFrom):
                    other = rel.RelatedPort if rel.RelatingPort == port else rel.RelatingPort
                    owner = other.Nests[0].RelatingObject
                    linked.append((port.FlowDirection, owner.GlobalId))
            if len(linked) == 2:
                two_ports += 1
            src = [o for d, o in linked if d == "SINK"]
            dst = [o for d, o in linked if d == "SOURCE"]
            if src and dst:
                G.add_edge(src[0], p.GlobalId)
                G.add_edge(p.GlobalId, dst[0])
        out_id = outfalls[0].GlobalId if outfalls else None
        drains = all(nx.has_path(G, c.GlobalId, out_id) for c in chambers) if out_id else False
        elements = f.by_type("IfcElement")
        report[state] = {
            "validate_errors": len(errors), "validate_s": round(t_val, 1),
            "first_errors": [e["message"][:200] for e in errors[:3]],
            "blocks": sum(1 for b in buildings if uel.get_pset(b, "CT_Residential")),
            "buildings": len(buildings), "residents": residents,
            "dwelling_units": sum(uel.get_pset(b, "CT_Residential", "DwellingUnits") or 0 for b in buildings),
            "entrance_doors": len(doors) - len(gates), "gates": len(gates), "pipes": len(pipes),
            "manholes": len(chambers) - len(outfalls), "outfalls": len(outfalls),
            "pipes_with_two_connections": two_ports, "all_nodes_drain_to_outfall": drains,
            "windows": len(windows), "window_maps": len(maps), "elements": len(elements),
            "entities": len(list(f)),
            "surface_area_ifc": round(area, 2), "surface_area_plan": round(models[state].info["surfaces_area_plan"], 2),
            "site_area": round(models[state].info["site_area"], 2),
            "surface_error_pct": round(100 * (area - models[state].info["site_area"]) / models[state].info["site_area"], 4),
            "storm": {k: v for k, v in models[state].info["storm"].items() if k not in ("combined", "upsized")},
            "size_bytes": path.stat().st_size,
        }
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "sample_community"))
    ap.add_argument("--check", action="store_true", help="validate the files and print the figures")
    args = ap.parse_args(argv)
    out = Path(args.out)
    t = time.time()
    models = build(out)
    elapsed = time.time() - t
    print(f"wrote {out} in {elapsed:.1f} s")
    if args.check:
        report = check(out, models)
        report["generation_s"] = round(elapsed, 1)
        print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
