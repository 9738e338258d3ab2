"""`twin stormwater run FILE.inp|PROJECT [--state S] [--storm P3|--series FILE] [--json]`: rain on the community.

A SWMM 5 .inp file runs with its own options, rain and time span. A project state is turned into
a SWMM model by twin.extract.drainage under a Chicago design storm of the project's city (`--storm
P3`: 3-year return period, the project's default) or a rain record (`--series FILE`, CSV or SWMM
rain file; a long continuous run with monthly evaporation and kinematic-wave routing). Prints
volumes, peak outfall flow, flooding and continuity (one JSON object with --json); --out saves the
Result, --inp-out the model that was run. `run_state(project, state_name)` is the same run for
other callers (the scorecard, the server).
"""
from __future__ import annotations

import json
import math
import re
import sys
import time
import warnings
from pathlib import Path
from typing import Callable

from twin.errors import TwinError


class StormwaterError(TwinError):
    """A stormwater input (file, rain, setting) is wrong; the message names the file, element or field."""


JSON_KEYS = ("rainfall_volume_m3", "runoff_volume_m3", "infiltration_volume_m3", "evaporation_volume_m3",
             "lid_captured_volume_m3", "external_inflow_volume_m3", "outfall_volume_m3", "peak_outfall_flow_m3s",
             "flooding_volume_m3", "flooded_nodes", "max_flooding_duration_s", "runoff_continuity_error_pct",
             "routing_continuity_error_pct", "runoff_control_rate", "reused_volume_m3", "routing_steps")


def parse_storm(text: str) -> float:
    """Return period (years) from 'P3' / '3' / 'P0.5'."""
    m = re.fullmatch(r"[Pp]?(\d+(?:\.\d+)?)", text.strip())
    if not m or float(m.group(1)) <= 0:
        raise StormwaterError(f"--storm {text!r}: expected a return period such as P3 (3 years)")
    return float(m.group(1))


def project_rain(project, *, storm: str | None = None, series: str | None = None):
    """The rain of a project run: a Chicago storm from the project's settings, or a rain record."""
    from sim.stormwater import rainfall

    s = project.settings
    try:
        if series is not None:
            return rainfall.read_rain_series(series)
        period = parse_storm(storm) if storm else float(s.get("storm_return_period_years", 3))
        return rainfall.chicago_storm(period, duration_min=float(s.get("storm_duration_min", 120)),
                                      peak_ratio=float(s.get("storm_peak_ratio", 0.4)),
                                      city=str(s.get("storm_city", "yantai")))
    except rainfall.RainfallError as exc:
        raise StormwaterError(str(exc)) from None


def build_state_model(twin, rain, *, continuous: bool):
    """The SWMM model (io.Model + the builder's bookkeeping) of one twin state under `rain`."""
    from sim.stormwater.io import parse_inp
    from twin.extract import drainage

    if continuous:
        # SKIP_STEADY_STATE NO: SWMM's skipping of "steady" routing steps leaves its routing balance open
        # (+2.6 % on a year of rain on the sample, control rate 1.3 points off); our engine skips only
        # truly dry periods, so both engines route the same steps of the same file.
        built = drainage.build_drainage_model(twin, rain, routing="KINWAVE", report_step_s=3600, routing_step_s=60,
                                              evaporation_mm_day=drainage.NORTH_CHINA_EVAPORATION_MM_DAY,
                                              skip_steady_state=False)
    else:
        built = drainage.build_drainage_model(twin, rain)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = parse_inp(built.text, source=f"{getattr(twin, 'name', 'twin')} drainage")
    return model, built


