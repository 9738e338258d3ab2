"""twin.plan: plan-view PNGs — size, colours where the layers are, diff ghosts, atomic writes."""
from __future__ import annotations

import copy
import os
import time
from pathlib import Path

import numpy as np
import pytest
import shapely
from matplotlib.colors import to_rgb
from matplotlib.image import imread

from twin import plan
from twin.actions import apply_actions
from twin.diff import diff_twins
from twin.errors import TwinError
from twin.geometry import extrude_footprint, global_id
from twin.model import Element, Mesh, SpatialNode, Twin
from twin.plan import PLAN_WIDTH_PX, SIDE_BY_SIDE_WIDTH_PX, PlanError, plan_map, side_by_side

REPO = Path(__file__).resolve().parents[2]
SITE = [(0, 0), (120, 0), (120, 90), (0, 90)]
LAWN = [(5, 55), (45, 55), (45, 85), (5, 85)]             # green, centre (25, 70)
ROAD = [(0, 20), (120, 20), (120, 27), (0, 27)]            # road band, centreline y = 23.5
BLOCK = [(60, 45), (100, 45), (100, 60), (60, 60)]         # a 6-storey walk-up
SHED = [(60, 70), (80, 70), (80, 84), (60, 84)]            # illegal shed, removed by the proposal
GARDEN = [(88, 70), (112, 70), (112, 84), (88, 84)]        # rain garden added by the proposal


def _site_twin() -> Twin:
    """An empty state with a site whose slab outlines the site boundary."""
    twin = Twin(name="baseline", source="test", schema="IFC4X3_ADD2")
    vertices, faces = prism(_polygon(SITE), -0.1, 0.0)
    twin.meshes["site"] = Mesh(vertices=vertices, faces=faces)
    twin.spatial = {
        "project": SpatialNode(global_id="project", ifc_class="IfcProject", name="Test community"),
        "site": SpatialNode(global_id="site", ifc_class="IfcSite", name="Site", parent="project", mesh_id="site"),
    }
    return twin


def prism(polygon, z0: float, z1: float):
    """(vertices, faces) of a closed prism over `polygon` from z0 to z1."""
    return extrude_footprint(polygon, z1 - z0, base_z=z0)


def _polygon(points):
    from shapely.geometry import Polygon

    return Polygon(points)


