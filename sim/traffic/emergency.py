"""Emergency access: a fire engine from the nearest gate to every building entrance.

A fire engine drives only on streets whose clear width (carriageway minus parked cars) is at
least 4 m (GB 50016-2014 §7.1.8); it leaves from the gate with the fastest route to the stopping
point nearest the building's entrance, and the crew covers the rest on foot with equipment
(`CREW_SPEED_MPS`). `fire_runs` chooses gate and route per building and says which too-narrow
street segments lie on the fastest route an unobstructed engine would take (what blocks it);
`emergency_access` drives every run alone on empty streets with the engine's IDM (one engine at a
time), `dispatch_trips` makes the same runs as trips to add to a peak-hour demand.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .model import Demand, Settings, Trip, VTYPES, run
from .network import FIRE_LANE_WIDTH_M, Network, compile_network
from .routing import Router

CREW_SPEED_MPS = 1.0
"""Walking speed of a crew carrying hoses and equipment from the engine to the door (assumed; about
two thirds of a free walking speed of 1.34 m/s, Weidmann 1993)."""
FIVE_MINUTES_S = 300.0


@dataclass(frozen=True, kw_only=True)
class AccessTarget:
    """A building entrance and the nearest stopping point on a street: edge, position along it, walk."""

    id: str                  # building GlobalId
    edge: str                # edge of the stopping point
    arrival_pos_m: float     # m along that edge
    walk_m: float            # m from the stopping point to the entrance


@dataclass(frozen=True, kw_only=True)
class FireRun:
    target: str
    route: tuple[str, ...]
    walk_m: float
    arrival_pos_m: float
    blocking: tuple[str, ...]   # too-narrow edges on the unobstructed fastest route


@dataclass(kw_only=True)
class AccessResult:
    times_s: dict[str, float] = field(default_factory=dict)     # building -> s (inf when unreachable)
    blocking: dict[str, list[str]] = field(default_factory=dict)  # building -> blocking edge ids


def narrow_edges(network: Network, min_width_m: float = FIRE_LANE_WIDTH_M) -> set[str]:
    """Edges a fire engine cannot use: clear width under `min_width_m`."""
    return {e.id for e in network.edges if e.clear_width_m < min_width_m - 1e-9}


def fire_runs(network: Network, origins: list[str], targets: list[AccessTarget], blocked: set[str]) -> dict[str, FireRun | None]:
    """Per building: the fastest run from any origin edge over streets not in `blocked` (None: unreachable)."""
    full = compile_network(network)
    free_router = Router(full)
    fire_net = network.with_closure(sorted(blocked)) if blocked else network
    fire = compile_network(fire_net)
    fire_router = Router(fire)
    runs: dict[str, FireRun | None] = {}
    for tgt in targets:
        best = None
        t_idx = fire.edge_index[tgt.edge]
        for o in origins:
            o_idx = fire.edge_index[o]
            if fire.edge_closed[o_idx] or fire.edge_closed[t_idx]:
                continue
            tt = 0.0 if o_idx == t_idx else fire_router.time_between(o_idx, t_idx)
            if tt is not None and (best is None or tt < best[0]):
                best = (tt, o_idx)
        unobstructed = None
        for o in origins:
            tt = free_router.time_between(full.edge_index[o], full.edge_index[tgt.edge])
            if tt is not None and (unobstructed is None or tt < unobstructed[0]):
                unobstructed = (tt, full.edge_index[o])
        blocking: tuple[str, ...] = ()
        if unobstructed is not None:
            path = free_router.route(unobstructed[1], full.edge_index[tgt.edge])
            blocking = tuple(full.edge_ids[e] for e in path if full.edge_ids[e] in blocked)
        if best is None:
            runs[tgt.id] = None
            continue
        path = fire_router.route(best[1], t_idx)
        runs[tgt.id] = FireRun(target=tgt.id, route=tuple(fire.edge_ids[e] for e in path), walk_m=tgt.walk_m,
                               arrival_pos_m=tgt.arrival_pos_m, blocking=blocking)
    return runs


def dispatch_trips(runs: dict[str, FireRun | None], start_s: float, interval_s: float, vtype: str = "fire_engine") -> list[Trip]:
    """One fire-engine trip per reachable building, dispatched every interval_s from start_s."""
    trips = []
    for k, (gid, r) in enumerate(sorted(runs.items())):
        if r is None:
            continue
        trips.append(Trip(id=f"fire:{gid}", depart_s=start_s + k * interval_s, vtype=vtype, route=r.route, kind="emergency",
                          target=gid, arrival_pos_m=r.arrival_pos_m))
    return trips


def access_times(details, runs: dict[str, FireRun | None]) -> dict[str, float]:
    """Building -> driving time of its fire-engine trip plus the crew's walk (inf when not there)."""
    out = {gid: math.inf for gid in runs}
    for tid, kind, target, dep, arr in zip(details.trip_ids, details.trip_kind, details.trip_target, details.depart_s, details.arrive_s):
        if kind == "emergency" and target in runs and runs[target] is not None and np.isfinite(arr):
            out[target] = float(arr - dep) + runs[target].walk_m / CREW_SPEED_MPS
    return out


def emergency_access(network: Network, origins: list[str], targets: list[AccessTarget], *, blocked: set[str] | None = None,
                     seed: int = 0, vtype=None) -> tuple[AccessResult, dict[str, FireRun | None]]:
    """Every building's access time with the engine alone on the streets (runs spaced so they never meet)."""
    blocked = narrow_edges(network) if blocked is None else blocked
    runs = fire_runs(network, origins, targets, blocked)
    trips = dispatch_trips(runs, 0.0, 300.0)
    result = AccessResult(blocking={gid: list(r.blocking) if r else [] for gid, r in runs.items()})
    if trips:
        vt = vtype or VTYPES["fire_engine"]
        sim = run(network, Demand(trips=trips, vtypes={vt.id: vt}), Settings(horizon_s=300.0), seed=seed)
        result.times_s = access_times(sim.details(), runs)
    else:
        result.times_s = {gid: math.inf for gid in runs}
    return result, runs
