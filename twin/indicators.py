"""The "beautiful community" scorecard: every indicator of twin/indicators.toml on every state.

The indicators — their standard (one of six), names, unit, target and its source, and how
each is computed — are data in `indicators.toml`; this module holds the functions named by
their `method` field (METHODS) and the scoring: per state a value, pass/fail against the
target, the change against the baseline, and where the number came from; per standard an
index (share of decided indicators that pass, 0–100) and an overall index (their mean).

A value the platform cannot compute is None with the reason (`note`), never a guess: an
engine not in this build, an engine that failed, a service type absent from the twin and its
context. Engine runs (stormwater, traffic, evacuation through
twin/commands/<engine>.py `run_state`) and sunlight runs are cached on disk by input
fingerprint (twin.engine_cache), so a second scorecard of unchanged inputs only reads.
"""
from __future__ import annotations

import inspect
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from twin.errors import ProjectError, TwinError

DEFINITIONS = Path(__file__).with_name("indicators.toml")
ENGINES = ("stormwater", "traffic", "evacuation", "sunlight")
"""What `--engines` selects: the three simulation engines and the sunlight ray caster."""
TARGET_OPS = (">=", "<=", "los<=", "not_worse", "better", "declared")
LOS_LETTERS = "ABCDEF"
TOLERANCE = 1e-9


class IndicatorError(TwinError):
    """indicators.toml (or a project's [governance] section) is malformed."""


class NotComputed(Exception):
    """An indicator has no value for a state; the message says why."""


@dataclass(frozen=True, kw_only=True)
class Standard:
    id: str
    name_zh: str
    name_en: str


@dataclass(frozen=True, kw_only=True)
class Indicator:
    id: str
    standard: str
    name_zh: str
    name_en: str
    unit: str
    target: dict[str, Any]
    better: str
    target_source: str
    method: str
    computed: str
    params: dict[str, Any] = field(default_factory=dict)