def community() -> Twin:
    """A small community built with the project's own retrofit actions: lawn, road, a block,
    an illegal shed, a parking lot, storm pipes to an outfall, a gate, a hydrant, an assembly
    area and a service building."""
    actions = [
        {"kind": "add_element", "key": "lawn", "ifc_class": "IfcGeographicElement", "predefined_type": "TERRAIN",
         "footprint": LAWN, "height_m": 0.1},
        {"kind": "add_element", "key": "road", "ifc_class": "IfcPavement", "name": "Main road", "footprint": ROAD,
         "height_m": 0.2, "psets": {"CT_Road": {"Width": 7.0, "OneWay": True}, "CT_Surface": {"SurfaceType": "road"}}},
        {"kind": "add_element", "key": "paving", "ifc_class": "IfcSlab", "footprint": [(50, 30), (118, 30), (118, 40), (50, 40)],
         "height_m": 0.1, "psets": {"CT_Surface": {"SurfaceType": "paving"}}},
        {"kind": "add_building", "key": "block", "name": "Block 1", "footprint": BLOCK, "storeys": 6,
         "psets": {"CT_Residential": {"DwellingUnits": 36}}},
        {"kind": "add_building", "key": "centre", "name": "Elderly station", "footprint": [(8, 32), (30, 32), (30, 46), (8, 46)],
         "storeys": 2, "psets": {"CT_ServicePoint": {"ServiceType": "elderly_station"}}},
        {"kind": "add_element", "key": "shed", "ifc_class": "IfcBuildingElementProxy", "name": "Shed", "footprint": SHED,
         "height_m": 2.5, "psets": {"CT_Retrofit": {"Illegal": True}}},
        {"kind": "add_element", "key": "parking", "ifc_class": "IfcSpace", "predefined_type": "PARKING", "footprint":
         [(5, 2), (45, 2), (45, 16), (5, 16)], "height_m": 0.1, "psets": {"CT_Parking": {"Spaces": 18, "EVChargers": 4}}},
        {"kind": "add_element", "key": "assembly", "ifc_class": "IfcSpace", "footprint": [(50, 5), (80, 5), (80, 16), (50, 16)],
         "height_m": 0.1, "psets": {"CT_Safety": {"AssemblyArea": True}}},
        {"kind": "add_element", "key": "pipe1", "ifc_class": "IfcPipeSegment", "footprint": [(10, 29.7), (60, 29.7), (60, 30.3), (10, 30.3)],
         "base_m": -2.0, "height_m": 0.6, "psets": {"CT_StormPipe": {"Diameter": 0.6}}},
        {"kind": "add_element", "key": "mh1", "ifc_class": "IfcDistributionChamberElement", "footprint": [(9.5, 29.5), (10.5, 29.5), (10.5, 30.5), (9.5, 30.5)],
         "base_m": -2.2, "height_m": 2.2},
        {"kind": "add_element", "key": "outfall", "ifc_class": "IfcDistributionChamberElement", "footprint": [(59.5, 29.5), (60.5, 29.5), (60.5, 30.5), (59.5, 30.5)],
         "base_m": -2.4, "height_m": 2.4, "psets": {"CT_StormNode": {"NodeKind": "OUTFALL"}}},
        {"kind": "add_element", "key": "gate", "ifc_class": "IfcDoor", "predefined_type": "GATE", "footprint": [(0, 21), (0.3, 21), (0.3, 26), (0, 26)],
         "height_m": 2.0, "psets": {"CT_Gate": {"ClearWidth": 5.0}}},
        {"kind": "add_element", "key": "hydrant", "ifc_class": "IfcFireSuppressionTerminal", "predefined_type": "FIREHYDRANT",
         "footprint": [(50, 28), (50.3, 28), (50.3, 28.3), (50, 28.3)], "height_m": 0.8},
    ]
    return apply_actions(_site_twin(), actions, name="baseline", source="test")


def proposal(base: Twin) -> Twin:
    """The baseline without the shed and with a rain garden."""
    actions = [
        {"kind": "remove", "elements": [global_id("shed")]},
        {"kind": "add_element", "key": "garden", "ifc_class": "IfcGeographicElement", "name": "Rain garden", "footprint": GARDEN,
         "height_m": 0.3, "psets": {"CT_LID": {"LIDType": "rain_garden"}}},
    ]
    return apply_actions(base, actions, name="proposal_a", source="test")


def pixel_of(png: np.ndarray, ax_box: tuple[float, float, float, float], limits, x: float, y: float) -> np.ndarray:
    """RGB (0–1) of the pixel showing twin point (x, y), given the map's pixel box and limits."""
    left, bottom, width, height = ax_box
    xmin, xmax, ymin, ymax = limits
    column = int(round(left + (x - xmin) / (xmax - xmin) * width))
    row = int(round(png.shape[0] - (bottom + (y - ymin) / (ymax - ymin) * height)))
    return png[row, column, :3]


@pytest.fixture
def spy_maps(monkeypatch):
    """Record each map's pixel box and data limits as the picture is finished."""
    recorded = []
    original = plan._Canvas.finish

    def finish(self, legend):
        original(self, legend)
        for ax in self.maps:
            box = ax.get_window_extent()
            recorded.append(((box.x0, box.y0, box.width, box.height), (*ax.get_xlim(), *ax.get_ylim())))

    monkeypatch.setattr(plan._Canvas, "finish", finish)
    return recorded


def is_close(rgb, hex_colour: str, tolerance: float = 0.06) -> bool:
    return bool(np.all(np.abs(np.asarray(rgb) - np.asarray(to_rgb(hex_colour))) <= tolerance))


