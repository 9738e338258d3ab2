"""Sunlight hours (日照分析) of every dwelling on the Great Cold day, by ray casting.

Standard applied (GB 50180-2018 Standard for urban residential area planning and design,
§4.0.9 and table 4.0.9): in building climate zones I, II, III and VII, in a city of at least
500,000 urban residents, a dwelling must get at least 2 hours of sun on the Great Cold day
(大寒日, about 20 January), counted within 8:00–16:00 true solar time at the ground-floor
window sill; in a smaller city of those zones, 3 hours. Yantai lies in climate zone II
(GB 50178-93) and has well over 500,000 urban residents, so 2 hours applies. §4.0.9 also
says additions outside existing buildings must not lower neighbours' sunlight below the
standard, **except elevators added to existing dwellings for barrier-free access** — the
exemption twin.sunlight.compare_states applies.

Method. Each residential building's main facade is the long side of its footprint's minimum
rotated rectangle that faces most to the south; its dwellings are spread along it,
dwelling_units ÷ storeys per storey, one sample point per dwelling at the centre of its share
of the facade, `sill_height_m` above its storey's floor and `facade_offset_m` out from the
wall. The sun's direction (true solar time, declination of the day by Spencer 1971) is
sampled at the centre of every `step_min` interval of the window; a sample counts when the sun
is in front of the facade and the ray to it meets no triangle of the twin's buildings,
walls, roofs, elevator shafts and the CIM context's blocks (windows and doors sit in the wall
and are left out). Hours = lit samples × step, so the error of a sunlit period's ends is at
most one step. The latitude comes from the twin's CRS (inverse Gauss–Krüger / UTM on the
CGCS2000 = GRS80 ellipsoid) or `[settings] sunlight_latitude_deg`.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
from shapely.geometry import Polygon

from twin.errors import ProjectError
from twin.model import Twin

GREAT_COLD_DAY_OF_YEAR = 20
"""大寒 falls on 20 or 21 January; the day of year used for the solar declination."""
NON_OBSTRUCTING_CLASSES = frozenset({
    "IfcWindow", "IfcDoor", "IfcSpace", "IfcSpatialZone", "IfcPavement", "IfcGeographicElement",
    "IfcPipeSegment", "IfcDistributionChamberElement", "IfcFireSuppressionTerminal", "IfcTank",
    "IfcOpeningElement", "IfcAnnotation",
})
"""Classes left out of the obstruction scene: in the wall plane (windows, doors), spaces, or on
or below the ground."""


@dataclass(frozen=True, kw_only=True)
class SunlightSettings:
    """Parameters of a sunlight analysis (GB 50180-2018 §4.0.9; GB/T 50947-2014 counting rules).

    latitude_deg:     site latitude, degrees north
    day_of_year:      20 = Great Cold day (大寒)
    declination_deg:  solar declination; None = Spencer (1971) for day_of_year
    start_h, end_h:   effective sunshine window, true solar time, hours (8–16 on 大寒日)
    step_min:         sampling step, minutes
    required_h:       hours required (2 h: climate zone II, city ≥ 500,000 residents)
    sill_height_m:    window sill above the storey floor, m
    facade_offset_m:  sample point distance out from the facade, m
    """

    latitude_deg: float
    day_of_year: int = GREAT_COLD_DAY_OF_YEAR
    declination_deg: float | None = None
    start_h: float = 8.0
    end_h: float = 16.0
    step_min: float = 1.0
    required_h: float = 2.0
    sill_height_m: float = 0.9
    facade_offset_m: float = 0.1

    def declination(self) -> float:
        return self.declination_deg if self.declination_deg is not None else solar_declination_deg(self.day_of_year)

    def times_h(self) -> np.ndarray:
        """Centres of the sampling intervals, true solar time, hours."""
        n = int(round((self.end_h - self.start_h) * 60.0 / self.step_min))
        return self.start_h + (np.arange(n) + 0.5) * self.step_min / 60.0


def solar_declination_deg(day_of_year: int) -> float:
    """Spencer (1971) Fourier series for the solar declination, degrees (error < 0.05°)."""
    g = 2.0 * math.pi * (day_of_year - 1) / 365.0
    d = (0.006918 - 0.399912 * math.cos(g) + 0.070257 * math.sin(g) - 0.006758 * math.cos(2 * g)
         + 0.000907 * math.sin(2 * g) - 0.002697 * math.cos(3 * g) + 0.00148 * math.sin(3 * g))
    return math.degrees(d)


def sun_directions(latitude_deg: float, declination_deg: float, times_h: np.ndarray) -> np.ndarray:
    """(K, 3) unit vectors towards the sun (x east, y north, z up) at true solar times `times_h`.

    sin h = sin φ sin δ + cos φ cos δ cos ω, with the hour angle ω = 15° (t − 12); the horizontal
    components follow from the local east/north/up frame."""
    phi, delta = math.radians(latitude_deg), math.radians(declination_deg)
    omega = np.radians(15.0 * (np.asarray(times_h, dtype=np.float64) - 12.0))
    east = -math.cos(delta) * np.sin(omega)
    north = math.cos(phi) * math.sin(delta) - math.sin(phi) * math.cos(delta) * np.cos(omega)
    up = math.sin(phi) * math.sin(delta) + math.cos(phi) * math.cos(delta) * np.cos(omega)
    return np.stack([east, north, up], axis=1)


# ------------------------------------------------------------------------------ latitude

_GRS80_A, _GRS80_F = 6378137.0, 1 / 298.257222101  # CGCS2000 differs from GRS80 in f by < 1e-10


def _inverse_transverse_mercator_lat(easting: float, northing: float, *, false_easting: float, k0: float) -> float:
    """Latitude (degrees) of a transverse Mercator point (Snyder 1987, eqs. 3-26, 8-18 to 8-25)."""
    a, f = _GRS80_A, _GRS80_F
    e2 = f * (2 - f)
    ep2 = e2 / (1 - e2)
    m = northing / k0
    mu = m / (a * (1 - e2 / 4 - 3 * e2 ** 2 / 64 - 5 * e2 ** 3 / 256))
    e1 = (1 - math.sqrt(1 - e2)) / (1 + math.sqrt(1 - e2))
    phi1 = (mu + (3 * e1 / 2 - 27 * e1 ** 3 / 32) * math.sin(2 * mu) + (21 * e1 ** 2 / 16 - 55 * e1 ** 4 / 32) * math.sin(4 * mu)
            + (151 * e1 ** 3 / 96) * math.sin(6 * mu) + (1097 * e1 ** 4 / 512) * math.sin(8 * mu))
    c1, t1 = ep2 * math.cos(phi1) ** 2, math.tan(phi1) ** 2
    n1 = a / math.sqrt(1 - e2 * math.sin(phi1) ** 2)
    r1 = a * (1 - e2) / (1 - e2 * math.sin(phi1) ** 2) ** 1.5
    d = (easting - false_easting) / (n1 * k0)
    phi = phi1 - (n1 * math.tan(phi1) / r1) * (d ** 2 / 2 - (5 + 3 * t1 + 10 * c1 - 4 * c1 ** 2 - 9 * ep2) * d ** 4 / 24
                                               + (61 + 90 * t1 + 298 * c1 + 45 * t1 ** 2 - 252 * ep2 - 3 * c1 ** 2) * d ** 6 / 720)
    return math.degrees(phi)


def latitude_from_crs(crs: str | None, easting: float, northing: float) -> float | None:
    """Latitude of a map point in the CGCS2000 Gauss–Krüger CRSs (EPSG:4491–4554) or WGS 84 /
    UTM north (EPSG:32601–32660); None for other CRSs."""
    if not crs:
        return None
    match = re.search(r"EPSG\D*(\d+)$", crs.strip().upper())
    if not match:
        return None
    code = int(match.group(1))
    if 4534 <= code <= 4554 or 4502 <= code <= 4512 or 32601 <= code <= 32660:  # no zone prefix in the easting
        k0 = 0.9996 if code >= 32601 else 1.0
        return _inverse_transverse_mercator_lat(easting, northing, false_easting=500000.0, k0=k0)
    if 4513 <= code <= 4533 or 4491 <= code <= 4501:  # zone number prefixed to the easting
        return _inverse_transverse_mercator_lat(easting % 1_000_000, northing, false_easting=500000.0, k0=1.0)
    return None


def site_latitude(twin: Twin, settings: dict | None = None) -> tuple[float, str]:
    """(latitude, where it came from): the project's setting, else the twin's CRS at its site."""
    settings = settings or {}
    if settings.get("sunlight_latitude_deg") is not None:
        return float(settings["sunlight_latitude_deg"]), "project.toml [settings] sunlight_latitude_deg"
    site = twin.layers.site_boundary
    cx, cy = (site.centroid.x, site.centroid.y) if site is not None else (0.0, 0.0)
    lat = latitude_from_crs(twin.crs, twin.origin[0] + cx, twin.origin[1] + cy)
    if lat is None:
        raise ProjectError(f"{twin.name}: no latitude for the sunlight analysis: the twin's CRS ({twin.crs or 'none'}) "
                           "is not a Gauss–Krüger/UTM CRS this build converts; set [settings] sunlight_latitude_deg")
    return lat, f"site centre in {twin.crs} (inverse transverse Mercator)"


# ------------------------------------------------------------------------------ scene and dwellings

@dataclass(kw_only=True)
class Dwellings:
    """One sample point per dwelling (structure of arrays)."""

    ids: list[str]
    """'<building GlobalId>/<storey 1..>/<unit 1..>'"""
    building: list[str]
    building_name: list[str]
    storey: np.ndarray
    points: np.ndarray
    """(N, 3) float64 sample points, twin metres."""
    normals: np.ndarray
    """(N, 3) float64 outward facade normals."""


def main_facade(footprint: Polygon) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, end, outward normal) in plan of the long side of the footprint's minimum rotated
    rectangle that faces most to the south."""
    rect = footprint.minimum_rotated_rectangle
    coords = np.asarray(rect.exterior.coords, dtype=np.float64)[:, :2]
    if Polygon(coords).exterior.is_ccw is False:
        coords = coords[::-1]
    edges = [(coords[i], coords[i + 1]) for i in range(len(coords) - 1)]
    longest = max(np.linalg.norm(b - a) for a, b in edges)
    best = None
    for a, b in edges:
        length = float(np.linalg.norm(b - a))
        if length < 0.5 * longest - 1e-9:
            continue
        d = (b - a) / length
        normal = np.array([d[1], -d[0]])  # outward for a counter-clockwise ring
        if best is None or normal[1] < best[2][1] - 1e-9:
            best = (a, b, normal)
    return best


