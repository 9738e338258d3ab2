"""Evacuation engine against its anchors, in one run: agreement (JuPedSim, SFPE hydraulic) and speed (JuPedSim).

    .venv/bin/python benchmarks/evacuation.py agreement   # courtyard before/after: ours, JuPedSim, SFPE
    .venv/bin/python benchmarks/evacuation.py speed       # agent-steps per CPU-second, ours vs JuPedSim
    .venv/bin/python benchmarks/evacuation.py all

Both engines get the same geometry (sim.evacuation.cases.courtyard: walkable area less obstacles,
plus the exit aprons), the same people (positions, free speeds, pre-movement times), the same
collision-free speed model parameters (Tordeux et al. 2016: T = 1 s, body radius 0.15 m,
a = 5, D = 0.1 m, walls 5 / 0.02 m) and the same time step. JuPedSim removes a person when he
enters its exit polygon, 0.5 m past our exit line; its times are those removals. The SFPE
estimate is sim.evacuation.hydraulic (nearest exit, the SFPE speed at the crowd's mean density:
1.19 m/s in the courtyard, 1.32 p/s per metre of effective width). CPU time is
time.process_time() around each engine's run only (geometry preparation excluded for both: our
distance fields, JuPedSim's navigation mesh; our kernels are loaded from numba's cache by a
small warm-up run first). Speed runs start everyone at once in a courtyard
scaled with the crowd; 1,000 and 5,000 are timed over the same first --horizon seconds in both
engines, --repeat times each in turn, and each engine's least CPU time counts (the machine is
shared: the least disturbed run); 20,000 is run to the end in ours.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from shapely.geometry import Polygon
from shapely.ops import unary_union

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.evacuation import GROUPS, Settings, simulate  # noqa: E402
from sim.evacuation import kernels  # noqa: E402
from sim.evacuation.cases import courtyard  # noqa: E402
from sim.evacuation.geometry import _outward_normal  # noqa: E402
from sim.evacuation.hydraulic import estimate  # noqa: E402
from sim.evacuation.model import Premovement, _draw_speed, prepare  # noqa: E402


def free_speeds(scenario, seed: int) -> np.ndarray:
    """The free speeds simulate() draws for a scenario whose agents all carry their pre-movement."""
    rng = np.random.default_rng(seed)
    return np.array([a.speed_mps if a.speed_mps is not None else _draw_speed(a.group, rng) for a in scenario.agents])


def run_jupedsim(scenario, *, dt_s: float, speeds: np.ndarray, max_time_s: float, horizon_s: float | None = None):
    """The scenario in JuPedSim's collision-free speed model; returns (exit times per agent, exit ids, agent-steps, CPU s)."""
    import jupedsim as jps
    from shapely.geometry import LineString

    area = scenario.walkable.difference(unary_union(scenario.obstacles)) if scenario.obstacles else scenario.walkable
    exits = [e for e in scenario.exits if e.open]
    aprons, stages_geo = [], []
    for e in exits:
        line = LineString(e.coords)
        n = _outward_normal(area, line)
        (ax, ay), (bx, by) = e.coords[0], e.coords[-1]
        aprons.append(Polygon([(ax - 0.05 * n[0], ay - 0.05 * n[1]), (bx - 0.05 * n[0], by - 0.05 * n[1]),
                               (bx + 2.0 * n[0], by + 2.0 * n[1]), (ax + 2.0 * n[0], ay + 2.0 * n[1])]))
        stages_geo.append(Polygon([(ax + 0.5 * n[0], ay + 0.5 * n[1]), (bx + 0.5 * n[0], by + 0.5 * n[1]),
                                   (bx + 1.5 * n[0], by + 1.5 * n[1]), (ax + 1.5 * n[0], ay + 1.5 * n[1])]))
    geometry = unary_union([area] + aprons)
    model = jps.CollisionFreeSpeedModel(strength_neighbor_repulsion=5.0, range_neighbor_repulsion=0.1,
                                        strength_geometry_repulsion=5.0, range_geometry_repulsion=0.02)
    sim = jps.Simulation(model=model, geometry=geometry, dt=dt_s)
    journeys = []
    for poly in stages_geo:
        stage = sim.add_exit_stage(poly)
        journeys.append((sim.add_journey(jps.JourneyDescription([stage])), stage))
    # the same exit for everyone as ours: nearest by geodesic distance
    geo = prepare(scenario, Settings())
    from sim.evacuation.model import _distances

    xs = np.array([a.x for a in scenario.agents])
    ys = np.array([a.y for a in scenario.agents])
    nearest = np.argmin(_distances(geo, xs, ys), axis=0)
    premove = np.array([a.premovement_s or 0.0 for a in scenario.agents])
    ids = {}
    for i, a in enumerate(scenario.agents):
        journey, stage = journeys[nearest[i]]
        radius = GROUPS[a.group].radius_m
        ids[sim.add_agent(jps.CollisionFreeSpeedModelAgentParameters(
            journey_id=journey, stage_id=stage, position=(a.x, a.y), desired_speed=0.0, radius=radius))] = i
    agent_of = {i: aid for aid, i in ids.items()}
    order = np.argsort(premove, kind="stable")
    next_start = 0
    out_time = np.full(len(scenario.agents), np.nan)
    agent_steps = 0
    limit = horizon_s if horizon_s is not None else max_time_s
    cpu0 = time.process_time()
    while sim.agent_count() > 0 and sim.elapsed_time() < limit - 1e-9:
        now = sim.elapsed_time()
        while next_start < len(order) and premove[order[next_start]] <= now + 1e-9:
            i = order[next_start]
            sim.agent(agent_of[i]).model.desired_speed = float(speeds[i])
            next_start += 1
        agent_steps += sim.agent_count()
        sim.iterate()
        for aid in sim.removed_agents():
            out_time[ids[aid]] = sim.elapsed_time()
    cpu = time.process_time() - cpu0
    return out_time, [e.id for e in exits], nearest, agent_steps, cpu


