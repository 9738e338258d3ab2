"""twin.diff: elements sorted into added / removed / geometry / data / both, with what changed."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from twin.diff import STATUSES, diff_twins
from twin.errors import TwinError
from twin.model import Element, Mesh, Twin


def box_mesh(dx: float, dy: float, dz: float) -> Mesh:
    """An axis-aligned box from (0, 0, 0) to (dx, dy, dz), 8 vertices, 12 outward triangles."""
    vertices = [[x, y, z] for z in (0.0, dz) for y in (0.0, dy) for x in (0.0, dx)]
    faces = [[0, 2, 1], [1, 2, 3], [4, 5, 6], [5, 7, 6], [0, 1, 4], [1, 5, 4],
             [2, 6, 3], [3, 6, 7], [0, 4, 2], [2, 4, 6], [1, 3, 5], [3, 7, 5]]
    return Mesh(vertices=vertices, faces=faces)


def translation(x: float, y: float, z: float) -> np.ndarray:
    matrix = np.eye(4)
    matrix[:3, 3] = (x, y, z)
    return matrix


def baseline() -> Twin:
    """Three walls sharing one box, a door, a shed to be demolished, a roof and a manhole."""
    twin = Twin(name="baseline", source="test", schema="IFC4")
    twin.meshes["box"] = box_mesh(1.0, 2.0, 3.0)
    twin.meshes["shed"] = box_mesh(3.0, 3.0, 2.5)
    twin.meshes["roof"] = box_mesh(10.0, 8.0, 0.2)
    for i in range(3):
        twin.elements[f"wall{i}"] = Element(
            global_id=f"wall{i}", ifc_class="IfcWall", name=f"Wall {i}", container="storey1",
            storey="1F", building="bldg", mesh_id="box", transform=translation(10.0 + 5 * i, 20.0, 5.0),
            psets={"Pset_WallCommon": {"IsExternal": True, "FireRating": "REI60"}})
    twin.elements["door"] = Element(global_id="door", ifc_class="IfcDoor", name="Entrance", mesh_id="box",
                                    transform=translation(0.0, 0.0, 0.0), attributes={"OverallWidth": 1.0})
    twin.elements["shed"] = Element(global_id="shed", ifc_class="IfcBuildingElementProxy", name="Illegal shed",
                                    mesh_id="shed", transform=translation(30.0, 5.0, 0.0), status="DEMOLISH")
    twin.elements["roof"] = Element(global_id="roof", ifc_class="IfcSlab", predefined_type="ROOF",
                                    mesh_id="roof", transform=translation(0.0, 0.0, 18.0))
    twin.elements["manhole"] = Element(global_id="manhole", ifc_class="IfcDistributionChamberElement",
                                       psets={"CT_StormNode": {"InvertElevation": -1.5}})
    return twin


def proposal(base: Twin) -> Twin:
    """The baseline with one change of each kind (a deep copy: no object shared with it)."""
    twin = copy.deepcopy(base)
    twin.name = "proposal_a"
    twin.elements["wall1"].transform = translation(15.0, 21.0, 5.0)         # moved 1 m north
    twin.elements["wall2"].psets["Pset_WallCommon"]["FireRating"] = "REI90"  # data only
    twin.elements["door"].transform = translation(0.5, 0.0, 0.0)           # moved and renamed
    twin.elements["door"].name = "Main entrance"
    twin.elements["door"].attributes["OverallWidth"] = np.float64(1.2)
    twin.meshes["roof"] = box_mesh(10.0, 8.0, 0.4)                          # thicker green roof
    del twin.elements["shed"]
    twin.meshes.pop("shed")
    twin.meshes["garden"] = box_mesh(6.0, 4.0, 0.6)
    twin.elements["garden"] = Element(global_id="garden", ifc_class="IfcGeographicElement", name="Rain garden",
                                      mesh_id="garden", transform=translation(40.0, 10.0, 0.0), status="NEW",
                                      psets={"CT_LID": {"LIDType": "rain_garden", "SurfaceDepth": 0.2}})
    return twin


def test_categories_are_exact():
    base = baseline()
    diff = diff_twins(base, proposal(base))
    assert diff.added == ["garden"]
    assert diff.removed == ["shed"]
    assert diff.geometry_changed == ["door", "roof", "wall1"]
    assert diff.data_changed == ["door", "wall2"]
    assert diff.unchanged == ["manhole", "wall0"]
    expected = {"garden": "added", "shed": "removed", "wall1": "geometry", "roof": "geometry",
                "wall2": "data", "door": "geometry+data", "wall0": "unchanged", "manhole": "unchanged"}
    assert {gid: diff.status_of(gid) for gid in expected} == expected
    assert diff.changed == ["door", "roof", "wall1", "wall2"]


def test_status_of_unknown_global_id_raises_key_error():
    base = baseline()
    diff = diff_twins(base, proposal(base))
    with pytest.raises(KeyError, match="nowhere"):
        diff.status_of("nowhere")


def test_details_name_old_and_new_values():
    base = baseline()
    diff = diff_twins(base, proposal(base))
    wall2 = diff.changes["wall2"]
    assert wall2.geometry is None
    assert wall2.psets == {"Pset_WallCommon": {"FireRating": ("REI60", "REI90")}}
    assert wall2.fields == {} and wall2.attributes == {}

    door = diff.changes["door"]
    assert door.fields == {"name": ("Entrance", "Main entrance")}
    assert door.attributes == {"OverallWidth": (1.0, 1.2)}
    assert door.geometry.placement and not door.geometry.mesh
    assert door.geometry.moved_m == pytest.approx(0.5, abs=1e-12)

    wall1 = diff.changes["wall1"]
    assert wall1.geometry.placement and not wall1.geometry.mesh
    assert wall1.geometry.moved_m == pytest.approx(1.0, abs=1e-12)

    roof = diff.changes["roof"]  # same placement, new mesh content
    assert roof.geometry.mesh and not roof.geometry.placement
    assert roof.geometry.moved_m == 0.0


def test_geometry_change_agrees_with_twin_geometry_hash():
    base = baseline()
    other = proposal(base)
    diff = diff_twins(base, other)
    for gid in base.elements.keys() & other.elements.keys():
        hash_differs = base.geometry_hash(base.elements[gid]) != other.geometry_hash(other.elements[gid])
        assert (gid in diff.geometry_changed) == hash_differs, gid


def test_shared_mesh_objects_and_equal_copies_are_both_unchanged():
    base = baseline()
    shallow = copy.copy(base)  # shares Mesh objects and transforms, as an actions-built state does
    shallow.elements = {gid: copy.copy(e) for gid, e in base.elements.items()}
    deep = copy.deepcopy(base)
    for other in (shallow, deep):
        diff = diff_twins(base, other)
        assert diff.unchanged == sorted(base.elements)
        assert diff.summary()["changed"] == 0


def test_noise_below_tolerances_is_no_change():
    base = baseline()
    other = copy.deepcopy(base)
    # 0.01 mm placement noise is below the 0.1 mm geometry hash rounding
    other.elements["wall0"].transform = translation(10.0 + 1e-5, 20.0, 5.0)
    # unit-conversion noise in a float property, and numpy scalars for Python ones
    other.elements["manhole"].psets["CT_StormNode"]["InvertElevation"] = -1.5 * (1 + 1e-12)
    other.elements["door"].attributes["OverallWidth"] = np.float32(1.0)
    # a property present as None is the same as a missing one (as Element.prop reads it)
    other.elements["wall1"].psets["Pset_WallCommon"]["Reference"] = None
    other.elements["wall2"].psets["Pset_Empty"] = {}
    diff = diff_twins(base, other)
    assert diff.changed == []


def test_bool_property_is_not_the_number_one():
    base = baseline()
    other = copy.deepcopy(base)
    other.elements["wall0"].psets["Pset_WallCommon"]["IsExternal"] = 1
    diff = diff_twins(base, other)
    assert diff.changes["wall0"].psets == {"Pset_WallCommon": {"IsExternal": (True, 1)}}


def test_class_container_status_and_connections_are_data():
    base = baseline()
    other = copy.deepcopy(base)
    other.elements["wall0"].ifc_class = "IfcCurtainWall"
    other.elements["wall1"].container = "storey2"
    other.elements["wall1"].storey = "2F"
    other.elements["shed"].status = "EXISTING"
    other.elements["manhole"].connected_to = ["pipe7"]
    diff = diff_twins(base, other)
    assert diff.data_changed == ["manhole", "shed", "wall0", "wall1"]
    assert diff.geometry_changed == []
    assert diff.changes["wall0"].fields == {"ifc_class": ("IfcWall", "IfcCurtainWall")}
    assert diff.changes["wall1"].fields == {"container": ("storey1", "storey2"), "storey": ("1F", "2F")}
    assert diff.changes["manhole"].fields == {"connected_to": ([], ["pipe7"])}
    assert diff.classes["wall0"] == "IfcCurtainWall"  # the newer state's class


def test_mesh_gained_or_lost_is_a_geometry_change():
    base = baseline()
    other = copy.deepcopy(base)
    other.elements["manhole"].mesh_id = "box"
    other.elements["wall0"].mesh_id = None
    diff = diff_twins(base, other)
    assert diff.geometry_changed == ["manhole", "wall0"]
    assert diff.changes["manhole"].geometry.mesh


def test_summary_counts_overall_and_by_class():
    base = baseline()
    summary = diff_twins(base, proposal(base)).summary()
    assert summary["base"] == "baseline" and summary["other"] == "proposal_a"
    assert summary["counts"] == {"added": 1, "removed": 1, "geometry": 2, "data": 1,
                                 "geometry+data": 1, "unchanged": 2}
    assert summary["changed"] == 4
    assert summary["by_class"]["IfcWall"] == {"added": 0, "removed": 0, "geometry": 1, "data": 1,
                                              "geometry+data": 0, "unchanged": 1}
    assert summary["by_class"]["IfcBuildingElementProxy"]["removed"] == 1
    assert summary["by_class"]["IfcGeographicElement"]["added"] == 1
    assert sum(sum(c.values()) for c in summary["by_class"].values()) == 8
    assert set(summary["counts"]) == set(STATUSES)


def test_to_json_is_plain_json_with_numpy_converted():
    base = baseline()
    other = proposal(base)
    other.elements["wall0"].psets["Qto_WallBaseQuantities"] = {
        "Length": np.float64(4.5), "Count": np.int64(3), "Profile": np.array([0.1, 0.2]), "Bad": float("nan")}
    data = diff_twins(base, other).to_json()
    text = json.dumps(data, allow_nan=False)  # raises on numpy types or NaN
    back = json.loads(text)
    assert back["added"] == ["garden"] and back["removed"] == ["shed"]
    assert back["changes"]["door"]["status"] == "geometry+data"
    assert back["changes"]["door"]["fields"]["name"] == {"old": "Entrance", "new": "Main entrance"}
    assert back["changes"]["door"]["attributes"]["OverallWidth"] == {"old": 1.0, "new": 1.2}
    assert back["changes"]["door"]["geometry"] == {"mesh": False, "placement": True, "moved_m": 0.5}
    assert back["changes"]["wall0"]["psets"]["Qto_WallBaseQuantities"] == {
        "Length": {"old": None, "new": 4.5}, "Count": {"old": None, "new": 3},
        "Profile": {"old": None, "new": [0.1, 0.2]}, "Bad": {"old": None, "new": None}}
    assert back["summary"]["counts"]["unchanged"] == 1
    assert back["classes"] == {"door": "IfcDoor", "garden": "IfcGeographicElement", "roof": "IfcSlab",
                               "shed": "IfcBuildingElementProxy", "wall0": "IfcWall", "wall1": "IfcWall",
                               "wall2": "IfcWall"}


def test_element_pointing_to_a_missing_mesh_is_named():
    base = baseline()
    other = copy.deepcopy(base)
    other.elements["wall0"].mesh_id = "ghost-mesh"
    with pytest.raises(TwinError, match="wall0.*ghost-mesh"):
        diff_twins(base, other)


def test_signed_zero_noise_in_a_rotation_is_no_change():
    base = baseline()
    other = copy.deepcopy(base)
    # cos(90°) computed two ways: +6e-17 and -6e-17 both round to zero
    base.elements["wall0"].transform[0, 1] = 6e-17
    other.elements["wall0"].transform[0, 1] = -6e-17
    assert diff_twins(base, other).geometry_changed == []
