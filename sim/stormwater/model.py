"""Stormwater model: the data classes of a drainage system (SI units) and `simulate(model, settings)`.

The classes mirror the objects of an EPA SWMM 5 input file (io.py reads and writes them) with
every length in m, area in m2, flow in m3/s and rate in m/s, converted on read from the file's
own units. `simulate` prepares structure-of-arrays inputs, runs the runoff and routing kernels
(kernels.py) and returns a sim.result.Result with the metrics of metrics.py, series and frames.
Equations: SWMM 5 Reference Manual Vol. I (hydrology, Rossman & Huber 2016) and Vol. II
(hydraulics, Rossman 2017).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .controls import Controls

ENGINE_VERSION = "0.1.0"


class StormwaterInputError(ValueError):
    """Bad stormwater input; the message names the file, section, element and field."""


def canonical_name(names, name: str) -> str | None:
    """The one of `names` (a dict's keys or a list) naming `name`: SWMM names are case-insensitive."""
    if name in names:
        return name
    upper = name.upper()
    for key in names:
        if key.upper() == upper:
            return key
    return None


# ---------------------------------------------------------------------------- hydrology


@dataclass(frozen=True, kw_only=True)
class Horton:
    """Horton infiltration (SWMM Vol. I §4.2): f = fmin + (f0 - fmin) e^(-k t), recovery on drying."""

    max_rate_mps: float       # m/s, f0
    min_rate_mps: float       # m/s, fmin
    decay_per_s: float        # 1/s, k
    dry_time_s: float         # s, time for a fully saturated soil to dry completely
    max_volume_m: float = 0.0  # m, cap on cumulative infiltration (0: none)


@dataclass(frozen=True, kw_only=True)
class GreenAmpt:
    """Green-Ampt infiltration with a recovering upper soil zone (SWMM Vol. I §4.3; Mein & Larson 1973)."""

    suction_m: float          # m, capillary suction head at the wetting front
    conductivity_mps: float   # m/s, saturated hydraulic conductivity
    initial_deficit: float    # -, initial moisture deficit (porosity - initial moisture)
    modified: bool = False    # SWMM's MODIFIED_GREEN_AMPT (no deficit reset in light rain)


@dataclass(frozen=True, kw_only=True)
class CurveNumber:
    """SCS curve-number infiltration as SWMM applies it continuously (Vol. I §4.4)."""

    curve_number: float       # -, 10..99
    dry_time_s: float         # s, time for a saturated soil to recover fully


Infiltration = Horton | GreenAmpt | CurveNumber


@dataclass(frozen=True, kw_only=True)
class Subcatchment:
    """A land area draining to one node or subcatchment, split in three sub-areas (Vol. I §3.2).

    Impervious without depression storage, impervious with it, pervious; each a nonlinear
    reservoir with Manning outflow over the width. route_to sends a fraction of one kind's
    runoff onto the other (IMPERVIOUS / PERVIOUS) or all to the outlet (OUTLET).
    """

    name: str
    gage: str
    outlet: str                  # node or subcatchment name
    area_m2: float
    imperv_frac: float           # 0..1
    width_m: float               # m, characteristic overland flow width
    slope: float                 # m/m
    curb_length_m: float = 0.0
    snow_pack: str = ""
    n_imperv: float = 0.015      # Manning n of the impervious part
    n_perv: float = 0.1
    dstore_imperv_m: float = 0.0015
    dstore_perv_m: float = 0.005
    zero_imperv_frac: float = 0.25  # 0..1, impervious fraction with no depression storage
    route_to: str = "OUTLET"     # OUTLET | IMPERVIOUS | PERVIOUS
    routed_frac: float = 1.0     # 0..1
    infiltration: Infiltration | None = None


@dataclass(frozen=True, kw_only=True)
class RainGage:
    """A rain gauge: a TIMESERIES of the model or an external rain FILE (station, units)."""

    name: str
    form: str                 # INTENSITY | VOLUME | CUMULATIVE
    interval_s: float         # s, recording interval
    snow_catch: float = 1.0
    source: str = "TIMESERIES"  # TIMESERIES | FILE
    series: str = ""          # time series name (source TIMESERIES)
    file: str = ""            # rain file path (source FILE)
    station: str = ""
    units: str = "MM"         # IN | MM: the gauge's rain units (file or series values)


@dataclass(frozen=True, kw_only=True)
class TimeSeries:
    """A time series as the file gives it: times in s from the simulation start (or absolute,
    see `dates`), values in the units of whatever uses it (rain gauge, inflow, outfall stage)."""

    name: str
    times_s: tuple[float, ...] = ()
    values: tuple[float, ...] = ()
    dates: tuple[str, ...] = ()   # "MM/DD/YYYY" per point when the file gave dates ("" otherwise)
    file: str = ""                # external data file (FILE keyword)


@dataclass(frozen=True, kw_only=True)
class Curve:
    """A tabulated curve (storage area vs depth, pump, rating, tidal...): x and y as the file gives
    them (the file's units; the engine converts by the curve's kind when it uses it)."""

    name: str
    kind: str
    x: tuple[float, ...]
    y: tuple[float, ...]


# ---------------------------------------------------------------------------- hydraulics


@dataclass(frozen=True, kw_only=True)
class Junction:
    """A manhole / pipe joint: invert elevation, depth to the rim, surcharge and ponding."""

    name: str
    invert_m: float
    max_depth_m: float
    init_depth_m: float = 0.0
    surcharge_depth_m: float = 0.0
    ponded_area_m2: float = 0.0


@dataclass(frozen=True, kw_only=True)
class Outfall:
    """A terminal node: FREE (critical/normal depth), NORMAL, FIXED stage, TIDAL curve or TIMESERIES."""

    name: str
    invert_m: float
    kind: str = "FREE"
    stage_m: float = 0.0        # FIXED: water elevation (m)
    curve: str = ""             # TIDAL curve / TIMESERIES name
    gated: bool = False
    route_to: str = ""


@dataclass(frozen=True, kw_only=True)
class Storage:
    """A storage unit: surface area vs depth as FUNCTIONAL a d^b + c (m2) or a TABULAR curve."""

    name: str
    invert_m: float
    max_depth_m: float
    init_depth_m: float = 0.0
    shape: str = "FUNCTIONAL"
    coeff: float = 0.0           # FUNCTIONAL a (m2 per m^b)
    exponent: float = 0.0        # FUNCTIONAL b
    constant_m2: float = 0.0     # FUNCTIONAL c
    curve: str = ""              # TABULAR curve name
    surcharge_depth_m: float = 0.0
    evap_frac: float = 0.0
    seepage: tuple[float, ...] = ()   # Green-Ampt seepage parameters as given (file units)
    raw_shape: tuple[str, ...] = ()   # CYLINDRICAL/CONICAL/... parameters as given (file units)


@dataclass(frozen=True, kw_only=True)
class XSection:
    """A link's cross-section: SWMM shape name and up to four geometry values (m), barrels."""

    shape: str
    geom1_m: float
    geom2_m: float = 0.0
    geom3_m: float = 0.0
    geom4_m: float = 0.0
    barrels: int = 1
    culvert: str = ""
    curve: str = ""              # CUSTOM / IRREGULAR shape name


@dataclass(frozen=True, kw_only=True)
class Conduit:
    """A pipe or channel: Manning roughness, offsets of its ends above the node inverts."""

    name: str
    from_node: str
    to_node: str
    length_m: float
    roughness: float
    in_offset_m: float = 0.0
    out_offset_m: float = 0.0
    init_flow_m3s: float = 0.0
    max_flow_m3s: float = 0.0
    xsection: XSection | None = None


@dataclass(frozen=True, kw_only=True)
class Orifice:
    """An orifice: Q = Cd A sqrt(2 g h), weir flow when partly full (Vol. II §6.3)."""

    name: str
    from_node: str
    to_node: str
    kind: str                    # SIDE | BOTTOM
    offset_m: float
    discharge_coeff: float
    gated: bool = False
    close_time_s: float = 0.0
    xsection: XSection | None = None


@dataclass(frozen=True, kw_only=True)
class Weir:
    """A weir: TRANSVERSE / SIDEFLOW Q = Cw L h^1.5, V-NOTCH Cw tan h^2.5, TRAPEZOIDAL both (Vol. II §6.4)."""

    name: str
    from_node: str
    to_node: str
    kind: str
    crest_height_m: float
    discharge_coeff: float       # SI: m^0.5/s (US files are converted)
    gated: bool = False
    end_contractions: int = 0
    end_coeff: float = 0.0
    surcharge: bool = True
    extra: tuple[str, ...] = ()  # road width/surface and coefficient curve as given
    xsection: XSection | None = None


@dataclass(frozen=True, kw_only=True)
class Outlet:
    """An outlet: flow from a rating curve of the water above its offset (SWMM User's Manual, Outlets).

    DEPTH curves take the depth of the upstream water above the offset, HEAD curves the head across
    the outlet (upstream head less the higher of the downstream head and the offset's elevation);
    FUNCTIONAL Q = C h^n, TABULAR a RATING curve (held at its end values)."""

    name: str
    from_node: str
    to_node: str
    offset_m: float              # m, the opening above the inlet node's invert (or its elevation: LINK_OFFSETS)
    kind: str = "FUNCTIONAL/DEPTH"   # FUNCTIONAL/DEPTH | FUNCTIONAL/HEAD | TABULAR/DEPTH | TABULAR/HEAD
    coeff: float = 0.0           # FUNCTIONAL C in SI (m3/s per m^n; files' units converted)
    exponent: float = 0.0        # FUNCTIONAL n
    curve: str = ""              # TABULAR rating curve (head or depth in file length, flow in file flow units)
    gated: bool = False          # flap gate: no reverse flow


@dataclass(frozen=True, kw_only=True)
class Pump:
    """A pump: its curve (or '*' for an ideal pump passing all inflow), initial status, on/off depths."""

    name: str
    from_node: str
    to_node: str
    curve: str
    init_on: bool = True
    startup_depth_m: float = 0.0
    shutoff_depth_m: float = 0.0


@dataclass(frozen=True, kw_only=True)
class Inflow:
    """A direct inflow at a node: sfactor * series(t) + baseline (m3/s after mfactor conversion)."""

    node: str
    constituent: str = "FLOW"
    series: str = ""
    kind: str = "FLOW"
    mfactor: float = 1.0
    sfactor: float = 1.0
    baseline_m3s: float = 0.0
    pattern: str = ""
    series_factor_m3s: float = 1.0   # m3/s per unit of the series' values (flow unit conversion)


@dataclass(frozen=True, kw_only=True)
class DryWeatherFlow:
    """A dry-weather (sanitary) inflow: average flow (m3/s) and time patterns."""

    node: str
    constituent: str = "FLOW"
    average_m3s: float = 0.0
    patterns: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class LidControl:
    """A LID design as the file gives it: type and its layers' parameters (file units)."""

    name: str
    kind: str
    layers: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True, kw_only=True)
