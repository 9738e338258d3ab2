"""The street network the traffic engine drives on: junctions, directed edges, lanes, turning movements.

`Network` holds plain, documented data (nodes with a control type, directed edges with length,
speed limit, lanes, widths) that can come from a twin, from SUMO plain XML or from the grid
generator. `compile_network` turns it into the arrays the kernels use: lanes, movements
("links" from an incoming to an outgoing edge at a junction) with their length and speed
through the junction, and for every movement the set of conflicting movements (paths that
cross or merge) and whether it must yield to each of them (priority road, right before left,
all-way stop, fixed-time signal).

Geometry (right-hand traffic, as in China): an edge runs from its start node to its end node,
its lanes sit right of the centreline when the opposite direction exists; each edge is cut
back at a junction by the junction's radius (half the widest crossing road plus
`JUNCTION_CORNER_M`), or, where a neighbouring road meets it at an acute angle, until its side
clears that road's side (plus the corner; as netconvert's junction shapes, within 2.5 m of its lane
lengths at skewed junctions), and a movement crosses the junction along a quadratic curve between the
two cut points. Turning speed is limited to sqrt(a_lat r) with a_lat = 5.5 m/s² (SUMO's
junctions.limit-turn-speed default), r the curve's radius. A road to a community gate keeps
`GATE_APRON_M` of drivable length whatever the junction's radius (the car at the barrier stands
on it, clear of the junction).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .signals import SIGNAL_GREEN as SIGNAL_GREEN_STATE, SignalPlan, SignalProgram, bearing_from, default_program, given_program, major_approaches, streams_cross

JUNCTION_TYPES = ("priority", "right_before_left", "allway_stop", "traffic_light", "dead_end", "unregulated")
"""unregulated: nobody gives way to anybody (SUMO's traffic_light_unregulated: one all-green phase
and no right of way); drivers only follow the car ahead on the lane they drive onto."""
KIND_CODE = {name: i for i, name in enumerate(JUNCTION_TYPES)}
LANE_WIDTH_M = 3.2
"""Default lane width (SUMO's default; GB 50220 urban lanes 3.25-3.5 m)."""
JUNCTION_CORNER_M = 2.0
"""Extra cut beyond half the crossing road's width: the kerb radius of a small junction."""
TURN_LATERAL_ACCEL_MPS2 = 5.5
"""Maximum lateral acceleration in turns (SUMO netconvert junctions.limit-turn-speed default)."""
TWO_WAY_CLEAR_WIDTH_M = 5.0
"""Clear carriageway width two moving cars need to pass: 2 x 1.8 m car + 3 x ~0.45 m margins."""
FIRE_LANE_WIDTH_M = 4.0
"""Clear width a fire engine needs (GB 50016-2014 §7.1.8: fire lanes at least 4 m wide)."""
CROSSING_CLEAR_M = 2.0
"""How far (m) from the point where two paths cross a vehicle keeps clear of it: the other may go once
its rear is this far past; a left-turner waiting inside a junction stops this far before it (half a
lane each side: the two vehicles' half widths and a margin)."""
GATE_APRON_M = 7.0
"""Drivable length kept on a road leading to a gate (one car, 4.8 m, and its standstill gap): the
junction cut-back never eats into it, so the car being served at the barrier stands clear of the
junction and the next one waits at the junction's stop line, as at a real community gate."""

STRAIGHT, RIGHT, LEFT, UTURN = 0, 1, 2, 3


class NetworkError(ValueError):
    """A network is inconsistent: the message names the file, node or edge and the field."""


@dataclass(frozen=True, kw_only=True)
class Node:
    """A junction (or a dead end / boundary point). x, y in metres; kind in JUNCTION_TYPES."""

    id: str
    x: float
    y: float
    kind: str = "priority"
    gate_service_s: float = 0.0   # s, a community gate's service time per vehicle (0: no gate)
    source: str = ""              # where it was read from, for error messages


@dataclass(frozen=True, kw_only=True)
class Edge:
    """A directed road between two nodes, with its lanes.

    width_m is the carriageway width of this direction (lanes x 3.2 m when not given);
    parked_width_m is the part of it taken by parked cars (informal parking narrows a street).
    `single_track` marks a two-way street where only one moving car fits: vehicles wait at the
    ends (the passing places) while the opposite direction is occupied.
    """

    id: str
    from_node: str
    to_node: str
    speed_mps: float = 13.89      # m/s, speed limit
    lanes: int = 1
    length_m: float | None = None  # m, node to node; None: straight-line distance
    priority: int = -1            # SUMO edge priority: higher is the major road at priority junctions
    width_m: float | None = None  # m, carriageway width of this direction
    parked_width_m: float = 0.0   # m, width taken by parked cars
    single_track: bool = False
    closed: bool = False          # a closure (proposal action): no route may use it
    name: str = ""
    global_id: str = ""           # the road's IFC GlobalId when extracted from a twin
    shape: tuple[tuple[float, float], ...] = ()  # optional polyline (m), node to node
    source: str = ""

    @property
    def clear_width_m(self) -> float:
        return (self.width_m if self.width_m is not None else self.lanes * LANE_WIDTH_M) - self.parked_width_m


@dataclass(frozen=True, kw_only=True)
class Connection:
    """A lane-to-lane connection (SUMO .con.xml): lane `from_lane` of edge `from_edge` (0 = rightmost)
    leads to `to_edge` (its lane `to_lane`; -1: not given). Where an edge has connections, its
    movements use the lanes they name; elsewhere the default: right turns from the rightmost lane,
    left turns from the leftmost, straight on from every lane."""

    from_edge: str
    to_edge: str
    from_lane: int = -1
    to_lane: int = -1
    source: str = ""


@dataclass(kw_only=True)
class Network:
    """Nodes and directed edges. Closures and one-way changes are `with_closure` / `with_one_way`.
    connections: lane-to-lane connections where given; signal_plans: fixed-time programs of
    signalised junctions by node id (else netconvert's default program, see signals.py)."""

    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    source: str = ""
    connections: list[Connection] = field(default_factory=list)
    signal_plans: dict[str, SignalPlan] = field(default_factory=dict)

    def with_closure(self, edge_ids) -> "Network":
        """The network with these edges closed (a proposal action)."""
        closed = set(edge_ids)
        self._check_ids(closed)
        return Network(nodes=list(self.nodes), edges=[replace(e, closed=True) if e.id in closed else e for e in self.edges],
                       source=self.source, connections=list(self.connections), signal_plans=dict(self.signal_plans))

    def with_one_way(self, edge_ids) -> "Network":
        """The network where these edges become one-way: their opposite direction is removed."""
        keep = set(edge_ids)
        self._check_ids(keep)
        by_id = {e.id: e for e in self.edges}
        drop = set()
        for eid in keep:
            e = by_id[eid]
            for other in self.edges:
                if other.from_node == e.to_node and other.to_node == e.from_node:
                    drop.add(other.id)
        return Network(nodes=list(self.nodes), edges=[e for e in self.edges if e.id not in drop], source=self.source,
                       connections=[c for c in self.connections if c.from_edge not in drop and c.to_edge not in drop],
                       signal_plans=dict(self.signal_plans))

    def _check_ids(self, ids) -> None:
        known = {e.id for e in self.edges}
        unknown = sorted(set(ids) - known)
        if unknown:
            raise NetworkError(f"{self.source or 'network'}: no edge(s) {', '.join(unknown)}")


@dataclass(kw_only=True)
class CompiledNetwork:
    """Arrays for the kernels (index order = order of Network.edges / nodes)."""

    node_ids: list[str]
    edge_ids: list[str]
    edge_index: dict[str, int]
    node_x: np.ndarray
    node_y: np.ndarray
    node_kind: np.ndarray        # int8, KIND_CODE
    node_gate_s: np.ndarray
    edge_from: np.ndarray        # int32
    edge_to: np.ndarray
    edge_length: np.ndarray      # m, drivable lane length (node distance minus the junction cuts)
    edge_full_length: np.ndarray  # m, node to node
    edge_speed: np.ndarray
    edge_lanes: np.ndarray
    edge_first_lane: np.ndarray
    edge_clear_width: np.ndarray
    edge_closed: np.ndarray      # bool
    edge_single_track: np.ndarray  # bool
    edge_opposite: np.ndarray    # int32, -1 when none
    edge_start_xy: np.ndarray    # (E, 2) drivable start point (centreline, after the cut)
    edge_end_xy: np.ndarray      # (E, 2)
    edge_offset_xy: np.ndarray   # (E, 2) unit vector to the right of travel
    lane_edge: np.ndarray        # int32 (L,)
    lane_index: np.ndarray       # int32 (L,) 0 = rightmost
    link_from: np.ndarray        # int32 (K,)
    link_to: np.ndarray
    link_node: np.ndarray
    link_length: np.ndarray      # m, through the junction
    link_speed: np.ndarray       # m/s, turning speed limit
    link_turn: np.ndarray        # int8 STRAIGHT/RIGHT/LEFT/UTURN
    link_major: np.ndarray       # int8, 1 on the major road of a priority junction
    link_lane_lo: np.ndarray     # int32, the movement's lanes on its incoming edge: lane_lo..lane_hi (0 = rightmost)
    link_lane_hi: np.ndarray
    link_to_lo: np.ndarray       # int32, the lanes of the outgoing edge it leads onto: to_lo..to_hi
    link_to_hi: np.ndarray
    edge_link_start: np.ndarray  # int32 (E+1,) CSR of links by incoming edge
    foe_start: np.ndarray        # int32 (K+1,) CSR of conflicting links
    foe_link: np.ndarray         # int32
    foe_yield: np.ndarray        # int8: 1 = this link must yield to that foe
    foe_crossing: np.ndarray     # int8: 1 = paths cross (0 = they merge into the same edge)
    foe_clear_m: np.ndarray      # m along the foe's path where it crosses this link's path (its length when they merge)
    link_wait_m: np.ndarray      # m into the junction where a green-minor driver may wait for its gap (0: it waits at the line)
    signal_programs: list[SignalProgram]   # one per signalised junction
    link_entry_xy: np.ndarray    # (K, 2)
    link_exit_xy: np.ndarray     # (K, 2)
    notes: list[str] = field(default_factory=list)   # connections or programs given but not applied as given (why)

    @property
    def n_lanes(self) -> int:
        return len(self.lane_edge)

    def link_between(self, from_edge: int, to_edge: int) -> int:
        for k in range(self.edge_link_start[from_edge], self.edge_link_start[from_edge + 1]):
            if self.link_to[k] == to_edge:
                return k
        return -1


def _heading(dx: float, dy: float) -> float:
    return math.atan2(dy, dx)


def _angle_diff(a: float, b: float) -> float:
    """b - a wrapped to (-pi, pi]."""
    d = (b - a + math.pi) % (2 * math.pi) - math.pi
    return d if d != -math.pi else math.pi


LANE_ORDER_MIN_ANGLE = math.radians(5.0)
"""Two movements onto one edge whose turning angles differ by less than this come from the same side."""


def _segments_cross(p1, p2, q1, q2) -> bool:
    def orient(a, b, c):
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    d1, d2 = orient(q1, q2, p1), orient(q1, q2, p2)
    d3, d4 = orient(p1, p2, q1), orient(p1, p2, q2)
    return (d1 * d2 < 0) and (d3 * d4 < 0)


def _distance_to_crossing(pb, pa, b0, b1, a0, a1, length_b) -> float:
    """How far (m) along path b (polyline pb, length length_b) it crosses path a (polyline pa); with
    pb None (two straight movements), or where the polylines only touch, the point where the chords
    b0-b1 and a0-a1 cross, as a share of b's length."""
    if pb is not None:
        p, p2 = pb[:-1, None, :], pb[1:, None, :]        # segments of b (rows) against segments of a (columns)
        q, q2 = pa[None, :-1, :], pa[None, 1:, :]

        def orient(a, b, c):
            return (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0])
        hit = (orient(q, q2, p) * orient(q, q2, p2) < 0) & (orient(p, p2, q) * orient(p, p2, q2) < 0)
        rows = np.nonzero(hit.any(axis=1))[0]
        if len(rows):   # the middle of b's crossing segment (segments are 1/16 of the path, nearly equal)
            return float((rows[0] + 0.5) / (len(pb) - 1) * length_b)
    d_b, d_a = np.subtract(b1, b0), np.subtract(a1, a0)
    den = d_b[0] * d_a[1] - d_b[1] * d_a[0]
    t = ((a0[0] - b0[0]) * d_a[1] - (a0[1] - b0[1]) * d_a[0]) / den if abs(den) > 1e-12 else 0.5
    return float(min(max(t, 0.0), 1.0) * length_b)


