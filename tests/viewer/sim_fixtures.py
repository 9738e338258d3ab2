"""Simulation results for the server and viewer tests, made by the real evacuation engine.

`evacuation_scenario()` is a small GeoJSON scenario in the sample community's own
coordinates (twin metres: the site is 0-500 m east, 0-404 m north): the forecourt inside
Gate S (x = 170 m on the south wall, 7 m wide), 24 residents of the four groups walking out
through it. `run_evacuation` is a job kind for the tests (workers import it from here by
name) that runs sim.evacuation on it and saves the Result as an engine job does
(server/sim_jobs contract: JSON + NPZ under <instance>/results/, `result_path` the JSON).

`traffic_format_frames` and `stormwater_format_frames` are NOT results: they are arrays in
the frames contract's shapes and dtypes, made up to test that the frames FORMAT is carried
and drawn (vehicles placed along a line, pipes given ratios 0-1.5); no engine made them.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

GROUPS = ("adult", "elderly", "child", "mobility_impaired")
GATE_S_X_M = 170.0
"""Gate S of the sample community: x of its centre on the south boundary (y = 0), 7 m wide."""


def evacuation_scenario(*, agents: int = 24, max_time_s: float = 120.0) -> dict:
    walkable = [[150.0, 0.0], [195.0, 0.0], [195.0, 30.0], [150.0, 30.0], [150.0, 0.0]]
    features = [
        {"type": "Feature", "properties": {"role": "walkable"}, "geometry": {"type": "Polygon", "coordinates": [walkable]}},
        {"type": "Feature", "properties": {"role": "exit", "id": "gate-s", "width_m": 7.0},
         "geometry": {"type": "LineString", "coordinates": [[GATE_S_X_M - 3.5, 0.0], [GATE_S_X_M + 3.5, 0.0]]}},
    ]
    for index in range(agents):
        column, row = index % 8, index // 8
        features.append({
            "type": "Feature",
            "properties": {"role": "agent", "group": GROUPS[index % len(GROUPS)], "premovement_s": float(index % 5)},
            "geometry": {"type": "Point", "coordinates": [154.0 + 5.0 * column, 12.0 + 6.0 * row]},
        })
    return {"type": "FeatureCollection", "settings": {"dt_s": 0.05, "max_time_s": max_time_s}, "features": features}


def evacuation_result(agents: int = 24, max_time_s: float = 120.0):
    """Run the real engine on the scenario; the group arrays of the frames contract are added
    from the scenario when the engine does not give them itself."""
    from sim.evacuation.io import scenario_from_geojson
    from sim.evacuation.model import simulate

    scenario = scenario_from_geojson(evacuation_scenario(agents=agents, max_time_s=max_time_s), name="gate-s forecourt")
    result = simulate(scenario, seed=7)
    frames = result.frames
    if "group" not in frames:
        names = np.array(GROUPS, dtype=str)
        frames["group_names"] = names
        frames["group"] = np.array([GROUPS.index(a.group) for a in scenario.agents], dtype=np.int8)
    return result


def run_evacuation(params, report_progress):
    """Test job kind: the real evacuation engine on the Gate S forecourt, saved like an engine job."""
    report_progress(0.0, "running the evacuation")
    result = evacuation_result(int(params.get("agents", 24)), float(params.get("max_time_s", 120.0)))
    report_progress(0.9, "saving")
    folder = Path(params["instance_path"]) / "results"
    json_path, _ = result.save(folder / f"evacuation-{params['project']}-{params['state']}-{params.get('tag', 'run')}")
    return {"result_path": str(json_path),
            "metrics": {name: metric.value for name, metric in result.metrics.items()}}


def traffic_format_frames(times: int = 61, vehicles: int = 5) -> dict[str, np.ndarray]:
    """FORMAT fixture (not a result): vehicles driving east along y = 20 m at 5 m/s, staggered."""
    times_s = np.arange(times, dtype=np.float64)
    xy = np.full((times, vehicles, 2), np.nan, dtype=np.float32)
    for v in range(vehicles):
        on = times_s >= 5 * v
        xy[on, v, 0] = 160.0 + 5.0 * (times_s[on] - 5 * v)
        xy[on, v, 1] = 20.0
    return {"times_s": times_s, "positions_xy_m": xy,
            "heading_rad": np.zeros((times, vehicles), np.float32),
            "vtype": (np.arange(vehicles) % 2).astype(np.int8),
            "vtype_names": np.array(["passenger", "bus"], dtype=str)}


def stormwater_format_frames(link_ids, node_ids, times: int = 11) -> dict[str, np.ndarray]:
    """FORMAT fixture (not a result): every pipe's ratio ramps from 0 to 1.5, nodes flood at the end."""
    times_s = np.arange(times, dtype=np.float64) * 60.0
    ramp = np.linspace(0.0, 1.5, times, dtype=np.float32)
    links, nodes = len(link_ids), len(node_ids)
    flooding = np.zeros((times, nodes), np.float32)
    flooding[-3:, : max(1, nodes // 4)] = 0.2
    return {"times_s": times_s, "link_ids": np.array(link_ids, dtype=str), "node_ids": np.array(node_ids, dtype=str),
            "link_flow_ratio": np.repeat(ramp[:, None], links, axis=1),
            "node_depth_m": np.repeat(ramp[:, None], nodes, axis=1),
            "node_flooding_m3s": flooding}


def _save_format_fixture(params, frames, name):
    from sim.result import Result

    result = Result(engine="format-fixture", engine_version="0", frames=frames)
    folder = Path(params["instance_path"]) / "results"
    json_path, _ = result.save(folder / f"{name}-{params['project']}-{params['state']}")
    return {"result_path": str(json_path), "metrics": {}}


def run_traffic_format(params, report_progress):
    """Test job kind: the traffic FORMAT fixture (not a result) saved as a Result."""
    report_progress(0.5, "writing the traffic format fixture")
    return _save_format_fixture(params, traffic_format_frames(), "traffic-format")


def run_stormwater_format(params, report_progress):
    """Test job kind: the stormwater FORMAT fixture (not a result) on the state's own pipe and
    manhole GlobalIds, saved as a Result."""
    from twin.project import load_project, load_state

    report_progress(0.2, "reading the state's pipes")
    twin = load_state(load_project(params["project_folder"]), params["state"])
    links = [pipe.global_id for pipe in twin.layers.pipes]
    nodes = [node.global_id for node in twin.layers.manholes + twin.layers.outfalls]
    return _save_format_fixture(params, stormwater_format_frames(links, nodes), "stormwater-format")