def load_definitions(path: str | Path = DEFINITIONS) -> tuple[list[Standard], list[Indicator]]:
    """Read and check the indicator data file; IndicatorError names the file, row and field."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndicatorError(f"{path}: no such indicator file") from None
    except tomllib.TOMLDecodeError as exc:
        raise IndicatorError(f"{path}: not valid TOML: {exc}") from None
    standards = []
    for i, raw in enumerate(data.get("standard", [])):
        try:
            standards.append(Standard(id=raw["id"], name_zh=raw["name_zh"], name_en=raw["name_en"]))
        except KeyError as exc:
            raise IndicatorError(f"{path}: standard[{i}] lacks {exc.args[0]!r}") from None
    known = {s.id for s in standards}
    indicators: list[Indicator] = []
    required = ("id", "standard", "name_zh", "name_en", "unit", "target", "better", "target_source", "method", "computed")
    for i, raw in enumerate(data.get("indicator", [])):
        where = f"{path}: indicator[{i}] ({raw.get('id', '?')})"
        missing = [k for k in required if k not in raw]
        if missing:
            raise IndicatorError(f"{where}: missing {', '.join(missing)}")
        if raw["standard"] not in known:
            raise IndicatorError(f"{where}: standard {raw['standard']!r} is not one of {sorted(known)}")
        if raw["method"] not in METHODS:
            raise IndicatorError(f"{where}: method {raw['method']!r} is not one of {sorted(METHODS)}")
        target = raw["target"]
        if not isinstance(target, dict) or target.get("op") not in TARGET_OPS or "value" not in target:
            raise IndicatorError(f"{where}: target must be {{ op = one of {TARGET_OPS}, value = ... }}")
        resolution = target.get("resolution", 0.0)
        if isinstance(resolution, bool) or not isinstance(resolution, (int, float)) or resolution < 0:
            raise IndicatorError(f"{where}: target resolution must be a number ≥ 0, not {resolution!r}")
        if raw["better"] not in ("higher", "lower"):
            raise IndicatorError(f"{where}: better must be 'higher' or 'lower'")
        if any(ind.id == raw["id"] for ind in indicators):
            raise IndicatorError(f"{where}: id used twice")
        try:
            inspect.signature(METHODS[raw["method"]]).bind(None, **raw.get("params", {}))
        except TypeError as exc:
            raise IndicatorError(f"{where}: params do not fit method {raw['method']}: {exc}") from None
        indicators.append(Indicator(**{k: raw[k] for k in required}, params=dict(raw.get("params", {}))))
    if not indicators:
        raise IndicatorError(f"{path}: no [[indicator]] rows")
    return standards, indicators


# ------------------------------------------------------------------------------ state context

class StateContext:
    """One state of a project and the lazily built things its indicators share."""

    def __init__(self, project, state: str, *, engines: set[str], runs: "Runs") -> None:
        self.project = project
        self.state = state
        self.engines = engines
        self.runs = runs
        self._twin = None
        self._network = None

    @property
    def twin(self):
        if self._twin is None:
            from twin.project import load_state

            self._twin = load_state(self.project, self.state)
        return self._twin

    @property
    def network(self):
        if self._network is None:
            from twin.access import build_walk_network

            self._network = build_walk_network(self.twin)
        return self._network

    @property
    def is_baseline(self) -> bool:
        return self.state == self.project.baseline.name

    def static_source(self) -> str:
        return f"twin layers of state {self.state} ({self.runs.state_fingerprint(self.state)[:12]})"


# ------------------------------------------------------------------------------ static methods

def _resident_share(ctx: StateContext, sources: list[int], radius_m: float) -> tuple[float, str]:
    from twin.access import building_distances, resident_share_within

    share = resident_share_within(ctx.twin, building_distances(ctx.twin, ctx.network, sources), radius_m)
    if share is None:
        raise NotComputed("no residents in the twin")
    return 100.0 * share, f"walking network of state {ctx.state} ({ctx.network.graph.number_of_edges()} edges)"


def walk_share(ctx: StateContext, service: str, radius_m: float) -> tuple[float, str]:
    from twin.access import service_sources

    sources = service_sources(ctx.network, service)
    if not sources:
        raise NotComputed(f"no {service} in the twin or its CIM context")
    return _resident_share(ctx, sources, radius_m)


def walk_green_share(ctx: StateContext, min_area_m2: float, radius_m: float) -> tuple[float, str]:
    big = {s.global_id for s in ctx.twin.layers.surfaces if s.surface_type == "green" and s.area_m2 >= min_area_m2}
    sources = [node for key, node in ctx.network.attached.items() if key.startswith("green:") and key[6:] in big]
    if not sources:
        raise NotComputed(f"no green space of at least {min_area_m2:g} m²")
    return _resident_share(ctx, sources, radius_m)


def service_floor_area(ctx: StateContext, service: str) -> float:
    points = [p for p in ctx.twin.layers.service_points if p.service_type == service]
    if not points:
        raise NotComputed(f"no {service} in the twin")
    if any(p.floor_area_m2 is None for p in points):
        raise NotComputed(f"a {service} states no floor area")
    return float(sum(p.floor_area_m2 for p in points))


def service_capacity(ctx: StateContext, service: str) -> float:
    points = [p for p in ctx.twin.layers.service_points if p.service_type == service]
    if not points:
        raise NotComputed(f"no {service} in the twin")
    stated = [p.capacity for p in points if p.capacity is not None]
    if not stated:
        raise NotComputed(f"no {service} states a capacity (CT_ServicePoint.Capacity)")
    return float(sum(stated))


def _pipe_lengths(ctx: StateContext):
    pipes = ctx.twin.layers.pipes
    if not pipes:
        raise NotComputed("no storm or combined pipes in the twin")
    return pipes, sum(p.length_m for p in pipes)


def pipes_renewed_share(ctx: StateContext) -> float:
    pipes, total = _pipe_lengths(ctx)
    return 100.0 * sum(p.length_m for p in pipes if p.renewed) / total


def separated_share(ctx: StateContext) -> float:
    pipes, total = _pipe_lengths(ctx)
    return 100.0 * sum(p.length_m for p in pipes if p.system == "STORMWATER") / total


def _green_surfaces(ctx: StateContext):
    return [s for s in ctx.twin.layers.surfaces if s.surface_type == "green"]


def green_ratio(ctx: StateContext) -> float:
    site = ctx.twin.layers.site_boundary
    if site is None or site.area <= 0:
        raise NotComputed("no site boundary (IfcSite outline or CIM context)")
    return 100.0 * sum(s.area_m2 for s in _green_surfaces(ctx)) / float(site.area)


def green_spaces_count(ctx: StateContext, min_area_m2: float) -> float:
    return float(sum(1 for s in _green_surfaces(ctx) if s.area_m2 >= min_area_m2))


def illegal_count(ctx: StateContext) -> float:
    return float(len(ctx.twin.layers.illegal_structures))


def illegal_area(ctx: StateContext) -> float:
    return float(sum(a.area_m2 for a in ctx.twin.layers.illegal_structures))


def _households(ctx: StateContext) -> int:
    households = sum(b.dwelling_units for b in ctx.twin.layers.buildings if b.residential)
    if households <= 0:
        raise NotComputed("no dwellings in the twin")
    return households


def parking_per_household(ctx: StateContext) -> float:
    return sum(lot.spaces for lot in ctx.twin.layers.parking) / _households(ctx)


def ev_share(ctx: StateContext) -> float:
    spaces = sum(lot.spaces for lot in ctx.twin.layers.parking)
    if spaces <= 0:
        raise NotComputed("no parking spaces in the twin")
    return 100.0 * sum(min(lot.ev_chargers, lot.spaces) for lot in ctx.twin.layers.parking) / spaces


def step_free_share(ctx: StateContext) -> float:
    ramps = {e.building for e in ctx.twin.elements.values() if e.ifc_class in ("IfcRamp", "IfcRampFlight") and e.building}
    total = step_free = 0.0
    for b in ctx.twin.layers.buildings:
        if not b.residential:
            continue
        total += b.dwelling_units
        if b.elevators > 0:
            step_free += b.dwelling_units
        elif b.global_id in ramps:
            step_free += b.dwelling_units / max(b.storeys, 1)
    if total <= 0:
        raise NotComputed("no dwellings in the twin")
    return 100.0 * step_free / total


def fire_lanes_clear(ctx: StateContext) -> float:
    lanes = [r for r in ctx.twin.layers.roads if r.fire_lane]
    if not lanes:
        raise NotComputed("no road is marked as a fire lane")
    total = sum(r.centreline.length for r in lanes)
    clear = sum(r.centreline.length for r in lanes if r.width_m - r.parked_width_m >= 4.0 - TOLERANCE)
    return 100.0 * clear / total


def hydrant_coverage(ctx: StateContext, radius_m: float) -> tuple[float, str]:
    network = ctx.network
    hydrants = network.nodes_of("hydrant:")
    if not hydrants:
        raise NotComputed("no hydrants in the twin")
    reached = network.distances_from(hydrants)
    worst: dict[str, float] = {}
    entrance_building = {e.global_id: e.building for e in ctx.twin.layers.entrances}
    for key, node in network.attached.items():
        kind, _, rest = key.partition(":")
        building = entrance_building.get(rest) if kind == "entrance" else rest if kind == "building" else None
        if building is not None:
            worst[building] = max(worst.get(building, 0.0), reached.get(node, math.inf))
    if not worst:
        raise NotComputed("no buildings with entrances")
    covered = sum(1 for d in worst.values() if d <= radius_m)
    return 100.0 * covered / len(worst), f"walking network of state {ctx.state}, {len(hydrants)} hydrants"


def declared(ctx: StateContext, key: str) -> tuple[bool, str]:
    governance = read_governance(ctx.project)
    if governance is None:
        raise NotComputed("not declared: project.toml has no [governance] section")
    items = governance.get(ctx.state)
    if items is None:
        raise NotComputed(f"not declared: [governance] has no entry for state {ctx.state}")
    return key in items, f"declared in {ctx.project.root / 'project.toml'} [governance].{ctx.state}"


def read_governance(project) -> dict[str, list[str]] | None:
    """[governance] of project.toml: state name → list of declared smart-governance items."""
    path = project.root / "project.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    section = data.get("governance")
    if section is None:
        return None
    if not isinstance(section, dict) or not all(isinstance(v, list) and all(isinstance(i, str) for i in v) for v in section.values()):
        raise IndicatorError(f"{path}: [governance] must map each state name to a list of item names")
    return section


# ------------------------------------------------------------------------------ engine methods

def _engine_value(ctx: StateContext, engine: str, metrics: list[str], *, overrides: dict | None = None,
                  run_args: dict | None = None, as_percent: bool = False) -> tuple[float, str]:
    run = ctx.runs.engine(ctx.state, engine, overrides=overrides, run_args=run_args)
    for name in metrics:
        if name in run.result.metrics:
            metric = run.result.metrics[name]
            value = metric.value
            if value is None or (isinstance(value, float) and math.isnan(value)):
                raise NotComputed(f"{engine} engine gave no value for {name} (NaN)")
            if as_percent and metric.unit.strip() in ("1", "fraction", "-", ""):
                value = 100.0 * value  # the engine reports a 0–1 fraction; the scorecard shows percent
            return float(value), run.describe(name)
    raise NotComputed(f"{engine} engine result has none of the metrics {', '.join(metrics)}")


def engine_metric(ctx: StateContext, engine: str, metrics: list[str], scale_fraction_to_percent: bool = False,
                  return_period_years: float | None = None, per_building_prefix: str | None = None,
                  rain_series_setting: str | None = None) -> tuple[float, str]:
    overrides = run_args = None
    if rain_series_setting is not None:
        # a continuous run over the rain record the project declares (run_state's series argument)
        declared = ctx.project.settings.get(rain_series_setting)
        if not declared:
            raise NotComputed(f"no rain record: project.toml [settings] has no {rain_series_setting}")
        record = (ctx.project.root / str(declared)).resolve()
        if not record.is_file():
            raise NotComputed(f"rain record {record} (settings.{rain_series_setting}) does not exist")
        run_args = {"series": str(record)}
    elif return_period_years is not None and float(ctx.project.settings.get("storm_return_period_years", 3)) != float(return_period_years):
        # another design storm: the setting for engines that read it, the storm argument for run_state (twin.commands.stormwater)
        overrides = {"storm_return_period_years": return_period_years}
        run_args = {"storm": f"P{return_period_years:g}"}
    try:
        value, source = _engine_value(ctx, engine, metrics, overrides=overrides, run_args=run_args,
                                      as_percent=scale_fraction_to_percent)
    except NotComputed:
        if per_building_prefix is None:
            raise
        run = ctx.runs.engine(ctx.state, engine)
        per_building = [m.value for k, m in run.result.metrics.items() if k.startswith(per_building_prefix)]
        if not per_building:
            raise
        return float(max(per_building)), run.describe(f"max of {per_building_prefix}*")
    return value, source


def engine_reduction(ctx: StateContext, engine: str, metrics: list[str]) -> tuple[float, str]:
    value, source = _engine_value(ctx, engine, metrics)
    base, _ = _engine_value(StateContext(ctx.project, ctx.project.baseline.name, engines=ctx.engines, runs=ctx.runs), engine, metrics)
    if base <= 0:
        raise NotComputed(f"baseline {metrics[0]} is {base}: no reduction to compute")
    return 100.0 * (base - value) / base, source + " against the baseline run"


HCM_DELAY_BANDS_S = {"hcm_signalised": (10.0, 20.0, 35.0, 55.0, 80.0), "hcm_unsignalised": (10.0, 15.0, 25.0, 35.0, 50.0)}
"""Upper control delay (s/veh) of LOS A–E (HCM 7th edition exhibits 19-8 and 20-2)."""
FRUIN_DENSITY_BANDS = (0.31, 0.43, 0.72, 1.08, 2.17)
"""Upper density (persons/m²) of Fruin's walkway levels A–E (Fruin 1971)."""


