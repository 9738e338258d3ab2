"""Simulation playback, the simulations panel, screening mode and URL state in a real browser.

The app runs the test job kind `run_evacuation` (sim_fixtures: the real evacuation engine on
a Gate S scenario in the sample community's coordinates) for the baseline (24 residents)
and proposal_a (16) before the page opens; the viewer loads both results by itself. Set-up
of the browser is test_browser.py's (Debian Chromium on SwiftShader, no request leaves the
local server). Screenshots go to a temporary folder and /tmp/viewer_shots/.
"""
from __future__ import annotations

import base64
import json
import math
import struct
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sim_fixtures  # noqa: E402
# fixtures of test_browser.py; its base_url serves this module's app
from test_browser import VIEWPORT, Recorder, base_url, browser, shots  # noqa: E402,F401

from server.jobs import register_job_kind  # noqa: E402
from server.simulations import decode_frames  # noqa: E402

register_job_kind("run_evacuation", sim_fixtures.run_evacuation)
register_job_kind("traffic_format", sim_fixtures.run_traffic_format)
register_job_kind("stormwater_format", sim_fixtures.run_stormwater_format)
KIND = "run_evacuation"
FORMAT_KINDS = ("traffic_format", "stormwater_format")
"""Job kinds saving FORMAT fixtures of the frames contract (sim_fixtures: made-up arrays, not
results) on the baseline, to test that vehicles and pipes are drawn from them."""
STATES = "/api/projects/sample_community/states"
AGENTS = {"baseline": 24, "proposal_a": 16}
GATE_VIEW = [200.0, 45.0, 40.0, 170.0, 0.0, -15.0]
"""Camera [x, y, z, tx, ty, tz] in glTF world metres (twin (x, y, z) → (x, z, −y)): looking
north-west at the forecourt inside Gate S, 50 m away."""


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from server.app import create_app

    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")),
                      "JOB_WORKERS": 1, "SIMULATION_KINDS": [KIND, *FORMAT_KINDS]})
    yield app
    app.extensions["community_twin"].jobs.shutdown()


@pytest.fixture(scope="module")
def runs(app) -> dict[str, dict]:
    """Finished runs: {state or format kind: {"job": id, "frames": decoded arrays}}."""
    client = app.test_client()
    ids = {}
    for state, agents in AGENTS.items():
        response = client.post(f"{STATES}/{state}/jobs", json={"kind": KIND, "params": {"agents": agents, "tag": state}})
        assert response.status_code == 202, response.get_data(as_text=True)
        ids[state] = response.get_json()["id"]
    for kind in FORMAT_KINDS:
        response = client.post(f"{STATES}/baseline/jobs", json={"kind": kind})
        assert response.status_code == 202, response.get_data(as_text=True)
        ids[kind] = response.get_json()["id"]
    runs = {}
    deadline = time.monotonic() + 180
    for state, job_id in ids.items():
        while (job := client.get(f"/api/jobs/{job_id}").get_json())["status"] not in ("done", "failed", "cancelled"):
            assert time.monotonic() < deadline, f"{state} run not done: {job}"
            time.sleep(0.1)
        assert job["status"] == "done", job
        header, arrays = decode_frames(client.get(f"/api/jobs/{job_id}/frames").data)
        runs[state] = {"job": job_id, "frames": arrays}
    return runs


def open_page(browser, url: str):
    recorder = Recorder(urlparse(url).netloc)
    page = browser.new_page(viewport=VIEWPORT, accept_downloads=True)
    page.route("**/*", recorder.route)
    page.on("pageerror", lambda error: recorder.page_errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and recorder.console_errors.append(message.text))
    page.set_default_timeout(90_000)
    page.goto(url)
    page.wait_for_function("window.__ready !== undefined")
    page.evaluate("window.__ready")
    page.evaluate("window.__simulationsIdle()")
    page.recorder = recorder
    return page


@pytest.fixture(scope="module")
def viewer(browser, base_url, runs):
    page = open_page(browser, f"{base_url}/?mode=side&left=baseline&right=proposal_a&lang=en")
    yield page
    page.close()


