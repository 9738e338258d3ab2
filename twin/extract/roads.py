"""Twin -> traffic engine inputs: street network, morning-peak demand, car parks, fire-engine runs.

Roads (twin.layers.Road) become directed edges between junctions found where road ends meet
(ends within `SNAP_M` are one junction; a road is split where another ends on it). A one-way
road runs along its centreline (local +X). Two-way roads give one edge each way, each with half
the lanes and half the width; a two-way road whose clear width (width minus informal parking)
is under 5 m is single-track: one moving car at a time, the other waits at the end. Paths
(kind "path") and roads under 2.5 m carry no cars. Junctions: right before left where internal
roads meet (the rule at unsigned junctions in China, Road Traffic Safety Law Implementing
Regulations art. 52), priority to the perimeter road where internal roads join it; a vehicular
gate is a junction with the gate's service time (vehicles stop there, one after another).

Demand for the peak hour (settings in project.toml, defaults below):
- residents leaving: dwelling units x `traffic_peak_trips_per_household` (0.35 per household in
  the morning peak hour; Chinese residential trip-generation surveys give 0.3-0.5 car trips per
  household in the peak hour for old communities) from the car park nearest their building
  that still has a car, to the gate with the fastest route;
- residents and visitors arriving: `traffic_inbound_share` (0.25) of that, from a gate to the car
  park nearest their building, searching on to the nearest car park with room when it is full;
- deliveries: `traffic_deliveries_per_household` (0.02 per peak hour) vans in from a gate to the
  building, out again after `traffic_delivery_dwell_s` (300 s);
- service points: drop-offs per peak hour by type (SERVICE_TRIPS_PER_HOUR), in and out again;
- through traffic: `traffic_through_trips_per_hour` (0) between gates.
Car parks start `traffic_parking_initial_occupancy` (0.9) full, chargers too; `traffic_ev_share`
(0.1: new-energy vehicles were about 9 % of China's cars at the end of 2024, Ministry of Public
Security) of the arriving cars are electric and look for a free charger first. Departures are uniform over
`traffic_duration_s` (3600 s). Fire engines leave from the vehicular gates (emergency.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from shapely.geometry import LineString, Point

from twin.errors import TwinError
from twin.model import Twin

SNAP_M = 1.5
"""Road ends closer than this are one junction (m)."""
MIN_CAR_WIDTH_M = 2.5
SERVICE_TRIPS_PER_HOUR = {"kindergarten": 40, "elderly_station": 6, "community_centre": 10, "clinic": 12, "supermarket": 20}
"""Car drop-offs and visits per peak hour by service type (assumed for old communities; parents'
car share at a 6-class kindergarten of ~180 children ~ 20 %)."""
SERVICE_DWELL_S = 120.0
FIRE_DISPATCH_START_S = 600.0
FIRE_DISPATCH_INTERVAL_S = 60.0
FIRE_LANE_WIDTH_M = 4.0
TWO_WAY_CLEAR_WIDTH_M = 5.0


class RoadExtractionError(TwinError):
    """The twin's roads cannot be turned into a street network (no roads, no gate reachable...)."""


@dataclass(kw_only=True)
class TrafficInputs:
    """Everything the traffic engine needs from a twin, plus what maps results back to it."""

    network: object
    demand: object
    access_targets: list = field(default_factory=list)
    fire_origins: list[str] = field(default_factory=list)
    fire_blocked: set[str] = field(default_factory=set)
    fire_runs: dict = field(default_factory=dict)
    edge_road: dict[str, str] = field(default_factory=dict)   # edge id -> road GlobalId
    notes: list[str] = field(default_factory=list)

    def demand_with_emergency(self):
        """The peak demand plus one fire engine per building, dispatched into the traffic."""
        from sim.traffic.emergency import dispatch_trips, fire_runs

        if not self.fire_runs:
            self.fire_runs = fire_runs(self.network, self.fire_origins, self.access_targets, self.fire_blocked)
        trips = dispatch_trips(self.fire_runs, FIRE_DISPATCH_START_S, FIRE_DISPATCH_INTERVAL_S)
        return replace(self.demand, trips=list(self.demand.trips) + trips)

    def access_times(self, details) -> dict[str, float]:
        from sim.traffic.emergency import access_times

        return access_times(details, self.fire_runs)


