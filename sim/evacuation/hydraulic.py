"""The SFPE hydraulic estimate of an outdoor evacuation: the anchor the agent model is checked against.

Each person walks to his nearest exit (geodesic distance on the same raster as the agent model)
at the SFPE speed for the density of the space, S = k (1 - a D) with k = 1.40 m/s, a = 0.266 m²/p
and D the persons per m² of walkable area (0.85 k = 1.19 m/s below 0.54 p/m²), and joins that
exit's queue, which lets people through at the exit's SFPE capacity: 1.32 persons/s per metre
of effective width (clear width less 0.15 m each side, the boundary layer of doors and
archways), Gwynne & Rosenbaum, SFPE Handbook (5th ed., 2016) ch. 59. Per exit this is a
single-server queue in arrival order:

    out_1 = a_1,  out_j = max(a_j, out_{j-1} + 1 / Fc),   a_j = premovement_j + d_j / S

The estimate is the last `out`. Where the exits govern (arrivals faster than the capacity) it
tends to N_k / Fc_k plus the first arrival; where walking governs, to the farthest walk. The
walkable area is one space: corners, merging streams and passages wider than the exits are no
restriction here (the handbook's passages of 20 m pass 25 p/s and more).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SFPE_UNIMPEDED_SPEED_MPS = 0.85 * 1.40
"""SFPE speed on the level at densities below 0.54 p/m²: 0.85 k with k = 1.40 m/s (1.19 m/s)."""


def sfpe_speed_mps(density_p_m2: float, *, k_mps: float = 1.40, a_m2_p: float = 0.266) -> float:
    """SFPE speed on the level (corridor, aisle, ramp, doorway) at a density (persons/m²):
    k (1 - a D) from 0.54 p/m² (0.85 k below it), 0 from D = 1 / a = 3.8 p/m² on (no movement)."""
    if density_p_m2 < 0.54:
        return 0.85 * k_mps
    return max(k_mps * (1.0 - a_m2_p * density_p_m2), 0.0)


@dataclass(frozen=True, kw_only=True)
class HydraulicEstimate:
    """Total time (s), the walking speed used (m/s) and, per exit, persons, capacity (p/s), the time its
    queue clears (s) and its first and last arrivals (s)."""

    total_s: float
    exits: dict[str, dict]
    speed_mps: float = SFPE_UNIMPEDED_SPEED_MPS


def exit_capacity_p_s(width_m: float, *, specific_flow_p_m_s: float = 1.32, boundary_layer_m: float = 0.15) -> float:
    """SFPE capacity of an opening (persons/s): specific flow times the effective width."""
    return specific_flow_p_m_s * max(width_m - 2 * boundary_layer_m, 0.0)


def queue_clear_times(arrivals_s: np.ndarray, capacity_p_s: float) -> np.ndarray:
    """Departure times of a single-server queue with service time 1 / capacity, in arrival order."""
    a = np.sort(np.asarray(arrivals_s, dtype=np.float64))
    out = np.empty_like(a)
    headway = 1.0 / capacity_p_s
    last = -np.inf
    for j, t in enumerate(a):
        last = max(t, last + headway)
        out[j] = last
    return out


def estimate(scenario, *, premovement_s: np.ndarray | None = None, speed_mps: float | None = None,
             cell_m: float = 0.25, geometry=None) -> HydraulicEstimate:
    """SFPE hydraulic estimate for the outdoor agents of a scenario (stairwells are not counted).

    premovement_s: per agent (default: the agents' own premovement_s, else 0). speed_mps: the
    walking speed (default: sfpe_speed_mps at the agents' mean density over the walkable area).
    geometry: a PreparedGeometry of the scenario to reuse (model.prepare); exits that are closed
    are left out.
    """
    from .model import Settings, _distances, prepare

    exits = [e for e in scenario.exits if e.open]
    geo = geometry if geometry is not None else prepare(scenario, Settings(cell_m=cell_m))
    x = np.array([a.x for a in scenario.agents])
    y = np.array([a.y for a in scenario.agents])
    if premovement_s is None:
        premovement_s = np.array([a.premovement_s or 0.0 for a in scenario.agents])
    if speed_mps is None:
        speed_mps = sfpe_speed_mps(len(x) / geo.area.area if geo.area.area > 0 else 0.0)
    d = _distances(geo, x, y)
    nearest = np.argmin(d, axis=0)
    walk = d[nearest, np.arange(len(x))]
    reachable = np.isfinite(walk)
    if speed_mps > 0:
        arrivals = premovement_s + walk / speed_mps
    else:  # a space packed to 3.8 p/m² or more does not move: only those already at an exit leave
        arrivals = np.where(walk > 0, np.inf, premovement_s)
    per_exit = {}
    total = 0.0
    for k, e in enumerate(exits):
        mine = reachable & (nearest == k)
        capacity = exit_capacity_p_s(e.width_m)
        clear = queue_clear_times(arrivals[mine], capacity) if mine.any() else np.zeros(0)
        last = float(clear[-1]) if len(clear) else 0.0
        came = np.sort(arrivals[mine])
        # the exit governs where its queue outlasts the arrivals: clear_s > last_arrival_s
        per_exit[e.id] = {"persons": int(mine.sum()), "capacity_p_s": capacity, "clear_s": last,
                          "first_arrival_s": float(came[0]) if len(came) else 0.0,
                          "last_arrival_s": float(came[-1]) if len(came) else 0.0}
        total = max(total, last)
    return HydraulicEstimate(total_s=total, exits=per_exit, speed_mps=speed_mps)
