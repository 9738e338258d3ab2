"""Signal programs and lanes of movements (sim/traffic/signals.py, network.py, kernels.py).

netconvert's default program built from the approaches that exist (a single-approach signal gets
one long green, not an empty second phase); a .tll.xml program applied through SUMO's link order;
movements tied to lanes (connections given, else SUMO's default), so permissive left-turners wait in
their own lane; a two-lane queue discharging through a signal at twice one lane's rate. Where SUMO
is installed the programs and link order are compared with netconvert's own.
"""
from __future__ import annotations

import math
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import replace

import numpy as np
import pytest

from sim.traffic import kernels
from sim.traffic.grid import GRID_VTYPE
from sim.traffic.io import read_network
from sim.traffic.model import Demand, Settings, Simulation, Trip, run
from sim.traffic.network import Connection, Edge, Network, Node, compile_network
from sim.traffic.signals import SignalPlan, yellow_time_s
from sim.traffic.sumo import _binary, sumo_available

from test_traffic_heldout_io import _read, _write

needs_sumo = pytest.mark.skipif(not sumo_available(), reason="eclipse-sumo (anchors extra) not installed")
SUMO_CAR = replace(GRID_VTYPE, speed_dev=0.0)   # SUMO's passenger car as IDM (a 2.6, b 4.5, T 1 s, s0 2.5 m)


def _junction(arms, lanes=1, speed=13.89, priorities=None, centre="traffic_light", arm_m=300.0):
    """A junction at the origin with arms (name, compass bearing deg, 'in'|'out'|'both')."""
    nodes = [Node(id="C", x=0.0, y=0.0, kind=centre)]
    edges = []
    for i, (name, bearing, mode) in enumerate(arms):
        x, y = arm_m * math.sin(math.radians(bearing)), arm_m * math.cos(math.radians(bearing))
        nodes.append(Node(id=name, x=round(x, 2), y=round(y, 2), kind="dead_end"))
        n = lanes[i] if isinstance(lanes, list) else lanes
        p = priorities[i] if priorities else 1
        if mode in ("in", "both"):
            edges.append(Edge(id=f"{name}_in", from_node=name, to_node="C", lanes=n, speed_mps=speed, priority=p))
        if mode in ("out", "both"):
            edges.append(Edge(id=f"{name}_out", from_node="C", to_node=name, lanes=n, speed_mps=speed, priority=p))
    return Network(nodes=nodes, edges=edges, source="test junction")


CROSS = [("N", 0, "both"), ("E", 90, "both"), ("S", 180, "both"), ("W", 270, "both")]


def _program(c, node="C"):
    return next(p for p in c.signal_programs if c.node_ids[p.node] == node)


def test_single_approach_signal_has_one_long_green():
    # netconvert: one green phase (90 s cycle less yellow and its 5 s red); before, a second, empty
    # phase held the only approach at red 45 s in every 90 s (the on-ramp scenario's signals)
    for speed, expected in ((13.89, [82.0, 3.0, 5.0]), (30.0, [79.0, 6.0, 5.0])):
        c = compile_network(_junction([("W", 270, "in"), ("E", 90, "out")], speed=speed))
        p = _program(c)
        assert p.durations_s.tolist() == expected
        assert p.states[:, 0].tolist() == [kernels.SIGNAL_GREEN, kernels.SIGNAL_YELLOW, kernels.SIGNAL_RED]


def test_delay_at_a_single_approach_signal_is_websters():
    # 300 veh/h arriving evenly at the single-approach signal: Webster's uniform delay
    # d = C (1 - g/C)^2 / (2 (1 - x g/C)), C = 90 s, effective green g ~ 83 s (82 + 3 yellow less
    # ~2 s lost), x = 300 / (1,800 g/C): ~0.3 s, plus braking and starting of the ~9 % of cars that
    # meet red (~5 s each): under 2 s. With the empty phase (g ~ 43 s) it was ~14 s.
    net = _junction([("W", 270, "in"), ("E", 90, "out")])
    trips = [Trip(id=f"q{i}", depart_s=12.0 * i, route=("W_in", "E_out"), depart_speed_mps=None) for i in range(300)]
    d = run(net, Demand(trips=trips, vtypes={"car": SUMO_CAR}), Settings()).details()
    delay = np.mean(d.arrive_s - d.depart_s - d.free_time_s)
    assert 0.0 < delay < 2.0