def test_plan_png_has_the_expected_width_and_colours_where_layers_are(tmp_path, spy_maps):
    twin = community()
    out = plan_map(twin, tmp_path / "plan.png")
    assert out == tmp_path / "plan.png"
    png = imread(out)
    assert png.shape[1] == PLAN_WIDTH_PX
    assert plan.MAP_MIN_HEIGHT_PX < png.shape[0] <= plan.MAP_MAX_HEIGHT_PX + 200
    (box, limits), = spy_maps
    # The middle of the lawn is green: G clearly above R and B.
    lawn = pixel_of(png, box, limits, 25.0, 70.0)
    assert is_close(lawn, plan.SURFACE_STYLES["green"].face), lawn
    assert lawn[1] > lawn[0] + 0.1 and lawn[1] > lawn[2] + 0.2
    # Off the centreline (y 23.5) and away from arrows, the road is dark grey: R ≈ G ≈ B < 0.45.
    road = pixel_of(png, box, limits, 70.0, 21.5)
    assert np.ptp(road) < 0.03 and road.max() < 0.45, road
    # The illegal shed is filled red (outside its central X marker).
    shed = pixel_of(png, box, limits, 62.5, 72.5)
    assert shed[0] > 0.8 and shed[1] < 0.5 and shed[2] < 0.5, shed
    # Outside the site, the map background.
    assert is_close(pixel_of(png, box, limits, limits[0] + 0.5, limits[3] - 0.5), plan.MAP_BACKGROUND, 0.02)


def test_equal_aspect_one_metre_is_as_wide_as_it_is_tall(tmp_path, spy_maps):
    plan_map(community(), tmp_path / "plan.png")
    (box, limits), = spy_maps
    x_scale = box[2] / (limits[1] - limits[0])
    y_scale = box[3] / (limits[3] - limits[2])
    assert x_scale == pytest.approx(y_scale, rel=1e-3)


def test_diff_mode_draws_the_removed_shed_as_a_red_ghost_and_the_garden_green(tmp_path, spy_maps):
    base = community()
    other = proposal(base)
    diff = diff_twins(base, other)
    assert diff.removed == [global_id("shed")]
    out = plan_map(other, tmp_path / "diff.png", diff=diff, base=base)
    png = imread(out)
    (box, limits), = spy_maps
    # Sample a few points inside the ghost: hatch lines and the tinted fill are both red-ish.
    ghost = np.array([pixel_of(png, box, limits, x, y) for x in (63.0, 66.0, 70.0, 74.0) for y in (73.0, 77.0, 81.0)])
    assert np.all(ghost[:, 0] > ghost[:, 1] + 0.08) and np.all(ghost[:, 0] > ghost[:, 2] + 0.08), ghost
    garden = pixel_of(png, box, limits, 93.0, 73.0)  # off centre: the label "Rain garden" sits there
    assert is_close(garden, plan.STATUS_STYLES["added"].face), garden
    block = pixel_of(png, box, limits, 80.0, 52.0)  # unchanged: light grey
    assert np.ptp(block) < 0.03 and 0.75 < block.mean() < 0.95, block


def test_diff_mode_without_base_draws_no_ghost(tmp_path, spy_maps):
    base = community()
    other = proposal(base)
    png = imread(plan_map(other, tmp_path / "diff.png", diff=diff_twins(base, other)))
    (box, limits), = spy_maps
    shed = pixel_of(png, box, limits, 66.0, 77.0)
    assert not (shed[0] > shed[1] + 0.08), shed


def test_side_by_side_has_two_maps_with_the_same_extent(tmp_path, spy_maps):
    base = community()
    other = proposal(base)
    png = imread(side_by_side(base, other, tmp_path / "sbs.png", diff_twins(base, other)))
    assert png.shape[1] == SIDE_BY_SIDE_WIDTH_PX
    (box_a, limits_a), (box_b, limits_b) = spy_maps
    assert limits_a == pytest.approx(limits_b)
    assert box_a[2:] == pytest.approx(box_b[2:])
    # Before: the shed is there (red, illegal); after: the rain garden is outlined in the added colour.
    assert pixel_of(png, box_a, limits_a, 62.5, 72.5)[0] > 0.8
    garden_after = pixel_of(png, box_b, limits_b, 100.0, 77.0)
    garden_before = pixel_of(png, box_a, limits_a, 100.0, 77.0)
    assert garden_after[1] > garden_after[0] + 0.1 and not np.allclose(garden_after, garden_before, atol=0.05)


