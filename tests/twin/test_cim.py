"""twin.cim: GeoJSON city context in twin coordinates, and its LOD1 meshes."""
from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh
from shapely import unary_union
from shapely.geometry import Point, Polygon

from twin.cim import (
    DEFAULT_ROAD_WIDTH_M,
    STOREY_HEIGHT_M,
    attach_context,
    context_meshes,
    extrude_footprint,
    load_context,
)
from twin.errors import ContextError, TwinError
from twin.model import Twin

# A community in CGCS2000 / 3-degree Gauss-Kruger CM 120E (EPSG:4549), Hangzhou-like eastings.
CRS = "EPSG:4549"
ORIGIN = (500_000.0, 3_350_000.0, 8.5)
E0, N0 = ORIGIN[0], ORIGIN[1]


def feature(layer, geometry_type, coordinates, **properties):
    return {
        "type": "Feature",
        "properties": {"layer": layer, **properties},
        "geometry": {"type": geometry_type, "coordinates": coordinates},
    }


def box(x0, y0, x1, y1):
    """A rectangle ring in map coordinates, relative to the origin's easting/northing."""
    return [[E0 + x0, N0 + y0], [E0 + x1, N0 + y0], [E0 + x1, N0 + y1], [E0 + x0, N0 + y1], [E0 + x0, N0 + y0]]


def write(tmp_path, features, **top):
    path = tmp_path / "context.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", **top, "features": features}))
    return path


def sample_features():
    return [
        feature("site_boundary", "Polygon", [box(-10, -10, 110, 90)], name="Community"),
        feature("building", "Polygon", [box(120, 0, 140, 12)], height_m=18.0, name="Block 1"),
        feature("building", "Polygon", [box(0, 120, 30, 140)], storeys=6),
        feature("road", "LineString", [[E0 - 50, N0 - 20], [E0 + 200, N0 - 20]], width_m=10.0, name="East Road"),
        feature("road", "LineString", [[E0 - 20, N0 - 50], [E0 - 20, N0 + 150]]),
        feature("service_point", "Point", [E0 + 150, N0 + 40], service_type="kindergarten", name="Sunflower"),
        feature("green", "Polygon", [box(60, 100, 90, 115)], name="Pocket park"),
    ]


def test_layers_are_translated_to_twin_coordinates(tmp_path):
    context = load_context(write(tmp_path, sample_features(), crs_name=CRS), crs=CRS, origin=ORIGIN)

    assert context["site_boundary"].bounds == pytest.approx((-10.0, -10.0, 110.0, 90.0), abs=1e-9)
    first, second = context["buildings"]
    assert first["footprint"].bounds == pytest.approx((120.0, 0.0, 140.0, 12.0), abs=1e-9)
    assert first["height_m"] == 18.0 and first["name"] == "Block 1"
    # Storeys without a height: 6 × 3.0 m, the documented default storey height.
    assert second["height_m"] == pytest.approx(6 * STOREY_HEIGHT_M) and second["storeys"] == 6

    east_road, west_road = context["roads"]
    assert list(east_road["centreline"].coords) == [(-50.0, -20.0), (200.0, -20.0)]
    # Flat-capped ribbon: exactly length × width.
    assert east_road["surface"].area == pytest.approx(250.0 * 10.0, rel=1e-9)
    assert west_road["width_m"] == DEFAULT_ROAD_WIDTH_M

    (kindergarten,) = context["service_points"]
    assert (kindergarten["position"].x, kindergarten["position"].y) == pytest.approx((150.0, 40.0))
    assert kindergarten["service_type"] == "kindergarten"
    assert context["green"][0]["surface"].area == pytest.approx(30.0 * 15.0)


def test_crs_member_in_urn_form_is_accepted(tmp_path):
    crs_member = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4549"}}
    context = load_context(write(tmp_path, sample_features(), crs=crs_member), crs=CRS, origin=ORIGIN)
    assert len(context["buildings"]) == 2


def test_box_extrusion_is_watertight_with_the_right_volume():
    footprint = Polygon([(0, 0), (20, 0), (20, 12), (0, 12)])
    vertices, faces = extrude_footprint(footprint, 18.0)
    assert vertices.dtype == np.float64 and faces.dtype == np.int32
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    assert mesh.is_watertight and mesh.is_winding_consistent
    # Positive volume means the faces point outward.
    assert mesh.volume == pytest.approx(20 * 12 * 18.0, rel=1e-6)


def test_courtyard_building_keeps_its_hole():
    # A 30 × 30 m perimeter block around a 10 × 10 m courtyard, given clockwise on purpose.
    outer = [(0, 0), (0, 30), (30, 30), (30, 0)]
    courtyard = [(10, 10), (20, 10), (20, 20), (10, 20)]
    vertices, faces = extrude_footprint(Polygon(outer, [courtyard]), 9.0)
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.volume == pytest.approx((900 - 100) * 9.0, rel=1e-6)
    # The roof covers the block and leaves the courtyard open to the sky.
    roof = faces[np.all(vertices[faces][:, :, 2] == 9.0, axis=1)]
    roof_plan = unary_union([Polygon(vertices[triangle, :2]) for triangle in roof])
    assert roof_plan.area == pytest.approx(800.0)
    assert not roof_plan.contains(Point(15, 15))


