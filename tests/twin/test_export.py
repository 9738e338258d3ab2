"""twin.export: GLB per state — nodes named by GlobalId, instancing, y-up, spatial tree, diff
colours, validity (Khronos glTF validator) and atomic writes."""
from __future__ import annotations

import copy
import json
import os
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import trimesh

from twin.diff import diff_twins
from twin.errors import TwinError
from twin.export import export_glb
from twin.model import Element, Mesh, SpatialNode, Twin

REPO = Path(__file__).resolve().parents[2]
VALIDATOR = REPO / "viewer" / "validate_gltf.mjs"


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


def rotation_z(degrees: float, at: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    angle = np.radians(degrees)
    matrix = translation(*at)
    matrix[:2, :2] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    return matrix


def community() -> Twin:
    """One building with a storey holding three walls sharing one 1×2×3 box, a window, a
    storey-less road on the site and an element without geometry."""
    twin = Twin(name="baseline", source="test.ifc", schema="IFC4X3_ADD2", crs="EPSG:4549",
                origin=(500123.25, 3400456.5, 12.0))
    twin.meshes["box"] = box_mesh(1.0, 2.0, 3.0)
    twin.meshes["pane"] = box_mesh(1.2, 0.05, 1.5)
    twin.meshes["road"] = box_mesh(50.0, 6.0, 0.2)
    twin.spatial = {
        "project": SpatialNode(global_id="project", ifc_class="IfcProject", name="Old community"),
        "site": SpatialNode(global_id="site", ifc_class="IfcSite", name="Site", parent="project"),
        "bldg": SpatialNode(global_id="bldg", ifc_class="IfcBuilding", name="楼 3", parent="site"),
        "storey1": SpatialNode(global_id="storey1", ifc_class="IfcBuildingStorey", name="1F",
                               parent="bldg", elevation_m=0.0),
    }
    for i in range(3):
        twin.elements[f"wall{i}"] = Element(
            global_id=f"wall{i}", ifc_class="IfcWall", name=f"Wall {i}", container="storey1", storey="1F",
            building="bldg", mesh_id="box", transform=translation(10.0 + 5 * i, 20.0, 5.0))
    twin.elements["window"] = Element(global_id="window", ifc_class="IfcWindow", name="W1", container="storey1",
                                      storey="1F", building="bldg", mesh_id="pane",
                                      transform=rotation_z(90.0, at=(3.0, 4.0, 1.0)))
    twin.elements["road"] = Element(global_id="road", ifc_class="IfcPavement", predefined_type="FLEXIBLE",
                                    container="site", mesh_id="road", transform=translation(-5.0, -10.0, 0.0))
    twin.elements["manhole"] = Element(global_id="manhole", ifc_class="IfcDistributionChamberElement",
                                       container="site", status="EXISTING")
    return twin


def read_glb(path: Path) -> tuple[dict, bytes]:
    """Parse a GLB by the spec: 12-byte header, JSON chunk, optional BIN chunk."""
    data = path.read_bytes()
    magic, version, length = struct.unpack_from("<III", data, 0)
    assert (magic, version, length) == (0x46546C67, 2, len(data))
    json_length, json_type = struct.unpack_from("<II", data, 12)
    assert json_type == 0x4E4F534A and json_length % 4 == 0
    gltf = json.loads(data[20:20 + json_length])
    binary = b""
    if 20 + json_length < len(data):
        bin_length, bin_type = struct.unpack_from("<II", data, 20 + json_length)
        assert bin_type == 0x004E4942 and bin_length % 4 == 0
        binary = data[28 + json_length:28 + json_length + bin_length]
    return gltf, binary


def accessor_array(gltf: dict, binary: bytes, index: int) -> np.ndarray:
    accessor = gltf["accessors"][index]
    view = gltf["bufferViews"][accessor["bufferView"]]
    dtype = {5126: "<f4", 5123: "<u2", 5125: "<u4"}[accessor["componentType"]]
    width = {"VEC3": 3, "SCALAR": 1}[accessor["type"]]
    start = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
    array = np.frombuffer(binary, dtype=dtype, count=accessor["count"] * width, offset=start)
    return array.reshape(-1, width) if width > 1 else array


def local_matrix(node: dict) -> np.ndarray:
    if "matrix" in node:
        return np.array(node["matrix"], dtype=np.float64).reshape(4, 4).T  # column-major
    matrix = np.eye(4)
    assert "rotation" not in node and "scale" not in node
    matrix[:3, 3] = node.get("translation", [0.0, 0.0, 0.0])
    return matrix


def world_matrices(gltf: dict) -> dict[int, np.ndarray]:
    world: dict[int, np.ndarray] = {}
    stack = [(index, np.eye(4)) for index in gltf["scenes"][gltf["scene"]]["nodes"]]
    while stack:
        index, parent = stack.pop()
        assert index not in world, "node reached twice"
        world[index] = parent @ local_matrix(gltf["nodes"][index])
        stack.extend((child, world[index]) for child in gltf["nodes"][index].get("children", []))
    return world


def node_by_name(gltf: dict) -> dict[str, int]:
    return {node["name"]: index for index, node in enumerate(gltf["nodes"])}


def world_vertices(gltf: dict, binary: bytes, name: str) -> np.ndarray:
    index = node_by_name(gltf)[name]
    primitive = gltf["meshes"][gltf["nodes"][index]["mesh"]]["primitives"][0]
    local = accessor_array(gltf, binary, primitive["attributes"]["POSITION"]).astype(np.float64)
    matrix = world_matrices(gltf)[index]
    return local @ matrix[:3, :3].T + matrix[:3, 3]


def validate(path: Path) -> dict:
    """Run the Khronos glTF validator through viewer/validate_gltf.mjs; its JSON summary."""
    if not (REPO / "viewer" / "node_modules" / "gltf-validator").is_dir():
        pytest.fail("viewer/node_modules/gltf-validator is missing: run `npm ci --prefix viewer` first")
    result = subprocess.run(["node", str(VALIDATOR), str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


# -- structure ------------------------------------------------------------------------------

def test_one_node_per_element_named_by_global_id_with_extras(tmp_path):
    twin = community()
    stats = export_glb(twin, tmp_path / "baseline.glb")
    gltf, _ = read_glb(tmp_path / "baseline.glb")
    names = node_by_name(gltf)
    assert set(twin.elements) <= set(names)
    assert set(twin.spatial) <= set(names)
    # root + 4 spatial + 6 elements
    assert len(gltf["nodes"]) == stats.nodes == 11
    assert stats.element_nodes == 6 and stats.ghost_nodes == 0
    assert gltf["nodes"][names["wall1"]]["extras"] == {
        "globalId": "wall1", "ifcClass": "IfcWall", "name": "Wall 1", "storey": "1F", "building": "bldg",
        "predefinedType": None, "status": None}
    assert gltf["nodes"][names["road"]]["extras"]["predefinedType"] == "FLEXIBLE"
    assert "mesh" not in gltf["nodes"][names["manhole"]]  # no geometry, still pickable in the tree
    assert gltf["nodes"][names["bldg"]]["extras"] == {"globalId": "bldg", "ifcClass": "IfcBuilding", "name": "楼 3"}
    assert gltf["nodes"][names["storey1"]]["extras"]["elevationM"] == 0.0


def test_spatial_tree_parents_elements(tmp_path):
    export_glb(community(), tmp_path / "baseline.glb")
    gltf, _ = read_glb(tmp_path / "baseline.glb")
    names = node_by_name(gltf)
    parent = {child: index for index, node in enumerate(gltf["nodes"]) for child in node.get("children", [])}
    name_of = {index: name for name, index in names.items()}
    assert gltf["scenes"][0]["nodes"] == [names["baseline"]]
    assert name_of[parent[names["project"]]] == "baseline"
    assert name_of[parent[names["site"]]] == "project"
    assert name_of[parent[names["bldg"]]] == "site"
    assert name_of[parent[names["storey1"]]] == "bldg"
    for gid in ("wall0", "wall1", "wall2", "window"):
        assert name_of[parent[names[gid]]] == "storey1"
    assert name_of[parent[names["road"]]] == "site"
    # spatial nodes carry no transform: element matrices are absolute twin coordinates
    for gid in ("project", "site", "bldg", "storey1"):
        assert not {"matrix", "translation", "rotation", "scale"} & gltf["nodes"][names[gid]].keys()


def test_without_spatial_tree_elements_hang_from_the_root(tmp_path):
    twin = community()
    twin.spatial = {}
    export_glb(twin, tmp_path / "flat.glb")
    gltf, _ = read_glb(tmp_path / "flat.glb")
    root = gltf["nodes"][gltf["scenes"][0]["nodes"][0]]
    assert sorted(gltf["nodes"][i]["name"] for i in root["children"]) == sorted(twin.elements)


def test_scene_extras_carry_origin_and_crs(tmp_path):
    export_glb(community(), tmp_path / "baseline.glb")
    gltf, _ = read_glb(tmp_path / "baseline.glb")
    extras = gltf["scenes"][0]["extras"]
    assert extras["crs"] == "EPSG:4549"
    assert extras["origin"] == [500123.25, 3400456.5, 12.0]
    assert extras["twin"] == "baseline" and extras["schema"] == "IFC4X3_ADD2"


# -- instancing and bytes --------------------------------------------------------------------

def test_repeated_geometry_is_written_once(tmp_path):
    twin = community()
    stats = export_glb(twin, tmp_path / "baseline.glb")
    gltf, binary = read_glb(tmp_path / "baseline.glb")
    names = node_by_name(gltf)
    wall_meshes = {gltf["nodes"][names[f"wall{i}"]]["mesh"] for i in range(3)}
    assert len(wall_meshes) == 1
    # box, pane and road: one glTF mesh each (one class per mesh here), two accessors each
    assert stats.meshes == len(gltf["meshes"]) == 3
    assert stats.geometries == 3 and len(gltf["accessors"]) == 6
    assert stats.instanced_nodes == 3
    # positions (8 + 8 + 8 vertices × 12 bytes) + uint16 indices (3 × 36 × 2 bytes), no normals
    assert gltf["buffers"][0]["byteLength"] == len(binary) == 3 * 8 * 12 + 3 * 36 * 2
    assert stats.bytes == (tmp_path / "baseline.glb").stat().st_size
    for mesh in gltf["meshes"]:
        assert set(mesh["primitives"][0]["attributes"]) == {"POSITION"}


def test_shared_geometry_with_two_materials_shares_accessors(tmp_path):
    twin = community()
    twin.elements["wall2"].ifc_class = "IfcColumn"  # same box, another material
    stats = export_glb(twin, tmp_path / "baseline.glb")
    gltf, _ = read_glb(tmp_path / "baseline.glb")
    names = node_by_name(gltf)
    wall = gltf["meshes"][gltf["nodes"][names["wall0"]]["mesh"]]["primitives"][0]
    column = gltf["meshes"][gltf["nodes"][names["wall2"]]["mesh"]]["primitives"][0]
    assert wall["material"] != column["material"]
    assert wall["attributes"] == column["attributes"] and wall["indices"] == column["indices"]
    assert stats.meshes == 4 and stats.geometries == 3


def test_position_min_max_and_index_types(tmp_path):
    twin = community()
    grid = np.stack(np.meshgrid(np.arange(300.0), np.arange(250.0), indexing="ij"), axis=-1).reshape(-1, 2)
    big_vertices = np.column_stack([grid, np.zeros(len(grid))])  # 75 000 vertices: needs uint32
    twin.meshes["terrain"] = Mesh(vertices=big_vertices, faces=[[0, 1, 300], [74_999, 74_998, 74_699]])
    twin.elements["terrain"] = Element(global_id="terrain", ifc_class="IfcGeographicElement",
                                       predefined_type="TERRAIN", container="site", mesh_id="terrain")
    export_glb(twin, tmp_path / "baseline.glb")
    gltf, binary = read_glb(tmp_path / "baseline.glb")
    for mesh in gltf["meshes"]:
        primitive = mesh["primitives"][0]
        positions = gltf["accessors"][primitive["attributes"]["POSITION"]]
        data = accessor_array(gltf, binary, primitive["attributes"]["POSITION"])
        assert positions["min"] == data.min(axis=0).tolist() and positions["max"] == data.max(axis=0).tolist()
        indices = gltf["accessors"][primitive["indices"]]
        expected = 5125 if mesh["name"] == "terrain" else 5123
        assert indices["componentType"] == expected, mesh["name"]
        assert accessor_array(gltf, binary, primitive["indices"]).max() < positions["count"]
    assert validate(tmp_path / "baseline.glb")["numErrors"] == 0


# -- coordinates -----------------------------------------------------------------------------

def test_placed_box_bounds_in_y_up(tmp_path):
    # twin (x east, y north, z up) → glTF (x, z, −y): a 1×2×3 box at (10, 20, 5) spans
    # x 10..11, y (up) 5..8, z −22..−20
    twin = community()
    export_glb(twin, tmp_path / "baseline.glb")
    gltf, binary = read_glb(tmp_path / "baseline.glb")
    vertices = world_vertices(gltf, binary, "wall0")
    assert vertices.min(axis=0).tolist() == [10.0, 5.0, -22.0]
    assert vertices.max(axis=0).tolist() == [11.0, 8.0, -20.0]
    # the same through an independent reader of the scene graph
    scene = trimesh.load(tmp_path / "baseline.glb", force="scene")
    bounds = scene.geometry[scene.graph["wall0"][1]].bounds
    placed = trimesh.transform_points(bounds, scene.graph["wall0"][0])
    np.testing.assert_allclose(np.sort(placed, axis=0), [[10.0, 5.0, -22.0], [11.0, 8.0, -20.0]], atol=1e-9)


def test_frame_stays_right_handed(tmp_path):
    """Up stays up, north goes to −z, east to +x, and outward normals stay outward."""
    twin = community()
    export_glb(twin, tmp_path / "baseline.glb")
    gltf, binary = read_glb(tmp_path / "baseline.glb")
    names = node_by_name(gltf)
    world = world_matrices(gltf)[names["wall0"]]
    assert np.linalg.det(world[:3, :3]) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(world[:3, :3] @ [1.0, 0.0, 0.0], [1.0, 0.0, 0.0])   # east → +x
    np.testing.assert_allclose(world[:3, :3] @ [0.0, 1.0, 0.0], [0.0, 0.0, -1.0])  # north → −z
    np.testing.assert_allclose(world[:3, :3] @ [0.0, 0.0, 1.0], [0.0, 1.0, 0.0])   # up → +y
    # the top face [4, 5, 6] of the box winds counter-clockwise seen from above: its normal
    # must come out +y (up) in glTF, as it was +z in the twin
    primitive = gltf["meshes"][gltf["nodes"][names["wall0"]]["mesh"]]["primitives"][0]
    faces = accessor_array(gltf, binary, primitive["indices"]).reshape(-1, 3)
    vertices = world_vertices(gltf, binary, "wall0")
    a, b, c = vertices[faces[2]]
    normal = np.cross(b - a, c - a)
    assert normal / np.linalg.norm(normal) == pytest.approx([0.0, 1.0, 0.0])


def test_rotated_element_bounds(tmp_path):
    # the 1.2 × 0.05 × 1.5 pane turned 90° about z at (3, 4, 1): x 2.95..3, y 4..5.2, z 1..2.5 in
    # the twin → glTF x 2.95..3, y 1..2.5, z −5.2..−4
    export_glb(community(), tmp_path / "baseline.glb")
    gltf, binary = read_glb(tmp_path / "baseline.glb")
    vertices = world_vertices(gltf, binary, "window")
    np.testing.assert_allclose(vertices.min(axis=0), [3.0 - 0.05, 1.0, -4.0 - 1.2], atol=1e-6)
    np.testing.assert_allclose(vertices.max(axis=0), [3.0, 2.5, -4.0], atol=1e-6)


def test_sheared_transform_is_baked_and_mirror_kept(tmp_path):
    twin = community()
    shear = translation(100.0, 0.0, 0.0)
    shear[0, 1] = 0.5  # x += 0.5 y: glTF node matrices cannot shear
    twin.elements["wall1"].transform = shear
    mirror = translation(0.0, 50.0, 0.0)
    mirror[0, 0] = -1.0  # mirrored instance: a valid TRS (negative scale)
    twin.elements["wall2"].transform = mirror
    stats = export_glb(twin, tmp_path / "baseline.glb")
    gltf, binary = read_glb(tmp_path / "baseline.glb")
    names = node_by_name(gltf)
    sheared = gltf["nodes"][names["wall1"]]
    assert "matrix" not in sheared and "translation" not in sheared
    vertices = world_vertices(gltf, binary, "wall1")
    # box corners y ∈ {0, 2} shear x by up to +1: x 100..102, twin y 0..2 → glTF z −2..0
    np.testing.assert_allclose(vertices.min(axis=0), [100.0, 0.0, -2.0])
    np.testing.assert_allclose(vertices.max(axis=0), [102.0, 3.0, 0.0])
    assert "matrix" in gltf["nodes"][names["wall2"]]
    np.testing.assert_allclose(world_vertices(gltf, binary, "wall2").min(axis=0), [-1.0, 0.0, -52.0])
    assert stats.geometries == 4 and stats.instanced_nodes == 2  # wall0 and wall2 still share
    assert validate(tmp_path / "baseline.glb")["numErrors"] == 0


# -- materials and diff ----------------------------------------------------------------------

def materials_of(gltf: dict) -> dict[str, dict]:
    names = node_by_name(gltf)
    return {name: gltf["materials"][gltf["meshes"][gltf["nodes"][index]["mesh"]]["primitives"][0]["material"]]
            for name, index in names.items() if "mesh" in gltf["nodes"][index]}


def test_class_colours(tmp_path):
    export_glb(community(), tmp_path / "baseline.glb")
    gltf, _ = read_glb(tmp_path / "baseline.glb")
    materials = materials_of(gltf)
    assert materials["wall0"]["name"] == "class:IfcWall"
    window = materials["window"]
    assert window["name"] == "class:IfcWindow" and window["alphaMode"] == "BLEND"
    red, green, blue, alpha = window["pbrMetallicRoughness"]["baseColorFactor"]
    assert blue > red and alpha < 1.0  # translucent blue glass
    road = materials["road"]["pbrMetallicRoughness"]["baseColorFactor"]
    assert max(road[:3]) < 0.1 and road[3] == 1.0  # dark grey asphalt (linear)
    wall = materials["wall0"]["pbrMetallicRoughness"]["baseColorFactor"]
    assert min(wall[:3]) > 0.7  # light walls


def test_surface_type_wins_over_class_colour(tmp_path):
    twin = community()
    twin.elements["lawn"] = Element(global_id="lawn", ifc_class="IfcGeographicElement", predefined_type="TERRAIN",
                                    container="site", mesh_id="road", psets={"CT_Surface": {"SurfaceType": "green"}})
    export_glb(twin, tmp_path / "lawn.glb")
    gltf, _ = read_glb(tmp_path / "lawn.glb")
    lawn = materials_of(gltf)["lawn"]
    red, green, blue, _ = lawn["pbrMetallicRoughness"]["baseColorFactor"]
    assert lawn["name"] == "class:surface.green" and green > red and green > blue


def proposal(base: Twin) -> Twin:
    other = copy.deepcopy(base)
    other.name = "proposal_a"
    del other.elements["wall2"]                                  # removed
    other.elements["wall1"].transform = translation(15.0, 22.0, 5.0)  # geometry
    other.elements["window"].name = "W1 (double glazed)"         # data
    other.elements["road"].transform = translation(-5.0, -9.0, 0.0)  # geometry + data
    other.elements["road"].psets = {"CT_Road": {"OneWay": True}}
    other.meshes["garden"] = box_mesh(6.0, 4.0, 0.6)             # added
    other.elements["garden"] = Element(global_id="garden", ifc_class="IfcGeographicElement",
                                       container="site", mesh_id="garden", transform=translation(40.0, 10.0, 0.0))
    return other


def test_diff_colours_and_removed_ghosts(tmp_path):
    base = community()
    other = proposal(base)
    diff = diff_twins(base, other)
    stats = export_glb(other, tmp_path / "proposal.glb", diff=diff, colour_by="diff", removed_from=base)
    gltf, binary = read_glb(tmp_path / "proposal.glb")
    names = node_by_name(gltf)
    status = {name: gltf["nodes"][index]["extras"].get("diffStatus") for name, index in names.items()}
    assert {gid: status[gid] for gid in ("wall0", "wall1", "wall2", "window", "road", "garden", "manhole")} == {
        "wall0": "unchanged", "wall1": "geometry", "wall2": "removed", "window": "data",
        "road": "geometry+data", "garden": "added", "manhole": "unchanged"}
    materials = materials_of(gltf)
    assert {gid: materials[gid]["name"] for gid in ("wall0", "wall1", "wall2", "window", "road", "garden")} == {
        "wall0": "diff:unchanged", "wall1": "diff:geometry", "wall2": "diff:removed", "window": "diff:data",
        "road": "diff:geometry+data", "garden": "diff:added"}
    ghost = materials["wall2"]
    assert ghost["alphaMode"] == "BLEND" and ghost["pbrMetallicRoughness"]["baseColorFactor"][3] < 0.5
    red, green, blue, _ = ghost["pbrMetallicRoughness"]["baseColorFactor"]
    assert red > 5 * green and red > 5 * blue
    added = materials["garden"]["pbrMetallicRoughness"]["baseColorFactor"]
    assert added[1] > added[0] and added[1] > added[2]
    # the ghost stands where the baseline had it, in its storey, and shares the baseline's box
    assert stats.ghost_nodes == 1 and stats.element_nodes == len(other.elements)
    assert world_vertices(gltf, binary, "wall2").min(axis=0).tolist() == [20.0, 5.0, -22.0]
    parent = {child: index for index, node in enumerate(gltf["nodes"]) for child in node.get("children", [])}
    assert parent[names["wall2"]] == names["storey1"]
    assert gltf["nodes"][names["wall2"]]["extras"]["ifcClass"] == "IfcWall"
    assert stats.geometries == 4  # box, pane, road, garden: the ghost reuses the box
    assert gltf["scenes"][0]["extras"]["diff"] == {"base": "baseline", "other": "proposal_a"}
    report = validate(tmp_path / "proposal.glb")
    assert report["numErrors"] == 0 and report["numWarnings"] == 0, report["messages"]


def test_class_colours_with_diff_status_in_extras(tmp_path):
    base = community()
    other = proposal(base)
    export_glb(other, tmp_path / "proposal.glb", removed_from=base)  # the diff is computed
    gltf, _ = read_glb(tmp_path / "proposal.glb")
    names = node_by_name(gltf)
    materials = materials_of(gltf)
    assert materials["wall1"]["name"] == "class:IfcWall"
    assert gltf["nodes"][names["wall1"]]["extras"]["diffStatus"] == "geometry"
    assert materials["wall2"]["name"] == "diff:removed"  # ghosts are ghosts in any colouring


def test_diff_colouring_needs_a_diff(tmp_path):
    with pytest.raises(ValueError, match="colour_by='diff'"):
        export_glb(community(), tmp_path / "x.glb", colour_by="diff")
    assert not (tmp_path / "x.glb").exists()


# -- validity --------------------------------------------------------------------------------

def test_validator_finds_no_issue(tmp_path):
    export_glb(community(), tmp_path / "baseline.glb")
    report = validate(tmp_path / "baseline.glb")
    assert (report["numErrors"], report["numWarnings"]) == (0, 0), report["messages"]
    # the validator counts triangles per glTF mesh, not per instance: box, pane and road
    assert report["info"]["totalTriangleCount"] == 3 * 12


def test_validator_script_fails_a_broken_file(tmp_path):
    export_glb(community(), tmp_path / "baseline.glb")
    data = bytearray((tmp_path / "baseline.glb").read_bytes())
    text = data.decode("latin-1").replace('"byteStride":12', '"byteStride":10')
    (tmp_path / "broken.glb").write_bytes(text.encode("latin-1"))
    if not (REPO / "viewer" / "node_modules" / "gltf-validator").is_dir():
        pytest.fail("viewer/node_modules/gltf-validator is missing: run `npm ci --prefix viewer` first")
    result = subprocess.run(["node", str(VALIDATOR), str(tmp_path / "broken.glb")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert json.loads(result.stdout)["numErrors"] > 0


# -- atomic writes and bad geometry ---------------------------------------------------------

def test_nan_vertex_names_the_element_and_leaves_nothing(tmp_path):
    target = tmp_path / "baseline.glb"
    export_glb(community(), target)
    before = target.read_bytes()
    twin = community()
    twin.meshes["road"].vertices[3, 1] = np.nan
    with pytest.raises(TwinError, match="road"):
        export_glb(twin, target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["baseline.glb"]


def test_nan_transform_names_the_element(tmp_path):
    twin = community()
    twin.elements["wall1"].transform[1, 3] = np.inf
    with pytest.raises(TwinError, match="wall1"):
        export_glb(twin, tmp_path / "x.glb")
    assert list(tmp_path.iterdir()) == []


def test_face_index_out_of_range_is_an_error(tmp_path):
    twin = community()
    twin.meshes["pane"] = Mesh(vertices=[[0, 0, 0], [1, 0, 0], [0, 1, 0]], faces=[[0, 1, 3]])
    with pytest.raises(TwinError, match="window.*pane"):
        export_glb(twin, tmp_path / "x.glb")
    assert list(tmp_path.iterdir()) == []


def test_failed_rename_leaves_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "baseline.glb"
    target.write_bytes(b"old")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(TwinError, match="baseline.glb.*No space left"):
        export_glb(community(), target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["baseline.glb"]


def test_unwritable_targets_are_named(tmp_path):
    (tmp_path / "a_folder.glb").mkdir()
    with pytest.raises(TwinError, match="a_folder.glb"):
        export_glb(community(), tmp_path / "a_folder.glb")  # rename onto a directory fails
    assert [p.name for p in tmp_path.iterdir()] == ["a_folder.glb"]
    with pytest.raises(TwinError, match="missing"):
        export_glb(community(), tmp_path / "missing" / "x.glb")


def test_written_file_is_world_readable(tmp_path):
    export_glb(community(), tmp_path / "baseline.glb")
    assert (tmp_path / "baseline.glb").stat().st_mode & 0o444 == 0o444


def test_site_geometry_hangs_below_the_site_node(tmp_path):
    # twin.ifc gives an IfcSite with its own body (terrain) a mesh_id and transform
    twin = community()
    twin.meshes["ground"] = box_mesh(80.0, 60.0, 0.1)
    twin.spatial["site"].mesh_id = "ground"
    twin.spatial["site"].transform = translation(-20.0, -20.0, -0.1)
    export_glb(twin, tmp_path / "baseline.glb")
    gltf, binary = read_glb(tmp_path / "baseline.glb")
    names = node_by_name(gltf)
    site = gltf["nodes"][names["site"]]
    assert "mesh" not in site and "translation" not in site  # its children stay in twin coordinates
    assert names["site:body"] in site["children"]
    assert gltf["nodes"][names["site:body"]]["extras"]["globalId"] == "site"
    np.testing.assert_allclose(world_vertices(gltf, binary, "site:body").min(axis=0), [-20.0, -0.1, -40.0],
                               atol=1e-6)
    assert world_vertices(gltf, binary, "road").min(axis=0).tolist() == [-5.0, 0.0, -(-10.0 + 6.0)]
    assert validate(tmp_path / "baseline.glb")["numErrors"] == 0


def test_ghost_of_a_demolished_building_keeps_its_tree(tmp_path):
    base = community()
    other = copy.deepcopy(base)
    other.name = "demolished"
    for gid in ("wall0", "wall1", "wall2", "window"):
        del other.elements[gid]
    for gid in ("bldg", "storey1"):
        del other.spatial[gid]
    export_glb(other, tmp_path / "demolished.glb", colour_by="diff", removed_from=base)
    gltf, _ = read_glb(tmp_path / "demolished.glb")
    names = node_by_name(gltf)
    parent = {child: index for index, node in enumerate(gltf["nodes"]) for child in node.get("children", [])}
    assert parent[names["wall0"]] == names["storey1"]
    assert parent[names["storey1"]] == names["bldg"] and parent[names["bldg"]] == names["site"]
    assert gltf["nodes"][names["bldg"]]["extras"]["diffStatus"] == "removed"
    assert validate(tmp_path / "demolished.glb")["numErrors"] == 0


def test_city_context_is_exported_as_its_own_group(tmp_path):
    from shapely.geometry import LineString, Polygon

    twin = community()
    twin.context = {"buildings": [{"footprint": Polygon([(100, 0), (120, 0), (120, 12), (100, 12)]), "height_m": 18.0}],
                    "roads": [{"surface": LineString([(0, -20), (200, -20)]).buffer(5.0, cap_style="flat")}], "green": []}
    path = tmp_path / "context.glb"
    export_glb(twin, path)
    gltf, binary = read_glb(path)
    names = node_by_name(gltf)
    assert {"context", "context/building/0", "context/road/0"} <= set(names)
    v = world_vertices(gltf, binary, "context/building/0")
    # Twin (x, y, z) → glTF (x, z, −y): the 18 m block stands on y 0..18 between x 100..120.
    assert v.min(axis=0) == pytest.approx([100.0, 0.0, -12.0], abs=1e-5)
    assert v.max(axis=0) == pytest.approx([120.0, 18.0, 0.0], abs=1e-5)
    assert validate(path)["numErrors"] == 0
