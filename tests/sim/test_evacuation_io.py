"""GeoJSON scenario in (with errors that name the feature), trajectories out."""
import csv
import dataclasses
import json
import sys

import numpy as np
import pytest

from sim.evacuation import ScenarioError, Settings, simulate
from sim.evacuation.io import (read_scenario, write_trajectories_csv, write_trajectories_parquet,
                               write_trajectories_txt)
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


@pytest.mark.parametrize("line, words", [
    ([[11.5, 2], [11.5, 4]], "0.50 m off the edge"),       # half a metre inside the yard
    ([[12.5, 2], [12.5, 4]], "0.50 m off the edge"),       # half a metre outside it
    ([[10, 0], [10, 6]], "off the edge"),                   # across the yard, ends on the walls
])
def test_an_exit_line_not_on_the_edge_is_refused_by_name(tmp_path, line, words):
    """Such an exit was accepted and its residents silently never left (an east exit drawn 0.5 m
    inside an L-shaped yard: "101 of 102 out"; across the yard: "0 of 102 out")."""
    doc = _scenario_doc()
    doc["features"][2]["geometry"]["coordinates"] = line
    path = tmp_path / "offedge.geojson"
    path.write_text(json.dumps(doc))
    with pytest.raises(ScenarioError) as err:
        read_scenario(path)
    message = str(err.value)
    assert "offedge.geojson feature 2" in message and "'east'" in message and words in message


def test_an_exit_with_ground_on_both_sides_is_refused():
    from shapely.geometry import LineString, box

    from sim.evacuation.io import exit_edge_problem

    yard = box(0, 0, 10, 6).union(box(10, 2, 14, 4))   # a lane leaves the yard at x = 10
    assert exit_edge_problem(yard, LineString([(14, 2), (14, 4)])) == ""   # the lane's far end: fine
    assert "off the edge" in exit_edge_problem(yard, LineString([(10, 2), (10, 4)]))   # across its mouth
    fenced = box(0, 0, 20, 6).difference(box(10, 0, 10.05, 6))   # a thin fence splits the yard
    assert "both sides" in exit_edge_problem(fenced, LineString([(10.0, 2), (10.0, 4)]))


def test_an_exit_narrower_than_its_line_lets_people_through_its_clear_width_only(tmp_path):
    """width_m is the clear width: a 1 m gate drawn as a 2 m line passed people over all 2 m
    (a 4 m line with width_m 1 let 6.6 persons/s through, "6.62 p/m/s")."""
    doc = _scenario_doc()
    doc["features"][2]["geometry"]["coordinates"] = [[12, 1], [12, 5]]
    doc["features"][2]["properties"]["width_m"] = 1.0
    path = tmp_path / "narrow.geojson"
    path.write_text(json.dumps(doc))
    east = read_scenario(path).exits[0]
    assert east.coords == ((12.0, 2.5), (12.0, 3.5))
    doc["features"][2]["properties"]["width_m"] = 5.0
    path.write_text(json.dumps(doc))
    with pytest.raises(ScenarioError, match=r"narrow.geojson feature 2: field 'width_m' 5 m is wider"):
        read_scenario(path)


def test_agents_standing_on_one_spot_are_refused_by_name(tmp_path):
    """Ten agents drawn on one point stood there to the end ("1 of 11 out"): the speed model finds
    no room ahead of either of two coincident people and no direction to part them."""
    doc = _scenario_doc()
    doc["features"].append(_feature("agent", {"type": "Point", "coordinates": [10.1, 3.05]}))
    path = tmp_path / "crowd.geojson"
    path.write_text(json.dumps(doc))
    with pytest.raises(ScenarioError, match=r"crowd.geojson feature 8: agent at \(10.1, 3.05\) overlaps the agent of "
                                            r"feature 6 \(0.11 m apart"):
        read_scenario(path)
    doc["features"][-1]["geometry"]["coordinates"] = [10.35, 3.0]   # 0.35 m apart: two bodies fit
    path.write_text(json.dumps(doc))
    assert len(read_scenario(path).agents) == 4


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


def _corridor_crowd_doc():
    # 24 adults in a 12 m x 3 m corridor, leaving through its 3 m east end
    agents = [_feature("agent", {"type": "Point", "coordinates": [1.0 + 0.8 * i, 0.6 + 0.9 * j]}, speed_mps=1.2)
              for i in range(8) for j in range(3)]
    return {"type": "FeatureCollection", "settings": {"dt_s": 0.05, "max_time_s": 60}, "features": [
        _feature("walkable", {"type": "Polygon", "coordinates": [[[0, 0], [12, 0], [12, 3], [0, 3], [0, 0]]]}),
        _feature("exit", {"type": "LineString", "coordinates": [[12, 0], [12, 3]]}, width_m=3.0, id="east"),
        *agents]}


