"""Numba kernels of the traffic engine: one simulation step over all vehicles, and positions for playback.

Pure functions over NumPy arrays (structure of arrays), no SimPy, no I/O. One step does:

1. vehicles on the road sorted by lane, then by position (counting sort by lane, insertion sort
   within a lane: vehicles rarely overtake, so the order is nearly sorted) — the leader of a
   vehicle is the next one on its lane, never a search over all pairs;
2. the front vehicle of every lane announces its arrival at the junction (arrival and leaving
   time estimates for its movement); movements are decided in order of arrival: a movement
   waits for a red signal, for a vehicle inside the junction on a crossing path, for an
   approaching vehicle it must give way to (time gap `gap_s`), at an all-way stop until it
   has stopped and vehicles stopped before it went, when the lane it leads into has no room
   for it (junction blocking avoided), and on a single-track street while the opposite
   direction is occupied. Vehicles too close to stop commit and go; at a signal a permissive
   left-turner held only by oncoming traffic drives in and waits inside the junction, short of
   their path (SUMO's internal stop), and goes when its gap comes;
3. the Intelligent Driver Model (Treiber, Hennecke & Helbing 2000)

       dv/dt = a [1 - (v/v0)^delta - (s*/s)^2],  s* = s0 + max(0, v T + v dv / (2 sqrt(a b)))

   integrated as SUMO does (speed in `substeps` sub-steps, then x += v dt), with the stop
   line as a standing obstacle when a vehicle may not go, and the curve speed of its
   movement as a braking target;
4. positions advanced front to back (never into the leader), vehicles crossing the stop
   line moved to the next edge of their route (inside the junction their position is
   negative), arrivals, gate service and bus-stop dwell; then lane changes by MOBIL on
   multi-lane edges;
5. waiting departures inserted at the start of their first edge when there is room.

Emergency vehicles (`emergency` = 1) have priority: drivers ahead of one on the same street pull
over and stop where the street is wide enough for it to pass (`_passable`), and the emergency
vehicle is then its lane's candidate for the junction; at junctions it waits only for vehicles
inside the junction on a crossing path, and others give way to it.

The tests hold a pure-Python reference of the car-following step and check it against this.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .network import CROSSING_CLEAR_M, KIND_CODE
from .signals import SIGNAL_GREEN, SIGNAL_RED, SIGNAL_YELLOW  # noqa: F401  (link states, used by the callers too)

# vehicle states
SCHEDULED = 0   # not departed yet
WAITING = 1     # departed, waiting for room to enter the network (counts as a gate/insertion queue)
DRIVING = 2
ARRIVED = 3

ALLWAY_STOP = KIND_CODE["allway_stop"]
TRAFFIC_LIGHT = KIND_CODE["traffic_light"]
UNREGULATED = KIND_CODE["unregulated"]
VISIBILITY_M = 4.5
"""Distance before the stop line from which a giving-way driver sees the crossing road (SUMO's default)."""
SQUEEZE_AFTER_S = 60.0
"""After waiting this long at a single-track street, a driver squeezes past the oncoming cars (using
driveways and gaps between parked cars) instead of waiting for the street to empty."""
QUEUE_SPEED_MPS = 5 / 3.6
"""A vehicle slower than 5 km/h near the stop line or behind a queued vehicle is queued (HCM practice)."""
EMERGENCY_YIELD_DISTANCE_M = 60.0
"""Drivers pull over when an emergency vehicle with its siren on is this close behind them on the
same street (assumed: a siren is heard and the lights seen well before that)."""
EMERGENCY_WIDTH_M = 2.5
"""Width of the widest emergency vehicle (a fire engine); passing is judged for it."""
EMERGENCY_PASS_MARGIN_M = 0.5
"""Clearance a fire engine needs beside a car pulled over to the kerb (assumed, 0.25 m each side)."""
CAR_WIDTH_M = 1.8
"""Width of the car an emergency vehicle expects to pass on the street it turns into."""
EMERGENCY_CLEAR_SINGLE_TRACK_M = 50.0
"""An emergency vehicle this close to a single-track street claims it: drivers at its other end wait."""


@njit(cache=True, _nrt=False)
def _next_unpassable(order, j, a1, e, emergency, vwidth, edge_pass_width):
    """The first vehicle ahead of order[j] on its lane (order[j+1:a1]) that an emergency vehicle
    cannot pass, or -1."""
    for m in range(j + 1, a1):
        if not _passable(order[m], e, emergency, vwidth, edge_pass_width):
            return order[m]
    return -1


@njit(cache=True, inline="always", _nrt=False)
def _passable(j, e, emergency, vwidth, edge_pass_width):
    """Can an emergency vehicle pass vehicle j on edge e (j pulled over to the edge of the street)?
    Not another emergency vehicle; and the street's clear width, both directions (oncoming drivers
    stop too), must hold the fire engine, the car and the clearance."""
    return emergency[j] == 0 and edge_pass_width[e] >= EMERGENCY_WIDTH_M + vwidth[j] + EMERGENCY_PASS_MARGIN_M


@njit(cache=True, inline="always", _nrt=False)
def idm_accel(v, v0, gap, dv, a, b, s0, T, delta):
    """IDM acceleration (m/s²); gap is the net distance to the leader (m), dv = v - v_leader."""
    free = 1.0 - (v / v0) ** delta if v0 > 0 else -1.0
    if gap >= 1e9:
        return a * free
    s_star = s0 + max(0.0, v * T + v * dv / (2.0 * math.sqrt(a * b)))
    s = max(gap, 0.01)
    return a * (free - (s_star / s) ** 2)


@njit(cache=True, inline="always", _nrt=False)
def idm_speed(v, v0, gap, v_lead, a, b, s0, T, delta, dt, substeps):
    """New speed after dt with the IDM, speed updated in sub-steps as SUMO's IDM does."""
    h = dt / substeps
    for _ in range(substeps):
        acc = idm_accel(v, v0, gap, v - v_lead, a, b, s0, T, delta)
        v_new = max(0.0, v + acc * h)
        if gap < 1e9:
            gap -= (v_new - v_lead) * h
        v = v_new
    return v


@njit(cache=True, inline="always", _nrt=False)
def _uniform(seed, i, step):
    """A uniform draw in [0, 1) for vehicle i at step `step` (SplitMix64 of the three): the same for a
    seed whatever order the vehicles are updated in."""
    z = np.uint64(seed) + np.uint64(i) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(step) * np.uint64(0xD1B54A32D192ED03)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always", _nrt=False)
def _krauss_brake_gap(v, b, dt):
    """Distance (m) covered while braking from v by b·dt every step to a stop (the discrete sum)."""
    red = b * dt
    n = int(v / red)
    return dt * (n * v - red * n * (n + 1) / 2.0)


@njit(cache=True, inline="always", _nrt=False)
def _krauss_stop_speed(g, b, tau, dt):
    """Largest speed (m/s) from which braking by b·dt every step, after a reaction of tau, stops within g (m)."""
    g -= 0.001
    if g <= 0.0:
        return 0.0
    bb = b * dt
    # whole steps n of braking whose distance 0.5 n (n - 1) bb dt + n bb tau fits in g, then the rest spread
    n = math.floor(0.5 - (tau - 0.5 * math.sqrt(dt * dt + 4.0 * (dt * (2.0 * g / bb - tau) + tau * tau))) / dt)
    h = 0.5 * n * (n - 1.0) * bb * dt + n * bb * tau
    return n * bb + (g - h) / (n * dt + tau)


@njit(cache=True, inline="always", _nrt=False)
def krauss_speed(v, v0, gap, v_lead, a, b, tau, sigma, dt, u):
    """New speed after dt with SUMO's Krauss model (its default): the safe speed behind the leader
    (able to stop behind him should he brake to a stop), at most v + a dt and v0, less the dawdling
    sigma·a·dt·u (sigma·v·dt·u while slower than a), never below v − b dt unless safety needs it.
    gap: net distance to the leader less one's minimum gap (m); u: a uniform draw in [0, 1)."""
    v_max = min(v + a * dt, v0)
    if gap < 1e9:
        v_max = min(v_max, _krauss_stop_speed(gap + _krauss_brake_gap(v_lead, b, dt), b, tau, dt))
    v_min = min(max(v - b * dt, 0.0), v_max)
    dawdled = v_max - (sigma * v_max * dt * u if v_max < a else sigma * a * dt * u)
    return max(v_min, max(dawdled, 0.0))


@njit(cache=True, inline="always", _nrt=False)
def _unregulated_inside(i, pos, cur_link, link_node, node_kind):
    """Is vehicle i inside an unregulated junction (on its path to the lane it is on)?"""
    return pos[i] < 0.0 and cur_link[i] >= 0 and node_kind[link_node[cur_link[i]]] == UNREGULATED


@njit(cache=True, _nrt=False)
def _seen_ahead(order, j, a1, l, state, lane, pos, vlen, cur_link, k, x):
    """The first vehicle order[m], m >= j, still driving on lane l that a driver on path k of an
    unregulated junction, its front at x (m along l, negative before its start), sees: one on the
    same path, one whose front is on the lane itself, or one merging from another path whose rear is
    already ahead of x; -1 if none. At such a junction (SUMO's traffic_light_unregulated) nobody has
    a foe: each path is its own internal lane, and a driver side by side with one merging from
    another path does not brake for it until that one is on the lane they share (SUMO then brakes,
    or records a collision)."""
    for m in range(j, a1):
        r = order[m]
        if state[r] == DRIVING and lane[r] == l and (pos[r] >= 0.0 or cur_link[r] == k or pos[r] - vlen[r] >= x):
            return r
    return -1


@njit(cache=True, _nrt=False)
def _find_link(edge_link_start, link_to, e, ne):
    for k in range(edge_link_start[e], edge_link_start[e + 1]):
        if link_to[k] == ne:
            return k
    return -1


BEST_LANES_LOOKAHEAD_M = 3000.0
"""How far along its route a driver looks for the lanes that lead farthest without a lane change
(SUMO's best lanes look about 3 km ahead); lanes that go on beyond it count as equally good."""
LOOK_FORWARD_S = 10.0
"""SUMO LC2013's LOOK_FORWARD: a driver not on a best lane changes towards one, whatever the gain,
once the distance its own lane still leads along the route is less than lookahead speed x this
(x LOOKAHEAD_LEFT for a change to the left) + twice its length with gap (lcStrategic 1)."""
LOOKAHEAD_LEFT = 2.0
"""SUMO LC2013's lcLookaheadLeft default: strategic changes to the left are planned twice as far ahead."""
TURN_LANE_DIST_M = 200.0
"""SUMO LC2013's TURN_LANE_DIST: a driver on a best lane does not change for speed onto a lane
that leads along its route for less than this (from the lane's start): a lane leading elsewhere."""
ROUTE_LANE_COLS = 2
"""route_lanes columns before the per-lane reach: best lane lo, best lane hi (within the edge)."""


@njit(cache=True, _nrt=False)
def route_lane_reach(route_flat, a, b, edge_lanes, edge_length, edge_link_start, link_to, link_lane_lo, link_lane_hi,
                     link_to_lo, link_to_hi, out):
    """For the route route_flat[a:b] (one vehicle's edges), row a + r of `out`: for every lane of the
    r-th edge the distance (m, from the lane's start, at most BEST_LANES_LOOKAHEAD_M beyond the
    edge) the route can be followed from it without changing lanes, and the range of best lanes
    (those leading farthest), as SUMO's best lanes. A lane leads on through the movement to the
    next edge when the movement leaves from it, onto the lane its connection reaches: lane i of
    the movement onto its i-th target lane, the movement's leftmost lane also onto the target
    lanes left over (netconvert's default connections). Every lane of the last edge is best."""
    for q in range(b - 1, a - 1, -1):
        e = route_flat[q]
        n = edge_lanes[e]
        k = -1
        if q + 1 < b:
            k = _find_link(edge_link_start, link_to, e, route_flat[q + 1])
        best = -1.0
        for l in range(n):
            d = edge_length[e]
            if k >= 0 and link_lane_lo[k] <= l <= link_lane_hi[k]:
                o = l - link_lane_lo[k]
                c_lo = min(link_to_lo[k] + o, link_to_hi[k])
                c_hi = link_to_hi[k] if l == link_lane_hi[k] else c_lo
                more = 0.0
                for c in range(c_lo, c_hi + 1):
                    more = max(more, out[q + 1, ROUTE_LANE_COLS + c])
                d += min(more, BEST_LANES_LOOKAHEAD_M)
            out[q, ROUTE_LANE_COLS + l] = d
            best = max(best, d)
        lo, hi = n, -1
        for l in range(n):
            if out[q, ROUTE_LANE_COLS + l] >= best - 1e-6:
                lo = min(lo, l)
                hi = max(hi, l)
        out[q, 0] = lo
        out[q, 1] = hi


@njit(cache=True, _nrt=False)
def route_lanes_of(route_flat, route_start, route_len, edge_lanes, edge_length, edge_link_start, link_to, link_lane_lo,
                   link_lane_hi, link_to_lo, link_to_hi, out):
    """route_lane_reach for every route (route_start, route_len) in route_flat."""
    for v in range(route_start.shape[0]):
        route_lane_reach(route_flat, route_start[v], route_start[v] + route_len[v], edge_lanes, edge_length, edge_link_start,
                         link_to, link_lane_lo, link_lane_hi, link_to_lo, link_to_hi, out)


@njit(cache=True, inline="always", _nrt=False)
def _movement_lanes(i, r, route_start, route_lanes):
    """The best lanes (lo, hi within the edge, 0 = rightmost) of vehicle i on the r-th edge of its
    route: those from which its route can be followed farthest without changing lanes."""
    p = route_start[i] + r
    return int(route_lanes[p, 0]), int(route_lanes[p, 1])


@njit(cache=True, _nrt=False)
def _entry_lane(from_lane, k, ne, i, edge_first_lane, edge_lanes, edge_link_start, link_to, link_lane_lo, link_lane_hi,
                link_to_lo, link_to_hi, route_flat, route_start, route_len, r, lane_rear, route_lanes):
    """The lane of edge ne (the r-th of vehicle i's route) that movement k from lane `from_lane` leads
    onto: of the lanes its connection reaches (lane i of the movement onto its i-th target lane, the
    leftmost also onto the target lanes left over, as in route_lane_reach; a driver on a lane the
    movement does not leave from as if on the nearest one), the one leading farthest along the
    route, ties to the one matching its own, then to the one with more room."""
    fl = min(max(from_lane, link_lane_lo[k]), link_lane_hi[k])
    c_lo = min(link_to_lo[k] + fl - link_lane_lo[k], link_to_hi[k])
    c_hi = link_to_hi[k] if fl == link_lane_hi[k] else c_lo
    p = route_start[i] + r
    best = -1
    for l2 in range(c_lo, c_hi + 1):
        if best < 0:
            best = l2
            continue
        d2, db = route_lanes[p, ROUTE_LANE_COLS + l2], route_lanes[p, ROUTE_LANE_COLS + best]
        if d2 > db + 1e-6 or (d2 > db - 1e-6 and (abs(l2 - c_lo) < abs(best - c_lo) or (
                abs(l2 - c_lo) == abs(best - c_lo) and lane_rear[edge_first_lane[ne] + l2] > lane_rear[edge_first_lane[ne] + best] + 1e-9))):
            best = l2
    return edge_first_lane[ne] + best


@njit(cache=True, inline="always", _nrt=False)
def _gives_way_to(m, fl, fv, within_s, foe_yield, link_waiting, link_state, link_arr, edge_length, lane_edge, lane, pos, speed, bcomf, dt):
    """Must a driver give way to fv, the front driver of foe link fl (foe entry m), arriving within
    within_s? Not to a foe standing at its line, at red, or on yellow able to stop (it will)."""
    return (foe_yield[m] == 1 and link_waiting[fl] == 0 and link_state[fl] != SIGNAL_RED and link_arr[fl] < within_s
            and not (link_state[fl] == SIGNAL_YELLOW and edge_length[lane_edge[lane[fv]]] - pos[fv] > _krauss_brake_gap(speed[fv], bcomf[fv], dt)))


MOBIL_POLITENESS = 0.2
"""MOBIL politeness p (Kesting, Treiber & Helbing 2007: 0.1-0.5; 0.2 here)."""
MOBIL_THRESHOLD_MPS2 = 0.1
"""MOBIL changing threshold (m/s²): the advantage a driver needs before changing lane."""
MOBIL_SAFE_DECEL_MPS2 = 4.0
"""MOBIL safety limit: the new follower must not have to brake harder than this (m/s²)."""


@njit(cache=True, _nrt=False)
def _lane_neighbours(order, a0, a1, lane, l, pos, x, skip):
    """On lane l (order[a0:a1], ascending): the nearest vehicle ahead of x and the nearest at or behind it."""
    ahead, behind = -1, -1
    for j in range(a0, a1):
        v = order[j]
        if v == skip or lane[v] != l:
            continue
        if pos[v] > x:
            if ahead < 0:
                ahead = v
        else:
            behind = v
    return ahead, behind


@njit(cache=True, _nrt=False)
def _accel_behind(i, leader, pos, speed, vlen, s0, amax, bcomf, tau, v0_i, delta):
    if leader < 0:
        return idm_accel(speed[i], v0_i, 1e18, 0.0, amax[i], bcomf[i], s0[i], tau[i], delta[i])
    gap = pos[leader] - vlen[leader] - pos[i]
    return idm_accel(speed[i], v0_i, gap, speed[i] - speed[leader], amax[i], bcomf[i], s0[i], tau[i], delta[i])


@njit(cache=True, _nrt=False)
def lane_changes(order, lane_start, occ, n_occ, touched, lane_edge, edge_first_lane, edge_lanes, edge_length, edge_speed, state, lane, pos, speed,
                 vlen, s0, amax, bcomf, tau, vmax, speed_factor, delta, cur_link, edge_link_start, link_to, link_lane_lo,
                 link_lane_hi, route_flat, route_start, route_len, route_idx, route_lanes):
    """MOBIL (Kesting, Treiber & Helbing 2007) on multi-lane edges, after the step's moves: a driver
    changes to an adjacent lane when its own gain plus p times its followers' change exceeds the
    threshold and the new follower need not brake harder than MOBIL_SAFE_DECEL_MPS2. At most one
    change into and out of a lane per step; not inside a junction or in the last 20 m of an edge.
    Lanes as SUMO's LC2013 sees them (route_lanes: how far each lane leads along the route): a
    driver off its best lanes changes towards them whatever the gain (if the new follower is safe)
    once its own lane leads on for less than its lookahead (LOOK_FORWARD_S); for speed it changes
    onto a lane that is not best only if that lane leads on at least TURN_LANE_DIST_M and twice the
    way left on it covers the lookahead (it can get back in time)."""
    touched[:] = 0
    for q in range(n_occ):     # lanes nobody was on at the start of the step have nobody to change
        l = occ[q]
        e = lane_edge[l]
        if edge_lanes[e] < 2 or touched[l]:
            continue
        a0, a1 = lane_start[l], lane_start[l + 1]
        for j in range(a1 - 1, a0 - 1, -1):
            i = order[j]
            if state[i] != DRIVING or lane[i] != l or pos[i] < vlen[i]:
                continue
            p = route_start[i] + route_idx[i]
            lo, hi = int(route_lanes[p, 0]), int(route_lanes[p, 1])
            rel = l - edge_first_lane[e]
            v0_i = min(vmax[i], edge_speed[e] * speed_factor[i])
            la_base = v0_i * LOOK_FORWARD_S
            la_pad = 2.0 * (vlen[i] + s0[i])
            wrong = False
            off = lo - rel if rel < lo else (rel - hi if rel > hi else 0)     # lanes to its best lanes
            if off > 0:
                la = la_base * (LOOKAHEAD_LEFT if rel < lo else 1.0) + la_pad
                wrong = (route_lanes[p, ROUTE_LANE_COLS + rel] - pos[i]) / off < la
            if not wrong and edge_length[e] - pos[i] < 20.0:
                continue
            lead, old_follow = _lane_neighbours(order, a0, a1, lane, l, pos, pos[i], i)
            if old_follow >= 0 and pos[old_follow] > pos[i]:
                old_follow = -1
            a_c = _accel_behind(i, lead, pos, speed, vlen, s0, amax, bcomf, tau, v0_i, delta)
            best_gain = MOBIL_THRESHOLD_MPS2
            best_lane = -1
            for side in (-1, 1):
                tl = l + side
                if tl < edge_first_lane[e] or tl >= edge_first_lane[e] + edge_lanes[e] or touched[tl]:
                    continue
                if wrong and (side > 0) != (rel < lo):
                    continue
                if not wrong and not (lo <= rel + side <= hi) and (off == 0 or (side > 0) != (rel < lo)):
                    # away from its best lanes: only if it can come back in time, (off + 2) lookaheads
                    # on the lane left, and from a best lane not onto a lane leading elsewhere
                    reach = route_lanes[p, ROUTE_LANE_COLS + rel + side]
                    la = la_base * (LOOKAHEAD_LEFT if side > 0 else 1.0) + la_pad
                    if (off == 0 and reach < TURN_LANE_DIST_M) or (reach - pos[i]) / (off + 2) < la:
                        continue
                b0, b1 = lane_start[tl], lane_start[tl + 1]
                new_lead, new_follow = _lane_neighbours(order, b0, b1, lane, tl, pos, pos[i], -1)
                if new_lead >= 0 and pos[new_lead] - vlen[new_lead] - pos[i] < s0[i]:
                    continue
                a_n_now = 0.0
                a_n_new = 0.0
                if new_follow >= 0:
                    gap_nf = pos[i] - vlen[i] - pos[new_follow]
                    if gap_nf < s0[new_follow]:
                        continue
                    v0_n = min(vmax[new_follow], edge_speed[e] * speed_factor[new_follow])
                    a_n_now = _accel_behind(new_follow, new_lead, pos, speed, vlen, s0, amax, bcomf, tau, v0_n, delta)
                    a_n_new = idm_accel(speed[new_follow], v0_n, gap_nf, speed[new_follow] - speed[i], amax[new_follow],
                                        bcomf[new_follow], s0[new_follow], tau[new_follow], delta[new_follow])
                    if a_n_new < -MOBIL_SAFE_DECEL_MPS2:
                        continue
                a_o_now = 0.0
                a_o_new = 0.0
                if old_follow >= 0:
                    v0_o = min(vmax[old_follow], edge_speed[e] * speed_factor[old_follow])
                    a_o_now = _accel_behind(old_follow, i, pos, speed, vlen, s0, amax, bcomf, tau, v0_o, delta)
                    a_o_new = _accel_behind(old_follow, lead, pos, speed, vlen, s0, amax, bcomf, tau, v0_o, delta)
                a_c_new = _accel_behind(i, new_lead, pos, speed, vlen, s0, amax, bcomf, tau, v0_i, delta)
                gain = a_c_new - a_c + MOBIL_POLITENESS * (a_n_new - a_n_now + a_o_new - a_o_now)
                if wrong:
                    gain = 1e9      # strategic: towards the lanes that lead where it goes
                if gain > best_gain:
                    best_gain = gain
                    best_lane = tl
            if best_lane >= 0:
                lane[i] = best_lane
                touched[l] = 1
                touched[best_lane] = 1
                break


@njit(cache=True)
def step_work(lane_edge, edge_length, n_links, nv):
    """Scratch arrays of one step, allocated once per kernel call and reused by every step of it
    (each step sets what it reads; nothing carries from one step to the next)."""
    n_lanes, n_edges = lane_edge.shape[0], edge_length.shape[0]
    lanes_i = (np.empty(n_lanes + 1, np.int32), np.empty(n_lanes + 1, np.int32), np.empty(n_lanes, np.int32),
               np.empty(n_lanes, np.int32), np.empty(n_lanes, np.int32), np.empty(n_lanes, np.int32), np.empty(n_lanes, np.int32))
    lanes_f = (edge_length[lane_edge], np.empty(n_lanes), np.empty(n_lanes), np.empty(n_lanes), np.empty(n_lanes), np.empty(n_lanes))
    lanes_b = (np.empty(n_lanes, np.int8), np.empty(n_lanes, np.int8))
    vehicles = (np.empty(nv, np.int32), np.empty(nv, np.int32), np.empty(nv, np.int8), np.empty(nv), np.empty(nv), np.empty(nv))
    links = (np.empty(n_links, np.int32), np.empty(n_links, np.int32), np.empty(n_links), np.empty(n_links, np.int8),
             np.empty(n_links, np.int8), np.empty(n_links), np.empty(n_links), np.empty(n_links, np.int32))
    edges = (np.empty(n_edges, np.int32), np.empty(n_edges, np.int32), np.empty(n_edges, np.int32), np.empty(n_edges))
    return lanes_i, lanes_f, lanes_b, vehicles, links, edges


@njit(cache=True, _nrt=False)
def traffic_step(t, dt, substeps, gap_s, live_lo, live_hi,
                 lane_edge, edge_first_lane, edge_lanes, edge_length, edge_speed, edge_to, edge_opposite,
                 edge_single_track, edge_start_service, edge_end_service,
                 edge_link_start, link_to, link_length, link_speed, link_node, link_state, link_minor,
                 link_lane_lo, link_lane_hi, link_to_lo, link_to_hi, link_wait_m, foe_start, foe_link, foe_yield, foe_crossing, foe_clear_m, node_kind,
                 state, lane, pos, speed, vlen, s0, amax, bcomf, tau, vmax, speed_factor, delta, cf_sigma, cf_seed,
                 emergency, vwidth, edge_pass_width,
                 route_flat, route_start, route_len, route_idx, route_lanes, cur_link, committed, in_wait, allowed, next_lane,
                 stopped_s, hold_s, depart_t, arrive_t, dist_m, depart_speed, arrive_pos,
                 stop_ridx, stop_pos, stop_dwell, veh_stop_next, veh_stop_end, hand_back,
                 pending, n_pending, edge_queue_now, edge_queue_max, edge_delay_s, edge_exits, work):
    """Advance every vehicle by dt (s) at time t (s). Returns (vehicles still waiting to enter, vehicles moved,
    vehicles with hand_back = 1 that arrived: the caller decides what they do next).
    `work` is step_work's scratch arrays. Lanes nobody is on are skipped: the loops over lanes run
    over `occ`, the occupied lanes in ascending order (the order every loop had over all lanes)."""
    n_lanes = lane_edge.shape[0]
    lanes_i, lanes_f, lanes_b, vehicles, links, edges = work
    lane_count, lane_start, fill, occ, lane_cand, cand, cand_idx = lanes_i
    lane_len, lane_rear, lane_rear_speed, lane_min_rear, cand_key, lane_used = lanes_f
    lane_em, touched = lanes_b
    order, cand_link, yielding, t_arr_v, t_leave_v, new_v = vehicles
    link_occ, link_front, link_arr, link_waiting, link_committed, link_leave, link_rear_in, link_wait_in = links
    edge_count, edge_passing, edge_claim, st_wait = edges

    # 1. vehicles by lane, ascending position
    lane_count[:] = 0
    lane_em[:] = 0                          # 1: an emergency vehicle is on the lane
    n_active = 0
    for i in range(live_lo, live_hi):
        if state[i] == DRIVING:
            lane_count[lane[i] + 1] += 1
            n_active += 1
            cand_link[i] = -1               # the movement of each lane's junction candidate, else -1
            yielding[i] = 0
            if emergency[i] == 1:
                lane_em[lane[i]] = 1
    n_occ = 0
    lane_start[0] = 0
    for l in range(n_lanes):
        lane_start[l + 1] = lane_start[l] + lane_count[l + 1]
        fill[l] = lane_start[l]
        if lane_count[l + 1] > 0:
            occ[n_occ] = l
            n_occ += 1
    for i in range(live_lo, live_hi):
        if state[i] == DRIVING:
            order[fill[lane[i]]] = i
            fill[lane[i]] += 1
    for q in range(n_occ):
        l = occ[q]
        a0, a1 = lane_start[l], lane_start[l + 1]
        for j in range(a0 + 1, a1):
            key = order[j]
            kp = pos[key]
            m = j - 1
            while m >= a0 and pos[order[m]] > kp:
                order[m + 1] = order[m]
                m -= 1
            order[m + 1] = key

    # 2. junction occupancy, edge occupancy, approaching front vehicles
    link_occ[:] = 0
    link_rear_in[:] = 1e18      # how far (m) the rearmost vehicle inside the junction on each link is along its path
    link_wait_in[:] = 0         # drivers waiting inside the junction for their gap (short of every path they give way to)
    n_wait = 0
    edge_count[:] = 0
    for j in range(n_active):
        i = order[j]
        edge_count[lane_edge[lane[i]]] += 1
        if cur_link[i] >= 0 and pos[i] - vlen[i] < 0.0:
            if in_wait[i] == 1:
                link_wait_in[cur_link[i]] += 1
                n_wait += 1
                continue
            link_occ[cur_link[i]] += 1
            link_rear_in[cur_link[i]] = min(link_rear_in[cur_link[i]], link_length[cur_link[i]] + pos[i] - vlen[i])
        elif in_wait[i] == 1:
            in_wait[i] = 0
    # a single vehicle about to leave an edge at its end is at the passing place (the junction)
    edge_passing[:] = 0
    for q in range(n_occ):
        l = occ[q]
        if lane_start[l + 1] - lane_start[l] == 1:
            f = order[lane_start[l]]
            if edge_length[lane_edge[l]] - pos[f] < vlen[f] + 5.0:
                edge_passing[lane_edge[l]] += 1
    # the candidate for the junction on each lane: its front vehicle, or an emergency vehicle that
    # every vehicle ahead of it on the lane can let pass (they pull over and stop: `yielding`)
    lane_cand[:] = -1
    for q in range(n_occ):
        l = occ[q]
        a0, a1 = lane_start[l], lane_start[l + 1]
        e = lane_edge[l]
        lane_cand[l] = order[a1 - 1]
        if lane_em[l] == 0:
            continue
        all_pass = True
        for j in range(a1 - 1, a0 - 1, -1):
            i = order[j]
            if emergency[i] == 1:
                if all_pass and j < a1 - 1:
                    lane_cand[l] = i
                break
            if not _passable(i, e, emergency, vwidth, edge_pass_width):
                all_pass = False
        # drivers with an emergency vehicle close behind pull over where the street lets it pass
        # (only those the emergency vehicle can reach: every vehicle between them lets it pass too)
        behind = -1
        for j in range(a0, a1):
            i = order[j]
            if emergency[i] == 1:
                behind = i
            elif not _passable(i, e, emergency, vwidth, edge_pass_width):
                behind = -1
            elif behind >= 0 and pos[i] - pos[behind] < EMERGENCY_YIELD_DISTANCE_M + vlen[i]:
                yielding[i] = 1
    edge_claim[:] = 0
    link_arr[:] = 1e18
    link_front[:] = -1
    link_waiting[:] = 0
    link_committed[:] = 0
    link_leave[:] = -1e18       # latest time (from now, s) a committed driver on the link leaves the junction
    nc = 0
    for q in range(n_occ):
        l = occ[q]
        allowed[order[lane_start[l + 1] - 1]] = 0
        f = lane_cand[l]
        allowed[f] = 0
        if in_wait[f] == 2:
            in_wait[f] = 0
        e = lane_edge[l]
        if route_idx[f] + 1 >= route_len[f]:
            continue
        ne = route_flat[route_start[f] + route_idx[f] + 1]
        k = _find_link(edge_link_start, link_to, e, ne)
        if k < 0:
            continue
        d_end = edge_length[e] - pos[f]
        v = speed[f]
        ta = d_end / max(v, 1.0)
        cross = link_length[k] + vlen[f]
        vc = min(max(v, 0.5 * math.sqrt(2.0 * amax[f] * cross)), link_speed[k])
        tl = ta + cross / max(vc, 0.5)
        t_arr_v[f] = ta
        t_leave_v[f] = tl
        cand_link[f] = k
        if ta < link_arr[k]:
            link_arr[k] = ta
            link_front[k] = f
            link_waiting[k] = 1 if (v < 0.5 and d_end < 3.0 and stopped_s[f] > dt) else 0
        if committed[f] == 1:
            link_committed[k] = 1
            link_leave[k] = max(link_leave[k], tl)
            edge_claim[link_to[k]] += 1     # a committed driver holds its single-track street
        cand[nc] = f
        cand_key[nc] = ta - 1e-6 * min(stopped_s[f], 1e5)
        nc += 1

    # 3. decisions, in order of arrival (longest waiting first among those at the line)
    # room at the start of every lane: rear of its last vehicle (edge length when empty)
    for l in range(n_lanes):
        lane_rear[l] = lane_len[l]
    lane_rear_speed[:] = 1e3
    lane_used[:] = 0.0          # length the lane's vehicles take up, with their standstill gaps (SUMO's brutto occupancy)
    for q in range(n_occ):
        l = occ[q]
        r = order[lane_start[l]]
        lane_rear[l] = pos[r] - vlen[r]
        lane_rear_speed[l] = speed[r]
        for j in range(lane_start[l], lane_start[l + 1]):
            lane_used[l] += vlen[order[j]] + s0[order[j]]
    # longest wait of a driver at the entry of each single-track edge (they take turns)
    st_wait[:] = 0.0
    for q in range(nc):
        f = cand[q]
        ne = link_to[cand_link[f]]
        if edge_single_track[ne] and edge_length[lane_edge[lane[f]]] - pos[f] < 5.0:
            st_wait[ne] = max(st_wait[ne], stopped_s[f])
        if emergency[f] == 1 and edge_single_track[ne] and edge_length[lane_edge[lane[f]]] - pos[f] < EMERGENCY_CLEAR_SINGLE_TRACK_M:
            st_wait[ne] = 1e12     # drivers at the other end let the emergency vehicle through first
    # stable insertion sort of the candidates by key (the order a stable argsort gives)
    for q in range(nc):
        key = cand_key[q]
        m = q - 1
        while m >= 0 and cand_key[cand_idx[m]] > key:
            cand_idx[m + 1] = cand_idx[m]
            m -= 1
        cand_idx[m + 1] = q
    for q in range(nc):
        f = cand[cand_idx[q]]
        k = cand_link[f]
        e = lane_edge[lane[f]]
        ne = link_to[k]
        d_end = edge_length[e] - pos[f]
        # lane on the next edge with the most room
        if edge_lanes[ne] == 1:
            best = edge_first_lane[ne]
        elif committed[f] == 1 and lane_edge[next_lane[f]] == ne:
            best = next_lane[f]      # a driver in the junction keeps the lane it chose
        else:
            best = _entry_lane(lane[f] - edge_first_lane[e], k, ne, f, edge_first_lane, edge_lanes, edge_link_start, link_to,
                               link_lane_lo, link_lane_hi, link_to_lo, link_to_hi, route_flat, route_start, route_len,
                               route_idx[f] + 1, lane_rear, route_lanes)
        next_lane[f] = best
        ok = True
        st_opp = edge_opposite[ne]
        squeeze = stopped_s[f] >= SQUEEZE_AFTER_S
        if edge_single_track[ne] and not squeeze and committed[f] == 0 and st_opp >= 0 and st_wait[st_opp] > stopped_s[f] + dt:
            ok = False     # single track: the driver waiting longer at the other end goes first
        pass_next = emergency[f] == 1 and edge_pass_width[ne] >= EMERGENCY_WIDTH_M + CAR_WIDTH_M + EMERGENCY_PASS_MARGIN_M
        if committed[f] == 1 and emergency[f] == 0 and link_state[k] != SIGNAL_GREEN and d_end > _krauss_brake_gap(speed[f], bcomf[f], dt):
            committed[f] = 0       # the light changed and it can still stop: it decides again (SUMO checks every step)
        if ok and committed[f] == 0 and emergency[f] == 1:
            # an emergency vehicle has priority at junctions (Road Traffic Safety Law art. 53): it does
            # not wait for signals, stop signs or foes it would otherwise give way to, only for a
            # vehicle already inside the junction on a crossing path
            nk = link_node[k]
            for m in range(foe_start[k], foe_start[k + 1]):
                fl = foe_link[m]
                if (link_occ[fl] > 0 or link_committed[fl] == 1) and foe_crossing[m] == 1:
                    ok = False
                    break
            # oncoming cars on a single-track street leave it first; after SQUEEZE_AFTER_S (a jam that
            # does not clear) it creeps past them, stopped at the kerb, where the street holds both
            squeeze_em = stopped_s[f] >= SQUEEZE_AFTER_S and edge_pass_width[ne] >= EMERGENCY_WIDTH_M + CAR_WIDTH_M
            if ok and edge_single_track[ne] and not squeeze_em and st_opp >= 0 and \
                    edge_count[st_opp] - edge_passing[st_opp] + edge_claim[st_opp] > 0:
                ok = False
        elif ok and committed[f] == 0:
            st = link_state[k]
            if st == SIGNAL_RED:
                ok = False
            elif st == SIGNAL_YELLOW and d_end > _krauss_brake_gap(speed[f], bcomf[f], dt):
                # on yellow a driver stops if it can, braking by b every step (SUMO's brake gap)
                ok = False
            nk = link_node[k]
            if ok and node_kind[nk] == ALLWAY_STOP and not (speed[f] < 0.1 and d_end < 1.5):
                ok = False
            by_yield = False        # held only by foes it gives way to (it may wait inside the junction)
            if ok:
                for m in range(foe_start[k], foe_start[k + 1]):
                    fl = foe_link[m]
                    # a vehicle inside the junction not yet past the point where our paths cross, or a
                    # committed foe that would still be on a crossing path when we arrive (gap_s after it
                    # leaves) or reach the lane we merge into first; when it is traffic we give way to
                    # anyway (oncoming), we may still drive in and wait short of its path
                    if (link_occ[fl] > 0 and foe_crossing[m] == 1 and link_rear_in[fl] < foe_clear_m[m] + CROSSING_CLEAR_M) or (
                            link_committed[fl] == 1 and ((foe_crossing[m] == 1 and link_leave[fl] + gap_s > t_arr_v[f]) or
                                                         (foe_crossing[m] == 0 and link_arr[fl] < t_leave_v[f]))):
                        ok = False
                        if foe_yield[m] == 1 and foe_crossing[m] == 1:
                            by_yield = True
                            continue
                        by_yield = False
                        break
                    fv = link_front[fl]
                    if fv < 0 or committed[fv] == 1:
                        continue
                    if emergency[fv] == 1 and link_arr[fl] < t_leave_v[f] + gap_s + 2.0:
                        ok = False     # give way to the emergency vehicle
                        by_yield = False
                        break
                    if node_kind[nk] == ALLWAY_STOP:
                        if speed[fv] < 0.1 and link_arr[fl] * speed[fv] < 1.5 and stopped_s[fv] > stopped_s[f]:
                            ok = False
                            break
                        continue
                    if _gives_way_to(m, fl, fv, t_leave_v[f] + gap_s, foe_yield, link_waiting, link_state, link_arr, edge_length,
                                     lane_edge, lane, pos, speed, bcomf, dt):
                        ok = False
                        by_yield = True
            if not ok and by_yield and node_kind[nk] == TRAFFIC_LIGHT and link_state[k] == SIGNAL_GREEN and emergency[f] == 0 \
                    and (link_wait_in[k] + 1) * (vlen[f] + s0[f]) <= link_wait_m[k] + s0[f]:
                ok = True          # drive in and wait for the gap short of the oncoming paths (SUMO's internal stop)
                in_wait[f] = 2
            if ok and edge_single_track[ne] and not squeeze:
                if st_opp >= 0 and edge_count[st_opp] - edge_passing[st_opp] + edge_claim[st_opp] > 0:
                    ok = False     # single-track street occupied from the other end: wait at the passing place
                # a single-track street right after it: that one must be clear of oncoming cars too,
                # or the two streets lock each other (nobody can pass in between)
                r2 = route_idx[f] + 2
                if ok and r2 < route_len[f]:
                    nne = route_flat[route_start[f] + r2]
                    opp2 = edge_opposite[nne]
                    if edge_single_track[nne] and opp2 >= 0 and edge_count[opp2] + edge_claim[opp2] > 0:
                        ok = False
        if ok and not pass_next:
            # room the lane will have when we get there (its last car keeps moving for ~2 s), or, behind
            # a moving last car, room on the lane as SUMO counts it (length less what its vehicles take
            # up: a long junction a discharging queue crosses is no reason to stop); checked even after
            # committing, so nobody drives into a junction it cannot leave
            need = vlen[f] + 0.5 * s0[f]
            room = lane_rear[best] + 2.0 * min(lane_rear_speed[best], 1e3)
            r_last = order[lane_start[best]] if lane_start[best + 1] > lane_start[best] else -1
            if in_wait[f] == 2 and r_last >= 0 and in_wait[r_last] == 1 and cur_link[r_last] == k:
                room = link_length[k] + lane_rear[best]     # queueing inside behind a driver waiting there
            if room < need and not (lane_rear_speed[best] >= QUEUE_SPEED_MPS and lane_len[best] - lane_used[best] >= need):
                ok = False
        if in_wait[f] == 2:
            if ok:
                link_wait_in[k] += 1
            else:
                in_wait[f] = 0
        elif ok and committed[f] == 0:
            commit_at = VISIBILITY_M if link_minor[k] == 1 and emergency[f] == 0 else speed[f] * speed[f] / (2.0 * bcomf[f]) + 2.0
            if d_end <= commit_at:
                committed[f] = 1
                link_committed[k] = 1
                link_leave[k] = max(link_leave[k], t_leave_v[f])
                edge_claim[ne] += 1
                lane_rear[best] = min(lane_rear[best], 0.0)
                lane_rear_speed[best] = speed[f]
                lane_used[best] += vlen[f] + s0[f]
        allowed[f] = 1 if ok else 0

    # drivers waiting inside the junction go when their gap comes (as at the line, from where they stand)
    if n_wait > 0:
        for q in range(n_occ):
            l = occ[q]
            for j in range(lane_start[l], lane_start[l + 1]):
                i = order[j]
                if in_wait[i] != 1 or cur_link[i] < 0:
                    continue
                k = cur_link[i]
                rest = link_length[k] - link_wait_m[k] + vlen[i]
                t_go = math.sqrt(2.0 * rest / amax[i]) + gap_s
                go = True
                for m in range(foe_start[k], foe_start[k + 1]):
                    fl = foe_link[m]
                    if foe_crossing[m] == 1 and ((link_occ[fl] > 0 and link_rear_in[fl] < foe_clear_m[m] + CROSSING_CLEAR_M)
                                                 or (link_committed[fl] == 1 and link_leave[fl] + gap_s > 0.0)):
                        go = False
                        break
                    fv = link_front[fl]
                    if fv >= 0 and committed[fv] == 0 and _gives_way_to(m, fl, fv, t_go, foe_yield, link_waiting, link_state, link_arr,
                                                                        edge_length, lane_edge, lane, pos, speed, bcomf, dt):
                        go = False
                        break
                if go:
                    in_wait[i] = 0

    # 4a. new speeds (simultaneous update from the old state)
    for q in range(n_occ):
        l = occ[q]
        a0, a1 = lane_start[l], lane_start[l + 1]
        e = lane_edge[l]
        for j in range(a0, a1):
            i = order[j]
            if hold_s[i] > 0.0:
                new_v[i] = 0.0
                continue
            v0 = min(vmax[i], edge_speed[e] * speed_factor[i])
            if cur_link[i] >= 0 and pos[i] < 0.0:
                v0 = min(v0, link_speed[cur_link[i]] * speed_factor[i])
            gap = 1e18
            v_lead = 0.0
            v_cap = 1e18
            d_end = edge_length[e] - pos[i]
            ld = order[j + 1] if j + 1 < a1 else -1
            if emergency[i] == 1:
                # the leader of an emergency vehicle: the first vehicle ahead that cannot let it pass
                ld = _next_unpassable(order, j, a1, e, emergency, vwidth, edge_pass_width)
            merged_free = False
            soft = False
            if ld >= 0 and emergency[i] == 0 and pos[ld] < 0.0 and _unregulated_inside(i, pos, cur_link, link_node, node_kind):
                ld = _seen_ahead(order, j + 1, a1, l, state, lane, pos, vlen, cur_link, cur_link[i], pos[i])
                merged_free = ld < 0
            if ld >= 0:
                gap = pos[ld] - vlen[ld] - pos[i]
                v_lead = speed[ld]
            elif merged_free:
                pass       # only drivers merging from other paths ahead, unseen yet
            elif route_idx[i] + 1 < route_len[i] and i == lane_cand[l]:
                k = cand_link[i]
                minor_far = k >= 0 and link_minor[k] == 1 and committed[i] == 0 and d_end > VISIBILITY_M and emergency[i] == 0
                if k >= 0 and allowed[i] == 1 and not minor_far:
                    nl = next_lane[i]
                    ne_i = lane_edge[nl]
                    if emergency[i] == 1 and edge_pass_width[ne_i] >= EMERGENCY_WIDTH_M + CAR_WIDTH_M + EMERGENCY_PASS_MARGIN_M:
                        pass   # the cars on the street ahead pull over
                    elif lane_start[nl + 1] > lane_start[nl]:
                        r = order[lane_start[nl]]
                        if node_kind[link_node[k]] == UNREGULATED:
                            r = _seen_ahead(order, lane_start[nl], lane_start[nl + 1], nl, state, lane, pos, vlen, cur_link, k,
                                             -d_end - link_length[k])
                        if r >= 0:
                            gap = d_end + link_length[k] + pos[r] - vlen[r]
                            v_lead = speed[r]
                    if node_kind[link_node[k]] == UNREGULATED and emergency[i] == 0:
                        # a driver about to merge onto the same lane from another approach, nearer the
                        # lane than this one: followed, braking no harder than b (adjusting in time)
                        x_i = -d_end - link_length[k]
                        for q2 in range(nc):
                            f2 = cand[q2]
                            k2 = cand_link[f2]
                            if f2 == i or k2 < 0 or allowed[f2] == 0 or next_lane[f2] != nl or link_node[k2] != link_node[k]:
                                continue
                            x2 = pos[f2] - edge_length[lane_edge[lane[f2]]] - link_length[k2]
                            if x2 > x_i and x2 - vlen[f2] - x_i < gap:
                                gap = x2 - vlen[f2] - x_i
                                v_lead = speed[f2]
                                soft = True
                    v_cap = math.sqrt(link_speed[k] ** 2 * speed_factor[i] ** 2 + 2.0 * bcomf[i] * max(d_end, 0.0))
                else:
                    # red, giving way, or a driver who may have to give way and does not see the
                    # crossing road yet (farther than SUMO's foe visibility distance, 4.5 m):
                    # brake for the stop line
                    gap = d_end + s0[i]
            elif route_idx[i] + 1 < route_len[i]:
                gap = d_end + s0[i]     # the front car letting an emergency vehicle pass: not going on
            else:
                if edge_end_service[e] > 0.0 and stopped_s[i] < edge_end_service[e]:
                    gap = min(arrive_pos[i], edge_length[e]) - pos[i] + s0[i]
            st = veh_stop_next[i]
            if st < veh_stop_end[i] and stop_ridx[st] == route_idx[i] and stop_pos[st] - pos[i] + s0[i] < gap:
                gap = max(stop_pos[st] - pos[i], 0.0) + s0[i]     # a bus stop ahead: brake for it
                v_lead = 0.0
            if in_wait[i] == 1 and cur_link[i] >= 0:      # waiting inside the junction: its waiting point ahead
                gap_w = max(link_wait_m[cur_link[i]] - link_length[cur_link[i]] - pos[i], 0.0) + s0[i]
                if gap_w < gap:
                    gap = gap_w
                    v_lead = 0.0
            if cf_sigma[i] >= 0.0:
                v = krauss_speed(speed[i], v0, gap - s0[i], v_lead, amax[i], bcomf[i], tau[i], cf_sigma[i], dt,
                                 _uniform(cf_seed, i, int(t / dt + 0.5)))
            else:
                v = idm_speed(speed[i], v0, gap, v_lead, amax[i], bcomf[i], s0[i], tau[i], delta[i], dt, substeps)
            if soft:
                v = max(v, speed[i] - bcomf[i] * dt)
            if yielding[i] == 1:
                v = min(v, max(0.0, speed[i] - bcomf[i] * dt))   # pulling over: braking to a stop at the kerb
            new_v[i] = min(v, v_cap)

    # 4b. positions, front to back; transfers and arrivals
    lane_min_rear[:] = 1e18
    for q in range(n_occ):
        l = occ[q]
        r = order[lane_start[l]]
        lane_min_rear[l] = pos[r] - vlen[r]
    handed_back = 0
    for q in range(n_occ):
        l = occ[q]
        a0, a1 = lane_start[l], lane_start[l + 1]
        e = lane_edge[l]
        L = edge_length[e]
        limit = 1e18         # rear of the vehicle just ahead
        limit_hard = 1e18    # rear of the nearest vehicle ahead an emergency vehicle cannot pass
        for j in range(a1 - 1, a0 - 1, -1):
            i = order[j]
            v = new_v[i]
            is_em = emergency[i] == 1
            if i == lane_cand[l] and allowed[i] == 1 and cand_link[i] >= 0 and lane_min_rear[next_lane[i]] < 1e17 and not (
                    is_em and edge_pass_width[lane_edge[next_lane[i]]] >= EMERGENCY_WIDTH_M + CAR_WIDTH_M + EMERGENCY_PASS_MARGIN_M):
                # never onto the last car of the next lane (it may not have moved this step)
                limit = L + link_length[cand_link[i]] + lane_min_rear[next_lane[i]]
                if node_kind[link_node[cand_link[i]]] == UNREGULATED:     # only onto the last one it sees
                    nl = next_lane[i]
                    r = _seen_ahead(order, lane_start[nl], lane_start[nl + 1], nl, state, lane, pos, vlen, cur_link, cand_link[i],
                                     pos[i] - L - link_length[cand_link[i]])
                    limit = L + link_length[cand_link[i]] + (pos[r] - vlen[r] if r >= 0 else 1e18)
                limit_hard = limit
            x = pos[i] + v * dt
            lim = limit_hard if is_em else limit
            if not is_em and i != lane_cand[l] and _unregulated_inside(i, pos, cur_link, link_node, node_kind):
                r = _seen_ahead(order, j + 1, a1, l, state, lane, pos, vlen, cur_link, cur_link[i], pos[i])
                lim = pos[r] - vlen[r] if r >= 0 else 1e18
            if x > lim:
                x = max(lim, pos[i])
                v = (x - pos[i]) / dt
            st = veh_stop_next[i]
            if st < veh_stop_end[i] and stop_ridx[st] == route_idx[i]:
                if x > stop_pos[st]:
                    x = max(stop_pos[st], pos[i])
                    v = (x - pos[i]) / dt
                if x >= stop_pos[st] - 0.5 and v < 0.1:
                    hold_s[i] = stop_dwell[st]      # dwell at the stop (boarding and alighting)
                    veh_stop_next[i] = st + 1
            front = i == lane_cand[l]
            last = route_idx[i] + 1 >= route_len[i]
            La = min(arrive_pos[i], L) if last else L
            if x >= La:
                if last:
                    if edge_end_service[e] > 0.0 and stopped_s[i] < edge_end_service[e]:
                        x = La
                        v = 0.0
                elif not (front and allowed[i] == 1):
                    x = max(min(L - 1e-3, x), pos[i])
                    v = (x - pos[i]) / dt
            dist_m[i] += x - pos[i]
            speed[i] = v
            if route_idx[i] > 0:
                v_free = min(vmax[i], edge_speed[e] * speed_factor[i])
                edge_delay_s[e] += dt * max(0.0, 1.0 - v / v_free)
            if is_em:
                # passing cars pulled over: those behind still follow the nearest car, not the engine
                limit = min(limit, x - vlen[i])
                limit_hard = min(limit_hard, x - vlen[i])
            else:
                limit = x - vlen[i]
                if lane_em[l] == 1 and not _passable(i, e, emergency, vwidth, edge_pass_width):
                    limit_hard = min(limit_hard, x - vlen[i])
            if hold_s[i] > 0.0:
                hold_s[i] = max(0.0, hold_s[i] - dt)
            if v < 0.1:
                stopped_s[i] += dt
            else:
                stopped_s[i] = 0.0
            if x >= La and last and not (edge_end_service[e] > 0.0 and stopped_s[i] < edge_end_service[e]):
                state[i] = ARRIVED
                arrive_t[i] = t + dt - (x - La) / max(v, 1e-9) if x > La and v > 0 else t + dt
                dist_m[i] -= x - La
                pos[i] = La
                handed_back += hand_back[i]
                continue
            if x > L and not last:
                k = cand_link[i]
                x -= L + link_length[k]
                lane[i] = next_lane[i]
                lane_min_rear[lane[i]] = min(lane_min_rear[lane[i]], x - vlen[i])
                route_idx[i] += 1
                cur_link[i] = k
                committed[i] = 0
                allowed[i] = 0
                if in_wait[i] == 2:
                    in_wait[i] = 1
                edge_exits[e] += 1
            pos[i] = x

    lane_changes(order, lane_start, occ, n_occ, touched, lane_edge, edge_first_lane, edge_lanes, edge_length, edge_speed, state, lane, pos, speed,
                 vlen, s0, amax, bcomf, tau, vmax, speed_factor, delta, cur_link, edge_link_start, link_to, link_lane_lo,
                 link_lane_hi, route_flat, route_start, route_len, route_idx, route_lanes)

    # queues per edge: contiguous slow vehicles from the stop line back
    edge_queue_now[:] = 0.0
    for q in range(n_occ):
        l = occ[q]
        a0, a1 = lane_start[l], lane_start[l + 1]
        e = lane_edge[l]
        L = edge_length[e]
        reach = L
        q = 0.0
        for j in range(a1 - 1, a0 - 1, -1):
            i = order[j]
            if lane[i] != l or state[i] != DRIVING:
                continue   # moved on this step
            if speed[i] >= QUEUE_SPEED_MPS or pos[i] < reach - 15.0:
                break
            q = L - (pos[i] - vlen[i])
            reach = pos[i] - vlen[i]
        if q > edge_queue_now[e]:
            edge_queue_now[e] = q
        if q > edge_queue_max[e]:
            edge_queue_max[e] = q

    # 5. insertion of waiting departures
    if n_pending == 0:
        return 0, n_active, handed_back
    for l in range(n_lanes):
        lane_rear[l] = lane_len[l]
    lane_rear_speed[:] = -1.0      # speed of the rearmost vehicle; -1: nobody on the lane
    edge_count[:] = 0
    for j in range(n_active):      # every vehicle on the road now was on it at the start of the step
        i = order[j]
        if state[i] == DRIVING:
            if pos[i] - vlen[i] < lane_rear[lane[i]]:
                lane_rear[lane[i]] = pos[i] - vlen[i]
                lane_rear_speed[lane[i]] = speed[i]
            edge_count[lane_edge[lane[i]]] += 1
    kept = 0
    for p in range(n_pending):
        i = pending[p]
        e = route_flat[route_start[i]]
        lo, hi = 0, 0
        if edge_lanes[e] > 1:
            lo, hi = _movement_lanes(i, 0, route_start, route_lanes)
        best = edge_first_lane[e] + lo
        for l2 in range(edge_first_lane[e] + lo, edge_first_lane[e] + hi + 1):
            if lane_rear[l2] > lane_rear[best] + 1e-9:
                best = l2
        room = lane_rear[best]
        blocked = room < min(vlen[i] + s0[i], edge_length[e]) - 1e-9   # an empty short edge (a gate road) still takes one
        if edge_single_track[e] and edge_opposite[e] >= 0 and edge_count[edge_opposite[e]] > 0:
            blocked = True
        if blocked:
            pending[kept] = i
            kept += 1
            continue
        state[i] = DRIVING
        lane[i] = best
        pos[i] = min(vlen[i], edge_length[e])
        v_ins = depart_speed[i]
        if v_ins < 0.0:
            v_ins = min(vmax[i], edge_speed[e] * speed_factor[i])
            if lane_rear_speed[best] >= 0.0:
                # at most the speed from which it can stop behind the vehicle ahead (SUMO's departSpeed
                # "max"; given a speed, SUMO waits instead: here it leaves at that speed)
                gap_ins = room - pos[i] - s0[i]
                v_ins = min(v_ins, max(0.0, _krauss_stop_speed(gap_ins + _krauss_brake_gap(lane_rear_speed[best], bcomf[i], dt),
                                                               bcomf[i], tau[i], dt)))
        speed[i] = v_ins
        depart_t[i] = t + dt
        route_idx[i] = 0
        cur_link[i] = -1
        committed[i] = 0
        stopped_s[i] = 0.0
        hold_s[i] = edge_start_service[e] if emergency[i] == 0 else 0.0   # the guard opens the gate for a fire engine
        lane_rear[best] = 0.0
        lane_rear_speed[best] = v_ins
        edge_count[e] += 1
    return kept, n_active, handed_back


ROUTING_ADAPT_S = 1.0
"""SUMO's --device.rerouting.adaptation-interval default: edge speeds for routing sampled every second."""
ROUTING_ADAPT_STEPS = 180
"""SUMO's --device.rerouting.adaptation-steps default: routing uses the mean of the last 180 samples."""


@njit(cache=True, _nrt=False)
def sample_edge_speeds(lo, hi, state, lane, pos, speed, lane_edge, edge_first_lane, edge_lanes, edge_speed,
                       lane_scratch, speed_ring, speed_ring_sum, adapt):
    """One sample of every edge's mean speed into the ring of the last ROUTING_ADAPT_STEPS samples
    (speed_ring, rows the samples; speed_ring_sum their sum per edge; adapt[2] the next row). An
    edge's mean speed as SUMO's edge weights for routing take it: the vehicles on its lanes (not
    those still inside the junction before it) at their speeds, each empty lane counted once at the
    speed limit. Vehicles lo..hi-1 are scanned."""
    lane_scratch[:, :] = 0.0
    for i in range(lo, hi):
        if state[i] == DRIVING and pos[i] >= 0.0:
            lane_scratch[lane[i], 0] += 1.0
            lane_scratch[lane[i], 1] += speed[i]
    row = int(adapt[2])
    for e in range(edge_lanes.shape[0]):
        n, v = 0.0, 0.0
        for l in range(edge_first_lane[e], edge_first_lane[e] + edge_lanes[e]):
            if lane_scratch[l, 0] > 0.0:
                n += lane_scratch[l, 0]
                v += lane_scratch[l, 1]
            else:
                n += 1.0
                v += edge_speed[e]
        mean = v / n
        speed_ring_sum[e] += mean - speed_ring[row, e]
        speed_ring[row, e] = mean
    adapt[2] = (row + 1) % speed_ring.shape[0]


@njit(cache=True)
def traffic_steps(n_steps, t, dt, release_from, announced, depart_s, live_lo, substeps, gap_s,
                 lane_edge, edge_first_lane, edge_lanes, edge_length, edge_speed, edge_to, edge_opposite,
                 edge_single_track, edge_start_service, edge_end_service,
                 edge_link_start, link_to, link_length, link_speed, link_node, link_state, link_minor,
                 link_lane_lo, link_lane_hi, link_to_lo, link_to_hi, link_wait_m, foe_start, foe_link, foe_yield, foe_crossing, foe_clear_m, node_kind,
                 state, lane, pos, speed, vlen, s0, amax, bcomf, tau, vmax, speed_factor, delta, cf_sigma, cf_seed,
                 emergency, vwidth, edge_pass_width,
                 route_flat, route_start, route_len, route_idx, route_lanes, cur_link, committed, in_wait, allowed, next_lane,
                 stopped_s, hold_s, depart_t, arrive_t, dist_m, depart_speed, arrive_pos,
                 stop_ridx, stop_pos, stop_dwell, veh_stop_next, veh_stop_end, hand_back,
                 pending, n_pending, edge_queue_now, edge_queue_max, edge_delay_s, edge_exits,
                 ticks, interval, done_after, jam_s, rec_t, rec_on_road, rec_queue, n_rec, stuck_edge, stuck_t, gate_queue_max,
                 gate_count, lane_scratch, speed_ring, speed_ring_sum, adapt):
    """Up to `n_steps` steps of traffic_step in one call (nothing outside the kernel changes in between).
    Vehicles release_from..announced-1 (in departure order) are on the departure board: each one
    joins the vehicles waiting to enter at the first step at or after its departure time.
    Vehicles before live_lo have all arrived (they are not scanned). The call ends early, after the
    step, when a vehicle with hand_back = 1 arrives (a driver at its car park: the caller parks it
    or sends it on), so the result does not depend on how the steps are split into calls.
    With interval > 0 the kernel keeps the series itself: at every step ending at or past tick
    `ticks` (time ticks * interval) it records (record_tick) and, from done_after on, ends the
    call when every vehicle has arrived (the run is over). With adapt[1] > 0, at every step ending
    at or past time adapt[0] the edges' mean speeds are sampled for routing (sample_edge_speeds)
    and adapt[0] moves on by adapt[1].
    Returns (vehicles still waiting to enter, vehicle updates done, next vehicle to release, live_lo,
    steps done, ticks, records kept)."""
    kept = n_pending
    moved = 0
    rel = release_from
    work = step_work(lane_edge, edge_length, link_to.shape[0], state.shape[0])
    for s in range(n_steps):
        now = t + s * dt
        while rel < announced and depart_s[rel] <= now + 1e-9:
            state[rel] = WAITING
            pending[kept] = rel
            kept += 1
            rel += 1
        kept, m, back = traffic_step(t + s * dt, dt, substeps, gap_s, live_lo, rel, lane_edge, edge_first_lane, edge_lanes, edge_length,
                                   edge_speed, edge_to, edge_opposite, edge_single_track, edge_start_service,
                                   edge_end_service, edge_link_start, link_to, link_length, link_speed, link_node,
                                   link_state, link_minor, link_lane_lo, link_lane_hi, link_to_lo, link_to_hi, link_wait_m, foe_start, foe_link, foe_yield, foe_crossing, foe_clear_m, node_kind,
                                   state, lane, pos, speed, vlen, s0, amax, bcomf, tau, vmax, speed_factor, delta, cf_sigma, cf_seed,
                                   emergency, vwidth, edge_pass_width, route_flat, route_start, route_len, route_idx, route_lanes, cur_link, committed, in_wait,
                                   allowed, next_lane, stopped_s, hold_s, depart_t, arrive_t, dist_m, depart_speed, arrive_pos,
                                   stop_ridx, stop_pos, stop_dwell, veh_stop_next, veh_stop_end, hand_back,
                                   pending, kept, edge_queue_now, edge_queue_max, edge_delay_s, edge_exits, work)
        moved += m
        while live_lo < rel and state[live_lo] == ARRIVED:
            live_lo += 1
        if adapt[1] > 0.0 and t + (s + 1) * dt + 1e-9 >= adapt[0]:
            sample_edge_speeds(live_lo, rel, state, lane, pos, speed, lane_edge, edge_first_lane, edge_lanes, edge_speed,
                               lane_scratch, speed_ring, speed_ring_sum, adapt)
            adapt[0] += adapt[1]
        if back > 0:
            return kept, moved, rel, live_lo, s + 1, ticks, n_rec    # the caller records after parking them
        t_end = t + (s + 1) * dt
        if interval > 0.0 and t_end + 1e-9 >= ticks * interval:
            record_tick(t_end, n_rec, live_lo, rel, state, lane, stopped_s, jam_s, lane_edge, edge_queue_now, pending, kept,
                        route_flat, route_start, edge_start_service, rec_t, rec_on_road, rec_queue, stuck_edge, stuck_t,
                        gate_queue_max, gate_count)
            n_rec += 1
            ticks += 1
            if t_end >= done_after and live_lo >= state.shape[0]:
                return kept, moved, rel, live_lo, s + 1, ticks, n_rec
    return kept, moved, rel, live_lo, n_steps, ticks, n_rec


@njit(cache=True, _nrt=False)
def record_tick(t, n, live_lo, live_hi, state, lane, stopped_s, jam_s, lane_edge, edge_queue_now, pending, n_pending,
                route_flat, route_start, edge_start_service, rec_t, rec_on_road, rec_queue, stuck_edge, stuck_t,
                gate_queue_max, gate_count):
    """Record n at time t (s): vehicles on the road, the longest queue (m); the most vehicles waiting
    to enter by each gate road; vehicles standing for jam_s or longer (gridlock: their edges, and the
    first time seen in stuck_t[0], NaN until then)."""
    on_road = 0
    for i in range(live_lo, live_hi):
        if state[i] == DRIVING:
            on_road += 1
            if stopped_s[i] >= jam_s:
                stuck_edge[lane_edge[lane[i]]] = 1
                if stuck_t[0] != stuck_t[0]:
                    stuck_t[0] = t
    queue = 0.0
    for e in range(edge_queue_now.shape[0]):
        if e == 0 or edge_queue_now[e] > queue:
            queue = edge_queue_now[e]
    rec_t[n] = t
    rec_on_road[n] = on_road
    rec_queue[n] = queue
    for p in range(n_pending):      # gate_count is all zeros between calls
        e = route_flat[route_start[pending[p]]]
        if edge_start_service[e] > 0.0:
            gate_count[e] += 1
    for p in range(n_pending):
        e = route_flat[route_start[pending[p]]]
        if gate_count[e] > gate_queue_max[e]:
            gate_queue_max[e] = gate_count[e]
    for p in range(n_pending):
        gate_count[route_flat[route_start[pending[p]]]] = 0


@njit(cache=True)
def vehicle_xy(state, lane, pos, cur_link, lane_edge, lane_index, edge_lanes, edge_length,
               edge_start_xy, edge_end_xy, edge_offset_xy, lane_width, link_length, link_entry_xy, link_exit_xy,
               out_xy, out_heading):
    """Plan position (m) and heading (rad) of every vehicle; NaN when not on the road."""
    for i in range(state.shape[0]):
        if state[i] != DRIVING:
            out_xy[i, 0] = np.nan
            out_xy[i, 1] = np.nan
            out_heading[i] = np.nan
            continue
        e = lane_edge[lane[i]]
        if pos[i] < 0.0 and cur_link[i] >= 0:
            k = cur_link[i]
            f = 1.0 + pos[i] / link_length[k]
            f = min(max(f, 0.0), 1.0)
            x0, y0 = link_entry_xy[k, 0], link_entry_xy[k, 1]
            x1, y1 = link_exit_xy[k, 0], link_exit_xy[k, 1]
        else:
            f = min(max(pos[i] / edge_length[e], 0.0), 1.0)
            side = (edge_lanes[e] - 1) / 2.0 - lane_index[lane[i]]
            x0 = edge_start_xy[e, 0] + edge_offset_xy[e, 0] * side * lane_width
            y0 = edge_start_xy[e, 1] + edge_offset_xy[e, 1] * side * lane_width
            x1 = edge_end_xy[e, 0] + edge_offset_xy[e, 0] * side * lane_width
            y1 = edge_end_xy[e, 1] + edge_offset_xy[e, 1] * side * lane_width
        out_xy[i, 0] = x0 + (x1 - x0) * f
        out_xy[i, 1] = y0 + (y1 - y0) * f
        out_heading[i] = math.atan2(y1 - y0, x1 - x0)
