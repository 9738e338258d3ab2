"""numba kernels of the twin: rays towards the sun against a triangle soup (twin.sunlight).

Triangles are binned by their plan bounding box into a uniform 2D grid (CSR: `cell_start`,
`cell_items`); a ray walks the cells its plan projection crosses (Amanatides & Woo 1987,
"A fast voxel traversal algorithm") and tests the triangles of each cell with the
Möller–Trumbore intersection (1997). Rays go up (the sun is above the horizon), so a walk
stops once the ray is above the highest triangle. Pure functions over NumPy arrays, float64.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

EPS = 1e-9


@njit(cache=True)
def cell_range(tri_min_xy, tri_max_xy, t, origin_xy, cell_m, nx, ny):
    """First and last grid column and row touched by triangle t's plan bounding box."""
    i0 = max(0, min(nx - 1, int((tri_min_xy[t, 0] - origin_xy[0]) / cell_m)))
    i1 = max(0, min(nx - 1, int((tri_max_xy[t, 0] - origin_xy[0]) / cell_m)))
    j0 = max(0, min(ny - 1, int((tri_min_xy[t, 1] - origin_xy[1]) / cell_m)))
    j1 = max(0, min(ny - 1, int((tri_max_xy[t, 1] - origin_xy[1]) / cell_m)))
    return i0, i1, j0, j1


@njit(cache=True)
def bin_triangles(tri_min_xy, tri_max_xy, origin_xy, cell_m, nx, ny):
    """CSR (cell_start, cell_items) of the grid cells each triangle's plan bounding box touches."""
    count = np.zeros(nx * ny + 1, dtype=np.int64)
    n = tri_min_xy.shape[0]
    for t in range(n):
        i0, i1, j0, j1 = cell_range(tri_min_xy, tri_max_xy, t, origin_xy, cell_m, nx, ny)
        for j in range(j0, j1 + 1):
            for i in range(i0, i1 + 1):
                count[j * nx + i + 1] += 1
    for c in range(nx * ny):
        count[c + 1] += count[c]
    items = np.empty(count[nx * ny], dtype=np.int32)
    fill = count[:-1].copy()
    for t in range(n):
        i0, i1, j0, j1 = cell_range(tri_min_xy, tri_max_xy, t, origin_xy, cell_m, nx, ny)
        for j in range(j0, j1 + 1):
            for i in range(i0, i1 + 1):
                c = j * nx + i
                items[fill[c]] = t
                fill[c] += 1
    return count, items


@njit(cache=True)
def cell_tops(tris, cell_start, cell_items):
    """Highest z of the triangles in each cell (−inf for an empty cell)."""
    n_cells = cell_start.shape[0] - 1
    top = np.full(n_cells, -np.inf)
    for c in range(n_cells):
        for k in range(cell_start[c], cell_start[c + 1]):
            t = cell_items[k]
            top[c] = max(top[c], tris[t, 0, 2], tris[t, 1, 2], tris[t, 2, 2])
    return top


@njit(cache=True)
def ray_hits_triangle(ox, oy, oz, dx, dy, dz, tris, t):
    """Möller–Trumbore: True if the ray o + s·d, s > 0, crosses triangle t."""
    ax, ay, az = tris[t, 0, 0], tris[t, 0, 1], tris[t, 0, 2]
    e1x, e1y, e1z = tris[t, 1, 0] - ax, tris[t, 1, 1] - ay, tris[t, 1, 2] - az
    e2x, e2y, e2z = tris[t, 2, 0] - ax, tris[t, 2, 1] - ay, tris[t, 2, 2] - az
    px, py, pz = dy * e2z - dz * e2y, dz * e2x - dx * e2z, dx * e2y - dy * e2x
    det = e1x * px + e1y * py + e1z * pz
    if abs(det) < EPS:
        return False
    inv = 1.0 / det
    sx, sy, sz = ox - ax, oy - ay, oz - az
    u = (sx * px + sy * py + sz * pz) * inv
    if u < 0.0 or u > 1.0:
        return False
    qx, qy, qz = sy * e1z - sz * e1y, sz * e1x - sx * e1z, sx * e1y - sy * e1x
    v = (dx * qx + dy * qy + dz * qz) * inv
    if v < 0.0 or u + v > 1.0:
        return False
    s = (e2x * qx + e2y * qy + e2z * qz) * inv
    return s > 1e-6