def test_context_meshes_cover_buildings_roads_and_green(tmp_path):
    context = load_context(write(tmp_path, sample_features()), crs=CRS, origin=ORIGIN)
    meshes = {name: (v, f) for name, v, f in context_meshes(context)}
    assert set(meshes) == {
        "context/building/0", "context/building/1", "context/road/0", "context/road/1", "context/green/0",
    }
    vertices, faces = meshes["context/building/0"]
    assert trimesh.Trimesh(vertices, faces, process=False).volume == pytest.approx(20 * 12 * 18.0, rel=1e-6)
    road_vertices, road_faces = meshes["context/road/0"]
    assert np.all(road_vertices[:, 2] == 0.0)
    road = trimesh.Trimesh(road_vertices, road_faces, process=False)
    assert road.area == pytest.approx(2500.0, rel=1e-9)
    assert np.all(road.face_normals[:, 2] > 0.999)  # facing up


def test_attach_context_uses_the_twin_crs_and_origin(tmp_path):
    twin = Twin(name="baseline", source="test", schema="IFC4", crs=CRS, origin=ORIGIN)
    attach_context(twin, write(tmp_path, sample_features(), crs_name=CRS))
    assert twin.context["buildings"][0]["footprint"].bounds[0] == pytest.approx(120.0)


def test_lon_lat_coordinates_are_rejected(tmp_path):
    lon_lat = [feature("building", "Polygon", [[[120.15, 30.28], [120.16, 30.28], [120.16, 30.29], [120.15, 30.28]]], height_m=9)]
    with pytest.raises(ContextError, match="longitude/latitude") as raised:
        load_context(write(tmp_path, lon_lat), crs=CRS, origin=ORIGIN)
    assert "context.geojson" in str(raised.value) and "projected" in str(raised.value)


def test_declared_geographic_crs_is_rejected(tmp_path):
    with pytest.raises(ContextError, match="longitude/latitude"):
        load_context(write(tmp_path, sample_features(), crs_name="EPSG:4490"), crs=CRS, origin=ORIGIN)


def test_crs_mismatch_is_rejected(tmp_path):
    path = write(tmp_path, sample_features(), crs_name="EPSG:4547")
    with pytest.raises(ContextError, match="CRS mismatch") as raised:
        load_context(path, crs=CRS, origin=ORIGIN)
    message = str(raised.value)
    assert str(path) in message and "EPSG:4547" in message and "EPSG:4549" in message


def test_bad_feature_is_reported_with_its_index(tmp_path):
    features = sample_features()
    features[3] = feature("road", "Point", [E0, N0])
    with pytest.raises(ContextError, match=r"features\[3\].*road.*'Point'"):
        load_context(write(tmp_path, features), crs=CRS, origin=ORIGIN)


@pytest.mark.parametrize(
    ("index", "broken", "expected"),
    [
        (2, {"type": "Feature", "properties": {"name": "no layer"}, "geometry": None}, r"features\[2\]: missing properties.layer"),
        (1, feature("building", "Polygon", [box(0, 0, 10, 10)]), r"features\[1\].*height_m.*storeys"),
        (1, feature("building", "Polygon", [box(0, 0, 10, 10)], height_m=-3), r"features\[1\].*properties.height_m"),
        (4, feature("road", "LineString", [[E0, N0], [E0 + 9, N0]], width_m="wide"), r"features\[4\].*properties.width_m"),
        (6, feature("park", "Polygon", [box(0, 0, 1, 1)]), r"features\[6\]: unknown properties.layer 'park'"),
        (6, feature("green", "Polygon", [[[E0, N0], [E0 + 10, N0 + 10], [E0 + 10, N0], [E0, N0 + 10], [E0, N0]]]), r"features\[6\].*invalid polygon"),
    ],
)
def test_each_bad_field_names_feature_and_field(tmp_path, index, broken, expected):
    features = sample_features()
    features[index] = broken
    with pytest.raises(ContextError, match=expected):
        load_context(write(tmp_path, features), crs=CRS, origin=ORIGIN)


def test_missing_and_malformed_files_name_the_file(tmp_path):
    missing = tmp_path / "nowhere.geojson"
    with pytest.raises(ContextError, match="nowhere.geojson.*not found"):
        load_context(missing, crs=CRS, origin=ORIGIN)
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [')
    with pytest.raises(ContextError, match="broken.geojson: invalid JSON at line 1"):
        load_context(broken, crs=CRS, origin=ORIGIN)
    assert issubclass(ContextError, TwinError)


def test_declared_crs_needs_a_georeferenced_twin(tmp_path):
    path = write(tmp_path, sample_features(), crs_name=CRS)
    with pytest.raises(ContextError, match="not georeferenced"):
        load_context(path, crs=None, origin=(0.0, 0.0, 0.0))
