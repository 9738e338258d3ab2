"""End to end on the sample community: every state loads through twin.project into layers
that satisfy the foundation issue's counts, a connected storm network and a tiled site."""
import json
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest
from shapely.geometry import Point

from twin.diff import diff_twins
from twin.project import load_project, load_state

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "ifc_models" / "sample_community"


@pytest.fixture(scope="module")
def states():
    project = load_project(SAMPLE)
    return {spec.name: load_state(project, spec.name) for spec in project.states}


def test_three_states_of_the_same_kind(states):
    assert list(states) == ["baseline", "proposal_a", "proposal_b"]
    for twin in states.values():
        assert twin.crs == "EPSG:4549" and twin.origin[0] == pytest.approx(616000.0)
        assert twin.context["site_boundary"] is not None  # the CIM context came along
        assert not twin.layers.warnings


@pytest.mark.parametrize("name", ["baseline", "proposal_a", "proposal_b"])
def test_layer_counts_meet_the_brief(states, name):
    layers = states[name].layers
    blocks = [b for b in layers.buildings if b.residential]
    assert 24 <= len(blocks) <= 30
    assert all(b.storeys == 6 for b in blocks)
    residents = sum(b.residents for b in layers.buildings)
    assert 6000 <= residents <= 8000
    assert len(layers.pipes) >= 60 and len(layers.outfalls) == 1
    assert len(layers.gates) >= 3 and len(layers.entrances) >= len(blocks)
    assert {"kindergarten", "elderly_station", "community_centre"} <= {s.service_type for s in layers.service_points}
    assert layers.parking and layers.hydrants and layers.assembly_areas and layers.roads


@pytest.mark.parametrize("name", ["baseline", "proposal_a"])
def test_storm_network_drains_to_the_outfall(states, name):
    layers = states[name].layers
    graph = nx.DiGraph()
    for pipe in layers.pipes:
        assert pipe.from_node and pipe.to_node, pipe.global_id
        assert pipe.upstream_invert_m >= pipe.downstream_invert_m - 1e-6, pipe.global_id
        graph.add_edge(pipe.from_node, pipe.to_node)
    (outfall,) = layers.outfalls
    draining = nx.ancestors(graph, outfall.global_id)
    assert draining == set(graph.nodes) - {outfall.global_id}


@pytest.mark.parametrize("name", ["baseline", "proposal_a"])
def test_surfaces_add_up_to_the_site(states, name):
    layers = states[name].layers
    site_m2 = layers.site_boundary.area
    assert site_m2 == pytest.approx(states[name].context["site_boundary"].area, rel=1e-6)  # IFC and CIM agree
    surfaces_m2 = sum(s.area_m2 for s in layers.surfaces)
    assert site_m2 == pytest.approx(200_000, rel=0.05)  # about 20 ha
    assert surfaces_m2 == pytest.approx(site_m2, rel=0.02)


def test_proposals_change_what_they_say(states):
    base, a, b = states["baseline"], states["proposal_a"], states["proposal_b"]
    assert len(base.layers.illegal_structures) > 0 and len(a.layers.illegal_structures) == 0
    assert len(base.layers.lid_facilities) == 0
    assert {"bioretention", "green_roof", "storage_tank", "permeable_pavement"} <= {f.lid_type for f in a.layers.lid_facilities}
    assert sum(p.ev_chargers for p in a.layers.parking) > sum(p.ev_chargers for p in base.layers.parking)
    assert any(r.one_way for r in a.layers.roads) and not any(r.one_way for r in base.layers.roads)
    assert len(a.layers.gates) == len(base.layers.gates) + 1
    assert a.layers.elevators and not base.layers.elevators
    assert sum(p.renewed for p in a.layers.pipes) > sum(p.renewed for p in base.layers.pipes)
    assert not any(p.system == "COMBINED" for p in a.layers.pipes)
    # an elderly service point embedded in a residential block's ground floor, no dwelling lost
    elderly = lambda t: [s for s in t.layers.service_points if s.service_type == "elderly_station"]
    (embedded,) = [s for s in elderly(a) if s.global_id not in {x.global_id for x in elderly(base)}]
    assert 100 < embedded.floor_area_m2 < 150
    assert any(x.residential and x.footprint.contains(Point(embedded.position)) for x in a.layers.buildings)
    assert sum(x.dwelling_units for x in a.layers.buildings) == sum(x.dwelling_units for x in base.layers.buildings)
    # B: one unsafe block replaced by a service centre over an underground car park.
    assert sum(x.residents for x in b.layers.buildings) < sum(x.residents for x in base.layers.buildings)
    assert any(p.kind == "underground" for p in b.layers.parking)
    diff_a, diff_b = diff_twins(base, a), diff_twins(base, b)
    assert diff_a.added and diff_a.removed and diff_a.geometry_changed and diff_a.data_changed
    assert len(diff_b.removed) > 50 and diff_b.added


def test_cli_info_on_the_project(states):
    run = subprocess.run([sys.executable, "-m", "twin.cli", "info", str(SAMPLE), "--state", "proposal_a", "--json"],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    info = json.loads(run.stdout)
    assert info["schema"] == "IFC4X3_ADD2"
    assert info["elements"] == len(states["proposal_a"].elements)
    assert info["layers"]["pipes"] == len(states["proposal_a"].layers.pipes)