def storey_floors(twin: Twin, building) -> list[float]:
    """Floor elevations of a building's storeys at or above ground (spatial tree), else evenly spaced."""
    floors = sorted(n.elevation_m for n in twin.spatial.values()
                    if n.ifc_class == "IfcBuildingStorey" and n.parent == building.global_id
                    and n.elevation_m is not None and n.elevation_m >= building.base_m - 0.01)
    if len(floors) >= building.storeys > 0:
        return floors[:building.storeys]
    step = building.height_m / max(building.storeys, 1)
    return [building.base_m + i * step for i in range(max(building.storeys, 1))]


def dwellings_of(twin: Twin, settings: SunlightSettings) -> Dwellings:
    ids, buildings, names, storeys, points, normals = [], [], [], [], [], []
    for b in twin.layers.buildings:
        if not b.residential or b.dwelling_units <= 0 or b.footprint.is_empty:
            continue
        a, e, normal = main_facade(b.footprint)
        floors = storey_floors(twin, b)
        per_floor = max(1, int(round(b.dwelling_units / len(floors))))
        for s, floor in enumerate(floors):
            for u in range(per_floor):
                xy = a + (e - a) * (u + 0.5) / per_floor + normal * settings.facade_offset_m
                ids.append(f"{b.global_id}/{s + 1}/{u + 1}")
                buildings.append(b.global_id)
                names.append(b.name or b.global_id)
                storeys.append(s + 1)
                points.append((xy[0], xy[1], floor + settings.sill_height_m))
                normals.append((normal[0], normal[1], 0.0))
    return Dwellings(ids=ids, building=buildings, building_name=names, storey=np.array(storeys, dtype=np.int32),
                     points=np.array(points, dtype=np.float64).reshape(-1, 3), normals=np.array(normals, dtype=np.float64).reshape(-1, 3))