def _setting(settings: dict, name: str, default: float) -> float:
    value = settings.get(name, default)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise RoadExtractionError(f"project settings: {name} must be a number >= 0, not {value!r}")
    return float(value)


def extract_traffic(twin: Twin, settings: dict | None = None, *, seed: int | None = None) -> TrafficInputs:
    """The street network, the peak-hour demand and the fire-engine targets of a twin."""
    from sim.traffic.model import CarPark, Demand, Trip, VTYPES
    from sim.traffic.network import Edge, Network, Node, compile_network
    from sim.traffic.routing import Router
    from sim.traffic.emergency import AccessTarget

    settings = settings or {}
    seed = int(settings.get("seed", 0)) if seed is None else seed
    rng = np.random.default_rng(seed)
    layers = twin.layers
    notes: list[str] = []
    roads = [r for r in layers.roads if r.kind != "path" and r.width_m >= MIN_CAR_WIDTH_M and r.centreline.length > 0.5]
    if not roads:
        raise RoadExtractionError(f"{twin.name}: no roads for cars in the twin (roads layer has {len(layers.roads)} items)")
    left_out = len(layers.roads) - len(roads)
    if left_out:
        notes.append(f"{left_out} road(s) carry no cars (paths or narrower than {MIN_CAR_WIDTH_M} m)")

    # junctions: road ends, snapped
    points: list[tuple[float, float]] = []

    def node_of(x: float, y: float) -> int:
        for k, (px, py) in enumerate(points):
            if math.hypot(px - x, py - y) <= SNAP_M:
                return k
        points.append((x, y))
        return len(points) - 1

    for r in roads:
        (x0, y0), (x1, y1) = r.centreline.coords[0][:2], r.centreline.coords[-1][:2]
        node_of(x0, y0)
        node_of(x1, y1)
    # split roads where another road ends on them
    pieces = []   # (road, node_a, node_b, LineString)
    for r in roads:
        line = LineString([c[:2] for c in r.centreline.coords])
        cuts = [0.0, line.length]
        for k, (px, py) in enumerate(points):
            p = Point(px, py)
            if line.distance(p) <= SNAP_M:
                d = line.project(p)
                if SNAP_M < d < line.length - SNAP_M:
                    cuts.append(d)
        cuts = sorted(set(round(c, 3) for c in cuts))
        for a, b in zip(cuts, cuts[1:]):
            pa, pb = line.interpolate(a), line.interpolate(b)
            pieces.append((r, node_of(pa.x, pa.y), node_of(pb.x, pb.y), b - a, len(cuts) > 2))

    # gates
    gate_node: dict[int, object] = {}
    for g in layers.gates:
        if not g.vehicular:
            continue
        d = [math.hypot(px - g.position[0], py - g.position[1]) for px, py in points]
        k = int(np.argmin(d))
        if d[k] <= 6.0:
            gate_node[k] = g
        else:
            notes.append(f"gate {g.global_id} ({g.name}) is {d[k]:.1f} m from the nearest road end: not connected")
    if not any(g.open for g in gate_node.values()):
        raise RoadExtractionError(f"{twin.name}: no open vehicular gate is connected to a road; traffic cannot enter or leave")

    # edges
    edges, edge_road, fire_blocked = [], {}, set()
    neighbours: dict[int, set[int]] = {}
    kinds_at: dict[int, list[str]] = {}
    for n_piece, (r, a, b, length, split) in enumerate(pieces):
        if a == b:
            continue
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
        kinds_at.setdefault(a, []).append(r.kind)
        kinds_at.setdefault(b, []).append(r.kind)
        clear = r.width_m - r.parked_width_m
        prio = 3 if r.kind == "perimeter" else 2
        closed = any(k in gate_node and not gate_node[k].open for k in (a, b))
        base = r.global_id + (f"#{n_piece}" if split else "")
        if r.one_way:
            specs = [(base, a, b, r.lanes, r.width_m, r.parked_width_m, False)]
        else:
            half_lanes = max(1, r.lanes // 2)
            single = clear < TWO_WAY_CLEAR_WIDTH_M
            specs = [(base, a, b, half_lanes, r.width_m / 2, r.parked_width_m / 2, single),
                     (base + "~r", b, a, half_lanes, r.width_m / 2, r.parked_width_m / 2, single)]
        for eid, fa, fb, lanes, width, parked, single in specs:
            edges.append(Edge(id=eid, from_node=f"j{fa}", to_node=f"j{fb}", speed_mps=r.speed_limit_mps, lanes=lanes, length_m=length,
                              priority=prio, width_m=width, parked_width_m=parked, single_track=single, closed=closed,
                              name=r.name or "", global_id=r.global_id, source=f"{twin.name}: road {r.global_id}"))
            edge_road[eid] = r.global_id
            if clear < FIRE_LANE_WIDTH_M:
                fire_blocked.add(eid)
    nodes = []
    for k, (x, y) in enumerate(points):
        deg = len(neighbours.get(k, ()))
        kinds = kinds_at.get(k, [])
        if k in gate_node or deg <= 1:
            kind = "dead_end" if deg <= 1 else "priority"
        elif deg == 2:
            kind = "priority"
        elif kinds.count("perimeter") >= 2 and len(kinds) > kinds.count("perimeter"):
            kind = "priority"
        else:
            kind = "right_before_left"
        g = gate_node.get(k)
        nodes.append(Node(id=f"j{k}", x=x, y=y, kind=kind, gate_service_s=float(g.service_time_s) if g is not None and g.open else 0.0,
                          source=f"{twin.name}: junction at ({x:.1f}, {y:.1f})"))
    network = Network(nodes=nodes, edges=edges, source=f"{twin.name} roads")
    net = compile_network(network)
    router = Router(net)

    gate_in = [e.id for e in edges if int(e.from_node[1:]) in gate_node and gate_node[int(e.from_node[1:])].open and not e.closed]
    gate_out = [e.id for e in edges if int(e.to_node[1:]) in gate_node and gate_node[int(e.to_node[1:])].open and not e.closed]
    if not gate_in or not gate_out:
        raise RoadExtractionError(f"{twin.name}: the open gates have no road in or out")

    # where a point meets the network: per edge id, the nearest point (position along the drivable edge, distance)
    starts, ends = net.edge_start_xy, net.edge_end_xy

    def nearest_edges(x: float, y: float, allowed=None, limit: int = 2):
        d = ends - starts
        L2 = np.maximum((d ** 2).sum(axis=1), 1e-9)
        t = np.clip(((x - starts[:, 0]) * d[:, 0] + (y - starts[:, 1]) * d[:, 1]) / L2, 0.0, 1.0)
        px, py = starts[:, 0] + t * d[:, 0], starts[:, 1] + t * d[:, 1]
        dist = np.hypot(px - x, py - y)
        if allowed is not None:
            dist = np.where(allowed, dist, np.inf)
        dist = np.where(net.edge_closed, np.inf, dist)
        order = np.argsort(dist, kind="stable")[:limit]
        return [(int(e), float(t[e] * net.edge_length[e]), float(dist[e])) for e in order if np.isfinite(dist[e])]

    gate_of_edge = {}
    for e in gate_in:
        gate_of_edge[net.edge_index[e]] = int(next(x for x in edges if x.id == e).from_node[1:])
    for e in gate_out:
        gate_of_edge[net.edge_index[e]] = int(next(x for x in edges if x.id == e).to_node[1:])
    duration_s = _setting(settings, "traffic_duration_s", 3600.0)
    gate_load = {k: 0 for k in gate_node}

    def gate_wait(edge: int) -> float:
        # drivers know which gate is busy at the peak: expected wait grows as the gate's load nears
        # its capacity (duration / service time), s / (1 - utilisation), capped at 95 % utilisation
        k = gate_of_edge.get(edge)
        if k is None:
            return 0.0
        service = float(gate_node[k].service_time_s)
        if service <= 0:
            return 0.0
        rho = min(gate_load[k] * service / duration_s, 0.95)
        return service / (1.0 - rho)

    def fastest(origins: list[int], targets: list[int]):
        best = None
        for o in origins:
            for t in targets:
                tt = 0.0 if o == t else router.time_between(o, t)
                if tt is None:
                    continue
                cost = tt + gate_wait(o) + gate_wait(t)
                if best is None or cost < best[3]:
                    best = (tt, o, t, cost)
        if best is not None:
            for edge in (best[1], best[2]):
                if edge in gate_of_edge:
                    gate_load[gate_of_edge[edge]] += 1
        return best

    in_idx = [net.edge_index[e] for e in gate_in]
    out_idx = [net.edge_index[e] for e in gate_out]

    # car parks
    occupancy = _setting(settings, "traffic_parking_initial_occupancy", 0.9)
    parks, park_edges, cars_left = [], {}, {}
    for p in layers.parking:
        if p.kind == "underground" and p.spaces <= 0:
            continue
        near = nearest_edges(p.position[0], p.position[1])
        if not near:
            continue
        park_edges[p.global_id] = near
        occupied = int(round(min(occupancy, 1.0) * p.spaces))
        parks.append(CarPark(id=p.global_id, edge=net.edge_ids[near[0][0]], spaces=int(p.spaces), occupied=occupied,
                             ev_chargers=int(p.ev_chargers), chargers_occupied=int(round(min(occupancy, 1.0) * p.ev_chargers))))
        cars_left[p.global_id] = occupied
    park_pos = {p.global_id: p.position for p in layers.parking}

    # demand
    duration = _setting(settings, "traffic_duration_s", 3600.0)
    rate = _setting(settings, "traffic_peak_trips_per_household", 0.35) * duration / 3600.0
    inbound_share = _setting(settings, "traffic_inbound_share", 0.25)
    deliveries_rate = _setting(settings, "traffic_deliveries_per_household", 0.02) * duration / 3600.0
    delivery_dwell = _setting(settings, "traffic_delivery_dwell_s", 300.0)
    through = _setting(settings, "traffic_through_trips_per_hour", 0.0) * duration / 3600.0
    trips = []

    def draw(mean: float) -> int:
        whole = int(math.floor(mean))
        return whole + int(rng.random() < mean - whole)

    def depart() -> float:
        return float(round(rng.uniform(0.0, duration), 1))

    homes = [b for b in layers.buildings if b.dwelling_units > 0 and not b.illegal]
    total_units = sum(b.dwelling_units for b in homes)
    no_car = 0
    for b in homes:
        c = b.footprint.centroid
        for _ in range(draw(b.dwelling_units * rate)):
            lots = sorted((math.hypot(park_pos[p][0] - c.x, park_pos[p][1] - c.y), p) for p in cars_left if cars_left[p] > 0)
            if not lots:
                no_car += 1
                continue
            lot = lots[0][1]
            cars_left[lot] -= 1
            best = fastest([e for e, _, _ in park_edges[lot]], out_idx)
            if best is None:
                continue
            trips.append(Trip(id=f"res{len(trips)}", depart_s=depart(), vtype="car", route=_path(router, net, best), kind="resident",
                              target=b.global_id, source=f"{twin.name}: building {b.global_id}"))
    if no_car:
        notes.append(f"{no_car} resident trip(s) dropped: no parked car left near the building")
    taken = {p.id: p.occupied - cars_left[p.id] for p in parks}
    parks = [replace(p, occupied=p.occupied - taken[p.id], chargers_occupied=min(p.chargers_occupied, p.occupied - taken[p.id]))
             for p in parks]
    ev_share = _setting(settings, "traffic_ev_share", 0.1)
    weights = np.array([b.dwelling_units for b in homes], dtype=float)
    n_in = draw(len(trips) * inbound_share)
    for _ in range(n_in if total_units and park_edges else 0):
        b = homes[int(rng.choice(len(homes), p=weights / weights.sum()))]
        c = b.footprint.centroid
        lot = min(park_edges, key=lambda p: (math.hypot(park_pos[p][0] - c.x, park_pos[p][1] - c.y), p))
        best = fastest(in_idx, [e for e, _, _ in park_edges[lot]])
        if best is None:
            continue
        trips.append(Trip(id=f"in{len(trips)}", depart_s=depart(), vtype="car", route=_path(router, net, best), kind="inbound",
                          park_at=lot, target=b.global_id, needs_charger=bool(rng.random() < ev_share)))
    visits = [(b.global_id, b.footprint.centroid, "delivery", draw(b.dwelling_units * deliveries_rate), delivery_dwell) for b in homes]
    for s in layers.service_points:
        visits.append((s.global_id, Point(*s.position), "service", draw(SERVICE_TRIPS_PER_HOUR.get(s.service_type, 0) * duration / 3600.0),
                       SERVICE_DWELL_S))
    for gid, c, kind, n, dwell in visits:
        near = nearest_edges(c.x, c.y)
        if not near:
            continue
        for _ in range(n):
            best = fastest(in_idx, [e for e, _, _ in near])
            if best is None:
                continue
            t0 = depart()
            vt = "delivery" if kind == "delivery" else "car"
            pos = next(p for e, p, _ in near if e == best[2])
            trips.append(Trip(id=f"{kind}{len(trips)}", depart_s=t0, vtype=vt, route=_path(router, net, best), kind=kind,
                              arrival_pos_m=pos, target=gid))
            back = fastest([best[2]], out_idx)
            if back is not None:
                trips.append(Trip(id=f"{kind}{len(trips)}", depart_s=round(t0 + best[0] + dwell, 1), vtype=vt,
                                  route=_path(router, net, back), kind=kind, target=gid))
    for _ in range(draw(through)):
        a, b = int(rng.choice(in_idx)), int(rng.choice(out_idx))
        if net.edge_from[a] == net.edge_to[b]:
            continue
        best = fastest([a], [b])
        if best is not None:
            trips.append(Trip(id=f"through{len(trips)}", depart_s=depart(), vtype="car", route=_path(router, net, best), kind="through"))
    demand = Demand(trips=trips, vtypes=dict(VTYPES), car_parks=parks, source=f"{twin.name} peak-hour demand")

    # fire-engine targets: per building the entrance nearest to a street a fire engine can use
    usable = np.array([eid not in fire_blocked for eid in net.edge_ids])
    targets = []
    entrances: dict[str, list] = {}
    for e in layers.entrances:
        if e.building:
            entrances.setdefault(e.building, []).append(e.position)
    for b in layers.buildings:
        if b.illegal:
            continue
        spots = entrances.get(b.global_id) or [(b.footprint.centroid.x, b.footprint.centroid.y)]
        best = None
        for x, y, *_ in spots:
            for e, pos, dist in nearest_edges(x, y, allowed=usable, limit=1):
                if best is None or dist < best[2]:
                    best = (e, pos, dist)
        if best is None:
            notes.append(f"building {b.global_id}: no street a fire engine can use")
            continue
        targets.append(AccessTarget(id=b.global_id, edge=net.edge_ids[best[0]], arrival_pos_m=best[1], walk_m=best[2]))
    return TrafficInputs(network=network, demand=demand, access_targets=targets, fire_origins=gate_in, fire_blocked=fire_blocked,
                         edge_road=edge_road, notes=notes)


def _path(router, net, best) -> tuple[str, ...]:
    o, t = best[1], best[2]
    path = router.route(o, t)
    return tuple(net.edge_ids[e] for e in path)
