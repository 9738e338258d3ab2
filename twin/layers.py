"""The simulation layers of a Twin, read from IFC semantics (class, predefined type, psets).

Which IFC class, property set and property feeds which field, and the default used when a
file lacks it, is the table in docs/ifc_mapping.md; this module is that table in code.
Every fallback to a default is counted in `Layers.defaults` so `twin info` can say how much
of a layer was assumed rather than read. Coordinates are twin coordinates (metres).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon

from twin.model import Element, Twin

LAYER_NAMES = ("buildings", "entrances", "roads", "parking", "gates", "pipes", "manholes", "outfalls",
               "surfaces", "lid_facilities", "service_points", "assembly_areas", "hydrants",
               "illegal_structures", "barriers", "elevators")

HOUSEHOLD_SIZE = 2.62
"""Persons per household, China 2020 census (National Bureau of Statistics, 7th census)."""
DWELLING_AREA_M2 = 80.0
"""Gross floor area per dwelling when a residential building does not say (old walk-ups)."""
NET_TO_GROSS = 0.75
GROSS_M2_PER_STALL = 25.0
"""Gross parking area per car stall including aisles (GB 50067 practice: 25–30 m²)."""
M2_PER_PERSON_ASSEMBLY = 0.5
DEFAULT_SPEED_LIMIT_MPS = 20 / 3.6
"""20 km/h: residential internal roads (GB 50180-2018 urban residential area planning)."""
SURFACE_DEFAULTS = {  # type: (imperviousness 0–1, slope m/m)
    "roof": (1.0, 0.02), "road": (1.0, 0.015), "paving": (0.9, 0.01),
    "permeable_paving": (0.3, 0.01), "green": (0.0, 0.02), "water": (0.0, 0.0),
}


@dataclass(kw_only=True)
class Building:
    global_id: str
    name: str | None
    footprint: Polygon
    base_m: float
    height_m: float
    storeys: int
    residential: bool
    dwelling_units: int
    residents: int
    elevators: int = 0
    service_type: str | None = None
    illegal: bool = False
    safety_grade: str | None = None
    occupants: Any = None      # CT_Building.Occupants as the model gives it (daytime persons of a service building)


@dataclass(kw_only=True)
class Entrance:
    global_id: str
    building: str | None
    position: tuple[float, float, float]
    clear_width_m: float


@dataclass(kw_only=True)
class Gate:
    global_id: str
    name: str | None
    position: tuple[float, float, float]
    width_m: float
    vehicular: bool
    service_time_s: float
    open: bool = True


@dataclass(kw_only=True)
class Road:
    global_id: str
    name: str | None
    centreline: LineString
    """From local −X to +X: the direction of travel on a one-way road."""
    width_m: float
    lanes: int
    speed_limit_mps: float
    one_way: bool
    fire_lane: bool
    parked_width_m: float
    kind: str


@dataclass(kw_only=True)
class ParkingLot:
    global_id: str
    name: str | None
    footprint: Polygon
    position: tuple[float, float]
    spaces: int
    ev_chargers: int
    kind: str


@dataclass(kw_only=True)
class Pipe:
    global_id: str
    from_node: str | None
    to_node: str | None
    diameter_m: float
    length_m: float
    upstream_invert_m: float
    downstream_invert_m: float
    roughness_n: float
    system: str
    renewed: bool
    start: tuple[float, float, float]
    end: tuple[float, float, float]


@dataclass(kw_only=True)
class StormNode:
    global_id: str
    name: str | None
    position: tuple[float, float]
    invert_m: float
    rim_m: float
    inlet: bool = False
    boundary: str | None = None
    """Outfalls only: FREE, FIXED, TIDAL, NORMAL."""


@dataclass(kw_only=True)
class Surface:
    global_id: str
    surface_type: str
    footprint: Any
    area_m2: float
    imperviousness: float
    slope: float
    drains_to: str | None


@dataclass(kw_only=True)
class LIDFacility:
    global_id: str
    name: str | None
    lid_type: str
    footprint: Any
    area_m2: float
    surface_depth_m: float
    soil_thickness_m: float
    storage_depth_m: float
    volume_m3: float | None
    treated_area_m2: float
    underdrain: bool
    reuse_demand_m3_per_day: float


@dataclass(kw_only=True)
class ServicePoint:
    global_id: str
    name: str | None
    service_type: str
    position: tuple[float, float]
    floor_area_m2: float | None
    capacity: float | None


@dataclass(kw_only=True)
class Area:
    """An assembly area, an illegal structure or a barrier: a footprint with a size."""
    global_id: str
    name: str | None
    footprint: Any
    area_m2: float
    height_m: float | None = None
    capacity_persons: int | None = None


@dataclass(kw_only=True)
class PointFeature:
    global_id: str
    position: tuple[float, float, float]
    building: str | None = None


@dataclass(kw_only=True)
class Layers:
    buildings: list[Building] = field(default_factory=list)
    entrances: list[Entrance] = field(default_factory=list)
    roads: list[Road] = field(default_factory=list)
    parking: list[ParkingLot] = field(default_factory=list)
    gates: list[Gate] = field(default_factory=list)
    pipes: list[Pipe] = field(default_factory=list)
    manholes: list[StormNode] = field(default_factory=list)
    outfalls: list[StormNode] = field(default_factory=list)
    surfaces: list[Surface] = field(default_factory=list)
    lid_facilities: list[LIDFacility] = field(default_factory=list)
    service_points: list[ServicePoint] = field(default_factory=list)
    assembly_areas: list[Area] = field(default_factory=list)
    hydrants: list[PointFeature] = field(default_factory=list)
    illegal_structures: list[Area] = field(default_factory=list)
    barriers: list[Area] = field(default_factory=list)
    elevators: list[PointFeature] = field(default_factory=list)
    site_boundary: Polygon | None = None
    defaults: dict[str, int] = field(default_factory=dict)
    """'layer.field' → how many items used the documented default."""
    warnings: list[str] = field(default_factory=list)
    """Elements left out of a layer, with the reason."""

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in LAYER_NAMES}


# ---------------------------------------------------------------------------- geometry helpers

class _Geometry:
    """Per-element derived geometry, computed once."""

    def __init__(self, twin: Twin) -> None:
        self.twin = twin
        self._world: dict[str, np.ndarray] = {}

    def world(self, element: Element) -> np.ndarray:
        if element.global_id not in self._world:
            self._world[element.global_id] = self.twin.world_vertices(element)
        return self._world[element.global_id]

    def upward_triangles(self, element: Element) -> np.ndarray:
        """(k, 3, 3) triangles facing up (normal z > 0.1), twin coordinates."""
        if element.mesh_id is None:
            return np.zeros((0, 3, 3))
        tris = self.world(element)[self.twin.meshes[element.mesh_id].faces]
        normal = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
        length = np.linalg.norm(normal, axis=1)
        up = (length > 1e-12) & (normal[:, 2] > 0.1 * np.maximum(length, 1e-12))
        return tris[up]

    def plan_area(self, element: Element) -> float:
        """Plan area of the upward faces, m² (a slab's top, a roof's area projected)."""
        tris = self.upward_triangles(element)
        if len(tris) == 0:
            return 0.0
        a, b, c = tris[:, 0, :2], tris[:, 1, :2], tris[:, 2, :2]
        cross = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
        return float(0.5 * np.abs(cross).sum())

    def footprint(self, element: Element):
        """Plan outline: union of the upward faces (all faces for shapes without any)."""
        tris = self.upward_triangles(element)
        if len(tris) == 0 and element.mesh_id is not None:
            tris = self.world(element)[self.twin.meshes[element.mesh_id].faces]
        if len(tris) == 0:
            return Polygon()
        polys = shapely.polygons(tris[:, :, :2])
        polys = polys[shapely.area(polys) > 1e-9]
        if len(polys) == 0:
            points = shapely.MultiPoint(tris.reshape(-1, 3)[:, :2])
            return points.convex_hull
        return shapely.union_all(polys, grid_size=1e-4)

    def centre(self, element: Element) -> tuple[float, float, float]:
        v = self.world(element)
        if len(v) == 0:
            t = element.transform[:3, 3]
            return float(t[0]), float(t[1]), float(t[2])
        lo, hi = v.min(axis=0), v.max(axis=0)
        mid = (lo + hi) / 2
        return float(mid[0]), float(mid[1]), float(lo[2])

    def z_range(self, element: Element) -> tuple[float, float]:
        v = self.world(element)
        if len(v) == 0:
            z = float(element.transform[2, 3])
            return z, z
        return float(v[:, 2].min()), float(v[:, 2].max())

    def local_box(self, element: Element) -> tuple[np.ndarray, np.ndarray] | None:
        """(min, max) of the mesh in the element's own frame (placement axes, metres)."""
        if element.mesh_id is None:
            return None
        v = self.twin.meshes[element.mesh_id].vertices.astype(np.float64)
        return v.min(axis=0), v.max(axis=0)


