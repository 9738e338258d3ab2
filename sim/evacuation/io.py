"""GeoJSON scenario in, trajectories out (a table PedPy reads).

Scenario format (issue 5 contract) — a GeoJSON FeatureCollection in a projected CRS, metres:

    {"type": "FeatureCollection",
     "settings": {"dt_s": 0.05, "max_time_s": 600},          # optional
     "features": [
       {"type": "Feature", "properties": {"role": "walkable"}, "geometry": Polygon|MultiPolygon},  # holes = obstacles
       {"type": "Feature", "properties": {"role": "obstacle"}, "geometry": Polygon},
       {"type": "Feature", "properties": {"role": "exit", "width_m": 1.0, "id": "gate-north"},
        "geometry": LineString across the opening},
       {"type": "Feature", "properties": {"role": "assembly"}, "geometry": Polygon},
       {"type": "Feature", "properties": {"role": "agent", "group": "elderly",
        "speed_mps": 0.8, "premovement_s": 30}, "geometry": Point},
       {"type": "Feature", "properties": {"role": "entrance", "id": "block-3/2", "residents": 31,
        "storeys": 6, "dwellings": 12, "door_width_m": 1.1, "stair_width_m": 1.1,
        "storey_height_m": 2.8}, "geometry": Point in front of the door}]}

group is one of adult (default), elderly, child, mobility_impaired; speed_mps and
premovement_s are optional (drawn from the group and the run settings when absent).
An exit with "open": false is a closed gate: no exit, but listed in the report.
An entrance is a walk-up's stairwell door: its residents start in their flats and come out
there (stairwell.py). An agent counts as evacuated when it crosses an exit line.
The full format is documented in docs/evacuation_scenario.md.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import LineString, Point, shape
from shapely.ops import substring, unary_union

from .model import GROUPS, Agent, Exit, Scenario, ScenarioError
from .stairwell import Stairwell

ROLES = ("walkable", "obstacle", "exit", "assembly", "agent", "entrance")
_GEOMETRY_OF_ROLE = {"walkable": ("Polygon", "MultiPolygon"), "obstacle": ("Polygon", "MultiPolygon"),
                     "exit": ("LineString",), "assembly": ("Polygon", "MultiPolygon"), "agent": ("Point",),
                     "entrance": ("Point",)}


def _number(where, props, key, *, positive=False, minimum=None, default=None):
    if key not in props or props[key] is None:
        return default
    v = props[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ScenarioError(f"{where}: field '{key}' must be a number, got {v!r}")
    if positive and v <= 0:
        raise ScenarioError(f"{where}: field '{key}' must be > 0, got {v!r}")
    if minimum is not None and v < minimum:
        raise ScenarioError(f"{where}: field '{key}' must be >= {minimum}, got {v!r}")
    return float(v)


def read_scenario(path: str | os.PathLike) -> Scenario:
    """Read a GeoJSON scenario file; ScenarioError names the file, feature index and field."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"{path}: file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: not valid JSON ({exc})") from None
    return scenario_from_geojson(doc, name=str(path))


