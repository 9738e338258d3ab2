"""Plan-view pictures of a community state: the map a designer looks at instead of a table.

`plan_map(twin, path)` draws one state from above — surfaces filled by type, buildings with
their storey counts, roads with one-way arrows, gates and entrances, parking with its
spaces, the storm network, LID facilities, service points, assembly areas, hydrants,
illegal structures and the site boundary — with a legend, a scale bar and a north arrow.
Given a `TwinDiff` it instead colours every element's plan outline by what the proposal did
to it (added, removed, geometry or data changed, unchanged), with the removed elements drawn
as red ghosts from the baseline. `side_by_side(base, other, path, diff)` puts before and after
next to each other at the same scale and extent.

Everything is drawn in twin coordinates (metres, x east, y north) with matplotlib's Agg
canvas (no pyplot, no global backend switch), and written atomically as PNG.
"""
from __future__ import annotations

import logging
import math
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import Point, Polygon
from shapely.geometry.polygon import orient

from twin.diff import STATUSES, TwinDiff, diff_twins
from twin.atomic import write_atomically
from twin.errors import OutputError
from twin.model import Element, Mesh, Twin

DPI = 150
PLAN_WIDTH_PX = 1600
"""Width of a single plan (map plus legend column), pixels at DPI."""
SIDE_BY_SIDE_WIDTH_PX = 2400
"""Width of a before | after picture, pixels at DPI."""
LEGEND_WIDTH_PX = 370
MAP_MIN_HEIGHT_PX = 760
MAP_MAX_HEIGHT_PX = 1500
HEADER_PX = 92
FOOTER_PX = 16
MARGIN_PX = 16

LANGUAGES = ("en", "zh")
CJK_FONT_NAMES = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei", "PingFang SC", "Heiti SC", "Sarasa Gothic SC",
    "AR PL UMing CN", "AR PL UKai CN", "Droid Sans Fallback", "Noto Sans CJK JP", "Noto Sans CJK TC",
)
"""Fonts with Simplified Chinese glyphs, in order of preference."""


PlanError = OutputError
"""A plan picture cannot be written (missing folder, unwritable path)."""


# ------------------------------------------------------------------------------------ styles

@dataclass(frozen=True, kw_only=True)
class FillStyle:
    """How a kind of area is filled on the plan."""

    face: str
    edge: str
    hatch: str | None = None
    zorder: float = 1.0


SURFACE_STYLES = {
    "green": FillStyle(face="#a9d18e", edge="#86b46b", zorder=1.00),
    "water": FillStyle(face="#7fb8e6", edge="#4a90c8", zorder=1.02),
    "paving": FillStyle(face="#dcdad5", edge="#c2bfb8", zorder=1.04),
    "permeable_paving": FillStyle(face="#e2cf9f", edge="#b49a5e", hatch="....", zorder=1.06),
    "road": FillStyle(face="#5c5c5c", edge="#4a4a4a", zorder=1.08),
    "roof": FillStyle(face="#b58e80", edge="#8c6a5d", zorder=1.12),
}
"""Surface types of twin.layers (roof terracotta-grey, road dark grey, paving light grey,
permeable paving tan hatched, green green, water blue); draw order ground first, roofs last."""
OTHER_SURFACE = FillStyle(face="#e4e1da", edge="#c9c5bc", zorder=1.03)

MAP_BACKGROUND = "#f3f1ec"
BUILDING_EDGE = "#3b2a22"
ROAD_CENTRELINE = "#ffffff"
ONE_WAY_ARROW = "#ffd43b"
PARKING_BLUE = "#1c5fc4"
STORM_BLUE = "#1c7ed6"
COMBINED_BROWN = "#8d5524"
LID_GREEN = "#19e04b"
ASSEMBLY_ORANGE = "#e8590c"
HYDRANT_RED = "#e03131"
ILLEGAL_RED = "#e03131"
GATE_PURPLE = "#6a1b9a"
SITE_EDGE = "#000000"
REMOVED_HATCH = "#5c0a0a"
HALO = "#ffffff"

STATUS_STYLES = {
    "added": FillStyle(face="#40c057", edge="#1f7a33", zorder=3.0),
    "removed": FillStyle(face="#fa5252", edge="#c92a2a", hatch="////", zorder=3.2),
    "geometry": FillStyle(face="#ff922b", edge="#c25e00", zorder=2.6),
    "geometry+data": FillStyle(face="#f76707", edge="#a34100", zorder=2.7),
    "data": FillStyle(face="#ffd43b", edge="#b08900", zorder=2.4),
    "unchanged": FillStyle(face="#dedede", edge="#a8a8a8", zorder=1.0),
}
"""Diff colours: added green, removed red hatched ghost, geometry orange, data yellow, unchanged grey."""

SERVICE_STYLES = {  # service_type: (en letter, zh glyph, colour)
    "kindergarten": ("K", "幼", "#e64980"),
    "elderly_station": ("E", "老", "#7048e8"),
    "community_centre": ("C", "社", "#1098ad"),
    "clinic": ("H", "医", "#e03131"),
    "supermarket": ("S", "超", "#f08c00"),
    "bus_stop": ("B", "站", "#1971c2"),
}
UNKNOWN_SERVICE_COLOUR = "#495057"

TEXT = {  # key: (English, Chinese)
    "green": ("Green space", "绿地"),
    "water": ("Water", "水体"),
    "paving": ("Paving", "硬质铺装"),
    "permeable_paving": ("Permeable paving", "透水铺装"),
    "road": ("Road", "道路"),
    "roof": ("Roof", "屋面"),
    "other_surface": ("Other surface", "其他下垫面"),
    "building": ("Building (storeys)", "建筑（层数）"),
    "centreline": ("Road centreline", "道路中心线"),
    "one_way": ("One-way direction", "单行方向"),
    "gate_vehicle": ("Gate, vehicles", "车行出入口"),
    "gate_pedestrian": ("Gate, pedestrians", "人行出入口"),
    "gate_closed": ("Gate, closed", "关闭的出入口"),
    "entrance": ("Building entrance", "单元入口"),
    "parking": ("Parking (spaces, EV chargers)", "停车场（车位、充电桩）"),
    "parking_underground": ("Underground parking", "地下停车库"),
    "storm_pipe": ("Storm pipe (width by Ø)", "雨水管（线宽示管径）"),
    "combined_pipe": ("Combined sewer", "雨污合流管"),
    "manhole": ("Manhole", "检查井"),
    "inlet": ("Inlet", "雨水口"),
    "outfall": ("Outfall", "排放口"),
    "lid": ("LID facility", "海绵设施"),
    "assembly": ("Assembly area", "应急避难场地"),
    "hydrant": ("Fire hydrant", "消火栓"),
    "illegal": ("Illegal structure", "违章建筑"),
    "barrier": ("Wall / barrier", "围墙 / 障碍物"),
    "elevator": ("Elevator", "电梯"),
    "site": ("Site boundary", "用地红线"),
    "context": ("Surroundings", "周边城市"),
    "kindergarten": ("Kindergarten", "幼儿园"),
    "elderly_station": ("Elderly care station", "养老服务站"),
    "community_centre": ("Community centre", "社区中心"),
    "clinic": ("Clinic", "卫生服务站"),
    "supermarket": ("Supermarket", "超市"),
    "bus_stop": ("Bus stop", "公交站"),
    "added": ("Added", "新增"),
    "removed": ("Removed", "拆除"),
    "geometry": ("Geometry changed", "几何变更"),
    "geometry+data": ("Geometry + data changed", "几何与属性变更"),
    "data": ("Data changed", "属性变更"),
    "unchanged": ("Unchanged", "未变"),
    "legend": ("Legend", "图例"),
    "changes": ("Changes", "变更"),
    "before": ("Before", "改造前"),
    "after": ("After", "改造后"),
    "north": ("N", "北"),
    "caption": ("{side}: {name}", "{side}：{name}"),
    "storeys": ("{n}F", "{n}层"),
    "diff_title": ("{base} → {other}: what changed", "{base} → {other}：变更"),
    "stats": ("{buildings} buildings · {residents:,} residents · {spaces} parking spaces · "
              "{pipe_m:,.0f} m storm pipe · {lid} LID facilities",
              "建筑 {buildings} 栋 · 居民 {residents:,} 人 · 车位 {spaces} 个 · 雨水管 {pipe_m:,.0f} m · 海绵设施 {lid} 处"),
    "diff_stats": ("{added} added · {removed} removed · {geometry} geometry changed · {data} data changed · "
                   "{unchanged} unchanged elements",
                   "新增 {added} · 拆除 {removed} · 几何变更 {geometry} · 属性变更 {data} · 未变 {unchanged} 个构件"),
}