def _to_world(element: Element, point) -> np.ndarray:
    return element.transform[:3, :3] @ np.asarray(point, dtype=np.float64) + element.transform[:3, 3]


def _axis_scale(element: Element, axis: int) -> float:
    return float(np.linalg.norm(element.transform[:3, axis]))


class _Reader:
    """Reads a property or falls back to a default, counting the fallbacks."""

    def __init__(self) -> None:
        self.defaults: dict[str, int] = {}

    def get(self, element: Element, pset: str, name: str, default, key: str):
        value = element.prop(pset, name)
        if value is None:
            self.defaults[key] = self.defaults.get(key, 0) + 1
            return default
        return value


def _pipe_bore(element: Element, read: "_Reader", *, outer: float) -> float:
    """The hydraulic diameter: CT_StormPipe.Diameter, else the standard pset's InnerDiameter, then
    NominalDiameter (IFC4 Pset_PipeSegmentTypeCommon), else the body's outer extent (a default)."""
    for pset, name in (("CT_StormPipe", "Diameter"), ("Pset_PipeSegmentTypeCommon", "InnerDiameter"),
                       ("Pset_PipeSegmentTypeCommon", "NominalDiameter")):
        value = element.prop(pset, name)
        if value is not None and float(value) > 0:
            return float(value)
    read.defaults["pipes.diameter_m"] = read.defaults.get("pipes.diameter_m", 0) + 1
    return outer