class LidUsage:
    """LID units placed in a subcatchment: count, unit area (m2), width (m), treated fractions."""

    subcatchment: str
    lid: str
    number: int
    area_m2: float
    width_m: float
    init_sat_frac: float = 0.0
    from_imperv_frac: float = 0.0
    to_perv: bool = False
    report_file: str = "*"
    drain_to: str = "*"
    from_perv_frac: float = 0.0


@dataclass(kw_only=True)
class Options:
    """Simulation options (SWMM [OPTIONS]): every key as written, plus typed accessors in SI."""

    values: dict[str, str] = field(default_factory=dict)

    def get(self, key: str, default: str = "") -> str:
        return self.values.get(key.upper(), default)

    @property
    def flow_units(self) -> str:
        return self.get("FLOW_UNITS", "CFS").upper()

    @property
    def infiltration(self) -> str:
        return self.get("INFILTRATION", "HORTON").upper()

    @property
    def routing(self) -> str:
        return self.get("FLOW_ROUTING", "KINWAVE").upper()


@dataclass(kw_only=True)
class Evaporation:
    """Evaporation: CONSTANT rate or MONTHLY rates (m/s), DRY_ONLY flag; other forms kept as text."""

    kind: str = "CONSTANT"
    rates_mps: tuple[float, ...] = (0.0,)
    dry_only: bool = False
    raw: list[str] = field(default_factory=list)   # lines of forms not simulated (TIMESERIES, TEMPERATURE...)


