"""server: new projects by upload (multipart IFC files) or by registering a folder — validation
before acceptance, nothing left behind by a refused upload, the catalog and the store learning
the project (across a restart), and a prepare job per state."""
from __future__ import annotations

import io
import shutil
import time
from pathlib import Path

import pytest
from api_helpers import error_of
from ifc_factory import make_ifc

from server.app import SAMPLE_PROJECT, create_app


@pytest.fixture(scope="module")
def ifc_bytes(tmp_path_factory) -> dict[str, bytes]:
    """Two small valid models (the second with phase statuses and windows) and broken variants."""
    folder = tmp_path_factory.mktemp("models")
    make_ifc(folder / "before.ifc")
    make_ifc(folder / "after.ifc", statuses=True, windows=2)
    before = (folder / "before.ifc").read_bytes()
    return {"before": before, "after": (folder / "after.ifc").read_bytes(),
            "truncated": before[: len(before) // 2], "text": b"hello, not a model\n", "empty": b""}


def make_app(instance, **config):
    return create_app({"TESTING": True, "INSTANCE_PATH": str(instance), "JOB_WORKERS": 1, **config})


@pytest.fixture
def app(tmp_path):
    app = make_app(tmp_path / "instance")
    yield app
    app.extensions["community_twin"].jobs.shutdown()


@pytest.fixture
def client(app):
    return app.test_client()


def upload(client, files: list[tuple[str, bytes]], **form):
    data = dict(form)
    data["files"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post("/api/projects", data=data, content_type="multipart/form-data")


def wait_done(client, job_ids, timeout=120.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        jobs = [client.get(f"/api/jobs/{job_id}").get_json() for job_id in job_ids]
        if all(job["status"] in ("done", "failed", "cancelled") for job in jobs):
            return jobs
        assert time.monotonic() < deadline, jobs
        time.sleep(0.05)


def projects_left(app) -> list[str]:
    folder = Path(app.instance_path) / "projects"
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def test_upload_creates_a_project_listed_and_prepared(app, client, ifc_bytes):
    response = upload(client, [("before.ifc", ifc_bytes["before"]), ("after.ifc", ifc_bytes["after"])],
                      name="Court 7", title_zh="七号院")
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["name"] == "Court_7" and body["source"] == "upload"
    assert body["states"] == [{"name": "before", "baseline": True}, {"name": "after", "baseline": False}]
    folder = Path(app.instance_path) / "projects" / "Court_7"
    assert Path(body["folder"]) == folder
    assert (folder / "before.ifc").read_bytes() == ifc_bytes["before"]
    assert sorted(p.name for p in folder.iterdir()) == ["after.ifc", "before.ifc", "project.toml"]
    listing = {p["name"]: p for p in client.get("/api/projects").get_json()}
    assert set(listing) == {"sample_community", "Court_7"}
    assert listing["Court_7"]["title_zh"] == "七号院"
    assert [(s["name"], s["baseline"]) for s in listing["Court_7"]["states"]] == [("before", True), ("after", False)]
    # one prepare job per state, queued by the upload and run in the background
    assert [job["state"] for job in body["jobs"]] == ["before", "after"]
    jobs = wait_done(client, [job["id"] for job in body["jobs"]])
    assert [(job["kind"], job["status"]) for job in jobs] == [("prepare", "done")] * 2
    assert jobs[1]["result"]["diff_base"] == "before"
    glb = client.get("/api/projects/Court_7/states/after/model.glb?diff=before")
    assert glb.status_code == 200 and glb.headers["X-Twin-Cache"] == "hit" and glb.data[:4] == b"glTF"
    info = client.get("/api/projects/Court_7/states/before/info").get_json()
    assert info["elements"] == jobs[0]["result"]["elements"] > 0
    # the same name again is a clash, and so is the name of a configured project
    again = upload(client, [("before.ifc", ifc_bytes["before"])], name="Court 7")
    assert "Court_7" in error_of(again, 409)
    assert "sample_community" in error_of(upload(client, [("x.ifc", ifc_bytes["before"])], name="sample_community"), 409)
    assert projects_left(app) == ["Court_7"]


def test_baseline_field_chooses_the_first_state_and_the_name_defaults_to_it(client, ifc_bytes):
    response = upload(client, [("before.ifc", ifc_bytes["before"]), ("after.ifc", ifc_bytes["after"])],
                      baseline="after.ifc")
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["name"] == "after"
    assert [s["name"] for s in body["states"]] == ["after", "before"]
    assert "'nope.ifc' is not one of the uploaded files" in error_of(
        upload(client, [("a.ifc", ifc_bytes["before"])], baseline="nope.ifc"), 400)


@pytest.mark.parametrize("bad, expected", [
    ("truncated", "truncated"),
    ("text", "not an IFC file"),
    ("empty", "not an IFC file"),
])
def test_a_bad_ifc_is_refused_naming_the_file_and_nothing_is_left(app, client, ifc_bytes, bad, expected):
    response = upload(client, [("good.ifc", ifc_bytes["before"]), (f"{bad}.ifc", ifc_bytes[bad])], name="bad")
    message = error_of(response, 400)
    assert message.startswith(f"{bad}.ifc: ") and expected in message
    assert app.instance_path not in message  # the temporary folder is not shown
    assert projects_left(app) == []  # neither the project nor its staging folder
    assert [p["name"] for p in client.get("/api/projects").get_json()] == ["sample_community"]
    assert client.get("/api/jobs").get_json() == []


def test_bad_file_names_and_forms_are_400(app, client, ifc_bytes):
    good = ifc_bytes["before"]
    assert "expected an .ifc or .ifczip" in error_of(upload(client, [("notes.txt", good)]), 400)
    assert "unsafe file name" in error_of(upload(client, [("../../evil.ifc", good)]), 400)
    assert "unsafe file name" in error_of(upload(client, [(".hidden.ifc", good)]), 400)
    assert "duplicate file name" in error_of(upload(client, [("a.ifc", good), ("A.ifc", good)]), 400)
    assert "duplicate file name" in error_of(upload(client, [("a.ifc", good), ("a.ifczip", good)]), 400)
    assert "no files uploaded" in error_of(client.post("/api/projects", data={"name": "x"},
                                                       content_type="multipart/form-data"), 400)
    assert "project name '../up'" in error_of(upload(client, [("a.ifc", good)], name="../up"), 400)
    assert "unknown form field 'colour'" in error_of(upload(client, [("a.ifc", good)], colour="red"), 400)
    assert "malformed JSON" in error_of(client.post("/api/projects", data="{", content_type="application/json"), 400)
    assert projects_left(app) == []
    assert client.get("/api/projects").status_code == 200


def test_a_body_over_the_size_limit_is_413_json(tmp_path, ifc_bytes):
    app = make_app(tmp_path / "instance", MAX_CONTENT_LENGTH=len(ifc_bytes["before"]) // 2)
    client = app.test_client()
    message = error_of(upload(client, [("big.ifc", ifc_bytes["before"])]), 413)
    assert "large" in message.lower()
    assert projects_left(app) == []
    assert client.get("/api/projects").status_code == 200


def test_a_folder_is_registered_and_survives_a_restart(tmp_path, ifc_bytes):
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "court.ifc").write_bytes(ifc_bytes["before"])
    (folder / "project.toml").write_text('[project]\nname = "elsewhere"\n[[states]]\nname = "now"\nifc = "court.ifc"\n')
    app = make_app(tmp_path / "instance")
    client = app.test_client()
    try:
        response = client.post("/api/projects", json={"folder": str(folder)})
        assert response.status_code == 201, response.get_data(as_text=True)
        body = response.get_json()
        assert (body["name"], body["source"], body["states"]) == ("elsewhere", "folder", [{"name": "now", "baseline": True}])
        assert wait_done(client, [body["jobs"][0]["id"]])[0]["status"] == "done"
        assert "already offered" in error_of(client.post("/api/projects", json={"folder": str(folder)}), 409)
        assert "already offered" in error_of(client.post("/api/projects", json={"folder": str(SAMPLE_PROJECT)}), 409)
        clash = tmp_path / "clash"
        shutil.copytree(folder, clash)
        assert "'elsewhere' exists already" in error_of(client.post("/api/projects", json={"folder": str(clash)}), 409)
        assert "not a project folder" in error_of(client.post("/api/projects", json={"folder": str(tmp_path)}), 400)
        assert "absolute path" in error_of(client.post("/api/projects", json={"folder": "elsewhere"}), 400)
        assert "'folder'" in error_of(client.post("/api/projects", json={"folder": 3}), 400)
        assert "expected a multipart upload" in error_of(client.post("/api/projects", json={"path": "/x"}), 400)
        (clash / "project.toml").write_text("[project\n")
        assert "not valid TOML" in error_of(client.post("/api/projects", json={"folder": str(clash)}), 400)
    finally:
        app.extensions["community_twin"].jobs.shutdown()
    restarted = make_app(tmp_path / "instance")
    names = [p["name"] for p in restarted.test_client().get("/api/projects").get_json()]
    assert names == ["sample_community", "elsewhere"]
    info = restarted.test_client().get("/api/projects/elsewhere/states/now/info")
    assert info.status_code == 200 and info.get_json()["elements"] > 0