def scenario_from_geojson(doc: dict, *, name: str = "scenario") -> Scenario:
    """Build a Scenario from a parsed GeoJSON FeatureCollection (see the module docstring)."""
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ScenarioError(f"{name}: expected a GeoJSON FeatureCollection (field 'type')")
    features = doc.get("features")
    if not isinstance(features, list):
        raise ScenarioError(f"{name}: field 'features' must be a list")
    settings_in = doc.get("settings", {}) or {}
    if not isinstance(settings_in, dict):
        raise ScenarioError(f"{name}: field 'settings' must be an object")
    settings = {}
    for key in ("dt_s", "max_time_s"):
        v = _number(f"{name} settings", settings_in, key, positive=True)
        if v is not None:
            settings[key] = v
    walkable, obstacles, exits, assembly, agents, stairwells = [], [], [], [], [], []
    assembly_ids: list[str] = []
    exit_where = []
    for index, feat in enumerate(features):
        where = f"{name} feature {index}"
        if not isinstance(feat, dict) or feat.get("type") != "Feature":
            raise ScenarioError(f"{where}: expected a GeoJSON Feature (field 'type')")
        props = feat.get("properties") or {}
        if not isinstance(props, dict):
            raise ScenarioError(f"{where}: field 'properties' must be an object")
        role = props.get("role")
        if role not in ROLES:
            raise ScenarioError(f"{where}: field 'properties.role' is {role!r}; expected one of {', '.join(ROLES)}")
        geom_json = feat.get("geometry")
        if not isinstance(geom_json, dict) or geom_json.get("type") not in _GEOMETRY_OF_ROLE[role]:
            got = geom_json.get("type") if isinstance(geom_json, dict) else geom_json
            raise ScenarioError(f"{where}: field 'geometry' of a {role} must be "
                                f"{' or '.join(_GEOMETRY_OF_ROLE[role])}, got {got!r}")
        try:
            geom = shape(geom_json)
        except Exception as exc:  # shapely raises several kinds on malformed coordinates
            raise ScenarioError(f"{where}: field 'geometry' is malformed ({exc})") from None
        if geom.is_empty:
            raise ScenarioError(f"{where}: field 'geometry' is empty")
        if role in ("walkable", "obstacle", "assembly"):
            if not geom.is_valid:
                raise ScenarioError(f"{where}: field 'geometry' is not a valid polygon "
                                    f"({shapely.is_valid_reason(geom)})")
            {"walkable": walkable, "obstacle": obstacles, "assembly": assembly}[role].append(geom)
            if role == "assembly":
                ident = props.get("id", f"assembly-{len(assembly)}")
                if not isinstance(ident, str) or not ident or ident in assembly_ids:
                    raise ScenarioError(f"{where}: field 'id' of an assembly area must be a unique non-empty string, got {ident!r}")
                assembly_ids.append(ident)
        elif role == "exit":
            width = _number(where, props, "width_m", positive=True)
            if width is None:
                raise ScenarioError(f"{where}: field 'width_m' (clear width of the exit, m) is required")
            if geom.length <= 0:
                raise ScenarioError(f"{where}: field 'geometry' is an exit line of zero length")
            exit_id = props.get("id", f"exit-{len(exits)}")
            if not isinstance(exit_id, (str, int)) or str(exit_id) in {e.id for e in exits}:
                raise ScenarioError(f"{where}: field 'id' {exit_id!r} must be a unique string")
            is_open = props.get("open", True)
            if not isinstance(is_open, bool):
                raise ScenarioError(f"{where}: field 'open' must be true or false, got {is_open!r}")
            if width > geom.length + 0.01:
                raise ScenarioError(f"{where}: field 'width_m' {width:g} m is wider than the exit line "
                                    f"({geom.length:.2f} m long); draw the line across the whole opening")
            if width < geom.length - 0.01:
                # the clear width is what people pass through: the middle of the line, the rest is wall
                # (a gate leaf, a bollard, a turnstile frame)
                cut = 0.5 * (geom.length - width)
                geom = substring(geom, cut, geom.length - cut)
            exits.append(Exit(id=str(exit_id), coords=tuple((float(c[0]), float(c[1])) for c in geom.coords),
                              width_m=width, open=is_open))
            exit_where.append(where)
        elif role == "entrance":
            stairwells.append(_stairwell(where, props, geom, len(stairwells)))
        else:
            group = props.get("group", "adult")
            if group not in GROUPS:
                raise ScenarioError(f"{where}: field 'group' is {group!r}; expected one of {', '.join(GROUPS)}")
            agents.append(Agent(x=float(geom.x), y=float(geom.y), group=group,
                                speed_mps=_number(where, props, "speed_mps", positive=True),
                                premovement_s=_number(where, props, "premovement_s", minimum=0.0),
                                source=where))
    if not walkable:
        raise ScenarioError(f"{name}: no feature with role 'walkable'")
    if not exits and not assembly:
        raise ScenarioError(f"{name}: no feature with role 'exit' or 'assembly'")
    _refuse_overlapping(agents)
    area = unary_union(walkable)
    if obstacles:
        area = area.difference(unary_union(obstacles))
    for exit_, where in zip(exits, exit_where):
        problem = exit_edge_problem(area, LineString(exit_.coords))
        if problem:
            raise ScenarioError(f"{where}: exit {exit_.id!r} {problem}; draw the exit line across the opening, "
                                f"on the edge of the walkable area")
    return Scenario(walkable=unary_union(walkable), obstacles=tuple(obstacles), exits=tuple(exits),
                    assembly=tuple(assembly), assembly_ids=tuple(assembly_ids), agents=tuple(agents),
                    stairwells=tuple(stairwells), name=name, settings=settings)