def los_letter(value: float, bands: tuple[float, ...]) -> str:
    for letter, upper in zip(LOS_LETTERS, bands):
        if value <= upper:
            return letter
    return "F"


def engine_los(ctx: StateContext, engine: str, metrics: list[str], delay_metrics: list[str] | None = None,
               density_metrics: list[str] | None = None, bands: str = "hcm_signalised") -> tuple[str, str]:
    run = ctx.runs.engine(ctx.state, engine)
    for name in metrics:
        if name in run.result.metrics:
            value = run.result.metrics[name].value
            if isinstance(value, str) and value in LOS_LETTERS:
                return value, run.describe(name)
            return LOS_LETTERS[int(value)], run.describe(name)  # engines store a letter as its index 0–5
    numeric = delay_metrics or density_metrics or []
    table = FRUIN_DENSITY_BANDS if bands == "fruin" else HCM_DELAY_BANDS_S[bands]
    for name in numeric:
        if name in run.result.metrics:
            return los_letter(run.result.metrics[name].value, table), run.describe(name) + " banded"
    raise NotComputed(f"{engine} engine result has none of the metrics {', '.join(metrics + numeric)}")


def sunlight_share(ctx: StateContext) -> tuple[float, str]:
    run = ctx.runs.sunlight(ctx.state)
    return 100.0 * run.share_meeting(), run.describe()


