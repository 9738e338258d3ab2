"""What fire-safety engineers read from an evacuation run: times, exit flows, waiting, densities, bottlenecks.

`build_result` turns the raw per-resident outcome into a sim.result.Result (metrics with units,
the evacuated curve, frames for the viewer including the density grid); `summary` gives the
nested JSON that `twin evacuation run --json` prints (issue 5 contract).
"""
from __future__ import annotations

import math

import numpy as np

from sim.result import Metric, Result, Series

from . import kernels

FRUIN_LOS = ("A", "B", "C", "D", "E", "F")
FRUIN_WALKWAY_P_M2 = (0.31, 0.43, 0.72, 1.08, 2.17)
"""Upper densities (persons/m²) of walkway levels of service A-E (Fruin 1971, Pedestrian Planning
and Design: A > 3.25 m²/p, B 2.32-3.25, C 1.39-2.32, D 0.93-1.39, E 0.46-0.93, F < 0.46)."""
CONGESTED_LOS = 4
"""Level E and worse counts as congestion for the bottleneck ranking (Fruin: movement restricted)."""
JAM_DENSITY_P_M2 = 6.0
"""Densities this model reports above this (persons/m²) mean "a severe queue", not a figure to quote: its
bodies are 0.3 m discs, which pack to 8-11 p/m² in a queue where real crowds stop near 5.4 p/m²
(Weidmann 1993; docs/evacuation.md, Known limits)."""


def density_caveat(peak_p_m2: float | None) -> str | None:
    """The note a reported peak density needs (None when it is below JAM_DENSITY_P_M2 or absent)."""
    if peak_p_m2 is None or not peak_p_m2 > JAM_DENSITY_P_M2:
        return None
    return (f"above {JAM_DENSITY_P_M2:g} p/m² read as a severe queue: this model packs queues tighter than real "
            f"crowds (~5.4 p/m², docs/evacuation.md)")


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


def level_of_service(density_p_m2: np.ndarray) -> np.ndarray:
    """Fruin walkway level of service, 0 (A) .. 5 (F), of each density (persons/m²)."""
    return np.searchsorted(np.asarray(FRUIN_WALKWAY_P_M2), density_p_m2, side="left").astype(np.int8)


