"""Agreement with SUMO (eclipse-sumo) on the same plain-XML files, and SUMO plain XML in and out.

The grid: 8 x 8 blocks of 100 m, one-way streets inside (right before left), a perimeter
arterial with priority, the same IDM vType and the same routes in both engines. Bigger cases
(20 x 20, 10,000 trips) are in benchmarks/traffic.py.
"""
from __future__ import annotations

import numpy as np
import pytest

from sim.traffic.grid import grid_network, grid_trips
from sim.traffic.io import read_network, read_routes, read_sumo, write_network, write_routes
from sim.traffic.model import DemandError, Settings, run
from sim.traffic.network import NetworkError
from sim.traffic.sumo import run_sumo, sumo_available

from test_traffic_physics import gridlock_loop

needs_sumo = pytest.mark.skipif(not sumo_available(), reason="eclipse-sumo (anchors extra) not installed")


def _both(tmp_path, network, demand, **settings):
    nod, edg, rou = tmp_path / "g.nod.xml", tmp_path / "g.edg.xml", tmp_path / "g.rou.xml"
    write_network(network, nod, edg)
    write_routes(demand, rou)
    net2, dem2 = read_sumo(nod, edg, rou)        # our engine runs what it read back from the files
    ours = run(net2, dem2, Settings(**settings), seed=0)
    sumo = run_sumo(nod, edg, rou, tmp_path / "sumo", end_s=settings.get("end_s"))
    return ours, sumo


@needs_sumo
@pytest.mark.parametrize("trips, duration_s", [(300, 1800.0), (1200, 1800.0)], ids=["light", "moderate"])
def test_grid_travel_times_agree_with_sumo(tmp_path, trips, duration_s):
    # Issue 4 acceptance: mean travel time within 15 %, 95th percentile within 20 %.
    # (Measured while building: within 1 % light, 2 % moderate; SUMO draws other speed factors.)
    net = grid_network(8)
    demand = grid_trips(net, trips, duration_s, seed=7)
    ours, sumo = _both(tmp_path, net, demand)
    d = ours.details()
    tt = d.arrive_s - d.depart_s
    assert np.isfinite(tt).all() and len(sumo.duration_s) == trips and sumo.teleports == 0
    assert np.mean(tt) == pytest.approx(np.mean(sumo.duration_s), rel=0.15)
    assert np.percentile(tt, 95) == pytest.approx(np.percentile(sumo.duration_s, 95), rel=0.20)
    assert ours.result().value("gridlock") == 0.0
    # same routes: the driven distance per trip agrees with SUMO's route length within the junction geometry
    ids = {t: i for i, t in enumerate(d.trip_ids)}
    ours_len = np.array([d.distance_m[ids[t]] for t in sumo.ids])
    assert np.median(np.abs(ours_len - sumo.route_length_m) / sumo.route_length_m) < 0.02


@needs_sumo
def test_grid_with_krauss_drivers_agrees_with_sumo(tmp_path):
    # SUMO's default car-following model (Krauss: safe speed, dawdling sigma 0.5) on both sides: the
    # moderate grid's trips with the vType written as carFollowModel="Krauss"
    from dataclasses import replace

    from sim.traffic.grid import GRID_VTYPE

    net = grid_network(8)
    demand = grid_trips(net, 1200, 1800.0, seed=7)
    demand = replace(demand, vtypes={**demand.vtypes, GRID_VTYPE.id: replace(GRID_VTYPE, car_follow="Krauss")})
    ours, sumo = _both(tmp_path, net, demand)
    tt = ours.details().arrive_s - ours.details().depart_s
    assert np.isfinite(tt).all() and len(sumo.duration_s) == 1200
    assert np.mean(tt) == pytest.approx(np.mean(sumo.duration_s), rel=0.15)
    assert np.percentile(tt, 95) == pytest.approx(np.percentile(sumo.duration_s, 95), rel=0.20)


@needs_sumo
def test_signalised_arterial_agrees_with_sumo(tmp_path):
    # the same grid with fixed-time signals where the streets meet the arterial (netconvert's default
    # program in both: 42 s + 3 s a phase where a street crosses or joins, one 82 s green where a
    # one-way street leaves the arterial). Measured: mean -1.4 %, p95 -3.9 % (+5 % mean with the former
    # two fixed phases, the second empty at those junctions).
    net = grid_network(8, signals=True)
    demand = grid_trips(net, 600, 1800.0, seed=3)
    ours, sumo = _both(tmp_path, net, demand)
    tt = ours.details().arrive_s - ours.details().depart_s
    assert np.isfinite(tt).all() and len(sumo.duration_s) == 600
    assert np.mean(tt) == pytest.approx(np.mean(sumo.duration_s), rel=0.15)
    assert np.percentile(tt, 95) == pytest.approx(np.percentile(sumo.duration_s, 95), rel=0.20)


