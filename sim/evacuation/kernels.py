"""Numba kernels of the evacuation engine: distance field, steering directions, one crowd step.

Pure functions over NumPy arrays (structure of arrays), no SimPy, no I/O. The model they
implement is the collision-free speed model of Tordeux, Chraibi & Seyfried (2016):

    dx_i/dt = V(s_i) e_i,   V(s) = min(v0_i, max(0, (s - l) / T))
    e_i     = u( e0_i + sum_j a exp((l_ij - s_ij) / D) e_ij + sum_w a_w exp((r_i - d_iw) / D_w) n_iw )
              (neighbour terms for s_ij <= l_ij + 8 D only)

where e0_i is the desired direction (minus the gradient of the geodesic distance to the
agent's exit), s_ij = |x_i - x_j|, e_ij = (x_i - x_j) / s_ij, u normalises, and s_i is the
distance to the nearest neighbour ahead in a corridor of width l_ij (= r_i + r_j) along e_i.
The tests hold a pure-Python reference of `crowd_step` and check this kernel against it.
"""
from __future__ import annotations

import heapq
import math

import numpy as np
from numba import njit

# agent states
WAITING = 0   # present (occupies space) but still in pre-movement
WALKING = 1
EVACUATED = 2  # crossed an exit line and walked clear of it
STUCK = 3     # no path to any exit, or not out by the end
INSIDE = 4    # still in the building (stairwell model), not in the outdoor model yet
LEAVING = 5   # crossed an exit line (counted as evacuated) and still walking clear of it
STATE_NAMES = ("waiting", "walking", "evacuated", "stuck", "inside", "leaving")
NO_GAP = 1e30
"""A distance no neighbour or exit is at (finite, so that the per-step kernels stay valid under any
floating-point relaxation; fast math was tried on 2026-12-06 and dropped: with reassociation a run
in another process differed in the last bit, which breaks "same seed, same result"). The per-step
kernels use numpy's error model (no division-by-zero checks); results are bit-identical to IEEE."""
WALL_CACHE = 32
"""Walls of one wall cell whose nearest points crowd_step keeps from the repulsion for the no-penetration limit."""


@njit(cache=True)
def wall_edges(wall_seg, x0, y0, cell_m, nx, ny):
    """Which raster edges a wall does not cut: open_x[j, i] joins cells (j, i)-(j, i+1), open_y[j, i] (j, i)-(j+1, i).

    A wall thinner than a cell leaves walkable cells on both sides of it; without these flags
    the distance field would leak through it and send people into the wall."""
    open_x = np.ones((ny, nx), dtype=np.uint8)
    open_y = np.ones((ny, nx), dtype=np.uint8)
    for w in range(wall_seg.shape[0]):
        ax, ay, bx, by = wall_seg[w, 0], wall_seg[w, 1], wall_seg[w, 2], wall_seg[w, 3]
        i0 = max(int(math.floor((min(ax, bx) - x0) / cell_m - 0.5)) - 1, 0)
        i1 = min(int(math.floor((max(ax, bx) - x0) / cell_m - 0.5)) + 1, nx - 1)
        j0 = max(int(math.floor((min(ay, by) - y0) / cell_m - 0.5)) - 1, 0)
        j1 = min(int(math.floor((max(ay, by) - y0) / cell_m - 0.5)) + 1, ny - 1)
        for j in range(j0, j1 + 1):
            cy = y0 + (j + 0.5) * cell_m
            for i in range(i0, i1 + 1):
                cx = x0 + (i + 0.5) * cell_m
                if i + 1 < nx and _segments_cross(cx, cy, cx + cell_m, cy, ax, ay, bx, by) >= 0.0:
                    open_x[j, i] = 0
                if j + 1 < ny and _segments_cross(cx, cy, cx, cy + cell_m, ax, ay, bx, by) >= 0.0:
                    open_y[j, i] = 0
    return open_x, open_y


