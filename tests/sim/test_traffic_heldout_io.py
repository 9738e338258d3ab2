"""io.py on inputs met in held-out public SUMO scenarios: edge types next to the edge file, node types
SUMO has and we approximate, vTypeDistribution, vClass defaults, flows by rate, probability and
without end, vTypes in .add.xml files, via. What the engine does not apply is named in a
SumoInputWarning; what it cannot run is refused naming the file and element. Small files written here."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from sim.traffic.io import SumoInputWarning, companion_files, read_network, read_routes, read_sumo, write_routes
from sim.traffic.model import DemandError, Settings, run
from sim.traffic.network import NetworkError
from sim.traffic.sumo import run_sumo, sumo_available

NODES = '<nodes><node id="a" x="0" y="0"/><node id="b" x="1000" y="0"/><node id="c" x="2000" y="0"/></nodes>'


def _read(fn, *args):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*args)
    return out, [str(w.message) for w in caught if issubclass(w.category, SumoInputWarning)]


def _write(tmp_path, **files):
    for name, text in files.items():
        (tmp_path / name.replace("_", ".", 1).replace("_", ".")).write_text(text)


def test_plain_files_give_no_warning(tmp_path):
    _write(tmp_path, n_nod_xml=NODES, n_edg_xml='<edges><edge id="ab" from="a" to="b" color="red"/></edges>',
           n_rou_xml='<routes><vType id="v" color="1,0,0" guiShape="bus"/><vehicle id="x" type="v" depart="0" color="blue">'
                     '<route edges="ab"/></vehicle></routes>')
    _, messages = _read(read_sumo, tmp_path / "n.nod.xml", tmp_path / "n.edg.xml", tmp_path / "n.rou.xml")
    assert messages == []


def test_edge_types_from_the_type_file_next_to_the_edges(tmp_path):
    _write(tmp_path, n_nod_xml=NODES, n_typ_xml='<types><type id="main" numLanes="3" speed="30" priority="4" width="3.5"/></types>',
           n_edg_xml='<edges><edge id="ab" from="a" to="b" type="main"/><edge id="bc" from="b" to="c" type="main" numLanes="1"/></edges>')
    net, messages = _read(read_network, tmp_path / "n.nod.xml", tmp_path / "n.edg.xml")
    ab, bc = net.edges
    assert (ab.lanes, ab.speed_mps, ab.priority, ab.width_m) == (3, 30.0, 4, 10.5)
    assert (bc.lanes, bc.speed_mps) == (1, 30.0)          # the edge's own attribute wins over its type
    assert messages == []                                   # same stem: what netconvert -t n.typ.xml would do
    assert companion_files(tmp_path / "n.edg.xml")["types"] == tmp_path / "n.typ.xml"


def test_lone_type_file_with_another_name_is_read_and_named(tmp_path):
    _write(tmp_path, n_nod_xml=NODES, types_type_xml='<types><type id="t" numLanes="2" speed="20"/></types>',
           n_edg_xml='<edges><edge id="ab" from="a" to="b" type="t"/></edges>')
    net, messages = _read(read_network, tmp_path / "n.nod.xml", tmp_path / "n.edg.xml")
    assert (net.edges[0].lanes, net.edges[0].speed_mps) == (2, 20.0)
    assert any("types.type.xml" in m for m in messages)


def test_undefined_edge_type_takes_netconverts_defaults_with_a_warning(tmp_path):
    _write(tmp_path, n_nod_xml=NODES, n_edg_xml='<edges><edge id="ab" from="a" to="b" type="nowhere"/></edges>')
    net, messages = _read(read_network, tmp_path / "n.nod.xml", tmp_path / "n.edg.xml")
    assert (net.edges[0].lanes, net.edges[0].speed_mps) == (1, 13.89)
    assert any("type=nowhere" in m and "n.edg.xml" in m and "ab" in m for m in messages)


def test_connections_and_signal_programs_next_to_the_edges_are_read(tmp_path):
    # both are applied now (tests/sim/test_traffic_signals.py); what cannot be applied is named
    _write(tmp_path, n_nod_xml=NODES, n_edg_xml='<edges><edge id="ab" from="a" to="b"/><edge id="bc" from="b" to="c"/></edges>',
           n_con_xml='<connections><connection from="ab" to="bc" fromLane="0" toLane="3"/><delete from="ab" to="bc"/></connections>',
           n_tll_xml='<tlLogics><tlLogic id="b" type="static" programID="0" offset="0"><phase duration="30" state="G"/></tlLogic></tlLogics>')
    net, messages = _read(read_network, tmp_path / "n.nod.xml", tmp_path / "n.edg.xml")
    assert [(c.from_edge, c.to_edge, c.from_lane, c.to_lane) for c in net.connections] == [("ab", "bc", 0, 3)]
    assert any("n.con.xml" in m and "<delete>" in m for m in messages)
    assert any("n.con.xml: connection ab -> bc names a lane the edge does not have" in m for m in messages)
    assert any("n.tll.xml: tlLogic 'b' is not a traffic_light node here" in m for m in messages)
    assert net.signal_plans == {}


def test_node_types_approximated_with_a_warning_or_refused(tmp_path):
    (tmp_path / "n.nod.xml").write_text('<nodes><location netOffset="0,0"/><node id="a" x="0" y="0" type="traffic_light_unregulated"/>'
                                        '<node id="b" x="9" y="0" type="priority_stop" tl="x" tlType="actuated"/>'
                                        '<join nodes="a b"/></nodes>')
    (tmp_path / "n.edg.xml").write_text('<edges><edge id="ab" from="a" to="b"/></edges>')
    net, messages = _read(read_network, tmp_path / "n.nod.xml", tmp_path / "n.edg.xml")
    # traffic_light_unregulated is SUMO's all-green node where nobody gives way: read as such, no warning
    assert [n.kind for n in net.nodes] == ["unregulated", "priority"]
    text = " ".join(messages)
    assert "type=traffic_light_unregulated" not in text
    assert "type=priority_stop" in text and "tlType" in text and "tl (b)" in text
    assert "<join>" in text and "location" not in text
    (tmp_path / "n.nod.xml").write_text('<nodes><node id="a" x="0" y="0" type="rail_crossing"/></nodes>')
    with pytest.raises(NetworkError, match=r"n.nod.xml: node a: type='rail_crossing' not supported"):
        read_network(tmp_path / "n.nod.xml", tmp_path / "n.edg.xml")


def _routes(tmp_path, body: str, name: str = "r.rou.xml"):
    (tmp_path / name).write_text(f"<routes>{body}</routes>")
    return _read(read_routes, tmp_path / name)


def test_vtype_distribution_by_list_and_nested(tmp_path):
    demand, _ = _routes(tmp_path, '<vType id="slow" maxSpeed="10"/><vType id="fast" maxSpeed="30"/>'
                                  '<vTypeDistribution id="mix" vTypes="slow fast" probabilities="0.2 0.8"/>'
                                  '<vTypeDistribution id="nest"><vType id="n1" probability="1"/><vType id="n2" probability="3"/></vTypeDistribution>'
                                  '<flow id="f" type="mix" from="ab" to="ab" begin="0" end="1000" number="100"/>'
                                  '<flow id="g" type="nest" from="ab" to="ab" begin="0" end="1000" number="100"/>')
    kinds = [t.vtype for t in demand.trips]
    assert abs(kinds.count("slow") - 20) <= 2 and abs(kinds.count("fast") - 80) <= 2
    assert abs(kinds.count("n1") - 25) <= 2 and abs(kinds.count("n2") - 75) <= 2
    assert demand.vtypes["fast"].max_speed_mps == 30.0


def test_vclass_defaults_and_the_emergency_siren(tmp_path):
    demand, _ = _routes(tmp_path, '<vType id="b" vClass="bus"/><vType id="m" vClass="motorcycle" accel="3"/>'
                                  '<vType id="e" vClass="emergency"/>'
                                  '<vType id="s" vClass="emergency"><param key="has.bluelight.device" value="true"/></vType>'
                                  '<vType id="w" speedFactor="normc(1.1,0.2,0.2,2)"/>')
    b, m, e, s, w = (demand.vtypes[k] for k in "bmesw")
    assert (b.length_m, b.accel_mps2, b.decel_mps2, b.max_speed_mps) == (12.0, 1.2, 4.0, 27.78)
    assert (m.length_m, m.accel_mps2, m.decel_mps2) == (2.2, 3.0, 10.0)
    assert e.vclass != "emergency" and s.vclass == "emergency"   # SUMO gives way only to the bluelight device
    assert (w.speed_factor, w.speed_dev) == (1.1, 0.2)
    trips = [dict(id=f"x{k}", vtype=k) for k in "es"]
    from sim.traffic.model import Demand, Trip

    write_routes(Demand(trips=[Trip(id=t["id"], depart_s=0.0, vtype=t["vtype"], route=("ab",)) for t in trips],
                        vtypes=demand.vtypes), tmp_path / "w.rou.xml")
    back = read_routes(tmp_path / "w.rou.xml")
    assert back.vtypes["e"].vclass != "emergency" and back.vtypes["s"].vclass == "emergency"


def test_flow_counts_follow_sumo(tmp_path):
    demand, messages = _routes(tmp_path, '<flow id="h" from="ab" to="ab" begin="0" end="3600" vehsPerHour="66.66666666666667"/>'
                                         '<flow id="p" from="ab" to="ab" begin="0" end="1000" probability="0.1"/>'
                                         '<flow id="x" from="ab" to="ab" begin="0" end="1000" period="exp(0.05)"/>'
                                         '<flow id="n" from="ab" to="ab" begin="10" number="5" period="3"/>'
                                         '<flow id="u" from="ab" to="ab" begin="0" period="3600"/>')
    by = {}
    for t in demand.trips:
        by.setdefault(t.id.split(".")[0], []).append(t.depart_s)
    assert len(by["h"]) == 67 and by["h"][:2] == pytest.approx([0.0, 54.0])   # SUMO 1.28: 67 vehicles, the last at 3564 s
    assert 70 <= len(by["p"]) <= 130 and 25 <= len(by["x"]) <= 75
    assert by["n"] == [10.0, 13.0, 16.0, 19.0, 22.0]
    assert len(by["u"]) == 24                                      # no end: 24 h, as SUMO does
    assert any("flow" in m and "end" in m and "24 h" in m for m in messages)
    again, _ = _routes(tmp_path, '<flow id="p" from="ab" to="ab" begin="0" end="1000" probability="0.1"/>')
    assert [t.depart_s for t in again.trips] == by["p"]            # drawn the same way every time


def test_undefined_vtype_refused_or_taken_from_an_add_file(tmp_path):
    with pytest.raises(DemandError, match=r"r.rou.xml: vehicle 'x': type='bike' is not defined"):
        _routes(tmp_path, '<vehicle id="x" type="bike" depart="0"><route edges="ab"/></vehicle>')
    (tmp_path / "types.add.xml").write_text('<additional><vType id="bike" vClass="motorcycle" maxSpeed="15"/></additional>')
    demand, messages = _routes(tmp_path, '<vehicle id="x" type="bike" depart="0"><route edges="ab"/></vehicle>'
                                         '<vehicle id="y" type="DEFAULT_BIKETYPE" depart="0"><route edges="ab"/></vehicle>')
    assert demand.vtypes["bike"].max_speed_mps == 15.0 and demand.vtypes["bike"].length_m == 2.2
    assert any("types.add.xml" in m and "bike" in m for m in messages)
    assert demand.vtypes["DEFAULT_BIKETYPE"].max_speed_mps == 13.89     # SUMO's own bicycle type


def test_unapplied_attributes_are_named(tmp_path):
    _, messages = _routes(tmp_path, '<vType id="v" sigma="0.5" lcStrategic="2"/>'
                                    '<vehicle id="x" type="v" depart="0:01:00" departLane="2" arrivalPos="50"><route edges="ab"/></vehicle>'
                                    '<person id="p" depart="0"/>')
    text = " ".join(messages)
    for word in ("lcStrategic (v)", "departLane", "<person>"):
        assert word in text
    # sigma is applied: the vType (no carFollowModel: SUMO's default, Krauss) dawdles as SUMO's does
    assert "sigma" not in text
    demand, _ = _routes(tmp_path, '<vType id="v" sigma="0.3"/><vType id="w" carFollowModel="IDM"/>'
                                  '<vehicle id="x" type="v" depart="0"><route edges="ab"/></vehicle>'
                                  '<vehicle id="y" type="w" depart="0"><route edges="ab"/></vehicle>'
                                  '<vehicle id="z" depart="0"><route edges="ab"/></vehicle>')
    assert (demand.vtypes["v"].car_follow, demand.vtypes["v"].sigma) == ("Krauss", 0.3)
    assert demand.vtypes["w"].car_follow == "IDM" and demand.vtypes["DEFAULT_VEHTYPE"].car_follow == "Krauss"
    demand, _ = _routes(tmp_path, '<vehicle id="x" depart="0:01:00" arrivalPos="50"><route edges="ab"/></vehicle>')
    assert demand.trips[0].depart_s == 60.0 and demand.trips[0].arrival_pos_m == 50.0


def test_via_is_routed_through(tmp_path):
    # a-b-c-e straight on, and a slow detour b-d-c: the fastest route stays straight, via bd takes the detour
    (tmp_path / "n.nod.xml").write_text('<nodes><node id="a" x="0" y="0"/><node id="b" x="200" y="0"/><node id="c" x="400" y="0"/>'
                                        '<node id="e" x="600" y="0"/><node id="d" x="300" y="150"/></nodes>')
    (tmp_path / "n.edg.xml").write_text('<edges><edge id="ab" from="a" to="b"/><edge id="bc" from="b" to="c"/><edge id="ce" from="c" to="e"/>'
                                        '<edge id="bd" from="b" to="d" speed="5"/><edge id="dc" from="d" to="c"/></edges>')
    (tmp_path / "n.rou.xml").write_text('<routes><trip id="t" depart="0" from="ab" to="ce"/>'
                                        '<trip id="v" depart="0" from="ab" to="ce" via="bd"/></routes>')
    (net, demand), _ = _read(read_sumo, tmp_path / "n.nod.xml", tmp_path / "n.edg.xml", tmp_path / "n.rou.xml")
    trips = {t.id: t for t in demand.trips}
    assert trips["t"].route == () and trips["v"].route == ("ab", "bd", "dc", "ce")
    d = run(net, demand, Settings()).details()
    assert np.isfinite(d.arrive_s).all() and d.arrive_s[1] - d.depart_s[1] > d.arrive_s[0] - d.depart_s[0] + 20


@pytest.mark.skipif(not sumo_available(), reason="eclipse-sumo not installed (the 'anchors' extra)")
def test_run_sumo_uses_the_same_type_file(tmp_path):
    _write(tmp_path, n_nod_xml=NODES, n_typ_xml='<types><type id="fast" speed="30"/></types>',
           n_edg_xml='<edges><edge id="ab" from="a" to="b" type="fast"/><edge id="bc" from="b" to="c" type="fast"/></edges>',
           n_rou_xml='<routes><vType id="v" speedDev="0"/><vehicle id="x" type="v" depart="0" departSpeed="max">'
                     '<route edges="ab bc"/></vehicle></routes>')
    sumo = run_sumo(tmp_path / "n.nod.xml", tmp_path / "n.edg.xml", tmp_path / "n.rou.xml", tmp_path / "sumo")
    assert sumo.duration_s[0] < 2000.0 / 20.0       # at 30 m/s (~70 s), not netconvert's 13.89 m/s default (~145 s)
