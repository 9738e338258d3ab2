"""Walking accessibility: shortest walks on a pedestrian network built from the twin.

The network is the centrelines of the community's roads, lanes and paths (twin.layers.roads)
plus, outside the site, the city streets of the CIM context (twin.context["roads"]); the two
meet only at open gates, because the site is walled (a gate is linked by a straight segment to
the nearest point of the nearest internal and of the nearest city street). Road ends that stop
short of another road (a T-junction drawn to the kerb) are joined to it when the gap is at most
`SNAP_M`. Everything else — building entrances, service points, hydrants, green spaces — is
attached by the straight segment from it to the nearest point of a walkway (inside the site
for points inside it, to the city streets for points outside), split into the walkway there.

Distances are network lengths in metres (Dijkstra, networkx); a building's distance to a
service is the shortest over its entrances (its footprint's representative point when it has
none). The life-circle radii of GB 50180-2018 (5 min ≈ 300 m, 10 min ≈ 500 m, 15 min ≈ 800–
1,000 m) are applied by twin.indicators, not here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

import networkx as nx
import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString, Point, Polygon
from shapely.ops import nearest_points, substring, unary_union

from twin.model import Twin

SNAP_M = 6.0
"""Largest gap between a road's end and another road that is still read as a junction, m:
half the widest internal road (7 m) plus a margin for kerb-to-centreline drawing."""


@dataclass(kw_only=True)
class WalkNetwork:
    """An undirected graph of walkways (edge weight `length_m`) and the named points on it."""

    graph: nx.Graph
    coords: dict[int, tuple[float, float]]
    """Node id → plan position, twin metres."""
    attached: dict[str, int] = field(default_factory=dict)
    """Key of an attached thing ('entrance:<GlobalId>', 'service:<type>:<i>', ...) → node id."""
    lines: list[LineString] = field(default_factory=list)
    """The noded walkway segments (for maps)."""

    def nodes_of(self, prefix: str) -> list[int]:
        return [node for key, node in self.attached.items() if key.startswith(prefix)]

    def distances_from(self, sources: Iterable[int], cutoff: float | None = None) -> dict[int, float]:
        """Network distance (m) from the nearest of `sources` to every reachable node."""
        sources = list(sources)
        if not sources:
            return {}
        return nx.multi_source_dijkstra_path_length(self.graph, sources, cutoff=cutoff, weight="length_m")


def _lines(geometry) -> list[LineString]:
    if geometry is None or geometry.is_empty:
        return []
    if isinstance(geometry, LineString):
        return [LineString([(x, y) for x, y, *_ in geometry.coords])]
    if isinstance(geometry, MultiLineString) or hasattr(geometry, "geoms"):
        return [line for part in geometry.geoms for line in _lines(part)]
    return []


def _snap_connectors(lines: list[LineString]) -> list[LineString]:
    """Segments joining a line's free end to another line within SNAP_M."""
    if len(lines) < 2:
        return []
    tree = shapely.STRtree(lines)
    connectors = []
    for i, line in enumerate(lines):
        for end in (Point(line.coords[0]), Point(line.coords[-1])):
            nearest = [j for j in tree.query(end.buffer(SNAP_M)) if j != i]
            touching = any(lines[j].distance(end) < 1e-6 for j in nearest)
            if touching or not nearest:
                continue
            j = min(nearest, key=lambda k: lines[k].distance(end))
            gap = lines[j].distance(end)
            if gap <= SNAP_M:
                target = lines[j].interpolate(lines[j].project(end))
                connectors.append(LineString([end, target]))
    return connectors


def _noded(lines: list[LineString]) -> list[LineString]:
    """The lines split at every crossing (shapely's unary union nodes them)."""
    if not lines:
        return []
    return [segment for segment in _lines(unary_union(lines)) if segment.length > 1e-9]


class _Builder:
    def __init__(self) -> None:
        self.graph = nx.Graph()
        self.ids: dict[tuple[float, float], int] = {}
        self.coords: dict[int, tuple[float, float]] = {}

    def node(self, xy) -> int:
        key = (round(float(xy[0]), 3), round(float(xy[1]), 3))
        if key not in self.ids:
            self.ids[key] = len(self.ids)
            self.coords[self.ids[key]] = key
            self.graph.add_node(self.ids[key])
        return self.ids[key]

    def edge(self, a: int, b: int, length_m: float, kind: str) -> None:
        if a == b:
            return
        old = self.graph.get_edge_data(a, b)
        if old is None or old["length_m"] > length_m:
            self.graph.add_edge(a, b, length_m=float(length_m), kind=kind)


@dataclass
class _Attachment:
    key: str
    point: tuple[float, float]
    segment: int
    along_m: float
    link_m: float


