"""Evacuation engine against its anchors, in one run: agreement (JuPedSim, SFPE hydraulic) and speed (JuPedSim).

    .venv/bin/python benchmarks/evacuation.py agreement   # courtyard before/after: ours, JuPedSim, SFPE
    .venv/bin/python benchmarks/evacuation.py gate        # what a saturated 6 m courtyard gate passes in each
    .venv/bin/python benchmarks/evacuation.py packing [--csm neighbour_range_m=0.2]  # densest crowd, 1 m flows
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
from sim.evacuation.metrics import exit_flow  # noqa: E402
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
        scenario = courtyard(after=after, residents=args.residents, seed=args.seed)
        ours, _, cpu_ours, geo = run_ours(scenario, dt_s=args.dt, max_time_s=args.max_time, seed=args.seed)
        sfpe = estimate(scenario, geometry=geo)
        jt, exit_ids, nearest, _, cpu_j = run_jupedsim(scenario, dt_s=args.dt, speeds=free_speeds(scenario, args.seed),
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
                          "jupedsim_flow_p_s": round(exit_flow(jt[out & (nearest == k)]), 2),
                          "sfpe_persons": sfpe.exits[e]["persons"],
                          "sfpe_capacity_p_s": round(sfpe.exits[e]["capacity_p_s"], 2),
                          "sfpe_first_arrival_s": round(sfpe.exits[e]["first_arrival_s"], 1),
                          "sfpe_last_arrival_s": round(sfpe.exits[e]["last_arrival_s"], 1),
                          "sfpe_clear_s": round(sfpe.exits[e]["clear_s"], 1)} for k, e in enumerate(exit_ids)},
            "cpu_ours_s": round(cpu_ours, 1), "cpu_jupedsim_s": round(cpu_j, 1),
        }
        rows["after" if after else "before"] = row
        print(f"courtyard {'after ' if after else 'before'}: ours {row['ours_s']:.0f} s, JuPedSim {row['jupedsim_s']:.0f} s, "
              f"SFPE {row['sfpe_s']:.0f} s (ours/SFPE {row['ours_s'] / row['sfpe_s']:.2f}, ours/JuPedSim "
              f"{row['ours_s'] / row['jupedsim_s']:.2f}); out {row['ours_evacuated']} / {row['jupedsim_evacuated']} of {row['agents']}",
              flush=True)
        # does each gate govern? the SFPE queue outlasts the arrivals, and the agent models pass about
        # what a saturated gate passes (their flows against the SFPE capacity)
        for e, g in row["exits"].items():
            print(f"  gate {e}: {g['sfpe_persons']} persons; SFPE arrivals {g['sfpe_first_arrival_s']:.0f}-"
                  f"{g['sfpe_last_arrival_s']:.0f} s, queue clear {g['sfpe_clear_s']:.0f} s "
                  f"({'governs' if g['sfpe_clear_s'] > g['sfpe_last_arrival_s'] + 1.0 else 'does not govern'}); "
                  f"flow ours {g['ours_flow_p_s']:.2f} p/s, JuPedSim {g['jupedsim_flow_p_s']:.2f}, SFPE capacity "
                  f"{g['sfpe_capacity_p_s']:.2f} (ours {g['ours_flow_p_s'] / g['sfpe_capacity_p_s']:.2f}x)", flush=True)
    change = {k: rows["after"][k] - rows["before"][k] for k in ("ours_s", "jupedsim_s", "sfpe_s")}
    print("before -> after: " + ", ".join(f"{k[:-2]} {v:+.0f} s ({v / rows['before'][k] * 100:+.0f} %)" for k, v in change.items()))
    print(f"change ours / JuPedSim {change['ours_s'] / change['jupedsim_s']:.2f}, ours / SFPE {change['ours_s'] / change['sfpe_s']:.2f}")
    return {"rows": rows, "change_s": change}


def saturated_gate(args) -> dict:
    """What a courtyard gate passes when a crowd stands in front of it: its capacity in each agent model.

    1,200 adults on a 0.7 m lattice from 5 m to 21 m in front of a gate of the courtyard's width
    (6 m) in the west fence of a 60 m x 40 m yard, all starting at once; steady flow (10th-90th
    percentile passages) in both engines, against the SFPE capacity.
    """
    from shapely.geometry import box

    from sim.evacuation.model import Agent, Exit, Scenario

    w = args.gate
    cols = int(38 / 0.7)
    agents = tuple(Agent(x=5 + 0.7 * (k // cols), y=1 + 0.7 * (k % cols), premovement_s=0.0) for k in range(1200))
    scenario = Scenario(walkable=box(0, 0, 60, 40), agents=agents,
                        exits=(Exit(id="gate", coords=((0, 20 - w / 2), (0, 20 + w / 2)), width_m=w),))
    ours, _, _, geo = run_ours(scenario, dt_s=args.dt, max_time_s=args.max_time)
    jt, *_ = run_jupedsim(scenario, dt_s=args.dt, speeds=free_speeds(scenario, 0), max_time_s=args.max_time)
    row = {"gate_m": w, "persons": len(agents), "ours_flow_p_s": ours.value("exit/gate/flow_p_s"),
           "jupedsim_flow_p_s": exit_flow(jt[np.isfinite(jt)]), "sfpe_capacity_p_s": estimate(scenario, geometry=geo).exits["gate"]["capacity_p_s"]}
    print(f"saturated {w:g} m gate ({len(agents)} persons at once): ours {row['ours_flow_p_s']:.2f} p/s "
          f"({row['ours_flow_p_s'] / w:.2f} p/m/s), JuPedSim {row['jupedsim_flow_p_s']:.2f} p/s, SFPE capacity "
          f"{row['sfpe_capacity_p_s']:.2f} p/s", flush=True)
    return row


def _densest_square(xy: np.ndarray, side_m: float, bounds, step_m: float = 0.1) -> float:
    """Persons per m² in the densest side_m square anywhere (its corner on a step_m lattice) within bounds."""
    x0, y0, x1, y1 = bounds
    best = 0.0
    for cx in np.arange(x0, x1 - side_m + 1e-9, step_m):
        for cy in np.arange(y0, y1 - side_m + 1e-9, step_m):
            inside = (xy[:, 0] >= cx) & (xy[:, 0] < cx + side_m) & (xy[:, 1] >= cy) & (xy[:, 1] < cy + side_m)
            best = max(best, inside.sum() / side_m ** 2)
    return float(best)


def packing(args) -> dict:
    """How densely the crowd packs, and what 1 m openings pass, with the CSM parameters of --csm.

    Dead end: 84 adults walk into a 4 m x 16 m yard whose only opening (0.26 m) nobody passes; at
    rest after 60 s: the densest 2 m square anywhere, the densest fixed 2 m cell, PedPy's Voronoi
    density (median and 90th percentile person) and the nearest neighbour's distance.
    Bottleneck: the 196-person room with a 1 m x 2 m passage of tests/sim/test_evacuation_physics.py,
    seeds 0 and 1: specific flow and densest 2 m cell. RiMEA 9 (tests/sim/test_evacuation_rimea.py,
    seed 9): 1,000 persons, four 1 m exits, then the two west ones closed.
    """
    import dataclasses

    from scipy.spatial import cKDTree
    from shapely.geometry import box
    from shapely.ops import unary_union

    from sim.evacuation.model import Agent, CSMParams, Exit, Scenario

    csm = CSMParams(**{k: float(v) for k, v in (item.split("=") for item in args.csm.split(","))}) if args.csm else CSMParams()
    out = {"csm": dataclasses.asdict(csm)}
    lattice = [(0.4 + 0.5 * i, 0.4 + 0.5 * j) for i in range(12) for j in range(7)]
    dead_end = Scenario(walkable=box(0, 0, 16, 4), agents=tuple(Agent(x=px, y=py, premovement_s=0.0) for px, py in lattice),
                        exits=(Exit(id="slit", coords=((16, 1.87), (16, 2.13)), width_m=0.26),))
    rest = simulate(dead_end, Settings(max_time_s=60, density_cell_m=2.0, csm=csm), seed=0)
    xy = rest.frames["positions_xy_m"][-1].astype(np.float64)
    spacing = cKDTree(xy).query(xy, k=2)[0][:, 1]
    import pandas
    import pedpy

    voronoi = pedpy.compute_individual_voronoi_polygons(
        traj_data=pedpy.TrajectoryData(data=pandas.DataFrame({"id": np.arange(len(xy)), "frame": 0, "x": xy[:, 0], "y": xy[:, 1]}),
                                       frame_rate=1.0),
        walkable_area=pedpy.WalkableArea(box(0, 0, 16, 4)))["density"].to_numpy()
    out["dead_end"] = {"densest_2m_square_p_m2": _densest_square(xy, 2.0, (0, 0, 16, 4)),
                       "densest_2m_cell_p_m2": float(rest.frames["density_p_m2"][-1].max()),
                       "voronoi_median_p_m2": float(np.median(voronoi)), "voronoi_p90_p_m2": float(np.percentile(voronoi, 90)),
                       "nearest_neighbour_median_m": float(np.median(spacing)), "nearest_neighbour_min_m": float(spacing.min())}
    room = Scenario(walkable=unary_union([box(0, 0, 8, 8), box(7.9, 3.5, 10, 4.5)]),
                    agents=tuple(Agent(x=0.5 + 0.5 * i, y=0.75 + 0.5 * j) for i in range(14) for j in range(14)),
                    exits=(Exit(id="door", coords=((10, 3.5), (10, 4.5)), width_m=1.0),))
    for seed in (0, 1):
        r = simulate(room, Settings(max_time_s=400, csm=csm), seed=seed)
        out[f"bottleneck_seed{seed}"] = {"evacuated": int(r.value("evacuated")),
                                         "specific_flow_p_m_s": r.value("exit/door/specific_flow_p_m_s"),
                                         "densest_2m_cell_p_m2": r.value("max_local_density_p_m2")}
    xs, ys = np.meshgrid(np.linspace(0.5, 29.5, 40), np.linspace(0.5, 19.5, 25))
    for closed in ((), ("w1", "w2")):
        doors = {"w1": ((0, 1.5), (0, 2.5)), "w2": ((0, 17.5), (0, 18.5)), "e1": ((30, 1.5), (30, 2.5)), "e2": ((30, 17.5), (30, 18.5))}
        rimea = Scenario(walkable=box(0, 0, 30, 20), agents=tuple(Agent(x=float(a), y=float(b)) for a, b in zip(xs.ravel(), ys.ravel())),
                         exits=tuple(Exit(id=k, coords=c, width_m=1.0, open=k not in closed) for k, c in doors.items()))
        r = simulate(rimea, Settings(max_time_s=900, csm=csm), seed=9)
        out[f"rimea9_{4 - len(closed)}_exits"] = {
            "total_s": r.value("total_evacuation_time_s"), "densest_2m_cell_p_m2": r.value("max_local_density_p_m2"),
            "specific_flows_p_m_s": {k: r.value(f"exit/{k}/specific_flow_p_m_s") for k in doors if k not in closed}}
    d, b0, b1 = out["dead_end"], out["bottleneck_seed0"], out["bottleneck_seed1"]
    r4, r2 = out["rimea9_4_exits"], out["rimea9_2_exits"]
    print(f"CSM {args.csm or 'defaults'}: dead end {d['densest_2m_square_p_m2']:.2f} p/m² (densest 2 m square; fixed cells "
          f"{d['densest_2m_cell_p_m2']:.2f}, Voronoi median / p90 {d['voronoi_median_p_m2']:.2f} / {d['voronoi_p90_p_m2']:.2f}, "
          f"neighbours {d['nearest_neighbour_median_m']:.3f} m median, {d['nearest_neighbour_min_m']:.3f} min); "
          f"bottleneck {b0['specific_flow_p_m_s']:.2f} / {b1['specific_flow_p_m_s']:.2f} p/m/s, densest {b0['densest_2m_cell_p_m2']:.2f} / "
          f"{b1['densest_2m_cell_p_m2']:.2f} p/m²; RiMEA 9 two exits "
          f"{' / '.join(f'{v:.2f}' for v in r2['specific_flows_p_m_s'].values())} p/m/s, time x{r2['total_s'] / r4['total_s']:.2f}, "
          f"densest {r4['densest_2m_cell_p_m2']:.2f} / {r2['densest_2m_cell_p_m2']:.2f} p/m²", flush=True)
    return out


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
    parser.add_argument("what", choices=("agreement", "gate", "packing", "speed", "all"))
    parser.add_argument("--dt", type=float, default=0.05)
    parser.add_argument("--residents", type=int, default=3000, help="agreement: residents of the courtyard")
    parser.add_argument("--seed", type=int, default=0, help="agreement: seed of the residents' pre-movement and speeds")
    parser.add_argument("--gate", type=float, default=6.0, help="gate: width (m) of the saturated gate")
    parser.add_argument("--csm", default="", help="packing: CSMParams to try, e.g. neighbour_range_m=0.2,time_gap_s=1.1")
    parser.add_argument("--max-time", type=float, default=1500.0)
    parser.add_argument("--horizon", type=float, default=60.0, help="speed: simulated seconds timed for both engines")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000])
    parser.add_argument("--repeat", type=int, default=5, help="speed: runs of each engine up to 5,000 residents (least CPU counts)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    report = {}
    if args.what in ("agreement", "all"):
        report["agreement"] = agreement(args)
    if args.what in ("gate", "all"):
        report["gate"] = saturated_gate(args)
    if args.what in ("packing", "all"):
        report["packing"] = packing(args)
    if args.what in ("speed", "all"):
        report["speed"] = speed(args)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
