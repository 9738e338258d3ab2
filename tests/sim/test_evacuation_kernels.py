"""Evacuation kernels against pure-Python references: one crowd step, and the distance field."""
import math

import numpy as np
import pytest
from shapely.geometry import LineString, box
from shapely.ops import unary_union

from sim.evacuation import kernels
from sim.evacuation.geometry import prepare_geometry
from sim.evacuation.model import CSMParams


def _bilinear_direction(px, py, ux, uy, x0, y0, h):
    ny, nx = ux.shape
    fx, fy = (px - x0) / h - 0.5, (py - y0) / h - 0.5
    i0, j0 = math.floor(fx), math.floor(fy)
    tx, ty = fx - i0, fy - j0
    ex = ey = 0.0
    for dj in (0, 1):
        for di in (0, 1):
            i, j = min(max(i0 + di, 0), nx - 1), min(max(j0 + dj, 0), ny - 1)
            w = (tx if di else 1 - tx) * (ty if dj else 1 - ty)
            ex += w * ux[j, i]
            ey += w * uy[j, i]
    n = math.hypot(ex, ey)
    return ex / n, ey / n


def _nearest(px, py, ax, ay, bx, by):
    sx, sy = bx - ax, by - ay
    u = min(max(((px - ax) * sx + (py - ay) * sy) / (sx * sx + sy * sy), 0.0), 1.0)
    qx, qy = ax + u * sx, ay + u * sy
    return qx, qy, math.hypot(px - qx, py - qy)


def reference_step(x, y, state, v0, radius, geo, p: CSMParams, interaction_m, dt):
    """Tordeux, Chraibi & Seyfried (2016), written out plainly: all pairs, all walls (repulsion cut at l + 8 D)."""
    n = len(x)
    vel = np.zeros((n, 2))
    congested = np.zeros(n, dtype=bool)
    present = [j for j in range(n) if state[j] in (kernels.WAITING, kernels.WALKING)]
    for i in range(n):
        if state[i] != kernels.WALKING:
            continue
        e0 = _bilinear_direction(x[i], y[i], geo.dir_x[0], geo.dir_y[0], geo.x0, geo.y0, geo.cell_m)
        e = np.array(e0)
        for j in present:
            if j == i:
                continue
            d = np.array([x[i] - x[j], y[i] - y[j]])
            s = np.linalg.norm(d)
            if s <= interaction_m and s - radius[i] - radius[j] <= 8 * p.neighbour_range_m:
                e += p.neighbour_strength * math.exp((radius[i] + radius[j] - s) / p.neighbour_range_m) * d / s
        for ax, ay, bx, by in geo.wall_seg:
            qx, qy, dw = _nearest(x[i], y[i], ax, ay, bx, by)
            if dw <= 1.0:
                e += p.wall_strength * math.exp((radius[i] - dw) / p.wall_range_m) * np.array([x[i] - qx, y[i] - qy]) / dw
        e /= np.linalg.norm(e)
        speed = v0[i]
        for j in present:
            if j == i:
                continue
            r = np.array([x[j] - x[i], y[j] - y[i]])
            if r @ e < 0 or abs(-e[1] * r[0] + e[0] * r[1]) > radius[i] + radius[j]:
                continue
            speed = min(speed, max(0.0, (np.linalg.norm(r) - radius[i] - radius[j]) / p.time_gap_s))
        congested[i] = speed < 0.5 * v0[i]
        v = speed * e
        for ax, ay, bx, by in geo.wall_seg:
            qx, qy, dw = _nearest(x[i], y[i], ax, ay, bx, by)
            nrm = np.array([x[i] - qx, y[i] - qy]) / dw
            approach, allowed = -(v @ nrm), max(0.0, (dw - radius[i]) / dt)
            if approach > allowed:
                v = v + (approach - allowed) * nrm
        vel[i] = v
    return x + vel[:, 0] * dt, y + vel[:, 1] * dt, congested


