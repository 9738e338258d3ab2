"""Twin → EPA SWMM 5 .inp: the drainage of one state as a model SWMM (and sim.stormwater) runs.

- Subcatchments: one per surface of `twin.layers.surfaces` (named by its GlobalId), draining to
  its declared `drains_to` node or else the nearest inlet (any manhole if none is an inlet).
  Width = area / overland flow length; Manning n and depression storage per surface type from
  the SWMM 5 User's Manual (Rossman 2015, EPA/600/R-14/413b) Appendix A.5 and A.6; Horton
  infiltration of the pervious part from Appendix A.3/A.4 (see `HortonInfiltration`).
- Junctions from manholes (invert, rim − invert = max depth), outfalls, conduits from pipes
  (named by GlobalId; offsets = pipe invert − node invert), circular sections.
- LID_CONTROLS + LID_USAGE from `lid_facilities`, one control per facility (named by its
  GlobalId) with layer parameters from its declared depths and the documented defaults below.
  A facility sits in the surface it overlaps most. One that treats more than its own area
  (`treated_area_m2`) gets its own subcatchment — the facility plus that much impervious area
  taken from the nearest impervious surfaces (roofs first for tanks and barrels), all of it
  routed through the unit (FromImp = 100 %) — the usual SWMM layout for a unit serving an
  upstream area. Total subcatchment area stays the surfaces' area.
- A storage tank with a reuse demand drains at the demand rate (underdrain exponent 0) to a
  separate REUSE outfall, so reused water is counted apart from the site's outflow.

IDs are IFC GlobalIds (0-9A-Za-z_$, 22 characters): SWMM accepts any ID without spaces, quotes
or a leading semicolon, and the builder checks that. Units: SWMM SI (CMS): ha, m, mm, mm/h.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import shapely

from sim.stormwater.rainfall import Hyetograph, to_inp_timeseries
from twin.errors import TwinError
from twin.layers import LIDFacility, Surface
from twin.model import Twin


class DrainageError(TwinError):
    """The twin's drainage cannot become a SWMM model: the message names the element and field."""


@dataclass(kw_only=True, frozen=True)
class SurfaceHydrology:
    """Overland-flow parameters of one surface type (SWMM User's Manual App. A.5, A.6)."""

    n_imperv: float
    """Manning n of the impervious part, s/m^(1/3) (A.6: smooth asphalt 0.011, concrete 0.012)."""
    n_perv: float
    """Manning n of the pervious part (A.6: short grass prairie 0.15)."""
    dstore_imperv_mm: float
    """Depression storage, impervious part, mm (A.5: impervious surfaces 1.27–2.54 mm)."""
    dstore_perv_mm: float
    """Depression storage, pervious part, mm (A.5: lawns and grass 2.54–5.08 mm)."""
    pct_zero: float = 25.0
    """Percent of the impervious area with no depression storage (SWMM default 25)."""
    max_flow_length_m: float = 100.0
    """Overland flow longer than this concentrates in gutters or swales (SWMM manual §3.3 on width)."""


SURFACE_HYDROLOGY = {
    "roof": SurfaceHydrology(n_imperv=0.012, n_perv=0.15, dstore_imperv_mm=1.27, dstore_perv_mm=2.54),
    "road": SurfaceHydrology(n_imperv=0.011, n_perv=0.15, dstore_imperv_mm=1.91, dstore_perv_mm=2.54),
    "paving": SurfaceHydrology(n_imperv=0.012, n_perv=0.15, dstore_imperv_mm=1.91, dstore_perv_mm=2.54),
    "permeable_paving": SurfaceHydrology(n_imperv=0.012, n_perv=0.05, dstore_imperv_mm=1.91, dstore_perv_mm=2.54),
    "green": SurfaceHydrology(n_imperv=0.012, n_perv=0.15, dstore_imperv_mm=1.91, dstore_perv_mm=3.81),
    "water": SurfaceHydrology(n_imperv=0.011, n_perv=0.011, dstore_imperv_mm=0.0, dstore_perv_mm=0.0, pct_zero=100.0),
}
"""Per surface type. Roofs take the low end of impervious storage (smooth, sloped), roads and
paving the middle (1.91 mm = 0.075 in), lawns the middle of 2.54–5.08 mm; permeable paving's
pervious part (joints) n 0.05. Unknown types use "paving"."""


@dataclass(kw_only=True, frozen=True)
class HortonInfiltration:
    """Horton infiltration of pervious areas (SWMM User's Manual App. A.3, A.4).

    Defaults: a dry loam (max rate 76.2 mm/h = 3 in/h, A.3), hydrologic soil group B minimum
    rate (A.4: 3.8–7.6 mm/h, 6.35 mm/h taken), decay 4.14 /h (A.3's typical 2–7 /h), 7 days to
    dry out completely, no cap on the infiltrated volume.
    """

    max_rate_mm_h: float = 76.2
    min_rate_mm_h: float = 6.35
    decay_per_h: float = 4.14
    dry_time_days: float = 7.0
    max_volume_mm: float = 0.0


