"""Routing of from/to trips when they depart, on the edges' recent mean speeds (as SUMO routes trips
at insertion with its rerouting device's edge weights); explicit routes stay as given."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from sim.traffic import kernels
from sim.traffic.model import Demand, Settings, Simulation, Trip, VTYPES
from sim.traffic.network import Edge, Network, Node

CAR = replace(VTYPES["car"], speed_dev=0.0)


def _two_ways():
    """o -> A, then A -> B straight (300 m) or round by C (2 x 260 m), then B -> d."""
    nodes = [Node(id="O", x=-200.0, y=0.0, kind="dead_end"), Node(id="A", x=0.0, y=0.0, kind="priority"),
             Node(id="C", x=150.0, y=200.0, kind="priority"), Node(id="B", x=300.0, y=0.0, kind="priority"),
             Node(id="D", x=500.0, y=0.0, kind="dead_end")]
    edges = [Edge(id="o", from_node="O", to_node="A", speed_mps=13.89), Edge(id="s", from_node="A", to_node="B", speed_mps=13.89),
             Edge(id="l1", from_node="A", to_node="C", speed_mps=13.89), Edge(id="l2", from_node="C", to_node="B", speed_mps=13.89),
             Edge(id="d", from_node="B", to_node="D", speed_mps=13.89)]
    return Network(nodes=nodes, edges=edges)


def _route(sim, i):
    a = sim.route_start[i]
    return [sim.net.edge_ids[e] for e in sim.route_flat[a:a + sim.route_len[i]]]


def _run(settings):
    # a bus stands 400 s on the straight road (a breakdown), queueing the cars behind it with explicit routes;
    # a from/to trip leaving at 300 s finds the straight road slow and goes round
    trips = [Trip(id="bus", depart_s=0.0, vtype="car", route=("o", "s", "d"), stops=(("s", 150.0, 400.0),))]
    trips += [Trip(id=f"q{k}", depart_s=10.0 + 5 * k, vtype="car", route=("o", "s", "d")) for k in range(5)]
    trips += [Trip(id="late", depart_s=300.0, vtype="car", from_edge="o", to_edge="d")]
    sim = Simulation(_two_ways(), Demand(trips=trips, vtypes={"car": CAR}), settings)
    sim.run()
    return sim


def test_from_to_trip_routed_at_departure_avoids_the_jam():
    sim = _run(Settings())
    late = [t.id for t in sim.trips].index("late")
    assert _route(sim, late) == ["o", "l1", "l2", "d"]
    # explicit routes stay as given
    assert all(_route(sim, i) == ["o", "s", "d"] for i, t in enumerate(sim.trips) if t.id != "late")
    d = sim.details()
    assert d.arrive_s[late] < 400.0                      # round the jam, not behind the bus (leaves at >= 400 s)
    assert d.free_time_s[late] > 600.0 / 13.89           # free-flow time of the route it drove
    # routed once before the run on free-flow times it queues behind the bus
    before = _run(Settings(route_at_departure=False))
    assert _route(before, late) == ["o", "s", "d"] and before.details().arrive_s[late] > 400.0


def test_edge_speed_sample_counts_empty_lanes_at_the_limit():
    # SUMO's edge mean speed: vehicles on the edge's lanes at their speeds, each empty lane once at the limit
    edge_first_lane, edge_lanes, edge_speed = np.array([0, 2]), np.array([2, 1]), np.array([10.0, 20.0])
    state = np.array([kernels.DRIVING, kernels.DRIVING, kernels.DRIVING], dtype=np.int8)
    lane, pos, speed = np.array([0, 0, 2], np.int32), np.array([5.0, 20.0, -1.0]), np.array([2.0, 4.0, 1.0])
    ring = np.tile(edge_speed, (3, 1))
    ring_sum = edge_speed * 3
    adapt = np.array([1.0, 1.0, 0.0])
    kernels.sample_edge_speeds(0, 3, state, lane, pos, speed, np.array([0, 0, 1]), edge_first_lane, edge_lanes, edge_speed,
                               np.zeros((3, 2)), ring, ring_sum, adapt)
    # edge 0: two cars at 2 and 4 m/s on lane 0, lane 1 empty at 10 -> 16 / 3; edge 1: its car is still in the junction
    assert ring[0, 0] == np.float64(16.0 / 3.0) and ring[0, 1] == 20.0
    assert ring_sum[0] == np.float64(20.0 + 16.0 / 3.0) and adapt[2] == 1.0


def test_routes_weigh_a_movement_that_gives_way_by_sumos_minor_penalty():
    # a minor road crossing a major one at a priority junction: crossing gives way, so the router adds
    # SUMO's --weights.minor-penalty (1.5 s) to it; going along the major road it does not
    from sim.traffic.network import compile_network
    from sim.traffic.routing import MINOR_PENALTY_S, Router, minor_links

    nodes = [Node(id="J", x=0.0, y=0.0, kind="priority"), Node(id="W", x=-200.0, y=0.0, kind="dead_end"),
             Node(id="E", x=200.0, y=0.0, kind="dead_end"), Node(id="S", x=0.0, y=-200.0, kind="dead_end"),
             Node(id="N", x=0.0, y=200.0, kind="dead_end")]
    edges = [Edge(id="we", from_node="W", to_node="J", priority=3), Edge(id="je", from_node="J", to_node="E", priority=3),
             Edge(id="sj", from_node="S", to_node="J", priority=1), Edge(id="jn", from_node="J", to_node="N", priority=1)]
    net = compile_network(Network(nodes=nodes, edges=edges))
    e = net.edge_index
    cross, along = net.link_between(e["sj"], e["jn"]), net.link_between(e["we"], e["je"])
    minor = minor_links(net)
    assert minor[cross] and not minor[along]
    router = Router(net)
    for a, b, k, pen in (("sj", "jn", cross, MINOR_PENALTY_S), ("we", "je", along, 0.0)):
        free = net.edge_length[e[b]] / net.edge_speed[e[b]] + net.link_length[k] / net.link_speed[k]
        assert router.time_between(e[a], e[b]) == np.float64(free + pen)


def test_routing_at_departure_same_stepped_or_run_at_once():
    # the kernel runs many steps a call and samples the edge speeds itself: stepping from outside
    # (one step a call) gives the same routes, times and edge speed samples
    at_once = _run(Settings(end_s=350.0))
    trips = at_once.trips
    stepped = Simulation(_two_ways(), Demand(trips=trips, vtypes={"car": CAR}), Settings(end_s=350.0))
    for _ in stepped:
        pass
    assert stepped.t == at_once.t
    assert [_route(stepped, i) for i in range(len(trips))] == [_route(at_once, i) for i in range(len(trips))]
    np.testing.assert_array_equal(stepped.details().arrive_s, at_once.details().arrive_s)
    np.testing.assert_array_equal(stepped._speed_ring, at_once._speed_ring)