# ------------------------------------------------------------------------------------ public API

def plan_map(twin: Twin, path: str | os.PathLike, *, title: str | None = None, diff: TwinDiff | None = None,
             base: Twin | None = None, lang: str = "en") -> Path:
    """Draw one state seen from above as a PNG at `path` (about 1600 px wide) and return the path.

    Without `diff`: the simulation layers (twin.layers) in plan. With `diff` (and `base`, the
    baseline twin, for the elements the proposal removed): every element's plan outline
    coloured by its diff status. `lang` is 'en' or 'zh' (Chinese text when a CJK font is
    installed, English otherwise). The folder of `path` must exist; raises PlanError if not.
    """
    path = _checked_output(path)
    text = _Text(lang)
    footprints = PlanFootprints()
    if diff is None:
        extent = _layers_extent(twin)
        heading = title or twin.name
        subtitle = _stats_line(twin, text)
    else:
        drawn = _diff_elements(twin, diff, base, footprints)
        extent = _union_extent([_layers_extent(twin), _geometries_extent(g for _, _, g in drawn)])
        heading = title or text("diff_title", base=diff.base_name, other=diff.other_name)
        subtitle = text("diff_stats", **_diff_counts(diff))
    with text.fonts():
        canvas = _Canvas(width_px=PLAN_WIDTH_PX, extent=extent, panels=1, title=heading, subtitle=subtitle, text=text)
        ax = canvas.maps[0]
        legend = _Legend(text)
        if diff is None:
            _draw_layers(ax, twin, legend, text)
        else:
            _draw_diff_elements(ax, drawn, diff, legend, text)
            _label_changes(ax, twin, base, drawn)
            boundary = site_boundary(twin)
            if boundary is None and base is not None:
                boundary = site_boundary(base)
            _draw_site_boundary(ax, boundary, legend)
        canvas.finish(legend)
        _save(canvas.figure, path)
    return path


def side_by_side(base: Twin, other: Twin, path: str | os.PathLike, diff: TwinDiff | None = None, *,
                 title: str | None = None, captions: tuple[str, str] | None = None, lang: str = "en") -> Path:
    """Before | after in one PNG (about 2400 px wide), both plans at the same scale and extent.

    The left plan is `base` with what the proposal removes or changes outlined; the right is
    `other` with what it adds or changes outlined. `diff` defaults to diff_twins(base, other).
    `captions` name the two plans (default: the twins' names), e.g. a project's state titles.
    """
    path = _checked_output(path)
    text = _Text(lang)
    diff = diff if diff is not None else diff_twins(base, other)
    footprints = PlanFootprints()
    before = _status_outlines(base, diff, footprints, ("removed", "geometry", "geometry+data", "data"))
    after = _status_outlines(other, diff, footprints, ("added", "geometry", "geometry+data", "data"))
    extent = _union_extent([_layers_extent(base), _layers_extent(other),
                            _geometries_extent(before.values()), _geometries_extent(after.values())])
    names = captions or (base.name, other.name)
    heading = title or f"{names[0]} | {names[1]}"
    subtitle = text("diff_stats", **_diff_counts(diff))
    with text.fonts():
        canvas = _Canvas(width_px=SIDE_BY_SIDE_WIDTH_PX, extent=extent, panels=2, title=heading, subtitle=subtitle, text=text)
        legend = _Legend(text)
        panels = ((canvas.maps[0], base, before, "before", names[0]), (canvas.maps[1], other, after, "after", names[1]))
        for ax, twin, outlines, side, name in panels:
            _draw_layers(ax, twin, legend, text)
            _draw_status_outlines(ax, outlines, diff, legend, text)
            caption = name if name == text(side) else text("caption", side=text(side), name=name)  # not "Before: Before"
            ax.set_title(caption, fontsize=12, fontweight="bold", loc="left", pad=6)
        canvas.finish(legend)
        _save(canvas.figure, path)
    return path


# ------------------------------------------------------------------------------------ text and fonts

class _Text:
    """Label text in one language; Chinese only when a CJK font is installed."""

    def __init__(self, lang: str) -> None:
        if lang not in LANGUAGES:
            raise ValueError(f"lang must be one of {', '.join(LANGUAGES)}, not {lang!r}")
        self.font = cjk_font() if lang == "zh" else None
        self.lang = "zh" if self.font else "en"

    def __call__(self, key: str, **values: Any) -> str:
        english, chinese = TEXT[key]
        template = chinese if self.lang == "zh" else english
        return template.format(**values) if values else template

    def label(self, key: str) -> str:
        """Text for a key that may not be in TEXT (an unknown service type): the key itself."""
        if key in TEXT:
            return self(key)
        return key.replace("_", " ").capitalize()

    @contextmanager
    def fonts(self):
        """matplotlib settings for drawing: Latin from DejaVu Sans (it has bold), Chinese glyphs
        from the CJK font; quiet about the bold weight many CJK fonts lack."""
        import matplotlib

        params: dict[str, Any] = {"font.family": "sans-serif"}
        if self.font:
            params["font.family"] = ["DejaVu Sans", self.font]  # a list: glyph-by-glyph fallback
            params["axes.unicode_minus"] = False
        font_log = logging.getLogger("matplotlib.font_manager")
        level = font_log.level
        font_log.setLevel(logging.ERROR)
        try:
            with matplotlib.rc_context(params):
                yield
        finally:
            font_log.setLevel(level)


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """Name of an installed font with Simplified Chinese glyphs, or None."""
    from matplotlib import font_manager

    def known() -> set[str]:
        return {entry.name for entry in font_manager.fontManager.ttflist}

    names = known()
    if not any(name in names for name in CJK_FONT_NAMES):
        # matplotlib's font cache predates fonts installed since; look for CJK files directly.
        hints = ("cjk", "wqy", "wenquanyi", "sourcehansans", "notosanssc", "simhei", "msyh", "droidsansfallback", "uming", "ukai")
        try:
            files = font_manager.findSystemFonts()
        except Exception:  # a broken fontconfig must not stop a picture
            files = []
        for file in files:
            if any(hint in Path(file).name.lower().replace("-", "").replace("_", "") for hint in hints):
                try:
                    font_manager.fontManager.addfont(file)
                except Exception:
                    continue
        names = known()
    for name in CJK_FONT_NAMES:
        if name in names:
            return name
    return None


# ------------------------------------------------------------------------------------ element outlines

class PlanFootprints:
    """Plan outlines of elements from their meshes, each computed once per picture.

    An element's outline is the union of its upward-facing triangles projected to XY (all its
    triangles when none face up), or their convex hull when that covers the same area, which
    is the common case of slabs, walls and boxes. Meshes placed by a transform that keeps the
    vertical vertical (IFC placements almost always do) are outlined once in their own frame
    and moved, so repeated windows or states sharing the baseline's meshes cost nothing more.
    """

    def __init__(self) -> None:
        self._local: dict[int, tuple[Mesh, Any]] = {}
        self._world: dict[tuple[int, bytes], tuple[Mesh, Any]] = {}

    def of(self, twin: Twin, element: Element):
        """The element's plan outline (a shapely polygonal geometry), or None without a mesh."""
        if element.mesh_id is None:
            return None
        mesh = twin.meshes.get(element.mesh_id)
        if mesh is None or len(mesh.faces) == 0:
            return None
        t = np.asarray(element.transform, dtype=np.float64)
        if _keeps_vertical(t):
            cached = self._local.get(id(mesh))
            if cached is None:
                cached = (mesh, plan_outline(mesh.vertices.astype(np.float64), mesh.faces))
                self._local[id(mesh)] = cached
            local = cached[1]
            if local is None:
                return None
            return affinity.affine_transform(local, [t[0, 0], t[0, 1], t[1, 0], t[1, 1], t[0, 3], t[1, 3]])
        key = (id(mesh), np.round(t, 6).tobytes())
        cached = self._world.get(key)
        if cached is None:
            cached = (mesh, plan_outline(twin.world_vertices(element), mesh.faces))
            self._world[key] = cached
        return cached[1]