@dataclass(kw_only=True, frozen=True)
class LIDDefaults:
    """Layer parameters a facility does not declare (SWMM User's Manual §3.3.14 and App. A.10;
    GB/T 25993-2010 for permeable bricks; Sponge City Technical Guide 2014 §4.2 for media)."""

    vegetation_fraction: float = 0.1
    """Share of the surface storage taken by plants (bioretention, green roof)."""
    soil_porosity: float = 0.437
    soil_field_capacity: float = 0.105
    soil_wilting_point: float = 0.047
    soil_conductivity_mm_h: float = 30.0
    """Engineered media ≈ loamy sand (App. A.2: Ks 29.97 mm/h, ψ 61.3 mm, φ 0.437, FC 0.105, WP
    0.047); the Sponge City Guide asks ≥ 36 mm/h (1e-5 m/s) for bioretention media."""
    soil_conductivity_slope: float = 10.0
    """d log K / d θ, 5–15 (manual §3.3.14 typical)."""
    soil_suction_mm: float = 61.3
    green_roof_porosity: float = 0.5
    green_roof_field_capacity: float = 0.25
    green_roof_wilting_point: float = 0.1
    green_roof_conductivity_mm_h: float = 100.0
    """Light green-roof media drain fast (manual: substrate conductivity 25–250 mm/h)."""
    drainage_mat_void_ratio: float = 0.5
    drainage_mat_roughness: float = 0.1
    pavement_thickness_mm: float = 80.0
    """Permeable brick thickness (GB/T 25993: 60–100 mm)."""
    pavement_void_ratio: float = 0.15
    pavement_permeability_mm_h: float = 360.0
    """GB/T 25993-2010: permeable bricks ≥ 1.0e-2 cm/s = 360 mm/h."""
    gravel_void_ratio: float = 0.67
    """Storage layer of gravel: void ratio (voids/solids; manual typical 0.5–0.75), porosity 0.40."""
    native_seepage_mm_h: float = 6.35
    """Seepage into the native soil below a storage layer (the Horton minimum rate)."""
    drain_time_h: float = 12.0
    """Underdrain coefficient C = 2·√D / T drains a full storage layer of depth D (mm) in T hours
    (manual §3.3.14 for exponent 0.5)."""
    drain_delay_h: float = 6.0
    """Rain barrel / tank without reuse: dry hours before the drain opens."""
    initial_saturation_pct: float = 0.0


LID_SWMM_TYPE = {"bioretention": "BC", "rain_garden": "BC", "green_roof": "GR", "permeable_pavement": "PP",
                 "storage_tank": "RB", "rain_barrel": "RB", "infiltration_trench": "IT", "rooftop_disconnection": "RD"}
"""Rain gardens are modelled as bioretention cells (SWMM's RG has no storage layer or drain;
the sample's rain gardens declare both)."""

NORTH_CHINA_EVAPORATION_MM_DAY = (0.6, 0.9, 1.8, 3.2, 4.5, 5.0, 4.2, 3.8, 3.2, 2.2, 1.2, 0.7)
"""Typical monthly potential evaporation of north-China coastal sites, mm/day (Jan–Dec, about
950 mm a year); only for continuous simulation (design storms default to none)."""

REUSE_OUTFALL = "REUSE"
_ID_OK = re.compile(r'^[^\s;"][^\s"]*$')


@dataclass(kw_only=True)
class DrainageModel:
    """The SWMM model of one Twin state, with what the builder decided along the way."""

    text: str
    subcatchment_area_m2: dict[str, float]
    subcatchment_outlet: dict[str, str]
    lid_units: dict[str, str]
    """LID GlobalId → subcatchment it sits in."""
    outfalls: list[str]
    """Site outfalls (not the REUSE outfall)."""
    reuse_outfall: str | None = None
    warnings: list[str] = field(default_factory=list)


def _check_id(kind: str, value: str) -> str:
    if not value or not _ID_OK.match(value):
        raise DrainageError(f"{kind} {value!r}: not usable as a SWMM ID (no spaces, quotes or leading ';')")
    return value


def _hydrology(surface_type: str) -> SurfaceHydrology:
    return SURFACE_HYDROLOGY.get(surface_type, SURFACE_HYDROLOGY["paving"])


