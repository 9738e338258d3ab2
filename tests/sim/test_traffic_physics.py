"""Traffic engine physics: free flow, the IDM kernel against a pure-Python reference, the IDM
fundamental diagram on a ring road, queue discharge at a signal, right of way, gridlock."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from sim.traffic import kernels
from sim.traffic.grid import GRID_VTYPE
from sim.traffic.model import Demand, Settings, Simulation, Trip, VType, VTYPES, run
from sim.traffic.network import Edge, Network, Node, compile_network

CAR = replace(VTYPES["car"], speed_dev=0.0)


def _line(lengths, speed=13.89, kinds=None):
    """Nodes along x, one edge per length (no junction cuts: two-arm nodes)."""
    xs = np.concatenate([[0.0], np.cumsum(lengths)])
    kinds = kinds or ["dead_end"] + ["priority"] * (len(lengths) - 1) + ["dead_end"]
    nodes = [Node(id=f"n{i}", x=float(x), y=0.0, kind=kinds[i]) for i, x in enumerate(xs)]
    edges = [Edge(id=f"e{i}", from_node=f"n{i}", to_node=f"n{i + 1}", speed_mps=speed) for i in range(len(lengths))]
    return Network(nodes=nodes, edges=edges)


def test_krauss_drivers_follow_safely_and_dawdle_by_seed():
    # SUMO's Krauss (its default model). Without dawdling (sigma 0) one car takes the free-flow time
    # exactly; a platoon never closes in below the minimum gap; with sigma 0.5 the drive is slower,
    # the same for the same seed and other for another
    net = _line([400.0, 250.0, 350.0], speed=13.89)
    krauss = replace(CAR, car_follow="Krauss", sigma=0.0)
    route = ("e0", "e1", "e2")
    alone = run(net, Demand(trips=[Trip(id="a", depart_s=0.0, vtype="car", route=route, depart_speed_mps=None)],
                            vtypes={"car": krauss}), Settings())
    d = alone.details()
    distance = alone.net.edge_length.sum() + alone.net.link_length.sum() - CAR.length_m
    assert d.arrive_s[0] - d.depart_s[0] == pytest.approx(distance / 13.89, abs=1e-6)

    def platoon(sigma, seed):
        # a slow car (5 m/s) ahead of seven: they catch up with it and follow
        trips = [Trip(id=f"p{k}", depart_s=3.0 * k, vtype="slow" if k == 0 else "car", route=route) for k in range(8)]
        vtypes = {"car": replace(krauss, sigma=sigma), "slow": replace(krauss, sigma=sigma, max_speed_mps=5.0)}
        sim = Simulation(net, Demand(trips=trips, vtypes=vtypes), Settings(), seed=seed)
        closest = np.inf
        for _ in sim:
            on = np.flatnonzero(sim.state == kernels.DRIVING)
            for i in on:
                for j in on:
                    if j != i and sim.lane[j] == sim.lane[i] and sim.pos[j] > sim.pos[i]:
                        closest = min(closest, sim.pos[j] - sim.vlen[j] - sim.pos[i])
        d = sim.details()
        return d.arrive_s - d.depart_s, closest

    steady, closest = platoon(0.0, 0)
    assert krauss.min_gap_m - 1e-6 <= closest < krauss.min_gap_m + 5.0 * krauss.time_headway_s
    dawdling, _ = platoon(0.5, 0)
    assert np.mean(dawdling) > np.mean(steady) + 1.0
    np.testing.assert_array_equal(platoon(0.5, 0)[0], dawdling)
    assert not np.array_equal(platoon(0.5, 1)[0], dawdling)


def test_driver_leaving_behind_a_slower_one_leaves_at_a_speed_it_can_keep():
    # a Krauss car leaving at its desired speed (None: SUMO's "max") just behind a slow car leaves at
    # the speed from which it can stop behind it, so it never brakes harder than b; it left at 13.9
    # m/s before and stopped in its first step
    net = _line([400.0], speed=13.89)
    krauss = replace(CAR, car_follow="Krauss", sigma=0.0, decel_mps2=4.5)
    trips = [Trip(id="slow", depart_s=0.0, vtype="slow", route=("e0",), depart_speed_mps=None),
             Trip(id="fast", depart_s=2.5, vtype="car", route=("e0",), depart_speed_mps=None)]
    sim = Simulation(net, Demand(trips=trips, vtypes={"car": krauss, "slow": replace(krauss, max_speed_mps=3.0)}), Settings(), seed=0)
    hardest = 0.0
    before, was = sim.speed.copy(), sim.state.copy()
    for _ in sim:
        both = (sim.state == kernels.DRIVING) & (was == kernels.DRIVING)
        if both.any():
            hardest = max(hardest, float(np.max((before[both] - sim.speed[both]) / sim.settings.step_s)))
        before, was = sim.speed.copy(), sim.state.copy()
    d = sim.details()
    assert np.isfinite(d.arrive_s).all() and d.depart_s[list(d.trip_ids).index("fast")] == pytest.approx(3.0)
    assert hardest <= krauss.decel_mps2 + 1e-9


def _ring(n_nodes=20, radius=318.3, speed=33.3):
    nodes = [Node(id=f"r{i}", x=radius * math.cos(2 * math.pi * i / n_nodes), y=radius * math.sin(2 * math.pi * i / n_nodes))
             for i in range(n_nodes)]
    edges = [Edge(id=f"c{i}", from_node=f"r{i}", to_node=f"r{(i + 1) % n_nodes}", speed_mps=speed) for i in range(n_nodes)]
    return Network(nodes=nodes, edges=edges)


def test_free_flow_travel_time_is_exact():
    # one vehicle entering at its desired speed on three edges in a row (straight junctions):
    # travel time = distance / speed, with the arrival interpolated inside the last step.
    net = _line([400.0, 250.0, 350.0], speed=13.89)
    trip = Trip(id="a", depart_s=0.0, vtype="car", route=("e0", "e1", "e2"), depart_speed_mps=None)
    sim = run(net, Demand(trips=[trip], vtypes={"car": CAR}), Settings())
    d = sim.details()
    c = sim.net
    distance = c.edge_length.sum() + c.link_length.sum() - CAR.length_m   # inserted with its back at the start
    assert d.arrive_s[0] - d.depart_s[0] == pytest.approx(distance / 13.89, abs=1e-6)
    assert d.free_time_s[0] == pytest.approx(distance / 13.89, abs=1e-6)


def _reference_single_lane(departs, length, vt: VType, v_limit, dt=0.5, substeps=2, t_end=400.0):
    """Pure-Python IDM on one lane: simultaneous speed update (SUMO-style sub-steps), x += v dt,
    insertion with the back at the start at speed 0 once there is room (length + s0)."""
    pos, vel, order, arrive, depart = {}, {}, [], {}, {}
    pending = []
    t = 0.0
    nxt = 0
    while t < t_end:
        while nxt < len(departs) and departs[nxt] <= t + 1e-9:
            pending.append(nxt)
            nxt += 1
        v0 = min(vt.max_speed_mps, v_limit)
        new_v = {}
        for j, i in enumerate(order):
            if j == 0:
                gap, vl = 1e18, 0.0
            else:
                ld = order[j - 1]
                gap, vl = pos[ld] - vt.length_m - pos[i], vel[ld]
            v = vel[i]
            h = dt / substeps
            for _ in range(substeps):
                free = 1 - (v / v0) ** vt.delta
                if gap >= 1e9:
                    acc = vt.accel_mps2 * free
                else:
                    s_star = vt.min_gap_m + max(0.0, v * vt.time_headway_s + v * (v - vl) / (2 * math.sqrt(vt.accel_mps2 * vt.decel_mps2)))
                    acc = vt.accel_mps2 * (free - (s_star / max(gap, 0.01)) ** 2)
                vn = max(0.0, v + acc * h)
                if gap < 1e9:
                    gap -= (vn - vl) * h
                v = vn
            new_v[i] = v
        limit = 1e18
        for i in list(order):
            x = pos[i] + new_v[i] * dt
            v = new_v[i]
            if x > limit:
                x = max(limit, pos[i])
                v = (x - pos[i]) / dt
            vel[i] = v
            limit = x - vt.length_m
            if x >= length:
                arrive[i] = t + dt - (x - length) / v
                order.remove(i)
            pos[i] = x
        rear = min([pos[i] - vt.length_m for i in order], default=length)
        if pending and rear >= vt.length_m + vt.min_gap_m:
            i = pending.pop(0)
            pos[i], vel[i] = vt.length_m, 0.0
            depart[i] = t + dt
            order.append(i)
        t += dt
    return depart, arrive


def test_kernel_matches_pure_python_reference():
    # a platoon released every 1.5 s from standstill: followers catch up, so the interaction
    # term matters; the kernel and the reference must agree to rounding.
    departs = [0.0, 1.5, 3.0, 4.5, 6.0, 7.5]
    net = _line([800.0], speed=13.89)
    trips = [Trip(id=f"v{i}", depart_s=d, vtype="car", route=("e0",)) for i, d in enumerate(departs)]
    sim = run(net, Demand(trips=trips, vtypes={"car": CAR}), Settings())
    d = sim.details()
    ref_depart, ref_arrive = _reference_single_lane(departs, 800.0, CAR, 13.89)
    for i in range(len(departs)):
        assert d.depart_s[i] == pytest.approx(ref_depart[i], abs=1e-9)
        assert d.arrive_s[i] == pytest.approx(ref_arrive[i], abs=1e-6)
    assert np.all(np.diff(d.arrive_s) > 0)   # nobody overtakes on one lane


def _equilibrium_flow(k_per_m, vt, v0):
    """IDM equilibrium: spacing 1/k = l + (s0 + v T) / sqrt(1 - (v/v0)^delta); flow q = k v (veh/s)."""
    lo, hi = 0.0, v0 * (1 - 1e-12)
    for _ in range(200):
        v = (lo + hi) / 2
        spacing = vt.length_m + (vt.min_gap_m + v * vt.time_headway_s) / math.sqrt(1 - (v / v0) ** vt.delta)
        lo, hi = (v, hi) if spacing < 1 / k_per_m else (lo, v)
    return k_per_m * lo


def test_idm_capacity_of_default_car_is_1800_to_2000_veh_per_hour():
    # Treiber et al. (2000) parameters with v0 = 120 km/h: the equilibrium flow-density curve
    # peaks between 1,800 and 2,000 veh/h, the single-lane capacity of a motorway lane.
    ks = np.linspace(5, 80, 400) / 1000.0
    q = max(_equilibrium_flow(k, CAR, 33.3) for k in ks) * 3600
    assert 1800 <= q <= 2000


@pytest.mark.parametrize("n_vehicles", [20, 55])
def test_ring_road_flow_follows_idm_equilibrium(n_vehicles):
    # N cars on a ~1.99 km ring (20 straight edges): once settled, the flow k*v must sit on
    # the IDM equilibrium curve. 3 %: the ring's discrete edges (0.1 m junction links) and a
    # residual of the start-up transient after 900 s.
    net = _ring()
    c = compile_network(net)
    ring_len = c.edge_length.sum() + c.link_length.sum()
    laps = 40
    route = tuple(f"c{i % 20}" for i in range(20 * laps))
    trips = [Trip(id=f"v{i}", depart_s=0.0, vtype="car", route=route) for i in range(n_vehicles)]
    sim = Simulation(net, Demand(trips=trips, vtypes={"car": CAR}), Settings(end_s=1500.0), seed=1)
    marks = {}
    for t in sim:
        if abs(t - 1200.0) < 1e-9 or abs(t - 1500.0) < 1e-9:
            marks[round(t)] = sim.dist_m.copy()
    assert np.all(sim.state == kernels.DRIVING)
    mean_speed = float(np.mean(marks[1500] - marks[1200]) / 300.0)
    k = n_vehicles / ring_len
    assert k * mean_speed == pytest.approx(_equilibrium_flow(k, CAR, 33.3), rel=0.03)


def _cross(kind_centre="right_before_left", arm=150.0, speed=8.33):
    nodes = [Node(id="c", x=0, y=0, kind=kind_centre)]
    edges = []
    for name, (x, y) in {"w": (-arm, 0), "e": (arm, 0), "s": (0, -arm), "n": (0, arm)}.items():
        nodes.append(Node(id=name, x=x, y=y, kind="dead_end"))
        prio = 3 if name in ("w", "e") else 1
        edges.append(Edge(id=f"{name}_in", from_node=name, to_node="c", speed_mps=speed, priority=prio))
        edges.append(Edge(id=f"{name}_out", from_node="c", to_node=name, speed_mps=speed, priority=prio))
    return Network(nodes=nodes, edges=edges)


def _crossing_times(kind):
    net = _cross(kind)
    trips = [Trip(id="from_south", depart_s=0.0, route=("s_in", "n_out")),
             Trip(id="from_east", depart_s=0.0, route=("e_in", "w_out"))]
    sim = Simulation(net, Demand(trips=trips, vtypes={"car": CAR}), Settings(), seed=0)
    entered = {}
    for t in sim:
        for i, tr in enumerate(sim.trips):
            if tr.id not in entered and sim.route_idx[i] == 1:
                entered[tr.id] = t
    return entered


def test_right_before_left_gives_way_to_the_right():
    # both arrive together: the car from the south has the car from the east on its right, so it waits.
    entered = _crossing_times("right_before_left")
    assert entered["from_east"] + 1.0 < entered["from_south"]


def test_priority_road_goes_first():
    # east-west is the priority road (priority 3 against 1): the car from the south waits for it.
    entered = _crossing_times("priority")
    assert entered["from_east"] + 1.0 < entered["from_south"]


def test_nobody_gives_way_at_an_unregulated_junction():
    # SUMO's traffic_light_unregulated: both cars drive into the junction at once, neither slows for
    # the other, and each takes the free-flow time the priority road's car takes at a priority junction
    unregulated = _crossing_times("unregulated")
    priority = _crossing_times("priority")
    assert abs(unregulated["from_east"] - unregulated["from_south"]) < 1e-9
    assert unregulated["from_south"] == priority["from_east"] and unregulated["from_east"] == priority["from_east"]


def test_merging_at_an_unregulated_junction_is_no_standstill_from_speed():
    # Krauss drivers from the south (straight on) and the east (right turn) leave for the same lane
    # north of an unregulated junction (nobody gives way), the right-turner 2 s earlier to 2 s later.
    # Nobody brakes harder than 9 m/s² (SUMO's emergency deceleration of a passenger car): the one
    # farther from the lane they share follows the other in time, not once beside it. Before, the
    # straight-on car took the right-turner beside it inside the junction for its leader at a
    # negative gap and stopped from 13.9 m/s in one step (26 m/s²).
    net = _cross("unregulated", speed=13.89)
    krauss = replace(GRID_VTYPE, car_follow="Krauss", sigma=0.0, speed_dev=0.0)
    c = compile_network(net)
    straight_k = c.link_between(c.edge_index["s_in"], c.edge_index["n_out"])
    free = (c.edge_length[c.edge_index["s_in"]] + c.edge_length[c.edge_index["n_out"]] + c.link_length[straight_k] - krauss.length_m) / 13.89
    for offset in np.arange(-2.0, 2.01, 0.25):
        trips = [Trip(id="straight", depart_s=2.0, route=("s_in", "n_out"), depart_speed_mps=None),
                 Trip(id="right", depart_s=2.0 + offset, route=("e_in", "n_out"), depart_speed_mps=None)]
        sim = Simulation(net, Demand(trips=trips, vtypes={"car": krauss}), Settings(), seed=0)
        hardest = np.zeros(2)
        before = sim.speed.copy()
        was = sim.state.copy()
        for _ in sim:
            both = (sim.state == kernels.DRIVING) & (was == kernels.DRIVING)
            hardest[both] = np.maximum(hardest[both], (before[both] - sim.speed[both]) / sim.settings.step_s)
            before, was = sim.speed.copy(), sim.state.copy()
        assert hardest.max() <= 9.0, offset
        d = sim.details()
        who = {t: i for i, t in enumerate(d.trip_ids)}
        assert np.isfinite(d.arrive_s).all()
        if offset > 0.0:        # the straight-on car is ahead all the way: its free-flow time
            assert d.arrive_s[who["straight"]] - d.depart_s[who["straight"]] == pytest.approx(free, abs=1e-6)


def test_queue_discharges_at_saturation_flow():
    # 25 cars queue at a red light for 200 s, then the light turns green: from the 5th car on
    # (HCM: the first four include the start-up lost time) the stop-line headway gives the
    # saturation flow. HCM 7th ed. base saturation flow is 1,900 pc/h/ln, field values run
    # 1,600-2,000; SUMO's passenger car (IDM, T = 1 s, a = 2.6 m/s²) on a 50 km/h street.
    net = _cross("traffic_light", arm=600.0, speed=13.89)
    trips = [Trip(id=f"q{i}", depart_s=float(i), route=("w_in", "e_out")) for i in range(25)]
    sumo_car = replace(GRID_VTYPE, speed_dev=0.0)
    sim = Simulation(net, Demand(trips=trips, vtypes={"car": sumo_car}), Settings(end_s=400.0, signal_green_s=1e6), seed=0)
    c = sim.net
    west = [k for k in range(len(c.link_to)) if c.edge_ids[c.link_from[k]] == "w_in"]
    crossed = {}
    for t in sim:
        sim.link_state[west] = kernels.SIGNAL_RED if t < 200.0 else kernels.SIGNAL_GREEN
        for i in range(25):
            if i not in crossed and sim.route_idx[i] == 1:
                crossed[i] = t
    times = np.array([crossed[i] for i in range(25)])
    assert times.min() >= 200.0
    headway = (times[24] - times[4]) / 20
    assert 1600 <= 3600 / headway <= 2000


def gridlock_loop() -> tuple[Network, Demand]:
    """A one-way block loop fed by a street: cars keep merging in and circling until the loop is full."""
    corners = [(0, 0), (80, 0), (80, 80), (0, 80)]
    nodes = [Node(id=f"b{i}", x=x, y=y, kind="right_before_left") for i, (x, y) in enumerate(corners)]
    nodes.append(Node(id="f", x=-150.0, y=0.0, kind="dead_end"))
    edges = [Edge(id=f"l{i}", from_node=f"b{i}", to_node=f"b{(i + 1) % 4}", speed_mps=8.33) for i in range(4)]
    edges.append(Edge(id="feed", from_node="f", to_node="b0", speed_mps=8.33))
    route = ("feed",) + tuple(f"l{i % 4}" for i in range(200))
    trips = [Trip(id=f"g{i}", depart_s=2.0 * i, route=route) for i in range(80)]
    return Network(nodes=nodes, edges=edges, source="gridlock loop"), Demand(trips=trips, vtypes={"car": CAR})


def test_gridlock_is_reported_not_hidden():
    # the loop jams for good: cars stand for the jam time (300 s, SUMO's time-to-teleport), the
    # run reports gridlock and where, and nobody is teleported out of it.
    net, demand = gridlock_loop()
    sim = run(net, demand, Settings(end_s=1200.0))
    d = sim.details()
    assert d.gridlock_time_s is not None and d.gridlock_time_s < 1200.0
    assert d.gridlock_edges and set(d.gridlock_edges) <= {"feed", "l0", "l1", "l2", "l3"}
    assert np.isnan(d.arrive_s).all()
    assert sim.result().value("gridlock") == 1.0
