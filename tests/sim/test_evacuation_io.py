"""GeoJSON scenario in (with errors that name the feature), trajectories out."""
import csv
import json

import numpy as np
import pytest

from sim.evacuation import ScenarioError, Settings, simulate
from sim.evacuation.io import read_scenario, write_trajectories_csv, write_trajectories_txt
from sim.evacuation.metrics import summary


def _feature(role, geometry, **props):
    return {"type": "Feature", "properties": {"role": role, **props}, "geometry": geometry}


def _scenario_doc():
    return {
        "type": "FeatureCollection",
        "settings": {"dt_s": 0.05, "max_time_s": 120},
        "features": [
            _feature("walkable", {"type": "Polygon", "coordinates": [
                [[0, 0], [12, 0], [12, 6], [0, 6], [0, 0]],
                [[5, 2], [6, 2], [6, 4], [5, 4], [5, 2]]]}),           # a hole = an obstacle
            _feature("obstacle", {"type": "Polygon", "coordinates": [[[8, 0], [9, 0], [9, 1], [8, 1], [8, 0]]]}),
            _feature("exit", {"type": "LineString", "coordinates": [[12, 2], [12, 4]]}, width_m=2.0, id="east"),
            _feature("exit", {"type": "LineString", "coordinates": [[0, 5], [0, 6]]}, width_m=1.0),
            _feature("assembly", {"type": "Polygon", "coordinates": [[[13, 0], [20, 0], [20, 6], [13, 6], [13, 0]]]}),
            _feature("agent", {"type": "Point", "coordinates": [3, 3]}, group="elderly", premovement_s=2.0),
            _feature("agent", {"type": "Point", "coordinates": [10, 3]}, speed_mps=1.2),
            _feature("agent", {"type": "Point", "coordinates": [1, 5.5]}),
        ],
    }


def test_scenario_file_runs_and_reports_the_contract_keys(tmp_path):
    path = tmp_path / "yard.geojson"
    path.write_text(json.dumps(_scenario_doc()))
    scenario = read_scenario(path)
    assert [e.id for e in scenario.exits] == ["east", "exit-1"]
    assert scenario.settings == {"dt_s": 0.05, "max_time_s": 120.0}
    assert scenario.agents[0].group == "elderly" and scenario.agents[0].premovement_s == 2.0
    result = simulate(path)  # settings from the file
    s = summary(result)
    assert {"agents", "evacuated", "total_evacuation_time_s", "t50_s", "t90_s", "exits"} <= set(s)
    assert s["agents"] == 3 and s["evacuated"] == 3
    # nearest exit by walking distance: (10, 3) goes east; (3, 3) and (1, 5.5) go west
    assert s["exits"]["east"]["evacuated"] == 1 and s["exits"]["exit-1"]["evacuated"] == 2
    # agent at (10, 3) walks 2 m at 1.2 m/s
    assert s["t50_s"] is not None
    json.dumps(s)  # strict JSON-ready (no NaN objects)


@pytest.mark.parametrize("index, patch, words", [
    (3, {"properties": {"role": "exit"}}, "width_m"),
    (5, {"properties": {"role": "agent", "group": "giant"}}, "group"),
    (6, {"properties": {"role": "agent", "speed_mps": -1}}, "speed_mps"),
    (2, {"properties": {"role": "door", "width_m": 1}}, "role"),
    (7, {"geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}}, "geometry"),
])
def test_a_bad_feature_is_named_by_file_index_and_field(tmp_path, index, patch, words):
    doc = _scenario_doc()
    doc["features"][index].update(patch)
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(doc))
    with pytest.raises(ScenarioError) as err:
        read_scenario(path)
    message = str(err.value)
    assert "bad.geojson" in message and f"feature {index}" in message and words in message


def test_agent_outside_the_walkable_area_is_named(tmp_path):
    doc = _scenario_doc()
    doc["features"][6]["geometry"]["coordinates"] = [5.5, 3.0]  # inside the hole
    path = tmp_path / "outside.geojson"
    path.write_text(json.dumps(doc))
    with pytest.raises(ScenarioError, match=r"outside.geojson feature 6.*outside the walkable area"):
        simulate(path)


def test_trajectories_are_written_as_a_table_pedpy_reads(tmp_path):
    path = tmp_path / "yard.geojson"
    path.write_text(json.dumps(_scenario_doc()))
    result = simulate(path, Settings(max_time_s=60, trajectory_interval_s=0.1))
    traj = result.frames["trajectory"]
    fps = float(result.frames["trajectory_frame_rate_hz"][0])
    assert fps == pytest.approx(10.0)
    out = write_trajectories_csv(tmp_path / "traj.csv", traj)
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["id", "frame", "x", "y", "z"]
    assert len(rows) == len(traj)
    # agent 1 (at (10, 3), 1.2 m/s, due east) moves 0.12 m per frame between frames 0 and 10
    a1 = [r for r in rows if r["id"] == "1"]
    x = np.array([float(r["x"]) for r in a1])
    assert np.diff(x[:10]) == pytest.approx(0.12, abs=0.002)
    txt = write_trajectories_txt(tmp_path / "traj.txt", traj, fps)
    head = txt.read_text().splitlines()[:4]
    assert head[0] == "# framerate: 10" and len(head[3].split()) == 5