def _no_controls():
    from .controls import Controls

    return Controls()


@dataclass(kw_only=True)
class Model:
    """A whole drainage system as one SWMM input file holds it (SI units)."""

    title: list[str] = field(default_factory=list)
    options: Options = field(default_factory=Options)
    evaporation: Evaporation = field(default_factory=Evaporation)
    raingages: dict[str, RainGage] = field(default_factory=dict)
    subcatchments: dict[str, Subcatchment] = field(default_factory=dict)
    junctions: dict[str, Junction] = field(default_factory=dict)
    outfalls: dict[str, Outfall] = field(default_factory=dict)
    storages: dict[str, Storage] = field(default_factory=dict)
    conduits: dict[str, Conduit] = field(default_factory=dict)
    orifices: dict[str, Orifice] = field(default_factory=dict)
    weirs: dict[str, Weir] = field(default_factory=dict)
    pumps: dict[str, Pump] = field(default_factory=dict)
    outlets: dict[str, Outlet] = field(default_factory=dict)
    curves: dict[str, Curve] = field(default_factory=dict)
    timeseries: dict[str, TimeSeries] = field(default_factory=dict)
    inflows: list[Inflow] = field(default_factory=list)
    dwf: list[DryWeatherFlow] = field(default_factory=list)
    lid_controls: dict[str, LidControl] = field(default_factory=dict)
    lid_usage: list[LidUsage] = field(default_factory=list)
    extra_sections: dict[str, list[str]] = field(default_factory=dict)  # kept verbatim, written back
    controls: Controls = field(default_factory=lambda: _no_controls())   # [CONTROLS] rules (controls.py)
    source: str = ""             # where it was read from, for messages

    @property
    def node_names(self) -> list[str]:
        return [*self.junctions, *self.outfalls, *self.storages]

    @property
    def link_names(self) -> list[str]:
        return [*self.conduits, *self.pumps, *self.orifices, *self.weirs, *self.outlets]


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Run settings; None means: the model file's own option."""

    routing: str | None = None           # KINWAVE | DYNWAVE
    routing_step_s: float | None = None
    frame_interval_s: float = 60.0       # s, viewer frame spacing
    skip_dry_routing: bool = True        # skip routing while the system is empty and no inflow
    tail_step_fraction: float = 0.01     # after the rain, while no node floods and every flow is below this
    #                                      fraction of the event's peak inflow, routing steps grow to the runoff
    #                                      step (Courant-limited in dynamic wave); 0: always ROUTING_STEP
    substep_share: int = 50              # dynamic wave: one conduit in this many (at least one), those with the
    #                                      shortest Courant times, may integrate its momentum in sub-steps rather
    #                                      than hold the whole network to its step; 0: SWMM's rule exactly
    bypass_trial: int = 2                # dynamic wave: from this trial of a step on, a link whose end nodes both
    #                                      moved less than the head tolerance in the last trial keeps its flow
    #                                      (SWMM's bypass); 3: SWMM's own rule (its first two trials solve every link)
    keep_frames: bool = True
    not_outflow: tuple[str, ...] = ()    # outfalls whose water stays on the site (rain reuse), for the control rate