def _truthy(value) -> bool:
    if isinstance(value, str):
        return value.strip().upper() in ("TRUE", "T", "YES", "1", ".T.")
    return bool(value)


# ---------------------------------------------------------------------------- extraction

def extract_layers(twin: Twin) -> Layers:
    """All simulation layers of a Twin (see docs/ifc_mapping.md)."""
    geo = _Geometry(twin)
    read = _Reader()
    layers = Layers()
    elements = list(twin.elements.values())
    by_building: dict[str, list[Element]] = {}
    for element in elements:
        if element.building:
            by_building.setdefault(element.building, []).append(element)

    layers.site_boundary = _site_boundary(twin, geo)
    try:
        _buildings(twin, geo, read, layers, by_building)
    except Exception as exc:
        layers.warnings.append(f"layers: buildings left out: {type(exc).__name__}: {exc}")
    for element in elements:
        try:
            _element_layers(twin, element, geo, read, layers)
        except Exception as exc:  # one odd element must not cost the whole twin its layers
            layers.warnings.append(f"layers: {element.global_id} ({element.ifc_class}) left out: {type(exc).__name__}: {exc}")
    _connect_pipes(twin, layers, read)
    layers.defaults = dict(sorted(read.defaults.items()))
    return layers


def _element_layers(twin: Twin, element: Element, geo: "_Geometry", read: "_Reader", layers: Layers) -> None:
    """Add one element to every layer it belongs to."""
    cls = element.ifc_class
    if cls == "IfcDoor":
        _door(element, geo, read, layers)
    if cls == "IfcPavement" or "CT_Road" in element.psets:
        _road(element, geo, read, layers)
    if cls == "IfcSpace" and (element.predefined_type or "").upper() == "PARKING":
        _parking(element, geo, read, layers)
    if cls == "IfcPipeSegment" or (cls == "IfcFlowSegment" and ("CT_StormPipe" in element.psets or element.systems)):
        _pipe(element, geo, read, layers)
    if cls == "IfcDistributionChamberElement" or "CT_StormNode" in element.psets:
        _storm_node(element, geo, read, layers)
    surface_type = _surface_type(element) if element.mesh_id is not None else None
    if surface_type:
        _surface(element, surface_type, geo, read, layers)
    if "CT_LID" in element.psets:
        _lid(element, geo, read, layers)
    if "CT_ServicePoint" in element.psets:
        _service_point(element.global_id, element.name, element.psets["CT_ServicePoint"], geo.footprint(element), None, layers)
    if cls in ("IfcSpace", "IfcSpatialZone") and (_truthy(element.prop("CT_Safety", "AssemblyArea", False)) or (element.object_type or "").upper() == "ASSEMBLY_AREA"):
        footprint = geo.footprint(element)
        area = float(footprint.area)
        capacity = element.prop("CT_Safety", "Capacity")
        layers.assembly_areas.append(Area(global_id=element.global_id, name=element.name, footprint=footprint, area_m2=area,
                                          capacity_persons=int(capacity) if capacity is not None else int(area / M2_PER_PERSON_ASSEMBLY)))
    if cls == "IfcFireSuppressionTerminal" and (element.predefined_type or "").upper() == "FIREHYDRANT":
        layers.hydrants.append(PointFeature(global_id=element.global_id, position=geo.centre(element)))
    if _truthy(element.prop("CT_Retrofit", "Illegal", False)):
        footprint = geo.footprint(element)
        layers.illegal_structures.append(Area(global_id=element.global_id, name=element.name, footprint=footprint,
                                              area_m2=float(footprint.area), height_m=geo.z_range(element)[1] - geo.z_range(element)[0]))
    if cls in ("IfcWall", "IfcWallStandardCase", "IfcRailing") and element.building is None and _contained_in_site(twin, element):
        footprint = geo.footprint(element)
        lo, hi = geo.z_range(element)
        layers.barriers.append(Area(global_id=element.global_id, name=element.name, footprint=footprint,
                                    area_m2=float(footprint.area), height_m=hi - lo))
    if cls == "IfcTransportElement" and (element.predefined_type or "").upper() == "ELEVATOR":
        layers.elevators.append(PointFeature(global_id=element.global_id, position=geo.centre(element), building=element.building))


