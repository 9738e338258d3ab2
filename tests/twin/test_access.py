"""twin.access: shortest walks on a small network whose distances can be added up by hand."""
import math

import pytest
from shapely.geometry import LineString, Point, Polygon, box

from twin.access import build_walk_network, building_distances, resident_share_within, service_sources
from twin.layers import Building, Entrance, Gate, Layers, Road, ServicePoint
from twin.model import Twin


def _road(gid, coords, width=5.0):
    return Road(global_id=gid, name=gid, centreline=LineString(coords), width_m=width, lanes=1, speed_limit_mps=5.56,
                one_way=False, fire_lane=True, parked_width_m=0.0, kind="internal")


def _building(gid, residents, x, y):
    return Building(global_id=gid, name=gid, footprint=box(x - 5, y, x + 5, y + 10), base_m=0.0, height_m=18.0, storeys=6,
                    residential=True, dwelling_units=residents // 2, residents=residents)


def small_twin(gate_open=True):
    """Road A (0,0)–(200,0); road B (100,5)–(100,100) stops 5 m short of A (a T drawn to the kerb);
    a kindergarten 4 m north of A's west end; building 1's entrance 10 m east of B's north end;
    building 2's entrance 3 m south of A at x = 150. Outside the wall (y = −10) a city street at
    y = −20 and a clinic 5 m south of it at x = 240; one gate at (20, −10)."""
    layers = Layers(
        roads=[_road("A", [(0, 0), (200, 0)]), _road("B", [(100, 5), (100, 100)])],
        buildings=[_building("b1", 100, 110, 100), _building("b2", 300, 150, -3)],
        entrances=[Entrance(global_id="e1", building="b1", position=(110.0, 100.0, 0.0), clear_width_m=1.0),
                   Entrance(global_id="e2", building="b2", position=(150.0, -3.0, 0.0), clear_width_m=1.0)],
        service_points=[ServicePoint(global_id="k", name="kg", service_type="kindergarten", position=(0.0, 4.0),
                                     floor_area_m2=900.0, capacity=6)],
        gates=[Gate(global_id="g", name="gate", position=(20.0, -10.0, 0.0), width_m=4.0, vehicular=True,
                    service_time_s=0.0, open=gate_open)],
        site_boundary=Polygon([(-5, -10), (205, -10), (205, 115), (-5, 115)]),
    )
    twin = Twin(name="small", source="test", schema="IFC4")
    twin._layers = layers
    twin.context = {"roads": [{"centreline": LineString([(-50, -20), (250, -20)])}],
                    "service_points": [{"position": Point(240, -25), "service_type": "clinic"}]}
    return twin


def test_walking_distances_add_up_along_the_network():
    twin = small_twin()
    network = build_walk_network(twin)
    d = building_distances(twin, network, service_sources(network, "kindergarten"))
    # b1: 4 (kindergarten link) + 100 (A to x=100) + 5 (T-junction gap) + 95 (B) + 10 (entrance link)
    assert d["b1"] == pytest.approx(214.0, abs=1e-6)
    # b2: 4 + 150 (A to x=150) + 3 (entrance link)
    assert d["b2"] == pytest.approx(157.0, abs=1e-6)


def test_outside_services_are_reached_through_the_gate_only():
    twin = small_twin()
    network = build_walk_network(twin)
    d = building_distances(twin, network, service_sources(network, "clinic"))
    # b2: 3 + (150 − 20) along A + 10 gate to A + 10 gate to the street + (240 − 20) + 5 clinic link
    assert d["b2"] == pytest.approx(378.0, abs=1e-6)
    closed = small_twin(gate_open=False)
    network = build_walk_network(closed)
    d = building_distances(closed, network, service_sources(network, "clinic"))
    assert math.isinf(d["b1"]) and math.isinf(d["b2"])


def test_coverage_share_is_residents_weighted():
    twin = small_twin()
    network = build_walk_network(twin)
    d = building_distances(twin, network, service_sources(network, "kindergarten"))
    assert resident_share_within(twin, d, 150.0) == 0.0
    assert resident_share_within(twin, d, 200.0) == pytest.approx(300 / 400)  # only b2 (300 of 400 residents)
    assert resident_share_within(twin, d, 214.0) == pytest.approx(1.0)
