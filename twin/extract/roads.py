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

Demand for the peak hour: `PeakDemand` (project.toml `[settings]` keys `traffic_<field>`), with
the values and their sources in its docstring:
- residents leaving: dwelling units x cars per household x the share of cars leaving in the peak
  hour, from the car park nearest their building that still has a car, to the gate with the
  fastest route (drivers weigh a busy gate by its expected wait);
- residents and visitors arriving: `inbound_share` of that, from a gate to the car park nearest
  their building, searching on to the nearest car park with room when it is full; a share of
  them electric, looking for a free charger first;
- deliveries: vans in from a gate to the building, out again after a dwell;
- service points: drop-offs per peak hour by type (SERVICE_TRIPS_PER_HOUR), in and out again;
- through traffic between gates (none by default).
Car parks start `parking_initial_occupancy` full, chargers too. Departures are uniform over the
peak. Fire engines leave from the vehicular gates (sim.traffic.emergency).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

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


@dataclass(frozen=True, kw_only=True)
class PeakDemand:
    """The morning-peak demand of an old residential community, read from project.toml `[settings]`
    as `traffic_<field>` (e.g. `traffic_cars_per_household = 0.35`).

    Residents leaving = households x `cars_per_household` x `peak_outbound_share` (0.4 x 0.12 =
    0.048 car trips per household in the peak hour), bounded by the cars parked in the twin's car
    parks. Sources:
    - car ownership: old (pre-2000) communities hold 0.3-0.5 cars per household — the parking
      supply Shanghai's residential standard asks for small flats (< 100 m² per household:
      0.3 / 0.4 / 0.5 spaces per household inside / between / outside the rings, DGJ 08-7-2014,
      as tabulated in Math. Probl. Eng. 2022, 5164257, Table 4), against about 0.7 for all of
      China (353 million cars at the end of 2024, Ministry of Public Security; 494 million
      households, 7th census 2020); old communities house older residents who drive less;
    - peak-hour outbound share: 10-15 % of residents' cars leave in the morning peak hour (the
      planning range for Chinese old communities used by this project; an assumption, not a survey
      of the sample); 12 % here;
    - deliveries: about one parcel per household per day (175 billion parcels in 2024, State Post
      Bureau, over 494 million households), dropped at the community's parcel station by a van
      carrying 100-200 parcels: 0.005-0.01 van visits per household per day, a fifth to a third
      of them in the morning peak hour: 0.002 per household (an estimate);
    - electric cars: new-energy vehicles were about 9 % of China's cars at the end of 2024 (Ministry
      of Public Security): 0.1 of arriving cars look for a charger.
    `peak_trips_per_household`, when a project gives it, replaces cars x share (the former single
    rate; 0.35 was a whole-city trip rate, about seven times what an old community's cars make).
    Gate service times are the gates' own (`CT_Gate.ServiceTime`; plate-recognition barriers take
    3-5 s: 1-2 s to read the plate once the car is on the loop 2-3 m before the barrier, then the
    arm lifts).
    """

    cars_per_household: float = 0.4         # cars per dwelling unit
    peak_outbound_share: float = 0.12       # share of residents' cars leaving in the peak hour
    peak_trips_per_household: float | None = None  # car trips leaving per household in the peak hour; None: cars x share
    inbound_share: float = 0.25             # cars arriving (residents, visitors) per car leaving; they park
    deliveries_per_household: float = 0.002  # delivery vans per household in the peak hour (in, dwell, out)
    delivery_dwell_s: float = 300.0         # s, a van stands at the building
    through_trips_per_hour: float = 0.0     # gate-to-gate through traffic, veh/h
    parking_initial_occupancy: float = 0.9  # share of spaces (and chargers) holding a car at the start
    ev_share: float = 0.1                   # share of arriving cars that are electric and look for a charger
    duration_s: float = 3600.0              # s, length of the peak; departures uniform over it

    @property
    def outbound_per_household(self) -> float:
        """Car trips leaving per household in the peak hour."""
        if self.peak_trips_per_household is not None:
            return self.peak_trips_per_household
        return self.cars_per_household * self.peak_outbound_share

    @classmethod
    def from_settings(cls, settings: dict) -> "PeakDemand":
        """The `traffic_<field>` keys of project settings (each a number >= 0), defaults for the rest."""
        values = {}
        for f in fields(cls):
            name = f"traffic_{f.name}"
            if name in settings:
                values[f.name] = _setting(settings, name, 0.0)
        return cls(**values)


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
    peak = PeakDemand.from_settings(settings)
    duration_s = peak.duration_s
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
    occupancy = peak.parking_initial_occupancy
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
    duration = peak.duration_s
    rate = peak.outbound_per_household * duration / 3600.0
    inbound_share = peak.inbound_share
    deliveries_rate = peak.deliveries_per_household * duration / 3600.0
    delivery_dwell = peak.delivery_dwell_s
    through = peak.through_trips_per_hour * duration / 3600.0
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
    ev_share = peak.ev_share
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