def test_pedpy_reads_the_trajectories_and_counts_everyone_across_the_exit_line(tmp_path):
    import pandas
    import pedpy

    path = tmp_path / "corridor.geojson"
    path.write_text(json.dumps(_corridor_crowd_doc()))
    result = simulate(path, Settings(max_time_s=60, trajectory_interval_s=0.1))
    assert result.value("evacuated") == 24
    fps = float(result.frames["trajectory_frame_rate_hz"][0])
    csv_path = write_trajectories_csv(tmp_path / "traj.csv", result.frames["trajectory"])
    txt_path = write_trajectories_txt(tmp_path / "traj.txt", result.frames["trajectory"], fps)
    parquet_path = write_trajectories_parquet(tmp_path / "traj.parquet", result.frames["trajectory"], fps)
    table = pandas.read_parquet(parquet_path)
    assert list(table.columns) == ["id", "frame", "x", "y", "z"] and len(table) == len(result.frames["trajectory"])
    assert str(table["id"].dtype) == "int64" and str(table["frame"].dtype) == "int64"
    import pyarrow.parquet

    assert pyarrow.parquet.read_schema(parquet_path).metadata[b"framerate"] == b"10"
    # people walk on past the exit line before they leave the model, so the line lies inside the
    # data and PedPy's own crossing count must find every one of them, in all three file formats
    line = pedpy.MeasurementLine([(11.0, 0.0), (11.0, 3.0)])
    for traj in (pedpy.TrajectoryData(data=pandas.read_csv(csv_path), frame_rate=fps),
                 pedpy.load_trajectory_from_txt(trajectory_file=txt_path),
                 pedpy.TrajectoryData(data=pandas.read_parquet(parquet_path), frame_rate=fps)):
        nt, crossing = pedpy.compute_n_t(traj_data=traj, measurement_line=line)
        assert int(nt["cumulative_pedestrians"].iloc[-1]) == 24
        speed = pedpy.compute_individual_speed(traj_data=traj, frame_step=5)
        # free walkers at 1.2 m/s at the front; nobody faster than their free speed (1 % for
        # PedPy's finite differences over 0.5 s on 4-decimal coordinates)
        assert speed["speed"].max() <= 1.2 * 1.01
        assert speed["speed"].median() > 0.5


def test_scenario_round_trips_through_geojson_with_entrances_and_closed_gates(tmp_path):
    from sim.evacuation.io import scenario_from_geojson, write_scenario

    doc = _scenario_doc()
    doc["features"].append(_feature("entrance", {"type": "Point", "coordinates": [7.0, 5.0]},
                                    id="door-a", residents=13, storeys=5, dwellings=5, groups={"elderly": 1.0}))
    doc["features"][3]["properties"]["open"] = False
    scenario = scenario_from_geojson(doc, name="yard")
    assert scenario.residents == 3 + 13
    (w,) = scenario.stairwells
    assert (w.id, w.storeys, w.dwellings_per_floor, w.door_width_m) == ("door-a", 5, (1, 1, 1, 1, 1), 1.1)
    assert w.groups == (("elderly", 1.0),)   # an old people's home: everyone off this stair is elderly
    assert [e.open for e in scenario.exits] == [True, False]
    again = read_scenario(write_scenario(tmp_path / "again.geojson", scenario))
    assert again.residents == scenario.residents
    assert dataclasses.replace(again.stairwells[0], source="") == dataclasses.replace(w, source="")
    assert again.walkable.equals(scenario.walkable) and [e.open for e in again.exits] == [True, False]
    result = simulate(again, Settings(max_time_s=600))
    s = summary(result)
    # the closed west exit takes nobody and is listed as closed
    assert "exit-1" not in s["exits"] and s["closed_exits"] == ["exit-1"]
    assert s["evacuated"] == 16 and s["exits"]["east"]["evacuated"] == 16
    names = list(result.frames["group_names"])
    assert [names[g] for g in result.frames["group"][3:]] == ["elderly"] * 13
    # times by group: the one elderly agent outdoors and the 13 off the stair; the two adults
    elderly, adults = s["groups"]["elderly"], s["groups"]["adult"]
    assert (elderly["agents"], elderly["evacuated"], adults["agents"], adults["evacuated"]) == (14, 14, 2, 2)
    assert adults["t100_s"] < elderly["t100_s"] <= s["t100_s"] and set(s["groups"]) == {"elderly", "adult"}