def run_ours(scenario, *, dt_s: float, max_time_s: float, seed: int = 0):
    settings = Settings(dt_s=dt_s, max_time_s=max_time_s, density_cell_m=0)
    geo = prepare(scenario, settings)
    cpu0 = time.process_time()
    result = simulate(scenario, settings, geometry=geo, seed=seed)
    cpu = time.process_time() - cpu0
    state = result.frames["state"]
    present = ((state == kernels.WAITING) | (state == kernels.WALKING) | (state == kernels.LEAVING)).sum(axis=1)
    times = result.frames["times_s"]
    # agent-steps: people present at each 1 s frame times the steps until the next frame
    steps = np.diff(np.append(times, result.value("simulated_time_s"))) / dt_s
    return result, float((present * steps).sum()), cpu, geo


def agreement(args) -> dict:
    rows = {}
    for after in (False, True):
        scenario = courtyard(after=after, residents=args.residents)
        ours, _, cpu_ours, geo = run_ours(scenario, dt_s=args.dt, max_time_s=args.max_time)
        sfpe = estimate(scenario, geometry=geo)
        jt, exit_ids, nearest, _, cpu_j = run_jupedsim(scenario, dt_s=args.dt, speeds=free_speeds(scenario, 0),
                                                        max_time_s=args.max_time)
        out = np.isfinite(jt)
        row = {
            "ours_s": ours.value("total_evacuation_time_s"),
            "jupedsim_s": float(np.nanmax(jt)) if out.any() else None,
            "sfpe_s": sfpe.total_s, "sfpe_speed_mps": round(sfpe.speed_mps, 3),
            "ours_t90_s": ours.value("t90_s"),
            "jupedsim_t90_s": float(np.sort(jt[out])[int(np.ceil(0.9 * len(jt))) - 1]) if out.sum() >= 0.9 * len(jt) else None,
            "ours_evacuated": int(ours.value("evacuated")), "jupedsim_evacuated": int(out.sum()),
            "agents": len(scenario.agents),
            "exits": {e: {"ours": int(ours.value(f"exit/{e}/evacuated")),
                          "ours_flow_p_s": round(ours.value(f"exit/{e}/flow_p_s"), 2),
                          "jupedsim": int(np.sum(out & (nearest == k))),
                          "sfpe_persons": sfpe.exits[e]["persons"],
                          "sfpe_capacity_p_s": round(sfpe.exits[e]["capacity_p_s"], 2),
                          "sfpe_clear_s": round(sfpe.exits[e]["clear_s"], 1)} for k, e in enumerate(exit_ids)},
            "cpu_ours_s": round(cpu_ours, 1), "cpu_jupedsim_s": round(cpu_j, 1),
        }
        rows["after" if after else "before"] = row
        print(f"courtyard {'after ' if after else 'before'}: ours {row['ours_s']:.0f} s, JuPedSim {row['jupedsim_s']:.0f} s, "
              f"SFPE {row['sfpe_s']:.0f} s (ours/SFPE {row['ours_s'] / row['sfpe_s']:.2f}, ours/JuPedSim "
              f"{row['ours_s'] / row['jupedsim_s']:.2f}); out {row['ours_evacuated']} / {row['jupedsim_evacuated']} of {row['agents']}",
              flush=True)
    change = {k: rows["after"][k] - rows["before"][k] for k in ("ours_s", "jupedsim_s", "sfpe_s")}
    print("before -> after: " + ", ".join(f"{k[:-2]} {v:+.0f} s ({v / rows['before'][k] * 100:+.0f} %)" for k, v in change.items()))
    print(f"change ours / JuPedSim {change['ours_s'] / change['jupedsim_s']:.2f}, ours / SFPE {change['ours_s'] / change['sfpe_s']:.2f}")
    return {"rows": rows, "change_s": change}