@njit(cache=True)
def fast_marching(walkable, target, cell_m, open_x, open_y, slowness):
    """First-order fast marching (Sethian 1996): travel cost (m) from `target` cells, |grad T| = slowness.

    walkable, target: uint8[ny, nx]; non-walkable cells and cells not reached are +inf.
    Neighbours count only across edges no wall cuts (open_x, open_y from wall_edges).
    slowness: float64[ny, nx], 1 everywhere gives the geodesic distance.
    Updates use only accepted neighbours, so the result is the upwind viscosity solution of
    |grad T| = 1 on the raster (exact along axes, within about a cell elsewhere).
    """
    ny, nx = walkable.shape
    dist = np.full((ny, nx), np.inf)
    accepted = np.zeros((ny, nx), dtype=np.uint8)
    heap = [(0.0, np.int64(0))]
    heap.pop()
    for j in range(ny):
        for i in range(nx):
            if target[j, i] and walkable[j, i]:
                dist[j, i] = 0.0
                heapq.heappush(heap, (0.0, np.int64(j * nx + i)))
    di = np.array([1, -1, 0, 0])
    dj = np.array([0, 0, 1, -1])
    while len(heap) > 0:
        d, k = heapq.heappop(heap)
        j = k // nx
        i = k - j * nx
        if accepted[j, i]:
            continue
        accepted[j, i] = 1
        for n in range(4):
            jj = j + dj[n]
            ii = i + di[n]
            if jj < 0 or jj >= ny or ii < 0 or ii >= nx:
                continue
            if accepted[jj, ii] or not walkable[jj, ii]:
                continue
            if (di[n] != 0 and not open_x[j, min(i, ii)]) or (dj[n] != 0 and not open_y[min(j, jj), i]):
                continue
            # smallest accepted neighbour along x and along y (through open edges only)
            a = np.inf
            if ii > 0 and accepted[jj, ii - 1] and open_x[jj, ii - 1]:
                a = dist[jj, ii - 1]
            if ii < nx - 1 and accepted[jj, ii + 1] and open_x[jj, ii]:
                a = min(a, dist[jj, ii + 1])
            b = np.inf
            if jj > 0 and accepted[jj - 1, ii] and open_y[jj - 1, ii]:
                b = dist[jj - 1, ii]
            if jj < ny - 1 and accepted[jj + 1, ii] and open_y[jj, ii]:
                b = min(b, dist[jj + 1, ii])
            # Eikonal update: (t-a)^2 + (t-b)^2 = h^2, h = cell * slowness, or one-sided if |a-b| >= h
            h = cell_m * slowness[jj, ii]
            if abs(a - b) >= h:
                t = min(a, b) + h
            else:
                t = 0.5 * (a + b + math.sqrt(2.0 * h * h - (a - b) * (a - b)))
            if t < dist[jj, ii]:
                dist[jj, ii] = t
                heapq.heappush(heap, (t, np.int64(jj * nx + ii)))
    return dist


@njit(cache=True)
def descent_directions(dist, cell_m, open_x, open_y):
    """Unit vectors of -grad(dist) per cell (central differences, one-sided at walls); 0 where undefined."""
    ny, nx = dist.shape
    ux = np.zeros((ny, nx))
    uy = np.zeros((ny, nx))
    for j in range(ny):
        for i in range(nx):
            c = dist[j, i]
            if not np.isfinite(c):
                continue
            left = dist[j, i - 1] if i > 0 and open_x[j, i - 1] else np.inf
            right = dist[j, i + 1] if i < nx - 1 and open_x[j, i] else np.inf
            down = dist[j - 1, i] if j > 0 and open_y[j - 1, i] else np.inf
            up = dist[j + 1, i] if j < ny - 1 and open_y[j, i] else np.inf
            gx = 0.0
            if np.isfinite(left) and np.isfinite(right):
                gx = (right - left) / (2.0 * cell_m)
            elif np.isfinite(right):
                gx = (right - c) / cell_m
            elif np.isfinite(left):
                gx = (c - left) / cell_m
            gy = 0.0
            if np.isfinite(down) and np.isfinite(up):
                gy = (up - down) / (2.0 * cell_m)
            elif np.isfinite(up):
                gy = (up - c) / cell_m
            elif np.isfinite(down):
                gy = (c - down) / cell_m
            norm = math.sqrt(gx * gx + gy * gy)
            if norm > 1e-12:
                ux[j, i] = -gx / norm
                uy[j, i] = -gy / norm
    return ux, uy


