"""twin.sunlight and twin.kernels: rays towards the sun against the solar-geometry formula, the
kernel against a brute-force pure-Python reference, the CRS latitude, the elevator exemption,
and the sample community before and after."""
import math

import numpy as np
import pytest

from twin.kernels import ray_hits_triangle
from twin.sunlight import (SunlightResult, SunlightSettings, Dwellings, compare_states, latitude_from_crs,
                           solar_declination_deg, sun_directions, sunlit)

LAT, DECL = 37.5, -20.30  # Yantai; Great Cold day (Spencer for 20 January gives −20.30°)


def box_triangles(x0, x1, y0, y1, z0, z1):
    """12 triangles of an axis-aligned box."""
    c = np.array([[x, y, z] for z in (z0, z1) for y in (y0, y1) for x in (x0, x1)], dtype=np.float64)
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    return np.array([[c[a], c[b], c[d]] for a, b, cc, d in quads for (a, b, d) in ((a, b, cc), (a, cc, d))])


def reference_hours(point, box, *, step_s=5.0):
    """Sunlit hours of a south-facing point next to a box, by the textbook solar-geometry formulas
    (elevation sin h = sin φ sin δ + cos φ cos δ cos ω; azimuth from south cos A = (sin h sin φ − sin δ) /
    (cos h cos φ), east negative) and a slab test against the box, every `step_s` seconds."""
    phi, delta = math.radians(LAT), math.radians(DECL)
    lit = 0
    times = np.arange(8 * 3600 + step_s / 2, 16 * 3600, step_s) / 3600.0
    for t in times:
        omega = math.radians(15.0 * (t - 12.0))
        h = math.asin(math.sin(phi) * math.sin(delta) + math.cos(phi) * math.cos(delta) * math.cos(omega))
        a = math.acos(max(-1.0, min(1.0, (math.sin(h) * math.sin(phi) - math.sin(delta)) / (math.cos(h) * math.cos(phi)))))
        a = -a if omega < 0 else a  # morning sun east of south
        d = (-math.cos(h) * math.sin(a), -math.cos(h) * math.cos(a), math.sin(h))  # x east, y north, z up
        if d[1] >= 0:  # behind the south-facing facade
            continue
        lo, hi = 0.0, math.inf
        for axis in range(3):
            if abs(d[axis]) < 1e-12:
                if not box[axis][0] <= point[axis] <= box[axis][1]:
                    lo, hi = 1.0, 0.0
                continue
            s0, s1 = sorted(((box[axis][0] - point[axis]) / d[axis], (box[axis][1] - point[axis]) / d[axis]))
            lo, hi = max(lo, s0), min(hi, s1)
        if not (lo <= hi and hi > 0):
            lit += 1
    return lit * step_s / 3600.0


def test_declination_of_the_great_cold_day():
    # Spencer's series; the almanac gives about −20.2° on 20 January (±0.1° between years)
    assert solar_declination_deg(20) == pytest.approx(-20.2, abs=0.2)


@pytest.mark.parametrize("box", [
    ((-20.0, 20.0), (-30.0, -20.0), (0.0, 15.0)),   # a 40 m wide, 15 m high block 20 m south: shades around noon
    ((-60.0, -20.0), (-35.0, -25.0), (0.0, 25.0)),  # a tall block to the south-west: shades the afternoon
])
def test_shaded_point_matches_the_solar_geometry_formula(box):
    point = (0.0, 0.0, 0.9)
    settings = SunlightSettings(latitude_deg=LAT, declination_deg=DECL, step_min=1.0)
    suns = sun_directions(LAT, DECL, settings.times_h())
    (x0, x1), (y0, y1), (z0, z1) = box
    lit = sunlit(np.array([point]), np.array([[0.0, -1.0, 0.0]]), box_triangles(x0, x1, y0, y1, z0, z1), suns)
    hours = lit.sum() / 60.0
    expected = reference_hours(point, box)
    assert 0.5 < expected < 7.5  # partly shaded: both ends of the shadow are tested
    # one-minute samples at interval centres: each of the (at most 3) sun/shade switches is off by ≤ 0.5 min
    assert abs(hours - expected) * 60.0 < 5.0


def test_open_south_facade_gets_the_whole_window():
    # at 37.5° N on the Great Cold day the sun stays south of the east–west line and above the horizon
    # from 8:00 to 16:00 true solar time, so an unobstructed south facade counts all 8 hours
    settings = SunlightSettings(latitude_deg=LAT, declination_deg=DECL)
    suns = sun_directions(LAT, DECL, settings.times_h())
    far_box = box_triangles(500, 510, 500, 510, 0, 3)  # behind the facade
    lit = sunlit(np.array([[0.0, 0.0, 0.9]]), np.array([[0.0, -1.0, 0.0]]), far_box, suns)
    assert lit.sum() == 480
    north = sunlit(np.array([[0.0, 0.0, 0.9]]), np.array([[0.0, 1.0, 0.0]]), far_box, suns)
    assert north.sum() == 0  # a north facade never sees the winter sun


def test_kernel_matches_brute_force_reference():
    rng = np.random.default_rng(7)
    triangles = rng.uniform([-60, -60, 0], [60, 60, 30], size=(60, 3, 3))
    points = np.column_stack([rng.uniform(-50, 50, 40), rng.uniform(-50, 50, 40), rng.uniform(0, 10, 40)])
    normals = np.tile([0.0, -1.0, 0.0], (40, 1))
    suns = sun_directions(LAT, DECL, np.linspace(8.25, 15.75, 16))
    mask = sunlit(points, normals, triangles, suns, cell_m=7.0)
    for p in range(len(points)):
        for k in range(len(suns)):
            blocked = any(ray_hits_triangle(*points[p], *suns[k], triangles, t) for t in range(len(triangles)))
            assert mask[p, k] == (0 if blocked or suns[k, 1] >= 0 else 1), (p, k)