def _contained_in_site(twin: Twin, element: Element) -> bool:
    node = twin.spatial.get(element.container or "")
    return node is not None and node.ifc_class == "IfcSite"


def _site_boundary(twin: Twin, geo: _Geometry):
    for node in twin.spatial.values():
        if node.ifc_class == "IfcSite" and node.mesh_id is not None:
            proxy = Element(global_id=node.global_id, ifc_class="IfcSite", mesh_id=node.mesh_id, transform=node.transform)
            footprint = geo.footprint(proxy)
            if not footprint.is_empty:
                return footprint
    for node in twin.spatial.values():
        if node.ifc_class == "IfcSite" and node.outline:
            outline = Polygon(node.outline)
            if outline.is_valid and outline.area > 0:
                return outline
    context = twin.context.get("site_boundary") if twin.context else None
    return context


def _buildings(twin: Twin, geo: _Geometry, read: _Reader, layers: Layers, by_building: dict[str, list[Element]]) -> None:
    storeys_of: dict[str, list[float]] = {}
    for node in twin.spatial.values():
        if node.ifc_class == "IfcBuildingStorey" and node.parent:
            storeys_of.setdefault(node.parent, []).append(node.elevation_m if node.elevation_m is not None else 0.0)
    elevators: dict[str, int] = {}
    for element in twin.elements.values():
        if element.ifc_class == "IfcTransportElement" and (element.predefined_type or "").upper() == "ELEVATOR" and element.building:
            elevators[element.building] = elevators.get(element.building, 0) + 1
    for node in twin.spatial.values():
        if node.ifc_class != "IfcBuilding":
            continue
        members = by_building.get(node.global_id, [])
        if not any(e.mesh_id for e in members):
            continue  # a building with no geometry (a component sample, a library) is no building to simulate
        horizontal = [e for e in members if e.ifc_class in ("IfcSlab", "IfcRoof", "IfcCovering") and e.mesh_id]
        parts = [geo.footprint(e) for e in (horizontal or [e for e in members if e.mesh_id])]
        footprint = shapely.union_all([p for p in parts if not p.is_empty], grid_size=1e-3) if parts else Polygon()
        if footprint.geom_type == "MultiPolygon":
            footprint = footprint.convex_hull if footprint.convex_hull.area < 1.2 * footprint.area else max(footprint.geoms, key=lambda g: g.area)
        zs = [geo.z_range(e) for e in members if e.mesh_id]
        base = min(z[0] for z in zs) if zs else 0.0
        top = max(z[1] for z in zs) if zs else 0.0
        psets = node.psets
        proxy = Element(global_id=node.global_id, ifc_class="IfcBuilding", psets=psets)
        above = [z for z in storeys_of.get(node.global_id, []) if z >= -0.5]
        storeys = int(read.get(proxy, "Pset_BuildingCommon", "NumberOfStoreys", len(above) or 1, "buildings.storeys"))
        occupancy = str(proxy.prop("Pset_BuildingCommon", "OccupancyType", "") or "").upper()
        residential = "CT_Residential" in psets or occupancy == "RESIDENTIAL"
        gross = float(footprint.area) * storeys
        units_default = int(round(gross * NET_TO_GROSS / DWELLING_AREA_M2)) if residential else 0
        units = int(read.get(proxy, "CT_Residential", "DwellingUnits", units_default, "buildings.dwelling_units") if residential else 0)
        residents = int(read.get(proxy, "CT_Residential", "Residents", int(round(units * HOUSEHOLD_SIZE)), "buildings.residents") if residential else 0)
        service = proxy.prop("CT_ServicePoint", "ServiceType")
        building = Building(global_id=node.global_id, name=node.name, footprint=footprint, base_m=base, height_m=top - base,
                            storeys=storeys, residential=residential, dwelling_units=units, residents=residents,
                            elevators=elevators.get(node.global_id, 0), service_type=service,
                            illegal=_truthy(proxy.prop("CT_Retrofit", "Illegal", False)),
                            safety_grade=proxy.prop("CT_Retrofit", "SafetyGrade"),
                            occupants=proxy.prop("CT_Building", "Occupants"))
        layers.buildings.append(building)
        if service:
            _service_point(node.global_id, node.name, psets["CT_ServicePoint"], footprint, storeys, layers)
        if building.illegal:
            layers.illegal_structures.append(Area(global_id=node.global_id, name=node.name, footprint=footprint,
                                                  area_m2=float(footprint.area), height_m=top - base))