def _keeps_vertical(t: np.ndarray) -> bool:
    """True when the transform maps local z to world z (scaled > 0) and xy to xy."""
    return (abs(t[2, 0]) < 1e-9 and abs(t[2, 1]) < 1e-9 and abs(t[0, 2]) < 1e-9 and abs(t[1, 2]) < 1e-9
            and t[2, 2] > 0 and abs(np.linalg.det(t[:2, :2])) > 1e-12)


def plan_outline(vertices: np.ndarray, faces: np.ndarray):
    """Plan outline of a triangle mesh: a shapely Polygon/MultiPolygon in the vertices' XY, or None."""
    if len(faces) == 0 or len(vertices) == 0:
        return None
    tris = vertices[faces]
    a, b, c = tris[:, 0], tris[:, 1], tris[:, 2]
    normal = np.cross(b - a, c - a)
    length = np.linalg.norm(normal, axis=1)
    up = (length > 1e-12) & (normal[:, 2] > 0.1 * np.maximum(length, 1e-12))
    if up.any():
        upper = tris[up][:, :, :2]
        plan_area = 0.5 * float(normal[up, 2].sum())
        hull = shapely.convex_hull(shapely.multipoints(upper.reshape(-1, 2)))
        # The faces cover their hull (to 2 %): the hull is the outline. Else union them.
        if hull.area > 0 and 0.98 * hull.area <= plan_area <= 1.02 * hull.area:
            return hull
        polygons = shapely.polygons(upper)
        polygons = polygons[shapely.area(polygons) > 1e-9]
        if len(polygons):
            outline = shapely.union_all(polygons, grid_size=1e-3)
            if not outline.is_empty:
                return outline
    hull = shapely.convex_hull(shapely.multipoints(tris.reshape(-1, 3)[:, :2]))
    if hull.is_empty:
        return None
    if hull.area <= 1e-6:  # a vertical panel or a line seen edge-on: give it a visible width
        return hull.buffer(0.05, cap_style="flat" if hull.geom_type == "LineString" else "round")
    return hull


def _diff_elements(twin: Twin, diff: TwinDiff, base: Twin | None, footprints: PlanFootprints) -> list[tuple[str, str, Any]]:
    """(GlobalId, status, outline) of every drawable element: the twin's, then the base's removed ones."""
    drawn = []
    for gid, element in twin.elements.items():
        if gid not in diff:
            raise ValueError(f"element {gid} of {twin.name!r} is not in the diff {diff.base_name!r} → {diff.other_name!r}")
        outline = footprints.of(twin, element)
        if outline is not None and not outline.is_empty:
            drawn.append((gid, diff.status_of(gid), outline))
    if base is not None:
        for gid in diff.removed:
            element = base.elements.get(gid)
            if element is None or gid in twin.elements:
                continue
            outline = footprints.of(base, element)
            if outline is not None and not outline.is_empty:
                drawn.append((gid, "removed", outline))
    return drawn


def _status_outlines(twin: Twin, diff: TwinDiff, footprints: PlanFootprints, statuses: tuple[str, ...]) -> dict[str, Any]:
    """status → union of the plan outlines of the twin's elements with that status."""
    parts: dict[str, list] = {status: [] for status in statuses}
    for gid, element in twin.elements.items():
        status = diff.status_of(gid) if gid in diff else None
        if status in parts:
            outline = footprints.of(twin, element)
            if outline is not None and not outline.is_empty:
                parts[status].append(outline)
    return {status: shapely.union_all(geoms, grid_size=1e-2) for status, geoms in parts.items() if geoms}


def _diff_counts(diff: TwinDiff) -> dict[str, int]:
    counts = diff.summary()["counts"]
    return {"added": counts["added"], "removed": counts["removed"], "data": counts["data"],
            "geometry": counts["geometry"] + counts["geometry+data"], "unchanged": counts["unchanged"]}


# ------------------------------------------------------------------------------------ geometry helpers

def _polygons(geometry) -> list[Polygon]:
    """The polygons in any shapely geometry (collections flattened, lines and points dropped)."""
    if geometry is None or geometry.is_empty:
        return []
    if geometry.geom_type == "Polygon":
        return [geometry]
    if hasattr(geometry, "geoms"):
        return [p for part in geometry.geoms for p in _polygons(part)]
    return []


def _path(geometry):
    """A matplotlib Path of a polygonal geometry, holes cut (exterior CCW, holes CW), or None."""
    from matplotlib.path import Path as MplPath

    vertices, codes = [], []
    for polygon in _polygons(geometry):
        polygon = orient(polygon, sign=1.0)
        for ring in (polygon.exterior, *polygon.interiors):
            xy = np.asarray(ring.coords)[:, :2]
            if len(xy) < 4:
                continue
            ring_codes = np.full(len(xy), MplPath.LINETO, dtype=np.uint8)
            ring_codes[0], ring_codes[-1] = MplPath.MOVETO, MplPath.CLOSEPOLY
            vertices.append(xy)
            codes.append(ring_codes)
    if not vertices:
        return None
    return MplPath(np.concatenate(vertices), np.concatenate(codes))


def _fill(ax, geometries: Iterable, *, face, edge, linewidth: float = 0.6, hatch: str | None = None,
          zorder: float = 1.0, alpha: float | None = None, linestyle: str = "solid", effects=None):
    """Fill polygonal geometries as one collection; `face`/`edge` a colour or one colour per geometry."""
    from matplotlib.collections import PathCollection

    paths, faces, edges = [], [], []
    for index, geometry in enumerate(geometries):
        path = _path(geometry)
        if path is None:
            continue
        paths.append(path)
        faces.append(face[index] if isinstance(face, list) else face)
        edges.append(edge[index] if isinstance(edge, list) else edge)
    if not paths:
        return None
    collection = PathCollection(paths, facecolors=faces, edgecolors=edges, linewidths=linewidth, hatch=hatch,
                                zorder=zorder, alpha=alpha, linestyles=linestyle)
    if effects:
        collection.set_path_effects(effects)
    ax.add_collection(collection, autolim=False)
    return collection


def _bounds(geometries: Iterable) -> tuple[float, float, float, float] | None:
    array = np.array([g for g in geometries if g is not None and not g.is_empty], dtype=object)
    if len(array) == 0:
        return None
    xmin, ymin, xmax, ymax = shapely.total_bounds(array)
    if not np.all(np.isfinite([xmin, ymin, xmax, ymax])):
        return None
    return float(xmin), float(ymin), float(xmax), float(ymax)


def _geometries_extent(geometries: Iterable):
    return _bounds(list(geometries))


def _union_extent(extents) -> tuple[float, float, float, float] | None:
    boxes = [e for e in extents if e is not None]
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _layers_extent(twin: Twin):
    """Bounds of everything the plan draws for the twin's own site (not its city context)."""
    layers = twin.layers
    geometries: list = [layers.site_boundary]
    geometries += [s.footprint for s in layers.surfaces] + [b.footprint for b in layers.buildings]
    geometries += [r.centreline for r in layers.roads] + [p.footprint for p in layers.parking]
    geometries += [l.footprint for l in layers.lid_facilities] + [a.footprint for a in layers.assembly_areas]
    geometries += [a.footprint for a in layers.illegal_structures] + [a.footprint for a in layers.barriers]
    points = [g.position[:2] for g in layers.gates] + [e.position[:2] for e in layers.entrances]
    points += [n.position for n in layers.manholes + layers.outfalls] + [h.position[:2] for h in layers.hydrants]
    points += [s.position for s in layers.service_points]
    points += [p.start[:2] for p in layers.pipes] + [p.end[:2] for p in layers.pipes]
    if points:
        geometries.append(shapely.multipoints(np.asarray(points, dtype=np.float64)))
    own = _bounds(geometries)
    boundary = site_boundary(twin)
    if boundary is not None and boundary is not layers.site_boundary:
        return _union_extent([own, boundary.bounds])
    return own


