"""twin.ifc: schemas, units, georeferencing, instancing, statuses, ports, cache, bad input."""
import json
import math
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import ifcopenshell

from ifc_factory import make_ifc
from twin.errors import IfcFileError
from twin.ifc import load_ifc

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("schema", ["IFC2X3", "IFC4", "IFC4X3_ADD2"])
def test_every_schema_loads_with_counts_matching_ifcopenshell(tmp_path, schema):
    path = tmp_path / f"{schema}.ifc"
    facts = make_ifc(path, schema=schema, windows=7)
    twin = load_ifc(path, cache=False)
    model = ifcopenshell.open(str(path))
    assert twin.schema == schema
    for cls, count in twin.by_class().items():
        assert count == len(model.by_type(cls, include_subtypes=False)), cls
    assert twin.by_class()["IfcWindow"] == 7
    wall = twin.elements[facts["walls"][1]]
    assert wall.storey == "1F" and wall.building == facts["building"]
    assert wall.psets["Pset_WallCommon"]["IsExternal"] is True


def test_millimetre_file_comes_out_in_metres(tmp_path):
    path = tmp_path / "mm.ifc"
    facts = make_ifc(path, unit="MILLI")
    twin = load_ifc(path, cache=False)
    wall = twin.elements[facts["walls"][0]]
    extent = np.ptp(twin.world_vertices(wall), axis=0)
    # The wall is 10 m × 0.2 m × 3 m; a unit slip would be off by 1000.
    assert extent == pytest.approx([10.0, 0.2, 3.0], abs=1e-6)
    assert wall.psets["Qto_WallBaseQuantities"]["Length"] == pytest.approx(10.0)


def test_map_conversion_applied_once_with_rotation(tmp_path):
    path = tmp_path / "geo.ifc"
    facts = make_ifc(path, unit="MILLI", georef=(616000.0, 4150000.0, 10.0, 30.0))
    twin = load_ifc(path, cache=False)
    assert twin.crs == "EPSG:4549"
    assert twin.origin == pytest.approx((616000.0, 4150000.0, 10.0))
    assert not twin.warnings
    v = twin.world_vertices(twin.elements[facts["walls"][0]])
    # Wall 0 spans local x 0..10, y 0..0.2; rotated by 30° its easternmost corner is (10, 0) → (8.660, 5.000).
    far = v[np.argmax(v[:, 0])]
    assert far[:2] == pytest.approx([10 * math.cos(math.radians(30)), 10 * math.sin(math.radians(30))], abs=1e-6)


def test_site_already_in_map_coordinates_is_not_georeferenced_twice(tmp_path):
    path = tmp_path / "twice.ifc"
    facts = make_ifc(path, georef=(616000.0, 4150000.0, 0.0, 0.0), site_at=(616020.0, 4150030.0))
    twin = load_ifc(path, cache=False)
    assert any("georeferenced twice" in w for w in twin.warnings)
    v = twin.world_vertices(twin.elements[facts["walls"][0]])
    # Wall placed at map (616020, 4150030): 20 m east, 30 m north of the origin, not 616 km.
    assert v[:, 0].min() == pytest.approx(20.0, abs=1e-6)
    assert v[:, 1].min() == pytest.approx(30.0, abs=1e-6)


def test_large_engineering_coordinates_keep_millimetre_precision(tmp_path):
    path = tmp_path / "far.ifc"
    facts = make_ifc(path, site_at=(500123.456, 4200456.789))
    twin = load_ifc(path, cache=False)
    assert twin.origin[0] == pytest.approx(500100.0) and twin.origin[1] == pytest.approx(4200500.0)
    v = twin.world_vertices(twin.elements[facts["walls"][0]])
    assert v[:, 0].min() + twin.origin[0] == pytest.approx(500123.456, abs=1e-3)
    assert all(np.abs(m.vertices).max() < 1e4 for m in twin.meshes.values())


def test_repeated_windows_share_one_mesh(tmp_path):
    path = tmp_path / "windows.ifc"
    facts = make_ifc(path, windows=40)
    twin = load_ifc(path, cache=False)
    mesh_ids = {twin.elements[g].mesh_id for g in facts["windows"]}
    assert len(mesh_ids) == 1
    positions = {tuple(np.round(twin.elements[g].transform[:3, 3], 3)) for g in facts["windows"]}
    assert len(positions) == 40


def test_renovation_status_gives_before_and_after(tmp_path):
    path = tmp_path / "status.ifc"
    existing, demolish, new = make_ifc(path, statuses=True)["walls"]
    before = load_ifc(path, phase="before")
    after = load_ifc(path, phase="after")
    assert {existing, demolish} <= set(before.elements) and new not in before.elements
    assert {existing, new} <= set(after.elements) and demolish not in after.elements
    assert len(load_ifc(path).elements) == 3  # phase "all" keeps the file as it is