def test_default_program_pairs_opposite_approaches_and_protects_dedicated_left_lanes():
    c = compile_network(_junction(CROSS))
    p = _program(c)
    assert p.durations_s.tolist() == [42.0, 3.0, 42.0, 3.0]      # two phases, N-S first (SUMO's order)
    # three lanes, left turns with a lane of their own (connections as in a .con.xml): 6 s protected left
    net = _junction(CROSS, lanes=3)
    turns = {"N": ("W", "S", "E"), "E": ("N", "W", "S"), "S": ("E", "N", "W"), "W": ("S", "E", "N")}
    net.connections = [Connection(from_edge=f"{a}_in", to_edge=f"{b}_out", from_lane=i, to_lane=i)
                       for a, (r, s, l) in turns.items() for i, b in enumerate((r, s, l))]
    p = _program(compile_network(net))
    assert p.durations_s.tolist() == [33.0, 3.0, 6.0, 3.0, 33.0, 3.0, 6.0, 3.0]
    assert yellow_time_s(13.89) == 3.0 and yellow_time_s(30.0) == 6.0


def _netconvert(tmp_path, net: Network, name: str, tll: str | None = None):
    from sim.traffic.io import write_network

    nod, edg = write_network(net, tmp_path / f"{name}.nod.xml", tmp_path / f"{name}.edg.xml")
    out = tmp_path / f"{name}.net.xml"
    cmd = [_binary("netconvert"), "-n", str(nod), "-e", str(edg), "-o", str(out), "--no-turnarounds", "true", "--no-warnings", "true"]
    if net.connections:
        con = tmp_path / f"{name}.con.xml"
        con.write_text("<connections>" + "".join(
            f'<connection from="{x.from_edge}" to="{x.to_edge}" fromLane="{x.from_lane}" toLane="{x.to_lane}"/>' for x in net.connections)
            + "</connections>")
        cmd += ["-x", str(con)]
    if tll:
        (tmp_path / f"{name}.tll.xml").write_text(tll)
        cmd += ["-i", str(tmp_path / f"{name}.tll.xml")]
    subprocess.run(cmd, check=True, capture_output=True)
    return ET.parse(out).getroot()


def _their_program(root, c):
    """netconvert's program as (duration, {our link: state char}) per phase."""
    tl = root.find("tlLogic")
    links = {int(x.get("linkIndex")): c.link_between(c.edge_index[x.get("from")], c.edge_index[x.get("to")])
             for x in root.iter("connection") if x.get("tl")}
    return [(float(ph.get("duration")), {links[i]: ch for i, ch in enumerate(ph.get("state")) if i in links}) for ph in tl.iter("phase")]


def _our_program(c):
    p = _program(c)
    names = {kernels.SIGNAL_RED: "r", kernels.SIGNAL_YELLOW: "y"}
    return [(float(d), {int(k): ("g" if p.minor[q, j] else "G") if p.states[q, j] == kernels.SIGNAL_GREEN else names[int(p.states[q, j])]
                        for j, k in enumerate(p.links)}) for q, d in enumerate(p.durations_s)]


# distorted junctions of the held-out 3x3 grid (10_grid_mixed_addtypes): arms at these compass bearings
SKEWED = {"skewed_cross": [("N", 25, "both"), ("E", 101, "both"), ("S", 198, "both"), ("W", 250, "both")],
          "skewed_tee": [("N", 26, "both"), ("SE", 153, "both"), ("W", 281, "both")],
          "skewed_tee_bent": [("N", 338, "both"), ("E", 70, "both"), ("S", 218, "both")],
          "skewed_tee_wide": [("N", 18, "both"), ("E", 110, "both"), ("W", 246, "both")]}


def test_first_green_goes_to_the_major_road_of_a_skewed_cross():
    # netconvert's first phase is the major road's: of equal roads, the two arriving from the most
    # opposite directions (here N-S, 173 deg apart; W-E 149 deg). Before, W-E came first, and the
    # held-out grid's diagonal platoons met red at every such junction (1.47 / 1.26 of SUMO's times)
    c = compile_network(_junction(SKEWED["skewed_cross"], lanes=2))
    p = _program(c)
    first = {c.edge_ids[c.link_from[k]] for j, k in enumerate(p.links) if p.states[0, j] == kernels.SIGNAL_GREEN}
    assert first == {"N_in", "S_in"}
    # a tee of three roads none opposite another pairs the two whose movements block each other least
    p = _program(compile_network(_junction(SKEWED["skewed_tee"], lanes=2)))
    assert p.durations_s.tolist() == [42.0, 3.0, 42.0, 3.0]