def sunlight_pushed_below(ctx: StateContext) -> tuple[float, str]:
    run = ctx.runs.sunlight(ctx.state)
    if ctx.is_baseline:
        return 0.0, run.describe() + " (the baseline is the reference)"
    base = ctx.runs.sunlight(ctx.project.baseline.name)
    from twin.sunlight import compare_states

    comparison = compare_states(base.result, run.result, ctx.runs.sunlight(ctx.state, without_added_elevators=True).result)
    return float(len(comparison.violations)), run.describe() + f"; {len(comparison.exempt)} exempt (elevator additions)"


METHODS: dict[str, Callable[..., Any]] = {
    "walk_share": walk_share, "walk_green_share": walk_green_share, "service_floor_area": service_floor_area,
    "service_capacity": service_capacity, "pipes_renewed_share": pipes_renewed_share, "separated_share": separated_share,
    "green_ratio": green_ratio, "green_spaces_count": green_spaces_count, "illegal_count": illegal_count,
    "illegal_area": illegal_area, "parking_per_household": parking_per_household, "ev_share": ev_share,
    "step_free_share": step_free_share, "fire_lanes_clear": fire_lanes_clear, "hydrant_coverage": hydrant_coverage,
    "declared": declared, "engine_metric": engine_metric, "engine_reduction": engine_reduction,
    "engine_los": engine_los, "sunlight_share": sunlight_share, "sunlight_pushed_below": sunlight_pushed_below,
}
ENGINE_OF_METHOD = {"sunlight_share": "sunlight", "sunlight_pushed_below": "sunlight"}


