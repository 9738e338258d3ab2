"""twin.project and twin.actions: a state from the baseline plus retrofit actions."""
import pytest
import trimesh

from ifc_factory import make_ifc
from twin.errors import ProjectError
from twin.geometry import global_id
from twin.project import load_project, load_state

ACTIONS = """
[state]
name = "renewal"
base = "baseline"

[[actions]]
kind = "remove_building"
building = "{building}"

[[actions]]
kind = "add_building"
key = "centre"
name = "Service centre"
footprint = [[0, 0], [30, 0], [30, 20], [0, 20]]
storeys = 3
storey_height_m = 4.0
psets = {{ CT_ServicePoint = {{ ServiceType = "community_centre", FloorArea = 1800.0 }} }}

[[actions]]
kind = "add_element"
key = "garage"
ifc_class = "IfcSpace"
predefined_type = "PARKING"
footprint = [[0, 0], [40, 0], [40, 25], [0, 25]]
base_m = -3.6
height_m = 3.2
psets = {{ CT_Parking = {{ Spaces = 40, EVChargers = 8, Kind = "underground" }} }}

[[actions]]
kind = "set_property"
element = "{pipe}"
pset = "CT_StormPipe"
values = {{ Renewed = true, System = "STORMWATER" }}
"""


def _project(tmp_path, actions_text=None):
    facts = make_ifc(tmp_path / "baseline.ifc", windows=2, storm=True)
    text = actions_text if actions_text is not None else ACTIONS.format(building=facts["building"], pipe=facts["pipe"])
    (tmp_path / "renewal.toml").write_text(text)
    (tmp_path / "project.toml").write_text(
        '[project]\nname = "t"\n\n[[states]]\nname = "baseline"\nifc = "baseline.ifc"\n\n'
        '[[states]]\nname = "renewal"\nactions = "renewal.toml"\n')
    return facts, load_project(tmp_path)


def test_actions_state_is_a_twin_like_an_ifc_one(tmp_path):
    facts, project = _project(tmp_path)
    base = load_state(project, "baseline")
    renewal = load_state(project, "renewal")
    assert renewal.name == "renewal" and base.name == "baseline"
    # The old block and everything in it are gone; the baseline object is untouched.
    assert not set(facts["walls"] + facts["windows"]) & set(renewal.elements)
    assert set(facts["walls"]) <= set(base.elements)
    layers = renewal.layers
    (building,) = layers.buildings
    assert building.storeys == 3
    assert building.footprint.area == pytest.approx(600.0, rel=1e-6)
    assert building.height_m == pytest.approx(3 * 4.0 + 0.3, abs=1e-6)  # storeys + roof slab
    (centre,) = layers.service_points
    assert centre.service_type == "community_centre" and centre.floor_area_m2 == 1800.0
    (garage,) = layers.parking
    assert (garage.spaces, garage.ev_chargers, garage.kind) == (40, 8, "underground")
    (pipe,) = layers.pipes
    assert pipe.renewed and pipe.system == "STORMWATER"
    (roof,) = [s for s in layers.surfaces if s.surface_type == "roof"]
    assert roof.area_m2 == pytest.approx(600.0, rel=1e-6)
    # Generated meshes are closed solids of the right volume.
    garage_element = renewal.elements[global_id("garage")]
    mesh = trimesh.Trimesh(*renewal.world_mesh(garage_element))
    mesh.merge_vertices()
    assert mesh.is_watertight and mesh.volume == pytest.approx(40 * 25 * 3.2, rel=1e-6)  # float32 vertices


def test_same_actions_give_same_global_ids(tmp_path):
    _, project = _project(tmp_path)
    first = set(load_state(project, "renewal").elements)
    second = set(load_state(project, "renewal").elements)
    assert first == second


def test_set_property_on_a_removed_element_names_it(tmp_path):
    facts, project = _project(tmp_path)
    (tmp_path / "renewal.toml").write_text(ACTIONS.format(building=facts["building"], pipe=facts["walls"][0]))
    with pytest.raises(ProjectError, match=r"renewal.toml: actions\[3\].*not in the base state"):
        load_state(project, "renewal")


@pytest.mark.parametrize("text, message", [
    ("[[actions]]\nkind = \"paint\"\n", "expected one of"),
    ("[[actions]]\nkind = \"add_element\"\nkey = \"k\"\nifc_class = \"IfcSlab\"\nfootprint = [[0, 0], [1, 1], [0, 1], [1, 0]]\n", "not a simple polygon"),
    ("[[actions]]\nkind = \"remove_building\"\n", "missing field 'building'"),
    ("this is = = not toml", "not valid TOML"),
])
def test_bad_actions_file_is_named(tmp_path, text, message):
    _, project = _project(tmp_path, text)
    with pytest.raises(ProjectError, match=message) as info:
        load_state(project, "renewal")
    assert "renewal.toml" in str(info.value)


def test_bad_project_file(tmp_path):
    (tmp_path / "project.toml").write_text('[[states]]\nname = "baseline"\nifc = "missing.ifc"\n')
    with pytest.raises(ProjectError, match="does not exist"):
        load_project(tmp_path)
    with pytest.raises(ProjectError, match="no such project file"):
        load_project(tmp_path / "nowhere")