def density_grid(positions_xy_m: np.ndarray, bounds: tuple[float, float, float, float], cell_m: float):
    """Persons per m² in square cells for every frame: (T, H, W) float32, and the grid's lower-left corner."""
    minx, miny, maxx, maxy = bounds
    x0 = math.floor(minx / cell_m) * cell_m
    y0 = math.floor(miny / cell_m) * cell_m
    w = int(math.ceil((maxx - x0) / cell_m)) + 1
    h = int(math.ceil((maxy - y0) / cell_m)) + 1
    t = positions_xy_m.shape[0]
    xy = positions_xy_m.reshape(-1, 2)
    frame = np.repeat(np.arange(t), positions_xy_m.shape[1])
    ok = np.isfinite(xy[:, 0])
    i = np.clip(((xy[ok, 0] - x0) // cell_m).astype(np.int64), 0, w - 1)
    j = np.clip(((xy[ok, 1] - y0) // cell_m).astype(np.int64), 0, h - 1)
    counts = np.bincount((frame[ok] * h + j) * w + i, minlength=t * h * w)
    return (counts.reshape(t, h, w) / (cell_m * cell_m)).astype(np.float32), (x0, y0)


def rank_bottlenecks(density: np.ndarray, origin_xy: tuple[float, float], cell_m: float, frame_s: float,
                     exits, top: int = 10) -> list[dict]:
    """Places where the crowd stood at level of service E or worse, worst first.

    Connected cells (8-neighbourhood) that were congested at some frame form one place; its
    weight is the person-seconds spent there while congested. Each entry: centre (m), peak
    density (p/m²), congested duration (s, frames with any of its cells congested), person-seconds
    and the nearest exit."""
    from scipy import ndimage

    congested = density >= FRUIN_WALKWAY_P_M2[CONGESTED_LOS - 1]
    persons_s = (density * congested).sum(axis=0) * cell_m * cell_m * frame_s
    labels, count = ndimage.label(congested.any(axis=0), structure=np.ones((3, 3)))
    out = []
    for lab in range(1, count + 1):
        mask = labels == lab
        jj, ii = np.nonzero(mask)
        weights = persons_s[mask]
        cx = origin_xy[0] + (float(np.average(ii, weights=weights)) + 0.5) * cell_m
        cy = origin_xy[1] + (float(np.average(jj, weights=weights)) + 0.5) * cell_m
        nearest, best = None, math.inf
        for e in exits:
            (ax, ay), (bx, by) = e.coords[0], e.coords[-1]
            d = math.hypot(cx - (ax + bx) / 2, cy - (ay + by) / 2)
            if d < best:
                nearest, best = e.id, d
        out.append({"x_m": round(cx, 1), "y_m": round(cy, 1),
                    "peak_density_p_m2": round(float(density[:, mask].max()), 2),
                    "congested_s": round(float(congested[:, mask].any(axis=1).sum() * frame_s), 1),
                    "person_s": round(float(weights.sum()), 1),
                    "nearest_exit": nearest, "distance_to_exit_m": round(best, 1)})
    out.sort(key=lambda b: -b["person_s"])
    return out[:top]


def build_result(*, scenario, exits, geometry, settings, evac_time_s, evac_exit, state, end_time_s, frames,
                 engine_version, left_flat_s=None, stair_of=None) -> Result:
    n = len(evac_time_s)
    out = state == kernels.EVACUATED
    times = np.sort(evac_time_s[out])
    m: dict[str, Metric] = {}

    def put(name, value, unit, meaning):
        m[name] = Metric(value=float(value), unit=unit, meaning=meaning)

    put("agents", n, "persons", "residents in the scenario (outdoors and in the stairwells)")
    put("evacuated", int(out.sum()), "persons", "residents who crossed an exit line or stepped into an assembly area")
    put("stuck", int((state == kernels.STUCK).sum()), "persons",
        "residents not out at the end (no path to an exit, or not out by max_time_s)")
    put("total_evacuation_time_s", times[-1] if len(times) else float("nan"), "s",
        "time the last evacuated resident crossed an exit line or stepped into an assembly area")
    for pct in (50, 90, 95, 100):
        put(f"t{pct}_s", _quantile_time(times, n, pct / 100), "s",
            f"time by which {pct} % of all residents are out (NaN if never)")
    put("simulated_time_s", end_time_s, "s", "simulated time at the end of the run")
    for k, e in enumerate(exits):
        tk = evac_time_s[out & (evac_exit == k)]
        flow = exit_flow(tk)
        if e.area is not None:
            # an assembly area: who reached it, how fast they came in (its outline is no door: no flow per metre)
            put(f"exit/{e.id}/evacuated", len(tk), "persons", f"residents safe in assembly area {e.id}")
            put(f"exit/{e.id}/flow_p_s", flow, "persons/s",
                f"steady rate of arrivals in assembly area {e.id} (10th-90th percentile arrivals)")
            put(f"exit/{e.id}/specific_flow_p_m_s", float("nan"), "persons/m/s",
                f"none: assembly area {e.id} is entered over {e.width_m} m of open outline, not through a door")
            continue
        put(f"exit/{e.id}/evacuated", len(tk), "persons", f"residents out through exit {e.id}")
        put(f"exit/{e.id}/flow_p_s", flow, "persons/s", f"steady flow through exit {e.id} (10th-90th percentile passages)")
        put(f"exit/{e.id}/specific_flow_p_m_s", flow / e.width_m if e.width_m > 0 else float("nan"), "persons/m/s",
            f"flow through exit {e.id} per metre of its width ({e.width_m} m)")
    # by group: the elderly, children and the mobility-impaired are who a fire-safety engineer asks about
    if n and "group" in frames:
        names = [str(g) for g in frames["group_names"]]
        for g, name in enumerate(names):
            mine = frames["group"] == g
            count = int(mine.sum())
            if not count:
                continue
            tg = np.sort(evac_time_s[out & mine])
            put(f"group/{name}/agents", count, "persons", f"{name} in the scenario")
            put(f"group/{name}/evacuated", len(tg), "persons", f"{name} who crossed an exit line")
            for pct in (50, 90, 100):
                put(f"group/{name}/t{pct}_s", _quantile_time(tg, count, pct / 100), "s",
                    f"time by which {pct} % of the {name} are out (NaN if never)")
    waited = frames["waited_outdoors_s"].astype(np.float64) + frames["waited_indoors_s"].astype(np.float64)
    if n:
        put("waited_mean_s", waited.mean(), "s", "mean time a resident waited in congestion (queues indoors and outdoors)")
        put("waited_p90_s", np.percentile(waited, 90), "s", "90th percentile of the time residents waited in congestion")
        put("waited_max_s", waited.max(), "s", "longest time one resident waited in congestion")
    inside = np.isfinite(frames["out_of_building_s"])
    if inside.any():
        put("out_of_buildings_last_s", np.nanmax(frames["out_of_building_s"]), "s",
            "time the last resident came out of a unit entrance door")
        put("out_of_buildings_mean_s", np.nanmean(frames["out_of_building_s"]), "s",
            "mean time residents came out of their unit entrance doors")
    series = {"cumulative_evacuated": Series(times_s=times, values=np.arange(1, len(times) + 1, dtype=np.float64),
                                             unit="persons")}
    if settings.density_cell_m > 0 and len(frames["times_s"]):
        density, origin = density_grid(frames["positions_xy_m"], geometry.area.bounds, settings.density_cell_m)
        frames["density_p_m2"] = density
        frames["density_origin_xy_m"] = np.array(origin, dtype=np.float64)
        frames["density_cell_m"] = np.array(settings.density_cell_m, dtype=np.float64)
        peak = density.max(axis=0)
        frames["los_max"] = level_of_service(peak)
        frames["los_names"] = np.array(FRUIN_LOS)
        caveat = density_caveat(float(peak.max()))
        put("max_local_density_p_m2", peak.max(), "persons/m²",
            f"highest density in any {settings.density_cell_m:g} m cell at any second" + (f" ({caveat})" if caveat else ""))
        put("area_los_e_or_worse_m2", (frames["los_max"] >= CONGESTED_LOS).sum() * settings.density_cell_m ** 2, "m²",
            "area that reached Fruin walkway level of service E or F at some second")
        bottlenecks = rank_bottlenecks(density, origin, settings.density_cell_m, settings.frame_interval_s, exits)
        for rank, b in enumerate(bottlenecks, start=1):
            put(f"bottleneck/{rank}/person_s", b["person_s"], "person·s",
                f"congested person-seconds near ({b['x_m']}, {b['y_m']}), peak {b['peak_density_p_m2']} p/m², "
                f"nearest exit {b['nearest_exit']}")
        result_bottlenecks = bottlenecks
    else:
        result_bottlenecks = []
    result = Result(engine="sim.evacuation", engine_version=engine_version, metrics=m, series=series, frames=frames)
    result.bottlenecks = result_bottlenecks
    result.closed_exits = [e.id for e in scenario.exits if not e.open]
    result.assembly_areas = [e.id for e in exits if e.area is not None]
    return result


def summary(result: Result) -> dict:
    """The issue-5 JSON shape: flat times plus exits {id: {evacuated, flow_p_s, specific_flow_p_m_s}} and
    groups {adult|elderly|child|mobility_impaired: {agents, evacuated, t50_s, t90_s, t100_s}}; NaN -> None."""
    def val(name):
        v = result.metrics[name].value
        return None if isinstance(v, float) and math.isnan(v) else v

    out = {k: val(k) for k in ("agents", "evacuated", "stuck", "total_evacuation_time_s",
                               "t50_s", "t90_s", "t95_s", "t100_s")}
    for k in ("agents", "evacuated", "stuck"):
        out[k] = int(out[k])
    for k in ("waited_mean_s", "waited_p90_s", "waited_max_s", "out_of_buildings_last_s", "max_local_density_p_m2",
              "area_los_e_or_worse_m2"):
        if k in result.metrics:
            out[k] = val(k)
    def nested(prefix: str, counts: tuple[str, ...]) -> dict[str, dict]:
        """Metrics '<prefix>/<id>/<key>' as {id: {key: value}}, the counts as whole numbers."""
        table: dict[str, dict] = {}
        for name in result.metrics:
            if name.startswith(prefix + "/"):
                ident, key = name[len(prefix) + 1:].rsplit("/", 1)
                table.setdefault(ident, {})[key] = val(name)
        for entry in table.values():
            for key in counts:
                entry[key] = int(entry[key])
        return table

    out["exits"] = nested("exit", ("evacuated",))
    for ident, entry in out["exits"].items():
        entry["kind"] = "assembly" if ident in getattr(result, "assembly_areas", []) else "exit"
    out["groups"] = nested("group", ("agents", "evacuated"))
    out["closed_exits"] = list(getattr(result, "closed_exits", []))
    out["bottlenecks"] = list(getattr(result, "bottlenecks", []))
    return out