def test_ports_give_pipe_connectivity_and_storm_layers(tmp_path):
    path = tmp_path / "storm.ifc"
    facts = make_ifc(path, schema="IFC4", storm=True)
    twin = load_ifc(path, cache=False)
    pipe = twin.elements[facts["pipe"]]
    assert set(pipe.connected_to) == set(facts["chambers"])
    assert "STORMWATER" in pipe.systems
    (layer_pipe,) = twin.layers.pipes
    assert layer_pipe.length_m == pytest.approx(30.0, abs=1e-6)
    assert layer_pipe.diameter_m == pytest.approx(0.3, abs=0.01)  # polygonised circle: within 1 cm
    assert (layer_pipe.from_node, layer_pipe.to_node) == tuple(facts["chambers"])
    assert layer_pipe.upstream_invert_m == pytest.approx(-2.0, abs=0.01)


@pytest.mark.parametrize("unit", ["METERS", "MILLIMETERS"])
def test_pipe_bore_comes_from_the_standard_pset_not_the_outer_wall(tmp_path, unit):
    """Hydraulics need the bore: a hollow 300 mm pipe declaring InnerDiameter 260 mm is a 0.26 m pipe."""
    path = tmp_path / "hollow.ifc"
    make_ifc(path, schema="IFC4", unit=unit, storm="hollow")
    (layer_pipe,) = load_ifc(path, cache=False).layers.pipes
    assert layer_pipe.diameter_m == pytest.approx(0.26, abs=1e-9)
    assert layer_pipe.upstream_invert_m == pytest.approx(-2.0 + 0.02, abs=0.01)  # bore bottom, above the wall