def test_crowd_step_matches_reference_on_twelve_agents():
    geo = prepare_geometry(walkable=box(0, 0, 6, 4), obstacles=[], exits=[LineString([(6, 1.5), (6, 2.5)])])
    rng = np.random.default_rng(3)
    n = 12
    # a jittered grid so that some pairs are close (repulsion and spacing both bind)
    gx, gy = np.meshgrid(np.linspace(1.0, 4.6, 4), np.linspace(0.8, 3.2, 3))
    x = gx.ravel() + rng.uniform(-0.08, 0.08, n)
    y = gy.ravel() + rng.uniform(-0.08, 0.08, n)
    x[11], y[11] = 5.7, 2.0   # one about to leave
    x[10], y[10] = 3.0, 0.2   # one near the wall
    state = np.full(n, kernels.WALKING, dtype=np.int8)
    state[4] = kernels.WAITING
    v0 = rng.uniform(0.8, 1.6, n)
    radius = np.full(n, 0.15)
    p = CSMParams()
    cell = 2 * 0.15 + p.time_gap_s * v0.max()
    dt = 0.05
    rx, ry, congested = reference_step(x, y, state, v0, radius, geo, p, cell, dt)
    kx, ky = x.copy(), y.copy()
    evac_t = np.full(n, np.nan)
    evac_e = np.full(n, -1, dtype=np.int64)
    waited = np.zeros(n)
    out = kernels.crowd_step(
        kx, ky, state, v0, radius, np.zeros(n, dtype=np.int64), geo.dir_xy, geo.x0, geo.y0, geo.cell_m,
        geo.x0, geo.y0, cell, 8, 8, geo.wall_seg, geo.wall_cell_start, geo.wall_cell_items,
        geo.wall_x0, geo.wall_y0, geo.wall_cell_m, geo.wall_nx, geo.wall_ny, geo.exit_seg, geo.exit_seg_exit,
        p.time_gap_s, p.neighbour_strength, p.neighbour_range_m, p.wall_strength, p.wall_range_m,
        0.0, dt, evac_t, evac_e, np.zeros(n), np.zeros(n),
        np.full(geo.distance_m.shape[0], 1.5), 0.5, waited, np.zeros((8 * 8, 2), dtype=np.int64), np.zeros(n + 1, dtype=np.int64),
        np.zeros(n, dtype=np.int64), np.zeros((8, 8 + 1), dtype=np.int64), np.zeros(8, dtype=np.int64),
        np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64))
    np.testing.assert_allclose(kx, rx, atol=1e-12)
    # waiting in congestion: dt for those the people ahead hold below half their free speed
    assert congested.any() and not congested.all()
    np.testing.assert_array_equal(waited, np.where(congested, dt, 0.0))
    np.testing.assert_allclose(ky, ry, atol=1e-12)
    assert kx[4] == x[4] and ky[4] == y[4]           # a waiting resident does not move
    moved = np.hypot(kx - x, ky - y)
    assert np.all(moved <= v0 * dt + 1e-12)          # never faster than the free speed
    # agent 11 starts 0.3 m from the exit line: with v0 * dt < 0.3 m it is not out yet
    assert out == 0 and state[11] == kernels.WALKING


def test_distance_field_goes_around_the_corner_of_an_l_corridor():
    # arms 2 m wide: x 0..10 along the bottom, then up x 8..10 to the exit at y = 10
    corridor = unary_union([box(0, 0, 10, 2), box(8, 0, 10, 10)])
    cell = 0.25
    geo = prepare_geometry(walkable=corridor, obstacles=[], exits=[LineString([(8, 10), (10, 10)])], cell_m=cell)

    def geodesic(px, py):  # exact: straight up if the exit is in view, else via the inner corner (8, 2)
        return 10 - py if px >= 8 else math.hypot(8 - px, 2 - py) + 8.0

    for px, py in [(0.5, 1.0), (1.0, 0.3), (4.0, 1.7), (7.0, 0.5), (9.0, 1.0), (9.0, 5.0), (8.3, 8.0)]:
        # first-order fast marching plus the nearest-cell lookup: within two cells
        assert geo.distance_at(0, px, py) == pytest.approx(geodesic(px, py), abs=2 * cell)
    # the walls are not crossed: the straight-line distance from (0.5, 1) to the exit is ~9.5 m
    assert geo.distance_at(0, 0.5, 1.0) > 15.0
    # desired direction in the bottom arm points along it (+x), in the vertical arm up (+y)
    ex, ey = kernels.desired_direction(3.0, 1.0, geo.dir_xy[0], geo.x0, geo.y0, cell)
    assert ex > 0.95
    ex, ey = kernels.desired_direction(9.0, 6.0, geo.dir_xy[0], geo.x0, geo.y0, cell)
    assert ey > 0.99


def test_distance_field_does_not_leak_through_a_wall_thinner_than_a_cell():
    # a 0.1 m wall (less than the 0.25 m cell) splits a 10 m x 6 m room up to y = 5; the exit is
    # in the east wall. From (4.6, 1) the way is up round the wall's end at (5, 5), not through it.
    room = box(0, 0, 10, 6)
    wall = box(4.95, 0, 5.05, 5)
    geo = prepare_geometry(walkable=room, obstacles=[wall], exits=[LineString([(10, 0), (10, 2)])])
    around = math.hypot(4.95 - 4.6, 5 - 1) + 0.1 + math.hypot(10 - 5.05, 5 - 2)   # to the exit's upper end
    through = math.hypot(10 - 4.6, 2 - 1)
    # first-order fast marching overestimates oblique distances by up to ~8 % (measured 6.6 %)
    assert geo.distance_at(0, 4.6, 1.0) == pytest.approx(around, rel=0.08)
    assert geo.distance_at(0, 4.6, 1.0) > 1.5 * through
    ex, ey = kernels.desired_direction(4.6, 1.0, geo.dir_xy[0], geo.x0, geo.y0, geo.cell_m)
    # up toward the wall's end (and, 0.35 m from the wall, a little away from it), not east into it
    assert ey > 0.5 and ex < 0.1
