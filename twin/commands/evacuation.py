"""`twin evacuation run PROJECT|SCENARIO.geojson [--state S] [--json]`: everyone out of the community.

A project state is turned into a scenario by twin.extract.site (walkable ground, gates, residents in
their stairwells); a GeoJSON scenario file (docs/evacuation_scenario.md) is run as it is. Prints
the times, exit flows, waiting and bottlenecks (or one JSON object with --json), and can save
the Result (--out), the extracted scenario (--scenario-out) and trajectories as CSV, PedPy text or
Parquet (--trajectories, by the file's suffix; Parquet needs the `parquet` extra).
`run_state(project, state_name)` is the same run for other callers (the scorecard, the server).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable

from twin.errors import TwinError


class EvacuationInputError(TwinError):
    """A scenario file or a setting given to the evacuation engine is wrong (the message names it)."""


DAY_PREMOVEMENT_SD_RATIO = 0.5
"""sd / mean of the households' lognormal pre-movement when the project gives only the mean."""
SITE_CELL_M = 0.5
"""Raster cell (m) of the distance fields on a whole site: gates are 2 m or more and door spots
0.6 m or more from walls, so half a metre resolves every route; a 20 ha site stays at ~1 M cells."""
SITE_DENSITY_CELL_M = 2.5
"""Density / level-of-service grid cell (m) on a whole site (6.25 m²: 7 persons = level E)."""


def site_settings(project_settings: dict, *, route: str = "nearest", time_of_day: str = "day",
                  dt_s: float | None = None, max_time_s: float | None = None, trajectory_interval_s: float | None = None,
                  to_assembly: bool = True):
    """Engine settings for a project's state: its `evacuation_premovement_s` is the daytime household mean."""
    from sim.evacuation import Settings
    from sim.evacuation.model import Premovement, ScenarioError

    kwargs = {"cell_m": SITE_CELL_M, "density_cell_m": SITE_DENSITY_CELL_M, "route": route, "time_of_day": time_of_day,
              "max_time_s": 1800.0, "trajectory_interval_s": trajectory_interval_s, "to_assembly": to_assembly}
    mean = project_settings.get("evacuation_premovement_s")
    if mean is not None:
        if isinstance(mean, bool) or not isinstance(mean, (int, float)) or mean < 0:
            raise EvacuationInputError(f"project.toml [settings] evacuation_premovement_s must be a number of seconds >= 0, got {mean!r}")
        kwargs["household_premovement_day"] = Premovement(mean_s=float(mean), sd_s=DAY_PREMOVEMENT_SD_RATIO * float(mean))
    if dt_s is not None:
        kwargs["dt_s"] = dt_s
    if max_time_s is not None:
        kwargs["max_time_s"] = max_time_s
    try:
        return Settings(**kwargs)
    except ScenarioError as exc:
        raise EvacuationInputError(str(exc)) from None


def run_state(project, state_name: str, *, progress: Callable[[float], None] | None = None, settings=None,
              seed: int | None = None):
    """Evacuate one state of a project (a twin.project.Project or its path); returns a sim.result.Result.

    progress(fraction 0-1) is called as simulated time passes. Same project, state and seed, same result.
    """
    from sim.evacuation import simulate
    from sim.evacuation.model import ScenarioError
    from twin.extract.site import scenario_from_twin
    from twin.project import load_project, load_state

    if not hasattr(project, "states"):
        project = load_project(project)
    twin = load_state(project, state_name)
    if settings is None:
        settings = site_settings(project.settings)
    extracted = scenario_from_twin(twin, night=settings.time_of_day == "night")
    seed = int(project.settings.get("seed", 0)) if seed is None else seed
    try:
        result = simulate(extracted.scenario, settings, seed=seed, progress=progress)
    except ScenarioError as exc:
        raise EvacuationInputError(str(exc)) from None
    result.exit_names = extracted.exit_names
    result.warnings = extracted.warnings
    return result