def _flow_length_m(footprint, area_m2: float, max_length: float) -> float:
    """Half the short side of the footprint's minimum rotated rectangle: water runs to the
    nearer long edge (roof eaves, road gutters, the edge of a lawn)."""
    if footprint is None or footprint.is_empty:
        side = math.sqrt(max(area_m2, 1e-6))
        return min(side / 2, max_length)
    rect = shapely.minimum_rotated_rectangle(footprint)
    coords = np.asarray(rect.exterior.coords) if rect.geom_type == "Polygon" else None
    if coords is None or len(coords) < 4:
        return min(math.sqrt(max(area_m2, 1e-6)) / 2, max_length)
    sides = np.hypot(*np.diff(coords[:3], axis=0).T)
    short = float(sides.min()) if sides.min() > 0 else float(sides.max())
    return float(np.clip(short / 2, 0.5, max_length))


@dataclass
class _Sub:
    name: str
    surface_type: str
    area_m2: float
    imperv: float
    slope: float
    flow_length_m: float
    outlet: str
    polygon: object = None


def _nearest(xy: np.ndarray, names: list[str], point) -> str:
    d = np.hypot(xy[:, 0] - point[0], xy[:, 1] - point[1])
    return names[int(np.argmin(d))]


def build_drainage_model(twin: Twin, rain: Hyetograph, *, routing: str = "DYNWAVE", report_step_s: float = 60,
                         routing_step_s: float = 5.0, run_after_rain_s: float = 6 * 3600,
                         evaporation_mm_day=None, horton: HortonInfiltration = HortonInfiltration(),
                         lid_defaults: LIDDefaults = LIDDefaults(), ignore_routing: bool = False,
                         skip_steady_state: bool = False, title: str | None = None) -> DrainageModel:
    """The SWMM model (text and bookkeeping) of one Twin state under `rain`.

    For long continuous runs: KINWAVE with a routing step of a minute, `skip_steady_state=False`
    (SWMM's skipping of "steady" routing steps leaves its routing balance about 2 % open on a
    10-year record, more than the control-rate comparison can bear) and monthly evaporation
    (`NORTH_CHINA_EVAPORATION_MM_DAY`); `ignore_routing=True` runs the runoff part only.
    """
    layers = twin.layers
    routing = routing.upper()
    if routing not in ("DYNWAVE", "KINWAVE", "STEADY"):
        raise DrainageError(f"routing {routing!r}: use DYNWAVE, KINWAVE or STEADY")
    if not layers.surfaces:
        raise DrainageError(f"{twin.name}: no surfaces in the twin's surface layer, nothing to make runoff")
    if not layers.outfalls:
        raise DrainageError(f"{twin.name}: the storm network has no outfall")
    warnings: list[str] = []
    nodes = {n.global_id: n for n in layers.manholes + layers.outfalls}
    for gid in nodes:
        _check_id("storm node", gid)

    # ------------------------------------------------------------------ subcatchments
    inlets = [m for m in layers.manholes if m.inlet] or layers.manholes or layers.outfalls
    inlet_names = [m.global_id for m in inlets]
    inlet_xy = np.array([m.position for m in inlets], dtype=np.float64)
    subs: dict[str, _Sub] = {}
    for s in layers.surfaces:
        _check_id("surface", s.global_id)
        if s.area_m2 <= 0:
            warnings.append(f"surface {s.global_id}: zero plan area, left out")
            continue
        if s.drains_to is not None:
            if s.drains_to not in nodes:
                raise DrainageError(f"surface {s.global_id}: CT_Surface.DrainsTo {s.drains_to!r} is not a manhole or outfall of the storm network")
            outlet = s.drains_to
        else:
            point = s.footprint.representative_point() if s.footprint is not None and not s.footprint.is_empty else None
            if point is None:
                raise DrainageError(f"surface {s.global_id}: no footprint to find the nearest inlet from")
            outlet = _nearest(inlet_xy, inlet_names, (point.x, point.y))
        hyd = _hydrology(s.surface_type)
        subs[s.global_id] = _Sub(name=s.global_id, surface_type=s.surface_type, area_m2=float(s.area_m2),
                                 imperv=float(np.clip(s.imperviousness, 0.0, 1.0)), slope=float(s.slope),
                                 flow_length_m=_flow_length_m(s.footprint, s.area_m2, hyd.max_flow_length_m),
                                 outlet=outlet, polygon=s.footprint)
    surfaces = {s.global_id: s for s in layers.surfaces if s.global_id in subs}

    # ------------------------------------------------------------------ LID placement
    lid_units: dict[str, str] = {}
    lid_usage: list[tuple[str, LIDFacility, float, float, float]] = []  # sub, lid, area, from_imp %, width
    hosted: dict[str, float] = {}  # LID area placed inside each surface subcatchment
    reuse_used = False
    # Units that take only their own rain first, so the serving units' donors know what is taken.
    for lid in sorted(layers.lid_facilities, key=_serves_upstream):
        _check_id("LID facility", lid.global_id)
        if lid.lid_type not in LID_SWMM_TYPE:
            raise DrainageError(f"LID facility {lid.global_id}: CT_LID.LIDType {lid.lid_type!r} unknown; "
                                f"known: {', '.join(sorted(LID_SWMM_TYPE))}")
        host = _host_surface(lid, surfaces)
        if host is None:
            warnings.append(f"LID facility {lid.global_id}: not on any surface, left out")
            continue
        host_sub = subs[host.global_id]
        room = host_sub.area_m2 - hosted.get(host.global_id, 0.0)
        area = min(float(lid.area_m2), room)
        if area <= 0.01:
            warnings.append(f"LID facility {lid.global_id}: its surface {host.global_id} is already fully taken by LIDs, left out")
            continue
        if area < lid.area_m2 - 0.01:
            warnings.append(f"LID facility {lid.global_id}: area cut from {lid.area_m2:.1f} to {area:.1f} m² to fit surface {host.global_id}")
        extra = max(0.0, float(lid.treated_area_m2) - area)
        if not _serves_upstream(lid) or extra < 1.0:
            if extra >= 1.0:
                warnings.append(f"LID facility {lid.global_id}: a {lid.lid_type} takes only the rain on itself; "
                                f"treated area {lid.treated_area_m2:.0f} m² read as its own {area:.0f} m²")
            hosted[host.global_id] = hosted.get(host.global_id, 0.0) + area
            lid_usage.append((host_sub.name, lid, area, 0.0, _unit_width(lid, area, host_sub)))
            lid_units[lid.global_id] = host_sub.name
            continue
        # A unit serving an upstream area: its own subcatchment, the unit plus that impervious area.
        donated = _take_impervious_area(lid, extra, subs, surfaces, exclude=host.global_id, hosted=hosted,
                                        warnings=warnings)
        host_sub.area_m2 -= area
        name = lid.global_id if lid.global_id not in subs else f"{lid.global_id}_LID"
        donor_area = sum(a for _, a, _ in donated)
        imperv = sum(a * imp for _, a, imp in donated) / donor_area if donor_area > 0 else 0.0
        main = max(donated, key=lambda d: d[1])[0] if donated else host_sub
        subs[name] = _Sub(name=name, surface_type=main.surface_type, area_m2=area + donor_area, imperv=imperv,
                          slope=main.slope, flow_length_m=main.flow_length_m, outlet=host_sub.outlet)
        hosted[name] = area
        lid_usage.append((name, lid, area, 100.0, _unit_width(lid, area, subs[name])))
        lid_units[lid.global_id] = name
        reuse_used |= lid.lid_type in ("storage_tank", "rain_barrel") and lid.reuse_demand_m3_per_day > 0
    for name in [n for n, sub in subs.items() if sub.area_m2 < 0.01]:
        warnings.append(f"surface {name}: all of it drains through LID units now")
        del subs[name]

    # ------------------------------------------------------------------ network checks
    for pipe in layers.pipes:
        _check_id("pipe", pipe.global_id)
        for end, node in (("from_node", pipe.from_node), ("to_node", pipe.to_node)):
            if node is None or node not in nodes:
                raise DrainageError(f"pipe {pipe.global_id}: {end} is {node!r}, not a manhole or outfall within 2 m of its end")
        if pipe.diameter_m <= 0 or pipe.length_m <= 0:
            raise DrainageError(f"pipe {pipe.global_id}: diameter {pipe.diameter_m} m and length {pipe.length_m} m must be > 0")
    if reuse_used and REUSE_OUTFALL in nodes:
        raise DrainageError(f"a storm node is named {REUSE_OUTFALL!r}, the name kept for the reuse outfall")

    text = _write_inp(twin, rain, subs, lid_usage, layers, nodes, routing=routing, report_step_s=report_step_s,
                      routing_step_s=routing_step_s, run_after_rain_s=run_after_rain_s,
                      evaporation_mm_day=evaporation_mm_day, horton=horton, lid=lid_defaults,
                      reuse=reuse_used, ignore_routing=ignore_routing, skip_steady_state=skip_steady_state,
                      title=title, warnings=warnings)
    return DrainageModel(text=text, subcatchment_area_m2={n: s.area_m2 for n, s in subs.items()},
                         subcatchment_outlet={n: s.outlet for n, s in subs.items()}, lid_units=lid_units,
                         outfalls=[o.global_id for o in layers.outfalls],
                         reuse_outfall=REUSE_OUTFALL if reuse_used else None, warnings=warnings)


