"""Evacuation engine: residents wait out their pre-movement time, then walk to the nearest exit.

`simulate(scenario, settings)` runs the story as SimPy processes — one `resident_prepares`
process per agent releasing it after its pre-movement delay, one `crowd_moves` process
stepping the collision-free speed model (kernels.crowd_step) every dt and keeping positions
every second — and returns a sim.result.Result.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import simpy

from . import kernels
from .geometry import PreparedGeometry, prepare_geometry

ENGINE_VERSION = "0.1.0"


class ScenarioError(ValueError):
    """Bad scenario input; the message names the file, feature index and field."""


@dataclass(frozen=True, kw_only=True)
class AgentGroup:
    """A class of residents with its own free walking speed (normal, truncated at +-2 sd) and body size.

    Adults: Weidmann (1993), free speed on the level 1.34 +- 0.26 m/s.
    Elderly: about 0.8 m/s (issue 5; Weidmann's speed-by-age curve falls to ~0.8-1.0 m/s past 75).
    Children: about 1.1 m/s (RiMEA 4.1 Table 1 after Weidmann 1993, ages 5-10).
    Mobility-impaired: 0.57 m/s with a walking aid (Boyce, Shields & Silcock 1999).
    """

    name: str
    speed_mean_mps: float   # m/s, free walking speed
    speed_sd_mps: float     # m/s, standard deviation between persons
    radius_m: float = 0.15  # m, half the body length l of Tordeux et al. (2016), l = 0.3 m


GROUPS: dict[str, AgentGroup] = {
    g.name: g for g in (
        AgentGroup(name="adult", speed_mean_mps=1.34, speed_sd_mps=0.26),
        AgentGroup(name="elderly", speed_mean_mps=0.8, speed_sd_mps=0.15),
        AgentGroup(name="child", speed_mean_mps=1.1, speed_sd_mps=0.2, radius_m=0.12),
        AgentGroup(name="mobility_impaired", speed_mean_mps=0.57, speed_sd_mps=0.15, radius_m=0.25),
    )
}


@dataclass(frozen=True, kw_only=True)
class Agent:
    """One resident at the start: position (m), group, optional own speed and pre-movement time."""

    x: float                          # m
    y: float                          # m
    group: str = "adult"
    speed_mps: float | None = None    # m/s; None draws from the group
    premovement_s: float | None = None  # s; None draws from Settings
    source: str = ""                  # where it was read from, for error messages ("file.geojson feature 7")


@dataclass(frozen=True, kw_only=True)
class Exit:
    """An opening the residents leave through: a line across it, and its clear width (m)."""

    id: str
    coords: tuple[tuple[float, float], ...]  # m, the LineString across the opening
    width_m: float                            # m, clear width (for specific flow)


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """The outdoor evacuation problem: walkable area (holes are obstacles), obstacles, exits, agents.

    walkable and obstacles are shapely geometries in metres; assembly areas are carried for the
    viewer and report (agents finish at their exit line in this version).
    """

    walkable: object
    obstacles: tuple = ()
    exits: tuple[Exit, ...] = ()
    assembly: tuple = ()
    agents: tuple[Agent, ...] = ()
    name: str = "scenario"
    settings: dict = field(default_factory=dict)  # dt_s / max_time_s given by the scenario file


@dataclass(frozen=True, kw_only=True)
class CSMParams:
    """Collision-free speed model (Tordeux, Chraibi & Seyfried 2016, Traffic and Granular Flow '15).

    V(s) = min(v0, max(0, (s - l)/T)); direction repelled by a exp((l - s)/D) from each neighbour.
    The wall term has the same exponential form with JuPedSim's documented defaults.
    """

    time_gap_s: float = 1.0            # s, T
    neighbour_strength: float = 5.0    # a (dimensionless)
    neighbour_range_m: float = 0.1     # m, D
    wall_strength: float = 5.0         # a_w (dimensionless)
    wall_range_m: float = 0.02         # m, D_w


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Run settings. Pre-movement when an agent gives none: lognormal with this mean and sd (0 = none)."""

    dt_s: float = 0.05                 # s, time step
    max_time_s: float = 900.0          # s, agents not out by then are reported stuck
    cell_m: float = 0.25               # m, raster cell of the distance field
    premovement_mean_s: float = 0.0    # s
    premovement_sd_s: float = 0.0      # s
    frame_interval_s: float = 1.0      # s, positions kept for the viewer
    trajectory_interval_s: float | None = None  # s, positions kept for PedPy (None = not kept)
    csm: CSMParams = field(default_factory=CSMParams)


def _draw_speeds(agents, rng) -> np.ndarray:
    v = np.empty(len(agents))
    for i, a in enumerate(agents):
        if a.speed_mps is not None:
            v[i] = a.speed_mps
            continue
        g = GROUPS[a.group]
        z = float(np.clip(rng.standard_normal(), -2.0, 2.0))
        v[i] = max(0.2, g.speed_mean_mps + g.speed_sd_mps * z)
    return v


def _draw_premovement(agents, settings: Settings, rng) -> np.ndarray:
    t = np.zeros(len(agents))
    m, s = settings.premovement_mean_s, settings.premovement_sd_s
    for i, a in enumerate(agents):
        if a.premovement_s is not None:
            t[i] = a.premovement_s
        elif m > 0 and s > 0:
            sigma2 = math.log(1.0 + (s / m) ** 2)
            t[i] = rng.lognormal(math.log(m) - 0.5 * sigma2, math.sqrt(sigma2))
        else:
            t[i] = m
    return t


def prepare(scenario: Scenario, settings: Settings) -> PreparedGeometry:
    """Distance fields and wall index for a scenario (reuse it across runs on the same geometry)."""
    from shapely.geometry import LineString

    return prepare_geometry(walkable=scenario.walkable, obstacles=list(scenario.obstacles),
                            exits=[LineString(e.coords) for e in scenario.exits], cell_m=settings.cell_m)


def simulate(scenario: Scenario | str | os.PathLike, settings: Settings | None = None, *, seed: int = 0,
             progress: Callable[[float], None] | None = None, geometry: PreparedGeometry | None = None):
    """Run one evacuation; returns a sim.result.Result (metrics, cumulative curve, frames).

    scenario: a Scenario or a path to a GeoJSON scenario file (see io.py). Settings given in the
    file (dt_s, max_time_s) apply unless `settings` is passed. progress(fraction) is called
    every simulated second. Same seed, same result.
    """
    from . import io, metrics

    if not isinstance(scenario, Scenario):
        scenario = io.read_scenario(scenario)
    if settings is None:
        settings = Settings(**{k: v for k, v in scenario.settings.items() if k in ("dt_s", "max_time_s")})
    if not scenario.exits:
        raise ScenarioError(f"{scenario.name}: no feature with role 'exit'")
    geo = geometry if geometry is not None else prepare(scenario, settings)
    import shapely

    for a in scenario.agents:
        if not shapely.intersects_xy(geo.area, a.x, a.y):
            raise ScenarioError(f"{a.source or scenario.name}: agent at ({a.x}, {a.y}) is outside the walkable area")
    rng = np.random.default_rng(seed)
    agents = scenario.agents
    n = len(agents)
    for a in agents:
        if a.group not in GROUPS:
            raise ScenarioError(f"{a.source or scenario.name}: group {a.group!r} unknown; expected one of {sorted(GROUPS)}")
    x = np.array([a.x for a in agents], dtype=np.float64)
    y = np.array([a.y for a in agents], dtype=np.float64)
    v0 = _draw_speeds(agents, rng)
    radius = np.array([GROUPS[a.group].radius_m for a in agents], dtype=np.float64)
    premove = _draw_premovement(agents, settings, rng)
    state = np.full(n, kernels.WAITING, dtype=np.int8)
    exit_of = np.zeros(n, dtype=np.int64)
    for i, a in enumerate(agents):
        d = [geo.distance_at(k, a.x, a.y) for k in range(len(scenario.exits))]
        k = int(np.argmin(d))
        exit_of[i] = k  # nearest exit by geodesic distance
        if not np.isfinite(d[k]):
            state[i] = kernels.STUCK
    evac_time = np.full(n, np.nan)
    evac_exit = np.full(n, -1, dtype=np.int64)
    vx = np.zeros(n)
    vy = np.zeros(n)

    csm = settings.csm
    v_max = float(v0.max()) if n else 1.0
    # neighbour cells no smaller than the range where the speed function can bind: 2 r + T v0
    grid_cell = max(2.0 * float(radius.max(initial=0.15)) + csm.time_gap_s * v_max, 1.0)
    gx0, gy0 = geo.x0, geo.y0
    gnx = int(math.ceil(geo.walkable.shape[1] * geo.cell_m / grid_cell)) + 1
    gny = int(math.ceil(geo.walkable.shape[0] * geo.cell_m / grid_cell)) + 1

    env = simpy.Environment()
    dt = settings.dt_s
    frame_times: list[float] = []
    frame_xy: list[np.ndarray] = []
    frame_state: list[np.ndarray] = []
    traj: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
    remaining = [int(np.sum(state != kernels.STUCK))]
    done = env.event()

    def resident_prepares(env, i, delay_s):
        """Pre-movement: the resident is there (occupies space) but does not move yet."""
        if delay_s > 0:  # (a zero delay releases before the crowd's first step at t = 0)
            yield env.timeout(delay_s)
        if state[i] == kernels.WAITING:
            state[i] = kernels.WALKING

    frame_every = max(1, int(round(settings.frame_interval_s / dt)))
    traj_every = max(1, int(round(settings.trajectory_interval_s / dt))) if settings.trajectory_interval_s else 0

    def crowd_moves(env):
        """Every dt, every walking resident takes one step of the collision-free speed model.

        Positions are kept every frame_every steps (viewer) and traj_every steps (PedPy), counted
        in whole steps so that the sampling never drifts against the clock.
        """
        step = 0
        while remaining[0] > 0 and step * dt < settings.max_time_s - 1e-9:
            if step % frame_every == 0:
                store_frame(step * dt)
            if traj_every and step % traj_every == 0:
                store_trajectory(step // traj_every)
            remaining[0] -= kernels.crowd_step(
                x, y, state, v0, radius, exit_of,
                geo.dir_x, geo.dir_y, geo.x0, geo.y0, geo.cell_m,
                gx0, gy0, grid_cell, gnx, gny,
                geo.wall_seg, geo.wall_cell_start, geo.wall_cell_items, geo.wall_x0, geo.wall_y0,
                geo.wall_cell_m, geo.wall_nx, geo.wall_ny,
                geo.exit_seg, geo.exit_seg_exit,
                csm.time_gap_s, csm.neighbour_strength, csm.neighbour_range_m,
                csm.wall_strength, csm.wall_range_m,
                step * dt, dt, evac_time, evac_exit, vx, vy)
            step += 1
            yield env.timeout(dt)
        done.succeed(step * dt)

    def store_frame(now):
        xy = np.stack([x, y], axis=1).astype(np.float32)
        xy[state == kernels.EVACUATED] = np.nan
        frame_times.append(now)
        frame_xy.append(xy)
        frame_state.append(state.copy())
        if progress is not None:
            progress(min(1.0, now / settings.max_time_s))

    def store_trajectory(frame):
        present = (state == kernels.WAITING) | (state == kernels.WALKING)
        traj.append((frame, np.flatnonzero(present),
                     x[present].copy(), y[present].copy()))

    for i in range(n):
        if state[i] == kernels.WAITING:
            env.process(resident_prepares(env, i, float(premove[i])))
    env.process(crowd_moves(env))
    end_time = env.run(until=done)
    if frame_times and abs(frame_times[-1] - end_time) < 1e-9:
        frame_times.pop(), frame_xy.pop(), frame_state.pop()
    store_frame(end_time)
    # whoever is not out at the end is stuck (blocked, or not out by max_time_s)
    state[(state == kernels.WAITING) | (state == kernels.WALKING)] = kernels.STUCK
    frame_state[-1] = state.copy()

    frames = {
        "times_s": np.asarray(frame_times, dtype=np.float64),
        "positions_xy_m": np.stack(frame_xy) if frame_xy else np.zeros((0, n, 2), np.float32),
        "state": np.stack(frame_state) if frame_state else np.zeros((0, n), np.int8),
    }
    if traj:
        ids = np.concatenate([t[1] for t in traj])
        frames["trajectory"] = np.column_stack([
            ids.astype(np.float64),
            np.concatenate([np.full(len(t[1]), t[0]) for t in traj]).astype(np.float64),
            np.concatenate([t[2] for t in traj]), np.concatenate([t[3] for t in traj])])
        frames["trajectory_frame_rate_hz"] = np.array([1.0 / (traj_every * dt)])
    return metrics.build_result(
        scenario=scenario, evac_time_s=evac_time, evac_exit=evac_exit, state=state,
        end_time_s=end_time, frames=frames, engine_version=ENGINE_VERSION)