def site_boundary(twin: Twin):
    """The site's outline: the IfcSite shape, else the CIM context's site boundary when it lies
    over the twin's own elements (a context file registered elsewhere is not the site)."""
    layers = twin.layers
    if layers.site_boundary is not None and not layers.site_boundary.is_empty:
        return layers.site_boundary
    boundary = (twin.context or {}).get("site_boundary")
    if boundary is None or boundary.is_empty:
        return None
    own = [b.footprint for b in layers.buildings] + [s.footprint for s in layers.surfaces]
    own_bounds = _bounds(own)
    if own_bounds is None or shapely.box(*own_bounds).intersects(boundary):
        return boundary
    return None


# ------------------------------------------------------------------------------------ figure layout

class _Canvas:
    """A figure of `panels` equal map axes side by side, with the legend, the scale bar and
    the north arrow in a column on the right (one map) or a strip below (two maps)."""

    def __init__(self, *, width_px: int, extent, panels: int, title: str, subtitle: str, text: _Text) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        xmin, ymin, xmax, ymax = extent if extent is not None else (-10.0, -10.0, 10.0, 10.0)
        span = max(xmax - xmin, ymax - ymin, 20.0)
        margin = 0.03 * span + 2.0  # around the site; a sliver of a site is widened to a tenth of its span
        xmin, xmax = min(xmin, (xmin + xmax) / 2 - 0.1 * span) - margin, max(xmax, (xmin + xmax) / 2 + 0.1 * span) + margin
        ymin, ymax = min(ymin, (ymin + ymax) / 2 - 0.1 * span) - margin, max(ymax, (ymin + ymax) / 2 + 0.1 * span) + margin
        self.limits = (xmin, xmax, ymin, ymax)
        self.text = text
        self.legend_below = panels > 1

        legend_w = 0 if self.legend_below else LEGEND_WIDTH_PX
        strip_h = LEGEND_STRIP_PX if self.legend_below else 0
        map_w = (width_px - legend_w - MARGIN_PX * (panels + 1 + (not self.legend_below))) / panels
        map_h = int(np.clip(map_w * (ymax - ymin) / (xmax - xmin), MAP_MIN_HEIGHT_PX, MAP_MAX_HEIGHT_PX))
        panel_title_px = 30 if panels > 1 else 0
        height_px = HEADER_PX + panel_title_px + map_h + strip_h + FOOTER_PX
        self.width_px, self.height_px = width_px, height_px
        self.figure = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI, facecolor="white")
        FigureCanvasAgg(self.figure)
        # Widen the limits to the map's own proportions: equal aspect without matplotlib moving them.
        cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
        metres_per_px = max((xmax - xmin) / map_w, (ymax - ymin) / map_h)
        xmin, xmax = cx - metres_per_px * map_w / 2, cx + metres_per_px * map_w / 2
        ymin, ymax = cy - metres_per_px * map_h / 2, cy + metres_per_px * map_h / 2
        self.limits = (xmin, xmax, ymin, ymax)
        self.maps = []
        map_bottom = FOOTER_PX + strip_h
        for index in range(panels):
            left = MARGIN_PX + index * (map_w + MARGIN_PX)
            ax = self.figure.add_axes([left / width_px, map_bottom / height_px, map_w / width_px, map_h / height_px])
            ax.set_facecolor(MAP_BACKGROUND)
            ax.set_xlim(xmin, xmax)
            ax.set_ylim(ymin, ymax)
            ax.set_aspect("equal", adjustable="box")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_edgecolor("#9a968c")
                spine.set_linewidth(0.8)
            self.maps.append(ax)
        if self.legend_below:
            box = [MARGIN_PX, FOOTER_PX, width_px - 2 * MARGIN_PX - KEYS_WIDTH_PX, strip_h - 24]
        else:
            left = MARGIN_PX * (panels + 1) + panels * map_w
            box = [left, FOOTER_PX, width_px - left - MARGIN_PX / 2, map_h + panel_title_px]
        self.legend_axes = self.figure.add_axes([box[0] / width_px, box[1] / height_px, box[2] / width_px, box[3] / height_px])
        self.legend_axes.axis("off")
        self.figure.text(MARGIN_PX / width_px, 1 - 14 / height_px, title, fontsize=17, fontweight="bold", va="top", ha="left")
        self.figure.text(MARGIN_PX / width_px, 1 - 58 / height_px, subtitle, fontsize=9.5, color="#495057", va="top", ha="left")

    def finish(self, legend: "_Legend") -> None:
        """Fix the maps' limits (equal aspect), then draw the legend, the scale bar and the north
        arrow outside the maps, where they hide nothing of the plan."""
        for ax in self.maps:
            ax.apply_aspect()
        ax = self.maps[0]
        metres_per_px = (ax.get_xlim()[1] - ax.get_xlim()[0]) / (ax.get_position().width * self.width_px)
        figure_px = (self.width_px, self.height_px)
        box = self.legend_axes.get_position()
        if self.legend_below:
            legend.draw_row(self.legend_axes)
            keys_left = self.width_px - MARGIN_PX - KEYS_WIDTH_PX
            _draw_scale_bar(self.figure, left_px=keys_left + 10, bottom_px=box.y1 * self.height_px - 60,
                            max_width_px=KEYS_WIDTH_PX - 90, metres_per_px=metres_per_px, figure_px=figure_px)
            _draw_north_arrow(self.figure, self.text, x_px=self.width_px - MARGIN_PX - 30,
                              bottom_px=box.y1 * self.height_px - 80, figure_px=figure_px)
            return
        legend.draw(self.legend_axes, bottom=KEYS_HEIGHT_PX / (box.height * self.height_px))
        _draw_scale_bar(self.figure, left_px=box.x0 * self.width_px + 6, bottom_px=box.y0 * self.height_px + 24,
                        max_width_px=box.width * self.width_px - 110, metres_per_px=metres_per_px, figure_px=figure_px)
        _draw_north_arrow(self.figure, self.text, x_px=(box.x0 + box.width) * self.width_px - 46,
                          bottom_px=box.y0 * self.height_px + 14, figure_px=figure_px)


LEGEND_STRIP_PX = 230
"""Height of the legend strip under side-by-side maps."""
KEYS_WIDTH_PX = 330
"""Width kept at the right end of the legend strip for the scale bar and the north arrow."""
KEYS_HEIGHT_PX = 110
"""Height kept free at the bottom of the legend column for the scale bar and the north arrow."""


def _draw_scale_bar(figure, *, left_px: float, bottom_px: float, max_width_px: float, metres_per_px: float,
                    figure_px: tuple[int, int]) -> None:
    """A two-tone bar of a round length (1, 2 or 5 × 10^n m), drawn to the maps' scale."""
    from matplotlib.patches import Rectangle

    target = max_width_px * metres_per_px
    magnitude = 10 ** math.floor(math.log10(target))
    length = max(step * magnitude for step in (1, 2, 5, 10) if step * magnitude <= target)
    width_px = length / metres_per_px
    fig_w, fig_h = figure_px
    ax = figure.add_axes([left_px / fig_w, bottom_px / fig_h, width_px / fig_w, 44 / fig_h])
    ax.set_xlim(0, length)
    ax.set_ylim(0, 1)
    ax.axis("off")
    for k, colour in enumerate(("#212529", "white", "#212529", "white")):
        ax.add_patch(Rectangle((k * length / 4, 0.05), length / 4, 0.22, facecolor=colour, edgecolor="#212529",
                               linewidth=0.9, clip_on=False))
    for value in (0, length / 2, length):
        ax.text(value, 0.42, f"{value:g}", ha="center", va="bottom", fontsize=8.5, clip_on=False)
    ax.text(length + 0.04 * length, 0.16, "m", ha="left", va="center", fontsize=9, clip_on=False)


