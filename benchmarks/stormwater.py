"""Stormwater engine against EPA SWMM 5.2 (pyswmm / swmm-toolkit), in one run: agreement and speed.

    .venv/bin/python benchmarks/stormwater.py storm              # sample community, P3 design storm, each state
    .venv/bin/python benchmarks/stormwater.py series --years 10  # synthetic rain record on the baseline
    .venv/bin/python benchmarks/stormwater.py ensemble --storms 100
    .venv/bin/python benchmarks/stormwater.py district --copies 24 --years 10 --swmm-years 1
    .venv/bin/python benchmarks/stormwater.py all

Both engines run the very same .inp text (written by twin.extract.drainage from the sample
community). Times are CPU seconds (time.process_time of this process) around each engine's run
only, wall seconds beside them: ours = sim.stormwater simulate after a warm-up run (numba's compiled
kernels loaded from cache, model already parsed, preparation of the arrays included); SWMM = pyswmm
Simulation open + run + close (its own parsing included, it cannot run without it). The ensemble
runs our storms as one batch (simulate_ensemble: two threads) and SWMM's as runs one after the
other. The series is also run by SWMM with SKIP_STEADY_STATE YES, its fastest setting, to show
what that costs SWMM in agreement (its routing continuity error grows). `district` tiles the
sample's network `copies` times (24 copies: 4,032 subcatchments) into one model; SWMM runs it over
`--swmm-years` only (it takes minutes per year) and the ratio is per simulated year.
Prints our figure, SWMM's and the ratio. The ensemble also prints, for its last storm, our routing
steps (average step, Picard iterations per step) beside SWMM's routing time-step summary from its
report file, and our routing steps over all storms.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.stormwater import rainfall  # noqa: E402
from sim.stormwater.io import parse_inp  # noqa: E402
from sim.stormwater.metrics import swmm_reference  # noqa: E402
from sim.stormwater.model import Settings, simulate, simulate_ensemble  # noqa: E402

SAMPLE = Path(__file__).resolve().parent.parent / "ifc_models" / "sample_community"
KEYS = ("runoff_volume_m3", "outfall_volume_m3", "peak_outfall_flow_m3s", "flooding_volume_m3",
        "runoff_continuity_error_pct", "routing_continuity_error_pct", "runoff_control_rate")


def _state_text(state: str, rain, continuous: bool) -> str:
    from twin.commands.stormwater import build_state_model
    from twin.project import load_project, load_state

    project = load_project(SAMPLE)
    return build_state_model(load_state(project, state), rain, continuous=continuous)[1].text


def _parse(text: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return parse_inp(text, source="benchmark")


def _timed(run):
    """(result, CPU s, wall s) of run()."""
    c, w = time.process_time(), time.perf_counter()
    out = run()
    return out, time.process_time() - c, time.perf_counter() - w


def _swmm_run(path: Path) -> None:
    from pyswmm import Simulation

    with Simulation(str(path)) as sim:
        for _ in sim:
            pass


def _swmm_step_report(path: Path) -> dict:
    """SWMM's routing time-step summary of one run of `path` (from its report file): average step s,
    iterations per step, % of steps not converging."""
    from pyswmm import Simulation

    rpt, out = path.with_suffix(".rpt"), path.with_suffix(".out")
    with Simulation(str(path), str(rpt), str(out)) as sim:
        for _ in sim:
            pass
    text = rpt.read_text(errors="replace")
    found = {}
    for key, label in (("average_step_s", "Average Time Step"), ("iterations_per_step", "Average Iterations per Step"),
                       ("pct_not_converging", "% of Steps Not Converging")):
        m = re.search(re.escape(label) + r"\s*:\s*([\d.]+)", text)
        if m:
            found[key] = float(m.group(1))
    return found


def _our_steps(result, duration_s: float) -> dict:
    steps = result.value("routing_steps")
    return {"routing_steps": int(steps), "average_step_s": round(duration_s / steps, 2) if steps else None,
            "iterations_per_step": round(result.routing_iterations / steps, 2) if steps else None,
            "conduit_solves_per_step": round(result.conduit_solves / steps, 1) if steps else None}


def _swmm_time(path: Path) -> tuple[float, float]:
    """(CPU s, wall s) of one SWMM run of `path`."""
    return _timed(lambda: _swmm_run(path))[1:]


def _ratio(row: dict, ours: tuple[float, float], swmm: tuple[float, float]) -> dict:
    row.update(ours_cpu_s=round(ours[0], 2), ours_wall_s=round(ours[1], 2), swmm_cpu_s=round(swmm[0], 2),
               swmm_wall_s=round(swmm[1], 2), speedup_cpu=round(swmm[0] / ours[0], 2),
               speedup_wall=round(swmm[1] / ours[1], 2))
    return row


def _control_rate(ref: dict) -> float:
    rain = ref["rainfall_volume_m3"]
    return 1 - (ref["outfall_volume_m3"] + ref["flooding_volume_m3"]) / rain if rain else float("nan")


def _compare(label: str, ours, ref: dict) -> dict:
    row = {"case": label}
    for k in KEYS:
        a = ours.value(k)
        b = ref.get(k)
        if k == "runoff_control_rate" and b is None:
            b = _control_rate(ref)
        row[k] = {"ours": round(a, 4), "swmm": round(b, 4),
                  "diff_pct": round(100 * (a - b) / b, 2) if b else None}
    return row


def bench_storm(tmp: Path) -> list[dict]:
    rain = rainfall.chicago_storm(3)
    rows = []
    for state in ("baseline", "proposal_a", "proposal_b"):
        text = _state_text(state, rain, continuous=False)
        path = tmp / f"{state}.inp"
        path.write_text(text)
        model = _parse(text)
        simulate(model, Settings(keep_frames=False))   # warm-up
        ours, *ours_t = _timed(lambda: simulate(model))
        swmm_t = _swmm_time(path)
        rows.append(_ratio(_compare(f"{state} P3 storm", ours, swmm_reference(path)), ours_t, swmm_t))
    return rows


def _warm_up() -> None:
    # the compiled kinematic-wave run loaded from numba's cache (a one-year record on the baseline)
    rain = rainfall.synthetic_series(1)
    text = _state_text("baseline", rain, continuous=True)
    model = _parse(text)
    simulate(model, Settings(keep_frames=False))


def bench_series(tmp: Path, years: int) -> dict:
    rain = rainfall.synthetic_series(years)
    text = _state_text("baseline", rain, continuous=True)
    path = tmp / "series.inp"
    path.write_text(text)
    model = _parse(text)
    _warm_up()
    ours, *ours_t = _timed(lambda: simulate(model, Settings(keep_frames=False)))
    ref, *swmm_t = _timed(lambda: swmm_reference(path))   # SWMM's run and its statistics
    row = _ratio(_compare(f"baseline, {years}-year synthetic series", ours, ref), ours_t, swmm_t)
    # SWMM at its fastest: skipping routing while flows look steady (and losing continuity for it)
    fast = tmp / "series_skip_steady.inp"
    fast.write_text(re.sub(r"(?m)^SKIP_STEADY_STATE\s+NO", "SKIP_STEADY_STATE YES", text))
    ref_fast, *fast_t = _timed(lambda: swmm_reference(fast))
    row["swmm_skip_steady_state"] = {
        "swmm_cpu_s": round(fast_t[0], 2), "speedup_cpu": round(fast_t[0] / ours_t[0], 2),
        "runoff_control_rate": round(_control_rate(ref_fast), 4),
        "routing_continuity_error_pct": round(ref_fast["routing_continuity_error_pct"], 2)}
    return row


def tiled_model(model, copies: int):
    """`copies` side-by-side copies of a drainage system in one model (names suffixed _1, _2 ...).

    Each copy keeps its own network and outfalls; rain gauges, curves and time series are shared.
    Map sections (coordinates, polygons) are left out. A district-sized case from the sample.
    """
    from dataclasses import replace

    from sim.stormwater.model import Model

    out = Model(title=list(model.title), options=model.options, evaporation=model.evaporation,
                raingages=dict(model.raingages), curves=dict(model.curves), timeseries=dict(model.timeseries),
                lid_controls=dict(model.lid_controls), source=f"{model.source} x {copies}")
    for k in range(1, copies + 1):
        def n(name, _k=k):
            return f"{name}_{_k}"

        for name, s in model.subcatchments.items():
            out.subcatchments[n(name)] = replace(s, name=n(name), outlet=n(s.outlet))
        for table, dest in ((model.junctions, out.junctions), (model.outfalls, out.outfalls),
                            (model.storages, out.storages)):
            for name, x in table.items():
                dest[n(name)] = replace(x, name=n(name))
        for table, dest in ((model.conduits, out.conduits), (model.orifices, out.orifices),
                            (model.weirs, out.weirs), (model.pumps, out.pumps)):
            for name, x in table.items():
                dest[n(name)] = replace(x, name=n(name), from_node=n(x.from_node), to_node=n(x.to_node))
        out.lid_usage += [replace(u, subcatchment=n(u.subcatchment),
                                  drain_to=u.drain_to if u.drain_to in ("*", "") else n(u.drain_to))
                          for u in model.lid_usage]
        out.inflows += [replace(f, node=n(f.node)) for f in model.inflows]
        out.dwf += [replace(d, node=n(d.node)) for d in model.dwf]
    return out


def bench_district(tmp: Path, copies: int, years: int, swmm_years: int) -> dict:
    from sim.stormwater.io import write_inp

    def tiled(n_years):
        return tiled_model(_parse(_state_text("baseline", rainfall.synthetic_series(n_years), continuous=True)),
                           copies)

    model = tiled(years)
    _warm_up()
    ours, *ours_t = _timed(lambda: simulate(model, Settings(keep_frames=False)))
    path = tmp / "district.inp"
    swmm_model = model if swmm_years == years else tiled(swmm_years)
    write_inp(swmm_model, path)
    ref, *swmm_t = _timed(lambda: swmm_reference(path))
    row = {"case": f"{len(model.subcatchments)} subcatchments, {len(model.conduits)} conduits "
                   f"({copies} copies of the baseline), {years}-year series; SWMM over {swmm_years} year(s)",
           "ours_cpu_s": round(ours_t[0], 2), "ours_wall_s": round(ours_t[1], 2),
           "swmm_cpu_s": round(swmm_t[0], 2), "swmm_wall_s": round(swmm_t[1], 2),
           "speedup_cpu_per_year": round((swmm_t[0] / swmm_years) / (ours_t[0] / years), 2),
           "ours_runoff_control_rate": round(ours.value("runoff_control_rate"), 4),
           "ours_routing_continuity_error_pct": round(ours.value("routing_continuity_error_pct"), 3)}
    if swmm_years == years:
        row["check"] = _compare("district", ours, ref)
    else:
        row["swmm_runoff_control_rate_first_years"] = round(_control_rate(ref), 4)
    return row


def bench_ensemble(tmp: Path, n: int, routing: str = "DYNWAVE") -> dict:
    from twin.commands.stormwater import build_state_model
    from twin.project import load_project, load_state

    periods = [0.5, 1, 2, 3, 5, 10, 20, 30, 50, 100]
    durations = [60, 90, 120, 150, 180, 240, 360, 480, 720, 1440]
    storms = [rainfall.chicago_storm(periods[k % 10], duration_min=durations[(k // 10) % 10]) for k in range(n)]
    twin = load_state(load_project(SAMPLE), "baseline")
    texts = [build_state_model(twin, s, continuous=False)[1].text for s in storms]   # same system, each storm
    if routing != "DYNWAVE":  # both engines route by the same method: the file's option
        texts = [t.replace("FLOW_ROUTING DYNWAVE", f"FLOW_ROUTING {routing}") for t in texts]
    models = [_parse(t) for t in texts]
    simulate(models[0], Settings(keep_frames=False))   # warm-up
    results, *ours_t = _timed(lambda: simulate_ensemble(models, Settings(keep_frames=False), workers=2))
    swmm_t = [0.0, 0.0]
    for k, text in enumerate(texts):
        path = tmp / f"storm{k}.inp"
        path.write_text(text)
        c, w = _swmm_time(path)
        swmm_t[0] += c
        swmm_t[1] += w
    last = n - 1
    check = _compare(f"storm {last} of the ensemble", results[last], swmm_reference(tmp / f"storm{last}.inp"))
    check["steps"] = {"ours": _our_steps(results[last], _span_s(models[last])),
                      "swmm": _swmm_step_report(tmp / f"storm{last}.inp")}
    total_steps = sum(r.value("routing_steps") for r in results)
    return _ratio({"case": f"baseline, {n} design storms, {routing}", "check": check,
                   "ours_routing_steps_all_storms": int(total_steps)}, ours_t, swmm_t)


def _span_s(model) -> float:
    """Simulated time (s) of a model: START to END date and time."""
    from datetime import datetime

    o = model.options

    def at(date_key, time_key):
        month, day, year = (int(x) for x in o.get(date_key).split("/"))
        h, m, sec = (int(float(x)) for x in (o.get(time_key, "0:0:0") + ":0:0").split(":")[:3])
        return datetime(year, month, day, h, m, sec)

    return (at("END_DATE", "END_TIME") - at("START_DATE", "START_TIME")).total_seconds()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("storm", "series", "ensemble", "district", "all"))
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--storms", type=int, default=100)
    ap.add_argument("--routing", choices=("DYNWAVE", "KINWAVE"), default="DYNWAVE",
                    help="ensemble: routing method of both engines (the design storms' files say DYNWAVE)")
    ap.add_argument("--copies", type=int, default=24, help="district: copies of the sample (24: 4,032 subcatchments)")
    ap.add_argument("--swmm-years", type=int, default=1, help="district: years SWMM runs (ratio per year)")
    args = ap.parse_args(argv)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.what in ("storm", "all"):
            out["storm"] = bench_storm(tmp)
        if args.what in ("series", "all"):
            out["series"] = bench_series(tmp, args.years)
        if args.what in ("ensemble", "all"):
            out["ensemble"] = bench_ensemble(tmp, args.storms, args.routing)
        if args.what in ("district", "all"):
            out["district"] = bench_district(tmp, args.copies, args.years, min(args.swmm_years, args.years))
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