class _StderrProgress:
    """progress(fraction, message) for long runs: nothing for the first 2 s, then a line on stderr
    (rewritten in place on a terminal, one line per 10 % otherwise)."""

    def __init__(self, label: str):
        self.label, self.started, self.shown = label, time.perf_counter(), -1

    def __call__(self, fraction: float, message: str = "") -> None:
        if time.perf_counter() - self.started < 2.0 or fraction >= 1.0 and self.shown < 0:
            return
        percent = int(100 * fraction)
        if sys.stderr.isatty():
            bar = "#" * (percent // 5)
            print(f"\r{self.label}: [{bar:<20}] {percent:3d} % {message}", end="" if fraction < 1 else "\n",
                  file=sys.stderr, flush=True)
        elif percent // 10 > self.shown // 10 or percent == 100:
            print(f"{self.label}: {percent} % {message}", file=sys.stderr, flush=True)
        self.shown = percent


def _simulate(model, settings=None, progress=None):
    from sim.stormwater.model import StormwaterInputError, simulate

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = simulate(model, settings, progress=progress)
    except StormwaterInputError as exc:
        raise StormwaterError(str(exc)) from None
    result.warnings = [str(w.message) for w in caught]
    return result


def run_state(project, state_name: str, *, storm: str = "P3", series: str | None = None,
              progress: Callable[[float], None] | None = None):
    """Rain on one state of a project (a twin.project.Project or its path); returns a sim.result.Result.

    storm: design storm return period ('P3'); series: a rain record file instead (continuous run).
    progress(fraction 0-1) is called at the phases (load, extract, run). Deterministic.
    """
    from sim.stormwater.model import Settings
    from twin.project import load_project, load_state

    if not hasattr(project, "states"):
        project = load_project(project)
    if progress:
        progress(0.0)
    twin = load_state(project, state_name)
    rain = project_rain(project, storm=storm, series=series)
    if progress:
        progress(0.2)
    model, built = build_state_model(twin, rain, continuous=series is not None)
    settings = Settings(not_outflow=(built.reuse_outfall,) if built.reuse_outfall else (),
                        keep_frames=series is None)
    result = _simulate(model, settings, progress=(lambda f, _m="": progress(0.2 + 0.8 * f)) if progress else None)
    result.warnings = list(built.warnings) + result.warnings
    result.rain_name = rain.name
    return result


def summary(result) -> dict:
    """The --json object: every metric value (NaN as null), flooded nodes and warnings."""
    out = {}
    for key in JSON_KEYS:
        if key in result.metrics:
            v = result.value(key)
            out[key] = None if isinstance(v, float) and math.isnan(v) else v
    out["flooded_nodes"] = int(out.get("flooded_nodes") or 0)
    flooding = getattr(result, "node_flooding_m3", {})
    out["flooding_by_node_m3"] = dict(sorted(flooding.items(), key=lambda kv: -kv[1])[:20])
    out["warnings"] = list(getattr(result, "warnings", []))
    return out


def cmd_run(args) -> int:
    from sim.stormwater.io import read_inp
    from sim.stormwater.model import Settings, StormwaterInputError
    from twin.project import is_project_path

    target = Path(args.target)
    started = time.perf_counter()
    if is_project_path(target):
        from twin.cli import load_path
        from twin.project import load_project

        if args.storm and args.series:
            raise StormwaterError("give either --storm or --series, not both")
        project = load_project(target)
        state = args.state or project.baseline.name
        project.state(state)
        twin = load_path(str(target), state, quiet=args.json)
        rain = project_rain(project, storm=args.storm, series=args.series)
        model, built = build_state_model(twin, rain, continuous=args.series is not None)
        settings = Settings(not_outflow=(built.reuse_outfall,) if built.reuse_outfall else (),
                            keep_frames=args.series is None, routing=args.routing)
        label = f"{project.name} / {state} / {rain.name}"
        extra_warnings = list(built.warnings)
    else:
        if args.state or args.storm or args.series:
            raise StormwaterError(f"{target}: --state/--storm/--series apply to projects; an .inp file runs its own rain")
        if target.suffix.lower() != ".inp":
            raise StormwaterError(f"{target}: expected a project folder, project.toml or a SWMM .inp file")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model = read_inp(target)
        except StormwaterInputError as exc:
            raise StormwaterError(str(exc)) from None
        settings = Settings(routing=args.routing)
        label = str(target)
        extra_warnings = [str(w.message) for w in caught]
    if args.inp_out:
        from sim.stormwater.io import write_inp

        write_inp(model, args.inp_out)
    if not args.json:
        print(f"{label}: running {len(model.subcatchments)} subcatchments, {len(model.node_names)} nodes, "
              f"{len(model.link_names)} links ...", file=sys.stderr)
    result = _simulate(model, settings, progress=_StderrProgress("stormwater"))
    result.warnings = extra_warnings + result.warnings
    out = {"model": label, **summary(result), "run_time_s": round(time.perf_counter() - started, 3)}
    if args.out:
        json_path, _ = result.save(Path(args.out) / "stormwater")
        out["result_path"] = str(json_path)
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        _print_summary(out)
    return 0


def _print_summary(s: dict) -> None:
    print(s["model"])
    print(f"  rain {s['rainfall_volume_m3']:.1f} m³ → runoff {s['runoff_volume_m3']:.1f} m³, infiltration "
          f"{s['infiltration_volume_m3']:.1f} m³, evaporation {s['evaporation_volume_m3']:.1f} m³, "
          f"LID {s['lid_captured_volume_m3']:.1f} m³")
    print(f"  outfalls {s['outfall_volume_m3']:.1f} m³ (peak {s['peak_outfall_flow_m3s']:.3f} m³/s); flooding "
          f"{s['flooding_volume_m3']:.1f} m³ at {s['flooded_nodes']} nodes (longest {s['max_flooding_duration_s']:.0f} s)")
    if s.get("runoff_control_rate") is not None:
        print(f"  runoff control rate {s['runoff_control_rate']:.3f}")
    print(f"  continuity error: runoff {s['runoff_continuity_error_pct']:.3f} %, routing "
          f"{s['routing_continuity_error_pct']:.3f} %; {s['run_time_s']:.1f} s")
    for w in s["warnings"]:
        print(f"  warning: {w}")
    if "result_path" in s:
        print(f"  wrote {s['result_path']}")


def register(subcommands) -> None:
    p = subcommands.add_parser("stormwater", help="stormwater runoff and drainage of a project state or a SWMM .inp")
    sub = p.add_subparsers(dest="stormwater_command", required=True)
    r = sub.add_parser("run", help="run rain, runoff and pipe routing; print volumes, peaks, flooding")
    r.add_argument("target", help="project folder / project.toml, or a SWMM 5 .inp file")
    r.add_argument("--state", help="state of a project (default: its baseline)")
    r.add_argument("--storm", help="design storm return period, e.g. P3 (default: the project's setting)")
    r.add_argument("--series", metavar="FILE", help="rain record (CSV time,intensity_mm_h|depth_mm or SWMM rain file)")
    r.add_argument("--routing", choices=("DYNWAVE", "KINWAVE"), type=str.upper,
                   help="routing method (default: the model's own)")
    r.add_argument("--json", action="store_true", help="print one JSON object")
    r.add_argument("--out", metavar="DIR", help="save the Result (stormwater.json + stormwater.npz) in DIR")
    r.add_argument("--inp-out", metavar="FILE.inp", help="write the SWMM model that was run")
    r.set_defaults(func=cmd_run)