@pytest.mark.parametrize("props, words", [
    ({"residents": -1, "storeys": 6}, "residents"),
    ({"residents": 10}, "storeys"),
    ({"residents": 10, "storeys": 6, "door_width_m": 0}, "door_width_m"),
    ({"residents": 10, "storeys": 2, "groups": {"toddler": 1.0}}, "groups"),
    ({"residents": 10, "storeys": 2, "groups": {"child": 0}}, "groups"),
])
def test_a_bad_entrance_is_named(tmp_path, props, words):
    doc = _scenario_doc()
    doc["features"].append(_feature("entrance", {"type": "Point", "coordinates": [7.0, 5.0]}, **props))
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(doc))
    with pytest.raises(ScenarioError, match=rf"bad.geojson feature 8.*{words}"):
        read_scenario(path)


def test_cli_runs_a_scenario_file_and_prints_the_json_contract(tmp_path, capsys):
    from twin.cli import main

    path = tmp_path / "corridor.geojson"
    path.write_text(json.dumps(_corridor_crowd_doc()))
    traj = tmp_path / "t.csv"
    assert main(["evacuation", "run", str(path), "--json", "--trajectories", str(traj), "--out", str(tmp_path / "out")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["agents"] == 24 and out["evacuated"] == 24
    # the last of 24 leaves after walking at most 11 m at 1.2 m/s plus queueing at 3 m wide: well under 60 s
    assert 5.0 < out["t50_s"] <= out["t90_s"] <= out["total_evacuation_time_s"] < 30.0
    assert set(out["exits"]["east"]) >= {"evacuated", "flow_p_s", "specific_flow_p_m_s"}
    assert (tmp_path / "out" / "evacuation.json").exists() and (tmp_path / "out" / "evacuation.npz").exists()
    with open(traj) as f:
        assert f.readline().strip() == "id,frame,x,y,z"
    # a .parquet name writes Parquet: the same rows as the CSV
    parquet = tmp_path / "t.parquet"
    assert main(["evacuation", "run", str(path), "--json", "--trajectories", str(parquet)]) == 0
    assert json.loads(capsys.readouterr().out)["trajectories"] == str(parquet)
    import pandas

    np.testing.assert_allclose(pandas.read_parquet(parquet).to_numpy(), pandas.read_csv(traj).to_numpy(), atol=1e-4)
    # bad input: one error line, exit status 2
    assert main(["evacuation", "run", str(tmp_path / "missing.geojson")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert main(["evacuation", "run", str(path), "--state", "baseline"]) == 2
    assert "--state applies to projects" in capsys.readouterr().err


def test_parquet_without_pyarrow_is_refused_before_the_run_naming_the_extra(tmp_path, capsys, monkeypatch):
    from twin.cli import main

    path = tmp_path / "corridor.geojson"
    path.write_text(json.dumps(_corridor_crowd_doc()))
    monkeypatch.setitem(sys.modules, "pyarrow", None)   # import pyarrow now fails, as when it is not installed
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    assert main(["evacuation", "run", str(path), "--trajectories", str(tmp_path / "t.parquet")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "pyarrow" in err and "community-twin[parquet]" in err
    assert not (tmp_path / "t.parquet").exists()
    with pytest.raises(ModuleNotFoundError, match=r"community-twin\[parquet\]"):
        write_trajectories_parquet(tmp_path / "t.parquet", np.zeros((1, 4)), 2.0)


def test_a_peak_density_above_a_real_jam_is_printed_with_its_caveat(tmp_path, capsys, monkeypatch):
    from sim.evacuation import metrics
    from sim.evacuation.metrics import JAM_DENSITY_P_M2, density_caveat
    from twin.cli import main

    # discs of 0.3 m pack tighter than people: above ~6 p/m² the figure means "a severe queue"
    assert density_caveat(None) is None and density_caveat(5.4) is None and density_caveat(JAM_DENSITY_P_M2) is None
    assert "severe queue" in density_caveat(10.88) and "docs/evacuation.md" in density_caveat(10.88)
    path = tmp_path / "corridor.geojson"
    path.write_text(json.dumps(_corridor_crowd_doc()))
    assert main(["evacuation", "run", str(path), "--json"]) == 0
    peak = json.loads(capsys.readouterr().out)["max_local_density_p_m2"]
    assert 0.5 < peak < JAM_DENSITY_P_M2        # 24 people in 36 m², queueing at a 3 m end
    assert main(["evacuation", "run", str(path)]) == 0
    text = capsys.readouterr().out
    assert f"peak local density {peak:.2f} p/m²" in text and "severe queue" not in text
    # the same run against a threshold below its peak: the line carries the caveat
    monkeypatch.setattr(metrics, "JAM_DENSITY_P_M2", peak / 2)
    assert main(["evacuation", "run", str(path)]) == 0
    text = capsys.readouterr().out
    assert f"peak local density {peak:.2f} p/m²" in text and "severe queue" in text