def test_latitude_from_a_gauss_kruger_crs():
    # on the central meridian the latitude is the one whose meridian arc equals the northing
    a, f = 6378137.0, 1 / 298.257222101
    e2 = f * (2 - f)
    phi = np.radians(np.linspace(0.0, 37.5, 200001))
    arc = np.trapezoid(a * (1 - e2) / (1 - e2 * np.sin(phi) ** 2) ** 1.5, phi)  # meridian arc to 37.5° N
    assert latitude_from_crs("EPSG:4549", 500000.0, arc) == pytest.approx(37.5, abs=1e-6)
    # the sample community, 116 km east of 120° E: Yantai's Zhifu district lies at about 37.5° N
    assert latitude_from_crs("urn:ogc:def:crs:EPSG::4549", 616250.0, 4150200.0) == pytest.approx(37.48, abs=0.02)
    assert latitude_from_crs("EPSG:3857", 0.0, 0.0) is None


def _result(hours, ids):
    dwellings = Dwellings(ids=ids, building=["b"] * len(ids), building_name=["Block"] * len(ids),
                          storey=np.ones(len(ids), dtype=np.int32), points=np.zeros((len(ids), 3)), normals=np.zeros((len(ids), 3)))
    return SunlightResult(state="s", settings=SunlightSettings(latitude_deg=LAT), latitude_source="test",
                          dwellings=dwellings, hours=np.asarray(hours, dtype=np.float64))


def test_elevator_shaft_is_exempt_a_new_block_is_not():
    """A dwelling 22 m north of a 14 m high block gets about 2.9 h; an elevator shaft added right in
    front of its window, or a new block in the same place, takes it below 2 h."""
    settings = SunlightSettings(latitude_deg=LAT, declination_deg=DECL)
    suns = sun_directions(LAT, DECL, settings.times_h())
    point, normal = np.array([[0.0, 0.0, 0.9]]), np.array([[0.0, -1.0, 0.0]])
    south_block = box_triangles(-40, 40, -22.5, -22, 0, 14)

    def hours(*extra):
        return sunlit(point, normal, np.concatenate([south_block, *extra]), suns).sum() / 60.0

    shaft = box_triangles(-1.2, 1.2, -3.4, -1.0, 0, 19)  # 2.4 m × 2.4 m shaft, 19 m high, 1 m out
    new_block = box_triangles(-15, 15, -14, -6, 0, 12)
    before, with_shaft, with_block = hours(), hours(shaft), hours(new_block)
    assert before == pytest.approx(2.9, abs=0.1) and with_shaft < 2.0 and with_block < 2.0
    ids = ["b/1/1"]
    base = _result([before], ids)
    # proposal with the shaft; the same proposal with the added elevators taken out is the baseline scene
    shaft_case = compare_states(base, _result([with_shaft], ids), _result([before], ids))
    assert [row["dwelling"] for row in shaft_case.exempt] == ids and not shaft_case.violations
    block_case = compare_states(base, _result([with_block], ids), _result([with_block], ids))
    assert [row["dwelling"] for row in block_case.violations] == ids and not block_case.exempt


def test_sample_community_before_and_after():
    """Baseline, proposal A (45 elevator shafts on the north sides) and B (block 17 rebuilt lower)."""
    from twin.cli import SAMPLE_PROJECT
    from twin.project import load_project, load_state
    from twin.sunlight import added_elevators, analyse, site_latitude

    project = load_project(SAMPLE_PROJECT)
    twins = {name: load_state(project, name) for name in ("baseline", "proposal_a", "proposal_b")}
    latitude, _ = site_latitude(twins["baseline"])
    settings = SunlightSettings(latitude_deg=latitude, step_min=10.0)  # 10-minute samples keep the test quick
    base = analyse(twins["baseline"], settings)
    assert len(base.hours) == sum(b.dwelling_units for b in twins["baseline"].layers.buildings if b.residential)
    # rows 32 m apart behind 18–19 m walk-ups: every dwelling meets 2 h (the lowest get about 4.8 h)
    assert base.share_meeting() == 1.0 and 4.0 < base.hours.min() < 6.0
    elevators = added_elevators(twins["baseline"], twins["proposal_a"])
    assert len(elevators) == 45
    a = analyse(twins["proposal_a"], settings)
    a_without = analyse(twins["proposal_a"], settings, exclude=elevators)
    change = compare_states(base, a, a_without)
    # the shafts stand on the north sides, so they shade the next row's south facades: less sun, never below 2 h
    assert len(change.worse) > 100 and not change.better and not change.violations and not change.exempt
    # the losses come from the shafts: without them proposal A has the baseline's sunlight, but for one
    # dwelling of block 5 that may lose one sample to another of A's additions
    differ = np.nonzero(a_without.hours != base.hours)[0]
    assert len(differ) <= 1 and np.all(np.abs(a_without.hours - base.hours) <= 10.0 / 60.0 + 1e-9)
    b = analyse(twins["proposal_b"], settings)
    change_b = compare_states(base, b)
    # block 17 (6 storeys, 17.6 m) becomes a 12.6 m service centre: the row north of it gains sun
    assert change_b.better and not change_b.worse and not change_b.violations
