"""What SUMO does not model and old communities need: single-track streets with passing places,
gates with a service time, car parks that fill up, closures that reroute, all-way stops."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sim.traffic.model import CarPark, Demand, Settings, Simulation, Trip, VTYPES, run
from sim.traffic.network import Edge, Network, Node

CAR = replace(VTYPES["car"], speed_dev=0.0)


def _street(single_track: bool, length=120.0):
    """A two-way street a-b between two stubs, so vehicles queue on the stubs (the passing places)."""
    nodes = [Node(id=n, x=x, y=0.0, kind=k) for n, x, k in
             (("wa", -60.0, "dead_end"), ("a", 0.0, "priority"), ("b", length, "priority"), ("wb", length + 60.0, "dead_end"))]
    edges = [Edge(id="in_a", from_node="wa", to_node="a", speed_mps=5.56), Edge(id="out_a", from_node="a", to_node="wa", speed_mps=5.56),
             Edge(id="in_b", from_node="wb", to_node="b", speed_mps=5.56), Edge(id="out_b", from_node="b", to_node="wb", speed_mps=5.56),
             Edge(id="ab", from_node="a", to_node="b", speed_mps=5.56, single_track=single_track),
             Edge(id="ba", from_node="b", to_node="a", speed_mps=5.56, single_track=single_track)]
    return Network(nodes=nodes, edges=edges)


def _on(sim, trip_index, edge_id):
    c = sim.net
    return sim.state[trip_index] == 2 and c.edge_ids[c.lane_edge[sim.lane[trip_index]]] == edge_id


def test_single_track_street_one_direction_at_a_time():
    # east- and westbound cars meet on a street where only one moving car fits: they never share it,
    # and the one that waited is delayed by about the other's crossing time (120 m at 20 km/h ~ 22 s).
    trips = [Trip(id="east", depart_s=0.0, route=("in_a", "ab", "out_b")), Trip(id="west", depart_s=0.0, route=("in_b", "ba", "out_a"))]
    sim = Simulation(_street(True), Demand(trips=trips, vtypes={"car": CAR}), Settings())
    shared = False
    street = sim.net.edge_length[sim.net.edge_index["ab"]]
    for _ in sim:
        # both on the street and neither at a passing place (the junction at its end)
        shared |= (_on(sim, 0, "ab") and _on(sim, 1, "ba") and sim.pos[0] < street - 10.0 and sim.pos[1] < street - 10.0)
    assert not shared
    tt = sim.details().arrive_s - sim.details().depart_s
    free = run(_street(False), Demand(trips=trips, vtypes={"car": CAR}), Settings()).details()
    free_tt = free.arrive_s - free.depart_s
    assert np.allclose(free_tt[0], free_tt[1], atol=0.5)            # two-way street: nobody waits
    waited = max(tt) - max(free_tt)
    assert 15.0 < waited < 40.0


def test_gate_service_time_makes_a_queue():
    # 20 cars leave through a gate with an 8 s service time (barrier): they leave at most one per
    # 8 s, so the last leaves no earlier than 19 x 8 s after the first, and the gate queue is reported.
    nodes = [Node(id="p", x=0, y=0, kind="dead_end"), Node(id="g", x=100, y=0, kind="dead_end", gate_service_s=8.0)]
    net = Network(nodes=nodes, edges=[Edge(id="lane", from_node="p", to_node="g", speed_mps=5.56)])
    trips = [Trip(id=f"c{i}", depart_s=float(i), route=("lane",)) for i in range(20)]
    sim = run(net, Demand(trips=trips, vtypes={"car": CAR}), Settings())
    arrive = np.sort(sim.details().arrive_s)
    assert np.all(np.diff(arrive) >= 8.0 - 1e-9)
    assert arrive[-1] - arrive[0] >= 19 * 8.0
    assert sim.result().value("max_queue_m") > 10 * CAR.length_m


def test_full_car_park_sends_drivers_to_the_next_one():
    # car park A (2 spaces) is nearer than B; 5 drivers aim for A: 2 park there, 3 circle on to B,
    # their search time is the drive from A to B.
    nodes = [Node(id=f"n{i}", x=100.0 * i, y=0.0, kind="priority") for i in range(4)]
    nodes[0] = replace(nodes[0], kind="dead_end")
    nodes[3] = replace(nodes[3], kind="dead_end")
    edges = []
    for i in range(3):
        edges += [Edge(id=f"f{i}", from_node=f"n{i}", to_node=f"n{i + 1}", speed_mps=5.56),
                  Edge(id=f"r{i}", from_node=f"n{i + 1}", to_node=f"n{i}", speed_mps=5.56)]
    parks = [CarPark(id="A", edge="f1", spaces=2), CarPark(id="B", edge="f2", spaces=10)]
    trips = [Trip(id=f"d{i}", depart_s=5.0 * i, route=("f0", "f1"), park_at="A") for i in range(5)]
    sim = run(Network(nodes=nodes, edges=edges), Demand(trips=trips, vtypes={"car": CAR}, car_parks=parks), Settings())
    d = sim.details()
    assert d.car_park_occupancy == {"A": (2, 2), "B": (3, 10)}
    assert d.parking_unparked == 0
    assert sorted(d.parking_search_s)[:2] == [0.0, 0.0]
    assert all(s > 100.0 / 5.56 for s in sorted(d.parking_search_s)[2:])


def test_closure_reroutes_and_costs_time():
    # closing the direct street sends the trip around the block: longer but it still arrives.
    nodes = [Node(id="a", x=0, y=0, kind="dead_end"), Node(id="b", x=100, y=0), Node(id="c", x=200, y=0),
             Node(id="d", x=100, y=80), Node(id="e", x=300, y=0, kind="dead_end")]
    edges = [Edge(id="ab", from_node="a", to_node="b"), Edge(id="bc", from_node="b", to_node="c"),
             Edge(id="bd", from_node="b", to_node="d"), Edge(id="dc", from_node="d", to_node="c"), Edge(id="ce", from_node="c", to_node="e")]
    net = Network(nodes=nodes, edges=edges)
    trip = Trip(id="t", depart_s=0.0, route=("ab", "bc", "ce"))
    open_tt = run(net, Demand(trips=[trip], vtypes={"car": CAR}), Settings()).details()
    closed = run(net.with_closure(["bc"]), Demand(trips=[trip], vtypes={"car": CAR}), Settings())
    d = closed.details()
    assert np.isfinite(d.arrive_s[0])
    assert d.distance_m[0] > open_tt.distance_m[0] + 50.0
    assert (d.arrive_s - d.depart_s)[0] > (open_tt.arrive_s - open_tt.depart_s)[0]


def test_all_way_stop_makes_everyone_stop():
    # a car alone at an all-way stop still comes to a standstill at the line before crossing.
    nodes = [Node(id="c", x=0, y=0, kind="allway_stop")]
    edges = []
    for name, (x, y) in {"w": (-150, 0), "e": (150, 0), "s": (0, -150), "n": (0, 150)}.items():
        nodes.append(Node(id=name, x=x, y=y, kind="dead_end"))
        edges += [Edge(id=f"{name}_in", from_node=name, to_node="c", speed_mps=8.33),
                  Edge(id=f"{name}_out", from_node="c", to_node=name, speed_mps=8.33)]
    sim = Simulation(Network(nodes=nodes, edges=edges), Demand(trips=[Trip(id="a", depart_s=0.0, route=("w_in", "e_out"))],
                                                               vtypes={"car": CAR}), Settings())
    min_speed_near_line = np.inf
    for _ in sim:
        if sim.state[0] == 2 and sim.route_idx[0] == 0 and sim.net.edge_length[0] - sim.pos[0] < 5.0:
            min_speed_near_line = min(min_speed_near_line, sim.speed[0])
    assert min_speed_near_line < 0.1
    assert np.isfinite(sim.details().arrive_s[0])


def test_mobil_lane_change_overtakes_a_slow_vehicle():
    # a slow van (4 m/s) on a two-lane road; a car that enters behind it changes lane (MOBIL) and
    # overtakes: it arrives long before the van. The first car takes the free lane on entry.
    nodes = [Node(id="a", x=0, y=0, kind="dead_end"), Node(id="b", x=1000, y=0, kind="dead_end")]
    net = Network(nodes=nodes, edges=[Edge(id="road", from_node="a", to_node="b", speed_mps=13.89, lanes=2)])
    slow = replace(CAR, id="slow", max_speed_mps=4.0)
    trips = [Trip(id="van", depart_s=0.0, vtype="slow", route=("road",)),
             Trip(id="car1", depart_s=1.0, route=("road",)), Trip(id="car2", depart_s=6.0, route=("road",))]
    sim = Simulation(net, Demand(trips=trips, vtypes={"car": CAR, "slow": slow}), Settings())
    changed = False
    start_lane = {}
    for _ in sim:
        for i in range(3):
            if sim.state[i] == 2:
                start_lane.setdefault(i, sim.lane[i])
                changed |= i == 2 and sim.lane[i] != start_lane[i]
    d = sim.details()
    order = {t.id: i for i, t in enumerate(sim.trips)}
    assert start_lane[order["car2"]] == start_lane[order["van"]]      # entered behind the van
    assert changed
    assert d.arrive_s[order["car2"]] < d.arrive_s[order["van"]] - 100.0


def test_electric_cars_look_for_a_free_charger():
    # car park A: 4 spaces, 1 with a charger; B further on: 4 spaces, 2 chargers. Four electric cars
    # aim for A: one charges at A, the others drive on to B (nobody reserves a charger), two charge
    # there and the last, finding none free, takes a plain space at B; a petrol car parks at A.
    nodes = [Node(id=f"n{i}", x=100.0 * i, y=0.0, kind="priority") for i in range(4)]
    nodes[0] = replace(nodes[0], kind="dead_end")
    nodes[3] = replace(nodes[3], kind="dead_end")
    edges = []
    for i in range(3):
        edges += [Edge(id=f"f{i}", from_node=f"n{i}", to_node=f"n{i + 1}", speed_mps=5.56),
                  Edge(id=f"r{i}", from_node=f"n{i + 1}", to_node=f"n{i}", speed_mps=5.56)]
    parks = [CarPark(id="A", edge="f1", spaces=4, ev_chargers=1), CarPark(id="B", edge="f2", spaces=4, ev_chargers=2)]
    trips = [Trip(id=f"ev{i}", depart_s=8.0 * i, route=("f0", "f1"), park_at="A", needs_charger=True) for i in range(4)]
    trips.append(Trip(id="petrol", depart_s=60.0, route=("f0", "f1"), park_at="A"))
    sim = run(Network(nodes=nodes, edges=edges), Demand(trips=trips, vtypes={"car": CAR}, car_parks=parks), Settings())
    d = sim.details()
    assert d.ev_charging == 3 and d.ev_without_charger == 1
    assert d.charger_occupancy == {"A": (1, 1), "B": (2, 2)}
    assert d.car_park_occupancy == {"A": (2, 4), "B": (3, 4)}
    assert d.parking_unparked == 0


def test_bus_dwells_at_its_stop_and_the_car_behind_waits():
    # a bus stops 300 m along a 1 km street for 25 s; the car behind it (one lane) waits too.
    nodes = [Node(id="a", x=0, y=0, kind="dead_end"), Node(id="b", x=1000, y=0, kind="dead_end")]
    net = Network(nodes=nodes, edges=[Edge(id="road", from_node="a", to_node="b", speed_mps=8.33)])
    bus = replace(VTYPES["bus"], speed_dev=0.0)
    plain = [Trip(id="bus", depart_s=0.0, vtype="bus", route=("road",)), Trip(id="car", depart_s=3.0, route=("road",))]
    with_stop = [replace(plain[0], stops=(("road", 300.0, 25.0),)), plain[1]]
    vtypes = {"car": CAR, "bus": bus}
    free = run(net, Demand(trips=plain, vtypes=vtypes), Settings()).details()
    sim = Simulation(net, Demand(trips=with_stop, vtypes=vtypes), Settings())
    held_at = []
    for t in sim:
        if sim.state[0] == 2 and sim.speed[0] < 0.1 and sim.pos[0] > 100:
            held_at.append(sim.pos[0])
    d = sim.details()
    assert np.allclose(held_at, 300.0, atol=0.6) and len(held_at) * 0.5 >= 25.0
    lost = (d.arrive_s - d.depart_s)[0] - (free.arrive_s - free.depart_s)[0]
    # dwell plus the time lost braking and speeding up again: v/(2b) + v/(2a) at constant rates
    # (35.4 s for the bus's a = 0.6, b = 1.2 m/s²); the IDM eases in and out, so up to 10 s more
    ideal = 25.0 + 8.33 / (2 * bus.decel_mps2) + 8.33 / (2 * bus.accel_mps2)
    assert ideal - 1.0 < lost < ideal + 10.0
    assert d.arrive_s[1] > d.arrive_s[0]    # the car could not pass the standing bus
