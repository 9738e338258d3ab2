"""The pictures of the expert report and the public pages, as PNG bytes.

Matplotlib (Agg) draws the maps and plots: walking-distance maps per service, sunlight maps,
engine time series (design-storm hydrographs, cumulative evacuation curves) and distributions
(travel times). PyVista renders the 3D before/after views off screen (VTK's offscreen path,
no display needed); when that fails, `render_state` raises RenderUnavailable and the report
uses the PNG plans of twin.plan instead and says so.
"""
from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

from twin.model import Twin

STATE_COLOURS = ("#4d4d4d", "#1f77b4", "#d62728", "#2ca02c", "#9467bd")


class RenderUnavailable(Exception):
    """Off-screen 3D rendering does not work on this machine (the message says why)."""


def _png(figure) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _figure(panels: int, *, height: float = 4.2):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from twin.plan import cjk_font

    font = cjk_font()
    if font:  # Chinese state titles: Latin from DejaVu Sans, glyph-by-glyph fallback to the CJK font
        matplotlib.rcParams["font.family"] = ["DejaVu Sans", font]
        matplotlib.rcParams["axes.unicode_minus"] = False
    figure, axes = plt.subplots(1, panels, figsize=(4.6 * panels, height), squeeze=False)
    return figure, axes[0]


def _draw_polygon(ax, polygon, **style) -> None:
    for part in getattr(polygon, "geoms", [polygon]):
        if part.is_empty or not hasattr(part, "exterior"):
            continue
        x, y = part.exterior.xy
        ax.fill(x, y, **style)


def access_map(twins: dict[str, Twin], networks: dict[str, Any], service: str, radius_m: float, titles: dict[str, str]) -> bytes:
    """Buildings coloured by walking distance to the nearest `service`, one panel per state."""
    import matplotlib
    import matplotlib.cm as cm
    from matplotlib.colors import Normalize

    from twin.access import building_distances, service_sources

    figure, axes = _figure(len(twins))
    norm = Normalize(0.0, 2.0 * radius_m)
    cmap = matplotlib.colormaps["RdYlGn_r"]
    for ax, (state, twin) in zip(axes, twins.items()):
        network = networks[state]
        for a, b in network.graph.edges:
            (x0, y0), (x1, y1) = network.coords[a], network.coords[b]
            ax.plot([x0, x1], [y0, y1], color="#bbbbbb", linewidth=0.6, zorder=1)
        distances = building_distances(twin, network, service_sources(network, service))
        for building in twin.layers.buildings:
            d = distances.get(building.global_id, math.inf)
            colour = "#dddddd" if not building.residential else cmap(norm(min(d, 2 * radius_m)))
            _draw_polygon(ax, building.footprint, color=colour, zorder=2, edgecolor="#555555", linewidth=0.3)
        points = [p.position for p in twin.layers.service_points if p.service_type == service]
        if points:
            ax.scatter(*zip(*points), marker="*", s=140, color="#222222", zorder=3, label=service.replace("_", " "))
        site = twin.layers.site_boundary
        if site is not None:
            ax.set_xlim(site.bounds[0] - 10, site.bounds[2] + 10)
            ax.set_ylim(site.bounds[1] - 10, site.bounds[3] + 10)
        ax.set_aspect("equal")
        ax.set_title(titles.get(state, state), fontsize=10)
        ax.set_xlabel("x east (m)")
    axes[0].set_ylabel("y north (m)")
    bar = figure.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=list(axes), shrink=0.8)
    bar.set_label(f"walk to nearest {service.replace('_', ' ')} (m); target ≤ {radius_m:g} m")
    return _png(figure)


def sunlight_map(results: dict[str, Any], twins: dict[str, Twin], comparisons: dict[str, Any], titles: dict[str, str]) -> bytes:
    """Ground-floor dwellings coloured by hours of sun; proposals mark dwellings that lose sun."""
    from matplotlib.colors import Normalize

    figure, axes = _figure(len(results))
    norm = Normalize(0.0, 8.0)
    scatter = None
    for ax, (state, result) in zip(axes, results.items()):
        for building in twins[state].layers.buildings:
            _draw_polygon(ax, building.footprint, color="#e8e2d6", edgecolor="#777777", linewidth=0.3)
        ground = result.dwellings.storey == 1
        pts = result.dwellings.points[ground]
        scatter = ax.scatter(pts[:, 0], pts[:, 1], c=result.hours[ground], cmap="viridis", norm=norm, s=9, zorder=3)
        comparison = comparisons.get(state)
        if comparison is not None:
            index = {d: i for i, d in enumerate(result.dwellings.ids)}
            for rows, colour, label in ((comparison.better, "#1f77b4", "more sun"), (comparison.worse, "#ff7f0e", "less sun"), (comparison.exempt, "#9467bd", "below 2 h, exempt"),
                                        (comparison.violations, "#d62728", "pushed below 2 h")):
                xy = np.array([result.dwellings.points[index[r["dwelling"]], :2] for r in rows]).reshape(-1, 2)
                if len(xy):
                    ax.scatter(xy[:, 0], xy[:, 1], facecolors="none", edgecolors=colour, s=30, linewidths=0.8, zorder=4, label=label)
            if comparison.worse or comparison.better or comparison.violations:
                ax.legend(loc="lower right", fontsize=7)
        ax.set_aspect("equal")
        ax.set_title(f"{titles.get(state, state)}\n{100 * result.share_meeting():.1f} % of dwellings ≥ {result.settings.required_h:g} h", fontsize=10)
        ax.set_xlabel("x east (m)")
    axes[0].set_ylabel("y north (m)")
    bar = figure.colorbar(scatter, ax=list(axes), shrink=0.8)
    bar.set_label("hours of sun, Great Cold day, 8–16 h (ground floor)")
    return _png(figure)