def compile_network(net: Network) -> CompiledNetwork:
    """Check the network and build the kernels' arrays (see the module docstring)."""
    where = net.source or "network"
    node_index: dict[str, int] = {}
    for n in net.nodes:
        if n.id in node_index:
            raise NetworkError(f"{n.source or where}: node {n.id!r} defined twice")
        if n.kind not in KIND_CODE:
            raise NetworkError(f"{n.source or where}: node {n.id!r} type {n.kind!r} not supported (expected one of {', '.join(JUNCTION_TYPES)})")
        node_index[n.id] = len(node_index)
    edge_index: dict[str, int] = {}
    for e in net.edges:
        src = e.source or where
        if e.id in edge_index:
            raise NetworkError(f"{src}: edge {e.id!r} defined twice")
        for end, nid in (("from", e.from_node), ("to", e.to_node)):
            if nid not in node_index:
                raise NetworkError(f"{src}: edge {e.id!r} {end}={nid!r} is not a known node")
        if e.from_node == e.to_node:
            raise NetworkError(f"{src}: edge {e.id!r} starts and ends at node {e.from_node!r}")
        if not (e.speed_mps > 0) or not (e.lanes >= 1):
            raise NetworkError(f"{src}: edge {e.id!r} needs speed > 0 and at least one lane (speed={e.speed_mps}, lanes={e.lanes})")
        edge_index[e.id] = len(edge_index)
    nodes, edges = net.nodes, net.edges
    N, E = len(nodes), len(edges)
    nx_ = np.array([n.x for n in nodes], dtype=np.float64)
    ny_ = np.array([n.y for n in nodes], dtype=np.float64)
    efrom = np.array([node_index[e.from_node] for e in edges], dtype=np.int32)
    eto = np.array([node_index[e.to_node] for e in edges], dtype=np.int32)
    width = np.array([e.width_m if e.width_m is not None else e.lanes * LANE_WIDTH_M for e in edges])
    pair = {(efrom[i], eto[i]): i for i in range(E)}
    opposite = np.array([pair.get((eto[i], efrom[i]), -1) for i in range(E)], dtype=np.int32)

    # direction of each edge at its start and end (shape aware)
    start_dir = np.zeros((E, 2))
    end_dir = np.zeros((E, 2))
    full_len = np.zeros(E)
    for i, e in enumerate(edges):
        pts = [(nx_[efrom[i]], ny_[efrom[i]])] + [tuple(p) for p in e.shape[1:-1]] + [(nx_[eto[i]], ny_[eto[i]])]
        geo_len = sum(math.dist(pts[k], pts[k + 1]) for k in range(len(pts) - 1))
        if geo_len <= 0 and not e.length_m:
            raise NetworkError(f"{e.source or where}: edge {e.id!r} has zero length (nodes at the same place)")
        full_len[i] = e.length_m if e.length_m else geo_len
        d0 = np.subtract(pts[1], pts[0]); d1 = np.subtract(pts[-1], pts[-2])
        start_dir[i] = d0 / max(np.linalg.norm(d0), 1e-9)
        end_dir[i] = d1 / max(np.linalg.norm(d1), 1e-9)

    # junction radius: half the widest road (both directions) meeting there, plus the corner
    arms: dict[int, set] = {k: set() for k in range(N)}
    for i in range(E):
        arms[int(efrom[i])].add(int(eto[i]))
        arms[int(eto[i])].add(int(efrom[i]))
    road_width = width + np.where(opposite >= 0, width[np.maximum(opposite, 0)], 0.0)
    radius = np.zeros(N)
    for i in range(E):
        for nd in (efrom[i], eto[i]):
            if len(arms[int(nd)]) >= 3:
                radius[nd] = max(radius[nd], road_width[i] / 2 + JUNCTION_CORNER_M)
    # where roads meet at an acute angle an arm is cut back until it clears its neighbours: the
    # corner where its side meets the side of the next road round the junction lies
    # (w_next + w cos a) / sin a along it (half widths w, angle a between them; w_next at 90 deg)
    arm_dir: dict[int, dict[int, tuple[float, float, float]]] = {k: {} for k in range(N)}   # node -> other end -> (dx, dy, half width)
    for i in range(E):
        arm_dir[int(efrom[i])].setdefault(int(eto[i]), (start_dir[i][0], start_dir[i][1], road_width[i] / 2))
        arm_dir[int(eto[i])].setdefault(int(efrom[i]), (-end_dir[i][0], -end_dir[i][1], road_width[i] / 2))
    arm_cut: dict[tuple[int, int], float] = {}
    for nd, ends in arm_dir.items():
        if len(ends) < 3:
            continue
        for other, (dx, dy, w) in ends.items():
            clear = 0.0
            for other2, (dx2, dy2, w2) in ends.items():
                if other2 == other:
                    continue
                cos_a = dx * dx2 + dy * dy2
                sin_a = abs(dx * dy2 - dy * dx2)
                if cos_a > 0 and sin_a > 1e-6:      # an acute neighbour
                    clear = max(clear, (w2 + w * cos_a) / sin_a)
            arm_cut[nd, other] = clear + JUNCTION_CORNER_M
    cut_start = np.array([max(radius[efrom[i]], arm_cut.get((int(efrom[i]), int(eto[i])), 0.0)) for i in range(E)])
    cut_end = np.array([max(radius[eto[i]], arm_cut.get((int(eto[i]), int(efrom[i])), 0.0)) for i in range(E)])
    # a road to a gate keeps room for the car standing at the barrier (GATE_APRON_M), or 80 % of
    # its length when shorter, so that car stands on the gate road, not in the junction behind it
    gate = np.array([n.gate_service_s > 0 for n in nodes], dtype=bool)
    at_gate = gate[efrom] | gate[eto]
    apron = np.minimum(GATE_APRON_M, 0.8 * full_len)
    over = at_gate & (full_len - cut_start - cut_end < apron)
    room = np.maximum(full_len - apron, 0.0)
    cut_start = np.where(over & ~gate[efrom], np.minimum(cut_start, room), cut_start)
    cut_end = np.where(over & ~gate[eto], np.minimum(cut_end, room), cut_end)
    too_short = cut_start + cut_end > 0.8 * full_len
    scale = np.where(too_short, 0.8 * full_len / np.maximum(cut_start + cut_end, 1e-9), 1.0)
    cut_start *= scale
    cut_end *= scale
    length = full_len - cut_start - cut_end
    right = np.stack([start_dir[:, 1], -start_dir[:, 0]], axis=1)
    lane_centre_off = np.where(opposite >= 0, width / 2, 0.0)
    start_xy = np.stack([nx_[efrom], ny_[efrom]], axis=1) + start_dir * cut_start[:, None] + right * lane_centre_off[:, None]
    right_end = np.stack([end_dir[:, 1], -end_dir[:, 0]], axis=1)
    end_xy = np.stack([nx_[eto], ny_[eto]], axis=1) - end_dir * cut_end[:, None] + right_end * lane_centre_off[:, None]

    # lanes
    lanes = np.array([e.lanes for e in edges], dtype=np.int32)
    first_lane = np.zeros(E, dtype=np.int32)
    first_lane[1:] = np.cumsum(lanes)[:-1]
    lane_edge = np.repeat(np.arange(E, dtype=np.int32), lanes)
    lane_idx = np.concatenate([np.arange(k, dtype=np.int32) for k in lanes]) if E else np.zeros(0, np.int32)

    # links: every incoming -> outgoing pair at a node, no U-turns unless it is a dead end
    out_by_node: dict[int, list[int]] = {k: [] for k in range(N)}
    for i in range(E):
        out_by_node[int(efrom[i])].append(i)
    lf, lt, ln, llen, lspd, lturn, lentry, lexit, langle, lcurve = [], [], [], [], [], [], [], [], [], []
    edge_link_start = np.zeros(E + 1, dtype=np.int32)
    for i in range(E):
        node = int(eto[i])
        outs = out_by_node[node]
        for j in outs:
            if edges[j].closed or edges[i].closed:
                continue
            u = int(eto[j]) == int(efrom[i])
            if u and len(outs) > 1:
                continue
            h_in = _heading(*end_dir[i])
            h_out = _heading(*start_dir[j])
            d = _angle_diff(h_in, h_out)
            turn = UTURN if u else (STRAIGHT if abs(d) < math.radians(30) else (LEFT if d > 0 else RIGHT))
            p0, p2 = end_xy[i], start_xy[j]
            # control point: where the entry ray and the exit ray meet (else the midpoint)
            den = end_dir[i][0] * start_dir[j][1] - end_dir[i][1] * start_dir[j][0]
            if abs(den) > 1e-6:
                tpar = ((p2[0] - p0[0]) * start_dir[j][1] - (p2[1] - p0[1]) * start_dir[j][0]) / den
                c = p0 + end_dir[i] * tpar
            else:
                c = (p0 + p2) / 2
            ts = np.linspace(0, 1, 17)
            curve = ((1 - ts) ** 2)[:, None] * p0 + (2 * (1 - ts) * ts)[:, None] * c + (ts ** 2)[:, None] * p2
            seg = float(np.linalg.norm(np.diff(curve, axis=0), axis=1).sum())
            seg = max(seg, 0.1)
            v = min(edges[i].speed_mps, edges[j].speed_mps)
            if turn != STRAIGHT:
                r = seg / max(abs(d), 1e-3)   # arc length / turning angle
                v = min(v, math.sqrt(TURN_LATERAL_ACCEL_MPS2 * r))
            lf.append(i); lt.append(j); ln.append(node); llen.append(seg); lspd.append(max(v, 1.0)); lturn.append(turn)
            lentry.append(p0); lexit.append(p2); langle.append(math.pi if u else d); lcurve.append(curve)
        edge_link_start[i + 1] = len(lf)
    K = len(lf)
    link_from = np.array(lf, dtype=np.int32); link_to = np.array(lt, dtype=np.int32)
    link_node = np.array(ln, dtype=np.int32)
    link_turn = np.array(lturn, dtype=np.int8)
    entry = np.array(lentry).reshape(K, 2); exit_ = np.array(lexit).reshape(K, 2)

    # major road at priority junctions: incoming edges with the highest priority (and their continuations)
    prio = np.array([e.priority for e in edges])
    speeds = np.array([e.speed_mps for e in edges])
    link_major = np.zeros(K, dtype=np.int8)
    kind = np.array([KIND_CODE[n.kind] for n in nodes], dtype=np.int8)
    links_at: dict[int, list[int]] = {k: [] for k in range(N)}
    for k in range(K):
        links_at[int(link_node[k])].append(k)
    for node, ks in links_at.items():
        if kind[node] != KIND_CODE["priority"] or not ks:
            continue
        ins = sorted({int(link_from[k]) for k in ks})
        rank = {i: (prio[i], speeds[i], lanes[i]) for i in ins}
        best = max(rank.values())
        major_in = {i for i in ins if rank[i] == best}
        for k in ks:
            if int(link_from[k]) in major_in:
                link_major[k] = 1
        if len(major_in) == len(ins):   # all approaches equal: nobody is major
            link_major[[k for k in ks]] = 0

    notes: list[str] = []
    lane_lo, lane_hi, to_lo, to_hi = _link_lanes(net, edges, lanes, link_from, link_to, np.array(langle), edge_link_start, notes)

    # conflicts: paths that cross, or merge onto the same lanes of the same edge
    conflict: dict[tuple[int, int], int] = {}     # (a, b) -> 1 crossing, 0 merging
    crossing_at: dict[tuple[int, int], float] = {}  # (a, b) -> m along b's path where it crosses a's
    for node, ks in links_at.items():
        if len(ks) < 2 or kind[node] in (KIND_CODE["dead_end"], KIND_CODE["unregulated"]):
            continue
        for a in ks:
            for b in ks:
                if a == b or link_from[a] == link_from[b]:
                    continue
                merge = link_to[a] == link_to[b] and to_lo[a] <= to_hi[b] and to_lo[b] <= to_hi[a]
                # opposite left turns pass each other (as in SUMO), though their curves here touch
                opposite_lefts = link_turn[a] == LEFT and link_turn[b] == LEFT and abs(_angle_diff(
                    _heading(*end_dir[link_from[a]]), _heading(*end_dir[link_from[b]]))) > math.radians(135)
                cross = not opposite_lefts and _segments_cross(entry[a], exit_[a], entry[b], exit_[b])
                if not cross and not merge and link_to[a] == link_to[b] and abs(langle[a] - langle[b]) > LANE_ORDER_MIN_ANGLE:
                    # onto other lanes of one edge: the paths cross when the movement coming from the
                    # left (turning more to the left) takes lanes to the right of the other's, as where
                    # a U-turn joins a road's left lanes past the right-hand lane its own road feeds
                    # (their chords, from one point, need not cross)
                    cross = (to_hi[a] < to_lo[b]) == (langle[a] > langle[b])
                if cross:
                    curved = link_turn[a] != STRAIGHT or link_turn[b] != STRAIGHT
                    crossing_at[a, b] = _distance_to_crossing(lcurve[b] if curved else None, lcurve[a], entry[b], exit_[b],
                                                              entry[a], exit_[a], llen[b])
                if merge or cross:
                    conflict[a, b] = int(cross and not merge)

    def rule_yield(a, b) -> bool:   # who gives way between equal approaches (also between two greens)
        return _must_yield(a, b, KIND_CODE["right_before_left"], link_major, link_turn, end_dir, link_from)

    # signal programs; who gives way at a signal: a green-minor movement to the green ones it conflicts with
    programs = []
    signal_yield: set[tuple[int, int]] = set()
    for node, ks in links_at.items():
        if kind[node] != KIND_CODE["traffic_light"] or not ks:
            continue
        program, gives_way = _signal_program(net, node, ks, link_from, link_to, link_turn, np.array(langle), lane_lo, lane_hi, lanes,
                                             end_dir, start_dir, prio, speeds, conflict, rule_yield, notes)
        programs.append(program)
        col = {int(k): j for j, k in enumerate(program.links)}
        for p in range(len(program.durations_s)):
            green = [k for k in ks if program.states[p, col[k]] == SIGNAL_GREEN_STATE]
            for a in green:
                for b in green:
                    if (a, b) in conflict:
                        low_a, low_b = program.minor[p, col[a]], program.minor[p, col[b]]
                        if (low_a and not low_b) or (low_a == low_b and gives_way(a, b)):
                            signal_yield.add((a, b))

    foe_lists: list[list[tuple[int, int, int]]] = [[] for _ in range(K)]
    foe_clear: list[float] = []
    for (a, b), crossing in sorted(conflict.items()):
        node = int(link_node[a])
        if kind[node] == KIND_CODE["traffic_light"]:
            y = (a, b) in signal_yield
        else:
            y = _must_yield(a, b, kind[node], link_major, link_turn, end_dir, link_from)
        foe_lists[a].append((b, int(y), crossing))
        foe_clear.append(crossing_at.get((a, b), llen[b]) if crossing else llen[b])
    # at a signal a driver giving way (a permissive left turn) may wait inside the junction, short of
    # the first path it gives way to, as in SUMO; only where the whole vehicle (~5 m) fits before it
    link_wait = np.zeros(K, dtype=np.float64)
    for (b, a), crossing in conflict.items():
        if crossing and kind[int(link_node[a])] == KIND_CODE["traffic_light"] and (a, b) in signal_yield and (b, a) in crossing_at:
            at = crossing_at[b, a] - CROSSING_CLEAR_M
            link_wait[a] = at if link_wait[a] == 0.0 else min(link_wait[a], at)
    link_wait[link_wait < 5.5] = 0.0
    foe_start = np.zeros(K + 1, dtype=np.int32)
    flat = []
    for k in range(K):
        flat.extend(foe_lists[k])
        foe_start[k + 1] = len(flat)
    foe_arr = np.array(flat, dtype=np.int32).reshape(-1, 3)
    return CompiledNetwork(
        node_ids=[n.id for n in nodes], edge_ids=[e.id for e in edges], edge_index=edge_index,
        node_x=nx_, node_y=ny_, node_kind=kind, node_gate_s=np.array([n.gate_service_s for n in nodes], dtype=np.float64),
        edge_from=efrom, edge_to=eto, edge_length=length, edge_full_length=full_len, edge_speed=speeds.astype(np.float64),
        edge_lanes=lanes, edge_first_lane=first_lane, edge_clear_width=np.array([e.clear_width_m for e in edges]),
        edge_closed=np.array([e.closed for e in edges], dtype=np.bool_),
        edge_single_track=np.array([e.single_track for e in edges], dtype=np.bool_), edge_opposite=opposite,
        edge_start_xy=start_xy, edge_end_xy=end_xy, edge_offset_xy=right,
        lane_edge=lane_edge, lane_index=lane_idx,
        link_from=link_from, link_to=link_to, link_node=link_node, link_length=np.array(llen, dtype=np.float64),
        link_speed=np.array(lspd, dtype=np.float64), link_turn=link_turn, link_major=link_major,
        link_lane_lo=lane_lo, link_lane_hi=lane_hi, link_to_lo=to_lo, link_to_hi=to_hi, edge_link_start=edge_link_start,
        foe_start=foe_start, foe_link=foe_arr[:, 0].copy(), foe_yield=foe_arr[:, 1].astype(np.int8),
        foe_crossing=foe_arr[:, 2].astype(np.int8), foe_clear_m=np.array(foe_clear, dtype=np.float64), link_wait_m=link_wait,
        signal_programs=programs,
        link_entry_xy=entry, link_exit_xy=exit_, notes=notes,
    )