def build_walk_network(twin: Twin) -> WalkNetwork:
    """The pedestrian network of a twin with its entrances, gates, service points, hydrants
    and green spaces attached (see the module docstring)."""
    layers = twin.layers
    site: Polygon | None = layers.site_boundary
    inside_lines = [line for road in layers.roads for line in _lines(road.centreline)]
    outside_lines = []
    for road in (twin.context or {}).get("roads", []):
        outside_lines += _lines(road.get("centreline"))
    groups = {"inside": _noded(inside_lines + _snap_connectors(inside_lines)),
              "outside": _noded(outside_lines + _snap_connectors(outside_lines))}
    segments: list[LineString] = []
    group_of: list[str] = []
    for name, lines in groups.items():
        segments += lines
        group_of += [name] * len(lines)
    trees = {name: (shapely.STRtree([segments[i] for i in idx]), idx)
             for name in groups if (idx := [i for i, g in enumerate(group_of) if g == name])}

    attachments: list[_Attachment] = []

    def attach(key: str, geometry, group: str) -> None:
        if group not in trees:
            return
        tree, idx = trees[group]
        local = int(tree.query_nearest(geometry)[0])
        segment = idx[local]
        line = segments[segment]
        near_on_line, near_on_thing = nearest_points(line, geometry)
        attachments.append(_Attachment(key, (near_on_thing.x, near_on_thing.y), segment,
                                       line.project(near_on_line), near_on_line.distance(near_on_thing)))

    def side(point: Point) -> str:
        if site is None or "outside" not in trees:
            return "inside"
        return "inside" if site.buffer(1.0).contains(point) else "outside"

    for entrance in layers.entrances:
        attach(f"entrance:{entrance.global_id}", Point(entrance.position[:2]), "inside")
    with_entrance = {e.building for e in layers.entrances}
    for building in layers.buildings:
        if building.global_id not in with_entrance:
            attach(f"building:{building.global_id}", building.footprint.representative_point(), "inside")
    for gate in layers.gates:
        if gate.open:
            attach(f"gate:{gate.global_id}:in", Point(gate.position[:2]), "inside")
            attach(f"gate:{gate.global_id}:out", Point(gate.position[:2]), "outside")
    for i, service in enumerate(layers.service_points):
        point = Point(service.position)
        attach(f"service:{service.service_type}:{service.global_id}", point, side(point))
    for i, service in enumerate((twin.context or {}).get("service_points", [])):
        point = Point(service["position"].coords[0][:2]) if isinstance(service["position"], Point) else Point(service["position"][:2])
        attach(f"service:{service.get('service_type')}:context{i}", point, side(point))
    for hydrant in layers.hydrants:
        point = Point(hydrant.position[:2])
        attach(f"hydrant:{hydrant.global_id}", point, side(point))
    for surface in layers.surfaces:
        if surface.surface_type == "green" and surface.footprint is not None and not surface.footprint.is_empty:
            attach(f"green:{surface.global_id}", surface.footprint, "inside")

    builder = _Builder()
    cuts: dict[int, list[_Attachment]] = {}
    for a in attachments:
        cuts.setdefault(a.segment, []).append(a)
    for index, line in enumerate(segments):
        kind = group_of[index]
        stations = sorted({0.0, line.length, *(a.along_m for a in cuts.get(index, []))})
        nodes = [builder.node(line.interpolate(s).coords[0]) for s in stations]
        for k in range(len(stations) - 1):
            piece = substring(line, stations[k], stations[k + 1])
            builder.edge(nodes[k], nodes[k + 1], piece.length, kind)
    network = WalkNetwork(graph=builder.graph, coords=builder.coords, lines=segments)
    gate_ends: dict[str, list[int]] = {}
    for a in attachments:
        on_line = builder.node(segments[a.segment].interpolate(a.along_m).coords[0])
        if a.link_m < 1e-6:
            node = on_line
        else:
            node = builder.node(a.point)
            builder.edge(node, on_line, a.link_m, "link")
        if a.key.startswith("gate:"):
            gate_ends.setdefault(a.key.rsplit(":", 1)[0], []).append(node)
        network.attached[a.key] = node
    for ends in gate_ends.values():  # the gate itself: its inside and outside links meet at the gate point
        for a, b in zip(ends, ends[1:]):
            builder.edge(a, b, math.dist(builder.coords[a], builder.coords[b]), "gate")
    return network


def building_distances(twin: Twin, network: WalkNetwork, sources: list[int]) -> dict[str, float]:
    """Building GlobalId → walking distance (m) to the nearest source node (inf if unreachable)."""
    reached = network.distances_from(sources)
    entrance_building = {e.global_id: e.building for e in twin.layers.entrances}
    best: dict[str, float] = {b.global_id: math.inf for b in twin.layers.buildings}
    for key, node in network.attached.items():
        kind, _, rest = key.partition(":")
        if kind == "entrance":
            building = entrance_building.get(rest)
        elif kind == "building":
            building = rest
        else:
            continue
        if building in best:
            best[building] = min(best[building], reached.get(node, math.inf))
    return best


def service_sources(network: WalkNetwork, service_type: str) -> list[int]:
    return network.nodes_of(f"service:{service_type}:")


def resident_share_within(twin: Twin, distances: dict[str, float], radius_m: float) -> float | None:
    """Share (0–1) of residents whose building is within `radius_m`; None without residents."""
    total = sum(b.residents for b in twin.layers.buildings if b.residential)
    if total <= 0:
        return None
    covered = sum(b.residents for b in twin.layers.buildings
                  if b.residential and distances.get(b.global_id, math.inf) <= radius_m)
    return covered / total


def edge_array(network: WalkNetwork) -> np.ndarray:
    """(E, 2, 2) plan segments of the graph's edges, for maps."""
    return np.array([[network.coords[a], network.coords[b]] for a, b in network.graph.edges], dtype=np.float64).reshape(-1, 2, 2)