def test_cache_returns_the_same_twin(tmp_path):
    path = tmp_path / "cached.ifc"
    make_ifc(path, windows=5)
    cold = load_ifc(path, cache=True)
    warm = load_ifc(path, cache=True)
    assert set(warm.elements) == set(cold.elements)
    assert all(np.array_equal(warm.meshes[k].vertices, cold.meshes[k].vertices) for k in cold.meshes)
    leftovers = [p for p in Path(os.environ["TWIN_CACHE_DIR"]).iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_ifczip_and_release_candidate_header(tmp_path):
    path = tmp_path / "a.ifc"
    make_ifc(path, schema="IFC4X3_ADD2")
    archive = tmp_path / "a.ifczip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(path, "model/a.ifc")
    assert len(load_ifc(archive, cache=False).elements) == 3
    rc = tmp_path / "rc4.ifc"
    rc.write_text(path.read_text().replace("FILE_SCHEMA(('IFC4X3_ADD2'))", "FILE_SCHEMA(('IFC4X3_RC4'))"))
    twin = load_ifc(rc, cache=False)
    assert twin.schema == "IFC4X3_RC4" and len(twin.elements) == 3
    assert any("pre-release" in w for w in twin.warnings)


def _bad_files(tmp_path):
    good = tmp_path / "good.ifc"
    make_ifc(good)
    text = good.read_text()
    cases = {
        "notifc.ifc": ("hello, I am a text file\n", "not an IFC file"),
        "truncated.ifc": (text[: len(text) // 2], "truncated"),
        "schema.ifc": (text.replace("FILE_SCHEMA(('IFC4'))", "FILE_SCHEMA(('IFC9'))"), "unknown schema"),
        "empty.ifc": ("ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION((''),'2;1');\nFILE_NAME('','',(''),(''),'','','');\n"
                      "FILE_SCHEMA(('IFC4'));\nENDSEC;\nDATA;\nENDSEC;\nEND-ISO-10303-21;\n", "empty model"),
    }
    paths = {}
    for name, (content, expected) in cases.items():
        (tmp_path / name).write_text(content)
        paths[tmp_path / name] = expected
    empty_zip = tmp_path / "nothing.ifczip"
    with zipfile.ZipFile(empty_zip, "w") as z:
        z.writestr("readme.txt", "no model here")
    paths[empty_zip] = "holds no .ifc"
    return paths


def test_bad_input_raises_one_clear_error(tmp_path):
    for path, expected in _bad_files(tmp_path).items():
        with pytest.raises(IfcFileError) as info:
            load_ifc(path, cache=False)
        assert expected in str(info.value) and str(path) in str(info.value)


def test_cli_bad_input_is_one_line_on_stderr(tmp_path):
    for path, expected in _bad_files(tmp_path).items():
        run = subprocess.run([sys.executable, "-m", "twin.cli", "info", str(path), "--json"], capture_output=True, text=True, cwd=ROOT)
        assert run.returncode == 2
        assert run.stdout == ""
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0]


def test_cli_info_json_contract(tmp_path):
    path = tmp_path / "ok.ifc"
    make_ifc(path, storm=True, windows=3)
    run = subprocess.run([sys.executable, "-m", "twin.cli", "info", str(path), "--json"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    info = json.loads(run.stdout)
    for key in ("schema", "elements", "by_class", "layers", "warnings"):
        assert key in info
    for layer in ("buildings", "entrances", "roads", "parking", "gates", "pipes", "manholes", "outfalls", "surfaces",
                  "lid_facilities", "service_points", "assembly_areas", "hydrants"):
        assert layer in info["layers"]
    assert info["elements"] == 3 + 3 + 3  # walls, windows, pipe + 2 chambers
    assert info["layers"]["pipes"] == 1 and info["layers"]["manholes"] == 2


def test_comment_after_the_trailer_is_not_truncation(tmp_path):
    path = tmp_path / "commented.ifc"
    make_ifc(path)
    path.write_text(path.read_text() + "/* written by a generator */\n")
    assert len(load_ifc(path, cache=False).elements) == 3


def test_project_library_beside_the_project_keeps_metres(tmp_path):
    # Two contexts (IfcProject + IfcProjectLibrary) make ifcopenshell's geometry skip unit
    # conversion; the loader converts itself, so a millimetre wall is still 10 m long.
    path = tmp_path / "library.ifc"
    facts = make_ifc(path, unit="MILLI")
    model = ifcopenshell.open(str(path))
    model.createIfcProjectLibrary(ifcopenshell.guid.new(), None, "Library")
    model.write(str(path))
    twin = load_ifc(path, cache=False)
    extent = np.ptp(twin.world_vertices(twin.elements[facts["walls"][0]]), axis=0)
    assert extent == pytest.approx([10.0, 0.2, 3.0], abs=1e-6)


def test_property_with_its_own_unit(tmp_path):
    path = tmp_path / "units.ifc"
    facts = make_ifc(path)
    model = ifcopenshell.open(str(path))
    wall = model.by_guid(facts["walls"][0])
    millimetre = model.createIfcSIUnit(None, "LENGTHUNIT", "MILLI", "METRE")
    prop = model.createIfcPropertySingleValue("ClearWidth", None, model.create_entity("IfcLengthMeasure", 900.0), millimetre)
    pset = model.createIfcPropertySet(ifcopenshell.guid.new(), None, "CT_Door", None, [prop])
    model.createIfcRelDefinesByProperties(ifcopenshell.guid.new(), None, None, None, [wall], pset)
    model.write(str(path))
    twin = load_ifc(path, cache=False)
    assert twin.elements[facts["walls"][0]].psets["CT_Door"]["ClearWidth"] == pytest.approx(0.9)


def test_element_by_element_when_the_iterator_cannot_run(tmp_path, monkeypatch):
    # Force the last-resort path (taken when one broken representation stops the iterator in
    # some ifcopenshell versions): every element is then triangulated on its own.
    import twin.ifc

    path = tmp_path / "fallback.ifc"
    facts = make_ifc(path, windows=4)
    reference = load_ifc(path, cache=False)
    monkeypatch.setattr(twin.ifc, "GEOMETRY_LIBRARIES", ("no-such-kernel",))
    fallback = load_ifc(path, cache=False)
    assert any("element by element" in w for w in fallback.warnings)
    for gid in facts["walls"] + facts["windows"]:
        assert np.allclose(fallback.world_vertices(fallback.elements[gid]).min(axis=0),
                           reference.world_vertices(reference.elements[gid]).min(axis=0), atol=1e-6)


def test_cli_diff_text_and_json(tmp_path):
    base = tmp_path / "a.ifc"
    make_ifc(base, statuses=True)
    model = ifcopenshell.open(str(base))
    wall = model.by_type("IfcWall")[0]
    gone = wall.GlobalId
    model.remove(wall)  # one element gone, nothing else changed
    other = tmp_path / "b.ifc"
    model.write(str(other))
    text = subprocess.run([sys.executable, "-m", "twin.cli", "diff", str(base), str(other)], capture_output=True, text=True, cwd=ROOT)
    assert text.returncode == 0, text.stderr
    assert "removed 1" in text.stdout and "added 0" in text.stdout
    data = subprocess.run([sys.executable, "-m", "twin.cli", "diff", str(base), str(other), "--json"], capture_output=True, text=True, cwd=ROOT)
    assert json.loads(data.stdout)["removed"] == [gone]
