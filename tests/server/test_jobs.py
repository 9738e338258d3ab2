"""server: the store and the jobs API — the prepare job on the sample, cancel, bad requests, a worker
killed mid-run, and a restart on the same instance folder.

`sleep_steps` is a test-only job kind registered from this module (workers are spawned and
import it from here by name); it makes a job slow enough to be cancelled or killed mid-run.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import time

import pytest
from api_helpers import error_of

from server.app import create_app
from server.jobs import JOB_KINDS, register_job_kind

API = "/api/projects/sample_community/states"


def sleep_steps(params, report_progress):
    """Test-only job kind: `steps` sleeps of `seconds` each, reporting progress before each."""
    steps, seconds = int(params.get("steps", 10)), float(params.get("seconds", 0.05))
    for step in range(steps):
        report_progress(step / steps, f"step {step + 1}/{steps}")
        time.sleep(seconds)
    return {"steps": steps}


register_job_kind("sleep_steps", sleep_steps)


def make_app(instance, **config):
    return create_app({"TESTING": True, "INSTANCE_PATH": str(instance), "JOB_WORKERS": 1, **config})


def stop(app, *, wait=True):
    app.extensions["community_twin"].jobs.shutdown(wait=wait)


@pytest.fixture
def app(tmp_path):
    app = make_app(tmp_path / "instance")
    yield app
    stop(app)


@pytest.fixture
def client(app):
    return app.test_client()


def start(client, state="baseline", kind="sleep_steps", **params) -> str:
    response = client.post(f"{API}/{state}/jobs", json={"kind": kind, "params": params})
    assert response.status_code == 202, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == "queued" and response.headers["Location"] == f"/api/jobs/{body['id']}"
    return body["id"]


def wait_for(client, job_id, condition, timeout=120.0) -> dict:
    """Poll GET /api/jobs/<id> until condition(job) holds; the job as last read."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/jobs/{job_id}").get_json()
        if condition(job):
            return job
        assert time.monotonic() < deadline, f"timed out waiting on job {job}"
        time.sleep(0.05)


def finished(job) -> bool:
    return job["status"] in ("done", "failed", "cancelled")


# ------------------------------------------------------------------------ store

def test_factory_creates_the_schema_in_wal_mode(app):
    database = os.path.join(app.instance_path, "twin.sqlite3")
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA user_version").fetchone()[0] == 1
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        columns = {row[1] for row in connection.execute("PRAGMA table_info(jobs)")}
    assert {"projects", "jobs"} <= tables
    assert {"id", "project", "state", "kind", "params", "status", "progress", "message", "result_path",
            "error", "created", "started", "finished", "worker_pid"} <= columns


def test_a_newer_schema_is_refused(tmp_path):
    make_app(tmp_path)  # creates version 1
    with sqlite3.connect(tmp_path / "twin.sqlite3") as connection:
        connection.execute("PRAGMA user_version = 99")
    from server.store import StoreError
    with pytest.raises(StoreError, match="newer"):
        make_app(tmp_path)


# ------------------------------------------------------------------------ prepare on the sample

def test_prepare_writes_the_glb_and_diff_glb_the_server_then_serves(client):
    job_id = start(client, "proposal_a", kind="prepare")
    job = wait_for(client, job_id, finished)
    assert job["status"] == "done", job
    assert job["progress"] == 1.0 and job["kind"] == "prepare" and job["state"] == "proposal_a"
    assert job["workerPid"] != os.getpid() and job["started"] and job["finished"] >= job["started"]
    result = job["result"]
    assert result["diff_base"] == "baseline" and result["elements"] > 0
    assert job["resultPath"] == result["glb"] and os.path.getsize(result["glb"]) > 1000
    assert os.path.getsize(result["diff_glb"]) > 1000
    # the worker wrote the files under the names the server's GLB cache looks for: no regeneration
    plain = client.get(f"{API}/proposal_a/model.glb")
    assert plain.status_code == 200 and plain.headers["X-Twin-Cache"] == "hit"
    with open(result["glb"], "rb") as handle:
        assert plain.data == handle.read()
    diff = client.get(f"{API}/proposal_a/model.glb?diff=baseline")
    assert diff.status_code == 200 and diff.headers["X-Twin-Cache"] == "hit"
    listed = client.get("/api/jobs?project=sample_community&state=proposal_a").get_json()
    assert [j["id"] for j in listed] == [job_id]
    assert client.get("/api/jobs?state=baseline").get_json() == []


def test_a_failing_job_reports_its_error(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "project.toml").write_text('[project]\nname = "broken"\n[[states]]\nname = "baseline"\nifc = "b.ifc"\n')
    (broken / "b.ifc").write_text("not an ifc file")
    app = make_app(tmp_path / "instance", PROJECTS=[str(broken)])
    try:
        client = app.test_client()
        response = client.post("/api/projects/broken/states/baseline/jobs", json={"kind": "prepare"})
        job = wait_for(client, response.get_json()["id"], finished)
        assert job["status"] == "failed" and "b.ifc" in job["error"] and "not an IFC file" in job["error"]
        assert job["result"] is None
    finally:
        stop(app)


# ------------------------------------------------------------------------ bad requests

