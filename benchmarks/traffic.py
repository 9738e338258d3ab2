"""Traffic engine speed and agreement against SUMO, in one run.

For each case (default: 8x8 blocks / 2,000 trips and 20x20 blocks / 10,000 trips, one peak
hour, IDM, step 0.5 s) it writes the grid as SUMO plain XML, runs our engine on what it reads
back and SUMO (eclipse-sumo: netconvert, then sumo) on the same files, and prints

* vehicle updates per CPU second: ours (sum over steps of vehicles moved / CPU seconds of the
  run, routing and numba compilation excluded by a warm-up run) and SUMO's (sum of `running`
  in its summary output / CPU seconds of the sumo process: the binary, not the Python launcher
  eclipse-sumo installs in front of it), and the ratio ours/SUMO;
* mean and 95th percentile travel time in both, and their ratio;
* what the ratio leaves out or keeps of fixed costs: our set-up (network compilation, routes, vehicle
  arrays: CPU seconds of building the Simulation, outside the ratio) and SUMO's start-up (CPU seconds
  of sumo on the same files with --end 0: loading the network and the first routes, inside its time),
  and the ratio with our set-up counted in.

`--growth` adds the cost growth of our engine from 1,000 to 50,000 trips on the 20x20 grid
(CPU seconds and updates per CPU second per size; SUMO only up to 10,000 trips by default).

Each engine runs `--repeat` times per case (5 by default), alternately, and keeps its least CPU time:
one run of the 8x8 case lasts a fraction of a second and single runs varied 3.6-11.9x.

    python benchmarks/traffic.py [--case 8:2000] [--case 20:10000] [--repeat 5] [--growth] [--json OUT.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.traffic.grid import grid_network, grid_trips  # noqa: E402
from sim.traffic.io import read_sumo, write_network, write_routes  # noqa: E402
from sim.traffic.model import Settings, Simulation  # noqa: E402
from sim.traffic.sumo import run_sumo, sumo_available  # noqa: E402


def ours(nod, edg, rou) -> dict:
    network, demand = read_sumo(nod, edg, rou)
    start = time.process_time()
    sim = Simulation(network, demand, Settings(), seed=0)   # routing, compilation and set-up: not in the ratio
    setup = time.process_time() - start
    start = time.process_time()
    sim.run()
    cpu = time.process_time() - start
    d = sim.details()
    tt = d.arrive_s - d.depart_s
    return {"cpu_s": cpu, "setup_cpu_s": setup, "updates": int(sim.vehicle_updates), "updates_per_cpu_s": sim.vehicle_updates / cpu,
            "completed": int(np.isfinite(tt).sum()), "mean_tt_s": float(np.nanmean(tt)), "p95_tt_s": float(np.nanpercentile(tt, 95)),
            "gridlock": d.gridlock_time_s is not None}


def case(blocks: int, trips: int, work: Path, with_sumo: bool = True, repeat: int = 1) -> dict:
    """One grid case; with repeat > 1 each engine runs that many times, alternately, and each keeps its
    least CPU time (a sub-second run is at the mercy of whatever else the machine does)."""
    net = grid_network(blocks)
    demand = grid_trips(net, trips, 3600.0, seed=11)
    nod, edg, rou = work / "g.nod.xml", work / "g.edg.xml", work / "g.rou.xml"
    write_network(net, nod, edg)
    write_routes(demand, rou)
    mine, theirs = [], []
    for _ in range(repeat):
        mine.append(ours(nod, edg, rou))
        if with_sumo:
            theirs.append(run_sumo(nod, edg, rou, work / "sumo"))
    out = {"blocks": blocks, "trips": trips, "repeat": repeat, "ours": min(mine, key=lambda o: o["cpu_s"])}
    if with_sumo:
        s = min(theirs, key=lambda run: run.cpu_s)
        out["sumo"] = {"cpu_s": s.cpu_s, "updates": s.vehicle_updates, "updates_per_cpu_s": s.vehicle_updates / s.cpu_s,
                       "completed": len(s.duration_s), "mean_tt_s": float(s.duration_s.mean()),
                       "p95_tt_s": float(np.percentile(s.duration_s, 95)), "teleports": s.teleports}
        out["speed_ratio"] = out["ours"]["updates_per_cpu_s"] / out["sumo"]["updates_per_cpu_s"]
        out["mean_tt_ratio"] = out["ours"]["mean_tt_s"] / out["sumo"]["mean_tt_s"]
        out["p95_tt_ratio"] = out["ours"]["p95_tt_s"] / out["sumo"]["p95_tt_s"]
        out["sumo"]["startup_cpu_s"] = run_sumo(nod, edg, rou, work / "sumo0", end_s=0.0).cpu_s
        setup = min(m["setup_cpu_s"] for m in mine)
        out["ours"]["least_setup_cpu_s"] = setup
        out["speed_ratio_with_setup"] = (out["ours"]["updates"] / (out["ours"]["cpu_s"] + setup)) / out["sumo"]["updates_per_cpu_s"]
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", action="append", help="BLOCKS:TRIPS (default 8:2000 and 20:10000)")
    parser.add_argument("--growth", action="store_true", help="cost growth 1,000 -> 50,000 trips on the 20x20 grid")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each engine per case; each keeps its least CPU time")
    args = parser.parse_args(argv)
    if not sumo_available():
        print("eclipse-sumo is not installed (pip install eclipse-sumo): no anchor to compare with", file=sys.stderr)
        return 1
    cases = [tuple(int(x) for x in c.split(":")) for c in (args.case or ["8:2000", "20:10000"])]
    results = {"cases": [], "growth": []}
    # warm-up: numba compiles the kernels once (cached on disk afterwards)
    with tempfile.TemporaryDirectory() as tmp:
        case(2, 20, Path(tmp), with_sumo=False)
    print(f"{'case':<16}{'ours upd/CPU-s':>16}{'SUMO upd/CPU-s':>16}{'ratio':>8}   {'mean tt ours/SUMO':>20}{'p95 tt ours/SUMO':>20}")
    for blocks, trips in cases:
        with tempfile.TemporaryDirectory() as tmp:
            r = case(blocks, trips, Path(tmp), repeat=args.repeat)
        results["cases"].append(r)
        o, s = r["ours"], r["sumo"]
        print(f"{blocks}x{blocks}/{trips:<10}{o['updates_per_cpu_s']:>16,.0f}{s['updates_per_cpu_s']:>16,.0f}{r['speed_ratio']:>8.1f}"
              f"   {o['mean_tt_s']:>7.1f}/{s['mean_tt_s']:<7.1f}={r['mean_tt_ratio']:.3f}"
              f"   {o['p95_tt_s']:>7.1f}/{s['p95_tt_s']:<7.1f}={r['p95_tt_ratio']:.3f}")
        print(f"{'':<16}CPU s: ours {o['cpu_s']:.3f} + set-up {o['least_setup_cpu_s']:.3f} (not in the ratio); SUMO {s['cpu_s']:.3f}"
              f" of which start-up {s['startup_cpu_s']:.3f}; ratio with our set-up counted: {r['speed_ratio_with_setup']:.1f}")
    if args.growth:
        print(f"\ncost growth, 20x20 grid, one hour: {'trips':>8}{'CPU s':>10}{'updates':>14}{'upd/CPU-s':>14}{'gridlock':>10}")
        for trips in (1000, 5000, 10000, 20000, 50000):
            with tempfile.TemporaryDirectory() as tmp:
                r = case(20, trips, Path(tmp), with_sumo=False)
            results["growth"].append(r)
            o = r["ours"]
            print(f"{'':>35}{trips:>8}{o['cpu_s']:>10.2f}{o['updates']:>14,}{o['updates_per_cpu_s']:>14,.0f}{str(o['gridlock']):>10}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