def series_plot(runs: dict[str, Any], name: str, titles: dict[str, str], *, ylabel: str) -> bytes:
    """One series of an engine (e.g. a hydrograph or the cumulative evacuated) with one line per state."""
    figure, axes = _figure(1, height=3.6)
    ax = axes[0]
    for k, (state, series) in enumerate(runs.items()):
        times = np.asarray(series.times_s, dtype=np.float64)
        ax.plot(times / 60.0, np.asarray(series.values, dtype=np.float64), color=STATE_COLOURS[k % len(STATE_COLOURS)],
                label=titles.get(state, state), linewidth=1.4)
    ax.set_xlabel("time (min)")
    ax.set_ylabel(ylabel)
    ax.set_title(name.replace("_", " "), fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(figure)


def distribution_plot(values: dict[str, np.ndarray], name: str, unit: str, titles: dict[str, str]) -> bytes:
    """Histograms (one per state, overlaid) of per-trip or per-building values."""
    figure, axes = _figure(1, height=3.6)
    ax = axes[0]
    finite = [np.asarray(v, dtype=np.float64)[np.isfinite(v)] for v in values.values()]
    top = max((v.max() for v in finite if len(v)), default=1.0)
    bins = np.linspace(0.0, top * 1.02 or 1.0, 40)
    for k, (state, v) in enumerate(zip(values, finite)):
        ax.hist(v, bins=bins, histtype="step", linewidth=1.4, color=STATE_COLOURS[k % len(STATE_COLOURS)], label=titles.get(state, state))
    ax.set_xlabel(f"{name.replace('_', ' ')} ({unit})")
    ax.set_ylabel("count")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(figure)


# ------------------------------------------------------------------------------ 3D renders

CLASS_COLOURS = {
    "IfcWall": "#e3d9c6", "IfcRoof": "#b5654a", "IfcSlab": "#d9d3c7", "IfcWindow": "#7fa7c9", "IfcDoor": "#8a6d4d",
    "IfcPavement": "#9a9a9a", "IfcGeographicElement": "#8cbf6a", "IfcTransportElement": "#d62728",
    "IfcCovering": "#5e9e48", "IfcSpace": None, "IfcSpatialZone": None, "IfcPipeSegment": None,
    "IfcDistributionChamberElement": None, "IfcTank": None,
}
"""Colour per IFC class in renders; None = not drawn (spaces, buried pipes and tanks)."""
NEW_COLOUR = "#ff7f0e"


def render_state(twin: Twin, *, added: set[str] = frozenset(), size: tuple[int, int] = (900, 560)) -> bytes:
    """A 3D view of a state from the south-east, rendered off screen with PyVista; elements in
    `added` (new in a proposal) in orange, elevator shafts in red."""
    try:
        import pyvista as pv
    except ImportError as exc:  # pragma: no cover - pyvista is a dependency
        raise RenderUnavailable(f"pyvista not importable: {exc}") from None
    pv.OFF_SCREEN = True
    try:  # VTK tries an X display first and logs "bad X server connection" before going off screen
        from vtkmodules.vtkCommonCore import vtkLogger

        vtkLogger.SetStderrVerbosity(vtkLogger.VERBOSITY_OFF)
    except ImportError:
        pass
    groups: dict[str, list[np.ndarray]] = {}
    for element in twin.elements.values():
        colour = CLASS_COLOURS.get(element.ifc_class, "#c8c8c8")
        if element.mesh_id is None or colour is None:
            continue
        if element.global_id in added and element.ifc_class not in ("IfcTransportElement",):
            colour = NEW_COLOUR
        vertices, faces = twin.world_mesh(element)
        if len(faces):
            groups.setdefault(colour, []).append(vertices[faces])
    try:
        plotter = pv.Plotter(off_screen=True, window_size=list(size))
        plotter.set_background("white")
        for colour, parts in groups.items():
            tris = np.concatenate(parts).reshape(-1, 3)
            n = len(tris) // 3
            faces = np.column_stack([np.full(n, 3), np.arange(3 * n).reshape(-1, 3)]).ravel()
            plotter.add_mesh(pv.PolyData(tris, faces), color=colour, smooth_shading=False)
        site = twin.layers.site_boundary
        cx, cy = (site.centroid.x, site.centroid.y) if site is not None else (0.0, 0.0)
        span = max(site.bounds[2] - site.bounds[0], site.bounds[3] - site.bounds[1]) if site is not None else 200.0
        plotter.camera_position = [(cx + 0.75 * span, cy - 1.3 * span, 0.85 * span), (cx, cy, 0.0), (0, 0, 1)]
        image = plotter.screenshot(return_img=True)
        plotter.close()
    except Exception as exc:  # VTK without an offscreen backend raises many kinds of errors
        raise RenderUnavailable(f"{type(exc).__name__}: {exc}") from None
    if image is None or image.size == 0 or float(np.asarray(image).std()) < 1.0:
        raise RenderUnavailable("the offscreen render came back blank")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    plt.imsave(buffer, np.asarray(image), format="png")
    return buffer.getvalue()