class _Progress:
    """A tqdm bar on stderr (when it is a terminal) for progress(fraction) calls."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.label = label
        self.bar = None

    def __call__(self, fraction: float) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=1000, desc=self.label, file=sys.stderr, leave=False, unit="‰")
        self.bar.update(int(fraction * 1000) - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def cmd_run(args) -> int:
    from sim.evacuation import Settings, simulate
    from sim.evacuation.io import read_scenario, write_scenario, write_trajectories
    from sim.evacuation.metrics import summary
    from sim.evacuation.model import ScenarioError
    from twin.project import is_project_path

    target = Path(args.target)
    trajectory_interval = args.trajectory_interval if args.trajectories else None
    if args.trajectories:
        _check_trajectory_format(Path(args.trajectories))
    bar = _Progress(target.name if args.state is None else args.state, enabled=not args.json)
    try:
        if is_project_path(target):
            from twin.extract.site import scenario_from_twin
            from twin.project import load_project, load_state

            project = load_project(target)
            state = args.state or project.baseline.name
            project.state(state)
            twin = load_state(project, state)
            extracted = scenario_from_twin(twin, night=args.night)
            scenario, names, warnings = extracted.scenario, extracted.exit_names, extracted.warnings
            settings = site_settings(project.settings, route=args.route, time_of_day="night" if args.night else "day",
                                     dt_s=args.dt, max_time_s=args.max_time, trajectory_interval_s=trajectory_interval,
                                     to_assembly=not args.gates_only)
            seed = int(project.settings.get("seed", 0)) if args.seed is None else args.seed
            label = f"{project.name} / {state}"
        else:
            if args.state is not None:
                raise EvacuationInputError(f"{target}: --state applies to projects; this is a scenario file")
            if target.suffix.lower() not in (".geojson", ".json"):
                raise EvacuationInputError(f"{target}: expected a project folder, project.toml or a .geojson scenario")
            scenario = read_scenario(target)
            names, warnings = {}, []
            overrides = {k: v for k, v in scenario.settings.items() if k in ("dt_s", "max_time_s")}
            if args.dt is not None:
                overrides["dt_s"] = args.dt
            if args.max_time is not None:
                overrides["max_time_s"] = args.max_time
            settings = Settings(route=args.route, time_of_day="night" if args.night else "day",
                                trajectory_interval_s=trajectory_interval, to_assembly=not args.gates_only, **overrides)
            seed = 0 if args.seed is None else args.seed
            label = str(target)
        if args.scenario_out:
            write_scenario(args.scenario_out, scenario)
        result = simulate(scenario, settings, seed=seed, progress=bar)
    except ScenarioError as exc:
        raise EvacuationInputError(str(exc)) from None
    finally:
        bar.close()
    out = summary(result)
    for exit_id, entry in out["exits"].items():
        if exit_id in names:
            entry["name"] = names[exit_id]
    out = {"scenario": label, "route": settings.route, "time_of_day": settings.time_of_day, "seed": seed, **out,
           "warnings": warnings}
    if args.out:
        json_path, _ = result.save(Path(args.out) / "evacuation")
        out["result_path"] = str(json_path)
    if args.trajectories:
        write_trajectories(args.trajectories, result.frames["trajectory"],
                           float(result.frames["trajectory_frame_rate_hz"][0]))
        out["trajectories"] = str(args.trajectories)
        out["trajectory_frame_rate_hz"] = float(result.frames["trajectory_frame_rate_hz"][0])
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        _print_summary(out)
    return 0


def _check_trajectory_format(path: Path) -> None:
    """Refuse before the run a Parquet file name when pyarrow (the `parquet` extra) is not installed."""
    if path.suffix.lower() in (".parquet", ".pq"):
        from sim.evacuation.io import PARQUET_EXTRA

        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise EvacuationInputError(f"{path}: writing Parquet trajectories needs pyarrow, which is not installed "
                                       f"({PARQUET_EXTRA}); or give a .csv or .txt name") from None


def _fmt(v, unit="s") -> str:
    return "—" if v is None else f"{v:.0f} {unit}"


def _print_summary(s: dict) -> None:
    from sim.evacuation.metrics import density_caveat

    print(f"{s['scenario']}: {s['evacuated']} of {s['agents']} residents safe ({s['stuck']} not), route {s['route']}, {s['time_of_day']}")
    print(f"  total {_fmt(s['total_evacuation_time_s'])}; 50 % {_fmt(s['t50_s'])}, 90 % {_fmt(s['t90_s'])}, "
          f"95 % {_fmt(s['t95_s'])}")
    if s.get("out_of_buildings_last_s") is not None:
        print(f"  last out of a building {_fmt(s['out_of_buildings_last_s'])}")
    for name, g in s.get("groups", {}).items():
        print(f"  {name.replace('_', '-')}: {g['evacuated']} of {g['agents']} out; 50 % {_fmt(g['t50_s'])}, "
              f"90 % {_fmt(g['t90_s'])}, all {_fmt(g['t100_s'])}")
    if s.get("waited_mean_s") is not None:
        print(f"  waited in congestion: mean {s['waited_mean_s']:.0f} s, 90 % {s['waited_p90_s']:.0f} s, max {s['waited_max_s']:.0f} s")
    if s.get("max_local_density_p_m2") is not None:
        print(f"  peak local density {s['max_local_density_p_m2']:.2f} p/m²; {s['area_los_e_or_worse_m2']:.0f} m² reached Fruin level E or F")
        caveat = density_caveat(s["max_local_density_p_m2"])
        if caveat:
            print(f"    ({caveat})")
    for exit_id, e in s["exits"].items():
        if e.get("kind") == "assembly":
            rate = "" if e["flow_p_s"] is None else f", {e['flow_p_s']:.2f} p/s arriving"
            print(f"  safe in {e.get('name', exit_id)}: {e['evacuated']}{rate}")
            continue
        flow = "—" if e["flow_p_s"] is None else f"{e['flow_p_s']:.2f} p/s ({e['specific_flow_p_m_s']:.2f} p/m/s)"
        print(f"  exit {e.get('name', exit_id)}: {e['evacuated']} out, {flow}")
    for exit_id in s["closed_exits"]:
        print(f"  exit {exit_id}: closed")
    for rank, b in enumerate(s["bottlenecks"][:5], start=1):
        print(f"  bottleneck {rank}: ({b['x_m']}, {b['y_m']}) peak {b['peak_density_p_m2']} p/m², congested {b['congested_s']:.0f} s, "
              f"{b['distance_to_exit_m']} m from {s['exits'].get(b['nearest_exit'], {}).get('name', b['nearest_exit'])}")
    for w in s["warnings"]:
        print(f"  warning: {w}")
    for key in ("result_path", "trajectories"):
        if key in s:
            print(f"  wrote {s[key]}")


def register(subcommands) -> None:
    p = subcommands.add_parser("evacuation", help="evacuation of a project state or a GeoJSON scenario")
    sub = p.add_subparsers(dest="evacuation_command", required=True)
    r = sub.add_parser("run", help="run an evacuation and print times, exit flows, waiting and bottlenecks")
    r.add_argument("target", help="project folder / project.toml, or a GeoJSON scenario (docs/evacuation_scenario.md)")
    r.add_argument("--state", help="state of a project (default: its baseline)")
    r.add_argument("--json", action="store_true", help="print one JSON object")
    r.add_argument("--route", choices=("nearest", "quickest"), default="nearest",
                   help="nearest exit by walking distance (default), or quickest counting the queues")
    r.add_argument("--night", action="store_true",
                   help="night: households asleep (longer pre-movement), service buildings closed and empty")
    r.add_argument("--gates-only", action="store_true",
                   help="everyone leaves through the gates / exits; by default an assembly area is as good (safe on stepping in)")
    r.add_argument("--seed", type=int, help="random seed (default: the project's, else 0)")
    r.add_argument("--dt", type=float, help="time step, s (default 0.05)")
    r.add_argument("--max-time", type=float, help="simulated time limit, s")
    r.add_argument("--out", metavar="DIR", help="save the Result (evacuation.json + evacuation.npz) in DIR")
    r.add_argument("--scenario-out", metavar="FILE.geojson", help="write the scenario that was run as GeoJSON")
    r.add_argument("--trajectories", metavar="FILE", help="write trajectories for PedPy (id,frame,x,y,z): FILE.parquet "
                   "as Parquet (needs the 'parquet' extra: pyarrow), FILE.txt in PedPy's text format, else CSV")
    r.add_argument("--trajectory-interval", type=float, default=0.5, metavar="S",
                   help="seconds between trajectory rows (default 0.5)")
    r.set_defaults(func=cmd_run)