def _door(element: Element, geo: _Geometry, read: _Reader, layers: Layers) -> None:
    gate = (element.predefined_type or "").upper() == "GATE" or (element.building is None and element.storey is None)
    position = geo.centre(element)
    overall = element.attributes.get("OverallWidth")
    if gate:
        width = element.prop("CT_Gate", "ClearWidth")
        if width is None:
            read.defaults["gates.width_m"] = read.defaults.get("gates.width_m", 0) + (overall is None)
            width = overall if overall is not None else 4.0
        vehicular = element.prop("CT_Gate", "Vehicular")
        vehicular = bool(width >= 3.0) if vehicular is None else _truthy(vehicular)
        service = float(read.get(element, "CT_Gate", "ServiceTime", 4.0 if vehicular else 0.0, "gates.service_time_s"))  # plate-recognition barrier, 3–5 s (docs/traffic.md)
        layers.gates.append(Gate(global_id=element.global_id, name=element.name, position=position, width_m=float(width),
                                 vehicular=vehicular, service_time_s=service, open=_truthy(element.prop("CT_Gate", "Open", True))))
        return
    external = element.find_prop("IsExternal")
    if external is None:
        read.defaults["entrances.is_external"] = read.defaults.get("entrances.is_external", 0) + 1
        external = _on_lowest_storey(element, geo)
    if not _truthy(external):
        return
    width = element.prop("CT_Door", "ClearWidth")
    if width is None:
        read.defaults["entrances.clear_width_m"] = read.defaults.get("entrances.clear_width_m", 0) + 1
        width = overall - 0.10 if overall is not None else 0.90
    layers.entrances.append(Entrance(global_id=element.global_id, building=element.building, position=position, clear_width_m=float(width)))


