"""Prepared geometry of a scenario: raster, distance fields to each exit, walls and exit lines as arrays.

Built once per geometry (walkable area, obstacles, exits) and reused by every run on it.
Each exit gets an "apron": a trapezoid `apron_m` deep on the outer side of the exit line,
widening at 45 degrees from the door jambs, added to the walkable raster as the target of
the distance field, so the field's zero level lies on the exit line and its gradient points
through the opening. People who crossed the line walk on across the apron (kernels.LEAVING)
before they leave the model, as they would into the street.
An assembly area inside the walkable ground is a destination too (after the exits, in the same
arrays): its cells are the target of its distance field, its "exit line" is the part of its
outline that lies in the open (not along a wall), and inside it the field points away from that
outline, so that who steps in walks on into the area before he leaves the model.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPolygon, Polygon
from shapely.ops import unary_union

from . import kernels


@dataclass(kw_only=True)
class PreparedGeometry:
    """Arrays the kernels read. Rasters are [exit, row (y), column (x)], cell centres at x0 + (i + 0.5) cell_m."""

    area: shapely.Geometry          # walkable area minus obstacles (m, scenario CRS)
    cell_m: float                   # raster cell side (m)
    x0: float                       # raster origin, lower-left corner (m)
    y0: float
    walkable: np.ndarray            # uint8[ny, nx], 1 = walkable (including exit aprons)
    distance_m: np.ndarray          # float64[n_exits, ny, nx], geodesic distance to each exit (inf = unreachable)
    dir_xy: np.ndarray              # float32[n_exits, ny, nx, 2], unit desired direction (x, y side by
                                    # side: one cache line holds both for the kernel)
    wall_seg: np.ndarray            # float64[n_walls, 4], x1, y1, x2, y2 (m)
    wall_x0: float
    wall_y0: float
    wall_cell_m: float
    wall_nx: int
    wall_ny: int
    wall_cell_start: np.ndarray     # int64[n_cells + 1] CSR offsets
    wall_cell_items: np.ndarray     # int64[...] wall indices near each cell
    exit_seg: np.ndarray            # float64[n_exit_segments, 4]
    exit_seg_exit: np.ndarray       # int64[n_exit_segments], which exit each segment belongs to
    exit_depth_m: np.ndarray        # float64[n_exits], how far in one can walk from the outline of
                                    # an assembly area (m; inf for an exit line)

    @property
    def dir_x(self) -> np.ndarray:
        """x components of the direction fields, [exit, row, column] (a view)."""
        return self.dir_xy[..., 0]

    @property
    def dir_y(self) -> np.ndarray:
        """y components of the direction fields, [exit, row, column] (a view)."""
        return self.dir_xy[..., 1]

    def distance_at(self, exit_index: int, x: float, y: float) -> float:
        """Geodesic distance (m) from (x, y) to exit `exit_index`, nearest raster cell."""
        i = int(np.clip((x - self.x0) // self.cell_m, 0, self.walkable.shape[1] - 1))
        j = int(np.clip((y - self.y0) // self.cell_m, 0, self.walkable.shape[0] - 1))
        return float(self.distance_m[exit_index, j, i])


def _outward_normal(area, line: LineString) -> np.ndarray:
    """Unit normal of the exit line pointing out of the walkable area."""
    (ax, ay), (bx, by) = line.coords[0], line.coords[-1]
    length = float(np.hypot(bx - ax, by - ay))
    nrm = np.array([-(by - ay), bx - ax]) / length
    mid = np.array(line.interpolate(0.5, normalized=True).coords[0])
    probe = 0.05
    inside_plus = area.buffer(1e-9).contains(shapely.Point(*(mid + probe * nrm)))
    inside_minus = area.buffer(1e-9).contains(shapely.Point(*(mid - probe * nrm)))
    if inside_plus and not inside_minus:
        return -nrm
    return nrm


def _wall_slowness(walkable, open_x, open_y, cell_m: float, avoid_m: float, cost: float = 1.0) -> np.ndarray:
    """1 + cost * (1 - d / avoid_m) within avoid_m of a wall (d: distance of the cell centre to the
    nearest wall cell or cut edge), 1 beyond: the steering field's price of walking along a wall."""
    from scipy import ndimage

    wall = walkable == 0
    wall[:, :-1] |= open_x[:, :-1] == 0
    wall[:, 1:] |= open_x[:, :-1] == 0
    wall[:-1, :] |= open_y[:-1, :] == 0
    wall[1:, :] |= open_y[:-1, :] == 0
    d = ndimage.distance_transform_edt(~wall) * cell_m
    return 1.0 + cost * np.clip(1.0 - d / avoid_m, 0.0, 1.0)


def _without_cracks(geom, min_hole_m2: float = 0.05):
    """Drop holes smaller than min_hole_m2 (slivers left where polygons almost meet: they would be walls)."""
    polys = geom.geoms if isinstance(geom, MultiPolygon) else [geom]
    kept = [Polygon(p.exterior, [r for r in p.interiors if Polygon(r).area >= min_hole_m2]) for p in polys if not p.is_empty]
    return MultiPolygon(kept) if len(kept) > 1 else kept[0]


