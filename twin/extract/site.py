"""Twin -> evacuation Scenario: the open ground of the site, its gates as exits, residents in their stairwells.

walkable   the site boundary less building footprints, illegal structures, barriers (perimeter
           walls, fences) and roads declared blocked (`CT_Road.Blocked` = True, a proposal action)
exits      one line per gate across its opening on the site boundary, as wide as the gate;
           a gate with `CT_Gate.Open` = False is a closed exit (reported, not used)
stairwells one per unit entrance of a residential building: its residents (and dwellings)
           shared equally between the building's entrances, released at a spot in front of the
           door by the stairwell model (sim/evacuation/stairwell.py); in the daytime also the
           occupants of the service buildings (kindergarten, elderly day-care station, community
           centre: SERVICE_OCCUPANCY below, or the building's CT_Building.Occupants), each with its
           own mix of groups and leaving room by room (a class with its teachers)
assembly   the assembly areas (parks, squares): destinations as the gates are (a resident is safe
           when he steps into one), named by their GlobalId

The engine never sees the Twin; what this returns can be written as a GeoJSON scenario
(sim.evacuation.io.write_scenario) and run by anyone, or cross-checked with JuPedSim.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import shapely
from shapely.geometry import LineString, Point
from shapely.ops import nearest_points

from twin.errors import TwinError
from twin.model import Twin

DOOR_SPOT_M = (0.6, 1.0, 1.5, 2.0, 3.0)
"""Distances (m) in front of a unit entrance door tried for the spot where residents step out."""
STOREY_HEIGHT_M = 2.8
"""Floor-to-floor height of a walk-up when the building's height does not give one (GB 50096: 2.8 m)."""


@dataclass(frozen=True)
class ServiceOccupancy:
    """Who is in a service building in the daytime: persons per m2 of gross floor area, persons per
    room (leaving together), and the mix of groups. Assumptions for when the IFC gives no
    CT_Building.Occupants; each use is named in the run's warnings."""

    floor_area_per_person_m2: float
    persons_per_room: int
    groups: tuple[tuple[str, float], ...]
    basis: str


PERSONS_PER_ROOM = 20
"""People leaving a room together in a non-residential building of another use that gives its
CT_Building.Occupants (the community centre's figure)."""


SERVICE_OCCUPANCY = {
    # a kindergarten of about 10 m2 of building per child (JGJ 39-2016 and the kindergarten building
    # standard give roughly 9-12 m2 per place), classes of 30, one member of staff per 7 children
    "kindergarten": ServiceOccupancy(10.0 * 8 / 7, 34, (("child", 7 / 8), ("adult", 1 / 8)),
                                     "10 m2 per child, 1 staff per 7 children, classes of 30"),
    # a day-care station for the elderly: about 15 m2 of building per person, a quarter of them
    # unable to walk unaided, one carer per 6
    "elderly_station": ServiceOccupancy(15.0, 12, (("elderly", 0.6), ("mobility_impaired", 0.25), ("adult", 0.15)),
                                        "15 m2 per person, a quarter mobility-impaired"),
    # activity rooms and offices of a community centre: about 10 m2 per person, many of them elderly
    "community_centre": ServiceOccupancy(10.0, PERSONS_PER_ROOM, (("adult", 0.6), ("elderly", 0.4)),
                                         "10 m2 per person, 40 % elderly"),
}
"""Daytime occupancy of the service buildings by CT_Building.ServiceType (night: closed, empty)."""


class SiteError(TwinError):
    """A twin cannot be turned into an evacuation scenario (no site boundary, a door with no way out...)."""


@dataclass(kw_only=True)
class SiteScenario:
    """The extracted scenario plus what the extraction had to assume."""

    scenario: object                       # sim.evacuation.Scenario
    exit_names: dict[str, str] = field(default_factory=dict)   # exit id (gate GlobalId) -> gate name
    warnings: list[str] = field(default_factory=list)