def expected_position(frames: dict, t: float, k: int) -> tuple[float, float] | None:
    """Where resident k is at time t by the viewer's rule (viewer/js/frames.js): linear between
    the frames around t when present in both, else the nearer frame decides; None = not drawn."""
    times, xy = frames["times_s"], frames["positions_xy_m"].astype(np.float64)
    i0 = int(np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 1))
    i1 = min(i0 + 1, len(times) - 1)
    f = 0.0 if i1 == i0 or t <= times[0] else min(1.0, (t - times[i0]) / (times[i1] - times[i0]))
    p0, p1 = xy[i0, k], xy[i1, k]
    if np.isfinite(p0).all() and np.isfinite(p1).all():
        return tuple(p0 + (p1 - p0) * f)
    nearest = p0 if f < 0.5 else p1
    return tuple(nearest) if np.isfinite(nearest).all() else None


def test_both_results_load_on_one_clock(viewer, runs):
    playback = viewer.evaluate("window.__playback()")
    loaded = {(r["state"], r["kind"], r["job"]) for r in playback["results"]}
    assert loaded == {("baseline", KIND, runs["baseline"]["job"]), ("proposal_a", KIND, runs["proposal_a"]["job"]),
                      *(("baseline", kind, runs[kind]["job"]) for kind in FORMAT_KINDS)}
    assert sorted(playback["slots"]["left"]) == sorted([KIND, *FORMAT_KINDS]) and playback["slots"]["right"] == [KIND]
    # The clock spans the longest result shown (each keeps its last frame at its end time).
    longest = max(run["frames"]["times_s"][-1] for run in runs.values())
    assert playback["duration"] == pytest.approx(longest)
    assert viewer.is_visible("#clock-bar")
    assert viewer.inner_text('#sim-section [data-kind="run_evacuation"] .sim-status[data-state="baseline"]').endswith("done ✓")


def test_setting_the_time_moves_residents_to_the_frames_positions(viewer, runs, shots):
    # Tolerance 1 mm: the viewer interpolates in float64 and stores float32 instance matrices;
    # at x ≈ 170 m float32 resolves ~15 µm, so anything above 1 mm is a wrong place, not rounding.
    checked = hidden = 0
    for t in (0.0, 3.0, 10.4, 17.75, 33.3, 50.0, 1e6):
        shown_time = viewer.evaluate(f"window.__setTime({t})")
        for slot, state in (("left", "baseline"), ("right", "proposal_a")):
            frames = runs[state]["frames"]
            assert shown_time == pytest.approx(min(t, viewer.evaluate("window.__playback()")["duration"]))
            for k in range(AGENTS[state]):
                drawn = viewer.evaluate(f"window.__instance('{slot}', '{KIND}', {k})")
                expected = expected_position(frames, shown_time, k)
                if expected is None:
                    assert not drawn["shown"], f"{state} resident {k} at t={shown_time}: drawn, but out"
                    hidden += 1
                    continue
                assert drawn["shown"], f"{state} resident {k} at t={shown_time}: not drawn, expected at {expected}"
                assert drawn["x"] == pytest.approx(expected[0], abs=1e-3)
                assert drawn["y"] == pytest.approx(expected[1], abs=1e-3)
                assert drawn["z"] == 0
                checked += 1
    assert checked > 100 and hidden > 20, (checked, hidden)  # both cases met: walking and out
    # Past the start the residents walk: resident 5 of the baseline is somewhere else at 10 s.
    start = viewer.evaluate(f"(() => {{ window.__setTime(0); return window.__instance('left', '{KIND}', 5); }})()")
    later = viewer.evaluate(f"(() => {{ window.__setTime(10); return window.__instance('left', '{KIND}', 5); }})()")
    assert math.dist((start["x"], start["y"]), (later["x"], later["y"])) > 3  # ≥ 0.57 m/s for 5+ s


