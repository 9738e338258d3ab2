"""The sample community generator (ifc_models/build_sample.py) and the files it wrote.

The generator runs once into a temporary folder (about 6 s); the tests read what it wrote with
ifcopenshell directly, independently of twin.ifc, and compare it with the committed files.
"""
from __future__ import annotations

import importlib.util
import json
import math
import sys
import tomllib
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from shapely.geometry import LineString, Point, Polygon
from shapely.ops import unary_union

ifcopenshell = pytest.importorskip("ifcopenshell")
import ifcopenshell.geom  # noqa: E402
import ifcopenshell.util.element as uel  # noqa: E402
import ifcopenshell.util.placement  # noqa: E402
import ifcopenshell.validate  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "ifc_models" / "sample_community"
OUTPUTS = ("baseline.ifc", "proposal_a.ifc", "proposal_b.toml", "project.toml", "context.geojson", "rain_synthetic_10y.csv")
STATES = ("baseline", "proposal_a")


@pytest.fixture(scope="module")
def gen():
    spec = importlib.util.spec_from_file_location("build_sample", ROOT / "ifc_models" / "build_sample.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module     # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def out(gen, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sample_community")
    gen.build(folder)
    return folder


@pytest.fixture(scope="module")
def files(out):
    return {state: ifcopenshell.open(str(out / f"{state}.ifc")) for state in STATES}


def site_polygon(f) -> Polygon:
    site = f.by_type("IfcSite")[0]
    rep = next(r for r in site.Representation.Representations if r.RepresentationIdentifier == "FootPrint")
    return Polygon(rep.Items[0].Points.CoordList)


def iterate(f, elements, world=True, library="opencascade"):
    """(element, vertices (n, 3), faces (m, 3)) for each element with a body."""
    settings = ifcopenshell.geom.settings()
    settings.set("use-world-coords", world)
    it = ifcopenshell.geom.iterator(settings, f, 1, include=list(elements), geometry_library=library)
    assert it.initialize()
    while True:
        shape = it.get()
        yield (f.by_guid(shape.guid), np.asarray(shape.geometry.verts).reshape(-1, 3),
               np.asarray(shape.geometry.faces).reshape(-1, 3))
        if not it.next():
            break


def ports_of(element):
    return [p for rel in element.IsNestedBy for p in rel.RelatedObjects if p.is_a("IfcDistributionPort")]


def connections(element):
    """(flow direction of the element's port, GlobalId of the element on the other side)."""
    result = []
    for port in ports_of(element):
        for rel in list(port.ConnectedTo) + list(port.ConnectedFrom):
            other = rel.RelatedPort if rel.RelatingPort == port else rel.RelatingPort
            result.append((port.FlowDirection, other.Nests[0].RelatingObject.GlobalId))
    return result


# ------------------------------------------------------------------------------------------


def test_outputs_identical_to_committed_files(out):
    """Reruns are byte-identical (fixed header, keyed GlobalIds), and the committed files are current."""
    for name in OUTPUTS:
        fresh, committed = (out / name).read_bytes(), (COMMITTED / name).read_bytes()
        if fresh != committed:  # compare without handing megabytes to pytest's diff
            at = next((i for i, (a, b) in enumerate(zip(fresh, committed)) if a != b), min(len(fresh), len(committed)))
            pytest.fail(f"{name} differs from the committed file at byte {at}: "
                        f"{fresh[at - 60:at + 60]!r} vs {committed[at - 60:at + 60]!r}; rerun the generator")


@pytest.mark.parametrize("state", STATES)
def test_schema_validation_has_no_errors(files, state):
    logger = ifcopenshell.validate.json_logger()
    ifcopenshell.validate.validate(files[state], logger)
    errors = [s for s in logger.statements if s["level"] == "error"]
    assert errors == []


@pytest.mark.parametrize("state", STATES)
def test_units_and_georeferencing(files, state):
    f = files[state]
    assert f.schema_identifier == "IFC4X3_ADD2"
    length = next(u for u in f.by_type("IfcSIUnit") if u.UnitType == "LENGTHUNIT")
    assert length.Name == "METRE" and length.Prefix is None
    conversion = f.by_type("IfcMapConversion")[0]
    assert conversion.TargetCRS.Name == "EPSG:4549"
    assert 600_000 < conversion.Eastings < 630_000 and 4_140_000 < conversion.Northings < 4_160_000
    assert (conversion.XAxisAbscissa, conversion.XAxisOrdinate) == (1.0, 0.0)
    site = f.by_type("IfcSite")[0]
    assert np.allclose(ifcopenshell.util.placement.get_local_placement(site.ObjectPlacement), np.eye(4))