def obstruction_triangles(twin: Twin, *, exclude: set[str] = frozenset(), ground_z: float = 0.3) -> np.ndarray:
    """(T, 3, 3) float64 triangles that can shade a facade: the twin's elements (less
    NON_OBSTRUCTING_CLASSES, `exclude`d GlobalIds and anything lower than `ground_z`) and the
    CIM context's blocks."""
    parts = []
    for element in twin.elements.values():
        if element.mesh_id is None or element.ifc_class in NON_OBSTRUCTING_CLASSES or element.global_id in exclude:
            continue
        vertices, faces = twin.world_mesh(element)
        if len(faces) == 0 or vertices[:, 2].max() <= ground_z:
            continue
        parts.append(vertices[faces])
    from twin.geometry import extrude_footprint

    for block in (twin.context or {}).get("buildings", []):
        vertices, faces = extrude_footprint(block["footprint"], block["height_m"])
        parts.append(np.asarray(vertices, dtype=np.float64)[faces])
    if not parts:
        return np.zeros((0, 3, 3))
    return np.ascontiguousarray(np.concatenate(parts).astype(np.float64))


def sunlit(points: np.ndarray, normals: np.ndarray, triangles: np.ndarray, sun_dirs: np.ndarray, *, cell_m: float = 8.0) -> np.ndarray:
    """(N, K) uint8: point n sees the sun k (in front of its facade, no triangle in the way)."""
    from twin import kernels

    points = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 3)
    normals = np.ascontiguousarray(normals, dtype=np.float64).reshape(-1, 3)
    sun_dirs = np.ascontiguousarray(sun_dirs, dtype=np.float64).reshape(-1, 3)
    triangles = np.ascontiguousarray(triangles, dtype=np.float64).reshape(-1, 3, 3)
    if len(triangles) == 0:
        triangles = np.full((1, 3, 3), -1e9)  # one far-away triangle keeps the kernel's shapes simple
    lo = np.minimum(triangles[:, :, :2].min(axis=1).min(axis=0), points[:, :2].min(axis=0) if len(points) else 0.0) - 1.0
    hi = np.maximum(triangles[:, :, :2].max(axis=1).max(axis=0), points[:, :2].max(axis=0) if len(points) else 0.0) + 1.0
    nx, ny = max(1, int(math.ceil((hi[0] - lo[0]) / cell_m))), max(1, int(math.ceil((hi[1] - lo[1]) / cell_m)))
    if len(triangles) == 1 and triangles[0, 0, 0] == -1e9:
        lo, nx, ny = np.zeros(2), 1, 1
    start, items = kernels.bin_triangles(triangles[:, :, :2].min(axis=1), triangles[:, :, :2].max(axis=1),
                                         lo.astype(np.float64), float(cell_m), nx, ny)
    z_top = float(triangles[:, :, 2].max())
    tops = kernels.cell_tops(triangles, start, items)
    tri_z = np.ascontiguousarray(np.stack([triangles[:, :, 2].min(axis=1), triangles[:, :, 2].max(axis=1)], axis=1))
    return kernels.sunlit_mask(points, normals, sun_dirs, triangles, tri_z, start, items, tops, lo.astype(np.float64),
                               float(cell_m), nx, ny, z_top)