@njit(cache=True, error_model="numpy")
def desired_direction(px, py, dir_xy, x0, y0, cell_m):
    """Bilinear interpolation of the unit direction field dir_xy[row, column, (x, y)] at (px, py), renormalised."""
    ny, nx = dir_xy.shape[0], dir_xy.shape[1]
    fx = (px - x0) / cell_m - 0.5
    fy = (py - y0) / cell_m - 0.5
    i0 = int(math.floor(fx))
    j0 = int(math.floor(fy))
    tx = fx - i0
    ty = fy - j0
    ex = 0.0
    ey = 0.0
    for dj in range(2):
        for di in range(2):
            i = min(max(i0 + di, 0), nx - 1)
            j = min(max(j0 + dj, 0), ny - 1)
            w = (tx if di == 1 else 1.0 - tx) * (ty if dj == 1 else 1.0 - ty)
            ex += w * dir_xy[j, i, 0]
            ey += w * dir_xy[j, i, 1]
    norm = math.sqrt(ex * ex + ey * ey)
    if norm < 1e-9:
        # interpolation cancelled out (e.g. at a ridge): take the nearest cell's direction
        i = min(max(int((px - x0) / cell_m), 0), nx - 1)
        j = min(max(int((py - y0) / cell_m), 0), ny - 1)
        return float(dir_xy[j, i, 0]), float(dir_xy[j, i, 1])
    return ex / norm, ey / norm


@njit(cache=True, error_model="numpy", inline="always")
def _direction_of_exit(px, py, dir_xy, k, x0, y0, cell_m, inv_cell):
    """desired_direction(px, py, dir_xy[k], ...) without the clamping where all four cells are on the raster."""
    ny, nx = dir_xy.shape[1], dir_xy.shape[2]
    if inv_cell > 0.0:
        fx = (px - x0) * inv_cell - 0.5
        fy = (py - y0) * inv_cell - 0.5
    else:
        fx = (px - x0) / cell_m - 0.5
        fy = (py - y0) / cell_m - 0.5
    i0 = int(math.floor(fx))
    j0 = int(math.floor(fy))
    if i0 < 0 or j0 < 0 or i0 >= nx - 1 or j0 >= ny - 1:
        return desired_direction(px, py, dir_xy[k], x0, y0, cell_m)
    tx = fx - i0
    ty = fy - j0
    # the same terms in the same order as desired_direction, so the same result to the last bit
    w = (1.0 - tx) * (1.0 - ty)
    ex = 0.0 + w * dir_xy[k, j0, i0, 0]
    ey = 0.0 + w * dir_xy[k, j0, i0, 1]
    w = tx * (1.0 - ty)
    ex += w * dir_xy[k, j0, i0 + 1, 0]
    ey += w * dir_xy[k, j0, i0 + 1, 1]
    w = (1.0 - tx) * ty
    ex += w * dir_xy[k, j0 + 1, i0, 0]
    ey += w * dir_xy[k, j0 + 1, i0, 1]
    w = tx * ty
    ex += w * dir_xy[k, j0 + 1, i0 + 1, 0]
    ey += w * dir_xy[k, j0 + 1, i0 + 1, 1]
    norm = math.sqrt(ex * ex + ey * ey)
    if norm < 1e-9:
        return desired_direction(px, py, dir_xy[k], x0, y0, cell_m)
    return ex / norm, ey / norm


@njit(cache=True, error_model="numpy", inline="always")
def _segments_cross(ax, ay, bx, by, cx, cy, dx, dy):
    """Fraction u along a->b where segment a-b crosses segment c-d, or -1 if it does not."""
    rx = bx - ax
    ry = by - ay
    sx = dx - cx
    sy = dy - cy
    den = rx * sy - ry * sx
    if abs(den) < 1e-15:
        return -1.0
    qx = cx - ax
    qy = cy - ay
    u = (qx * sy - qy * sx) / den
    w = (qx * ry - qy * rx) / den
    if u >= 0.0 and u <= 1.0 and w >= 0.0 and w <= 1.0:
        return u
    return -1.0