def _wall_segments(geom) -> np.ndarray:
    """All boundary segments (exterior and holes) of a (Multi)Polygon as float64[n, 4]."""
    rings = []
    polys = geom.geoms if isinstance(geom, MultiPolygon) else [geom]
    for p in polys:
        if p.is_empty:
            continue
        rings.append(np.asarray(p.exterior.coords))
        rings.extend(np.asarray(r.coords) for r in p.interiors)
    segs = [np.hstack([r[:-1], r[1:]]) for r in rings if len(r) > 1]
    out = np.vstack(segs) if segs else np.zeros((0, 4))
    keep = np.hypot(out[:, 2] - out[:, 0], out[:, 3] - out[:, 1]) > 1e-9
    return np.ascontiguousarray(out[keep], dtype=np.float64)


def assembly_entry(area, polygon):
    """(the part of an assembly area on the walkable ground, its outline in the open as a list of
    LineStrings, their length m): the lines one steps in over (where the outline runs along a wall
    or the site's edge nobody crosses it)."""
    inside = area.intersection(polygon).buffer(0)
    if inside.is_empty:
        return inside, [], 0.0
    edge = area.boundary.buffer(0.05)
    open_part = inside.boundary.difference(edge)
    lines = [g for g in getattr(open_part, "geoms", [open_part]) if isinstance(g, LineString) and g.length > 1e-6]
    return inside, lines, float(sum(g.length for g in lines))