def _on_lowest_storey(element: Element, geo: _Geometry) -> bool:
    return geo.z_range(element)[0] < 1.0


def _road(element: Element, geo: _Geometry, read: _Reader, layers: Layers) -> None:
    box = geo.local_box(element)
    if box is None:
        return
    lo, hi = box
    mid_y = (lo[1] + hi[1]) / 2
    start = _to_world(element, (lo[0], mid_y, hi[2]))
    end = _to_world(element, (hi[0], mid_y, hi[2]))
    width_default = float((hi[1] - lo[1]) * _axis_scale(element, 1))
    width = float(read.get(element, "CT_Road", "Width", width_default, "roads.width_m"))
    lanes = int(read.get(element, "CT_Road", "Lanes", max(1, int(round(width / 3.5))), "roads.lanes"))
    fire_lane = element.prop("CT_Road", "FireLane")
    layers.roads.append(Road(
        global_id=element.global_id, name=element.name,
        centreline=LineString([tuple(start), tuple(end)]), width_m=width, lanes=lanes,
        speed_limit_mps=float(read.get(element, "CT_Road", "SpeedLimit", DEFAULT_SPEED_LIMIT_MPS, "roads.speed_limit_mps")),
        one_way=_truthy(read.get(element, "CT_Road", "OneWay", False, "roads.one_way")),
        fire_lane=_truthy(fire_lane) if fire_lane is not None else width >= 4.0,
        parked_width_m=float(read.get(element, "CT_Road", "InformalParkingWidth", 0.0, "roads.parked_width_m")),
        kind=str(read.get(element, "CT_Road", "Kind", "internal", "roads.kind")),
    ))