# ------------------------------------------------------------------------------ analysis

@dataclass(kw_only=True)
class SunlightResult:
    """Hours of sun per dwelling of one state (what the scorecard and the report read)."""

    state: str
    settings: SunlightSettings
    latitude_source: str
    dwellings: Dwellings
    hours: np.ndarray
    """(N,) hours of sun within the window."""
    excluded: list[str] = field(default_factory=list)
    """GlobalIds left out of the scene (added elevators, for the exemption check)."""
    triangles: int = 0
    seconds: float = 0.0

    def meets(self) -> np.ndarray:
        # half a step of slack: hours are a multiple of the step, the standard a whole number
        return self.hours >= self.settings.required_h - 0.5 * self.settings.step_min / 60.0

    def share_meeting(self) -> float:
        return float(self.meets().mean()) if len(self.hours) else float("nan")

    def by_id(self) -> dict[str, float]:
        return dict(zip(self.dwellings.ids, self.hours.tolist()))


def analyse(twin: Twin, settings: SunlightSettings, *, exclude: set[str] = frozenset(), latitude_source: str = "") -> SunlightResult:
    import time

    started = time.perf_counter()
    dwellings = dwellings_of(twin, settings)
    triangles = obstruction_triangles(twin, exclude=set(exclude))
    suns = sun_directions(settings.latitude_deg, settings.declination(), settings.times_h())
    mask = sunlit(dwellings.points, dwellings.normals, triangles, suns)
    hours = mask.sum(axis=1).astype(np.float64) * settings.step_min / 60.0
    return SunlightResult(state=twin.name, settings=settings, latitude_source=latitude_source, dwellings=dwellings,
                          hours=hours, excluded=sorted(exclude), triangles=len(triangles),
                          seconds=time.perf_counter() - started)