def test_missing_folder_raises_naming_the_path_and_writes_nothing(tmp_path):
    target = tmp_path / "no_such_folder" / "plan.png"
    with pytest.raises(PlanError, match="no_such_folder") as caught:
        plan_map(community(), target)
    assert isinstance(caught.value, TwinError)
    assert not target.parent.exists()
    base = community()
    with pytest.raises(PlanError, match="no_such_folder"):
        side_by_side(base, proposal(base), target)
    assert list(tmp_path.iterdir()) == []


def test_failed_render_leaves_no_temporary_file_and_keeps_the_old_png(tmp_path, monkeypatch):
    target = tmp_path / "plan.png"
    target.write_bytes(b"old picture")

    def broken_savefig(*args, **kwargs):
        raise RuntimeError("renderer exploded")

    from matplotlib.figure import Figure

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(RuntimeError, match="exploded"):
        plan_map(community(), target)
    assert target.read_bytes() == b"old picture"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.png"]


def test_chinese_falls_back_to_english_without_a_cjk_font(tmp_path, monkeypatch):
    monkeypatch.setattr(plan, "cjk_font", lambda: None)
    assert plan._Text("zh").lang == "en"
    assert plan._Text("zh")("green") == "Green space"
    assert imread(plan_map(community(), tmp_path / "zh.png", lang="zh")).shape[1] == PLAN_WIDTH_PX
    with pytest.raises(ValueError, match="lang"):
        plan_map(community(), tmp_path / "fr.png", lang="fr")


def test_chinese_text_when_a_cjk_font_is_found(monkeypatch):
    monkeypatch.setattr(plan, "cjk_font", lambda: "Some CJK Font")
    text = plan._Text("zh")
    assert text.lang == "zh" and text("green") == "绿地" and text("storeys", n=6) == "6层"


def test_outline_of_an_l_shaped_slab_is_not_its_hull():
    from shapely.geometry import Polygon

    l_shape = Polygon([(0, 0), (20, 0), (20, 8), (8, 8), (8, 20), (0, 20)])
    vertices, faces = prism(l_shape, 0.0, 0.3)
    outline = plan.plan_outline(vertices, faces)
    assert outline.area == pytest.approx(l_shape.area, rel=1e-6)
    box_vertices, box_faces = prism(Polygon([(0, 0), (4, 0), (4, 2), (0, 2)]), 0.0, 3.0)
    assert plan.plan_outline(box_vertices, box_faces).area == pytest.approx(8.0, rel=1e-9)


def test_outline_follows_rotation_and_instancing():
    """A shared mesh placed by rotated transforms: each placement's outline, one computation."""
    from shapely.geometry import Polygon

    vertices, faces = prism(Polygon([(0, 0), (4, 0), (4, 1), (0, 1)]), 0.0, 1.0)
    twin = Twin(name="t", source="test", schema="IFC4", meshes={"pane": Mesh(vertices=vertices, faces=faces)})
    footprints = plan.PlanFootprints()
    for k, angle in enumerate((0.0, 90.0)):
        matrix = np.eye(4)
        a = np.radians(angle)
        matrix[:2, :2] = [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]
        matrix[:3, 3] = (10.0, 5.0, 3.0)
        element = Element(global_id=f"w{k}", ifc_class="IfcWindow", mesh_id="pane", transform=matrix)
        bounds = footprints.of(twin, element).bounds
        expected = (10.0, 5.0, 14.0, 6.0) if angle == 0 else (9.0, 5.0, 10.0, 9.0)
        assert bounds == pytest.approx(expected, abs=1e-9)
    assert len(footprints._local) == 1
    tilted = np.eye(4)
    tilted[:3, :3] = [[1, 0, 0], [0, 0, -1], [0, 1, 0]]  # local y → up: the 1 m depth becomes height
    element = Element(global_id="tilted", ifc_class="IfcWindow", mesh_id="pane", transform=tilted)
    assert footprints.of(twin, element).bounds == pytest.approx((0.0, -1.0, 4.0, 0.0), abs=1e-9)


