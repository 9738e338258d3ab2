"""`twin traffic run`: the traffic engine on a project state or on SUMO plain XML files.

    twin traffic run PROJECT [--state S] [--json] [--save OUT]
    twin traffic run NODFILE EDGFILE ROUFILE [--json] [--save OUT]

On a project the state's twin is turned into a street network and a morning-peak demand
(twin.extract.roads), the peak is simulated with fire engines dispatched to every building
in the traffic, and once more alone; on SUMO files their vTypes, node types and departure
times are used as given. --json prints one object with trips_completed, mean_travel_time_s,
p95_travel_time_s, mean_delay_s, max_queue_m, gridlock (bool), the other metrics, the
junctions' level of service, and on a project emergency_access_s (building GlobalId -> s).
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any, Callable

from twin.errors import TwinError


class TrafficInputError(TwinError):
    """The traffic inputs (SUMO files or the twin's roads) cannot be simulated as given."""


def register(subcommands) -> None:
    parser = subcommands.add_parser("traffic", help="traffic microsimulation (run on a project state or SUMO plain XML)")
    sub = parser.add_subparsers(dest="traffic_command", required=True)
    run = sub.add_parser("run", help="simulate a project state's morning peak, or SUMO .nod.xml .edg.xml .rou.xml files")
    run.add_argument("paths", nargs="+", metavar="PATH", help="a project (folder or project.toml), or NODFILE EDGFILE ROUFILE")
    run.add_argument("--state", help="project state (default: the baseline)")
    run.add_argument("--json", action="store_true", help="print the result as one JSON object")
    run.add_argument("--save", metavar="OUT", help="also save the Result (OUT.json + OUT.npz, frames included on a project)")
    run.add_argument("--seed", type=int, help="random seed (default: the project's, else 0)")
    run.set_defaults(func=cmd_traffic_run)


def _progress_bar(label: str) -> tuple[Callable[[float, str], None], Callable[[], None]]:
    if not sys.stderr.isatty():
        return (lambda fraction, message="": None), (lambda: None)
    from tqdm import tqdm

    bar = tqdm(total=100, desc=label, unit="%", file=sys.stderr, leave=False)

    def update(fraction: float, message: str = "") -> None:
        bar.n = int(round(100 * fraction))
        bar.set_postfix_str(message, refresh=True)

    return update, bar.close


def _summary(result, details, net, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    from sim.traffic.metrics import junction_los

    out: dict[str, Any] = {"engine": result.engine, "engine_version": result.engine_version}
    for name, metric in result.metrics.items():
        if name.startswith(PER_BUILDING):
            continue   # given as the emergency_access_s object
        out[name] = metric.value if math.isfinite(metric.value) else None   # JSON has no infinity: null = never
    out["gridlock"] = bool(result.value("gridlock"))
    out["units"] = {name: m.unit for name, m in result.metrics.items() if not name.startswith(PER_BUILDING)}
    out["junctions"] = junction_los(details, net)
    out["gridlock_edges"] = details.gridlock_edges
    out["gate_max_queue_veh"] = details.gate_max_queue_veh
    if extra:
        out.update(extra)
    return out


def run_sumo_files(nod: str, edg: str, rou: str, *, seed: int = 0, progress=None):
    from sim.traffic.io import read_sumo
    from sim.traffic.model import Settings, run

    for p in (nod, edg, rou):
        if not Path(p).is_file():
            raise TrafficInputError(f"{p}: no such file")
    try:
        network, demand = read_sumo(nod, edg, rou)
        return run(network, demand, Settings(), seed=seed, progress=progress)
    except ValueError as exc:   # NetworkError / DemandError name the file and element
        raise TrafficInputError(str(exc)) from None


def run_state(project, state_name: str, *, progress: Callable[[float, str], None] | None = None, record_frames: bool = False):
    """The traffic Result of one project state: the morning peak with fire engines dispatched in traffic.
    Metrics include emergency access (max, buildings over 5 min) next to the traffic figures."""
    return run_state_detailed(project, state_name, progress=progress, record_frames=record_frames)["result"]


def run_state_detailed(project, state_name: str, *, progress=None, record_frames: bool = True, seed: int | None = None) -> dict:
    from twin.extract.roads import extract_traffic
    from twin.project import load_state
    from sim.traffic.emergency import emergency_access
    from sim.traffic.model import Settings, Simulation
    from sim.result import Metric

    report = _two_argument(progress)
    report(0.0, f"loading {state_name}")
    twin = load_state(project, state_name)
    inputs = extract_traffic(twin, project.settings)
    seed = project.settings.get("seed", 0) if seed is None else seed
    settings = Settings(record_frames=record_frames, horizon_s=1800.0)
    try:
        sim = Simulation(inputs.network, inputs.demand_with_emergency(), settings, seed=seed,
                         progress=lambda f, m="": report(0.05 + 0.8 * f, m))
        sim.run()
        report(0.88, "fire engines alone")
        alone, _ = emergency_access(inputs.network, inputs.fire_origins, inputs.access_targets,
                                    blocked=inputs.fire_blocked, seed=seed)
    except ValueError as exc:
        raise TrafficInputError(f"{project.root}: state {state_name}: {exc}") from None
    result = sim.result()
    details = sim.details()
    access = inputs.access_times(details)
    result.metrics.update(emergency_metrics(access, alone.times_s))
    report(0.95, "simulated")
    return {"result": result, "details": details, "sim": sim, "inputs": inputs, "access": access, "alone": alone}


PER_BUILDING = "emergency_access_s/"
"""Result metrics named PER_BUILDING + building GlobalId: access time in the peak traffic (the
scorecard and the report read them; --json gives them as the `emergency_access_s` object)."""


def emergency_metrics(access: dict[str, float], alone: dict[str, float]) -> dict:
    """Emergency-access metrics of a run: worst building, buildings over 5 minutes, share within 5
    minutes, mean, the same worst on empty streets, and one metric per building (inf: never reached)."""
    from sim.result import Metric
    from sim.traffic.emergency import FIVE_MINUTES_S

    if not access:
        return {}
    m: dict[str, Metric] = {}
    finite = [v for v in access.values() if math.isfinite(v)]
    within = sum(1 for v in access.values() if v <= FIVE_MINUTES_S)
    m["emergency_access_max_s"] = Metric(value=max(access.values()), unit="s",
                                         meaning="longest fire-engine access time to a building entrance, in peak traffic (inf: a building never reached)")
    m["emergency_access_mean_s"] = Metric(value=sum(finite) / len(finite) if finite else math.inf, unit="s",
                                          meaning="mean fire-engine access time over the buildings reached, in peak traffic")
    m["emergency_buildings_over_5min"] = Metric(value=float(len(access) - within), unit="buildings",
                                                meaning="buildings a fire engine cannot reach within 5 minutes from the nearest gate, in peak traffic")
    m["emergency_share_within_5min"] = Metric(value=within / len(access), unit="fraction",
                                              meaning="share of buildings a fire engine reaches within 5 minutes, in peak traffic")
    if alone:
        m["emergency_access_alone_max_s"] = Metric(value=max(alone.values()), unit="s",
                                                   meaning="longest fire-engine access time to a building entrance on empty streets")
    for gid, value in sorted(access.items()):
        m[PER_BUILDING + gid] = Metric(value=value, unit="s", meaning=f"fire-engine access time to building {gid}, in peak traffic")
    return m


def _two_argument(progress) -> Callable[[float, str], None]:
    """progress(fraction, message) whether the caller gave progress(fraction) or progress(fraction, message)."""
    import inspect

    if progress is None:
        return lambda fraction, message="": None
    try:
        params = list(inspect.signature(progress).parameters.values())
    except (TypeError, ValueError):
        return progress
    if any(p.kind == p.VAR_POSITIONAL for p in params) or len(params) >= 2:
        return progress
    return lambda fraction, message="": progress(fraction)


def cmd_traffic_run(args) -> int:
    from twin.project import is_project_path, load_project

    paths = args.paths
    update, close = _progress_bar("traffic")
    try:
        if len(paths) == 1 and is_project_path(paths[0]):
            project = load_project(paths[0])
            state = args.state or project.baseline.name
            project.state(state)
            out = run_state_detailed(project, state, progress=update, record_frames=bool(args.save),
                                     seed=args.seed)
            result, details, sim = out["result"], out["details"], out["sim"]
            access = out["access"]
            worst = max(access, key=lambda g: (access[g], g)) if access else None
            extra = {"state": state,
                     "emergency_access_s": {g: (round(v, 1) if math.isfinite(v) else None) for g, v in access.items()},
                     "emergency_access_worst_building": worst,
                     "emergency_access_alone_s": {g: (round(v, 1) if math.isfinite(v) else None) for g, v in out["alone"].times_s.items()},
                     "emergency_blocking_segments": out["alone"].blocking,
                     "notes": out["inputs"].notes}
        elif len(paths) == 3:
            if args.state:
                raise TrafficInputError("--state applies to projects, not to SUMO files")
            sim = run_sumo_files(*paths, seed=args.seed or 0, progress=update)
            result, details = sim.result(), sim.details()
            extra = {"source": sim.demand.source}
        else:
            raise TrafficInputError(f"expected a project or three files NODFILE EDGFILE ROUFILE, got {' '.join(paths)}")
    finally:
        close()
    summary = _summary(result, details, sim.net, extra)
    if args.save:
        try:
            result.save(args.save)
        except OSError as exc:
            raise TrafficInputError(f"{args.save}: cannot save the result: {exc}") from None
    if args.json:
        print(json.dumps(summary, indent=1, allow_nan=False, default=_jsonable))
    else:
        _print(summary)
    return 0


def _jsonable(value):
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _print(summary: dict) -> None:
    lines = [f"trips completed   {summary['trips_completed']:.0f} of {summary['trips_total']:.0f}",
             f"travel time       mean {summary['mean_travel_time_s']:.1f} s, p95 {summary['p95_travel_time_s']:.1f} s",
             f"delay             mean {summary['mean_delay_s']:.1f} s",
             f"longest queue     {summary['max_queue_m']:.1f} m",
             f"vehicle-km        {summary['vehicle_km']:.1f}",
             f"gridlock          {'YES on ' + ', '.join(summary['gridlock_edges'][:8]) if summary['gridlock'] else 'no'}"]
    worst = sorted(summary["junctions"].items(), key=lambda kv: -kv[1]["delay_s"])[:5]
    for node, row in worst:
        lines.append(f"junction {node:<8} at ({row['x_m']:.0f}, {row['y_m']:.0f}) m  LOS {row['los']}  "
                     f"delay {row['delay_s']:.1f} s/veh  queue {row['max_queue_m']:.1f} m")
    if "emergency_access_s" in summary:
        lines.append(f"emergency access  max {summary.get('emergency_access_max_s', float('nan')):.0f} s in traffic, "
                     f"{summary.get('emergency_buildings_over_5min', 0):.0f} buildings over 5 min")
    print("\n".join(lines))