@needs_sumo
@pytest.mark.parametrize("case", ["single", "merge", "straight", "cross", "cross_2_lanes", "tee", "tee_priority", "cross_left_lanes",
                                  "skewed_cross", "skewed_tee", "skewed_tee_2_lanes", "skewed_tee_bent", "skewed_tee_wide",
                                  "skewed_tee_wide_2_lanes"])
def test_default_programs_are_netconverts(tmp_path, case):
    # every phase's duration and every movement's light, major or minor green, as netconvert 1.28 builds them
    arms = {"single": [("W", 270, "in"), ("E", 90, "out")], "merge": [("W", 270, "in"), ("SW", 230, "in"), ("E", 90, "out")],
            "straight": [("W", 270, "both"), ("E", 90, "both")], "tee": [("N", 0, "both"), ("E", 90, "both"), ("W", 270, "both")],
            "tee_priority": [("N", 0, "both"), ("E", 90, "both"), ("W", 270, "both")],
            **SKEWED}.get(case.removesuffix("_2_lanes"), CROSS)
    net = _junction(arms, lanes=2 if case.endswith("2_lanes") or case in ("skewed_cross", "skewed_tee_bent") else
                    3 if case == "cross_left_lanes" else 1, priorities=[1, 3, 3] if case == "tee_priority" else None)
    if case == "cross_left_lanes":
        turns = {"N": ("W", "S", "E"), "E": ("N", "W", "S"), "S": ("E", "N", "W"), "W": ("S", "E", "N")}
        net.connections = [Connection(from_edge=f"{a}_in", to_edge=f"{b}_out", from_lane=i, to_lane=i)
                           for a, (r, s, l) in turns.items() for i, b in enumerate((r, s, l))]
    c = compile_network(net)
    assert _our_program(c) == _their_program(_netconvert(tmp_path, net, case), c)


def test_given_program_runs_from_its_offset():
    # a tlLogic for a tee (links in SUMO's order: N_in -> W, E; E_in -> N, W; W_in -> E, N)
    net = _junction([("N", 0, "both"), ("E", 90, "both"), ("W", 270, "both")])
    net.signal_plans = {"C": SignalPlan(phases=((50.0, "rrGGGG"), (4.0, "rryyyy"), (20.0, "GGrrrr"), (4.0, "yyrrrr")), offset_s=10.0)}
    c = compile_network(net)
    assert c.notes == []
    sim = Simulation(net, Demand(trips=[Trip(id="x", depart_s=0.0, route=("E_in", "W_out"))], vtypes={"car": SUMO_CAR}),
                     Settings(end_s=200.0))
    k_ew = c.link_between(c.edge_index["E_in"], c.edge_index["W_out"])
    k_nw = c.link_between(c.edge_index["N_in"], c.edge_index["W_out"])
    seen = {}
    for t in sim:
        seen[round(t, 1)] = (int(sim.link_state[k_ew]), int(sim.link_state[k_nw]))
    # SUMO: at time t the program is at (t - offset) mod cycle (78 s): t = 3 s is 71 s in (N green),
    # t = 8 s 76 s (N yellow), t = 30 s 20 s (E-W green), t = 62 s 52 s (E-W yellow), t = 80 s 70 s
    assert seen[3.0] == (kernels.SIGNAL_RED, kernels.SIGNAL_GREEN)
    assert seen[8.0] == (kernels.SIGNAL_RED, kernels.SIGNAL_YELLOW)
    assert seen[30.0] == (kernels.SIGNAL_GREEN, kernels.SIGNAL_RED)
    assert seen[62.0] == (kernels.SIGNAL_YELLOW, kernels.SIGNAL_RED)
    assert seen[80.0] == (kernels.SIGNAL_RED, kernels.SIGNAL_GREEN)