def speed(args) -> dict:
    out = {}
    # load our compiled kernels from numba's cache once, outside the timing (JuPedSim's C++ needs no such step)
    run_ours(courtyard(after=True, residents=100, premovement=Premovement(mean_s=0.0, sd_s=0.0)), dt_s=args.dt, max_time_s=2.0)
    for n in args.sizes:
        # a courtyard scaled so that the crowd fits in front of the doors; everyone starts at once
        scale = max(1.0, (n / 2000) ** 0.5)
        scenario = courtyard(after=True, residents=n, scale=scale, premovement=Premovement(mean_s=0.0, sd_s=0.0))
        horizon = args.horizon
        if n <= 5000:
            # both engines --repeat times, one after the other, and each one's least CPU time: the
            # run least disturbed by the other programs sharing the machine (each run is the same
            # deterministic work), so the ratio compares like with like
            cpu_ours_runs, cpu_j_runs = [], []
            for _ in range(args.repeat):
                ours, steps_ours, cpu, _ = run_ours(scenario, dt_s=args.dt, max_time_s=horizon)
                cpu_ours_runs.append(cpu)
                _, _, _, steps_j, cpu = run_jupedsim(scenario, dt_s=args.dt, speeds=free_speeds(scenario, 0),
                                                     max_time_s=horizon, horizon_s=horizon)
                cpu_j_runs.append(cpu)
            cpu_ours, cpu_j = min(cpu_ours_runs), min(cpu_j_runs)
        else:
            ours, steps_ours, cpu_ours, _ = run_ours(scenario, dt_s=args.dt, max_time_s=args.max_time)
        row = {"agents": n, "scale": round(scale, 2), "dt_s": args.dt,
               "ours_agent_steps": steps_ours, "ours_cpu_s": round(cpu_ours, 2),
               "ours_agent_steps_per_cpu_s": steps_ours / cpu_ours,
               "ours_simulated_s": ours.value("simulated_time_s"), "ours_evacuated": int(ours.value("evacuated"))}
        if n <= 5000:
            row.update({"jupedsim_agent_steps": steps_j, "jupedsim_cpu_s": round(cpu_j, 2),
                        "jupedsim_agent_steps_per_cpu_s": steps_j / cpu_j,
                        "ratio": (steps_ours / cpu_ours) / (steps_j / cpu_j),
                        "ours_cpu_runs_s": [round(c, 3) for c in cpu_ours_runs],
                        "jupedsim_cpu_runs_s": [round(c, 3) for c in cpu_j_runs],
                        "ratio_per_run": [round((steps_ours / a) / (steps_j / b), 2) for a, b in zip(cpu_ours_runs, cpu_j_runs)]})
            print(f"{n:6d} residents, first {horizon:.0f} s at dt {args.dt}: ours {row['ours_agent_steps_per_cpu_s'] / 1e3:.0f} k "
                  f"agent-steps/CPU-s, JuPedSim {row['jupedsim_agent_steps_per_cpu_s'] / 1e3:.0f} k, ratio {row['ratio']:.1f} "
                  f"(least CPU of {args.repeat} runs each; run by run {', '.join(f'{r:.1f}' for r in row['ratio_per_run'])})",
                  flush=True)
        else:
            print(f"{n:6d} residents, to the end ({row['ours_simulated_s']:.0f} s simulated, {row['ours_evacuated']} out): "
                  f"ours {row['ours_agent_steps_per_cpu_s'] / 1e3:.0f} k agent-steps/CPU-s, {cpu_ours:.0f} CPU-s", flush=True)
        out[n] = row
    sizes = sorted(out)
    for a, b in zip(sizes, sizes[1:]):
        ra, rb = out[a], out[b]
        growth = (rb["ours_cpu_s"] / rb["ours_agent_steps"]) / (ra["ours_cpu_s"] / ra["ours_agent_steps"])
        print(f"cost per agent-step, {a} -> {b} residents: x{growth:.2f}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("agreement", "speed", "all"))
    parser.add_argument("--dt", type=float, default=0.05)
    parser.add_argument("--residents", type=int, default=2000, help="agreement: residents of the courtyard")
    parser.add_argument("--max-time", type=float, default=1500.0)
    parser.add_argument("--horizon", type=float, default=60.0, help="speed: simulated seconds timed for both engines")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000])
    parser.add_argument("--repeat", type=int, default=5, help="speed: runs of each engine up to 5,000 residents (least CPU counts)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    report = {}
    if args.what in ("agreement", "all"):
        report["agreement"] = agreement(args)
    if args.what in ("speed", "all"):
        report["speed"] = speed(args)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