@njit(cache=True)
def ray_blocked(ox, oy, oz, dx, dy, dz, tris, tri_z, cell_start, cell_items, cell_top, origin_xy, cell_m, nx, ny, z_top):
    """True if the upward ray from o along d hits a triangle (2D grid walk, then Möller–Trumbore).
    A cell is skipped when the ray enters it above its highest triangle (the ray only climbs), and a
    triangle when its z range (`tri_z`, (T, 2) min and max) misses the ray's z range in the cell."""
    gx0, gy0 = origin_xy[0], origin_xy[1]
    gx1, gy1 = gx0 + nx * cell_m, gy0 + ny * cell_m
    # entry into the grid's plan box (slab method); s is the ray parameter
    s_in, s_out = 0.0, 1e300
    for axis in range(2):
        o = ox if axis == 0 else oy
        d = dx if axis == 0 else dy
        lo = gx0 if axis == 0 else gy0
        hi = gx1 if axis == 0 else gy1
        if abs(d) < EPS:
            if o < lo or o > hi:
                return False
        else:
            a, b = (lo - o) / d, (hi - o) / d
            if a > b:
                a, b = b, a
            s_in, s_out = max(s_in, a), min(s_out, b)
    if s_in > s_out:
        return False
    px, py = ox + s_in * dx, oy + s_in * dy
    i = max(0, min(nx - 1, int((px - gx0) / cell_m)))
    j = max(0, min(ny - 1, int((py - gy0) / cell_m)))
    step_i = 1 if dx > 0 else -1
    step_j = 1 if dy > 0 else -1
    if abs(dx) < EPS:
        t_max_x, t_delta_x = 1e300, 1e300
    else:
        next_x = gx0 + (i + (1 if dx > 0 else 0)) * cell_m
        t_max_x, t_delta_x = (next_x - ox) / dx, cell_m / abs(dx)
    if abs(dy) < EPS:
        t_max_y, t_delta_y = 1e300, 1e300
    else:
        next_y = gy0 + (j + (1 if dy > 0 else 0)) * cell_m
        t_max_y, t_delta_y = (next_y - oy) / dy, cell_m / abs(dy)
    s_cell = s_in
    while 0 <= i < nx and 0 <= j < ny:
        if oz + s_cell * dz > z_top:
            return False
        c = j * nx + i
        z_in = oz + s_cell * dz
        if z_in <= cell_top[c]:  # else the ray passes above everything in this cell
            z_out = oz + min(t_max_x, t_max_y) * dz
            for k in range(cell_start[c], cell_start[c + 1]):
                t = cell_items[k]
                if z_out < tri_z[t, 0] or z_in > tri_z[t, 1]:
                    continue  # a hit inside this cell would lie in both z ranges
                if ray_hits_triangle(ox, oy, oz, dx, dy, dz, tris, t):
                    return True
        if t_max_x < t_max_y:
            s_cell = t_max_x
            t_max_x += t_delta_x
            i += step_i
        else:
            s_cell = t_max_y
            t_max_y += t_delta_y
            j += step_j
    return False


@njit(cache=True, parallel=True)
def sunlit_mask(points, normals, sun_dirs, tris, tri_z, cell_start, cell_items, cell_top, origin_xy, cell_m, nx, ny, z_top):
    """(N, K) uint8: 1 where point n sees the sun at time k (sun in front of its facade and no
    triangle in the way)."""
    n_points, n_times = points.shape[0], sun_dirs.shape[0]
    lit = np.zeros((n_points, n_times), dtype=np.uint8)
    for p in prange(n_points):
        for k in range(n_times):
            dx, dy, dz = sun_dirs[k, 0], sun_dirs[k, 1], sun_dirs[k, 2]
            if dz <= 0.0:
                continue
            if normals[p, 0] * dx + normals[p, 1] * dy + normals[p, 2] * dz <= 0.0:
                continue
            if not ray_blocked(points[p, 0], points[p, 1], points[p, 2], dx, dy, dz, tris, tri_z,
                               cell_start, cell_items, cell_top, origin_xy, cell_m, nx, ny, z_top):
                lit[p, k] = 1
    return lit