def _refuse_overlapping(agents) -> None:
    """Two people standing in one place (bodies overlapping) cannot be simulated: the speed model
    finds no room ahead of either and no direction to part them, so they stood there to the end
    ("1 of 11 out" with ten agents drawn on one point). Refused, naming both features."""
    if len(agents) < 2:
        return
    from scipy.spatial import cKDTree

    xy = np.array([(a.x, a.y) for a in agents])
    radius = np.array([GROUPS[a.group].radius_m for a in agents])
    for i, j in sorted(cKDTree(xy).query_pairs(2.0 * float(radius.max()))):
        gap = float(np.hypot(*(xy[i] - xy[j])))
        if gap < radius[i] + radius[j] - 1e-6:
            other = " ".join(agents[i].source.split()[-2:])   # "feature N"
            raise ScenarioError(f"{agents[j].source}: agent at ({agents[j].x:g}, {agents[j].y:g}) overlaps the agent "
                                f"of {other} ({gap:.2f} m apart; their bodies need {radius[i] + radius[j]:.2f} m)")


EXIT_EDGE_TOLERANCE_M = 0.1


def exit_edge_problem(area, line: LineString, tol_m: float = EXIT_EDGE_TOLERANCE_M) -> str:
    """Why `line` is not an exit of `area` (walkable minus obstacles), or "" when it is one.

    An exit is a line on the edge of the walkable area with the area on one side only: a resident
    is evacuated when he crosses it and leaves beyond it. A line off the edge (even by half a
    metre) or across the middle of the area cannot be reached or crossed as the model needs, and
    its residents would silently never leave.
    """
    edge = area.boundary
    worst = max(edge.distance(line.interpolate(f, normalized=True)) for f in np.linspace(0.0, 1.0, 11))
    if worst > tol_m:
        return f"is up to {worst:.2f} m off the edge of the walkable area"
    (ax, ay), (bx, by) = line.coords[0], line.coords[-1]
    length = float(np.hypot(bx - ax, by - ay))
    if length > 0.0:
        mx, my = np.asarray(line.interpolate(0.5, normalized=True).coords[0])
        nx, ny = -(by - ay) / length, (bx - ax) / length
        probe = 0.05 + tol_m
        if area.contains(Point(mx + probe * nx, my + probe * ny)) and area.contains(Point(mx - probe * nx, my - probe * ny)):
            return "has walkable ground on both sides (it lies across the area, not on its edge)"
    return ""


def _whole(where, props, key, *, default=None, minimum=0):
    v = props.get(key, default)
    if v is None:
        raise ScenarioError(f"{where}: field '{key}' is required")
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v) or v < minimum:
        raise ScenarioError(f"{where}: field '{key}' must be a whole number >= {minimum}, got {v!r}")
    return int(v)