def test_given_programs_that_cannot_be_numbered_faithfully_are_named(tmp_path):
    _write(tmp_path, j_nod_xml='<nodes><node id="C" x="0" y="0" type="traffic_light"/><node id="W" x="-300" y="0"/>'
                               '<node id="E" x="300" y="0"/><node id="N" x="0" y="300"/></nodes>',
           j_edg_xml='<edges><edge id="W_in" from="W" to="C" numLanes="2"/><edge id="C_E" from="C" to="E" numLanes="2"/>'
                     '<edge id="C_N" from="C" to="N"/></edges>',
           j_tll_xml='<tlLogics><tlLogic id="C" type="static" programID="1" offset="0">'
                     '<phase duration="40" state="GGG"/><phase duration="5" state="rrr"/></tlLogic></tlLogics>')
    net, messages = _read(read_network, tmp_path / "j.nod.xml", tmp_path / "j.edg.xml")
    assert any("j.tll.xml: tlLogic 'C': link indices cannot be numbered as netconvert does" in m and "W_in" in m for m in messages)
    assert _program(compile_network(net)).durations_s.tolist() == [82.0, 3.0, 5.0]     # the default program runs
    # single lanes: numbered, a state too short is refused, one too long is cut as SUMO cuts it
    net = _junction([("N", 0, "both"), ("E", 90, "both"), ("W", 270, "both")])
    for state, note in (("GGG", "SUMO refuses it"), ("GGGGGGGG", "only the first 6 characters")):
        net.signal_plans = {"C": SignalPlan(phases=((30.0, state),), source="x.tll.xml")}
        assert any(note in n for n in compile_network(net).notes)


@needs_sumo
def test_link_order_is_netconverts(tmp_path):
    # a five-arm junction at odd angles, one lane each: the tlLogic's characters reach the movements
    # netconvert gives them (checked on the net netconvert writes with the same program)
    arms = [("A", 10, "both"), ("B", 80, "both"), ("C2", 180, "both"), ("D", 250, "both"), ("F", 300, "both")]
    net = _junction(arms)
    c = compile_network(net)
    n_links = sum(1 for k in range(len(c.link_to)) if c.node_ids[c.link_node[k]] == "C")
    rng = np.random.default_rng(4)
    states = ["".join(rng.choice(list("Ggry"), n_links)) for _ in range(3)]
    tll = '<tlLogics><tlLogic id="C" type="static" programID="0" offset="0">' + "".join(
        f'<phase duration="{20 + 5 * i}" state="{s}"/>' for i, s in enumerate(states)) + "</tlLogic></tlLogics>"
    root = _netconvert(tmp_path, net, "five", tll)
    net.signal_plans = {"C": SignalPlan(phases=tuple((20.0 + 5 * i, s) for i, s in enumerate(states)))}
    c = compile_network(net)
    assert c.notes == []
    assert _our_program(c) == _their_program(root, c)


def _four_arm_three_lanes(left_flow: float, straight_flow: float = 600.0):
    """The held-out 3-lane signal (exclusive right, straight and left lanes by its connections)."""
    net = _junction(CROSS, lanes=3, arm_m=200.0)
    turns = {"N": ("W", "S", "E"), "E": ("N", "W", "S"), "S": ("E", "N", "W"), "W": ("S", "E", "N")}
    net.connections = [Connection(from_edge=f"{a}_in", to_edge=f"{b}_out", from_lane=i, to_lane=i)
                       for a, (r, s, l) in turns.items() for i, b in enumerate((r, s, l))]
    trips = []
    for a, b, flow in (("N", "S", straight_flow), ("S", "N", straight_flow), ("N", "E", left_flow), ("S", "W", left_flow)):
        if flow > 0:
            trips += [Trip(id=f"{a}{b}{i}", depart_s=i * 3600.0 / flow, route=(f"{a}_in", f"{b}_out"), depart_speed_mps=None)
                      for i in range(int(flow))]
    return net, Demand(trips=trips, vtypes={"car": SUMO_CAR})


def test_left_turners_wait_in_their_own_lane():
    # straight-on traffic runs past permissive left-turners waiting for a gap: its travel time is the
    # same with and without them (before, left-turners stood in every lane and the straight-on cars
    # queued behind them)
    times = {}
    for left in (0.0, 120.0):
        net, demand = _four_arm_three_lanes(left)
        d = run(net, demand, Settings()).details()
        straight = np.array([t[:2] in ("NS", "SN") for t in d.trip_ids])
        times[left] = np.nanmean((d.arrive_s - d.depart_s)[straight])
        assert np.isfinite(d.arrive_s).all()
    assert times[120.0] == pytest.approx(times[0.0], rel=0.05)