def _truthy(value) -> bool:
    if isinstance(value, str):
        return value.strip().upper() in ("TRUE", "T", "YES", "1", ".T.")
    return bool(value)


def _gate_line(boundary, position, width_m: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """The exit line of a gate: `width_m` long, centred on the site boundary point nearest the gate,
    along the boundary edge there."""
    ring = boundary.exterior
    p = Point(position[0], position[1])
    along = ring.project(p)
    q = ring.interpolate(along)
    a = ring.interpolate(max(along - 0.5, 0.0))
    b = ring.interpolate(min(along + 0.5, ring.length))
    tx, ty = b.x - a.x, b.y - a.y
    norm = math.hypot(tx, ty) or 1.0
    tx, ty = tx / norm, ty / norm
    h = width_m / 2
    return (q.x - h * tx, q.y - h * ty), (q.x + h * tx, q.y + h * ty)


def _door_spot(footprint, position, area, where: str) -> tuple[float, float]:
    """A walkable spot just outside a door: along the outward normal of the footprint edge nearest it."""
    p = Point(position[0], position[1])
    edge_point = nearest_points(footprint.exterior, p)[0]
    ring = footprint.exterior
    along = ring.project(edge_point)
    a = ring.interpolate(max(along - 0.3, 0.0))
    b = ring.interpolate(min(along + 0.3, ring.length))
    tx, ty = b.x - a.x, b.y - a.y
    norm = math.hypot(tx, ty) or 1.0
    nx, ny = -ty / norm, tx / norm
    if footprint.contains(Point(edge_point.x + 0.05 * nx, edge_point.y + 0.05 * ny)):
        nx, ny = -nx, -ny
    for d in DOOR_SPOT_M:
        spot = (edge_point.x + d * nx, edge_point.y + d * ny)
        if area.contains(Point(spot).buffer(0.2)):
            return spot
    raise SiteError(f"{where}: no walkable ground within {DOOR_SPOT_M[-1]} m in front of the door "
                    f"at ({position[0]:.1f}, {position[1]:.1f}) — is it blocked by a structure?")


def scenario_from_twin(twin: Twin, *, night: bool = False) -> SiteScenario:
    """The evacuation scenario of a twin's state (see the module docstring); at night the service
    buildings are closed and only the residents are there."""
    from sim.evacuation import Exit, Scenario
    from sim.evacuation.stairwell import Stairwell

    layers = twin.layers
    site = layers.site_boundary
    if site is None or site.is_empty:
        raise SiteError(f"{twin.source}: no site boundary (IfcSite geometry, its FootPrint, or the CIM context's "
                        "site_boundary): the evacuation needs the ground the residents can walk on")
    warnings: list[str] = []
    obstacles = [b.footprint for b in layers.buildings if not b.footprint.is_empty]
    obstacles += [s.footprint for s in layers.illegal_structures if not s.footprint.is_empty]
    obstacles += [w.footprint for w in layers.barriers if not w.footprint.is_empty]
    for road in layers.roads:
        element = twin.elements.get(road.global_id)
        if element is not None and _truthy(element.prop("CT_Road", "Blocked", False)):
            obstacles.append(road.centreline.buffer(road.width_m / 2, cap_style="flat"))
    obstacles = [o.buffer(0) for o in obstacles if o.area > 0]
    area = site.difference(shapely.union_all(obstacles)) if obstacles else site
    exits, names = [], {}
    for gate in layers.gates:
        a, b = _gate_line(site, gate.position, gate.width_m)
        exits.append(Exit(id=gate.global_id, coords=(a, b), width_m=gate.width_m, open=gate.open))
        names[gate.global_id] = gate.name or gate.global_id
    if not any(e.open for e in exits):
        raise SiteError(f"{twin.source}: no open gate in the site (gates: {len(exits)}); nobody can get out")
    entrances_of: dict[str, list] = {}
    for entrance in layers.entrances:
        entrances_of.setdefault(entrance.building, []).append(entrance)
    stairwells = []
    for building in layers.buildings:
        label = f"building {building.global_id} ({building.name})"
        occupants, groups, per_room = building.residents, (), 0
        if occupants <= 0 and not night:
            occupants, groups, per_room = _service_occupants(twin, building, label, warnings)
        if occupants <= 0:
            continue
        entrances = sorted(entrances_of.get(building.global_id, []), key=lambda e: e.global_id)
        if not entrances:
            centre = building.footprint.exterior.interpolate(0.0)
            warnings.append(f"{label}: no external door; its {occupants} occupants leave by one "
                            "assumed door at the first corner of its footprint")
            entrances = [type("Door", (), {"global_id": f"{building.global_id}-door", "position": (centre.x, centre.y, 0.0),
                                           "clear_width_m": 0.9})()]
        storeys = max(int(building.storeys), 1)
        storey_height = building.height_m / storeys if building.height_m > 0 else STOREY_HEIGHT_M
        storey_height = min(max(storey_height, 2.5), 4.5)
        count = len(entrances)
        rooms = building.dwelling_units if not per_room else max(1, math.ceil(occupants / per_room))
        for k, entrance in enumerate(entrances):
            residents = occupants // count + (1 if k < occupants % count else 0)
            dwellings = rooms // count + (1 if k < rooms % count else 0)
            dwellings = max(dwellings, 1 if residents else 0)
            per_floor = tuple(dwellings // storeys + (1 if f < dwellings % storeys else 0) for f in range(storeys))
            where = f"entrance {entrance.global_id} of {label}"
            spot = _door_spot(building.footprint, entrance.position, area, where)
            stairwells.append(Stairwell(id=entrance.global_id, door_xy=spot, storeys=storeys,
                                        dwellings_per_floor=per_floor, residents=residents,
                                        door_width_m=float(entrance.clear_width_m), storey_height_m=storey_height,
                                        source=where, groups=groups))
    areas = [a for a in layers.assembly_areas if not a.footprint.is_empty]
    for a in areas:
        names[a.global_id] = a.name or a.global_id
    scenario = Scenario(walkable=site, obstacles=tuple(obstacles), exits=tuple(exits),
                        assembly=tuple(a.footprint for a in areas), assembly_ids=tuple(a.global_id for a in areas),
                        stairwells=tuple(stairwells), name=twin.name)
    return SiteScenario(scenario=scenario, exit_names=names, warnings=warnings)


def _service_occupants(twin: Twin, building, label: str, warnings: list[str]):
    """(occupants, group mix, persons per room) of a non-residential building in the daytime."""
    kind = (building.service_type or "").lower()
    use = SERVICE_OCCUPANCY.get(kind)
    given = building.occupants
    if given is not None:
        if isinstance(given, bool) or not isinstance(given, (int, float)) or given < 0:
            raise SiteError(f"{twin.source}: {label}: CT_Building.Occupants must be a whole number >= 0, "
                            f"got {given!r}")
        if use is None:   # another use: the run's own group mix, rooms of an ordinary size
            return int(given), (), PERSONS_PER_ROOM
        return int(given), use.groups, use.persons_per_room
    if use is None:
        return 0, (), 0
    floor_area = building.footprint.area * max(int(building.storeys), 1)
    occupants = int(round(floor_area / use.floor_area_per_person_m2))
    warnings.append(f"{label}: {occupants} daytime occupants assumed ({kind.replace('_', ' ')}, {floor_area:.0f} m2 "
                    f"of floor: {use.basis}; give CT_Building.Occupants to set them)")
    return occupants, use.groups, use.persons_per_room


def gate_exit_line(site, position, width_m: float) -> LineString:
    """The exit line scenario_from_twin draws for a gate (for reports and tests)."""
    return LineString(_gate_line(site, position, width_m))