def drainage_inp(twin: Twin, rain: Hyetograph, *, routing: str = "DYNWAVE", report_step_s: float = 60, **options) -> str:
    """The SWMM 5 .inp text of one Twin state under `rain` (options: `build_drainage_model`)."""
    return build_drainage_model(twin, rain, routing=routing, report_step_s=report_step_s, **options).text


def _serves_upstream(lid: LIDFacility) -> bool:
    """Does the unit treat runoff from more than its own area (green roofs and permeable
    pavement take only the rain that falls on them)?"""
    return lid.lid_type not in ("green_roof", "permeable_pavement") and lid.treated_area_m2 > lid.area_m2 + 1.0


def _host_surface(lid: LIDFacility, surfaces: dict[str, Surface]) -> Surface | None:
    """The surface a facility overlaps most (its own element if it is a surface too); else the nearest."""
    if lid.global_id in surfaces:
        return surfaces[lid.global_id]
    fp = lid.footprint
    if fp is None or fp.is_empty:
        return None
    best, best_area = None, 0.0
    for s in surfaces.values():
        if s.footprint is not None and not s.footprint.is_empty and s.footprint.intersects(fp):
            overlap = s.footprint.intersection(fp).area
            if overlap > best_area:
                best, best_area = s, overlap
    if best is not None:
        return best
    return min(surfaces.values(), key=lambda s: s.footprint.distance(fp) if s.footprint is not None else math.inf)


