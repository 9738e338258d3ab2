"""Twin -> evacuation scenario on the sample community (twin.extract.site), and a run on it."""
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import shapely

from sim.evacuation import simulate
from sim.evacuation.metrics import summary
from twin.actions import apply_actions
from twin.commands.evacuation import site_settings
from twin.extract.site import SiteError, scenario_from_twin
from twin.project import load_project, load_state

SAMPLE = Path(__file__).resolve().parents[2] / "ifc_models" / "sample_community"


@pytest.fixture(scope="module")
def project():
    return load_project(SAMPLE)


@pytest.fixture(scope="module")
def baseline(project):
    return load_state(project, "baseline")


def test_every_resident_is_in_a_stairwell_and_every_gate_is_an_exit(baseline):
    layers = baseline.layers
    extracted = scenario_from_twin(baseline, night=True)   # (at night the service buildings are empty)
    scenario = extracted.scenario
    residents = sum(b.residents for b in layers.buildings)
    assert residents == 6572 and scenario.residents == residents and not scenario.agents
    # one stairwell per external door of a residential building
    homes = {b.global_id for b in layers.buildings if b.residents > 0}
    assert len(scenario.stairwells) == sum(1 for e in layers.entrances if e.building in homes)
    assert {w.storeys for w in scenario.stairwells} == {6}
    # each building's residents and dwellings are shared out exactly
    by_building = {}
    for w in scenario.stairwells:
        gid = next(e.building for e in layers.entrances if e.global_id == w.id)
        got = by_building.setdefault(gid, [0, 0])
        got[0] += w.residents
        got[1] += sum(w.dwellings_per_floor)
    for b in layers.buildings:
        if b.residents:
            assert by_building[b.global_id] == [b.residents, b.dwelling_units]
    # exits: the three gates, each as wide as the gate, lying on the site boundary
    assert {e.id for e in scenario.exits} == {g.global_id for g in layers.gates}
    for e in scenario.exits:
        gate = next(g for g in layers.gates if g.global_id == e.id)
        line = shapely.LineString(e.coords)
        assert line.length == pytest.approx(gate.width_m, abs=1e-6)
        assert shapely.distance(line, layers.site_boundary.exterior) < 0.05
    assert extracted.exit_names["2XI0nNcRXK5BpWaeq_DTiQ"] == "Gate W"
    # the ground: buildings, sheds and walls are not walkable; door spots are
    area = scenario.walkable.difference(shapely.union_all(scenario.obstacles))
    for b in layers.buildings:
        c = b.footprint.representative_point()
        assert not area.contains(c)
    for shed in layers.illegal_structures:
        assert not area.contains(shed.footprint.representative_point())
    assert all(area.contains(shapely.Point(w.door_xy)) for w in scenario.stairwells)


def test_proposals_change_gates_and_residents(project):
    a = scenario_from_twin(load_state(project, "proposal_a"), night=True).scenario
    b = scenario_from_twin(load_state(project, "proposal_b"), night=True).scenario
    assert len(a.exits) == 4 and a.residents == 6572         # proposal A opens Gate E
    assert len(b.exits) == 3 and b.residents == 6572 - 225   # proposal B demolishes block 17


def test_service_buildings_are_occupied_by_day_with_their_own_people(project, baseline):
    """The kindergarten, the elderly day-care station and the community centre were never evacuated:
    by day they hold children, frail elderly and staff, each building with its own mix and each
    room leaving together; at night they are closed. CT_Building.Occupants overrides the assumption."""
    day = scenario_from_twin(baseline)
    night = scenario_from_twin(baseline, night=True)
    services = {b.global_id: b for b in baseline.layers.buildings if b.residents == 0 and b.service_type}
    assert {b.service_type for b in services.values()} == {"kindergarten", "elderly_station", "community_centre"}
    doors = {e.global_id: e.building for e in baseline.layers.entrances}
    occupied = [w for w in day.scenario.stairwells if doors.get(w.id) in services]
    assert night.scenario.residents == 6572 and not [w for w in night.scenario.stairwells if doors.get(w.id) in services]
    assert day.scenario.residents == 6572 + sum(w.residents for w in occupied)
    kindergarten = [w for w in occupied if services[doors[w.id]].service_type == "kindergarten"]
    footprint = services[doors[kindergarten[0].id]].footprint.area * 3
    # about 10 m2 of building per child and one member of staff per 7 children
    assert sum(w.residents for w in kindergarten) == round(footprint / (10 * 8 / 7))
    assert dict(kindergarten[0].groups) == {"child": 7 / 8, "adult": 1 / 8}
    assert any("Kindergarten" in m and "daytime occupants assumed" in m for m in day.warnings)
    # the real number, where the model gives it
    kid = doors[kindergarten[0].id]
    counted = apply_actions(baseline, [{"kind": "set_property", "element": kid, "pset": "CT_Building",
                                        "values": {"Occupants": 120}}], name="counted", source="test")
    again = scenario_from_twin(counted)
    assert sum(w.residents for w in again.scenario.stairwells if doors.get(w.id) == kid) == 120
    assert not any("Kindergarten" in m for m in again.warnings)
    # the children come down the stairs and out: the run draws them from the kindergarten's own mix
    alone = dataclasses.replace(day.scenario, stairwells=tuple(kindergarten))
    result = simulate(alone, site_settings(project.settings, dt_s=0.1), seed=1)
    out = summary(result)
    assert out["evacuated"] == sum(w.residents for w in kindergarten) and out["stuck"] == 0
    groups = result.frames["group"]
    children = int(np.sum(groups == list(result.frames["group_names"]).index("child")))
    assert 0.75 < children / len(groups) < 0.98