@njit(cache=True, error_model="numpy")
def bin_agents(x, y, state, radius, grid_x0, grid_y0, grid_cell_m, grid_nx, grid_ny,
               cell_list, occupied, members, row_start, row_count, cell_of, row_of):
    """Neighbour grid of the present agents (waiting ones occupy space too); returns (their number, largest body length 2 r).

    members lists the present agents by cell (row by row, each row from left to right), within a
    cell by agent index. Two views of it:
    - cell c holds cell_list[c, 1] persons, members[cell_list[c, 0]:][:cell_list[c, 1]]; only occupied
      cells are set: occupied[0] is their number and occupied[1:occupied[0] + 1] lists them (in no
      order). cell_list[:, 1] must be zero except at the cells occupied[] lists (np.zeros and an
      empty occupied[] at the start; each call clears its predecessor's).
    - a row cy with row_count[cy] > 0 persons: the cells cx..cx2 of it hold
      members[row_start[cy, cx]:row_start[cy, cx2 + 1]] (row_start: int64[ny, nx + 1]); rows nobody
      is in are not set (row_count[cy] == 0: skip them). A run of cells is one run of members, so
      the neighbour loops need no loop over cells; filling the starts costs a pass over the rows
      someone is in, not over the whole site.
    cell_of[i], row_of[i]: agent i's cell and row (-1 if not present).
    """
    for k in range(occupied[0]):
        c = occupied[k + 1]
        cell_list[c, 1] = 0
        row_count[c // grid_nx] = 0
    n = x.shape[0]
    n_occupied = 0
    l_max = 0.0
    row_lo = grid_ny
    row_hi = -1
    for i in range(n):
        s = state[i]
        if s == WAITING or s == WALKING or s == LEAVING:
            ci = min(max(int((x[i] - grid_x0) / grid_cell_m), 0), grid_nx - 1)
            cj = min(max(int((y[i] - grid_y0) / grid_cell_m), 0), grid_ny - 1)
            c = cj * grid_nx + ci
            cell_of[i] = c
            row_of[i] = cj
            if cell_list[c, 1] == 0:
                n_occupied += 1
                occupied[n_occupied] = c
            cell_list[c, 1] += 1
            row_count[cj] += 1
            row_lo = min(row_lo, cj)
            row_hi = max(row_hi, cj)
            l_max = max(l_max, 2.0 * radius[i])
        else:
            cell_of[i] = -1
            row_of[i] = -1
    occupied[0] = n_occupied
    total = 0
    for cy in range(row_lo, row_hi + 1):
        if row_count[cy] == 0:
            continue
        for cx in range(grid_nx):
            row_start[cy, cx] = total
            total += cell_list[cy * grid_nx + cx, 1]
        row_start[cy, grid_nx] = total
    for k in range(1, n_occupied + 1):
        c = occupied[k]
        cj = c // grid_nx
        cell_list[c, 0] = row_start[cj, c - cj * grid_nx]
    for i in range(n):
        c = cell_of[i]
        if c >= 0:
            members[cell_list[c, 0]] = i
            cell_list[c, 0] += 1
    for k in range(1, n_occupied + 1):
        c = occupied[k]
        cell_list[c, 0] -= cell_list[c, 1]
    return total, l_max


@njit(cache=True, error_model="numpy")
def crowd_step(x, y, state, v0, radius, exit_of,
               dir_xy, field_x0, field_y0, field_cell_m,
               grid_x0, grid_y0, grid_cell_m, grid_nx, grid_ny,
               wall_seg, wall_cell_start, wall_cell_items, wall_x0, wall_y0, wall_cell_m, wall_nx, wall_ny,
               exit_seg, exit_seg_exit,
               time_gap_s, a_agents, d_agents_m, a_walls, d_walls_m,
               t_s, dt_s, evac_time_s, evac_exit, vx, vy,
               exit_clear_m, congested_fraction, waited_s, cell_list, occupied, members,
               row_start, row_count, cell_of, row_of):
    """Advance every WALKING and LEAVING agent by dt_s (explicit Euler, synchronous update); return number out.

    Neighbours come from a cell grid of side grid_cell_m (bin_agents; any size: the repulsion
    range l_max + 8 D is quickest: the repulsion goes once over each pair within reach, the
    spacing over the cells of the box round the corridor ahead of each agent), walls from
    a precomputed cell list (CSR: wall_cell_start, wall_cell_items into wall_seg[k] = x1,y1,x2,y2).
    A WALKING agent whose step crosses an exit segment is out: evac_time_s gets the crossing time
    interpolated within the step, evac_exit the exit index, and it becomes LEAVING — it keeps
    walking (and keeps its followers at their spacing) until it is exit_clear_m[its exit] past the line, then
    EVACUATED. (Removing people on the line itself would let the next ones through at free
    speed: on a line in a thin wall that doubles the flow.) waited_s[i] grows by dt_s while a
    walking agent's speed is held below congested_fraction * v0 by the people ahead.
    cell_list, occupied, members, row_start, row_count, cell_of and row_of hold the neighbour grid
    (bin_agents) of this step: arrays of the shapes bin_agents describes, row_count zero at the first
    step (each step clears what its predecessor set).
    """
    n_present, l_max = bin_agents(x, y, state, radius, grid_x0, grid_y0, grid_cell_m, grid_nx, grid_ny,
                                  cell_list, occupied, members, row_start, row_count, cell_of, row_of)
    # cells to search: the repulsion reaches l_max + 8 D, the spacing l_max + T v0 along e_i
    reach = int(math.ceil((l_max + 8.0 * d_agents_m) / grid_cell_m))
    # 1 / cell of the direction raster where that is exact (a power of two: x / c == x * (1 / c))
    inv_field_cell = 1.0 / field_cell_m if math.frexp(field_cell_m)[0] == 0.5 else 0.0
    inv_grid_cell = 1.0 / grid_cell_m
    inv_wall_cell = 1.0 / wall_cell_m if math.frexp(wall_cell_m)[0] == 0.5 else 0.0
    # each walking agent's walls: nearest point and distance, computed for the repulsion and reused
    # for the no-penetration limit (the first WALL_CACHE of a cell; more are computed again)
    wall_q = np.empty((WALL_CACHE, 3))

    vx[:] = 0.0
    vy[:] = 0.0
    # positions, sizes, cells and who moves, copied in grid order: the loops over neighbours below
    # then read consecutive memory instead of hopping through members[]
    gx = np.empty(n_present)
    gy = np.empty(n_present)
    gr = np.empty(n_present)
    gci = np.empty(n_present, dtype=np.int64)
    gcj = np.empty(n_present, dtype=np.int64)
    gmoving = np.empty(n_present, dtype=np.bool_)
    for m in range(n_present):
        i = members[m]
        gx[m] = x[i]
        gy[m] = y[i]
        gr[m] = radius[i]
        gcj[m] = row_of[i]
        gci[m] = cell_of[i] - row_of[i] * grid_nx
        gmoving[m] = state[i] == WALKING or state[i] == LEAVING
    # desired directions of those who move, all first (each one alone: the processor overlaps them)
    ge0x = np.empty(n_present)
    ge0y = np.empty(n_present)
    for m in range(n_present):
        if gmoving[m]:
            i = members[m]
            k = exit_of[i] if state[i] == WALKING else evac_exit[i]
            ge0x[m], ge0y[m] = _direction_of_exit(gx[m], gy[m], dir_xy, k, field_x0, field_y0, field_cell_m, inv_field_cell)
    # neighbour repulsion a exp((l_ij - s_ij)/D) e_ij, once per pair (it is antisymmetric), for pairs
    # with someone moving; left out beyond s_ij = l_ij + 8 D where it is below a e^-8 (under 0.2 %
    # of the unit desired direction for a = 5). Summed per grid slot m, not per agent. Each m meets
    # the ones after it in its own cell and the cells to its right (one run of members), then
    # each row below within reach (one run each): the pairs of bin_agents' cell-by-cell order, in
    # the same order for every sum.
    rep_x = np.zeros(n_present)
    rep_y = np.zeros(n_present)
    for m in range(n_present):
        moving_m = gmoving[m]
        ci = gci[m]
        cj = gcj[m]
        xm = gx[m]
        ym = gy[m]
        rm = gr[m]
        for cy in range(cj, min(cj + reach + 1, grid_ny)):
            if cy == cj:
                first = m + 1
            elif row_count[cy] == 0:
                continue
            else:
                first = row_start[cy, max(ci - reach, 0)]
            end = row_start[cy, min(ci + reach, grid_nx - 1) + 1]
            for m2 in range(first, end):
                if not moving_m and not gmoving[m2]:
                    continue
                dxij = xm - gx[m2]
                dyij = ym - gy[m2]
                s2 = dxij * dxij + dyij * dyij
                l_ij = rm + gr[m2]
                cut = l_ij + 8.0 * d_agents_m
                if s2 < 1e-18 or s2 > cut * cut:
                    continue
                s = math.sqrt(s2)
                rep = a_agents * math.exp((l_ij - s) / d_agents_m) / s
                rep_x[m] += rep * dxij
                rep_y[m] += rep * dyij
                rep_x[m2] -= rep * dxij
                rep_y[m2] -= rep * dyij
    # agents cell by cell: neighbours and the direction raster are then read from nearby memory
    evacuated = 0
    for idx in range(n_present):
        if not gmoving[idx]:
            continue
        i = members[idx]
        e0x = ge0x[idx]
        e0y = ge0y[idx]
        ex = e0x
        ey = e0y
        # neighbour repulsion, summed pair by pair above
        ex += rep_x[idx]
        ey += rep_y[idx]
        # wall repulsion: a_w exp((r_i - d_iw)/D_w) n_iw, n_iw from the wall's nearest point to the agent
        if inv_wall_cell > 0.0:
            wi = min(max(int((x[i] - wall_x0) * inv_wall_cell), 0), wall_nx - 1)
            wj = min(max(int((y[i] - wall_y0) * inv_wall_cell), 0), wall_ny - 1)
        else:
            wi = min(max(int((x[i] - wall_x0) / wall_cell_m), 0), wall_nx - 1)
            wj = min(max(int((y[i] - wall_y0) / wall_cell_m), 0), wall_ny - 1)
        wc = wj * wall_nx + wi
        w0 = wall_cell_start[wc]
        for m in range(w0, wall_cell_start[wc + 1]):
            w = wall_cell_items[m]
            qx, qy, dwall = _nearest_on_segment(x[i], y[i], wall_seg[w, 0], wall_seg[w, 1], wall_seg[w, 2], wall_seg[w, 3])
            if m - w0 < WALL_CACHE:
                wall_q[m - w0, 0] = qx
                wall_q[m - w0, 1] = qy
                wall_q[m - w0, 2] = dwall
            if dwall < 1e-9:
                continue
            rep = a_walls * math.exp((radius[i] - dwall) / d_walls_m)
            ex += rep * (x[i] - qx) / dwall
            ey += rep * (y[i] - qy) / dwall
        norm = math.sqrt(ex * ex + ey * ey)
        if norm < 1e-12:
            ex = e0x
            ey = e0y
        else:
            ex /= norm
            ey /= norm
        # spacing: nearest neighbour ahead, within a corridor of width l_ij about e_i. Only those
        # less than l_max + T v0 ahead and l_max aside can bind: the cells under that rectangle hold them.
        xi = x[i]
        yi = y[i]
        ri = radius[i]
        speed = v0[i]
        gap_min = NO_GAP
        reach_ahead = l_max + time_gap_s * v0[i]
        half_x = l_max * abs(ey)
        half_y = l_max * abs(ex)
        tip_x = x[i] + reach_ahead * ex
        tip_y = y[i] + reach_ahead * ey
        # (times 1 / cell and a millionth of a cell wider: never a cell fewer than the exact box, and
        # a cell more only holds people further ahead than T v0, who cannot slow i)
        bi0 = min(max(int((min(x[i], tip_x) - half_x - grid_x0) * inv_grid_cell - 1e-6), 0), grid_nx - 1)
        bi1 = min(max(int((max(x[i], tip_x) + half_x - grid_x0) * inv_grid_cell + 1e-6), 0), grid_nx - 1)
        bj0 = min(max(int((min(y[i], tip_y) - half_y - grid_y0) * inv_grid_cell - 1e-6), 0), grid_ny - 1)
        bj1 = min(max(int((max(y[i], tip_y) + half_y - grid_y0) * inv_grid_cell + 1e-6), 0), grid_ny - 1)
        # row by row, the cells bi0..bi1 of the row as one run of members (min() does not depend
        # on the order; the few in the corners of the box who cannot bind cost less than telling
        # the cells apart)
        for cy in range(bj0, bj1 + 1):
            if row_count[cy] == 0:
                continue
            m_first = row_start[cy, bi0]
            m_end = row_start[cy, bi1 + 1]
            for m in range(m_first, m_end):
                # everyone is computed, no branch: which ones bind is a coin toss for the
                # branch predictor, and a mispredicted branch costs more than a square root
                rx = gx[m] - xi
                ry = gy[m] - yi
                l_ij = ri + gr[m]
                gap = math.sqrt(rx * rx + ry * ry) - l_ij
                binds = (rx * ex + ry * ey >= 0.0) & (abs(-ey * rx + ex * ry) <= l_ij) & (m != idx)
                gap_min = min(gap_min, gap if binds else NO_GAP)
        # optimal-velocity function V(s) = max(0, (s - l)/T) of the nearest one ahead, capped by v0
        speed = min(speed, max(0.0, gap_min / time_gap_s))
        if state[i] == WALKING and speed < congested_fraction * v0[i]:
            waited_s[i] += dt_s
        vxi = speed * ex
        vyi = speed * ey
        # walls are impenetrable: remove the approach component that would bring the body
        # centre closer than its radius to a wall within this step
        for m in range(w0, wall_cell_start[wc + 1]):
            if m - w0 < WALL_CACHE:
                qx = wall_q[m - w0, 0]
                qy = wall_q[m - w0, 1]
                dwall = wall_q[m - w0, 2]
            else:
                w = wall_seg[wall_cell_items[m]]
                qx, qy, dwall = _nearest_on_segment(xi, yi, w[0], w[1], w[2], w[3])
            if dwall < 1e-9:
                continue
            nx_ = (xi - qx) / dwall
            ny_ = (yi - qy) / dwall
            approach = -(vxi * nx_ + vyi * ny_)
            allowed = max(0.0, (dwall - ri) / dt_s)
            if approach > allowed:
                vxi += (approach - allowed) * nx_
                vyi += (approach - allowed) * ny_
        vx[i] = vxi
        vy[i] = vyi
        # the step itself (everyone else reads the positions copied in gx, gy: the update stays synchronous)
        x[i] = xi + vxi * dt_s
        y[i] = yi + vyi * dt_s
        if state[i] == LEAVING:
            # clear of its exit line by exit_clear_m (or stopped where it cannot go on): gone
            far = NO_GAP
            for s in range(exit_seg.shape[0]):
                if exit_seg_exit[s] == evac_exit[i]:
                    qx, qy, d = _nearest_on_segment(x[i], y[i], exit_seg[s, 0], exit_seg[s, 1], exit_seg[s, 2], exit_seg[s, 3])
                    far = min(far, d)
            if far >= exit_clear_m[evac_exit[i]] or t_s - evac_time_s[i] > 30.0:
                state[i] = EVACUATED
            continue
        for s in range(exit_seg.shape[0]):
            # (a step and an exit line whose bounding boxes do not meet cannot cross: most steps end here)
            if (max(xi, x[i]) < min(exit_seg[s, 0], exit_seg[s, 2]) or min(xi, x[i]) > max(exit_seg[s, 0], exit_seg[s, 2])
                    or max(yi, y[i]) < min(exit_seg[s, 1], exit_seg[s, 3]) or min(yi, y[i]) > max(exit_seg[s, 1], exit_seg[s, 3])):
                continue
            u = _segments_cross(xi, yi, x[i], y[i], exit_seg[s, 0], exit_seg[s, 1], exit_seg[s, 2], exit_seg[s, 3])
            if u >= 0.0:
                state[i] = LEAVING if exit_clear_m[exit_seg_exit[s]] > 0.0 else EVACUATED
                evac_time_s[i] = t_s + u * dt_s
                evac_exit[i] = exit_seg_exit[s]
                evacuated += 1
                break
    return evacuated




@njit(cache=True, error_model="numpy")
def crowd_steps(n_steps, x, y, state, v0, radius, exit_of,
                dir_xy, field_x0, field_y0, field_cell_m,
                grid_x0, grid_y0, grid_cell_m, grid_nx, grid_ny,
                wall_seg, wall_cell_start, wall_cell_items, wall_x0, wall_y0, wall_cell_m, wall_nx, wall_ny,
                exit_seg, exit_seg_exit,
                time_gap_s, a_agents, d_agents_m, a_walls, d_walls_m,
                t_s, dt_s, evac_time_s, evac_exit, vx, vy,
                exit_clear_m, congested_fraction, waited_s, cell_list, occupied, members):
    """n_steps of crowd_step from time t_s, in one call (nothing outside the crowd happens meanwhile)."""
    out = 0
    row_start = np.empty((grid_ny, grid_nx + 1), dtype=np.int64)
    row_count = np.zeros(grid_ny, dtype=np.int64)
    cell_of = np.empty(x.shape[0], dtype=np.int64)
    row_of = np.empty(x.shape[0], dtype=np.int64)
    for k in range(n_steps):
        out += crowd_step(x, y, state, v0, radius, exit_of,
                          dir_xy, field_x0, field_y0, field_cell_m,
                          grid_x0, grid_y0, grid_cell_m, grid_nx, grid_ny,
                          wall_seg, wall_cell_start, wall_cell_items, wall_x0, wall_y0, wall_cell_m, wall_nx, wall_ny,
                          exit_seg, exit_seg_exit,
                          time_gap_s, a_agents, d_agents_m, a_walls, d_walls_m,
                          t_s + k * dt_s, dt_s, evac_time_s, evac_exit, vx, vy,
                          exit_clear_m, congested_fraction, waited_s, cell_list, occupied, members,
                          row_start, row_count, cell_of, row_of)
    return out


@njit(cache=True, error_model="numpy")
def release_at_doors(candidates, door_x, door_y, x, y, state, radius, margin_m,
                     grid_x0, grid_y0, grid_cell_m, grid_nx, grid_ny, cell_list, members):
    """Let INSIDE residents out at their door where the spot is clear; returns a mask of who came out.

    candidates: agent indices waiting in a doorway, door_x/door_y their spots outside. A spot is
    clear when no present agent (from the last step's grid, bin_agents, plus those let out in this call) is
    closer than r_i + r_j + margin_m. Who comes out is placed on the spot and starts WALKING.
    """
    released = np.zeros(candidates.shape[0], dtype=np.uint8)
    for c in range(candidates.shape[0]):
        i = candidates[c]
        px = door_x[c]
        py = door_y[c]
        ci = min(max(int((px - grid_x0) / grid_cell_m), 0), grid_nx - 1)
        cj = min(max(int((py - grid_y0) / grid_cell_m), 0), grid_ny - 1)
        clear = True
        for cy in range(max(cj - 1, 0), min(cj + 2, grid_ny)):
            for cx in range(max(ci - 1, 0), min(ci + 2, grid_nx)):
                cell = cy * grid_nx + cx
                for m in range(cell_list[cell, 0], cell_list[cell, 0] + cell_list[cell, 1]):
                    j = members[m]
                    if state[j] != WAITING and state[j] != WALKING and state[j] != LEAVING:
                        continue
                    if (x[j] - px) ** 2 + (y[j] - py) ** 2 < (radius[i] + radius[j] + margin_m) ** 2:
                        clear = False
        for d in range(c):
            j = candidates[d]
            if released[d] and (x[j] - px) ** 2 + (y[j] - py) ** 2 < (radius[i] + radius[j] + margin_m) ** 2:
                clear = False
        if clear:
            x[i] = px
            y[i] = py
            state[i] = WALKING
            released[c] = 1
    return released


@njit(cache=True, error_model="numpy", inline="always")
def _nearest_on_segment(px, py, ax, ay, bx, by):
    """Nearest point (qx, qy) of segment a-b to p and its distance."""
    sx = bx - ax
    sy = by - ay
    len2 = sx * sx + sy * sy
    u = 0.0
    if len2 > 0.0:
        u = ((px - ax) * sx + (py - ay) * sy) / len2
        u = min(max(u, 0.0), 1.0)
    qx = ax + u * sx
    qy = ay + u * sy
    return qx, qy, math.sqrt((px - qx) ** 2 + (py - qy) ** 2)