def _must_yield(a, b, kind, link_major, link_turn, end_dir, link_from) -> bool:
    """Does movement a give way to movement b at their (unsignalised) junction?"""
    h_a = _heading(*end_dir[int(link_from[a])])
    h_b = _heading(*end_dir[int(link_from[b])])
    rel = _angle_diff(h_a, h_b)   # foe's heading relative to ours: +90 deg = the foe comes from our right
    opposite = abs(rel) > math.radians(135)
    from_right = math.radians(45) <= rel <= math.radians(135)
    left_vs_oncoming = opposite and link_turn[a] == LEFT and link_turn[b] in (STRAIGHT, RIGHT)
    if kind == KIND_CODE["priority"] and link_major[a] != link_major[b]:
        return bool(link_major[b] > link_major[a])
    if left_vs_oncoming:
        return True
    if opposite:
        return False
    # right before left (also the rule between equal approaches at priority and all-way stop junctions)
    return bool(from_right)


def _link_lanes(net: Network, edges, lanes, link_from, link_to, angle, edge_link_start, notes):
    """Each movement's lanes on its incoming edge (lo..hi, 0 = rightmost) and on its outgoing edge.
    From the connections where an edge has them, else SUMO's default: the straightest movement from
    every lane onto the matching lanes, movements right of it from the rightmost lane onto the
    rightmost lane, left of it from the leftmost onto the leftmost (without a movement within 60 deg of
    straight on the lanes are shared out from right to left)."""
    K = len(link_from)
    lo, hi = np.zeros(K, dtype=np.int32), np.zeros(K, dtype=np.int32)
    tlo, thi = np.zeros(K, dtype=np.int32), np.zeros(K, dtype=np.int32)
    ids = [e.id for e in edges]
    given: dict[str, dict[str, list]] = {}
    for c in net.connections:
        given.setdefault(c.from_edge, {}).setdefault(c.to_edge, []).append(c)
    for i in range(len(edges)):
        ks = list(range(edge_link_start[i], edge_link_start[i + 1]))
        if not ks:
            continue
        n = int(lanes[i])
        order = sorted(ks, key=lambda k: angle[k])          # rightmost turn first
        main = min(ks, key=lambda k: abs(angle[k]))         # the straightest movement (netconvert's main direction)
        if abs(angle[main]) >= math.radians(60):
            main = -1
        for pos, k in enumerate(order):
            nto = int(lanes[link_to[k]])
            if len(order) == 1 or k == main:
                lo[k], hi[k], tlo[k], thi[k] = 0, n - 1, 0, nto - 1
            elif main >= 0:
                side = 0 if angle[k] < angle[main] else 1
                lo[k] = hi[k] = side * (n - 1)
                tlo[k] = thi[k] = side * (nto - 1)
            else:
                a = pos * n // len(order)
                lo[k], hi[k] = a, max((pos + 1) * n // len(order) - 1, a)
                tlo[k], thi[k] = (0, 0) if pos == 0 else (nto - 1, nto - 1) if pos == len(order) - 1 else (0, nto - 1)
        mine = given.get(ids[i])
        if not mine:
            continue
        for k in ks:
            to_id = ids[link_to[k]]
            cs = mine.get(to_id)
            if not cs:
                notes.append(f"{mine[next(iter(mine))][0].source or net.source}: no connection {ids[i]} -> {to_id}: SUMO "
                             "removes that movement, here it stays on its default lanes")
                continue
            froms = [c.from_lane for c in cs if 0 <= c.from_lane < n]
            tos = [c.to_lane for c in cs if 0 <= c.to_lane < lanes[link_to[k]]]
            if len(froms) < sum(1 for c in cs if c.from_lane >= 0) or len(tos) < sum(1 for c in cs if c.to_lane >= 0):
                notes.append(f"{cs[0].source or net.source}: connection {ids[i]} -> {to_id} names a lane the edge does not have: ignored")
            if froms:
                lo[k], hi[k] = min(froms), max(froms)
                if hi[k] - lo[k] + 1 > len(set(froms)):
                    notes.append(f"{cs[0].source or net.source}: connection {ids[i]} -> {to_id} from lanes {sorted(set(froms))}: "
                                 f"here from lanes {lo[k]}..{hi[k]}")
            if tos:
                tlo[k], thi[k] = min(tos), max(tos)
        known = {ids[link_to[k]] for k in ks}
        for to_id, cs in mine.items():
            if to_id not in known:
                notes.append(f"{cs[0].source or net.source}: connection {ids[i]} -> {to_id} is not a movement of the network "
                             "(no such turn, or a U-turn): ignored")
    return lo, hi, tlo, thi


def _signal_program(net: Network, node, ks, link_from, link_to, link_turn, angle, lane_lo, lane_hi, lanes, end_dir, start_dir,
                    prio, speeds, conflict, rule_yield, notes) -> tuple[SignalProgram, object]:
    """The junction's program: its SignalPlan mapped onto the movements when it has one that can be
    mapped faithfully, else netconvert's default (signals.py); and who gives way between two movements
    green together (netconvert's right of way at the signal for its default program)."""
    ids = [e.id for e in net.edges]
    node_id = net.nodes[node].id
    bearing = {int(e): bearing_from(*end_dir[e]) for e in {int(link_from[k]) for k in ks}}
    ins = sorted(bearing, key=lambda e: (bearing[e], e))            # SUMO's link order: clockwise from north
    links_of = {e: sorted((k for k in ks if link_from[k] == e), key=lambda k: (angle[k], k)) for e in ins}
    links = [k for e in ins for k in links_of[e]]
    plan = net.signal_plans.get(node_id)
    if plan is not None:
        order, why_not = _sumo_link_order(net, ins, links_of, link_to, lanes, ids)
        program, msgs = given_program(node, node_id, plan, order, why_not, links,
                                      {k: (ids[link_from[k]], ids[link_to[k]]) for k in links})
        notes.extend(msgs)
        if program is not None:
            return program, rule_yield

    def dedicated_left(k) -> bool:   # no other movement but a U-turn uses its lanes
        return all(j == k or link_turn[j] == UTURN for j in links_of[int(link_from[k])]
                   if lane_lo[j] <= lane_hi[k] and lane_lo[k] <= lane_hi[j])

    def straight_on(k) -> bool:   # netconvert's straight direction: int(|turn| deg) + 1 < 45
        return link_turn[k] != UTURN and int(abs(math.degrees(float(angle[k]))) + 1e-9) + 1 < 45

    def straight_weight(k) -> float:   # netconvert: 2 straight on or a half turn with a sharper one beside it, else 0.5
        a = float(angle[k])
        if straight_on(k):
            return 2.0
        if abs(a) <= math.radians(90) and any(link_turn[j] != UTURN and float(angle[j]) * a > 0 and abs(float(angle[j])) > abs(a)
                                               for j in links_of[int(link_from[k])]):
            return 2.0
        return 0.5

    major = major_approaches(ins, bearing, {e: (int(prio[e]), float(speeds[e]), int(lanes[e])) for e in ins})

    # netconvert's foes: streams crossing in the order of the roads around the junction, or merging
    side = 1e-3   # deg: a road's lanes in just before its lanes out, clockwise
    enter = {k: bearing[int(link_from[k])] - side for k in links}
    leave = {k: math.degrees(math.atan2(start_dir[int(link_to[k])][0], start_dir[int(link_to[k])][1])) % 360.0 + side for k in links}

    def foes(a, b) -> bool:
        if link_from[a] == link_from[b]:
            return False
        if link_to[a] == link_to[b]:   # onto one road: foes where they merge onto the same lanes
            return (a, b) in conflict or (b, a) in conflict
        return streams_cross(enter[a], leave[a], enter[b], leave[b])

    def gives_way(a, b) -> bool:
        """netconvert's right of way between two greens: a U-turn gives way; then the major road; then
        straight on; else a gives way when b leaves between a's road and b's, clockwise from a's."""
        if link_turn[a] == UTURN or link_turn[b] == UTURN:
            return bool(link_turn[a] == UTURN)
        a_major, b_major = int(link_from[a]) in major, int(link_from[b]) in major
        if a_major != b_major:
            return b_major
        if straight_on(a) != straight_on(b):
            return straight_on(b)
        return 0.0 < (leave[b] - enter[a]) % 360.0 < (enter[b] - enter[a]) % 360.0

    weight = {e: [(k, int(lane_hi[k] - lane_lo[k] + 1), straight_weight(k)) for k in links_of[e] if link_turn[k] != UTURN] for e in ins}
    return default_program(node, ins, links_of, foes, gives_way, lambda k: link_turn[k] == LEFT,
                           dedicated_left, bearing, float(max(speeds[e] for e in ins)), major=major,
                           names={e: ids[e] for e in ins}, weight=weight), gives_way


def _sumo_link_order(net: Network, ins, links_of, link_to, lanes, ids):
    """netconvert's link indices at a junction as (movement, lane) in index order, or None and why when
    this engine cannot reproduce them: an approach's lane-to-lane connections are known only when
    given with both lanes, or when it and the roads it leads onto have one lane each."""
    given: dict[str, list[Connection]] = {}
    for c in net.connections:
        given.setdefault(c.from_edge, []).append(c)
    order = []
    for e in ins:
        cs = given.get(ids[e])
        if cs and all(c.from_lane >= 0 and c.to_lane >= 0 for c in cs):
            rank = {ids[link_to[k]]: (r, k) for r, k in enumerate(links_of[e])}
            for c in sorted((c for c in cs if c.to_edge in rank), key=lambda c: (c.from_lane, rank[c.to_edge][0], c.to_lane)):
                order.append((rank[c.to_edge][1], c.from_lane))
        elif lanes[e] == 1 and all(lanes[link_to[k]] == 1 for k in links_of[e]):
            order.extend((k, 0) for k in links_of[e])
        else:
            return None, f"edge {ids[e]} has {lanes[e]} lane(s) leading onto multi-lane roads and no lane connections given"
    return order, ""
