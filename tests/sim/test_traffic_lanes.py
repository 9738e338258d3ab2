"""Lane choice ahead of junctions, as SUMO's LC2013 (best lanes along the route, strategic changes,
no speed-gain change a driver could not undo in time) and netconvert's lane-to-lane connections."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from sim.traffic import kernels
from sim.traffic.model import Demand, Settings, Simulation, Trip, VTYPES
from sim.traffic.network import Edge, Network, Node, compile_network


def _two_junctions(in_m=300.0, mid_m=100.0):
    """S -> A -> B, then left to W or straight on to N; every road two lanes, no connections given
    (netconvert's default: at B the left turn leaves from the left lane only, straight on from both)."""
    nodes = [Node(id="S", x=0.0, y=-in_m, kind="dead_end"), Node(id="A", x=0.0, y=0.0, kind="priority"),
             Node(id="B", x=0.0, y=mid_m, kind="priority"), Node(id="W", x=-300.0, y=mid_m, kind="dead_end"),
             Node(id="N", x=0.0, y=mid_m + 300.0, kind="dead_end"), Node(id="E", x=300.0, y=0.0, kind="dead_end")]
    edges = [Edge(id="in", from_node="S", to_node="A", lanes=2), Edge(id="mid", from_node="A", to_node="B", lanes=2),
             Edge(id="left", from_node="B", to_node="W", lanes=2), Edge(id="on", from_node="B", to_node="N", lanes=2),
             Edge(id="east", from_node="A", to_node="E", lanes=2)]
    return Network(nodes=nodes, edges=edges)


def _reach(sim, route):
    c = sim.net
    flat = np.array([c.edge_index[e] for e in route], dtype=np.int32)
    return flat, sim._route_lanes(flat, np.zeros(1, np.int32), np.array([len(flat)], np.int32))


def test_best_lanes_are_those_that_lead_farthest_along_the_route():
    net = _two_junctions()
    sim = Simulation(net, Demand(trips=[Trip(id="x", depart_s=0.0, route=("in", "mid", "left"))], vtypes=dict(VTYPES)),
                     Settings(end_s=10.0), seed=0)
    c = sim.net
    k = [q for q in range(len(c.link_to)) if c.edge_ids[c.link_from[q]] == "mid" and c.edge_ids[c.link_to[q]] == "left"][0]
    assert (c.link_lane_lo[k], c.link_lane_hi[k]) == (1, 1)      # left turn from the left lane only
    _, rl = _reach(sim, ("in", "mid", "left"))
    L = {e: c.edge_length[c.edge_index[e]] for e in ("in", "mid", "left")}
    col = kernels.ROUTE_LANE_COLS
    # lane 0 of "in" leads straight onto lane 0 of "mid", which does not turn left: it ends at B
    assert np.isclose(rl[0, col + 0], L["in"] + L["mid"])
    assert np.isclose(rl[0, col + 1], L["in"] + L["mid"] + L["left"])
    assert tuple(rl[0, :2]) == (1, 1) and tuple(rl[1, :2]) == (1, 1) and tuple(rl[2, :2]) == (0, 1)
    # going straight on at B every lane leads on: both lanes are best all the way
    _, rl2 = _reach(sim, ("in", "mid", "on"))
    assert all(tuple(r[:2]) == (0, 1) for r in rl2)


def test_entry_lane_follows_the_connection_not_the_lane_wanted_next():
    # a driver crossing A from lane 0 arrives on lane 0 of "mid" (netconvert: lane i -> lane i),
    # though it turns left at B from lane 1: it changes lane on "mid", it does not jump there
    net = _two_junctions()
    sim = Simulation(net, Demand(trips=[Trip(id="x", depart_s=0.0, route=("in", "mid", "left"))], vtypes=dict(VTYPES)),
                     Settings(end_s=10.0), seed=0)
    c = sim.net
    flat, rl = _reach(sim, ("in", "mid", "left"))
    k = [q for q in range(len(c.link_to)) if c.edge_ids[c.link_from[q]] == "in" and c.edge_ids[c.link_to[q]] == "mid"][0]
    ne = c.edge_index["mid"]
    lane_rear = np.zeros(len(c.lane_edge))
    start, length = np.zeros(1, np.int32), np.array([len(flat)], np.int32)
    got = kernels._entry_lane(0, k, ne, 0, c.edge_first_lane, c.edge_lanes, c.edge_link_start, c.link_to, c.link_lane_lo,
                              c.link_lane_hi, c.link_to_lo, c.link_to_hi, flat, start, length, 1, lane_rear, rl)
    assert got == c.edge_first_lane[ne] + 0
    got1 = kernels._entry_lane(1, k, ne, 0, c.edge_first_lane, c.edge_lanes, c.edge_link_start, c.link_to, c.link_lane_lo,
                               c.link_lane_hi, c.link_to_lo, c.link_to_hi, flat, start, length, 1, lane_rear, rl)
    assert got1 == c.edge_first_lane[ne] + 1


def test_drivers_take_the_lane_that_leads_on_before_the_junction_and_queue_in_it():
    # 30 cars S -> W: they turn left at B, so SUMO's drivers are in the left lane of "in" already
    # (it leads on through A and B) and queue there; before, drivers used both lanes of "in" (its
    # next movement, straight on at A, leaves from both) and took the left lane only on "mid".
    net = _two_junctions(in_m=150.0)
    trips = [Trip(id=f"c{i}", depart_s=2.0 * i, route=("in", "mid", "left")) for i in range(30)]
    sim = Simulation(net, Demand(trips=trips, vtypes=dict(VTYPES)), Settings(end_s=400.0), seed=1)
    c = sim.net
    e_in = c.edge_index["in"]
    lane_at_end = {}
    for _ in sim:
        for i in np.nonzero(sim.state == kernels.DRIVING)[0]:
            if c.lane_edge[sim.lane[i]] == e_in and c.edge_length[e_in] - sim.pos[i] < 30.0:
                lane_at_end[i] = int(c.lane_index[sim.lane[i]])
    assert len(lane_at_end) == 30
    assert set(lane_at_end.values()) == {1}
    assert np.isfinite(sim.arrive_t).all()


def test_no_speed_gain_change_onto_a_lane_that_leads_elsewhere():
    # cars to W need the left lane of "in" through A and B; its right lane leads on only to B
    # (less than SUMO's TURN_LANE_DIST, 200 m): behind a slow car on their best lane, W-bound cars
    # do not pull out to the right lane for speed (before, any lane of the next movement would do)
    net = _two_junctions(in_m=100.0)
    vtypes = dict(VTYPES)
    vtypes["slow"] = replace(VTYPES["car"], id="slow", max_speed_mps=4.0)
    trips = [Trip(id=f"w{i}", depart_s=1.0 + 3.0 * i, route=("in", "mid", "left"), vtype="slow" if i == 0 else "car")
             for i in range(6)]
    sim = Simulation(net, Demand(trips=trips, vtypes=vtypes), Settings(end_s=300.0), seed=0)
    c = sim.net
    e_in = c.edge_index["in"]
    seen = set()
    for _ in sim:
        for i in np.nonzero(sim.state == kernels.DRIVING)[0]:
            if c.lane_edge[sim.lane[i]] == e_in:
                seen.add(int(c.lane_index[sim.lane[i]]))
    assert seen == {1}