def test_bad_job_requests_are_4xx_json_and_the_server_goes_on(client):
    url = f"{API}/baseline/jobs"
    assert "malformed JSON" in error_of(client.post(url, data="{kind:", content_type="application/json"), 400)
    assert "expected a JSON body" in error_of(client.post(url, data="kind=prepare"), 400)
    assert "JSON object" in error_of(client.post(url, json=["prepare"]), 400)
    assert "unknown job kind 'simulate'" in error_of(client.post(url, json={"kind": "simulate"}), 400)
    assert "prepare" in error_of(client.post(url, json={}), 400)  # lists the kinds
    assert "'params'" in error_of(client.post(url, json={"kind": "prepare", "params": [1]}), 400)
    assert "'state'" in error_of(client.post(url, json={"kind": "prepare", "params": {"state": "x"}}), 400)
    assert "'priority'" in error_of(client.post(url, json={"kind": "prepare", "priority": 1}), 400)
    assert "no project named 'nowhere'" in error_of(
        client.post("/api/projects/nowhere/states/baseline/jobs", json={"kind": "prepare"}), 404)
    assert "no state named 'proposal_z'" in error_of(
        client.post(f"{API}/proposal_z/jobs", json={"kind": "prepare"}), 404)
    assert "no job with id 'nope'" in error_of(client.get("/api/jobs/nope"), 404)
    assert "no job with id 'nope'" in error_of(client.post("/api/jobs/nope/cancel"), 404)
    assert "unknown query parameter 'kind'" in error_of(client.get("/api/jobs?kind=prepare"), 400)
    assert "GET /api/jobs/x/cancel" in error_of(client.get("/api/jobs/x/cancel"), 405)
    assert client.get("/api/jobs").get_json() == []  # no job was created by any of these
    assert client.get("/api/projects").status_code == 200


# ------------------------------------------------------------------------ cancel

def test_cancel_a_queued_job_at_once_and_a_running_one_through_its_progress(client):
    running = start(client, steps=400, seconds=0.05)  # 20 s unless cancelled
    queued = start(client, steps=1)  # one worker: waits behind the first
    wait_for(client, running, lambda job: job["status"] == "running")
    response = client.post(f"/api/jobs/{queued}/cancel")
    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"
    response = client.post(f"/api/jobs/{running}/cancel")
    assert response.status_code == 200 and response.get_json()["cancelRequested"] is True
    began = time.monotonic()
    job = wait_for(client, running, finished, timeout=10)
    assert job["status"] == "cancelled" and job["progress"] < 0.5
    assert time.monotonic() - began < 5  # stopped at a progress report, not at the end
    assert "already cancelled" in error_of(client.post(f"/api/jobs/{running}/cancel"), 409)
    job = client.get(f"/api/jobs/{queued}").get_json()
    assert job["status"] == "cancelled" and job["started"] is None  # never ran
    done = start(client, steps=2, seconds=0.01)  # the pool goes on
    assert wait_for(client, done, finished)["status"] == "done"


# ------------------------------------------------------------------------ crash safety

def test_a_killed_worker_fails_its_job_and_the_server_goes_on(client):
    job_id = start(client, steps=600, seconds=0.05)  # 30 s unless killed
    queued = start(client, steps=3, seconds=0.01)
    job = wait_for(client, job_id, lambda job: job["status"] == "running" and job["progress"] > 0)
    os.kill(job["workerPid"], signal.SIGKILL)
    job = wait_for(client, job_id, finished, timeout=30)
    assert job["status"] == "failed", job
    assert f"worker process {job['workerPid']} ended unexpectedly" in job["error"]
    assert client.get("/api/projects").status_code == 200
    # the job queued behind it had not started: resubmitted to a fresh pool, it runs to the end
    assert wait_for(client, queued, finished)["status"] == "done"
    again = start(client, steps=2, seconds=0.01)
    job = wait_for(client, again, finished)
    assert job["status"] == "done" and job["result"] == {"steps": 2}


def test_a_restart_keeps_finished_results_and_fails_interrupted_jobs(tmp_path):
    instance = tmp_path / "instance"
    first = make_app(instance)
    client = first.test_client()
    prepared = wait_for(client, start(client, "baseline", kind="prepare"), finished)
    assert prepared["status"] == "done"
    small = wait_for(client, start(client, steps=2, seconds=0.01), finished)
    interrupted = start(client, steps=600, seconds=0.05)
    never_started = start(client, steps=1)
    running = wait_for(client, interrupted, lambda job: job["status"] == "running")
    stop(first, wait=False)  # the server goes away; its worker is left running, as after a crash

    second = make_app(instance)
    try:
        client = second.test_client()
        for job_id in (interrupted, never_started):
            job = client.get(f"/api/jobs/{job_id}").get_json()
            assert job["status"] == "failed" and job["error"] == "interrupted: server restarted"
        assert client.get(f"/api/jobs/{prepared['id']}").get_json() == prepared
        assert client.get(f"/api/jobs/{small['id']}").get_json() == small
        assert os.path.exists(prepared["result"]["glb"])
        assert client.get(f"{API}/baseline/model.glb").headers["X-Twin-Cache"] == "hit"
        # the orphaned worker sees its job failed at its next progress report and stops quietly
        time.sleep(0.5)
        job = client.get(f"/api/jobs/{interrupted}").get_json()
        assert job["status"] == "failed" and job["error"] == "interrupted: server restarted"
    finally:
        try:
            os.kill(running["workerPid"], signal.SIGKILL)
        except ProcessLookupError:
            pass
        stop(second)


def test_the_registry_holds_prepare_and_the_test_kind_only_here():
    assert JOB_KINDS["prepare"].__module__ == "server.prepare"
    assert JOB_KINDS["sleep_steps"] is sleep_steps