def test_vehicles_follow_the_traffic_frames_format(viewer, runs):
    frames = runs["traffic_format"]["frames"]
    seen = hidden = 0
    for t in (0.0, 4.4, 7.5, 30.25, 60.0):
        viewer.evaluate(f"window.__setTime({t})")
        for k in range(frames["positions_xy_m"].shape[1]):
            drawn = viewer.evaluate(f"window.__instance('left', 'traffic_format', {k})")
            expected = expected_position(frames, t, k)
            if expected is None:
                assert not drawn["shown"]
                hidden += 1
                continue
            assert drawn["shown"] and drawn["x"] == pytest.approx(expected[0], abs=1e-3)
            assert drawn["y"] == pytest.approx(expected[1], abs=1e-3)
            seen += 1
    assert seen > 10 and hidden > 3  # vehicles both on and not yet on the road


def srgb_to_linear(hex_colour: str) -> list[float]:
    """three.js Color.set('#rrggbb') in linear components (sRGB transfer function)."""
    values = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    return [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in values]


def test_pipes_coloured_by_flow_ratio_and_flooded_manholes(viewer, runs, shots):
    frames = runs["stormwater_format"]["frames"]
    links = len(frames["link_ids"])
    # fixture: every pipe's ratio is linspace(0, 1.5, 11)[frame]; frames every 60 s
    dry, surcharged = srgb_to_linear("#d0ebff"), srgb_to_linear("#862e9c")
    half, nearly = srgb_to_linear("#339af0"), srgb_to_linear("#fab005")
    between = [a + (b - a) * (0.75 - 0.5) / 0.3 for a, b in zip(half, nearly)]  # ratio 0.75, linear blend
    for t, colour in ((0.0, dry), (300.0, between), (600.0, surcharged)):
        viewer.evaluate(f"window.__setTime({t})")
        for index in (0, links // 2, links - 1):
            drawn = viewer.evaluate(f"window.__pipeColour('left', 'stormwater_format', {index})")
            assert drawn == pytest.approx(colour, abs=1e-5), (t, index)
    # The last three frames flood the first quarter of the nodes (fixture), drawn as discs.
    viewer.evaluate("window.__setTime(540)")
    flooded = int((frames["node_flooding_m3s"][9] > 0).sum())
    assert viewer.evaluate("window.__flooded('left', 'stormwater_format')") == flooded > 0
    viewer.evaluate("window.__setTime(420)")
    assert viewer.evaluate("window.__flooded('left', 'stormwater_format')") == 0
    viewer.evaluate("window.__setStates({mode: 'single', single: 'baseline'})")
    viewer.evaluate("window.__fitSite()")
    viewer.evaluate("window.__setTime(540)")
    shots(viewer, "25_format_fixture_pipes_vehicles_baseline")
    viewer.evaluate("window.__setStates({mode: 'side', left: 'baseline', right: 'proposal_a'})")


def test_density_map_counts_residents_per_square_metre(viewer, runs):
    viewer.evaluate("window.__setTime(0)")
    xy = runs["baseline"]["frames"]["positions_xy_m"][0]
    cell = 2.0  # viewer/js/density.js CELL_M
    for k in (0, 7, 13):
        x, y = (float(v) for v in xy[k])
        drawn = viewer.evaluate(f"window.__density('left', '{KIND}', {x}, {y})")
        # the cell of (x, y) in the grid the viewer anchors at a multiple of 2 m
        same = [j for j in range(len(xy)) if np.isfinite(xy[j]).all()
                and math.floor(xy[j][0] / cell) == math.floor(x / cell) and math.floor(xy[j][1] / cell) == math.floor(y / cell)]
        assert drawn == pytest.approx(len(same) / cell ** 2)


def test_playback_is_drawn_and_plays(viewer, shots):
    viewer.evaluate(f"window.__setPose({json.dumps(GATE_VIEW)})")
    viewer.evaluate("window.__setTime(12)")
    shots(viewer, "20_evacuation_side_by_side_t12")
    viewer.evaluate("window.__setTime(0)")
    # 1×: the 68 s run cannot end (and stop by itself) while a slow software renderer clicks
    viewer.select_option(".clock-speed", "1")
    viewer.click(".clock-play")
    viewer.wait_for_function("window.__playback().time > 1", timeout=30_000)
    viewer.click(".clock-play")
    state = viewer.evaluate("window.__playback()")
    assert not state["playing"] and state["speed"] == 1 and 1 < state["time"] < 60


def test_run_button_starts_a_run_and_shows_it(viewer, app, runs):
    viewer.evaluate("window.__setStates({mode: 'single', single: 'proposal_b'})")
    viewer.evaluate("window.__simulationsIdle()")
    row = '#sim-section [data-kind="run_evacuation"]'
    assert viewer.inner_text(f'{row} .sim-status[data-state="proposal_b"]').endswith("not run yet")
    viewer.click(f"{row} .sim-run")
    viewer.wait_for_selector(f'{row} .sim-status[data-state="proposal_b"][data-status="done"]', timeout=120_000)
    viewer.evaluate("window.__simulationsIdle()")
    jobs = app.test_client().get("/api/jobs?state=proposal_b").get_json()
    assert [job["kind"] for job in jobs] == [KIND] and jobs[0]["status"] == "done"
    playback = viewer.evaluate("window.__playback()")
    assert ("proposal_b", jobs[0]["id"]) in {(r["state"], r["job"]) for r in playback["results"]}
    assert playback["slots"] == {"right": [KIND]}
    figures = viewer.inner_text(f'{row} .sim-figures tr[data-metric="evacuated"]')
    assert figures.endswith("24"), figures  # the run's default 24 residents, all out


def test_url_round_trip(viewer, browser, base_url):
    viewer.evaluate("window.__setStates({mode: 'swipe', left: 'baseline', right: 'proposal_a', diff: true, swipe: 0.3})")
    viewer.evaluate("window.__simulationsIdle()")
    viewer.evaluate(f"window.__setPose({json.dumps(GATE_VIEW)})")
    viewer.evaluate("window.__setTime(21.5)")
    viewer.evaluate("window.__setLang('zh')")
    viewer.wait_for_function("new URLSearchParams(location.search).get('t') === '21.5' "
                             "&& new URLSearchParams(location.search).get('lang') === 'zh'")
    wanted = viewer.evaluate("window.__viewState()")
    url = viewer.url
    query = parse_qs(urlparse(url).query)
    assert query["mode"] == ["swipe"] and query["diff"] == ["1"] and query["swipe"] == ["0.300"]
    other = open_page(browser, url)
    try:
        got = other.evaluate("window.__viewState()")
        for key in ("mode", "left", "right", "diff", "lang", "screen"):
            assert got[key] == wanted[key], key
        assert got["swipe"] == pytest.approx(wanted["swipe"], abs=1e-3)
        assert got["time"] == pytest.approx(21.5)
        # the URL keeps 0.1 m: the camera comes back within that
        assert got["camera"] == pytest.approx(wanted["camera"], abs=0.051)
        assert other.inner_text('[data-mode="side"]') == "左右对比"
        assert other.recorder.outside == []
    finally:
        other.close()
    viewer.evaluate("window.__setLang('en')")


@pytest.fixture(scope="module")
def screening(browser, base_url, runs):
    page = open_page(browser, f"{base_url}/?screen=1&lang=en")
    yield page
    page.close()


def test_screening_mode_tour_in_both_languages(screening, runs, shots):
    page = screening
    assert page.evaluate("document.documentElement.classList.contains('screening')")
    for hidden in ("#sidebar", ".modes", ".state-pickers", "#diff-toggle"):
        assert page.is_hidden(hidden), f"{hidden} shown in screening mode"
    assert page.inner_text("#tour .tour-title") == "The community today"
    assert "6,572 residents" in page.inner_text("#tour .tour-body")  # twin info of the sample
    shots(page, "21_screening_overview_en")
    page.click("#tour .tour-next")
    page.wait_for_selector('#tour[data-step="compare"]')
    assert page.evaluate("window.__viewState()")["mode"] == "swipe"
    # What the change colours mean is on the card (the sidebar's legend is hidden here), and the
    # caption over the view says the proposal is coloured by change since the baseline.
    page.evaluate("window.__tour(2)")
    assert page.get_attribute("#tour", "data-step") == "changes"
    legend = page.locator("#tour .tour-legend .legend-item")
    assert legend.count() == 6 and legend.first.inner_text() == "Added"
    assert page.inner_text(".view-label.right .view-note") == "Coloured by change since Before retrofit"
    page.evaluate("window.__tour(3)")
    assert page.get_attribute("#tour", "data-step") == "sim"
    assert page.inner_text("#tour .tour-title") == "Simulation: Evacuation"
    # what the residents' colours mean (their groups), and the density heat map's
    entries = set(page.locator("#tour .sim-legend .legend-item").all_inner_texts())
    assert {"Adults", "Elderly", "Children", "Reduced mobility", "≥ 0.5"} <= entries, entries
    view = page.evaluate("window.__viewState()")
    assert (view["mode"], view["left"], view["right"], view["tour"]) == ("side", "baseline", "proposal_a", 3)
    # The step plays the run from 0 at the speed that takes ~20 s (68 s run → 10×); on a loaded
    # machine it may already have reached the end, so "played" is: playing, or time past 0.
    playback = page.evaluate("window.__playback()")
    assert playback["speed"] == 10 and (playback["playing"] or playback["time"] > 0), playback
    evacuated = page.inner_text('#tour li[data-metric="evacuated"]')
    assert evacuated.endswith("24 → 16 persons"), evacuated
    # The step shows this engine only: the clock spans the evacuation runs, not the fixtures' 600 s.
    assert playback["duration"] == pytest.approx(max(runs[s]["frames"]["times_s"][-1] for s in AGENTS))
    page.evaluate("window.__pause()")  # so the pictures show t = 12 s
    page.evaluate(f"window.__setPose({json.dumps(GATE_VIEW)})")
    page.evaluate("window.__setTime(12)")
    shots(page, "22_screening_evacuation_en")

    english = {selector: page.inner_text(selector) for selector in
               ("#tour .tour-title", "#tour .tour-next", "#lang-toggle", ".clock-play", "#screenshot", "#reset-view")}
    page.click("#lang-toggle")
    chinese = {selector: page.inner_text(selector) for selector in english}
    assert chinese["#tour .tour-title"] == "模拟：应急疏散"
    assert chinese["#lang-toggle"] == "English" and chinese["#screenshot"] == "截图"
    assert page.inner_text('#tour li[data-metric="evacuated"]').endswith("24 → 16 人")
    for selector in english:
        assert chinese[selector] != english[selector], f"{selector} reads the same in both languages"
    shots(page, "23_screening_evacuation_zh")
    page.evaluate("window.__setTime(0)")


def test_screenshot_button_saves_the_view(screening, tmp_path):
    page = screening
    with page.expect_download() as download_info:
        page.click("#screenshot")
    download = download_info.value
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    canvas = page.eval_on_selector("#scene-canvas", "c => [c.width, c.height]")
    assert [width, height] == canvas
    assert len(data) > 50_000  # a drawn community, not an empty canvas (that compresses to ~5 kB)
    # The image says what it shows: a caption over each side (the screening's side-by-side
    # step) and the project's title in a band along the bottom, all dark boxes with white text.
    assert page.evaluate("window.__viewState().mode") == "side"
    pixels = page.evaluate("""async (png) => {
        const image = new Image();
        image.src = `data:image/png;base64,${png}`;
        await image.decode();
        const canvas = document.createElement('canvas');
        canvas.width = image.width;
        canvas.height = image.height;
        const paint = canvas.getContext('2d');
        paint.drawImage(image, 0, 0);
        const at = (x, y) => Array.from(paint.getImageData(x, y, 1, 1).data.slice(0, 3));
        const half = Math.floor(image.width / 2);
        return { left: at(16, 16), right: at(half + 16, 16), band: at(image.width - 8, image.height - 6) };
    }""", base64.b64encode(data).decode())
    for where in ("left", "right", "band"):  # rgba(20, 24, 31, 0.82) over anything: every channel ≤ 63
        assert max(pixels[where]) <= 63, f"no caption box at the {where}: {pixels}"
    Path("/tmp/viewer_shots").mkdir(exist_ok=True)
    (Path("/tmp/viewer_shots") / f"24_button_{download.suggested_filename}").write_bytes(data)


def test_nothing_left_localhost_and_no_errors(viewer, screening):
    for page in (viewer, screening):
        assert page.recorder.outside == [], page.recorder.outside
        assert page.recorder.page_errors == [], page.recorder.page_errors
        assert page.recorder.console_errors == [], page.recorder.console_errors
