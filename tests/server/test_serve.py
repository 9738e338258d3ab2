"""server over real HTTP: the app in a threaded werkzeug server on a free loopback port, and the
`twin serve` command (waitress) in its own process, both fetched with urllib."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from server.app import SAMPLE_PROJECT, create_app
from server.cli import main

REPO = Path(__file__).resolve().parents[2]


def fetch(url: str, timeout: float = 60) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    app = create_app({"INSTANCE_PATH": str(tmp_path_factory.mktemp("instance"))})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_projects_over_http(served):
    _, base = served
    status, headers, body = fetch(f"{base}/api/projects")
    assert status == 200 and headers["Content-Type"] == "application/json"
    (project,) = json.loads(body)
    assert project["name"] == "sample_community" and len(project["states"]) == 3


def test_errors_over_http_are_json_and_the_server_goes_on(served):
    _, base = served
    status, _, body = fetch(f"{base}/api/projects/nowhere/states/baseline/info")
    assert status == 404 and "nowhere" in json.loads(body)["error"]
    status, _, body = fetch(f"{base}/api/projects/sample_community/states/baseline/model.glb?diff=")
    assert status == 400 and "diff" in json.loads(body)["error"]
    assert fetch(f"{base}/api/projects")[0] == 200


def test_concurrent_requests_for_one_state_load_it_once(served):
    """Eight clients ask for a GLB nobody has asked for yet: one load, one file, same bytes."""
    app, base = served
    store = app.extensions["community_twin"].states
    loads = store.loads
    url = f"{base}/api/projects/sample_community/states/proposal_b/model.glb"
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(fetch, [url] * 8))
    assert [status for status, _, _ in answers] == [200] * 8
    assert len({body for _, _, body in answers}) == 1 and answers[0][2][:4] == b"glTF"
    assert sorted(headers["X-Twin-Cache"] for _, headers, _ in answers).count("miss") == 1
    assert store.loads == loads + 1
    assert len(list(Path(app.instance_path, "glb").glob("*/proposal_b-*.glb"))) == 1


def test_twin_serve_prints_the_url_and_answers(tmp_path):
    """`twin serve` under waitress in its own process: the URL line, then real answers."""
    command = [sys.executable, "-c", "import sys; from server.cli import main; sys.exit(main())",
               "serve", str(SAMPLE_PROJECT), "--port", "0", "--instance", str(tmp_path / "instance"), "--no-warm"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = process.stdout.readline()
        match = re.search(r"open (http://127\.0\.0\.1:\d+/)", line)
        assert match, f"no URL in {line!r}; stderr: {process.stderr.read() if process.poll() is not None else ''}"
        url = match.group(1)
        assert process.stdout.readline().strip().endswith(f"{url}?screen=1&lang=zh")  # the screening link
        status, headers, body = fetch(f"{url}api/projects")
        assert status == 200 and headers.get("Server") == "waitress"
        assert json.loads(body)[0]["name"] == "sample_community"
        status, _, body = fetch(f"{url}api/projects/sample_community/states/nope/info")
        assert status == 404 and "nope" in json.loads(body)["error"]
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_twin_serve_refuses_a_folder_without_project_toml(tmp_path, capsys):
    assert main(["serve", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(tmp_path) in err and "project.toml" in err


def test_other_subcommands_go_to_twin_cli(capsys):
    missing = SAMPLE_PROJECT / "missing.ifc"
    assert main(["info", str(missing)]) == 2
    assert capsys.readouterr().err.strip().startswith(f"error: {missing}")


def test_warm_up_prepares_each_state_s_glb_and_map_layers(tmp_path, monkeypatch):
    """After `twin serve`'s background warm-up the first visitor's GLB and pins come from memory:
    no state is loaded again, and the layers are not computed again."""
    import server.states
    from server.cli import _warm

    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance")})
    _warm(app, ["sample_community"])
    store = app.extensions["community_twin"].states
    loads = store.loads
    monkeypatch.setattr(server.states, "layers_geojson", lambda *a: pytest.fail("layers computed again"))
    client = app.test_client()
    answer = client.get("/api/projects/sample_community/states/baseline/layers")
    assert answer.status_code == 200 and answer.get_json()["features"]
    assert client.get("/api/projects/sample_community/states/proposal_b/model.glb").status_code == 200
    assert store.loads == loads