def test_permissive_left_turners_wait_inside_the_junction():
    # 150 veh/h turning left from their own lane against 660 veh/h straight on: the oncoming stream
    # leaves no gap, so they go in the 6 s protected phase (~3 cars) and, as in SUMO, some wait inside
    # the junction during the green and clears when the oncoming light turns: ~4 a cycle for 3.75
    # arriving. Webster's uniform delay at g/C ~ 0.1 and x ~ 0.9, C (1 - g/C)^2 / (2 (1 - x g/C)),
    # is ~40 s (measured 42 s); waiting at the line only they got ~3 a cycle and 159 s.
    net, demand = _four_arm_three_lanes(150.0, 660.0)
    d = run(net, demand, Settings()).details()
    left = np.array([t[:2] in ("NE", "SW") for t in d.trip_ids])
    assert np.isfinite(d.arrive_s).all()
    assert 25.0 < np.mean((d.arrive_s - d.depart_s - d.free_time_s)[left]) < 70.0


def test_left_turners_queue_inside_as_far_as_room_allows():
    # the three-lane junction's left-turn path meets the oncoming one ~21 m in: a waiting driver
    # stops 2 m short of it, so ~19 m hold two cars of 5 m with their 2.5 m gaps, not three
    net, demand = _four_arm_three_lanes(165.0, 660.0)
    sim = Simulation(net, demand, Settings(end_s=1800.0))
    k = sim.net.link_between(sim.net.edge_index["N_in"], sim.net.edge_index["E_out"])
    assert (2 * 7.5 <= sim.net.link_wait_m[k] + 2.5 < 3 * 7.5)
    most = 0
    for _ in sim:
        most = max(most, int(np.count_nonzero((sim.in_wait == 1) & (sim.cur_link == k))))
    assert most == 2


def test_default_lanes_of_movements():
    # no connections given: right turns from the rightmost lane, left from the leftmost, straight on
    # from all (netconvert's default on a three-lane cross); onto the matching lanes
    c = compile_network(_junction(CROSS, lanes=3))
    for to, lanes, onto in (("W_out", (0, 0), (0, 0)), ("S_out", (0, 2), (0, 2)), ("E_out", (2, 2), (2, 2))):
        k = c.link_between(c.edge_index["N_in"], c.edge_index[to])
        assert (c.link_lane_lo[k], c.link_lane_hi[k]) == lanes and (c.link_to_lo[k], c.link_to_hi[k]) == onto


def _discharge(lanes: int) -> float:
    """Cars a signalised approach of `lanes` lanes passes per hour of a saturated 42/3 s two-phase signal."""
    net = _junction([("W", 270, "in"), ("E", 90, "out"), ("N", 0, "in"), ("S", 180, "out")], lanes=[lanes, lanes, 1, 1], arm_m=500.0)
    trips = [Trip(id=f"m{i}", depart_s=0.5 * i / lanes, route=("W_in", "E_out"), depart_speed_mps=None) for i in range(900 * lanes)]
    trips += [Trip(id=f"s{i}", depart_s=60.0 * i, route=("N_in", "S_out"), depart_speed_mps=None) for i in range(15)]
    d = run(net, Demand(trips=trips, vtypes={"car": SUMO_CAR}), Settings(end_s=900.0)).details()
    main = np.array([t.startswith("m") for t in d.trip_ids])
    a = d.arrive_s[main]
    return np.count_nonzero((a > 300.0) & (a <= 840.0)) / 540.0 * 3600.0


def test_two_lane_queue_discharges_at_twice_one_lane():
    # each lane of a queue at a signal discharges at the saturation flow: SUMO 1.28 (same IDM car,
    # 42/3 s) passes 840 veh/h on one lane and 1,680 on two; here the second lane was underused
    # (1,400: drivers from both lanes crowded into one lane beyond the junction)
    one, two = _discharge(1), _discharge(2)
    assert 780.0 <= one <= 900.0
    assert two / one == pytest.approx(2.0, rel=0.05)


def test_driver_stops_on_yellow_when_it_can_by_sumos_brake_gap():
    # the light turns yellow with a car (Krauss, no dawdling, b 4.5 m/s², 12.5 m/s) 16.75 m before
    # the line: braking by b every 0.5 s step it stops within 0.5 (5 (12.5) - 2.25 (15)) = 14.0 m
    # (SUMO's brake gap), so it stops, as SUMO's driver does, though it had committed to cross on
    # green; v²/2b (17.4 m) would have sent it on
    net = _junction([("W", 270, "in"), ("E", 90, "out")], speed=12.5, arm_m=403.0)
    car = replace(SUMO_CAR, car_follow="Krauss", sigma=0.0)
    sim = Simulation(net, Demand(trips=[Trip(id="a", depart_s=0.0, route=("W_in", "E_out"), depart_speed_mps=None)],
                                 vtypes={"car": car}), Settings(end_s=80.0), seed=0)
    c = sim.net
    length = c.edge_length[c.edge_index["W_in"]]
    yellow_at = None
    for t in sim:
        if yellow_at is None and length - sim.pos[0] <= 17.0:
            yellow_at = t
            assert 14.0 < length - sim.pos[0] < 12.5 ** 2 / (2 * car.decel_mps2)
        sim.link_state[:] = kernels.SIGNAL_GREEN if yellow_at is None else (
            kernels.SIGNAL_YELLOW if t < yellow_at + 3.0 else kernels.SIGNAL_RED)
    assert yellow_at is not None
    assert sim.route_idx[0] == 0 and sim.speed[0] < 0.1 and length - sim.pos[0] < 3.0