def test_five_thousand_elements_in_diff_mode_within_fifteen_seconds(tmp_path):
    """The brief's budget for a community-sized diff picture (2 cores), with a 3× margin in practice."""
    base = _site_twin()
    for k in range(5000):
        x, y = (k % 100) * 1.5, (k // 100) * 1.5
        vertices, faces = prism(_polygon([(x, y), (x + 1, y), (x + 1, y + 0.2), (x, y + 0.2)]), 0.0, 3.0)
        base.meshes[f"m{k}"] = Mesh(vertices=vertices, faces=faces)
        base.elements[f"e{k}"] = Element(global_id=f"e{k}", ifc_class="IfcWall", mesh_id=f"m{k}", container="site")
    other = copy.copy(base)
    other.name, other._layers = "proposal", None
    other.elements = {gid: copy.copy(e) for gid, e in base.elements.items() if gid != "e0"}
    other.elements["e1"].name = "renamed"
    diff = diff_twins(base, other)
    started = time.perf_counter()
    plan_map(other, tmp_path / "big.png", diff=diff, base=base)
    elapsed = time.perf_counter() - started
    assert elapsed < 15.0, f"{elapsed:.1f} s"
    assert os.path.getsize(tmp_path / "big.png") > 10_000


SAMPLE = REPO / "ifc_models" / "sample_community"


@pytest.mark.skipif(not (SAMPLE / "project.toml").exists(), reason="sample community not generated")
def test_sample_community_plans(tmp_path, spy_maps):
    """End to end on the sample: the open middle of a bare lawn is lawn green; every shed that
    proposal A removes shows red in the diff picture; before | after share one extent."""
    from shapely.ops import polylabel

    from twin.project import load_project, load_state

    project = load_project(SAMPLE)
    base = load_state(project, "baseline")
    other = load_state(project, "proposal_a")
    diff = diff_twins(base, other)

    png = imread(plan_map(base, tmp_path / "baseline.png"))
    assert png.shape[1] == PLAN_WIDTH_PX
    box, limits = spy_maps[-1]
    layers = base.layers
    covered = shapely.union_all([g for g in [*(b.footprint for b in layers.buildings), *(a.footprint for a in layers.assembly_areas),
                                             *(p.footprint for p in layers.parking), *(l.footprint for l in layers.lid_facilities),
                                             *(a.footprint for a in layers.illegal_structures)] if not g.is_empty])
    lawns = [s.footprint for s in layers.surfaces if s.surface_type == "green" and not s.footprint.intersects(covered)]
    assert lawns, "the sample has green areas free of other features"
    lawn = max(lawns, key=lambda g: g.area)
    centre = polylabel(max(plan._polygons(lawn), key=lambda g: g.area), tolerance=0.5)
    assert is_close(pixel_of(png, box, limits, centre.x, centre.y), plan.SURFACE_STYLES["green"].face)

    png = imread(plan_map(other, tmp_path / "diff.png", diff=diff, base=base))
    box, limits = spy_maps[-1]
    for gid in diff.removed:
        outline = plan.PlanFootprints().of(base, base.elements[gid])
        if outline is None or outline.area < 2.0:
            continue
        spot = outline.representative_point()
        rgb = pixel_of(png, box, limits, spot.x, spot.y)
        assert rgb[0] > rgb[1] + 0.08 and rgb[0] > rgb[2] + 0.08, (gid, rgb)

    png = imread(side_by_side(base, other, tmp_path / "sbs.png", diff))
    assert png.shape[1] == SIDE_BY_SIDE_WIDTH_PX
    (_, before), (_, after) = spy_maps[-2:]
    assert before == pytest.approx(after)
