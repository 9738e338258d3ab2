"""Stormwater engine against EPA SWMM 5.2 (pyswmm / swmm-toolkit), in one run: agreement and speed.

    .venv/bin/python benchmarks/stormwater.py storm            # sample community, P3 design storm, each state
    .venv/bin/python benchmarks/stormwater.py series --years 10  # synthetic rain record on the baseline
    .venv/bin/python benchmarks/stormwater.py ensemble --storms 100
    .venv/bin/python benchmarks/stormwater.py all

Both engines run the very same .inp text (written by twin.extract.drainage from the sample
community). Wall-clock time around each engine's run only: ours = sim.stormwater simulate after a
warm-up run (numba's compiled kernels loaded from cache, model already parsed); SWMM = pyswmm
Simulation open + run + close (its own parsing included, it cannot run without it). The ensemble
runs our 100 storms as one batch (simulate_ensemble: two threads on the machine's two cores) and
SWMM's as 100 runs one after the other. Prints our figure, SWMM's and the ratio.
"""
from __future__ import annotations

import argparse
import json
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


def _swmm_time(path: Path) -> float:
    from pyswmm import Simulation

    t = time.perf_counter()
    with Simulation(str(path)) as sim:
        for _ in sim:
            pass
    return time.perf_counter() - t


def _compare(label: str, ours, ref: dict) -> dict:
    row = {"case": label}
    for k in KEYS:
        a = ours.value(k)
        b = ref.get(k)
        if k == "runoff_control_rate" and b is None:
            rain = ref["rainfall_volume_m3"]
            b = 1 - (ref["outfall_volume_m3"] + ref["flooding_volume_m3"]) / rain if rain else float("nan")
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
        t = time.perf_counter()
        ours = simulate(model)
        ours_s = time.perf_counter() - t
        swmm_s = _swmm_time(path)
        row = _compare(f"{state} P3 storm", ours, swmm_reference(path))
        row.update(ours_s=round(ours_s, 2), swmm_s=round(swmm_s, 2), speedup=round(swmm_s / ours_s, 2))
        rows.append(row)
    return rows


def bench_series(tmp: Path, years: int) -> dict:
    rain = rainfall.synthetic_series(years)
    text = _state_text("baseline", rain, continuous=True)
    path = tmp / "series.inp"
    path.write_text(text)
    model = _parse(text)
    simulate(_parse(_state_text("baseline", rainfall.chicago_storm(1), continuous=False)),
             Settings(keep_frames=False))   # warm-up: the compiled kernels loaded from numba's cache
    t = time.perf_counter()
    ours = simulate(model, Settings(keep_frames=False))
    ours_s = time.perf_counter() - t
    swmm_s = _swmm_time(path)
    row = _compare(f"baseline, {years}-year synthetic series", ours, swmm_reference(path))
    row.update(ours_s=round(ours_s, 2), swmm_s=round(swmm_s, 2), speedup=round(swmm_s / ours_s, 2))
    return row


def bench_ensemble(tmp: Path, n: int) -> dict:
    from twin.commands.stormwater import build_state_model
    from twin.project import load_project, load_state

    periods = [0.5, 1, 2, 3, 5, 10, 20, 30, 50, 100]
    durations = [60, 90, 120, 150, 180, 240, 360, 480, 720, 1440]
    storms = [rainfall.chicago_storm(periods[k % 10], duration_min=durations[(k // 10) % 10]) for k in range(n)]
    twin = load_state(load_project(SAMPLE), "baseline")
    texts = [build_state_model(twin, s, continuous=False)[1].text for s in storms]   # same system, each storm
    models = [_parse(t) for t in texts]
    simulate(models[0], Settings(keep_frames=False))   # warm-up
    t = time.perf_counter()
    results = simulate_ensemble(models, Settings(keep_frames=False), workers=2)
    ours_s = time.perf_counter() - t
    swmm_s = 0.0
    for k, text in enumerate(texts):
        path = tmp / f"storm{k}.inp"
        path.write_text(text)
        swmm_s += _swmm_time(path)
    last = n - 1
    check = _compare(f"storm {last} of the ensemble", results[last], swmm_reference(tmp / f"storm{last}.inp"))
    return {"case": f"baseline, {n} design storms", "ours_s": round(ours_s, 2), "swmm_s": round(swmm_s, 2),
            "speedup": round(swmm_s / ours_s, 2), "check": check}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("storm", "series", "ensemble", "all"))
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--storms", type=int, default=100)
    args = ap.parse_args(argv)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.what in ("storm", "all"):
            out["storm"] = bench_storm(tmp)
        if args.what in ("series", "all"):
            out["series"] = bench_series(tmp, args.years)
        if args.what in ("ensemble", "all"):
            out["ensemble"] = bench_ensemble(tmp, args.storms)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