def _lanes_join(side_y):
    """A 3-lane road east whose lanes all funnel into the right lane of the road beyond a priority
    junction, and a 2-lane side road (from south-west, side_y < 0, or north-west) onto its two left lanes."""
    nodes = [Node(id="J", x=0.0, y=0.0, kind="priority"), Node(id="A", x=-300.0, y=0.0, kind="dead_end"),
             Node(id="B", x=300.0, y=0.0, kind="dead_end"), Node(id="L", x=-60.0, y=side_y, kind="dead_end")]
    edges = [Edge(id="main", from_node="A", to_node="J", lanes=3, priority=3), Edge(id="side", from_node="L", to_node="J", lanes=2),
             Edge(id="out", from_node="J", to_node="B", lanes=3, priority=3)]
    cons = [Connection(from_edge="main", to_edge="out", from_lane=lane, to_lane=0) for lane in range(3)]
    cons += [Connection(from_edge="side", to_edge="out", from_lane=lane, to_lane=lane + 1) for lane in range(2)]
    c = compile_network(Network(nodes=nodes, edges=edges, connections=cons))
    main, side = c.link_between(c.edge_index["main"], c.edge_index["out"]), c.link_between(c.edge_index["side"], c.edge_index["out"])
    return {(int(c.link_from[k]) == c.edge_index["side"], int(c.foe_yield[m])) for k in (main, side)
            for m in range(c.foe_start[k], c.foe_start[k + 1])}


def test_movements_onto_other_lanes_cross_when_their_sides_swap():
    # from the right onto the left lanes while the main road funnels into the right lane: the paths
    # cross (as netconvert finds where a U-turn rejoins a road, held-out 07: the U-turners give way
    # to all three main lanes), the side road gives way; from the left onto the left lanes they do not
    assert _lanes_join(-40.0) == {(True, 1), (False, 0)}
    assert _lanes_join(40.0) == set()


Y45 = [("W", 270, "both"), ("E", 90, "both"), ("NE", 45, "both")]


def test_roads_meeting_at_an_acute_angle_are_cut_back_until_they_clear_each_other():
    # E and NE meet at 45 deg, each 6.4 m wide (3.2 m either side of its centreline): each side meets
    # the other's (3.2 + 3.2 cos 45) / sin 45 = 7.73 m out, plus the 2 m corner; W, at right angles
    # or more to both, keeps half the road plus the corner (5.2 m). Before, every arm was cut 5.2 m
    c = compile_network(_junction(Y45, centre="priority"))
    length = {e: float(c.edge_length[i]) for e, i in c.edge_index.items()}
    assert length["E_in"] == pytest.approx(300.0 - (3.2 + 3.2 * math.cos(math.radians(45))) / math.sin(math.radians(45)) - 2.0, abs=0.01)
    assert length["W_in"] == pytest.approx(300.0 - 5.2, abs=0.01)


@needs_sumo
@pytest.mark.parametrize("case", ["skewed_cross", "skewed_tee", "skewed_tee_bent", "y45"])
@pytest.mark.parametrize("lanes", [1, 2])
def test_edge_lengths_at_skewed_junctions_are_netconverts(tmp_path, case, lanes):
    # the drivable length of each edge (the queue it holds) within 2.5 m of netconvert's lane; at
    # 45-52 deg it was up to 11 m longer, and the held-out grid's edges up to 20 m
    net = _junction(Y45 if case == "y45" else SKEWED[case], lanes=lanes)
    c = compile_network(net)
    theirs = {x.get("id"): float(x.get("length")) for x in _netconvert(tmp_path, net, case).iter("lane")}
    for e, i in c.edge_index.items():
        assert abs(float(c.edge_length[i]) - theirs[f"{e}_0"]) < 2.5, e