def prepare_geometry(*, walkable, obstacles, exits, areas=(), cell_m: float = 0.25, apron_m: float = 2.5,
                     wall_range_m: float = 1.0, wall_avoid_m: float = 1.0, wall_avoid_cost: float = 1.0) -> PreparedGeometry:
    """Rasterise the walkable area, compute one distance field per exit and assembly area, and index walls.

    walkable: (Multi)Polygon; obstacles: list of Polygons; exits: list of LineStrings; areas:
    assembly areas (Polygons) that are destinations, numbered after the exits.
    wall_range_m: walls farther than this from a cell are not listed for it (the wall
    repulsion has decayed to nothing well before: exp(-1 m / D_w)).
    """
    area = walkable.difference(unary_union(obstacles)) if obstacles else walkable
    aprons = []
    normals = []
    for line in exits:
        n_out = _outward_normal(area, line)
        (ax, ay), (bx, by) = line.coords[0], line.coords[-1]
        length = float(np.hypot(bx - ax, by - ay))
        tx, ty = (bx - ax) / length, (by - ay) / length
        # the apron starts a hair inside the line so that the union with the area leaves no
        # crack along the line (a hairline crack would be a wall across the exit)
        # (straight, not flared, on the inner side: the opening keeps its width at the line)
        back = 0.05
        apron = Polygon([(ax - back * n_out[0], ay - back * n_out[1]), (bx - back * n_out[0], by - back * n_out[1]),
                         (bx, by), (bx + apron_m * (n_out[0] + tx), by + apron_m * (n_out[1] + ty)),
                         (ax + apron_m * (n_out[0] - tx), ay + apron_m * (n_out[1] - ty)), (ax, ay)])
        aprons.append(apron)
        normals.append(n_out)
    # aprons must not pierce obstacles or the area on the other side of a wall
    full = _without_cracks(unary_union([area] + aprons).buffer(0))
    minx, miny, maxx, maxy = full.bounds
    x0, y0 = minx - cell_m, miny - cell_m
    nx = int(np.ceil((maxx - x0) / cell_m)) + 1
    ny = int(np.ceil((maxy - y0) / cell_m)) + 1
    cx = x0 + (np.arange(nx) + 0.5) * cell_m
    cy = y0 + (np.arange(ny) + 0.5) * cell_m
    gx, gy = np.meshgrid(cx, cy)
    shapely.prepare(full)
    walkable_mask = shapely.contains_xy(full, gx, gy).astype(np.uint8)
    wall_seg = _wall_segments(full)
    open_x, open_y = kernels.wall_edges(wall_seg, x0, y0, cell_m, nx, ny)
    entries = [assembly_entry(area, p) for p in areas]
    n_exits = len(exits) + len(areas)
    exit_depth = np.full(n_exits, np.inf)
    distance = np.empty((n_exits, ny, nx))
    dir_xy = np.empty((n_exits, ny, nx, 2), dtype=np.float32)   # float32: half the memory the kernel reads
    uniform = np.ones((ny, nx))
    steering = (_wall_slowness(walkable_mask, open_x, open_y, cell_m, wall_avoid_m, wall_avoid_cost)
                if wall_avoid_m > 0 else uniform)
    for k, apron in enumerate(aprons):
        shapely.prepare(apron)
        target = (shapely.contains_xy(apron, gx, gy) & (walkable_mask == 1)).astype(np.uint8)
        if not target.any():  # a very narrow exit: take the cells the line itself touches
            target = (shapely.dwithin(exits[k], shapely.points(gx, gy), 0.5 * cell_m) & (walkable_mask == 1)).astype(np.uint8)
        distance[k] = kernels.fast_marching(walkable_mask, target, cell_m, open_x, open_y, uniform)
        # directions from a field that costs more near walls: people keep off walls and round
        # corners in an arc instead of all pressing on the corner (distances stay geometric)
        steer = kernels.fast_marching(walkable_mask, target, cell_m, open_x, open_y, steering) if wall_avoid_m > 0 else distance[k]
        ux, uy = kernels.descent_directions(steer, cell_m, open_x, open_y)
        # inside the apron the field is flat: walk straight out through the opening
        ux[target == 1] = normals[k][0]
        uy[target == 1] = normals[k][1]
        dir_xy[k, :, :, 0], dir_xy[k, :, :, 1] = ux, uy
    if entries:
        from scipy import ndimage
    for a, (inside, lines, _) in enumerate(entries):
        k = len(exits) + a
        target = np.zeros((ny, nx), dtype=np.uint8)
        if not inside.is_empty:
            shapely.prepare(inside)
            target = (shapely.contains_xy(inside, gx, gy) & (walkable_mask == 1)).astype(np.uint8)
            if not target.any():  # a sliver of an area: the cells its outline touches
                target = (shapely.dwithin(inside, shapely.points(gx, gy), 0.5 * cell_m) & (walkable_mask == 1)).astype(np.uint8)
        distance[k] = kernels.fast_marching(walkable_mask, target, cell_m, open_x, open_y, uniform)
        steer = kernels.fast_marching(walkable_mask, target, cell_m, open_x, open_y, steering) if wall_avoid_m > 0 else distance[k]
        ux, uy = kernels.descent_directions(steer, cell_m, open_x, open_y)
        # inside the area: on, away from its open outline (uphill in the distance from the cells outside it)
        depth = ndimage.distance_transform_edt(target == 1)
        exit_depth[k] = float(depth.max()) * cell_m if target.any() else 0.0
        ix, iy = kernels.descent_directions(np.where(target == 1, -depth, np.inf), cell_m, open_x, open_y)
        ux[target == 1] = ix[target == 1]
        uy[target == 1] = iy[target == 1]
        dir_xy[k, :, :, 0], dir_xy[k, :, :, 1] = ux, uy
    wall_cell_m = 1.0
    wx0, wy0 = x0, y0
    wnx = int(np.ceil(nx * cell_m / wall_cell_m)) + 1
    wny = int(np.ceil(ny * cell_m / wall_cell_m)) + 1
    buckets: list[list[int]] = [[] for _ in range(wnx * wny)]
    for w, (ax, ay, bx, by) in enumerate(wall_seg):
        i0 = max(int((min(ax, bx) - wall_range_m - wx0) // wall_cell_m), 0)
        i1 = min(int((max(ax, bx) + wall_range_m - wx0) // wall_cell_m), wnx - 1)
        j0 = max(int((min(ay, by) - wall_range_m - wy0) // wall_cell_m), 0)
        j1 = min(int((max(ay, by) + wall_range_m - wy0) // wall_cell_m), wny - 1)
        jj, ii = np.mgrid[j0:j1 + 1, i0:i1 + 1]
        cells = shapely.box(wx0 + ii * wall_cell_m, wy0 + jj * wall_cell_m,
                            wx0 + (ii + 1) * wall_cell_m, wy0 + (jj + 1) * wall_cell_m)
        near = shapely.distance(LineString([(ax, ay), (bx, by)]), cells) <= wall_range_m
        for c in (jj[near] * wnx + ii[near]).ravel():
            buckets[int(c)].append(w)
    start = np.zeros(wnx * wny + 1, dtype=np.int64)
    start[1:] = np.cumsum([len(b) for b in buckets])
    items = np.array([w for b in buckets for w in b], dtype=np.int64)
    exit_seg = []
    exit_seg_exit = []
    lines_of = [[line] for line in exits] + [lines for _, lines, _ in entries]
    for k, lines in enumerate(lines_of):
        for line in lines:
            c = np.asarray(line.coords)
            for p, q in zip(c[:-1], c[1:]):
                exit_seg.append([p[0], p[1], q[0], q[1]])
                exit_seg_exit.append(k)
    return PreparedGeometry(
        area=area, cell_m=cell_m, x0=x0, y0=y0, walkable=walkable_mask, distance_m=distance,
        dir_xy=dir_xy, wall_seg=wall_seg, wall_x0=wx0, wall_y0=wy0, wall_cell_m=wall_cell_m,
        wall_nx=wnx, wall_ny=wny, wall_cell_start=start, wall_cell_items=items,
        exit_seg=np.asarray(exit_seg, dtype=np.float64).reshape(-1, 4),
        exit_seg_exit=np.asarray(exit_seg_exit, dtype=np.int64), exit_depth_m=exit_depth)