def _take_impervious_area(lid: LIDFacility, needed_m2: float, subs: dict[str, _Sub], surfaces: dict[str, Surface],
                          *, exclude: str, hosted: dict[str, float], warnings: list[str]) -> list[tuple[_Sub, float, float]]:
    """Carve `needed_m2` of impervious area from the nearest impervious surfaces (roofs first
    for tanks and barrels); returns (donor, area taken, its imperviousness)."""
    prefer_roofs = lid.lid_type in ("storage_tank", "rain_barrel")
    candidates = [s for name, s in subs.items() if name in surfaces and name != exclude and s.imperv >= 0.5]
    fp = lid.footprint
    candidates.sort(key=lambda s: (prefer_roofs and s.surface_type != "roof", s.polygon.distance(fp)))
    taken = []
    left = needed_m2
    for donor in candidates:
        if left <= 1e-6:
            break
        free = donor.area_m2 - hosted.get(donor.name, 0.0)
        area = min(free, left / donor.imperv)
        if area <= 0.01:
            continue
        donor.area_m2 -= area
        taken.append((donor, area, donor.imperv))
        left -= area * donor.imperv
    if left > 1.0:
        warnings.append(f"LID facility {lid.global_id}: only {needed_m2 - left:.0f} of {needed_m2:.0f} m² of impervious area found to treat")
    return taken


def _unit_width(lid: LIDFacility, area_m2: float, sub: _Sub) -> float:
    """Width of the unit's outflow face: the area over the host's flow length, at most its side."""
    return float(max(1.0, min(area_m2 / max(sub.flow_length_m, 0.5), 4 * math.sqrt(area_m2))))