def test_a_closed_gate_and_a_blocked_lane_as_proposal_actions(baseline):
    gate_n = "1VyciV9e1LJB3Xh1e3TopR"
    road = next(r for r in baseline.layers.roads if r.width_m < 6.0)
    changed = apply_actions(baseline, [
        {"kind": "set_property", "element": gate_n, "pset": "CT_Gate", "values": {"Open": False}},
        {"kind": "set_property", "element": road.global_id, "pset": "CT_Road", "values": {"Blocked": True}},
    ], name="closed", source="test")
    scenario = scenario_from_twin(changed).scenario
    assert [e.open for e in scenario.exits if e.id == gate_n] == [False]
    area = scenario.walkable.difference(shapely.union_all(scenario.obstacles))
    middle = road.centreline.interpolate(0.5, normalized=True)
    assert not area.contains(middle)
    before = scenario_from_twin(baseline).scenario
    assert before.walkable.difference(shapely.union_all(before.obstacles)).contains(middle)
    # every gate closed: nobody can get out, said plainly
    shut = apply_actions(baseline, [{"kind": "set_property", "element": g.global_id, "pset": "CT_Gate",
                                     "values": {"Open": False}} for g in baseline.layers.gates], name="shut", source="test")
    with pytest.raises(SiteError, match="no open gate"):
        scenario_from_twin(shut)


def test_one_block_evacuates_through_its_stairwells_and_the_west_gate(project, baseline):
    # Block 1 (221 residents, 5 stairwells, 6 storeys) in the south-west corner, alone on the
    # site: everyone comes down the stairs and out; with the gates as the only way out the nearest
    # are W and S, with the assembly areas as destinations (the default) the park next to it
    scenario = scenario_from_twin(baseline).scenario
    block = next(b for b in baseline.layers.buildings if b.name == "Block 1")
    doors = {e.global_id for e in baseline.layers.entrances if e.building == block.global_id}
    one = dataclasses.replace(scenario, stairwells=tuple(w for w in scenario.stairwells if w.id in doors))
    assert one.residents == block.residents == 221
    result = simulate(one, site_settings(project.settings, dt_s=0.1, to_assembly=False), seed=1)
    s = summary(result)
    assert s["evacuated"] == 221 and s["stuck"] == 0
    out = s["exits"]
    assert out["3pCX6DsDPGGAL4h3n5GfBZ"]["evacuated"] + out["2XI0nNcRXK5BpWaeq_DTiQ"]["evacuated"] == 221
    assert all(e["kind"] == "exit" for e in out.values())
    left = result.frames["out_of_building_s"]
    # households leave after 120 +- 60 s (project setting); 44 residents per stair, the upper
    # floors' ~35 at the stair's 0.75 p/s: the last is out of the building within ~5 min
    assert np.nanmin(left) > 20.0 and 150.0 < np.nanmax(left) < 420.0
    # the walk to a gate (~150-200 m at ~1 m/s on average) comes on top
    assert s["total_evacuation_time_s"] > np.nanmax(left) + 60.0

    # to the assembly areas as well: all 221 go to the nearest one, Park W2, and are safe sooner
    result_a = simulate(one, site_settings(project.settings, dt_s=0.1), seed=1)
    sa = summary(result_a)
    assert sa["evacuated"] == 221 and sa["stuck"] == 0
    park = next(a.global_id for a in baseline.layers.assembly_areas if a.name == "Assembly area: Park W2")
    assert sa["exits"][park]["kind"] == "assembly" and sa["exits"][park]["evacuated"] == 221
    # out of the building as before (the doors, not the walk, set that), then a shorter walk
    left_a = result_a.frames["out_of_building_s"]
    assert 150.0 < np.nanmax(left_a) < 420.0
    assert np.nanmax(left_a) < sa["total_evacuation_time_s"] < s["total_evacuation_time_s"] - 30.0