def _draw_north_arrow(figure, text: _Text, *, x_px: float, bottom_px: float, figure_px: tuple[int, int]) -> None:
    """North is +y in twin coordinates."""
    fig_w, fig_h = figure_px
    tail, tip = (x_px / fig_w, bottom_px / fig_h), (x_px / fig_w, (bottom_px + 58) / fig_h)
    from matplotlib.patches import FancyArrowPatch

    figure.patches.append(FancyArrowPatch(
        tail, tip, transform=figure.transFigure, arrowstyle="simple,head_width=1.1,head_length=1.0,tail_width=0.4",
        mutation_scale=16, facecolor="#212529", edgecolor="#212529", figure=figure))
    figure.text(x_px / fig_w, (bottom_px + 62) / fig_h, text("north"), ha="center", va="bottom", fontsize=12,
                fontweight="bold")


@dataclass
class _Legend:
    """Legend entries collected while drawing, each once, in drawing order, in sections."""

    text: _Text
    entries: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)

    def add(self, key: str, handle, label: str | None = None, section: str = "legend") -> None:
        label = label if label is not None else self.text.label(key)
        items = self.entries.setdefault(section, [])
        if all(existing != label for existing, _ in items):
            items.append((label, handle))
            if section == "changes":  # always in STATUSES order, whichever panel drew what first
                self._keys[label] = key
                items.sort(key=lambda item: STATUSES.index(self._keys[item[0]]))

    def __post_init__(self) -> None:
        self._keys: dict[str, str] = {}

    def draw(self, ax, *, bottom: float = 0.0) -> None:
        """Sections stacked from the top of `ax`; smaller type if they would reach `bottom` (axes fraction)."""
        renderer = ax.figure.canvas.get_renderer()
        for fontsize, spacing in ((9.5, 0.6), (8.5, 0.42), (7.5, 0.3), (6.5, 0.2)):
            drawn, top = [], 1.0
            for section, items in self.entries.items():
                if not items:
                    continue
                legend = ax.legend([h for _, h in items], [l for l, _ in items], loc="upper left",
                                   bbox_to_anchor=(0.0, top), title=self.text(section), title_fontsize=fontsize + 2,
                                   alignment="left", fontsize=fontsize, frameon=False, handlelength=2.4,
                                   handleheight=1.3, labelspacing=spacing, borderaxespad=0.0)
                ax.add_artist(legend)
                drawn.append(legend)
                box = legend.get_window_extent(renderer).transformed(ax.transAxes.inverted())
                top = box.y0 - 0.025
            wide = any(legend.get_window_extent(renderer).transformed(ax.transAxes.inverted()).x1 > 1.0 for legend in drawn)
            if (top >= bottom and not wide) or fontsize == 6.5:
                return
            for legend in drawn:
                legend.remove()

    def draw_row(self, ax, *, rows: int = 7) -> None:
        """Sections side by side from the left of `ax`, each in as many columns as `rows` needs;
        smaller type if they would run past its right edge."""
        renderer = ax.figure.canvas.get_renderer()
        for fontsize, spacing in ((9.5, 0.45), (8.5, 0.35), (7.5, 0.3)):
            drawn, left = [], 0.0
            for section, items in self.entries.items():
                if not items:
                    continue
                legend = ax.legend([h for _, h in items], [l for l, _ in items], loc="upper left",
                                   bbox_to_anchor=(left, 1.0), title=self.text(section), title_fontsize=fontsize + 2,
                                   alignment="left", fontsize=fontsize, frameon=False, handlelength=2.4,
                                   handleheight=1.2, labelspacing=spacing, columnspacing=1.6, borderaxespad=0.0,
                                   ncols=math.ceil(len(items) / rows))
                ax.add_artist(legend)
                drawn.append(legend)
                box = legend.get_window_extent(renderer).transformed(ax.transAxes.inverted())
                left = box.x1 + 0.02
            if left <= 1.02 or fontsize == 7.5:
                return
            for legend in drawn:
                legend.remove()


# ------------------------------------------------------------------------------------ drawing the layers

def _halo(width: float = 2.5, colour: str = HALO):
    import matplotlib.patheffects as pe

    return [pe.withStroke(linewidth=width, foreground=colour)]


def _patch(style: FillStyle, **kwargs):
    from matplotlib.patches import Patch

    values = dict(facecolor=style.face, edgecolor=style.edge, hatch=style.hatch, linewidth=0.8)
    values.update(kwargs)
    return Patch(**values)


def _marker(**kwargs):
    from matplotlib.lines import Line2D

    return Line2D([], [], linestyle="none", **kwargs)


def _line(**kwargs):
    from matplotlib.lines import Line2D

    return Line2D([], [], **kwargs)


@dataclass
class _Labels:
    """Text on a map, placed most important first; a label that would overlap one already
    placed (or an icon) or stick out of the map is left out rather than drawn over it."""

    ax: Any
    requests: list[tuple[float, int, tuple, dict]] = field(default_factory=list)
    reserved: list = field(default_factory=list)

    def add(self, priority: float, x: float, y: float, label: str, *, offset: tuple[float, float] = (0.0, 0.0),
            nudge: bool = False, **style: Any) -> None:
        """Ask for a label at (x, y) + offset points; with `nudge`, also try just above and below."""
        offsets = [offset] + ([(offset[0], offset[1] - 13), (offset[0], offset[1] + 13)] if nudge else [])
        self.requests.append((priority, len(self.requests), (label, (x, y), offsets), style))

    def reserve_icon(self, x: float, y: float, size_pt: float) -> None:
        """Keep a square of `size_pt` points around (x, y) free of labels (a marker is there)."""
        from matplotlib.transforms import Bbox

        cx, cy = self.ax.transData.transform((x, y))
        half = size_pt / 2 * self.ax.figure.dpi / 72
        self.reserved.append(Bbox([[cx - half, cy - half], [cx + half, cy + half]]))

    def place(self) -> None:
        renderer = self.ax.figure.canvas.get_renderer()
        frame = self.ax.get_window_extent(renderer)
        placed = list(self.reserved)
        for _, _, (label, xy, offsets), style in sorted(self.requests, key=lambda r: r[:2]):
            for offset in offsets:
                artist = self.ax.annotate(label, xy, xytext=offset, textcoords="offset points", ha="center",
                                          va="center", annotation_clip=True, **style)
                box = artist.get_window_extent(renderer).padded(1.5)
                inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
                if inside and not any(box.overlaps(other) for other in placed):
                    placed.append(box)
                    break
                artist.remove()


def _points_per_metre(ax) -> float:
    box = ax.get_window_extent()
    return box.width / (ax.get_xlim()[1] - ax.get_xlim()[0]) * 72 / ax.figure.dpi


