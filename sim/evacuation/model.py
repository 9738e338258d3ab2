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
from .stairwell import StairParams

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
    open: bool = True                         # a closed gate is no exit (kept for the report)
    area: object = None                       # an assembly area as a destination: its polygon (coords:
                                              # a point inside it; width_m: its outline in the open)


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """The outdoor evacuation problem: walkable area (holes are obstacles), obstacles, exits, agents.

    walkable and obstacles are shapely geometries in metres; assembly areas (polygons on the
    walkable ground, ids beside them in assembly_ids, default "assembly-N") are destinations as the
    exits are, unless Settings.to_assembly is off: a resident is safe when he steps into one or
    crosses an exit line. stairwells hold the residents still in their flats at the start
    (stairwell.py), who come out at their doors.
    """

    walkable: object
    obstacles: tuple = ()
    exits: tuple[Exit, ...] = ()
    assembly: tuple = ()
    assembly_ids: tuple[str, ...] = ()
    agents: tuple[Agent, ...] = ()
    stairwells: tuple = ()   # stairwell.Stairwell
    name: str = "scenario"
    settings: dict = field(default_factory=dict)  # dt_s / max_time_s given by the scenario file

    @property
    def residents(self) -> int:
        """Everyone in the scenario: agents outdoors plus the residents of every stairwell."""
        return len(self.agents) + sum(w.residents for w in self.stairwells)

    def destinations(self, to_assembly: bool = True) -> tuple[Exit, ...]:
        """The open exits, then (to_assembly) each assembly area as an Exit with its polygon in `area`."""
        out = [e for e in self.exits if e.open]
        if to_assembly:
            from shapely.ops import unary_union

            from .geometry import assembly_entry

            walkable = self.walkable.difference(unary_union(self.obstacles)) if self.obstacles else self.walkable
            for a, polygon in enumerate(self.assembly):
                ident = self.assembly_ids[a] if a < len(self.assembly_ids) else f"assembly-{a + 1}"
                inside, _, length = assembly_entry(walkable, polygon)
                if inside.is_empty:
                    continue
                point = inside.representative_point()
                out.append(Exit(id=ident, coords=((point.x, point.y),), width_m=round(length, 2), area=inside))
        return tuple(out)


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
class Premovement:
    """Lognormal pre-movement time of a household (s): from the alarm until it leaves the flat.

    Defaults are assumptions of this project for walk-up dwellings, in the range that
    PD 7974-6:2019 gives for dwellings (awake: minutes; asleep: several times longer); the
    project's settings (evacuation_premovement_s) override the daytime mean.
    """

    mean_s: float
    sd_s: float

    def draw(self, rng) -> float:
        if self.mean_s <= 0:
            return 0.0
        if self.sd_s <= 0:
            return self.mean_s
        sigma2 = math.log(1.0 + (self.sd_s / self.mean_s) ** 2)
        return float(rng.lognormal(math.log(self.mean_s) - 0.5 * sigma2, math.sqrt(sigma2)))


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Run settings. Pre-movement when an agent gives none: lognormal with this mean and sd (0 = none)."""

    dt_s: float = 0.05                 # s, time step
    max_time_s: float = 900.0          # s, agents not out by then are reported stuck
    cell_m: float = 0.25               # m, raster cell of the distance field
    premovement_mean_s: float = 0.0    # s, outdoor agents without their own
    premovement_sd_s: float = 0.0      # s
    frame_interval_s: float = 1.0      # s, positions kept for the viewer
    trajectory_interval_s: float | None = None  # s, positions kept for PedPy (None = not kept)
    csm: CSMParams = field(default_factory=CSMParams)
    route: str = "nearest"             # "nearest" exit by walking distance, or "quickest" (queues counted)
    to_assembly: bool = True           # assembly areas are destinations as well as the exits (False: exits only)
    route_interval_s: float = 2.0      # s, how often "quickest" residents reconsider their exit
    clear_m: float = 1.5               # m, walked past the exit line before leaving the model (into an
                                       # assembly area: at most half as far as one can walk into it)
    congested_fraction: float = 0.5    # walking slower than this share of one's free speed = waiting in congestion
    density_cell_m: float = 2.0        # m, cell of the density / level-of-service grid (0 = no grid)
    time_of_day: str = "day"           # "day" or "night": which household pre-movement applies
    household_premovement_day: Premovement = field(default_factory=lambda: Premovement(mean_s=120.0, sd_s=60.0))
    household_premovement_night: Premovement = field(default_factory=lambda: Premovement(mean_s=300.0, sd_s=150.0))
    group_shares: tuple[tuple[str, float], ...] = (
        ("adult", 0.66), ("elderly", 0.20), ("child", 0.11), ("mobility_impaired", 0.03))
    """Who lives in the flats (shares of residents): 2020 census, China — 18.7 % aged 60+, 17.9 %
    under 15; old walk-up communities are older than the average, children under 15 who walk at
    adult pace are counted as adults; 3 % with a walking aid is an assumption."""
    stairs: StairParams = field(default_factory=StairParams)

    def __post_init__(self) -> None:
        if self.route not in ("nearest", "quickest"):
            raise ScenarioError(f"settings: route must be 'nearest' or 'quickest', not {self.route!r}")
        if self.time_of_day not in ("day", "night"):
            raise ScenarioError(f"settings: time_of_day must be 'day' or 'night', not {self.time_of_day!r}")
        for name, share in self.group_shares:
            if name not in GROUPS or share < 0:
                raise ScenarioError(f"settings: group_shares has {name!r}: {share}; groups are {sorted(GROUPS)}")


def _draw_speed(group: str, rng) -> float:
    g = GROUPS[group]
    z = min(max(float(rng.standard_normal()), -2.0), 2.0)
    return max(0.2, g.speed_mean_mps + g.speed_sd_mps * z)


def _draw_premovement(agents, settings: Settings, rng) -> np.ndarray:
    spec = Premovement(mean_s=settings.premovement_mean_s, sd_s=settings.premovement_sd_s)
    return np.array([a.premovement_s if a.premovement_s is not None else spec.draw(rng) for a in agents])


def prepare(scenario: Scenario, settings: Settings) -> PreparedGeometry:
    """Distance fields and wall index for a scenario's destinations: open exits, then assembly areas
    (Settings.to_assembly); reuse it across runs on the same geometry and settings."""
    from shapely.geometry import LineString

    destinations = scenario.destinations(settings.to_assembly)
    return prepare_geometry(walkable=scenario.walkable, obstacles=list(scenario.obstacles),
                            exits=[LineString(e.coords) for e in destinations if e.area is None],
                            areas=[e.area for e in destinations if e.area is not None], cell_m=settings.cell_m)


def _distances(geo: PreparedGeometry, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Geodesic distance (m) of each point to each exit, nearest raster cell: float64[n_exits, n]."""
    i = np.clip(((x - geo.x0) // geo.cell_m).astype(np.int64), 0, geo.walkable.shape[1] - 1)
    j = np.clip(((y - geo.y0) // geo.cell_m).astype(np.int64), 0, geo.walkable.shape[0] - 1)
    return geo.distance_m[:, j, i]


def _area_of(destinations, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Index (into destinations) of the assembly area each point lies in, -1 where none: int64[n]."""
    import shapely

    out = np.full(len(x), -1, dtype=np.int64)
    for k, d in enumerate(destinations):
        if d.area is not None and len(x):
            out[(out < 0) & shapely.contains_xy(d.area, x, y)] = k
    return out


def sfpe_exit_capacity_p_s(width_m: float) -> float:
    """SFPE hydraulic capacity of an opening (persons/s): 1.32 p/s per metre of effective width
    (clear width less a 0.15 m boundary layer each side), Gwynne & Rosenbaum (2016)."""
    return 1.32 * max(width_m - 0.3, 0.3)


def quickest_exits(distance_m: np.ndarray, v0: np.ndarray, current: np.ndarray, capacity_p_s: np.ndarray) -> np.ndarray:
    """Exit each walking resident should take when queues count: argmin over exits of
    walking time d_k / v0 plus the queue ahead at exit k (people closer to it who are heading
    there) over the exit's capacity. A resident changes only for a gain of 10 % and 5 s or more.

    distance_m: [n_exits, n]; current: the exits they head for now (int64[n]).
    """
    n_exits, n = distance_m.shape
    estimate = np.empty((n_exits, n))
    for k in range(n_exits):
        heading = np.sort(distance_m[k, current == k])
        ahead = np.searchsorted(heading, distance_m[k], side="left")
        estimate[k] = distance_m[k] / v0 + ahead / capacity_p_s[k]
    best = np.argmin(estimate, axis=0)
    now = estimate[current, np.arange(n)]
    gain = now - estimate[best, np.arange(n)]
    switch = np.isfinite(estimate[best, np.arange(n)]) & (gain >= np.maximum(5.0, 0.1 * now))
    return np.where(switch, best, current)


def simulate(scenario: Scenario | str | os.PathLike, settings: Settings | None = None, *, seed: int = 0,
             progress: Callable[[float], None] | None = None, geometry: PreparedGeometry | None = None):
    """Run one evacuation; returns a sim.result.Result (metrics, cumulative curve, frames).

    scenario: a Scenario or a path to a GeoJSON scenario file (see io.py). Settings given in the
    file (dt_s, max_time_s) apply unless `settings` is passed. progress(fraction) is called
    every simulated second. Same seed, same result.
    """
    from . import io, metrics
    from .stairwell import StairwellRun, households_of, start_stairwell

    if not isinstance(scenario, Scenario):
        scenario = io.read_scenario(scenario)
    if settings is None:
        settings = Settings(**{k: v for k, v in scenario.settings.items() if k in ("dt_s", "max_time_s")})
    exits = scenario.destinations(settings.to_assembly)   # open exits first, then assembly areas
    if not exits:
        raise ScenarioError(f"{scenario.name}: no open exit (features with role 'exit' and open not false)"
                            + (" and no assembly area" if settings.to_assembly else ""))
    geo = geometry if geometry is not None else prepare(scenario, settings)
    if geo.distance_m.shape[0] != len(exits):
        raise ScenarioError(f"{scenario.name}: the prepared geometry has {geo.distance_m.shape[0]} destinations, "
                            f"the scenario {len(exits)} (prepare it with the same settings.to_assembly)")
    import shapely

    for a in scenario.agents:
        if a.group not in GROUPS:
            raise ScenarioError(f"{a.source or scenario.name}: group {a.group!r} unknown; expected one of {sorted(GROUPS)}")
    inside = np.asarray(shapely.intersects_xy(geo.area, [a.x for a in scenario.agents], [a.y for a in scenario.agents]),
                        dtype=bool)
    if not inside.all():
        a = scenario.agents[int(np.flatnonzero(~inside)[0])]
        raise ScenarioError(f"{a.source or scenario.name}: agent at ({a.x}, {a.y}) is outside the walkable area")
    for w in scenario.stairwells:
        if not shapely.intersects_xy(geo.area, *w.door_xy):
            raise ScenarioError(f"{w.source or w.id}: the spot in front of stairwell {w.id}'s door "
                                f"({w.door_xy[0]:.2f}, {w.door_xy[1]:.2f}) is outside the walkable area")
    rng = np.random.default_rng(seed)
    agents = scenario.agents
    n_out = len(agents)
    n = scenario.residents
    group_names = tuple(GROUPS)
    group = np.zeros(n, dtype=np.int8)
    x = np.zeros(n)
    y = np.zeros(n)
    v0 = np.zeros(n)
    state = np.full(n, kernels.WAITING, dtype=np.int8)
    premove = _draw_premovement(agents, settings, rng)
    for i, a in enumerate(agents):
        group[i] = group_names.index(a.group)
        x[i], y[i] = a.x, a.y
        v0[i] = a.speed_mps if a.speed_mps is not None else _draw_speed(a.group, rng)
    # residents in their flats: groups drawn from the shares (the stairwell's own occupant mix where it
    # has one, a kindergarten's say), at their door when they come out
    households_by_stair = []
    stair_of = np.full(n, -1, dtype=np.int64)
    first = n_out
    for s_index, w in enumerate(scenario.stairwells):
        mix = w.groups or settings.group_shares
        share_names = [g for g, _ in mix]
        shares = np.array([v for _, v in mix], dtype=np.float64)
        households = households_of(w, first)
        households_by_stair.append(households)
        for i in range(first, first + w.residents):
            name = share_names[int(rng.choice(len(shares), p=shares / shares.sum()))] if shares.sum() > 0 else "adult"
            group[i] = group_names.index(name)
            v0[i] = _draw_speed(name, rng)
            x[i], y[i] = w.door_xy
            state[i] = kernels.INSIDE
            stair_of[i] = s_index
        first += w.residents
    radius = np.array([GROUPS[group_names[g]].radius_m for g in group], dtype=np.float64)
    # nearest exit by geodesic distance (from the door for those inside)
    distance0 = _distances(geo, x, y)
    exit_of = np.argmin(distance0, axis=0).astype(np.int64) if n else np.zeros(0, np.int64)
    if n:
        state[~np.isfinite(distance0.min(axis=0))] = kernels.STUCK
    capacity = np.array([sfpe_exit_capacity_p_s(e.width_m) for e in exits])
    evac_time = np.full(n, np.nan)
    evac_exit = np.full(n, -1, dtype=np.int64)
    out_of_building = np.full(n, np.nan)
    # who starts in an assembly area is safe from the start; who steps out of his door into one is
    # safe when he comes out
    start_area = _area_of(exits, x[:n_out], y[:n_out])
    safe_now = (start_area >= 0) & (state[:n_out] != kernels.STUCK)
    state[:n_out][safe_now] = kernels.EVACUATED
    evac_time[:n_out][safe_now] = 0.0
    evac_exit[:n_out][safe_now] = start_area[safe_now]
    door_area = _area_of(exits, np.array([w.door_xy[0] for w in scenario.stairwells]),
                         np.array([w.door_xy[1] for w in scenario.stairwells]))
    waited = np.zeros(n)
    vx = np.zeros(n)
    vy = np.zeros(n)

    csm = settings.csm
    # neighbour cells as wide as the repulsion range (kernels.crowd_step scans the 3 x 3 block round
    # each agent for the repulsion and the cells under the corridor ahead of it for the spacing;
    # kernels.bin_agents touches the occupied cells and the rows they lie in, not the whole site)
    grid_cell = 2.0 * float(radius.max(initial=0.15)) + 8.0 * csm.neighbour_range_m
    gx0, gy0 = geo.x0, geo.y0
    gnx = int(math.ceil(geo.walkable.shape[1] * geo.cell_m / grid_cell)) + 1
    gny = int(math.ceil(geo.walkable.shape[0] * geo.cell_m / grid_cell)) + 1
    grid_cells = np.zeros((gnx * gny, 2), dtype=np.int64)   # kernels.bin_agents: each cell's start in
    grid_occupied = np.zeros(max(n, 1) + 1, dtype=np.int64)  # grid_members and count; occupied cells
    grid_members = np.zeros(max(n, 1), dtype=np.int64)

    env = simpy.Environment()
    dt = settings.dt_s
    frame_times: list[float] = []
    frame_xy: list[np.ndarray] = []
    frame_state: list[np.ndarray] = []
    traj: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
    remaining = [int(np.sum((state != kernels.STUCK) & (state != kernels.EVACUATED)))]
    done = env.event()
    at_door: list[tuple[int, object]] = []   # (resident, event) waiting in a doorway for room outside

    def resident_prepares(env, i, delay_s):
        """Pre-movement: the resident is there (occupies space) but does not move yet."""
        if delay_s > 0:  # (a zero delay releases before the crowd's first step at t = 0)
            yield env.timeout(delay_s)
        if state[i] == kernels.WAITING:
            state[i] = kernels.WALKING

    def door_reached(i):
        """Hand-over from the stairwell: wait in the doorway until crowd_moves lets i out."""
        if state[i] == kernels.STUCK:  # no way from this door to any exit: stays inside
            return
        outside = env.event()
        at_door.append((i, outside))
        yield outside

    def let_out_at_doors(now):
        candidates = np.array([i for i, _ in at_door], dtype=np.int64)
        released = kernels.release_at_doors(candidates, x[candidates].copy(), y[candidates].copy(), x, y, state, radius,
                                            0.05, gx0, gy0, grid_cell, gnx, gny, grid_cells, grid_members)
        still = []
        for (i, event), out in zip(at_door, released):
            if out:
                out_of_building[i] = now
                k = door_area[stair_of[i]]
                if k >= 0:  # his door opens into an assembly area: safe
                    state[i] = kernels.EVACUATED
                    evac_time[i] = now
                    evac_exit[i] = k
                    remaining[0] -= 1
                event.succeed()
            else:
                still.append((i, event))
        at_door[:] = still

    def residents_reconsider_exits(env):
        """Quickest-exit routing: every route_interval_s, walkers weigh walking time against queues."""
        while True:
            yield env.timeout(settings.route_interval_s)
            walking = np.flatnonzero(state == kernels.WALKING)
            if len(walking) == 0:
                continue
            d = _distances(geo, x[walking], y[walking])
            exit_of[walking] = quickest_exits(d, v0[walking], exit_of[walking], capacity)

    # how far past its line (into its area) a person walks before he leaves the model: clear_m, and in a
    # small assembly area half its depth, so that arrivals leave room for those behind them
    exit_clear = np.minimum(settings.clear_m, 0.5 * geo.exit_depth_m).astype(np.float64)
    frame_every = max(1, int(round(settings.frame_interval_s / dt)))
    traj_every = max(1, int(round(settings.trajectory_interval_s / dt))) if settings.trajectory_interval_s else 0

    def crowd_moves(env):
        """Every dt, every walking resident takes one step of the collision-free speed model.

        Positions are kept every frame_every steps (viewer) and traj_every steps (PedPy), counted
        in whole steps so that the sampling never drifts against the clock.
        """
        step = 0
        last_step = int(math.ceil(settings.max_time_s / dt - 1e-9))
        while remaining[0] > 0 and step < last_step:
            if step % frame_every == 0:
                store_frame(step * dt)
            if traj_every and step % traj_every == 0:
                store_trajectory(step // traj_every)
            if at_door:
                let_out_at_doors(step * dt)
            # as many steps in one kernel call as fit before the next frame, the next event of any
            # other process (a household setting off, a route update) and the time limit; one at a
            # time while someone waits in a doorway
            batch = frame_every - step % frame_every
            if traj_every:
                batch = min(batch, traj_every - step % traj_every)
            upcoming = env.peek()
            if upcoming < math.inf:
                batch = min(batch, max(1, int(math.ceil((upcoming - step * dt) / dt - 1e-9))))
            if at_door:
                batch = 1
            batch = min(batch, last_step - step)
            remaining[0] -= kernels.crowd_steps(
                batch, x, y, state, v0, radius, exit_of,
                geo.dir_xy, geo.x0, geo.y0, geo.cell_m,
                gx0, gy0, grid_cell, gnx, gny,
                geo.wall_seg, geo.wall_cell_start, geo.wall_cell_items, geo.wall_x0, geo.wall_y0,
                geo.wall_cell_m, geo.wall_nx, geo.wall_ny,
                geo.exit_seg, geo.exit_seg_exit,
                csm.time_gap_s, csm.neighbour_strength, csm.neighbour_range_m,
                csm.wall_strength, csm.wall_range_m,
                step * dt, dt, evac_time, evac_exit, vx, vy,
                exit_clear, settings.congested_fraction, waited, grid_cells, grid_occupied, grid_members)
            step += batch
            yield env.timeout(step * dt - env.now)
        done.succeed(step * dt)

    def store_frame(now):
        xy = np.empty((n, 2), dtype=np.float32)
        xy[:, 0] = x
        xy[:, 1] = y
        xy[(state == kernels.EVACUATED) | (state == kernels.INSIDE)] = np.nan
        frame_times.append(now)
        frame_xy.append(xy)
        frame_state.append(state.copy())
        if progress is not None:
            progress(min(1.0, now / settings.max_time_s))

    def store_trajectory(frame):
        present = (state == kernels.WAITING) | (state == kernels.WALKING) | (state == kernels.LEAVING)
        traj.append((frame, np.flatnonzero(present),
                     x[present].copy(), y[present].copy()))

    for i in range(n_out):
        if state[i] == kernels.WAITING:
            if premove[i] > 0:
                env.process(resident_prepares(env, i, float(premove[i])))
            else:  # no pre-movement: walking from the crowd's first step (as resident_prepares would)
                state[i] = kernels.WALKING
    household_premovement = (settings.household_premovement_day if settings.time_of_day == "day"
                             else settings.household_premovement_night)
    walk_speed = v0
    speed_factor = v0 / GROUPS["adult"].speed_mean_mps
    stair_runs = []
    for w, households in zip(scenario.stairwells, households_by_stair):
        record = StairwellRun()
        stair_runs.append(record)
        start_stairwell(env, w, households, params=settings.stairs,
                        premovement_s=lambda household: household_premovement.draw(rng),
                        speed_factor=speed_factor, walk_speed_mps=walk_speed, door_reached=door_reached, record=record)
    if settings.route == "quickest" and len(exits) > 1:
        env.process(residents_reconsider_exits(env))
    env.process(crowd_moves(env))
    end_time = env.run(until=done)
    if frame_times and abs(frame_times[-1] - end_time) < 1e-9:
        frame_times.pop(), frame_xy.pop(), frame_state.pop()
    state[state == kernels.LEAVING] = kernels.EVACUATED
    store_frame(end_time)
    # whoever is not out at the end is stuck (blocked, or not out by max_time_s)
    state[(state == kernels.WAITING) | (state == kernels.WALKING) | (state == kernels.INSIDE)] = kernels.STUCK
    frame_state[-1] = state.copy()
    waited_inside = np.zeros(n)
    left_flat = np.full(n, np.nan)
    for record in stair_runs:
        for i, t in record.waited_inside_s.items():
            waited_inside[i] = t
        for i, t in record.left_flat_s.items():
            left_flat[i] = t

    frames = {
        "times_s": np.asarray(frame_times, dtype=np.float64),
        "positions_xy_m": np.stack(frame_xy) if frame_xy else np.zeros((0, n, 2), np.float32),
        "state": np.stack(frame_state) if frame_state else np.zeros((0, n), np.int8),
        "state_names": np.array(kernels.STATE_NAMES),
        "group": group,
        "group_names": np.array(group_names),
        "exit_ids": np.array([e.id for e in exits]),
        "exit_index": evac_exit.astype(np.int16),
        "evacuation_time_s": evac_time.astype(np.float32),
        "out_of_building_s": out_of_building.astype(np.float32),
        "waited_outdoors_s": waited.astype(np.float32),
        "waited_indoors_s": waited_inside.astype(np.float32),
    }
    if traj:
        ids = np.concatenate([t[1] for t in traj])
        frames["trajectory"] = np.column_stack([
            ids.astype(np.float64),
            np.concatenate([np.full(len(t[1]), t[0]) for t in traj]).astype(np.float64),
            np.concatenate([t[2] for t in traj]), np.concatenate([t[3] for t in traj])])
        frames["trajectory_frame_rate_hz"] = np.array([1.0 / (traj_every * dt)])
    return metrics.build_result(
        scenario=scenario, exits=exits, geometry=geo, settings=settings, evac_time_s=evac_time, evac_exit=evac_exit,
        state=state, end_time_s=end_time, frames=frames, engine_version=ENGINE_VERSION,
        left_flat_s=left_flat, stair_of=stair_of)