def engine_of(indicator: Indicator) -> str | None:
    """The engine an indicator needs (None for the static ones)."""
    return indicator.params.get("engine") or ENGINE_OF_METHOD.get(indicator.method)


# ------------------------------------------------------------------------------ scoring

def passes(indicator: Indicator, value: Any, baseline_value: Any, *, is_baseline: bool) -> tuple[bool | None, str | None]:
    """(passed, why undecided) of one value against the indicator's target."""
    if value is None:
        return None, None
    op, target = indicator.target["op"], indicator.target["value"]
    if op == "declared":
        return bool(value), None
    if op == "los<=":
        return LOS_LETTERS.index(value) <= LOS_LETTERS.index(target), None
    if op == ">=":
        return value >= target - TOLERANCE, None
    if op == "<=":
        return value <= target + TOLERANCE, None
    if is_baseline:
        return None, "target relative to the baseline: the baseline is the reference"
    if baseline_value is None:
        return None, "target relative to the baseline, which has no value"
    sign = 1.0 if indicator.better == "higher" else -1.0
    gain = sign * (value - baseline_value)
    # `resolution`: differences smaller than what the method resolves count as no change
    resolution = max(float(indicator.target.get("resolution", 0.0)), TOLERANCE)
    return (gain > -resolution) if op == "not_worse" else (gain >= resolution), None


def _json_number(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 6)
    return value


