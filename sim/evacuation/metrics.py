"""What fire-safety engineers read from an evacuation run: times, exit flows, the evacuated curve.

`build_result` turns the raw per-agent outcome into a sim.result.Result; `summary` gives the
nested JSON that `twin evacuation run --json` prints (issue 5 contract).
"""
from __future__ import annotations

import math

import numpy as np

from sim.result import Metric, Result, Series

from . import kernels


def _quantile_time(times_sorted: np.ndarray, n_agents: int, fraction: float) -> float:
    """Time (s) by which `fraction` of all agents are out; NaN if that many never got out."""
    need = int(math.ceil(fraction * n_agents))
    if need == 0:
        return 0.0
    if need > len(times_sorted):
        return float("nan")
    return float(times_sorted[need - 1])


def exit_flow(times_s: np.ndarray) -> float:
    """Flow (persons/s) through one exit in its steady phase.

    Between the 10th and the 90th percentile passage when at least 10 passed (leaves out the
    start-up and the tail, as in bottleneck experiments, e.g. Seyfried et al. 2009), otherwise
    between the first and the last passage. 0 when fewer than two passed.
    """
    t = np.sort(np.asarray(times_s, dtype=np.float64))
    n = len(t)
    if n < 2:
        return 0.0
    if n >= 10:
        i0, i1 = int(round(0.1 * (n - 1))), int(round(0.9 * (n - 1)))
    else:
        i0, i1 = 0, n - 1
    span = t[i1] - t[i0]
    return float((i1 - i0) / span) if span > 0 else float("nan")


def build_result(*, scenario, evac_time_s, evac_exit, state, end_time_s, frames, engine_version) -> Result:
    n = len(evac_time_s)
    out = state == kernels.EVACUATED
    times = np.sort(evac_time_s[out])
    m: dict[str, Metric] = {}

    def put(name, value, unit, meaning):
        m[name] = Metric(value=float(value), unit=unit, meaning=meaning)

    put("agents", n, "persons", "residents in the scenario")
    put("evacuated", int(out.sum()), "persons", "residents who crossed an exit line")
    put("stuck", int((state == kernels.STUCK).sum()), "persons",
        "residents not out at the end (no path to an exit, or not out by max_time_s)")
    put("total_evacuation_time_s", times[-1] if len(times) else float("nan"), "s",
        "time the last evacuated resident crossed an exit line")
    for pct in (50, 90, 95, 100):
        put(f"t{pct}_s", _quantile_time(times, n, pct / 100), "s",
            f"time by which {pct} % of all residents are out (NaN if never)")
    put("simulated_time_s", end_time_s, "s", "simulated time at the end of the run")
    for k, e in enumerate(scenario.exits):
        tk = evac_time_s[out & (evac_exit == k)]
        flow = exit_flow(tk)
        put(f"exit/{e.id}/evacuated", len(tk), "persons", f"residents out through exit {e.id}")
        put(f"exit/{e.id}/flow_p_s", flow, "persons/s", f"steady flow through exit {e.id} (10th-90th percentile passages)")
        put(f"exit/{e.id}/specific_flow_p_m_s", flow / e.width_m if e.width_m > 0 else float("nan"), "persons/m/s",
            f"flow through exit {e.id} per metre of its width ({e.width_m} m)")
    series = {"cumulative_evacuated": Series(times_s=times, values=np.arange(1, len(times) + 1, dtype=np.float64),
                                             unit="persons")}
    return Result(engine="sim.evacuation", engine_version=engine_version, metrics=m, series=series, frames=frames)


def summary(result: Result) -> dict:
    """The issue-5 JSON shape: flat times plus exits {id: {evacuated, flow_p_s, specific_flow_p_m_s}}; NaN -> None."""
    def val(name):
        v = result.metrics[name].value
        return None if isinstance(v, float) and math.isnan(v) else v

    out = {k: val(k) for k in ("agents", "evacuated", "stuck", "total_evacuation_time_s",
                               "t50_s", "t90_s", "t95_s", "t100_s")}
    for k in ("agents", "evacuated", "stuck"):
        out[k] = int(out[k])
    exits: dict[str, dict] = {}
    for name in result.metrics:
        if name.startswith("exit/"):
            exit_id, key = name[len("exit/"):].rsplit("/", 1)
            exits.setdefault(exit_id, {})[key] = val(name)
    for e in exits.values():
        e["evacuated"] = int(e["evacuated"])
    out["exits"] = exits
    return out