def simulate(model: Model, settings: Settings | None = None, *, seed: int = 0,
             progress: Callable[[float, str], None] | None = None):
    """Run runoff and routing of `model` over its own time span; returns a sim.result.Result.

    Deterministic (no random draws; `seed` is accepted for the engines' common signature).
    Metrics: see metrics.METRICS. Series: rain (m/s, area-averaged), runoff, outfall flow,
    flooding (m3/s) at the report step. Frames (viewer contract in COMMON docs): node depths,
    link flow / full flow, node flooding at the frame interval. progress(fraction, message), if
    given, is called at the start, about twice a second while the kernel runs, and at the end.
    """
    from .prepare import prepare

    del seed
    settings = settings or Settings()
    prepared = prepare(model, settings)
    if progress:
        progress(0.0, "routing")
    result = prepared.run(progress)
    if progress:
        progress(1.0, "done")
    return result


def simulate_ensemble(models: list[Model], settings: Settings | None = None, *, workers: int = 2,
                      progress: Callable[[float, str], None] | None = None) -> list:
    """Run many models (e.g. one drainage system under many storms) as one batch; Results in order.

    Each model is prepared in Python, then the compiled kernel runs without the GIL in `workers`
    threads, so a batch uses every core without a process per run and compiles once.
    """
    from concurrent.futures import ThreadPoolExecutor

    from .prepare import prepare

    settings = settings or Settings(keep_frames=False)
    prepared = [prepare(m, settings) for m in models]
    done = []

    def one(p):
        r = p.run()
        done.append(1)
        if progress:
            progress(len(done) / len(prepared), f"{len(done)} of {len(prepared)} runs")
        return r

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(one, prepared))