def scorecard(project, *, states: list[str] | None = None, engines: set[str] | None = None,
              definitions: str | Path = DEFINITIONS, progress: Callable[[int, int, str], None] | None = None,
              runs: "Runs | None" = None) -> dict:
    """Every indicator on every state: {"standards", "indicators", "index", "states", "runs"}.

    `indicators` is the list `twin indicators --json` prints; `index` is state → standard id →
    {index 0–100 or None, passed, decided} plus "overall".
    """
    from twin.engine_cache import Runs

    standards, indicators = load_definitions(definitions)
    names = states or [s.name for s in project.states]
    for name in names:
        project.state(name)  # ProjectError for an unknown state
    engines = set(ENGINES) if engines is None else engines
    runs = runs or Runs(project, engines=engines)
    baseline = project.baseline.name
    order = [baseline] + [n for n in names if n != baseline]
    contexts = {n: StateContext(project, n, engines=engines, runs=runs) for n in order}
    raw: dict[str, dict[str, tuple[Any, str | None, str | None]]] = {}
    total, done = len(indicators) * len(order), 0
    for indicator in indicators:
        raw[indicator.id] = {}
        for name in order:
            if progress:
                progress(done, total, f"{indicator.id} / {name}")
            raw[indicator.id][name] = _compute(indicator, contexts[name])
            done += 1
    if progress:
        progress(total, total, "done")
    rows = []
    for indicator in indicators:
        base_value = raw[indicator.id][baseline][0]
        values = {}
        for name in names:
            value, note, source = raw[indicator.id][name]
            passed, why = passes(indicator, value, base_value, is_baseline=name == baseline)
            if isinstance(value, float) and math.isinf(value):  # JSON has no infinity: null, and say so
                note = (note + "; " if note else "") + f"value is {'+' if value > 0 else '-'}infinity (never reached within the run)"
            change = None
            if isinstance(value, (int, float)) and not isinstance(value, bool) and isinstance(base_value, (int, float)) \
                    and not isinstance(base_value, bool):
                change = value - base_value
            values[name] = {"value": _json_number(value), "passed": passed, "change": _json_number(change),
                            "note": note or why, "source": source}
        rows.append({"id": indicator.id, "standard": indicator.standard, "name_zh": indicator.name_zh,
                     "name_en": indicator.name_en, "unit": indicator.unit, "target": indicator.target,
                     "target_source": indicator.target_source, "better": indicator.better,
                     "computed": indicator.computed, "engine": engine_of(indicator), "values": values})
    return {"standards": [s.__dict__ for s in standards], "indicators": rows,
            "index": {name: indices(standards, rows, name) for name in names}, "states": names,
            "runs": runs.provenance()}


def _compute(indicator: Indicator, ctx: StateContext) -> tuple[Any, str | None, str | None]:
    engine = engine_of(indicator)
    if engine is not None and engine not in ctx.engines:
        return None, f"not computed: {engine} runs not selected (--engines)", None
    try:
        out = METHODS[indicator.method](ctx, **indicator.params)
    except NotComputed as exc:
        reason = str(exc)
        return None, reason if reason.startswith("not declared") else f"not computed: {reason}", None
    if isinstance(out, tuple):
        return out[0], None, out[1]
    return out, None, ctx.static_source()


def indices(standards: list[Standard], rows: list[dict], state: str) -> dict[str, Any]:
    """Per standard: 100 × passed / decided (None when nothing is decided); overall: their mean."""
    out: dict[str, Any] = {}
    for standard in standards:
        decided = [r["values"][state]["passed"] for r in rows
                   if r["standard"] == standard.id and r["values"][state]["passed"] is not None]
        passed = sum(1 for p in decided if p)
        out[standard.id] = {"index": 100.0 * passed / len(decided) if decided else None,
                            "passed": passed, "decided": len(decided)}
    scored = [v["index"] for v in out.values() if v["index"] is not None]
    out["overall"] = {"index": sum(scored) / len(scored) if scored else None,
                      "standards_scored": len(scored)}
    return out


def json_rows(card: dict) -> str:
    """The `twin indicators --json` text: the list of indicator objects."""
    return json.dumps(card["indicators"], ensure_ascii=False)