@needs_sumo
def test_gridlock_where_sumo_jams(tmp_path):
    # SUMO clears the jammed loop by teleporting vehicles after 300 s; we report the gridlock instead.
    net, demand = gridlock_loop()
    ours, sumo = _both(tmp_path, net, demand, end_s=1200.0)
    assert sumo.jam_teleports > 0
    assert ours.details().gridlock_time_s is not None


def test_plain_xml_round_trip(tmp_path):
    net = grid_network(3)
    demand = grid_trips(net, 20, 600.0, seed=1)
    write_network(net, tmp_path / "a.nod.xml", tmp_path / "a.edg.xml")
    write_routes(demand, tmp_path / "a.rou.xml")
    net2 = read_network(tmp_path / "a.nod.xml", tmp_path / "a.edg.xml")
    dem2 = read_routes(tmp_path / "a.rou.xml")
    assert [(n.id, n.x, n.y, n.kind) for n in net2.nodes] == [(n.id, n.x, n.y, n.kind) for n in net.nodes]
    assert [(e.id, e.from_node, e.to_node, e.lanes, e.priority) for e in net2.edges] == \
        [(e.id, e.from_node, e.to_node, e.lanes, e.priority) for e in net.edges]
    assert [(t.id, t.depart_s, t.route) for t in dem2.trips] == [(t.id, t.depart_s, t.route) for t in demand.trips]
    vt = dem2.vtypes["car"]
    assert (vt.accel_mps2, vt.decel_mps2, vt.time_headway_s, vt.min_gap_m, vt.length_m) == (2.6, 4.5, 1.0, 2.5, 5.0)
    assert not list(tmp_path.glob(".*.tmp"))   # atomic writes leave no temporary files


def test_plain_xml_trips_flows_and_departure_speed(tmp_path):
    nod, edg, rou = tmp_path / "n.nod.xml", tmp_path / "n.edg.xml", tmp_path / "n.rou.xml"
    nod.write_text('<nodes><node id="a" x="0" y="0"/><node id="b" x="500" y="0" type="right_before_left"/>'
                   '<node id="c" x="1000" y="0" type="dead_end"/></nodes>')
    edg.write_text('<edges><edge id="ab" from="a" to="b" speed="10"/><edge id="bc" from="b" to="c" speed="10" numLanes="2"/></edges>')
    rou.write_text('<routes><vType id="v" carFollowModel="IDM" accel="1.5" tau="1.2" speedDev="0"/>'
                   '<trip id="t" type="v" depart="5" from="ab" to="bc" departSpeed="max"/>'
                   '<flow id="f" type="v" begin="0" end="100" period="20" from="ab" to="bc"/>'
                   '<vehicle id="bus" type="v" depart="7"><route edges="ab bc"/><stop lane="bc_0" endPos="200" duration="30"/>'
                   '</vehicle></routes>')
    net, demand = read_sumo(nod, edg, rou)
    assert net.nodes[0].kind == "priority" and net.nodes[1].kind == "right_before_left"
    assert len(demand.trips) == 7 and demand.trips[0].depart_speed_mps is None
    assert {t.id: t for t in demand.trips}["bus"].stops == (("bc", 200.0, 30.0),)
    sim = run(net, demand, Settings())
    d = sim.details()
    assert np.isfinite(d.arrive_s).all()
    assert sim.net.edge_lanes[1] == 2


@pytest.mark.parametrize("text, match", [
    ('<nodes><node id="a" x="0" y="0" type="zipper"/></nodes>', r"n.nod.xml: node a: type='zipper' not supported"),
    ('<nodes><node id="a" x="zero" y="0"/></nodes>', r"node a: attribute x='zero' is not a number"),
])
def test_bad_nodes_name_file_and_node(tmp_path, text, match):
    (tmp_path / "n.nod.xml").write_text(text)
    with pytest.raises(NetworkError, match=match):
        read_network(tmp_path / "n.nod.xml", tmp_path / "missing.edg.xml")


def test_bad_route_names_vehicle_and_edge(tmp_path):
    net = grid_network(2)
    (tmp_path / "r.rou.xml").write_text('<routes><vehicle id="x" depart="0"><route edges="nowhere"/></vehicle></routes>')
    demand = read_routes(tmp_path / "r.rou.xml")
    with pytest.raises(DemandError, match=r"r.rou.xml: vehicle 'x' route edge 'nowhere' is not in the network"):
        run(net, demand, Settings())