def added_elevators(base: Twin, twin: Twin) -> set[str]:
    """GlobalIds of elevator elements (IfcTransportElement ELEVATOR) in `twin` and not in `base`."""
    def elevators(t):
        return {e.global_id for e in t.elements.values() if e.ifc_class == "IfcTransportElement"
                and (e.predefined_type or "ELEVATOR").upper() == "ELEVATOR"}

    return elevators(twin) - elevators(base)


@dataclass(kw_only=True)
class Comparison:
    """Dwellings whose sunlight a state changes against the baseline."""

    violations: list[dict]
    """Met the standard before, not after, and still would not without the added elevators."""
    exempt: list[dict]
    """Pushed below the standard only by added elevator shafts (GB 50180-2018 §4.0.9 exemption)."""
    worse: list[dict]
    better: list[dict]


def compare_states(base: SunlightResult, after: SunlightResult, after_without_elevators: SunlightResult | None = None) -> Comparison:
    before, now = base.by_id(), after.by_id()
    without = after_without_elevators.by_id() if after_without_elevators is not None else now
    required = after.settings.required_h - 0.5 * after.settings.step_min / 60.0
    names = dict(zip(after.dwellings.ids, after.dwellings.building_name))
    out = Comparison(violations=[], exempt=[], worse=[], better=[])
    for dwelling, hours in now.items():
        if dwelling not in before:
            continue
        row = {"dwelling": dwelling, "building": names[dwelling], "before_h": before[dwelling], "after_h": hours,
               "without_added_elevators_h": without.get(dwelling, hours)}
        if hours < before[dwelling] - 1e-9:
            out.worse.append(row)
        elif hours > before[dwelling] + 1e-9:
            out.better.append(row)
        if before[dwelling] >= required and hours < required:
            (out.violations if row["without_added_elevators_h"] < required else out.exempt).append(row)
    return out