def _draw_layers(ax, twin: Twin, legend: _Legend, text: _Text) -> None:
    """Every layer of the twin's plan, ground first; legend entries only for what is drawn."""
    layers = twin.layers
    xmin, xmax = ax.get_xlim()
    ymin, ymax = ax.get_ylim()
    view_area = (xmax - xmin) * (ymax - ymin)
    labels = _Labels(ax)
    pt_per_m = _points_per_metre(ax)
    _draw_context(ax, twin, legend)

    by_type: dict[str, list] = {}
    for surface in layers.surfaces:
        by_type.setdefault(surface.surface_type, []).append(surface.footprint)
    ordered = sorted(by_type, key=lambda kind: SURFACE_STYLES.get(kind, OTHER_SURFACE).zorder)
    for kind in ordered:
        style = SURFACE_STYLES.get(kind, OTHER_SURFACE)
        _fill(ax, by_type[kind], face=style.face, edge=style.edge, hatch=style.hatch, linewidth=0.4, zorder=style.zorder)
        legend.add(kind if kind in SURFACE_STYLES else "other_surface", _patch(style))

    # Roads: the carriageway band (for roads without a road surface), centreline, one-way arrows.
    road = SURFACE_STYLES["road"]
    bands = [r.centreline.buffer(r.width_m / 2, cap_style="flat") for r in layers.roads if r.centreline.length > 0]
    if bands:
        _fill(ax, bands, face=road.face, edge=road.face, linewidth=0.3, zorder=road.zorder - 0.001)
        legend.add("road", _patch(road))
    for r in layers.roads:
        xy = np.asarray(r.centreline.coords)[:, :2]
        ax.plot(xy[:, 0], xy[:, 1], color=ROAD_CENTRELINE, linewidth=0.9, linestyle=(0, (6, 4)), zorder=2.6, alpha=0.9)
    if layers.roads:
        legend.add("centreline", _line(color=ROAD_CENTRELINE, linewidth=1.2, linestyle=(0, (4, 3)),
                                       path_effects=_halo(2.6, road.face)))
    _draw_one_way_arrows(ax, [r for r in layers.roads if r.one_way], legend)

    # Buildings: a roof-coloured footprint under any roof surface, outline, storeys for large ones.
    roof = SURFACE_STYLES["roof"]
    footprints = [b.footprint for b in layers.buildings]
    if footprints:
        _fill(ax, footprints, face=roof.face, edge="none", linewidth=0, zorder=roof.zorder - 0.01)
        _fill(ax, footprints, face="none", edge=BUILDING_EDGE, linewidth=1.1, zorder=2.2)
        legend.add("building", _patch(roof, edgecolor=BUILDING_EDGE, linewidth=1.1))
    label_area = max(60.0, 0.0012 * view_area)
    services = np.array([p.position for p in layers.service_points]).reshape(-1, 2)
    for building in layers.buildings:
        if building.footprint.is_empty or building.footprint.area < label_area:
            continue
        spot = building.footprint.centroid
        if not spot.within(building.footprint):
            spot = building.footprint.representative_point()
        # A service disc sits on the centroid of its building: put the storeys under it.
        near = len(services) and float(np.min(np.hypot(services[:, 0] - spot.x, services[:, 1] - spot.y))) * pt_per_m < 12
        labels.add(3, spot.x, spot.y, text("storeys", n=building.storeys), offset=(0, -15 if near else 0), fontsize=8,
                   fontweight="bold", color="#2b1d17", zorder=6.0, path_effects=_halo(2.2))

    # Barriers and illegal structures.
    if layers.barriers:
        _fill(ax, [a.footprint for a in layers.barriers], face="#343a40", edge="#343a40", linewidth=0.6, zorder=2.3)
        legend.add("barrier", _patch(FillStyle(face="#343a40", edge="#343a40")))
    illegal = [a.footprint for a in layers.illegal_structures if not a.footprint.is_empty]
    if illegal:
        _fill(ax, illegal, face=ILLEGAL_RED, edge="#9b1c1c", linewidth=1.0, zorder=2.45, alpha=0.75)
        centres = np.array([[g.representative_point().x, g.representative_point().y] for g in illegal])
        ax.plot(centres[:, 0], centres[:, 1], linestyle="none", marker="X", markersize=9, markerfacecolor="white",
                markeredgecolor="#9b1c1c", markeredgewidth=1.0, zorder=2.5)
        legend.add("illegal", (_patch(FillStyle(face=ILLEGAL_RED, edge="#9b1c1c"), alpha=0.75),
                               _marker(marker="X", markersize=8, markerfacecolor="white", markeredgecolor="#9b1c1c",
                                       markeredgewidth=0.8)))

    # Assembly areas, parking, LID facilities.
    if layers.assembly_areas:
        _fill(ax, [a.footprint for a in layers.assembly_areas], face="none", edge=ASSEMBLY_ORANGE, hatch="///",
              linewidth=1.4, zorder=2.0)
        legend.add("assembly", _patch(FillStyle(face="none", edge=ASSEMBLY_ORANGE, hatch="///"), linewidth=1.4))
    _draw_parking(ax, layers.parking, legend, labels)
    lids = [l.footprint for l in layers.lid_facilities]
    if lids:
        _fill(ax, lids, face=LID_GREEN, edge="none", linewidth=0, zorder=2.05, alpha=0.25)
        _fill(ax, lids, face="none", edge=LID_GREEN, linewidth=2.0, zorder=2.7, effects=_halo(3.6, "#0b4f1c"))
        legend.add("lid", _patch(FillStyle(face="#c5f6cf", edge=LID_GREEN), linewidth=2.0))

    _draw_storm_network(ax, layers, legend, pt_per_m)

    # Points: entrances, gates, hydrants, elevators, service points.
    if layers.entrances:
        xy = np.array([e.position[:2] for e in layers.entrances])
        ax.plot(xy[:, 0], xy[:, 1], linestyle="none", marker="o", markersize=3.2, markerfacecolor="#212529",
                markeredgecolor="white", markeredgewidth=0.5, zorder=3.5)
        legend.add("entrance", _marker(marker="o", markersize=4, markerfacecolor="#212529", markeredgecolor="white"))
    gate_kinds = {"gate_vehicle": dict(markerfacecolor=GATE_PURPLE, markeredgecolor="white"),
                  "gate_pedestrian": dict(markerfacecolor="white", markeredgecolor=GATE_PURPLE),
                  "gate_closed": dict(markerfacecolor="#adb5bd", markeredgecolor="#c92a2a")}
    for kind, colours in gate_kinds.items():
        gates = [g for g in layers.gates
                 if (kind == "gate_closed" and not g.open) or (g.open and (kind == "gate_vehicle") == g.vehicular)]
        if not gates:
            continue
        xy = np.array([g.position[:2] for g in gates])
        ax.plot(xy[:, 0], xy[:, 1], linestyle="none", marker="^", markersize=10, markeredgewidth=1.3, zorder=3.7, **colours)
        legend.add(kind, _marker(marker="^", markersize=10, markeredgewidth=1.3, **colours))
    if layers.hydrants:
        xy = np.array([h.position[:2] for h in layers.hydrants])
        ax.plot(xy[:, 0], xy[:, 1], linestyle="none", marker="o", markersize=5.5, markerfacecolor=HYDRANT_RED,
                markeredgecolor="white", markeredgewidth=0.8, zorder=3.6)
        legend.add("hydrant", _marker(marker="o", markersize=6, markerfacecolor=HYDRANT_RED, markeredgecolor="white"))
    if layers.elevators:
        xy = np.array([e.position[:2] for e in layers.elevators])
        ax.plot(xy[:, 0], xy[:, 1], linestyle="none", marker="s", markersize=4, markerfacecolor="#0c8599",
                markeredgecolor="white", markeredgewidth=0.5, zorder=3.55)
        legend.add("elevator", _marker(marker="s", markersize=5, markerfacecolor="#0c8599", markeredgecolor="white"))
    _draw_service_points(ax, layers.service_points, legend, text, labels)
    _draw_site_boundary(ax, site_boundary(twin), legend)
    labels.place()


def _draw_context(ax, twin: Twin, legend: _Legend) -> None:
    """The city around the site (twin.cim), pale, under everything."""
    context = twin.context or {}
    view = shapely.box(ax.get_xlim()[0], ax.get_ylim()[0], ax.get_xlim()[1], ax.get_ylim()[1])

    def in_view(geometries):
        return [g for g in geometries if g is not None and not g.is_empty and g.intersects(view)]

    greens = in_view(g["surface"] for g in context.get("green", []))
    roads = in_view(r.get("surface") for r in context.get("roads", []))
    buildings = in_view(b["footprint"] for b in context.get("buildings", []))
    if greens:
        _fill(ax, greens, face="#dcebd0", edge="none", linewidth=0, zorder=0.5)
    if roads:
        _fill(ax, roads, face="#d9d9d9", edge="none", linewidth=0, zorder=0.52)
    if buildings:
        _fill(ax, buildings, face="#e3ddd5", edge="#b8afa3", linewidth=0.5, zorder=0.54)
    if greens or roads or buildings:
        legend.add("context", _patch(FillStyle(face="#e3ddd5", edge="#b8afa3")))