def _lid_control_lines(lid: LIDFacility, slope_pct: float, d: LIDDefaults) -> list[str]:
    """The [LID_CONTROLS] lines of one facility (depths mm, rates mm/h)."""
    kind = LID_SWMM_TYPE[lid.lid_type]
    name = lid.global_id
    surface_mm = lid.surface_depth_m * 1000
    soil_mm = lid.soil_thickness_m * 1000
    storage_mm = lid.storage_depth_m * 1000

    def drain(depth_mm: float) -> str:
        coeff = 2 * math.sqrt(depth_mm) / d.drain_time_h if lid.underdrain and depth_mm > 0 else 0.0
        return f"{name} DRAIN {coeff:.4f} 0.5 0 0"

    lines = [f"{name} {kind}"]
    if kind == "BC":
        lines += [f"{name} SURFACE {surface_mm:.1f} {d.vegetation_fraction} 0 {slope_pct:.2f} 5",
                  f"{name} SOIL {max(soil_mm, 1.0):.1f} {d.soil_porosity} {d.soil_field_capacity} {d.soil_wilting_point} "
                  f"{d.soil_conductivity_mm_h} {d.soil_conductivity_slope} {d.soil_suction_mm}",
                  f"{name} STORAGE {storage_mm:.1f} {d.gravel_void_ratio} {d.native_seepage_mm_h} 0",
                  drain(storage_mm)]
    elif kind == "GR":
        lines += [f"{name} SURFACE {surface_mm:.1f} {d.vegetation_fraction} 0.1 {slope_pct:.2f} 5",
                  f"{name} SOIL {max(soil_mm, 1.0):.1f} {d.green_roof_porosity} {d.green_roof_field_capacity} "
                  f"{d.green_roof_wilting_point} {d.green_roof_conductivity_mm_h} {d.soil_conductivity_slope} {d.soil_suction_mm}",
                  f"{name} DRAINMAT {max(storage_mm, 1.0):.1f} {d.drainage_mat_void_ratio} {d.drainage_mat_roughness}"]
    elif kind == "PP":
        lines += [f"{name} SURFACE {surface_mm:.1f} 0 0.012 {slope_pct:.2f} 5",
                  f"{name} PAVEMENT {d.pavement_thickness_mm} {d.pavement_void_ratio} 0 {d.pavement_permeability_mm_h} 0",
                  f"{name} STORAGE {storage_mm:.1f} {d.gravel_void_ratio} {d.native_seepage_mm_h} 0",
                  drain(storage_mm)]
    elif kind == "IT":
        lines += [f"{name} SURFACE {surface_mm:.1f} 0 0 {slope_pct:.2f} 5",
                  f"{name} STORAGE {storage_mm:.1f} {d.gravel_void_ratio} {d.native_seepage_mm_h} 0",
                  drain(storage_mm)]
    elif kind == "RB":
        height_mm = (lid.volume_m3 / lid.area_m2 * 1000) if lid.volume_m3 and lid.area_m2 > 0 else storage_mm
        lines.append(f"{name} STORAGE {height_mm:.1f} 1.0 0 0")
        if lid.reuse_demand_m3_per_day > 0:
            # Reuse: a constant withdrawal while water is stored (exponent 0: q = C), demand over area.
            rate_mm_h = lid.reuse_demand_m3_per_day / lid.area_m2 * 1000 / 24
            lines.append(f"{name} DRAIN {rate_mm_h:.4f} 0 0 0")
        else:
            coeff = 2 * math.sqrt(height_mm) / d.drain_time_h
            lines.append(f"{name} DRAIN {coeff:.4f} 0.5 0 {d.drain_delay_h}")
    elif kind == "RD":
        lines += [f"{name} SURFACE {surface_mm:.1f} 0 0.012 {slope_pct:.2f} 5", f"{name} DRAIN 0 0.5 0 0"]
    return lines


