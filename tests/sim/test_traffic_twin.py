"""The traffic engine on the sample community: twin -> network and demand, emergency access,
parking, frames, the CLI and the server job (proposal A against the baseline is in
test_traffic_community.py)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from twin.cli import main as twin_main
from twin.project import load_project, load_state

SAMPLE = Path(__file__).resolve().parents[2] / "ifc_models" / "sample_community"


@pytest.fixture(scope="module")
def project():
    return load_project(SAMPLE)


@pytest.fixture(scope="module")
def runs(project):
    from twin.commands.traffic import run_state_detailed

    return {"baseline": run_state_detailed(project, "baseline", record_frames=True)}


def test_extraction_reads_roads_gates_parking_and_fire_lanes(project):
    from twin.extract.roads import extract_traffic

    twin = load_state(project, "baseline")
    inputs = extract_traffic(twin, project.settings)
    edges = {e.id: e for e in inputs.network.edges}
    roads = {r.global_id: r for r in twin.layers.roads}
    # every road for cars is there, both ways unless one-way; the 2 m path to the pedestrian gate is not
    assert "3P8dBDiS5LhRkT851yPYVY" not in {e.global_id for e in edges.values()}
    assert {e.global_id for e in edges.values()} == {g for g, r in roads.items() if r.kind != "path"}
    # Road Y100 01: 4.5 m with 1.8 m parked cars -> 2.7 m clear: single-track and no fire lane
    y100 = edges["2nJ5WheHjLihiNdNhscmBx"]
    assert y100.single_track and "2nJ5WheHjLihiNdNhscmBx" in inputs.fire_blocked
    # Road X170 02: 5 m, no parking: two cars pass, fire engines use it
    x170 = edges["09uZLMfajOdxypOqUtBbqK"]
    assert not x170.single_track and "09uZLMfajOdxypOqUtBbqK" not in inputs.fire_blocked
    # two vehicular gates (the north gate is for pedestrians), each with the gate's own service time
    gates = [n for n in inputs.network.nodes if n.gate_service_s > 0]
    services = sorted(g.service_time_s for g in twin.layers.gates if g.vehicular)
    assert len(gates) == 2 and sorted(n.gate_service_s for n in gates) == services
    # peak demand: households x the project's outbound rate (PeakDemand), at most one car per parked car
    from twin.extract.roads import PeakDemand

    rate = PeakDemand.from_settings(project.settings).outbound_per_household
    residents = [t for t in inputs.demand.trips if t.kind == "resident"]
    households = sum(b.dwelling_units for b in twin.layers.buildings)
    spaces = sum(p.spaces for p in twin.layers.parking)
    assert min(0.9 * spaces, rate * households) * 0.9 <= len(residents) <= rate * households * 1.1
    assert len(inputs.access_targets) == len(twin.layers.buildings)


def test_blocking_segments_named(runs):
    # the baseline's parked cars on 4.5 m roads leave under 4 m clear: named as what blocks fire engines
    blocked = {e for segs in runs["baseline"]["alone"].blocking.values() for e in segs}
    assert "2nJ5WheHjLihiNdNhscmBx" in blocked or "2o6jsYOg9UVvBeRLy6ITSP" in blocked


def test_frames_follow_the_viewer_contract(runs):
    frames = runs["baseline"]["result"].frames
    T, N = len(frames["times_s"]), len(frames["vtype"])
    assert frames["positions_xy_m"].shape == (T, N, 2) and frames["positions_xy_m"].dtype == np.float32
    assert frames["heading_rad"].shape == (T, N) and frames["heading_rad"].dtype == np.float32
    assert frames["vtype"].dtype == np.int8 and frames["vtype_names"].dtype.kind == "U"
    assert np.allclose(np.diff(frames["times_s"]), 1.0)
    xy = frames["positions_xy_m"]
    on_road = ~np.isnan(xy[..., 0])
    assert on_road.any()
    # vehicles stay on the site (500 m x 404 m, a few metres of gate road outside)
    assert np.nanmin(xy[..., 0]) > -10 and np.nanmax(xy[..., 0]) < 510
    assert np.nanmin(xy[..., 1]) > -10 and np.nanmax(xy[..., 1]) < 414


def test_cli_json_on_sumo_files(tmp_path, capsys):
    from sim.traffic.grid import grid_network, grid_trips
    from sim.traffic.io import write_network, write_routes

    net = grid_network(3)
    write_network(net, tmp_path / "g.nod.xml", tmp_path / "g.edg.xml")
    write_routes(grid_trips(net, 40, 300.0, seed=2), tmp_path / "g.rou.xml")
    code = twin_main(["traffic", "run", str(tmp_path / "g.nod.xml"), str(tmp_path / "g.edg.xml"), str(tmp_path / "g.rou.xml"), "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("trips_completed", "mean_travel_time_s", "p95_travel_time_s", "mean_delay_s", "max_queue_m", "gridlock"):
        assert key in out
    assert out["trips_completed"] == 40 and out["gridlock"] is False
    assert out["mean_travel_time_s"] > 0 and out["junctions"]


def test_cli_bad_input_is_one_error_line(tmp_path, capsys):
    (tmp_path / "n.nod.xml").write_text('<nodes><node id="a" x="0" y="0" type="roundabout"/></nodes>')
    (tmp_path / "e.edg.xml").write_text("<edges/>")
    (tmp_path / "r.rou.xml").write_text("<routes/>")
    code = twin_main(["traffic", "run", str(tmp_path / "n.nod.xml"), str(tmp_path / "e.edg.xml"), str(tmp_path / "r.rou.xml")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "node a" in err and "roundabout" in err


def test_server_job_saves_result_with_frames(tmp_path):
    from sim.result import Result  # noqa: F401  (the saved files are Result.save's JSON + NPZ)
    from server.sim_jobs.traffic import KIND, run

    progress = []
    out = run({"project": "sample_community", "project_folder": str(SAMPLE), "state": "proposal_b",
               "instance_path": str(tmp_path)}, lambda fraction, message="": progress.append(fraction))
    assert KIND == "traffic"
    saved = json.loads(Path(out["result_path"]).read_text())
    assert saved["engine"] == "sim.traffic" and "positions_xy_m" in saved["frames"]
    npz = np.load(Path(out["result_path"]).with_suffix(".npz"))
    assert npz["frames/positions_xy_m"].dtype == np.float32 and npz["frames/vtype_names"].dtype.kind == "U"
    assert out["metrics"]["trips_completed"] > 0 and len(out["metrics"]["emergency_access_s"]) == 30
    assert progress[-1] == 1.0 and progress == sorted(progress)