def _draw_one_way_arrows(ax, roads, legend: _Legend) -> None:
    """Arrowheads along one-way centrelines (travel from the line's start to its end), every ~25 m."""
    from matplotlib.markers import MarkerStyle

    drawn = False
    for road in roads:
        line = road.centreline
        if line.length <= 0:
            continue
        count = max(1, int(line.length // 25))
        for k in range(count):
            distance = (k + 0.5) * line.length / count
            a = line.interpolate(max(0.0, distance - 0.5))
            b = line.interpolate(min(line.length, distance + 0.5))
            angle = math.degrees(math.atan2(b.y - a.y, b.x - a.x))
            p = line.interpolate(distance)
            ax.plot([p.x], [p.y], linestyle="none", marker=MarkerStyle(">").rotated(deg=angle), markersize=8,
                    markerfacecolor=ONE_WAY_ARROW, markeredgecolor="#212529", markeredgewidth=0.6, zorder=2.65)
            drawn = True
    if drawn:
        legend.add("one_way", _marker(marker=">", markersize=8, markerfacecolor=ONE_WAY_ARROW, markeredgecolor="#212529",
                                      markeredgewidth=0.6))


def _draw_parking(ax, lots, legend: _Legend, labels: _Labels) -> None:
    """Lots outlined in blue (kerbside strips thinner, underground dashed), labelled 'P spaces' and 'EV chargers'."""
    if not lots:
        return
    surface = [p for p in lots if p.kind not in ("underground", "on_street")]
    kerbside = [p for p in lots if p.kind == "on_street"]
    underground = [p for p in lots if p.kind == "underground"]
    if surface:
        _fill(ax, [p.footprint for p in surface], face=PARKING_BLUE, edge="none", linewidth=0, zorder=2.02, alpha=0.12)
        _fill(ax, [p.footprint for p in surface], face="none", edge=PARKING_BLUE, linewidth=1.5, zorder=2.35)
    if kerbside:
        _fill(ax, [p.footprint for p in kerbside], face="none", edge=PARKING_BLUE, linewidth=0.8, zorder=2.35)
    if surface or kerbside:
        legend.add("parking", _patch(FillStyle(face="#dbe7f8", edge=PARKING_BLUE), linewidth=1.5))
    if underground:
        _fill(ax, [p.footprint for p in underground], face="none", edge=PARKING_BLUE, linewidth=1.5, zorder=2.35,
              linestyle=(0, (5, 3)))
        legend.add("parking_underground", _patch(FillStyle(face="none", edge=PARKING_BLUE), linewidth=1.5, linestyle="--"))
    for lot in lots:
        label = f"P {lot.spaces}" + (f"\nEV {lot.ev_chargers}" if lot.ev_chargers else "")
        spot = lot.footprint.representative_point() if not lot.footprint.is_empty else Point(lot.position)
        small = lot.kind == "on_street"
        labels.add(2 + small, spot.x, spot.y, label, fontsize=6.5 if small else 8, fontweight="bold",
                   color=PARKING_BLUE, linespacing=1.0, zorder=6.0, path_effects=_halo(2.2))


def _draw_storm_network(ax, layers, legend: _Legend, pt_per_m: float) -> None:
    """Pipes as lines 0.5 pt + 2.5 pt per metre of diameter (they run under the roads, which
    must stay readable); manholes and inlets about 2 m across but never specks; outfalls as stars."""
    from matplotlib.collections import LineCollection

    for system, colour, key in (("STORMWATER", STORM_BLUE, "storm_pipe"), ("COMBINED", COMBINED_BROWN, "combined_pipe")):
        pipes = [p for p in layers.pipes if p.system == system]
        if not pipes:
            continue
        segments = [[p.start[:2], p.end[:2]] for p in pipes]
        widths = [0.5 + 2.5 * p.diameter_m for p in pipes]
        ax.add_collection(LineCollection(segments, colors=colour, linewidths=widths, zorder=3.0, alpha=0.85,
                                         capstyle="round"), autolim=False)
        legend.add(key, _line(color=colour, linewidth=2.4))
    manholes = [m for m in layers.manholes if not m.inlet]
    inlets = [m for m in layers.manholes if m.inlet]
    if manholes:
        xy = np.array([m.position for m in manholes])
        ax.plot(xy[:, 0], xy[:, 1], linestyle="none", marker="o", markersize=float(np.clip(2.0 * pt_per_m, 2.6, 4.5)),
                markerfacecolor="white", markeredgecolor=STORM_BLUE, markeredgewidth=0.9, zorder=3.1)
        legend.add("manhole", _marker(marker="o", markersize=5, markerfacecolor="white", markeredgecolor=STORM_BLUE,
                                      markeredgewidth=1.2))
    if inlets:
        xy = np.array([m.position for m in inlets])
        ax.plot(xy[:, 0], xy[:, 1], linestyle="none", marker="s", markersize=float(np.clip(1.5 * pt_per_m, 2.0, 3.6)),
                markerfacecolor="white", markeredgecolor=STORM_BLUE, markeredgewidth=0.7, zorder=3.1)
        legend.add("inlet", _marker(marker="s", markersize=4.5, markerfacecolor="white", markeredgecolor=STORM_BLUE))
    if layers.outfalls:
        xy = np.array([o.position for o in layers.outfalls])
        ax.plot(xy[:, 0], xy[:, 1], linestyle="none", marker="*", markersize=17, markerfacecolor="#0b3d91",
                markeredgecolor="white", markeredgewidth=1.0, zorder=3.2)
        legend.add("outfall", _marker(marker="*", markersize=14, markerfacecolor="#0b3d91", markeredgecolor="white"))


def _draw_service_points(ax, points, legend: _Legend, text: _Text, labels: _Labels) -> None:
    """A coloured disc with a letter (a character in Chinese) per service point."""
    for point in points:
        letter_en, glyph_zh, colour = SERVICE_STYLES.get(
            point.service_type, (point.service_type[:1].upper() or "?", point.service_type[:1].upper() or "?", UNKNOWN_SERVICE_COLOUR))
        letter = glyph_zh if text.lang == "zh" else letter_en
        x, y = point.position
        ax.plot([x], [y], linestyle="none", marker="o", markersize=15, markerfacecolor=colour, markeredgecolor="white",
                markeredgewidth=1.4, zorder=4.3)
        ax.text(x, y, letter, ha="center", va="center_baseline", fontsize=8, fontweight="bold", color="white", zorder=4.4)
        labels.reserve_icon(x, y, 16)
        disc = _marker(marker="o", markersize=13, markerfacecolor=colour, markeredgecolor="white", markeredgewidth=1.2)
        handle = (disc, _marker(marker=f"${letter}$", markersize=6.5, color="white")) if letter.isascii() else disc
        legend.add(point.service_type, handle, label=f"{letter}  {text.label(point.service_type)}")


def _draw_site_boundary(ax, boundary, legend: _Legend) -> None:
    if boundary is None or boundary.is_empty:
        return
    for polygon in _polygons(boundary):
        xy = np.asarray(polygon.exterior.coords)
        ax.plot(xy[:, 0], xy[:, 1], color=SITE_EDGE, linewidth=1.8, linestyle=(0, (7, 3)), zorder=5.0)
    legend.add("site", _line(color=SITE_EDGE, linewidth=1.8, linestyle=(0, (5, 2))))


def _stats_line(twin: Twin, text: _Text) -> str:
    layers = twin.layers
    return text("stats", buildings=len(layers.buildings), residents=sum(b.residents for b in layers.buildings),
                spaces=sum(p.spaces for p in layers.parking), pipe_m=sum(p.length_m for p in layers.pipes),
                lid=len(layers.lid_facilities))


# ------------------------------------------------------------------------------------ drawing a diff

_DRAW_PRIORITY = {status: rank for rank, status in enumerate(("unchanged", "data", "geometry", "geometry+data", "added", "removed"))}


def _draw_diff_elements(ax, drawn: list[tuple[str, str, Any]], diff: TwinDiff, legend: _Legend, text: _Text) -> None:
    """Fill every element's outline by status, large before small so nothing small is hidden;
    then outline each changed element again on top (a change under a roof still shows), then
    the removed elements as red hatched ghosts."""
    present = [item for item in drawn if item[1] != "removed"]
    present.sort(key=lambda item: (-item[2].area, _DRAW_PRIORITY[item[1]]))
    _fill(ax, [g for _, _, g in present], face=[_fill_colour(s) for _, s, _ in present],
          edge=[STATUS_STYLES[s].edge if s != "unchanged" else "#b3b3b3" for _, s, _ in present],
          linewidth=0.35, zorder=1.0)
    for status in ("data", "geometry", "geometry+data", "added"):
        outlines = [g for _, s, g in present if s == status]
        if outlines:
            style = STATUS_STYLES[status]
            _fill(ax, outlines, face="none", edge=style.face, linewidth=1.3, zorder=style.zorder,
                  effects=_halo(2.6, style.edge))
    ghosts = [g for _, s, g in drawn if s == "removed"]
    if ghosts:
        style = STATUS_STYLES["removed"]
        # One merged ghost: the storeys of a demolished block must not stack their tints, and
        # what replaces it (drawn green below) must show through the hatching.
        merged = shapely.union_all(ghosts, grid_size=1e-2)
        _fill(ax, [merged], face=style.face, edge="none", linewidth=0, zorder=style.zorder, alpha=0.18)
        _fill(ax, [merged], face="none", edge=style.face, hatch=style.hatch, linewidth=1.4, zorder=style.zorder + 0.01)
        _ring_small(ax, ghosts, style.face)
    counts = diff.summary()["counts"]
    for status in ("added", "removed", "geometry", "geometry+data", "data", "unchanged"):
        if counts[status] == 0 and status not in ("added", "removed", "unchanged"):
            continue
        style = STATUS_STYLES[status]
        handle = _patch(style, facecolor=_fill_colour(status), edgecolor=style.edge)
        if status == "removed":
            handle = _patch(FillStyle(face="#fdd8d8", edge=style.face, hatch=style.hatch))
        legend.add(status, handle, label=f"{text(status)} ({counts[status]:,})", section="changes")


def _fill_colour(status: str):
    """Fill of an element in the diff picture: changed ones half-way to white, so a large
    changed paving does not drown the plan; their outlines carry the full colour."""
    from matplotlib.colors import to_rgb

    rgb = np.asarray(to_rgb(STATUS_STYLES[status].face))
    return tuple(rgb) if status in ("unchanged", "added") else tuple(0.5 * rgb + 0.5)


def _label_changes(ax, twin: Twin, base: Twin | None, drawn: list[tuple[str, str, Any]], limit: int = 40) -> None:
    """Name what was added or removed, by element name (parts of one name together), the
    largest first, none smaller than about 0.1 % of the view, none over another."""
    xmin, xmax = ax.get_xlim()
    ymin, ymax = ax.get_ylim()
    smallest = max(15.0, 0.001 * (xmax - xmin) * (ymax - ymin))
    groups: dict[tuple[str, str], list] = {}
    names: dict[tuple[str, str], str] = {}
    for gid, status, outline in drawn:
        if status not in ("added", "removed"):
            continue
        source = base if status == "removed" and base is not None else twin
        element = source.elements.get(gid)
        if element is None:
            continue
        name = element.name or element.ifc_class.removeprefix("Ifc")
        # A whole building added or removed is named once, by its own name, not by its walls.
        other = base if status == "added" else twin
        if element.building and other is not None and element.building not in other.spatial:
            node = source.spatial.get(element.building)
            name = (node.name if node is not None else None) or name
        key = (status, name)
        names[key] = name
        groups.setdefault(key, []).append(outline)
    areas = {key: shapely.union_all(parts, grid_size=1e-2) for key, parts in groups.items()}
    ranked = sorted((key for key in areas if areas[key].area >= smallest), key=lambda key: -areas[key].area)
    labels = _Labels(ax)
    for rank, key in enumerate(ranked[:limit]):
        spot = areas[key].representative_point()
        labels.add(rank, spot.x, spot.y, names[key], nudge=True, fontsize=8, fontweight="bold",
                   color=STATUS_STYLES[key[0]].edge, zorder=6.0, path_effects=_halo(2.6))
    labels.place()


def _draw_status_outlines(ax, outlines: dict[str, Any], diff: TwinDiff, legend: _Legend, text: _Text) -> None:
    """Outlines over a plan: bold (with a dark halo) for what the proposal adds or removes,
    thin for what it reshapes or edits, which can be most of the surfaces of a retrofit."""
    counts = diff.summary()["counts"]
    handles = {}
    for status in ("data", "geometry", "geometry+data", "added", "removed"):
        geometry = outlines.get(status)
        if geometry is None or geometry.is_empty:
            continue
        style = STATUS_STYLES[status]
        if status == "removed":
            # Dark hatching reads on anything, including the red of the illegal structures removed.
            _fill(ax, [geometry], face="none", edge=REMOVED_HATCH, hatch="xxx", linewidth=0, zorder=5.1)
            _fill(ax, [geometry], face="none", edge=style.face, linewidth=2.2, zorder=5.2, linestyle=(0, (4, 2)),
                  effects=_halo(3.8, "#212529"))
            _ring_small(ax, _polygons(geometry), style.face)
            handles[status] = (_patch(FillStyle(face="#ffe3e3", edge=REMOVED_HATCH, hatch="xxx"), linewidth=0),
                               _patch(FillStyle(face="none", edge=style.face), linewidth=2.0, linestyle="--"))
        elif status == "added":
            _fill(ax, [geometry], face=style.face, edge="none", linewidth=0, zorder=5.1, alpha=0.22)
            _fill(ax, [geometry], face="none", edge=style.face, linewidth=2.2, zorder=5.2, effects=_halo(3.8, "#212529"))
            handles[status] = _patch(FillStyle(face="none", edge=style.face), linewidth=2.0)
        else:
            _fill(ax, [geometry], face="none", edge=style.edge if status == "data" else style.face, linewidth=1.1,
                  zorder=5.15)
            handles[status] = _patch(FillStyle(face="none", edge=style.edge if status == "data" else style.face),
                                     linewidth=1.1)
    for status in ("added", "removed", "geometry", "geometry+data", "data"):
        if status in handles:
            legend.add(status, handles[status], label=f"{text(status)} ({counts[status]:,})", section="changes")


def _ring_small(ax, geometries, colour: str, smaller_than_pt: float = 9.0) -> None:
    """A ring around each patch too small to find on the map (a shed on a 500 m site); the
    parts of one demolished building merge into one patch first, which is then large."""
    pt_per_m = _points_per_metre(ax)
    patches = _polygons(shapely.union_all([g for g in geometries if not g.is_empty], grid_size=1e-2).buffer(0.5))
    centres = [g.representative_point() for g in patches if math.sqrt(max(g.area, 0.0)) * pt_per_m < smaller_than_pt]
    if centres:
        ax.plot([c.x for c in centres], [c.y for c in centres], linestyle="none", marker="o", markersize=13,
                markerfacecolor="none", markeredgecolor=colour, markeredgewidth=1.8, zorder=5.3,
                path_effects=_halo(3.4, "#212529"))


# ------------------------------------------------------------------------------------ output

def _checked_output(path: str | os.PathLike) -> Path:
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise PlanError(f"cannot write {path}: folder {folder} does not exist")
    if path.is_dir():
        raise PlanError(f"cannot write {path}: it is a folder")
    return path


def _save(figure, path: Path) -> None:
    """Render the PNG whole, then put it in place (twin.atomic)."""
    write_atomically(path, lambda stream: figure.savefig(stream, format="png", dpi=DPI, facecolor=figure.get_facecolor()))
