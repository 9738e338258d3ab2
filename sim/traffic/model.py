"""Traffic engine: vehicles leave on their trips, follow the IDM on the street network, give way at
junctions, park, queue at gates; fire engines are dispatched to every building.

`simulate(network, demand, settings, seed=0, progress=None) -> Result` runs the story as SimPy
processes — `vehicles_depart` puts trips on the departure board (the kernel lets each go at its
own departure time), `signal_program` switches each fixed-time signal's phases, `traffic_moves`
advances every vehicle with the numba kernel (kernels.traffic_steps) up to the next event and
keeps frames for playback; after each kernel call drivers who reached a full car park (or one
without a free charger) drive on to the nearest with room — and returns a sim.result.Result.
`Simulation` is the stepping object for experts (`for t in sim: ...`, one step per iteration).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import simpy

from sim.result import Result

from . import kernels, signals
from .network import CompiledNetwork, Network, NetworkError, compile_network, LANE_WIDTH_M
from .signals import SignalProgram
from .routing import Router

ENGINE_VERSION = "0.1.0"
BOARD_AHEAD_S = 60.0
"""How far ahead (s) the departure board is filled at a time (it only saves the board's events: a trip
leaves at its own time however early it is on the board)."""


class DemandError(ValueError):
    """Bad demand input (unknown vType, edge or route); the message names the file, trip and field."""


@dataclass(frozen=True, kw_only=True)
class VType:
    """A vehicle type with its Intelligent Driver Model parameters (Treiber, Hennecke & Helbing 2000).

    Defaults are SUMO's passenger-car vType (accel 2.6, decel 4.5, tau 1.0, minGap 2.5, length 5),
    so a SUMO file without parameters means the same here; the engine's own types are in VTYPES.
    """

    id: str
    length_m: float = 5.0           # m
    min_gap_m: float = 2.5          # m, IDM s0 (jam distance)
    accel_mps2: float = 2.6         # m/s², IDM a
    decel_mps2: float = 4.5         # m/s², IDM b (comfortable deceleration)
    time_headway_s: float = 1.0     # s, IDM T (SUMO tau)
    max_speed_mps: float = 55.56    # m/s
    delta: float = 4.0              # IDM acceleration exponent
    speed_factor: float = 1.0       # mean of the driver's multiplier on the speed limit
    speed_dev: float = 0.1          # standard deviation of that multiplier (SUMO default 0.1)
    width_m: float = 1.8            # m
    vclass: str = "passenger"
    car_follow: str = "IDM"         # "IDM", or "Krauss" (SUMO's default model: safe speed, dawdling)
    sigma: float = 0.5              # Krauss driver imperfection (SUMO's default 0.5)


VTYPES: dict[str, VType] = {v.id: v for v in (
    # Treiber, Hennecke & Helbing (2000) city/urban values: a 1.0 m/s², b 1.5 m/s², T 1.5 s, s0 2 m, delta 4.
    VType(id="car", length_m=4.8, min_gap_m=2.0, accel_mps2=1.0, decel_mps2=1.5, time_headway_s=1.5, max_speed_mps=33.3),
    # delivery van (light goods vehicle, ~6 m): slower to accelerate, longer headway.
    VType(id="delivery", length_m=6.0, min_gap_m=2.5, accel_mps2=0.8, decel_mps2=1.5, time_headway_s=1.7,
          max_speed_mps=25.0, width_m=2.1, vclass="delivery"),
    # 12 m city bus: Treiber & Kesting (2013) truck-like values, b 1.2 for standing passengers.
    VType(id="bus", length_m=12.0, min_gap_m=3.0, accel_mps2=0.6, decel_mps2=1.2, time_headway_s=1.8,
          max_speed_mps=22.2, width_m=2.5, vclass="bus", speed_dev=0.05),
    # fire engine (water tender, ~8.5 m x 2.5 m); drives at the limit, no dawdling.
    VType(id="fire_engine", length_m=8.5, min_gap_m=2.0, accel_mps2=0.9, decel_mps2=2.0, time_headway_s=1.2,
          max_speed_mps=25.0, width_m=2.5, vclass="emergency", speed_dev=0.0),
    VType(id="ambulance", length_m=6.0, min_gap_m=2.0, accel_mps2=1.5, decel_mps2=2.0, time_headway_s=1.0,
          max_speed_mps=30.0, width_m=2.1, vclass="emergency", speed_dev=0.0),
)}


@dataclass(frozen=True, kw_only=True)
class Trip:
    """One vehicle's trip: its departure time, its route (edge ids) or its first and last edge."""

    id: str
    depart_s: float
    vtype: str = "car"
    route: tuple[str, ...] = ()     # explicit route; empty: fastest route from_edge -> to_edge
    from_edge: str = ""
    to_edge: str = ""
    depart_speed_mps: float | None = 0.0   # None: the desired speed ("max" in SUMO)
    arrival_pos_m: float | None = None     # m along the last edge where the trip ends; None: its end
    kind: str = "trip"              # resident / delivery / through / emergency / ...
    park_at: str = ""               # car park id: on arrival the driver parks there (or searches on)
    needs_charger: bool = False     # an electric car looking for a space with a charger
    stops: tuple[tuple[str, float, float], ...] = ()  # (edge id, position m, dwell s): bus stops on the route, in order
    target: str = ""                # what the trip serves (a building GlobalId for emergency runs)
    source: str = ""