def _parking(element: Element, geo: _Geometry, read: _Reader, layers: Layers) -> None:
    footprint = geo.footprint(element)
    centre = footprint.centroid if not footprint.is_empty else Point(geo.centre(element)[:2])
    layers.parking.append(ParkingLot(
        global_id=element.global_id, name=element.name, footprint=footprint, position=(centre.x, centre.y),
        spaces=int(read.get(element, "CT_Parking", "Spaces", int(footprint.area // GROSS_M2_PER_STALL), "parking.spaces")),
        ev_chargers=int(read.get(element, "CT_Parking", "EVChargers", 0, "parking.ev_chargers")),
        kind=str(read.get(element, "CT_Parking", "Kind", "surface", "parking.kind")),
    ))


def _pipe(element: Element, geo: _Geometry, read: _Reader, layers: Layers) -> None:
    declared = element.prop("CT_StormPipe", "System")
    systems = {s.upper() for s in element.systems}
    if declared is not None:
        system = str(declared).upper()
    elif "STORMWATER" in systems or "DRAINAGE" in systems or "RAINWATER" in systems:
        system = "STORMWATER"
    elif systems & {"SEWAGE", "WASTEWATER"}:
        system = "SEWAGE"
    else:
        system = "STORMWATER"
        read.defaults["pipes.system"] = read.defaults.get("pipes.system", 0) + 1
    if system not in ("STORMWATER", "COMBINED"):
        return
    box = geo.local_box(element)
    if box is None:
        return
    lo, hi = box
    # The pipe's axis is its longest local extent (IFC extrudes profiles along local Z; some
    # tools along X); the ends are the centres of the two end faces.
    axis = int(np.argmax(hi - lo))
    mid = (lo + hi) / 2
    end_a, end_b = mid.copy(), mid.copy()
    end_a[axis], end_b[axis] = lo[axis], hi[axis]
    a, b = _to_world(element, end_a), _to_world(element, end_b)
    across = [float(hi[k] - lo[k]) for k in range(3) if k != axis]
    diameter = _pipe_bore(element, read, outer=float(np.mean(across)))
    length = element.prop("Qto_PipeSegmentBaseQuantities", "Length")
    length = float(length) if length is not None else float(np.linalg.norm(b - a))
    up_invert = element.prop("CT_StormPipe", "UpstreamInvert")
    down_invert = element.prop("CT_StormPipe", "DownstreamInvert")
    if up_invert is None or down_invert is None:
        read.defaults["pipes.inverts"] = read.defaults.get("pipes.inverts", 0) + 1
        # Undeclared: the higher end is upstream; inverts are the bottoms of the bore.
        start, end = (a, b) if a[2] >= b[2] else (b, a)
        up_invert, down_invert = start[2] - diameter / 2, end[2] - diameter / 2
    else:
        # Declared: the end whose bore bottom is nearer the upstream invert is upstream.
        bottom_a, bottom_b = a[2] - diameter / 2, b[2] - diameter / 2
        start, end = (a, b) if abs(bottom_a - float(up_invert)) <= abs(bottom_b - float(up_invert)) else (b, a)
    renewed = element.prop("CT_StormPipe", "Renewed")
    layers.pipes.append(Pipe(
        global_id=element.global_id, from_node=None, to_node=None, diameter_m=diameter, length_m=length,
        upstream_invert_m=float(up_invert), downstream_invert_m=float(down_invert),
        roughness_n=float(read.get(element, "CT_StormPipe", "ManningN", 0.013, "pipes.roughness_n")),
        system=system, renewed=_truthy(renewed) if renewed is not None else element.status == "NEW",
        start=tuple(float(x) for x in start), end=tuple(float(x) for x in end),
    ))


def _storm_node(element: Element, geo: _Geometry, read: _Reader, layers: Layers) -> None:
    kind = str(element.prop("CT_StormNode", "NodeKind", element.object_type or "") or "").upper()
    lo, hi = geo.z_range(element)
    centre = geo.centre(element)
    invert = float(read.get(element, "CT_StormNode", "InvertElevation", lo, "manholes.invert_m"))
    rim = float(read.get(element, "CT_StormNode", "RimElevation", hi, "manholes.rim_m"))
    node = StormNode(global_id=element.global_id, name=element.name, position=(centre[0], centre[1]), invert_m=invert, rim_m=rim,
                     inlet=_truthy(element.prop("CT_StormNode", "Inlet", False)))
    if kind == "OUTFALL":
        node.boundary = str(element.prop("CT_StormNode", "Boundary", "FREE")).upper()
        layers.outfalls.append(node)
    elif element.ifc_class == "IfcDistributionChamberElement":
        layers.manholes.append(node)


def _connect_pipes(twin: Twin, layers: Layers, read: _Reader) -> None:
    """from/to nodes: port connections first, else the nearest node within 2 m of each end."""
    nodes = {n.global_id: n for n in layers.manholes + layers.outfalls}
    if not nodes:
        return
    ids = list(nodes)
    xy = np.array([nodes[i].position for i in ids])
    for pipe in layers.pipes:
        connected = [g for g in twin.elements[pipe.global_id].connected_to if g in nodes]
        ends = []
        for end in (pipe.start, pipe.end):
            if connected:
                distances = [math.hypot(nodes[g].position[0] - end[0], nodes[g].position[1] - end[1]) for g in connected]
                ends.append(connected[int(np.argmin(distances))])
            else:
                d = np.hypot(xy[:, 0] - end[0], xy[:, 1] - end[1])
                k = int(np.argmin(d))
                ends.append(ids[k] if d[k] <= 2.0 else None)
        if not connected:
            read.defaults["pipes.connectivity_from_geometry"] = read.defaults.get("pipes.connectivity_from_geometry", 0) + 1
        pipe.from_node, pipe.to_node = ends


def _surface_type(element: Element) -> str | None:
    declared = element.prop("CT_Surface", "SurfaceType")
    if declared:
        return str(declared).lower()
    if "CT_Road" in element.psets:
        return None  # a road with CT_Road only is a traffic element; IfcPavement below covers surfaces
    cls, ptype = element.ifc_class, (element.predefined_type or "").upper()
    if cls == "IfcRoof" or (cls == "IfcSlab" and ptype == "ROOF"):
        return "roof"
    if cls == "IfcPavement":
        return "road"
    if cls == "IfcGeographicElement" and ptype == "TERRAIN" and "CT_LID" not in element.psets:
        return "green"
    return None


def _surface(element: Element, surface_type: str, geo: _Geometry, read: _Reader, layers: Layers) -> None:
    imperviousness, slope = SURFACE_DEFAULTS.get(surface_type, (1.0, 0.01))
    layers.surfaces.append(Surface(
        global_id=element.global_id, surface_type=surface_type, footprint=geo.footprint(element), area_m2=geo.plan_area(element),
        imperviousness=float(read.get(element, "CT_Surface", "Imperviousness", imperviousness, "surfaces.imperviousness")),
        slope=float(read.get(element, "CT_Surface", "Slope", slope, "surfaces.slope")),
        drains_to=element.prop("CT_Surface", "DrainsTo"),
    ))


def _lid(element: Element, geo: _Geometry, read: _Reader, layers: Layers) -> None:
    lid_type = str(element.prop("CT_LID", "LIDType", "bioretention")).lower()
    footprint = geo.footprint(element)
    area = geo.plan_area(element) or float(footprint.area)
    volume = element.prop("CT_LID", "Volume")
    if volume is None and lid_type in ("storage_tank", "rain_barrel"):
        lo, hi = geo.z_range(element)
        volume = float(footprint.area) * (hi - lo)
    defaults_depth = {"bioretention": 0.2, "rain_garden": 0.2}
    defaults_soil = {"bioretention": 0.6, "rain_garden": 0.6, "green_roof": 0.1}
    layers.lid_facilities.append(LIDFacility(
        global_id=element.global_id, name=element.name, lid_type=lid_type, footprint=footprint, area_m2=area,
        surface_depth_m=float(read.get(element, "CT_LID", "SurfaceDepth", defaults_depth.get(lid_type, 0.0), "lid_facilities.surface_depth_m")),
        soil_thickness_m=float(read.get(element, "CT_LID", "SoilThickness", defaults_soil.get(lid_type, 0.0), "lid_facilities.soil_thickness_m")),
        storage_depth_m=float(read.get(element, "CT_LID", "StorageDepth", 0.3, "lid_facilities.storage_depth_m")),
        volume_m3=float(volume) if volume is not None else None,
        treated_area_m2=float(read.get(element, "CT_LID", "TreatedArea", area, "lid_facilities.treated_area_m2")),
        underdrain=_truthy(read.get(element, "CT_LID", "Underdrain", False, "lid_facilities.underdrain")),
        reuse_demand_m3_per_day=float(read.get(element, "CT_LID", "ReuseDemand", 0.0, "lid_facilities.reuse_demand_m3_per_day")),
    ))


def _service_point(global_id: str, name: str | None, values: dict, footprint, storeys: int | None, layers: Layers) -> None:
    centre = footprint.centroid if footprint is not None and not footprint.is_empty else Point(0, 0)
    floor_area = values.get("FloorArea")
    if floor_area is None and footprint is not None and not footprint.is_empty:
        floor_area = float(footprint.area) * (storeys or 1)
    layers.service_points.append(ServicePoint(
        global_id=global_id, name=name, service_type=str(values.get("ServiceType", "unknown")).lower(),
        position=(float(centre.x), float(centre.y)), floor_area_m2=floor_area, capacity=values.get("Capacity"),
    ))
