"""server.simulations: results and frames of engine jobs, end to end through a real job.

The job kind `run_evacuation` (tests/viewer/sim_fixtures.py) runs the real evacuation engine
on a small scenario in the sample community's coordinates and saves its Result the way an
engine job does; the tests read it back through the API and compare with the engine's own
arrays, bit for bit (the frames file carries the arrays, it does not resample them).
"""
from __future__ import annotations

import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from api_helpers import error_of

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "viewer"))
import sim_fixtures  # noqa: E402  (tests/viewer is not on conftest's path)

from server.app import create_app  # noqa: E402
from server.jobs import register_job_kind  # noqa: E402
from server.simulations import PLAYBACK_ARRAYS, FramesError, decode_frames, encode_frames  # noqa: E402
from server.store import now_iso  # noqa: E402

register_job_kind("run_evacuation", sim_fixtures.run_evacuation)
STATES = "/api/projects/sample_community/states"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")),
                      "JOB_WORKERS": 1, "SIMULATION_KINDS": ["run_evacuation"]})
    yield app
    app.extensions["community_twin"].jobs.shutdown()


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


def wait_done(client, job_id: str, timeout_s: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").get_json()
        if job["status"] in ("done", "failed", "cancelled"):
            assert job["status"] == "done", job
            return job
        time.sleep(0.1)
    pytest.fail(f"job {job_id} not done after {timeout_s} s")


@pytest.fixture(scope="module")
def evacuation_job(client):
    response = client.post(f"{STATES}/baseline/jobs", json={"kind": "run_evacuation", "params": {"tag": "api"}})
    assert response.status_code == 202, response.get_data(as_text=True)
    return wait_done(client, response.get_json()["id"])


@pytest.fixture(scope="module")
def engine_result():
    """The same run made here, without the server: same seed, same result."""
    return sim_fixtures.evacuation_result()


def test_result_gives_the_engines_metrics_and_the_frame_shapes(client, evacuation_job, engine_result):
    body = client.get(f"/api/jobs/{evacuation_job['id']}/result").get_json()
    assert body["engine"] == "sim.evacuation" and body["kind"] == "run_evacuation" and body["state"] == "baseline"
    for name, metric in engine_result.metrics.items():
        served = body["metrics"][name]
        assert served["unit"] == metric.unit and served["meaning"] == metric.meaning
        if np.isfinite(metric.value):
            assert served["value"] == metric.value, name  # same seed: the same number, exactly
    assert body["metrics"]["evacuated"]["value"] == 24  # everyone out through Gate S
    for name, series in engine_result.series.items():
        assert body["series"][name]["unit"] == series.unit
        assert np.allclose(body["series"][name]["values"], series.values, equal_nan=True)
    frames = engine_result.frames
    assert body["frames"]["positions_xy_m"] == {"dtype": "float32", "shape": list(frames["positions_xy_m"].shape)}
    assert body["frames"]["group_names"]["shape"] == [4]
    assert body["framesUrl"] == f"/api/jobs/{evacuation_job['id']}/frames"


def test_frames_file_carries_the_arrays_unchanged(client, evacuation_job, engine_result):
    response = client.get(f"/api/jobs/{evacuation_job['id']}/frames")
    assert response.status_code == 200 and response.mimetype == "application/vnd.community-twin.frames"
    assert "Content-Encoding" not in response.headers  # the test client asks for no gzip
    header, arrays = decode_frames(response.data)
    frames = {name: array for name, array in engine_result.frames.items() if name in PLAYBACK_ARRAYS}
    assert set(arrays) == set(frames)
    for name, expected in frames.items():
        if expected.dtype.kind == "U":
            assert list(arrays[name]) == list(expected)
        else:
            assert arrays[name].dtype == expected.dtype and arrays[name].shape == expected.shape
            assert np.array_equal(arrays[name], expected, equal_nan=expected.dtype.kind == "f"), name
    assert header["frameCount"] == len(frames["times_s"])
    assert header["frameIntervalS"] == pytest.approx(1.0)  # the engine keeps a frame every second
    assert header["durationS"] == pytest.approx(frames["times_s"][-1])
    assert header["strings"]["group_names"] == list(sim_fixtures.GROUPS)
    # Each array starts at a multiple of 8, so a browser views it in place (Float64Array needs it).
    assert all(spec["offset"] % 8 == 0 for spec in header["arrays"].values())

    zipped = client.get(f"/api/jobs/{evacuation_job['id']}/frames", headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["Content-Encoding"] == "gzip" and zipped.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(zipped.data) == response.data
    again = client.get(f"/api/jobs/{evacuation_job['id']}/frames", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_frames_subset_keeps_the_time_axis(client, evacuation_job, engine_result):
    response = client.get(f"/api/jobs/{evacuation_job['id']}/frames?arrays=positions_xy_m")
    header, arrays = decode_frames(response.data)
    assert set(arrays) == {"times_s", "positions_xy_m"}
    error = error_of(client.get(f"/api/jobs/{evacuation_job['id']}/frames?arrays=speed"), 400)
    assert "'speed'" in error and "positions_xy_m" in error


def test_frames_leave_out_what_playback_does_not_draw_unless_asked(app, client, tmp_path):
    """An engine's extra frames (here a density grid per frame, as the whole-community evacuation
    keeps) stay out of the default file: it would be most of its bytes."""
    from sim.result import Result

    result = sim_fixtures.evacuation_result(8)
    frames = result.frames
    frames["density_p_m2"] = np.ones((len(frames["times_s"]), 30, 40), np.float32)
    frames["density_cell_m"] = np.array(1.0)  # a 0-d array, as the engine saves its cell size
    json_path, _ = result.save(tmp_path / "extra")
    store = app.extensions["community_twin"].store
    job = store.create_job(project="sample_community", state="proposal_b", kind="run_evacuation", params={})
    store.update_job(job, status="done", result_path=str(json_path), finished=now_iso())
    _, default = decode_frames(client.get(f"/api/jobs/{job}/frames").data)
    assert set(default) == set(frames) & set(PLAYBACK_ARRAYS) and "density_p_m2" not in default
    assert {"times_s", "positions_xy_m", "state", "group", "group_names"} <= set(default)
    _, everything = decode_frames(client.get(f"/api/jobs/{job}/frames?arrays=all").data)
    assert set(everything) == set(frames) and everything["density_cell_m"].shape == ()
    assert float(everything["density_cell_m"]) == 1.0
    _, named = decode_frames(client.get(f"/api/jobs/{job}/frames?arrays=density_p_m2").data)
    assert set(named) == {"times_s", "density_p_m2"} and np.array_equal(named["density_p_m2"], frames["density_p_m2"])


def test_state_simulations_lists_the_latest_finished_run(client, evacuation_job):
    body = client.get(f"{STATES}/baseline/simulations").get_json()
    assert body["kinds"] == ["run_evacuation"]
    done = body["simulations"]["run_evacuation"]["latestDone"]
    assert done["id"] == evacuation_job["id"] and done["framesUrl"].endswith("/frames")
    other = client.get(f"{STATES}/proposal_a/simulations").get_json()
    assert other["simulations"]["run_evacuation"] == {"latest": None, "latestDone": None}
    assert client.get("/api/simulations").get_json() == {"kinds": ["run_evacuation"]}
    error_of(client.get(f"{STATES}/nowhere/simulations"), 404)


def test_jobs_without_a_result_say_why(app, client, tmp_path):
    store = app.extensions["community_twin"].store
    error = error_of(client.get("/api/jobs/0123/result"), 404)
    assert "0123" in error
    running = store.create_job(project="sample_community", state="baseline", kind="run_evacuation", params={})
    store.update_job(running, status="running")
    assert "is running" in error_of(client.get(f"/api/jobs/{running}/frames"), 409)
    failed = store.create_job(project="sample_community", state="baseline", kind="run_evacuation", params={})
    store.update_job(failed, status="failed", error="ScenarioError: no exit", finished=now_iso())
    assert "no exit" in error_of(client.get(f"/api/jobs/{failed}/result"), 409)
    prepared = store.create_job(project="sample_community", state="baseline", kind="prepare", params={})
    store.update_job(prepared, status="done", result_path=str(tmp_path / "baseline.glb"))
    assert "no simulation result" in error_of(client.get(f"/api/jobs/{prepared}/result"), 404)
    lost = store.create_job(project="sample_community", state="baseline", kind="run_evacuation", params={})
    store.update_job(lost, status="done", result_path=str(tmp_path / "gone.json"))
    assert "gone.json" in error_of(client.get(f"/api/jobs/{lost}/frames"), 404)
    assert "unknown query parameter" in error_of(client.get(f"/api/jobs/{lost}/result?x=1"), 400)


def test_broken_frames_are_refused_by_name():
    with pytest.raises(FramesError, match="times_s"):
        encode_frames({"state": np.zeros((2, 3), np.int8)}, {})
    with pytest.raises(FramesError, match="'ids'.*objects"):
        encode_frames({"times_s": np.zeros(2), "ids": np.array(["a", 1], dtype=object)}, {})
    with pytest.raises(FramesError, match="'count'.*32 bits"):
        encode_frames({"times_s": np.zeros(2), "count": np.array([2 ** 40])}, {})
    with pytest.raises(FramesError, match="complex"):
        encode_frames({"times_s": np.zeros(2), "z": np.zeros(2, np.complex64)}, {})


def test_traffic_and_stormwater_frame_formats_round_trip():
    """FORMAT fixtures of the contract (sim_fixtures: made-up arrays, not engine results)."""
    traffic = sim_fixtures.traffic_format_frames()
    stormwater = sim_fixtures.stormwater_format_frames(["2O2Fr$t4X7Zf8NoB5v3abc", "1xyz"], ["m1", "m2", "m3", "m4"])
    for frames in (traffic, stormwater):
        data = encode_frames(frames, {"engine": "format-fixture"})
        header, arrays = decode_frames(data)
        assert header["engine"] == "format-fixture"
        for name, expected in frames.items():
            if expected.dtype.kind == "U":
                assert list(arrays[name]) == list(expected)
            else:
                assert arrays[name].dtype == expected.dtype
                assert np.array_equal(arrays[name], expected, equal_nan=expected.dtype.kind == "f")
    assert json.loads(json.dumps(header))  # the header is plain JSON


def test_a_result_with_times_nobody_reached_is_json_a_browser_parses(client):
    # 3 s: nobody is out yet, so the 50-100 % times are NaN in the Result; JSON has no NaN
    # (JavaScript's JSON.parse refuses it), the API sends null
    response = client.post(f"{STATES}/baseline/jobs", json={"kind": "run_evacuation", "params": {"tag": "short", "max_time_s": 3.0}})
    job = wait_done(client, response.get_json()["id"])
    text = client.get(f"/api/jobs/{job['id']}/result").get_data(as_text=True)

    def refuse(constant):
        raise ValueError(f"{constant} in the JSON")

    body = json.loads(text, parse_constant=refuse)
    assert body["metrics"]["evacuated"]["value"] == 0
    assert body["metrics"]["t50_s"]["value"] is None and body["metrics"]["total_evacuation_time_s"]["value"] is None
    assert body["metrics"]["t50_s"]["unit"] == "s"