def _stairwell(where, props, geom, index) -> Stairwell:
    residents = _whole(where, props, "residents")
    storeys = _whole(where, props, "storeys", minimum=1)
    dwellings = _whole(where, props, "dwellings", default=max(1, round(residents / 2.62)) if residents else 0)
    per_floor = [dwellings // storeys + (1 if f < dwellings % storeys else 0) for f in range(storeys)]
    stair_id = props.get("id", f"entrance-{index}")
    if not isinstance(stair_id, (str, int)):
        raise ScenarioError(f"{where}: field 'id' must be a string, got {stair_id!r}")
    groups = props.get("groups", {})
    if not isinstance(groups, dict) or any(g not in GROUPS or not isinstance(v, (int, float)) or isinstance(v, bool)
                                           or v < 0 for g, v in groups.items()) \
            or (groups and sum(groups.values()) <= 0):
        raise ScenarioError(f"{where}: field 'groups' must map groups ({', '.join(GROUPS)}) to shares >= 0 "
                            f"(not all 0), got {groups!r}")
    return Stairwell(id=str(stair_id), door_xy=(float(geom.x), float(geom.y)), storeys=storeys,
                     dwellings_per_floor=tuple(per_floor), residents=residents,
                     door_width_m=_number(where, props, "door_width_m", positive=True, default=1.1),
                     stair_width_m=_number(where, props, "stair_width_m", positive=True, default=1.1),
                     storey_height_m=_number(where, props, "storey_height_m", positive=True, default=2.8),
                     source=where, groups=tuple((g, float(v)) for g, v in groups.items()))


def scenario_to_geojson(scenario: Scenario) -> dict:
    """The scenario as a GeoJSON FeatureCollection in the format read_scenario reads (round trip)."""
    from shapely.geometry import mapping

    def feature(role, geometry, **props):
        return {"type": "Feature", "properties": {"role": role, **props}, "geometry": mapping(geometry)}

    features = [feature("walkable", scenario.walkable)]
    features += [feature("obstacle", o) for o in scenario.obstacles]
    features += [feature("exit", LineString(e.coords), id=e.id, width_m=e.width_m, open=e.open) for e in scenario.exits]
    features += [feature("assembly", a, id=scenario.assembly_ids[k] if k < len(scenario.assembly_ids) else f"assembly-{k + 1}")
                 for k, a in enumerate(scenario.assembly)]
    for a in scenario.agents:
        props = {"group": a.group}
        if a.speed_mps is not None:
            props["speed_mps"] = a.speed_mps
        if a.premovement_s is not None:
            props["premovement_s"] = a.premovement_s
        features.append(feature("agent", Point(a.x, a.y), **props))
    for w in scenario.stairwells:
        features.append(feature("entrance", Point(*w.door_xy), id=w.id, residents=w.residents, storeys=w.storeys,
                                dwellings=sum(w.dwellings_per_floor), door_width_m=w.door_width_m,
                                stair_width_m=w.stair_width_m, storey_height_m=w.storey_height_m,
                                **({"groups": dict(w.groups)} if w.groups else {})))
    doc = {"type": "FeatureCollection", "features": features}
    if scenario.settings:
        doc["settings"] = dict(scenario.settings)
    return doc


def write_scenario(path: str | os.PathLike, scenario: Scenario) -> Path:
    """Write the scenario as a GeoJSON file (atomically)."""
    path = Path(path)
    _atomic_text(path, json.dumps(scenario_to_geojson(scenario)))
    return path


def _atomic_write(path: Path, write) -> None:
    """write(temporary path) next to `path`, then rename it over `path`: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _atomic_text(path: Path, text: str) -> None:
    def write(tmp):
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)

    _atomic_write(path, write)


def write_trajectories_csv(path: str | os.PathLike, trajectory: np.ndarray) -> Path:
    """Write rows (id, frame, x, y) as CSV with header `id,frame,x,y,z` (z = 0, metres).

    PedPy: `pedpy.TrajectoryData(data=pandas.read_csv(path), frame_rate=fps)`, fps from
    Result.frames["trajectory_frame_rate_hz"] (Settings.trajectory_interval_s sets it).
    """
    path = Path(path)
    lines = ["id,frame,x,y,z"]
    for pid, frame, x, y in np.asarray(trajectory):
        lines.append(f"{int(pid)},{int(frame)},{x:.4f},{y:.4f},0.0000")
    _atomic_text(path, "\n".join(lines) + "\n")
    return path


def write_trajectories_txt(path: str | os.PathLike, trajectory: np.ndarray, frame_rate_hz: float) -> Path:
    """The same rows in PedPy's native text format (`pedpy.load_trajectory_from_txt` reads it)."""
    path = Path(path)
    lines = [f"# framerate: {frame_rate_hz:g}", "# x/m", "# id frame x y z"]
    for pid, frame, x, y in np.asarray(trajectory):
        lines.append(f"{int(pid)} {int(frame)} {x:.4f} {y:.4f} 0.0000")
    _atomic_text(path, "\n".join(lines) + "\n")
    return path


PARQUET_EXTRA = "pip install 'community-twin[parquet]'"
"""How to get pyarrow, which writing Parquet needs (the `parquet` extra of pyproject.toml)."""


def write_trajectories_parquet(path: str | os.PathLike, trajectory: np.ndarray, frame_rate_hz: float) -> Path:
    """The same rows as write_trajectories_csv as a Parquet table: id, frame (int64), x, y, z (float64, m).

    The frame rate is kept in the file's metadata (key b"framerate"). PedPy:
    `pedpy.TrajectoryData(data=pandas.read_parquet(path), frame_rate=fps)`. Needs pyarrow
    (the `parquet` extra); without it a ModuleNotFoundError says how to install it.
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ModuleNotFoundError(f"{path}: writing Parquet trajectories needs pyarrow ({PARQUET_EXTRA}); "
                                  "or write CSV (a .csv name)", name="pyarrow") from None
    path = Path(path)
    rows = np.asarray(trajectory, dtype=np.float64).reshape(-1, 4)
    table = pa.table({"id": rows[:, 0].astype(np.int64), "frame": rows[:, 1].astype(np.int64),
                      "x": rows[:, 2], "y": rows[:, 3], "z": np.zeros(len(rows))},
                     metadata={b"framerate": f"{frame_rate_hz:g}".encode(), b"units": b"m"})
    _atomic_write(path, lambda tmp: pq.write_table(table, tmp))
    return path


def write_trajectories(path: str | os.PathLike, trajectory: np.ndarray, frame_rate_hz: float) -> Path:
    """Trajectories in the format the file name asks for: .parquet (Parquet), .txt (PedPy's text), else CSV."""
    suffix = Path(path).suffix.lower()
    if suffix in (".parquet", ".pq"):
        return write_trajectories_parquet(path, trajectory, frame_rate_hz)
    if suffix == ".txt":
        return write_trajectories_txt(path, trajectory, frame_rate_hz)
    return write_trajectories_csv(path, trajectory)