def _hms(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _write_inp(twin, rain: Hyetograph, subs: dict[str, _Sub], lid_usage, layers, nodes, *, routing, report_step_s,
               routing_step_s, run_after_rain_s, evaporation_mm_day, horton: HortonInfiltration, lid: LIDDefaults,
               reuse: bool, ignore_routing: bool, skip_steady_state: bool, title, warnings) -> str:
    start = rain.start
    end = start + timedelta(seconds=rain.duration_s + run_after_rain_s)
    wet_step = min(rain.interval_s, 300.0)
    out = ["[TITLE]", title or f"Community Twin drainage of {twin.name or 'twin'} (generated by twin.extract.drainage)", "",
           "[OPTIONS]", "FLOW_UNITS CMS", "INFILTRATION HORTON", f"FLOW_ROUTING {routing}", "LINK_OFFSETS DEPTH",
           "FORCE_MAIN_EQUATION H-W", "ALLOW_PONDING NO",
           f"SKIP_STEADY_STATE {'YES' if skip_steady_state else 'NO'}",
           f"IGNORE_ROUTING {'YES' if ignore_routing else 'NO'}",
           f"START_DATE {start:%m/%d/%Y}", f"START_TIME {start:%H:%M:%S}",
           f"REPORT_START_DATE {start:%m/%d/%Y}", f"REPORT_START_TIME {start:%H:%M:%S}",
           f"END_DATE {end:%m/%d/%Y}", f"END_TIME {end:%H:%M:%S}",
           f"WET_STEP {_hms(wet_step)}", "DRY_STEP 01:00:00", f"ROUTING_STEP {routing_step_s:g}",
           f"REPORT_STEP {_hms(report_step_s)}", "DRY_DAYS 3",
           "INERTIAL_DAMPING PARTIAL", "NORMAL_FLOW_LIMITED BOTH", "VARIABLE_STEP 0.75", "LENGTHENING_STEP 0",
           "MIN_SURFAREA 1.167", "MAX_TRIALS 8", "HEAD_TOLERANCE 0.0015", "SYS_FLOW_TOL 5", "LAT_FLOW_TOL 5",
           "MINIMUM_STEP 0.5", "THREADS 1", ""]
    if evaporation_mm_day is not None:
        values = list(evaporation_mm_day) if np.ndim(evaporation_mm_day) else [float(evaporation_mm_day)] * 12
        if len(values) != 12:
            raise DrainageError(f"evaporation_mm_day: give one value or 12 monthly values, not {len(values)}")
        out += ["[EVAPORATION]", "MONTHLY " + " ".join(f"{v:g}" for v in values), "DRY_ONLY NO", ""]
    interval = rain.interval_s
    out += ["[RAINGAGES]", f"RG INTENSITY {int(interval // 3600)}:{int(interval % 3600 // 60):02d} 1.0 TIMESERIES RAIN", ""]

    out.append("[SUBCATCHMENTS]")
    for s in subs.values():
        width = s.area_m2 / s.flow_length_m
        out.append(f"{s.name} RG {s.outlet} {s.area_m2 / 1e4:.6f} {s.imperv * 100:.3f} {width:.3f} {max(s.slope * 100, 0.1):.3f} 0")
    out += ["", "[SUBAREAS]"]
    for s in subs.values():
        h = _hydrology(s.surface_type)
        out.append(f"{s.name} {h.n_imperv} {h.n_perv} {h.dstore_imperv_mm} {h.dstore_perv_mm} {h.pct_zero:g} OUTLET")
    out += ["", "[INFILTRATION]"]
    for s in subs.values():
        no_infiltration = s.surface_type == "water"
        rates = "0 0" if no_infiltration else f"{horton.max_rate_mm_h} {horton.min_rate_mm_h}"
        out.append(f"{s.name} {rates} {horton.decay_per_h} {horton.dry_time_days} {horton.max_volume_mm}")
    out.append("")
    if lid_usage:
        out.append("[LID_CONTROLS]")
        for sub_name, facility, _, _, _ in lid_usage:
            out += _lid_control_lines(facility, max(subs[sub_name].slope * 100, 0.1) if sub_name in subs else 1.0, lid)
        out += ["", "[LID_USAGE]"]
        for sub_name, facility, area, from_imp, width in lid_usage:
            if sub_name not in subs:
                continue
            drain_to = REUSE_OUTFALL if (facility.lid_type in ("storage_tank", "rain_barrel")
                                         and facility.reuse_demand_m3_per_day > 0) else "*"
            to_perv = 1 if facility.lid_type == "rooftop_disconnection" else 0
            out.append(f"{sub_name} {facility.global_id} 1 {area:.3f} {width:.3f} {lid.initial_saturation_pct:g} "
                       f"{from_imp:g} {to_perv} * {drain_to} 0")
        out.append("")

    out.append("[JUNCTIONS]")
    outfall_ids = {o.global_id for o in layers.outfalls}
    for m in layers.manholes:
        depth = m.rim_m - m.invert_m
        if depth <= 0:
            raise DrainageError(f"manhole {m.global_id}: rim {m.rim_m} m is not above invert {m.invert_m} m")
        out.append(f"{m.global_id} {m.invert_m:.4f} {depth:.4f} 0 0 0")
    out += ["", "[OUTFALLS]"]
    for o in layers.outfalls:
        boundary = (o.boundary or "FREE").upper()
        if boundary not in ("FREE", "NORMAL"):
            warnings.append(f"outfall {o.global_id}: boundary {boundary} needs a stage; written as FREE")
            boundary = "FREE"
        out.append(f"{o.global_id} {o.invert_m:.4f} {boundary} NO")
    if reuse:
        lowest = min(n.invert_m for n in nodes.values())
        out.append(f"{REUSE_OUTFALL} {lowest - 1:.4f} FREE NO")
    out += ["", "[CONDUITS]"]
    xsections = []
    for p in layers.pipes:
        up, down = nodes[p.from_node], nodes[p.to_node]
        in_offset = p.upstream_invert_m - up.invert_m
        out_offset = p.downstream_invert_m - down.invert_m
        for label, value, node in (("upstream", in_offset, up), ("downstream", out_offset, down)):
            if value < -0.005:
                warnings.append(f"pipe {p.global_id}: {label} invert below node {node.global_id}'s invert by {-value:.3f} m; offset set to 0")
        if p.to_node in outfall_ids:
            out_offset = max(out_offset, 0.0)
        out.append(f"{p.global_id} {p.from_node} {p.to_node} {p.length_m:.3f} {p.roughness_n} "
                   f"{max(in_offset, 0.0):.4f} {max(out_offset, 0.0):.4f} 0 0")
        xsections.append(f"{p.global_id} CIRCULAR {p.diameter_m:.4f} 0 0 0 1")
    out += ["", "[XSECTIONS]", *xsections, ""]

    out += ["[TIMESERIES]", to_inp_timeseries(rain, "RAIN").rstrip("\n"), ""]
    out += ["[REPORT]", "INPUT NO", "CONTROLS NO", "SUBCATCHMENTS NONE", "NODES NONE", "LINKS NONE", ""]
    out.append("[COORDINATES]")
    for n in list(layers.manholes) + list(layers.outfalls):
        out.append(f"{n.global_id} {n.position[0]:.3f} {n.position[1]:.3f}")
    if reuse:
        o = layers.outfalls[0]
        out.append(f"{REUSE_OUTFALL} {o.position[0] + 5:.3f} {o.position[1]:.3f}")
    out += ["", "[Polygons]"]
    for s in subs.values():
        poly = s.polygon
        if poly is None or poly.is_empty:
            continue
        if poly.geom_type != "Polygon":
            poly = max(getattr(poly, "geoms", [poly]), key=lambda g: g.area)
            if poly.geom_type != "Polygon":
                continue
        for x, y in list(poly.exterior.coords)[:-1]:
            out.append(f"{s.name} {x:.3f} {y:.3f}")
    out.append("")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------- expert entry point

def _swmm_figures(model: DrainageModel, path, site_m2: float, *, step_s: float) -> dict:
    """Run one .inp in EPA SWMM (pyswmm, the optional `anchors` extra) and read its figures."""
    from pyswmm import Nodes, Simulation, SystemStats

    path.write_text(model.text)
    with Simulation(str(path)) as sim:
        nodes = Nodes(sim)
        site = [nodes[o] for o in model.outfalls]
        peak = 0.0
        sim.step_advance(step_s)
        for _ in sim:
            peak = max(peak, sum(o.total_inflow for o in site))
        stats = SystemStats(sim)
        runoff, routing = stats.runoff_stats, stats.routing_stats
        reuse_m3 = nodes[model.reuse_outfall].cumulative_inflow if model.reuse_outfall else 0.0
        outfall_m3 = sum(o.cumulative_inflow for o in site)
    leaving_mm = runoff["runoff"] + runoff["drains"] - reuse_m3 / site_m2 * 1000
    return {"rain_mm": runoff["rainfall"], "leaving_mm": leaving_mm, "outfall_m3": outfall_m3, "peak_m3s": peak,
            "flooding_m3": routing["flooding"], "reuse_m3": reuse_m3, "control_rate": 1 - leaving_mm / runoff["rainfall"],
            "runoff_error_pct": runoff["routing_error"], "routing_error_pct": routing["routing_error"]}


def main(argv=None) -> int:
    """`python -m twin.extract.drainage PROJECT [-o DIR] [-P 1 3 50] [--annual YEARS]`: write each
    state's .inp under DIR and print SWMM's figures (design storms, or the synthetic record's
    annual runoff volume control rate)."""
    import argparse
    from pathlib import Path

    import sys

    from sim.stormwater.rainfall import RainfallError, chicago_storm, synthetic_series
    from twin.project import load_project, load_state

    parser = argparse.ArgumentParser(prog="python -m twin.extract.drainage", description=main.__doc__)
    parser.add_argument("project")
    parser.add_argument("-o", "--out", default="swmm_runs")
    parser.add_argument("-P", "--periods", type=float, nargs="+", default=[1, 3, 50])
    parser.add_argument("--annual", type=int, metavar="YEARS", help="continuous run on the synthetic series instead")
    parser.add_argument("--state", action="append", help="only these states (default all)")
    args = parser.parse_args(argv)
    try:
        project = load_project(args.project)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for spec in project.states:
            if args.state and spec.name not in args.state:
                continue
            twin = load_state(project, spec.name)
            site_m2 = sum(s.area_m2 for s in twin.layers.surfaces)
            if args.annual:
                rain = synthetic_series(args.annual, seed=0)
                model = build_drainage_model(twin, rain, routing="KINWAVE", report_step_s=86400, routing_step_s=60,
                                             run_after_rain_s=86400, evaporation_mm_day=NORTH_CHINA_EVAPORATION_MM_DAY,
                                             skip_steady_state=False)
                f = _swmm_figures(model, out / f"{spec.name}_annual{args.annual}y.inp", site_m2, step_s=30 * 86400)
                print(f"{spec.name}: {args.annual} y synthetic, rain {f['rain_mm']:.0f} mm, leaving {f['leaving_mm']:.0f} mm, "
                      f"reuse {f['reuse_m3']:.0f} m3, annual runoff volume control rate {f['control_rate']:.3f} "
                      f"(SWMM continuity {f['runoff_error_pct']:.2f} / {f['routing_error_pct']:.2f} %)")
                continue
            for period in args.periods:
                model = build_drainage_model(twin, chicago_storm(period, city=str(project.settings.get("storm_city", "yantai"))))
                f = _swmm_figures(model, out / f"{spec.name}_P{period:g}.inp", site_m2, step_s=60)
                print(f"{spec.name} P={period:g}y: rain {f['rain_mm']:.1f} mm, leaving {f['leaving_mm']:.1f} mm, "
                      f"outfall {f['outfall_m3']:.0f} m3, peak {f['peak_m3s']:.3f} m3/s, flooding {f['flooding_m3']:.0f} m3 "
                      f"(SWMM continuity {f['runoff_error_pct']:.2f} / {f['routing_error_pct']:.2f} %)")
    except (TwinError, RainfallError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