@dataclass(frozen=True, kw_only=True)
class CarPark:
    """A parking lot or a row of on-street spaces, reached from `edge`; `occupied` at the start."""

    id: str
    edge: str
    spaces: int
    occupied: int = 0
    ev_chargers: int = 0            # spaces with a charger (a subset of the spaces)
    chargers_occupied: int = 0


@dataclass(kw_only=True)
class Demand:
    trips: list[Trip] = field(default_factory=list)
    vtypes: dict[str, VType] = field(default_factory=lambda: dict(VTYPES))
    car_parks: list[CarPark] = field(default_factory=list)
    source: str = ""


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Run settings. Defaults follow SUMO where the comparison needs it (noted per field)."""

    step_s: float = 0.5             # s, simulation step (SUMO default for IDM studies here)
    idm_substep_s: float = 0.25     # s, speed sub-step of the IDM (SUMO's IDM stepping default 0.25 s)
    end_s: float | None = None      # s; None: until every trip has ended or horizon_s after the last departure
    horizon_s: float = 3600.0       # s, how long after the last departure the run may go on
    yield_gap_s: float = 1.0        # s, time gap a giving-way driver accepts (SUMO jmTimegapMinor 1 s)
    jam_s: float = 300.0            # s, a vehicle standing this long is gridlocked (SUMO time-to-teleport 300 s)
    signal_green_s: float | None = None   # s, green of every main phase of a default signal program; None: netconvert's split of its 90 s cycle
    signal_yellow_s: float | None = None  # s, yellow of a default program; None: netconvert's rule from the speed (3 s to 60 km/h)
    frame_interval_s: float = 1.0   # s
    record_frames: bool = False
    series_interval_s: float = 5.0  # s, series and gridlock checks when no frames are kept (with frames: frame_interval_s)
    max_frame_vehicles: int = 20000  # frames are kept only for runs with at most this many vehicles
    route_at_departure: bool = True  # from/to trips routed when they depart on the edges' recent speeds (SUMO); False: on free-flow times before the run


@dataclass(kw_only=True)
class Details:
    """Per-trip and per-approach results behind the metrics (for the CLI's --json and the report)."""

    trip_ids: list[str]
    trip_kind: list[str]
    trip_target: list[str]
    depart_s: np.ndarray        # s, actual insertion time (NaN when never entered)
    arrive_s: np.ndarray        # s (NaN when not arrived)
    free_time_s: np.ndarray     # s, free-flow time of the route at the vehicle's desired speed
    distance_m: np.ndarray
    approach_ids: list[str]
    approach_node: list[str]
    approach_max_queue_m: np.ndarray
    approach_delay_s: np.ndarray   # s/veh, mean delay on the approach edge
    approach_vehicles: np.ndarray
    gridlock_time_s: float | None
    gridlock_edges: list[str]
    gate_max_queue_veh: dict[str, int]
    car_park_occupancy: dict[str, tuple[int, int]]
    parking_search_s: np.ndarray    # s, per parked vehicle, time from first reaching its car park to parking
    parking_unparked: int
    ev_charging: int = 0            # electric cars parked at a charger
    ev_without_charger: int = 0     # electric cars that found no free charger anywhere (parked on a plain space)
    charger_occupancy: dict[str, tuple[int, int]] = field(default_factory=dict)


def _draw_speed_factor(rng, vt: VType) -> float:
    if vt.speed_dev <= 0:
        return vt.speed_factor
    # SUMO: normal(mean, dev) cut to [0.2, 2] x mean ... resampled when outside
    for _ in range(100):
        f = rng.normal(vt.speed_factor, vt.speed_dev * vt.speed_factor)
        if 0.2 <= f <= 2.0 * vt.speed_factor and abs(f - vt.speed_factor) <= 2 * vt.speed_dev * vt.speed_factor:
            return float(f)
    return vt.speed_factor


class Simulation:
    """A traffic run you can step: `for t in Simulation(...): ...` advances one step per iteration."""

    def __init__(self, network: Network, demand: Demand, settings: Settings = Settings(), *, seed: int = 0,
                 progress: Callable[[float, str], None] | None = None) -> None:
        self.settings = settings
        self.net: CompiledNetwork = compile_network(network)
        self.network = network
        self.demand = demand
        self.progress = progress
        self.router = Router(self.net)
        rng = np.random.default_rng(seed)
        self.cf_seed = int(np.random.default_rng([seed, 7]).integers(1, 2 ** 62))   # Krauss dawdling draws
        net = self.net
        trips = sorted(demand.trips, key=lambda tr: (tr.depart_s, tr.id))
        self.trips = trips
        V = len(trips)
        routes: list[np.ndarray] = []
        self.vt_names = sorted({tr.vtype for tr in trips} | set()) or ["car"]
        f64 = lambda: np.zeros(V, dtype=np.float64)
        self.vlen, self.s0, self.amax, self.bcomf, self.tau = f64(), f64(), f64(), f64(), f64()
        self.vmax, self.sf, self.delta, self.depart_speed = f64(), f64(), f64(), f64()
        self.cf_sigma = np.full(V, -1.0)   # Krauss drivers' sigma (>= 0); -1: IDM
        self.vtype_code = np.zeros(V, dtype=np.int8)
        self.emergency = np.zeros(V, dtype=np.int8)   # 1: siren on, others give way (vClass "emergency")
        self.vwidth = f64()
        self.arrive_pos = np.full(V, np.inf)
        seen = set()
        for i, tr in enumerate(trips):
            where = tr.source or demand.source or "demand"
            if tr.id in seen:
                raise DemandError(f"{where}: vehicle id {tr.id!r} used twice")
            seen.add(tr.id)
            vt = demand.vtypes.get(tr.vtype)
            if vt is None:
                raise DemandError(f"{where}: vehicle {tr.id!r} type={tr.vtype!r} is not a defined vType (known: {', '.join(sorted(demand.vtypes))})")
            routes.append(self._route_of(tr, where))
            self.vlen[i], self.s0[i], self.amax[i], self.bcomf[i] = vt.length_m, vt.min_gap_m, vt.accel_mps2, vt.decel_mps2
            self.tau[i], self.vmax[i], self.delta[i] = vt.time_headway_s, vt.max_speed_mps, vt.delta
            if vt.car_follow == "Krauss":
                self.cf_sigma[i] = vt.sigma
            elif vt.car_follow != "IDM":
                raise DemandError(f"{where}: vType {vt.id!r} car_follow must be 'IDM' or 'Krauss', not {vt.car_follow!r}")
            self.sf[i] = _draw_speed_factor(rng, vt)
            self.emergency[i] = 1 if vt.vclass == "emergency" else 0
            self.vwidth[i] = vt.width_m
            self.depart_speed[i] = -1.0 if tr.depart_speed_mps is None else tr.depart_speed_mps
            if tr.arrival_pos_m is not None:
                self.arrive_pos[i] = max(tr.arrival_pos_m, 0.0)
            self.vtype_code[i] = self.vt_names.index(tr.vtype)
        self.route_start = np.zeros(V, dtype=np.int32)
        self.route_len = np.array([len(r) for r in routes], dtype=np.int32)
        if V:
            self.route_start[1:] = np.cumsum(self.route_len)[:-1]
        self.route_flat = np.concatenate(routes).astype(np.int32) if routes else np.zeros(0, np.int32)
        self.route_lanes = np.zeros((0, kernels.ROUTE_LANE_COLS + max(1, int(self.net.edge_lanes.max(initial=1)))))
        self.route_lanes = self._route_lanes(self.route_flat, self.route_start, self.route_len)
        self._flat_used = len(self.route_flat)   # route_flat / route_lanes rows in use (more routes are added behind)
        # from/to trips (no explicit route, no stops, origin != destination) are routed again when they depart,
        # on the mean speeds of the last ROUTING_ADAPT_STEPS samples (SUMO's rerouting device's edge weights)
        self._dynamic = np.array([i for i, tr in enumerate(trips) if settings.route_at_departure and not tr.route
                                  and not tr.stops and tr.from_edge != tr.to_edge], dtype=np.int64)
        self._dyn_next = 0
        self._speed_ring = np.tile(net.edge_speed, (kernels.ROUTING_ADAPT_STEPS if len(self._dynamic) else 1, 1))
        self._speed_ring_sum = net.edge_speed * self._speed_ring.shape[0]
        self._lane_scratch = np.zeros((len(net.lane_edge), 2))
        self._adapt = np.array([kernels.ROUTING_ADAPT_S, kernels.ROUTING_ADAPT_S if len(self._dynamic) else 0.0, 0.0])
        self.free_time = np.array([self._free_time(r, i) for i, r in enumerate(routes)])
        self._stops(trips, routes, demand)
        self.state = np.zeros(V, dtype=np.int8)
        self.lane = np.zeros(V, dtype=np.int32)
        self.pos, self.speed = f64(), f64()
        self.route_idx = np.zeros(V, dtype=np.int32)
        self.cur_link = np.full(V, -1, dtype=np.int32)
        self.committed = np.zeros(V, dtype=np.int8)
        self.in_wait = np.zeros(V, dtype=np.int8)      # 1: waiting inside a junction for its gap; 2: about to
        self.allowed = np.zeros(V, dtype=np.int8)
        self.next_lane = np.zeros(V, dtype=np.int32)
        self.stopped_s, self.hold_s = f64(), f64()
        self.depart_t = np.full(V, np.nan)
        self.arrive_t = np.full(V, np.nan)
        self.dist_m = f64()
        self.pending = np.zeros(max(V, 1), dtype=np.int32)
        self.n_pending = 0
        E = len(net.edge_ids)
        self.edge_queue_now = np.zeros(E)
        self.edge_queue_max = np.zeros(E)
        self.edge_delay_s = np.zeros(E)
        self.edge_exits = np.zeros(E, dtype=np.int64)
        # clear width of the whole street (both directions): where cars can pull over for a fire engine
        opp = net.edge_opposite
        self.edge_pass_width = net.edge_clear_width + np.where(opp >= 0, net.edge_clear_width[np.maximum(opp, 0)], 0.0)
        self.edge_start_service = net.node_gate_s[net.edge_from].copy()
        self.edge_end_service = net.node_gate_s[net.edge_to].copy()
        self.link_state = np.ones(len(net.link_to), dtype=np.int8)
        self.link_minor = np.zeros(len(net.link_to), dtype=np.int8)
        for k in range(len(net.link_to)):
            if np.any(net.foe_yield[net.foe_start[k]:net.foe_start[k + 1]] == 1):
                self.link_minor[k] = 1
        self.substeps = max(1, int(round(settings.step_s / settings.idm_substep_s)))
        last_depart = trips[-1].depart_s if trips else 0.0
        self.end_s = settings.end_s if settings.end_s is not None else last_depart + settings.horizon_s
        self.until_done = settings.end_s is None
        # car parks
        self.parks = {p.id: p for p in demand.car_parks}
        for p in demand.car_parks:
            if p.edge not in net.edge_index:
                raise DemandError(f"{demand.source or 'demand'}: car park {p.id!r} edge {p.edge!r} is not in the network")
        self.park_free = {p.id: max(0, p.spaces - p.occupied) for p in demand.car_parks}
        self.park_goal = [tr.park_at for tr in trips]
        self.charger_free = {p.id: max(0, min(p.ev_chargers, p.spaces) - p.chargers_occupied) for p in demand.car_parks}
        self.ev = np.array([tr.needs_charger for tr in trips], dtype=bool)
        self.ev_fallback = np.zeros(V, dtype=bool)
        self.ev_charging = 0
        for tr in trips:
            if tr.park_at and tr.park_at not in self.parks:
                raise DemandError(f"{tr.source or demand.source or 'demand'}: trip {tr.id!r} park_at={tr.park_at!r} is not a car park")
        self.park_first_reach = np.full(V, np.nan)
        self.parked_at = np.full(V, np.nan)
        self.park_done = np.zeros(V, dtype=bool)
        # 1: the kernel hands control back when this vehicle arrives (a driver at its car park, parked or sent on here)
        self.hand_back = np.array([1 if tr.park_at else 0 for tr in trips], dtype=np.int8)
        # gridlock and records
        self.gridlock_time: float | None = None
        self.gridlock_edges: set[str] = set()
        self.gate_edges = {int(e): net.node_ids[int(net.edge_from[e])] for e in np.nonzero(self.edge_start_service > 0)[0]}
        self.gate_max_queue = {g: 0 for g in self.gate_edges.values()}
        self.times: list[float] = []
        self.frames_xy: list[np.ndarray] = []
        self.frames_heading: list[np.ndarray] = []
        self.on_road_series: list[int] = []
        self.queue_series: list[float] = []
        self.record = settings.record_frames and V <= settings.max_frame_vehicles
        self.vehicle_updates = 0
        self.t = 0.0
        self._env = simpy.Environment()
        self._env.process(self.vehicles_depart())
        for program in net.signal_programs:
            self._env.process(self.signal_program(program))
        self._chunk = 1 << 30     # steps per kernel call at most (1 when stepped from outside)
        self.depart_s_sorted = np.array([tr.depart_s for tr in trips], dtype=np.float64)
        self.announced = 0        # trips 0..announced-1 are on the departure board
        self.released = 0         # trips 0..released-1 have departed
        self.live_lo = 0          # trips 0..live_lo-1 have all arrived
        # frames, series and gridlock checks every interval (its multiples: the record grid)
        self._record_interval = settings.frame_interval_s if self.record else max(settings.series_interval_s, settings.frame_interval_s)
        # without frames the kernel keeps the series and gridlock checks itself (kernels.record_tick)
        n_ticks = int(self.end_s / self._record_interval) + 3
        self._rec_t, self._rec_queue = np.zeros(n_ticks), np.zeros(n_ticks)
        self._rec_on_road = np.zeros(n_ticks, dtype=np.int64)
        self._stuck_edge = np.zeros(E, dtype=np.int8)
        self._stuck_t = np.full(1, np.nan)
        self._gate_queue_max = np.zeros(E, dtype=np.int64)
        self._gate_count = np.zeros(E, dtype=np.int64)
        self._done_after = (trips[-1].depart_s if trips else 0.0) if self.until_done else np.inf

    # ------------------------------------------------------------------ set-up helpers
    def _route_of(self, tr: Trip, where: str) -> np.ndarray:
        net = self.net
        if tr.route:
            ids = []
            for eid in tr.route:
                if eid not in net.edge_index:
                    raise DemandError(f"{where}: vehicle {tr.id!r} route edge {eid!r} is not in the network")
                ids.append(net.edge_index[eid])
            broken = [(a, b) for a, b in zip(ids, ids[1:]) if net.link_between(a, b) < 0]
            closed = [i for i in ids if net.edge_closed[i]]
            if not broken and not closed:
                return np.array(ids, dtype=np.int32)
            if closed or broken:
                # rerouting: the street is closed or the movement is not allowed; fastest route instead
                path = self.router.route(ids[0], ids[-1]) if not net.edge_closed[ids[0]] and not net.edge_closed[ids[-1]] else None
                if path is None:
                    what = f"edge {net.edge_ids[closed[0]]!r} is closed" if closed else \
                        f"no movement from {net.edge_ids[broken[0][0]]!r} to {net.edge_ids[broken[0][1]]!r}"
                    raise DemandError(f"{where}: vehicle {tr.id!r} route cannot be driven ({what}) and no other route exists")
                return path
        for name in ("from_edge", "to_edge"):
            eid = getattr(tr, name)
            if eid not in net.edge_index:
                raise DemandError(f"{where}: vehicle {tr.id!r} {name.replace('_edge', '')}={eid!r} is not an edge of the network")
        path = self.router.route(net.edge_index[tr.from_edge], net.edge_index[tr.to_edge])
        if path is None:
            raise DemandError(f"{where}: vehicle {tr.id!r}: no route from {tr.from_edge!r} to {tr.to_edge!r}")
        return path

    def _stops(self, trips, routes, demand) -> None:
        """Bus stops as arrays: per stop its route index, position along the drivable edge and dwell;
        per vehicle its next and end stop."""
        ridx, spos, sdwell = [], [], []
        V = len(trips)
        self.veh_stop_next = np.zeros(V, dtype=np.int32)
        self.veh_stop_end = np.zeros(V, dtype=np.int32)
        net = self.net
        for i, tr in enumerate(trips):
            self.veh_stop_next[i] = len(ridx)
            k = 0
            for edge_id, position, dwell in tr.stops:
                e = net.edge_index.get(edge_id, -1)
                hits = [n for n in range(k, len(routes[i])) if routes[i][n] == e]
                if not hits:
                    raise DemandError(f"{tr.source or demand.source or 'demand'}: vehicle {tr.id!r} stop on edge {edge_id!r} is not on its route")
                k = hits[0]
                ridx.append(k)
                spos.append(float(min(max(position, 0.0), net.edge_length[e])))
                sdwell.append(max(float(dwell), 0.0))
            self.veh_stop_end[i] = len(ridx)
        self.stop_ridx = np.array(ridx, dtype=np.int32)
        self.stop_pos = np.array(spos, dtype=np.float64)
        self.stop_dwell = np.array(sdwell, dtype=np.float64)

    def _free_time(self, route: np.ndarray, i: int) -> float:
        net = self.net
        total = 0.0
        for n, e in enumerate(route):
            v = min(self.vmax[i], net.edge_speed[e] * self.sf[i])
            length = net.edge_length[e] - (self.vlen[i] if n == 0 else 0.0)
            if n + 1 == len(route) and np.isfinite(self.arrive_pos[i]):
                length -= net.edge_length[e] - min(self.arrive_pos[i], net.edge_length[e])
            total += max(length, 0.0) / v
            if n + 1 < len(route):
                k = net.link_between(int(e), int(route[n + 1]))
                total += net.link_length[k] / min(v, net.link_speed[k] * self.sf[i])
        return total

    # ------------------------------------------------------------------ processes
    def vehicles_depart(self):
        """Put the trips departing in the next minute on the kernel's departure board; the kernel lets each
        one go at its own departure time (so the kernel can run many steps in one call). The board is
        updated on the record grid, where a kernel call ends anyway, so it never splits one."""
        env = self._env
        V = len(self.trips)
        interval = self._record_interval
        ahead = max(1, int(round(BOARD_AHEAD_S / interval)))    # record ticks
        tick = 0
        while self.announced < V:
            horizon = (tick + ahead) * interval
            while self.announced < V and self.trips[self.announced].depart_s < horizon:
                self.announced += 1
            if self.announced >= V:
                return
            # next update: when the board runs out, or the last tick before the next departure when that is later
            tick = max(tick + ahead, math.floor(self.trips[self.announced].depart_s / interval))
            yield env.timeout(tick * interval - env.now)

    def signal_program(self, program: SignalProgram):
        """A fixed-time signal: its phases in turn (signals.py: netconvert's default program, or a given
        tlLogic from its offset on). Settings.signal_green_s / signal_yellow_s replace the green and
        yellow times of a default program."""
        s = self.settings
        durations = program.durations_s.copy()
        if s.signal_green_s is not None:
            durations[program.kinds == signals.MAIN] = s.signal_green_s
        if s.signal_yellow_s is not None:
            durations[program.kinds == signals.YELLOW] = s.signal_yellow_s
        program = replace(program, durations_s=durations)
        if durations.sum() <= 0:        # no time in the cycle: the first phase stands
            self.link_state[program.links] = program.states[0]
            return
        phase, left = program.phase_at(self._env.now)
        while True:
            self.link_state[program.links] = program.states[phase]
            # a green-minor movement gives way (and approaches as if to stop); on a full green it need not
            self.link_minor[program.links] = program.minor[phase] & (program.states[phase] == signals.SIGNAL_GREEN)
            yield self._env.timeout(left)
            phase = (phase + 1) % len(durations)
            left = durations[phase]

    def traffic_moves(self):
        """Advance all vehicles every step; frames, series and gridlock checks every frame interval.
        Steps run in one kernel call up to the next moment something outside the kernel happens
        (a departure, a signal switching, a frame, the end), which gives the same result as one call per step."""
        env, s = self._env, self.settings
        dt = s.step_s
        interval = self._record_interval
        ticks = 0
        next_frame = 0.0
        last_report = -1.0
        while True:
            if env.now + 1e-9 >= next_frame:
                self._record()
                ticks += 1
                next_frame = ticks * interval
            # without frames the kernel records at the ticks itself: a call runs up to the next event
            in_kernel = not self.record and self._chunk > 1
            horizon = min(env.peek(), self.end_s) if in_kernel else min(env.peek(), next_frame, self.end_s)
            n = max(1, min(self._chunk, int(math.ceil((horizon - env.now) / dt - 1e-9))))
            n, kernel_ticks = self.step_once(env.now, dt, n, ticks if in_kernel else 0)
            if in_kernel:
                ticks = kernel_ticks
                next_frame = ticks * interval
            yield env.timeout(n * dt)
            if self.progress is not None and env.now - last_report >= 60.0:
                last_report = env.now
                self.progress(min(env.now / max(self.end_s, 1e-9), 1.0), f"traffic t={env.now:.0f} s")
            if env.now >= self.end_s - 1e-9:
                break
            if self.until_done and (not self.trips or env.now >= self.trips[-1].depart_s) and not np.any(self.state < kernels.ARRIVED):
                break
        if env.now + 1e-9 >= next_frame:   # frames stay on their 1 s grid
            self._record()

    def _route_lanes(self, flat: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
        """Per route position (rows as `flat`): best lanes and how far each lane leads (kernels.route_lane_reach)."""
        net = self.net
        out = np.zeros((len(flat), self.route_lanes.shape[1]))
        kernels.route_lanes_of(flat, start, length, net.edge_lanes, net.edge_length, net.edge_link_start, net.link_to,
                               net.link_lane_lo, net.link_lane_hi, net.link_to_lo, net.link_to_hi, out)
        return out

    def _set_route(self, i: int, path: np.ndarray) -> None:
        """Give vehicle i the route `path` (edge indices) from its first edge on, stored behind the routes in use."""
        n, used = len(path), self._flat_used
        if used + n > len(self.route_flat):
            cap = max(2 * len(self.route_flat), used + n)
            flat = np.zeros(cap, dtype=np.int32)
            flat[:used] = self.route_flat[:used]
            lanes = np.zeros((cap, self.route_lanes.shape[1]))
            lanes[:used] = self.route_lanes[:used]
            self.route_flat, self.route_lanes = flat, lanes
        self.route_flat[used:used + n] = path
        net = self.net
        kernels.route_lanes_of(self.route_flat, np.array([used], np.int32), np.array([n], np.int32), net.edge_lanes,
                               net.edge_length, net.edge_link_start, net.link_to, net.link_lane_lo, net.link_lane_hi,
                               net.link_to_lo, net.link_to_hi, self.route_lanes)
        self.route_start[i], self.route_len[i] = used, n
        self.route_idx[i] = 0
        self._flat_used = used + n

    def _route_departing(self, t: float, dt: float, n_steps: int) -> int:
        """Route the from/to trips departing at t (s) on the edges' recent mean speeds (each edge's time its
        length at that speed, never below its free-flow time at the driver's own speed, as SUMO's
        routing effort), and return how many steps from t go before the next such departure."""
        net = self.net
        dyn = self._dynamic
        while self._dyn_next < len(dyn) and self.depart_s_sorted[dyn[self._dyn_next]] <= t + 1e-9:
            i = int(dyn[self._dyn_next])
            self._dyn_next += 1
            mean = self._speed_ring_sum / self._speed_ring.shape[0]
            fastest = np.minimum(net.edge_speed * self.sf[i], self.vmax[i])
            edge_time = net.edge_length / np.maximum(np.minimum(mean, fastest), 1e-3)
            start = self.route_start[i]
            old = self.route_flat[start:start + self.route_len[i]]
            path = self.router.route_on(int(old[0]), int(old[-1]), edge_time)
            if path is not None and not np.array_equal(path, old):
                self._set_route(i, path)
                self.free_time[i] = self._free_time(path, i)
        if self._dyn_next < len(dyn):
            ahead = self.depart_s_sorted[dyn[self._dyn_next]] - t - 1e-9
            n_steps = min(n_steps, max(1, int(math.ceil(ahead / dt))))
        return n_steps

    def step_once(self, t: float, dt: float, n_steps: int = 1, ticks: int = 0) -> tuple[int, int]:
        """Up to n_steps steps from t (s); fewer when a driver reaches its car park, a from/to trip is to be
        routed (at its departure) or the run is over.
        With ticks > 0 the kernel records at record ticks `ticks`, `ticks` + 1, ... on its own.
        Returns (steps done, next record tick)."""
        net, s = self.net, self.settings
        if len(self._dynamic):
            n_steps = self._route_departing(t, dt, n_steps)
        n_rec = len(self.times)
        self.n_pending, moved, self.released, self.live_lo, done, ticks_after, n_rec_after = kernels.traffic_steps(
            n_steps, t, dt, self.released, self.announced, self.depart_s_sorted, self.live_lo, self.substeps, s.yield_gap_s,
            net.lane_edge, net.edge_first_lane, net.edge_lanes, net.edge_length, net.edge_speed, net.edge_to, net.edge_opposite,
            net.edge_single_track, self.edge_start_service, self.edge_end_service,
            net.edge_link_start, net.link_to, net.link_length, net.link_speed, net.link_node, self.link_state, self.link_minor,
            net.link_lane_lo, net.link_lane_hi, net.link_to_lo, net.link_to_hi, net.link_wait_m,
            net.foe_start, net.foe_link, net.foe_yield, net.foe_crossing, net.foe_clear_m, net.node_kind,
            self.state, self.lane, self.pos, self.speed, self.vlen, self.s0, self.amax, self.bcomf, self.tau, self.vmax, self.sf,
            self.delta, self.cf_sigma, self.cf_seed, self.emergency, self.vwidth, self.edge_pass_width, self.route_flat, self.route_start, self.route_len, self.route_idx, self.route_lanes, self.cur_link, self.committed, self.in_wait,
            self.allowed, self.next_lane, self.stopped_s, self.hold_s, self.depart_t, self.arrive_t, self.dist_m,
            self.depart_speed, self.arrive_pos, self.stop_ridx, self.stop_pos, self.stop_dwell, self.veh_stop_next,
            self.veh_stop_end, self.hand_back, self.pending, self.n_pending, self.edge_queue_now, self.edge_queue_max,
            self.edge_delay_s, self.edge_exits, ticks, self._record_interval if ticks > 0 else 0.0, self._done_after,
            s.jam_s, self._rec_t, self._rec_on_road, self._rec_queue, n_rec, self._stuck_edge, self._stuck_t,
            self._gate_queue_max, self._gate_count, self._lane_scratch, self._speed_ring, self._speed_ring_sum, self._adapt)
        if n_rec_after > n_rec:
            self._kernel_records(n_rec, n_rec_after)
        self.vehicle_updates += moved
        self.t = t + done * dt
        if self.park_goal and self.parks:
            self._drivers_park(self.t)
        return done, ticks_after

    def _kernel_records(self, start: int, stop: int) -> None:
        """Take in the records the kernel kept (series, gate queues, gridlock) at ticks start..stop-1."""
        self.times.extend(self._rec_t[start:stop].tolist())
        self.on_road_series.extend(self._rec_on_road[start:stop].tolist())
        self.queue_series.extend(self._rec_queue[start:stop].tolist())
        for e, gate in self.gate_edges.items():
            self.gate_max_queue[gate] = max(self.gate_max_queue[gate], int(self._gate_queue_max[e]))
        if self.gridlock_time is None and not np.isnan(self._stuck_t[0]):
            self.gridlock_time = float(self._stuck_t[0])
        if self._stuck_t[0] == self._stuck_t[0]:
            for e in np.nonzero(self._stuck_edge)[0]:
                self.gridlock_edges.add(self.net.edge_ids[e])

    def _drivers_park(self, now: float) -> None:
        """Vehicles that reached their car park: park if there is room, else drive on to the nearest with room."""
        net = self.net
        arrived = np.nonzero((self.state == kernels.ARRIVED) & ~self.park_done)[0]
        for i in arrived:
            goal = self.park_goal[i]
            if not goal:
                self.park_done[i] = True
                continue
            if np.isnan(self.park_first_reach[i]):
                self.park_first_reach[i] = self.arrive_t[i]
            wants_charger = self.ev[i] and not self.ev_fallback[i]

            def room(p: str) -> bool:
                # electric cars look for a charger; other cars leave the charger spaces free while they can
                if wants_charger:
                    return self.charger_free[p] > 0
                return self.park_free[p] - self.charger_free[p] > 0 or (self.ev_fallback[i] and self.park_free[p] > 0)

            if room(goal):
                self.park_free[goal] -= 1
                if wants_charger:
                    self.charger_free[goal] -= 1
                    self.ev_charging += 1
                self.parked_at[i] = self.arrive_t[i] if np.isfinite(self.arrive_t[i]) else now
                self.park_done[i] = True
                continue
            here = int(self.route_flat[self.route_start[i] + self.route_len[i] - 1])
            options = [(p, self.router.time_between(here, net.edge_index[self.parks[p].edge])) for p in self.park_free
                       if room(p) and p != goal]
            options = [(p, tt) for p, tt in options if tt is not None]
            if not options and wants_charger:
                self.ev_fallback[i] = True   # no free charger anywhere: any free space will do
                wants_charger = False
                if room(goal):
                    self.park_free[goal] -= 1
                    self.parked_at[i] = self.arrive_t[i] if np.isfinite(self.arrive_t[i]) else now
                    self.park_done[i] = True
                    continue
                options = [(p, self.router.time_between(here, net.edge_index[self.parks[p].edge])) for p in self.park_free
                           if room(p) and p != goal]
                options = [(p, tt) for p, tt in options if tt is not None]
            if not options:
                self.park_done[i] = True     # nowhere to park: counted as unparked
                continue
            best = min(options, key=lambda o: (o[1], o[0]))[0]
            target = net.edge_index[self.parks[best].edge]
            path = self.router.route(here, target, allow_same=True)
            self.park_goal[i] = best
            # keep circling: the vehicle continues from the end of its edge on the new route
            self._set_route(i, path.astype(np.int32))
            self.state[i] = kernels.DRIVING
            self.live_lo = min(self.live_lo, int(i))
            self.arrive_t[i] = np.nan
            self.committed[i] = 0
            self.allowed[i] = 0
        self.hand_back[arrived[self.park_done[arrived]]] = 0   # parked (or nowhere to park): the kernel need not stop for them

    def _record(self) -> None:
        t = self._env.now
        net = self.net
        # only vehicles live_lo..released-1 can be on the road (those before have arrived, those after not left)
        lo, hi = self.live_lo, self.released
        on_road = self.state[lo:hi] == kernels.DRIVING
        self.times.append(t)
        self.on_road_series.append(int(on_road.sum()))
        self.queue_series.append(float(self.edge_queue_now.max()) if len(self.edge_queue_now) else 0.0)
        if self.gate_edges and self.n_pending:
            firsts = self.route_flat[self.route_start[self.pending[:self.n_pending]]]
            for e, gate in self.gate_edges.items():
                self.gate_max_queue[gate] = max(self.gate_max_queue[gate], int(np.count_nonzero(firsts == e)))
        stuck = on_road & (self.stopped_s[lo:hi] >= self.settings.jam_s)
        if stuck.any():
            if self.gridlock_time is None:
                self.gridlock_time = t
            for i in lo + np.nonzero(stuck)[0]:
                self.gridlock_edges.add(net.edge_ids[net.lane_edge[self.lane[i]]])
        if self.record:
            xy = np.empty((len(self.state), 2))
            hd = np.empty(len(self.state))
            kernels.vehicle_xy(self.state, self.lane, self.pos, self.cur_link, net.lane_edge, net.lane_index, net.edge_lanes,
                               net.edge_length, net.edge_start_xy, net.edge_end_xy, net.edge_offset_xy, LANE_WIDTH_M,
                               net.link_length, net.link_entry_xy, net.link_exit_xy, xy, hd)
            self.frames_xy.append(xy.astype(np.float32))
            self.frames_heading.append(hd.astype(np.float32))

    # ------------------------------------------------------------------ running
    def __iter__(self):
        self._chunk = 1
        proc = self._env.process(self.traffic_moves())
        while not proc.triggered:
            target = self._env.now + self.settings.step_s
            self._env.run(until=min(target, self.end_s + self.settings.step_s))
            yield self._env.now
            if self._env.now >= self.end_s + self.settings.step_s - 1e-9:
                break
        self._finished = True

    def run(self) -> "Simulation":
        proc = self._env.process(self.traffic_moves())
        self._env.run(until=proc)
        return self

    # ------------------------------------------------------------------ results
    def details(self) -> Details:
        net = self.net
        # junction approaches: edges leading into a junction with movements, and the roads out through a gate
        approach = [e for e in range(len(net.edge_ids)) if net.edge_link_start[e + 1] > net.edge_link_start[e]
                    or net.node_gate_s[net.edge_to[e]] > 0]
        exits = np.maximum(self.edge_exits, 1)
        parked = ~np.isnan(self.parked_at)
        return Details(
            trip_ids=[t.id for t in self.trips], trip_kind=[t.kind for t in self.trips], trip_target=[t.target for t in self.trips],
            depart_s=self.depart_t.copy(), arrive_s=self.arrive_t.copy(), free_time_s=self.free_time.copy(),
            distance_m=self.dist_m.copy(),
            approach_ids=[net.edge_ids[e] for e in approach], approach_node=[net.node_ids[int(net.edge_to[e])] for e in approach],
            approach_max_queue_m=self.edge_queue_max[approach].copy(),
            approach_delay_s=(self.edge_delay_s / exits)[approach].copy(), approach_vehicles=self.edge_exits[approach].copy(),
            gridlock_time_s=self.gridlock_time, gridlock_edges=sorted(self.gridlock_edges),
            gate_max_queue_veh=dict(self.gate_max_queue),
            car_park_occupancy={p: (self.parks[p].spaces - self.park_free[p], self.parks[p].spaces) for p in self.parks},
            parking_search_s=(self.parked_at - self.park_first_reach)[parked & ~np.isnan(self.park_first_reach)],
            parking_unparked=int(sum(1 for i, g in enumerate(self.park_goal) if g and self.park_done[i] and np.isnan(self.parked_at[i]))),
            ev_charging=self.ev_charging, ev_without_charger=int(self.ev_fallback.sum()),
            charger_occupancy={p: (min(self.parks[p].ev_chargers, self.parks[p].spaces) - self.charger_free[p],
                                   min(self.parks[p].ev_chargers, self.parks[p].spaces)) for p in self.parks if self.parks[p].ev_chargers},
        )

    def result(self) -> Result:
        from .metrics import traffic_metrics

        det = self.details()
        res = Result(engine="sim.traffic", engine_version=ENGINE_VERSION)
        res.metrics.update(traffic_metrics(det, self.net, self.settings, self.end_s))
        from sim.result import Series

        times = np.array(self.times)
        res.series["vehicles_on_road"] = Series(times_s=times, values=np.array(self.on_road_series, dtype=np.float64), unit="veh")
        res.series["max_queue_m"] = Series(times_s=times, values=np.array(self.queue_series), unit="m")
        if self.record and self.frames_xy:
            res.frames = {
                "times_s": times.astype(np.float64),
                "positions_xy_m": np.stack(self.frames_xy).astype(np.float32),
                "heading_rad": np.stack(self.frames_heading).astype(np.float32),
                "vtype": self.vtype_code.astype(np.int8),
                "vtype_names": np.array(self.vt_names, dtype=str),
            }
        return res


def run(network: Network, demand: Demand, settings: Settings = Settings(), *, seed: int = 0,
        progress: Callable[[float, str], None] | None = None) -> Simulation:
    """Build and run a simulation; the returned object gives `.result()` and `.details()`."""
    return Simulation(network, demand, settings, seed=seed, progress=progress).run()


def simulate(network: Network, demand: Demand, settings: Settings = Settings(), *, seed: int = 0,
             progress: Callable[[float, str], None] | None = None) -> Result:
    """Run the traffic model and return its Result (metrics with units, series, frames)."""
    return run(network, demand, settings, seed=seed, progress=progress).result()