@pytest.mark.parametrize("state", STATES)
def test_counts(files, state):
    f = files[state]
    buildings = f.by_type("IfcBuilding")
    blocks = [b for b in buildings if uel.get_pset(b, "CT_Residential")]
    assert 26 <= len(blocks) <= 28
    residents = sum(uel.get_pset(b, "CT_Residential", "Residents") for b in blocks)
    assert 6000 <= residents <= 8000
    for b in blocks:
        assert uel.get_pset(b, "Pset_BuildingCommon", "NumberOfStoreys") == 6
        storeys = [s for s in uel.get_decomposition(b) if s.is_a("IfcBuildingStorey")]
        assert len(storeys) == 6
    services = {uel.get_pset(b, "CT_ServicePoint", "ServiceType") for b in buildings} - {None}
    assert services == {"kindergarten", "elderly_station", "community_centre"}
    doors = f.by_type("IfcDoor")
    gates = [d for d in doors if d.PredefinedType == "GATE"]
    assert len(gates) == (3 if state == "baseline" else 4)
    assert all(uel.get_container(g).is_a("IfcSite") for g in gates)
    entrances = [d for d in doors if d not in gates and uel.get_container(d).is_a("IfcBuildingStorey")]
    assert all(uel.get_pset(d, "Pset_DoorCommon", "IsExternal") is True for d in entrances)
    assert sum(1 for d in entrances if d.OverallWidth == 1.2) == sum(
        uel.get_pset(b, "CT_Residential", "DwellingUnits") // 18 for b in blocks)  # one door per stair unit
    windows = f.by_type("IfcWindow")
    assert len(windows) >= 500
    maps = {w.Representation.Representations[0].Items[0].MappingSource.id() for w in windows}
    assert len(maps) == 1 and len(f.by_type("IfcWindowType")) == 1
    assert len(f.by_type("IfcPipeSegment")) >= 60
    assert len(f.by_type("IfcDistributionChamberElement")) >= 62
    assert 15 <= len(f.by_type("IfcFireSuppressionTerminal")) <= 20
    assert len(f.by_type("IfcElement")) < 5000
    sheds = [e for e in f.by_type("IfcElement") if uel.get_pset(e, "CT_Retrofit", "Illegal")]
    assert len(sheds) == (8 if state == "baseline" else 0)
    assembly = [s for s in f.by_type("IfcSpace") if uel.get_pset(s, "CT_Safety", "AssemblyArea")]
    assert 3 <= len(assembly) <= 4


@pytest.mark.parametrize("library", ["opencascade", "cgal"])
@pytest.mark.parametrize("state", STATES)
def test_surfaces_tile_the_site(files, state, library):
    """Upward faces of the CT_Surface elements cover the site once: the sum of their plan areas is
    the site area within 0.5 %, and so is the area of their union (no overlaps). Both geometry
    kernels agree (CGAL rejects degenerate profiles that OpenCascade tolerates)."""
    f = files[state]
    site = site_polygon(f)
    surfaces = [e for e in f.by_type("IfcElement") if uel.get_pset(e, "CT_Surface")]
    total, shapes = 0.0, []
    for element, v, tri in iterate(f, surfaces, library=library):
        a, b, c = v[tri[:, 0]], v[tri[:, 1]], v[tri[:, 2]]
        n = np.cross(b - a, c - a)
        up = n[:, 2] > 0.5 * np.linalg.norm(n, axis=1)
        total += float(n[up, 2].sum() / 2)
        shapes.append(unary_union([Polygon(t[:, :2]) for t in v[tri[up]]]))
    assert abs(total - site.area) / site.area < 0.005
    assert abs(unary_union(shapes).area - total) / site.area < 0.005
    # paving is never a road, and every road pavement has CT_Road
    for e in surfaces:
        kind = uel.get_pset(e, "CT_Surface", "SurfaceType")
        assert (uel.get_pset(e, "CT_Road") is not None) == (kind == "road"), e.Name
        assert (kind == "road") == e.is_a("IfcPavement")


def centrelines(f):
    """Road centrelines per the mapping: local -X to +X end of the body at mid-width, world plan coords."""
    pavements = f.by_type("IfcPavement")
    result = {}
    for element, v, _ in iterate(f, pavements, world=False):
        m = ifcopenshell.util.placement.get_local_placement(element.ObjectPlacement)
        (x0, y0, _), (x1, y1, _) = v.min(axis=0), v.max(axis=0)
        width = uel.get_pset(element, "CT_Road", "Width")
        assert abs((y1 - y0) - width) < 1e-3 and abs(y0 + y1) < 1e-3 and abs(x0) < 1e-6
        ends = [m @ np.array([x, 0.0, 0.0, 1.0]) for x in (x0, x1)]
        result[element.GlobalId] = (tuple(ends[0][:2]), tuple(ends[1][:2]))
    return result


@pytest.mark.parametrize("state", STATES)
def test_roads_form_a_network_reaching_the_gates(files, state):
    f = files[state]
    lines = centrelines(f)
    site = site_polygon(f)
    G = nx.Graph()
    key = lambda p: (round(p[0], 2), round(p[1], 2))  # noqa: E731
    for a, b in lines.values():
        G.add_edge(key(a), key(b))
    assert nx.is_connected(G)
    for node in G.nodes:   # a dead end is a gate on the boundary
        if G.degree(node) == 1:
            assert site.exterior.distance(Point(node)) < 1e-3, node
    for gate in (d for d in f.by_type("IfcDoor") if d.PredefinedType == "GATE"):
        m = ifcopenshell.util.placement.get_local_placement(gate.ObjectPlacement)
        centre = m @ np.array([gate.OverallWidth / 2, 0.0, 0.0, 1.0])
        assert min(math.dist(centre[:2], n) for n in G.nodes) < 1.0, gate.Name


def test_one_way_loop_is_consistently_oriented(files):
    f = files["proposal_a"]
    lines = centrelines(f)
    one_way = [g for g in lines if uel.get_pset(f.by_guid(g), "CT_Road", "OneWay")]
    assert len(one_way) >= 4
    D = nx.DiGraph()
    for g in one_way:
        a, b = lines[g]
        D.add_edge((round(a[0], 2), round(a[1], 2)), (round(b[0], 2), round(b[1], 2)))
    assert all(D.in_degree(n) == 1 and D.out_degree(n) == 1 for n in D.nodes)
    assert nx.is_strongly_connected(D)
    # segments that run against the baseline direction kept their GlobalId but were flipped
    base = centrelines(files["baseline"])
    flipped = [g for g in one_way if math.dist(base[g][0], lines[g][1]) < 1e-3]
    assert flipped


@pytest.mark.parametrize("state", STATES)
def test_storm_network_drains_to_one_outfall(files, state):
    f = files[state]
    pipes = f.by_type("IfcPipeSegment")
    nodes = f.by_type("IfcDistributionChamberElement")
    outfalls = [n for n in nodes if uel.get_pset(n, "CT_StormNode", "NodeKind") == "OUTFALL"]
    assert len(outfalls) == 1
    assert uel.get_pset(outfalls[0], "CT_StormNode", "Boundary") == "FREE"
    system = f.by_type("IfcDistributionSystem")[0]
    assert system.PredefinedType == "STORMWATER"
    members = {e.GlobalId for rel in system.IsGroupedBy for e in rel.RelatedObjects}
    D = nx.DiGraph()
    diameter = {}
    for p in pipes:
        assert p.GlobalId in members
        links = connections(p)
        assert len(links) == 2, p.Name
        (upstream,) = [g for d, g in links if d == "SINK"]
        (downstream,) = [g for d, g in links if d == "SOURCE"]
        D.add_edge(upstream, downstream)
        ps = uel.get_pset(p, "CT_StormPipe")
        length = uel.get_pset(p, "Qto_PipeSegmentBaseQuantities", "Length")
        assert (ps["UpstreamInvert"] - ps["DownstreamInvert"]) / length >= 0.003 - 1e-5
        assert -4.0 - 1e-6 <= ps["DownstreamInvert"] < ps["UpstreamInvert"] <= -1.2 + 1e-6
        assert ps["System"] in ("STORMWATER", "COMBINED") and ps["ManningN"] == 0.013
        if state == "baseline":
            assert 0.3 <= ps["Diameter"] <= 1.5  # rational method, 1-year storm, 20 ha
        diameter[(upstream, downstream)] = ps["Diameter"]
    assert len(D) == len(nodes)
    for (u, v), d in diameter.items():  # pipes never shrink downstream
        assert all(d <= diameter[(v, w)] + 1e-9 for w in D.successors(v))
    assert all(D.out_degree(n) == 1 for n in D if n != outfalls[0].GlobalId)   # dendritic
    assert nx.is_directed_acyclic_graph(D)
    assert all(nx.has_path(D, n.GlobalId, outfalls[0].GlobalId) for n in nodes)
    # diameters never shrink downstream (proposal A upsizes the last pipes toward the outfall)
    by_node = {}
    for p in pipes:
        up = [g for d, g in connections(p) if d == "SINK"][0]
        by_node[up] = uel.get_pset(p, "CT_StormPipe", "Diameter")
    for a, b in D.edges:
        if a in by_node and b in by_node:
            assert by_node[b] >= by_node[a] - 1e-9
    combined = sum(uel.get_pset(p, "CT_StormPipe", "System") == "COMBINED" for p in pipes)
    assert combined == (10 if state == "baseline" else 0)


def test_global_ids_are_stable_across_states(gen, files):
    base, prop = files["baseline"], files["proposal_a"]
    b = {e.GlobalId: e for e in base.by_type("IfcProduct")}
    a = {e.GlobalId: e for e in prop.by_type("IfcProduct")}
    removed = set(b) - set(a)
    assert removed and all(uel.get_pset(b[g], "CT_Retrofit", "Illegal") for g in removed)
    for g in set(b) & set(a):
        assert (b[g].is_a(), b[g].Name) == (a[g].is_a(), a[g].Name)
    added = [a[g] for g in set(a) - set(b)]
    assert {e.is_a() for e in added} >= {"IfcTransportElement", "IfcCovering", "IfcTank", "IfcDoor",
                                         "IfcGeographicElement", "IfcSlab", "IfcSpace", "IfcPavement", "IfcWall"}
    # the GlobalIds are derived from stable keys
    assert gen.gid("block/17") in b and gen.gid("block/17") == gen.gid("block/17")
    # elements changed by proposal A kept their GlobalId
    for key, pset, name in [("paving/lot/W1", "CT_Surface", "SurfaceType"), ("wall/2/0", None, None)]:
        assert gen.gid(key) in b and gen.gid(key) in a
    assert uel.get_pset(a[gen.gid("paving/lot/W1")], "CT_Surface", "SurfaceType") == "permeable_paving"
    assert uel.get_pset(a[gen.gid("paving/lot/W1")], "CT_LID", "LIDType") == "permeable_pavement"
    renewed = {p.GlobalId for p in prop.by_type("IfcPipeSegment") if uel.get_pset(p, "CT_StormPipe", "Renewed")}
    assert renewed <= set(b)
    # renewed = separated from sewage, or enlarged to the 3-year standard; nothing else changes size
    combined = {p.GlobalId for p in base.by_type("IfcPipeSegment") if uel.get_pset(p, "CT_StormPipe", "System") == "COMBINED"}
    grown = {g for g in renewed if uel.get_pset(a[g], "CT_StormPipe", "Diameter") > uel.get_pset(b[g], "CT_StormPipe", "Diameter")}
    assert len(combined) == 10 and len(grown) > 40 and renewed == combined | grown


def test_proposal_b_refers_to_the_baseline(out, files):
    actions = tomllib.loads((out / "proposal_b.toml").read_text(encoding="utf-8"))
    assert actions["state"]["base"] == "baseline"
    kinds = [a["kind"] for a in actions["actions"]]
    assert set(kinds) == {"remove_building", "add_building", "add_element", "set_property"}
    base = files["baseline"]
    removed = base.by_guid(actions["actions"][0]["building"])
    assert removed.is_a("IfcBuilding") and uel.get_pset(removed, "CT_Retrofit", "SafetyGrade") == "D"
    for a in actions["actions"]:
        if a["kind"] == "set_property":
            assert uel.get_pset(base.by_guid(a["element"]), a["pset"]) is not None
        if "footprint" in a:
            assert Polygon(a["footprint"]).within(site_polygon(base))
    project = tomllib.loads((out / "project.toml").read_text(encoding="utf-8"))
    assert [s["name"] for s in project["states"]] == ["baseline", "proposal_a", "proposal_b"]
    assert project["project"]["crs"] == "EPSG:4549"


def test_context_is_outside_the_site(out, files):
    doc = json.loads((out / "context.geojson").read_text(encoding="utf-8"))
    conversion = files["baseline"].by_type("IfcMapConversion")[0]
    site = Polygon([(x + conversion.Eastings, y + conversion.Northings) for x, y in site_polygon(files["baseline"]).exterior.coords])
    by_layer: dict[str, list] = {}
    for feature in doc["features"]:
        by_layer.setdefault(feature["properties"]["layer"], []).append(feature)
    assert Polygon(by_layer["site_boundary"][0]["geometry"]["coordinates"][0]).equals(site)
    assert 20 <= len(by_layer["building"]) <= 40
    for feature in by_layer["building"]:
        assert not Polygon(feature["geometry"]["coordinates"][0]).intersects(site)
        assert feature["properties"]["height_m"] > 0 and feature["properties"]["storeys"] > 0
    assert all(LineString(r["geometry"]["coordinates"]).length > 0 for r in by_layer["road"])
    kinds = sorted(p["properties"]["service_type"] for p in by_layer["service_point"])
    assert kinds == ["bus_stop", "bus_stop", "clinic", "supermarket"]
    for p in by_layer["service_point"]:
        assert 250 <= Point(p["geometry"]["coordinates"]).distance(site) <= 900
