"""The viewer in a real browser: the Flask app in-process, Debian's Chromium driven by Playwright.

Recipe (proven on 2-core machines without a GPU): `apt-get install chromium fonts-noto-cjk`,
`pip install playwright` — never `playwright install` — and WebGL2 on SwiftShader through the
launch arguments below. Missing browser pieces fail the tests with the install command (CI
installs them); they are not skipped.

One page serves the whole module (a page load and its GLBs cost seconds on software WebGL);
each test sets the view it needs through the viewer's test hooks (documented in
viewer/js/main.js) and never relies on what an earlier test left behind. Screenshots go to a
temporary folder and are copied to /tmp/viewer_shots/ for people to look at.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import struct
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

CHROMIUM = Path(os.environ.get("TWIN_CHROMIUM", "/usr/bin/chromium"))
"""Debian's Chromium; TWIN_CHROMIUM points elsewhere (another Chromium build)."""
LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--enable-unsafe-swiftshader", "--use-angle=swiftshader",
]
VIEWPORT = {"width": 1600, "height": 900}
PROJECT = "sample_community"
SHOTS_COPY = Path("/tmp/viewer_shots")
DRAINAGE_CLASSES = {"IfcPipeSegment", "IfcPipeFitting", "IfcDistributionChamberElement", "IfcTank",
                    "IfcInterceptor", "IfcFlowTerminal", "IfcWasteTerminal", "IfcStackTerminal"}
"""The 'pipes' layer group of viewer/js/layers.js: underground, hidden until asked for."""
INSTALL_HELP = ("install the browser-test pieces: `apt-get install -y chromium fonts-noto-cjk` and "
                "`pip install playwright` (never `playwright install`)")


# -- the server -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from server.app import create_app

    return create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance"))})


@pytest.fixture(scope="module")
def base_url(app):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def api(app, path: str):
    response = app.test_client().get(path)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.data[:200]!r}"
    return response


def glb_json(app, state: str, diff: str | None = None) -> dict:
    """The JSON chunk of a state's GLB as the viewer receives it."""
    query = f"?diff={diff}" if diff else ""
    data = api(app, f"/api/projects/{PROJECT}/states/{state}/model.glb{query}").data
    magic, _version, _length = struct.unpack_from("<III", data, 0)
    assert magic == 0x46546C67, "not a GLB"
    json_length, _chunk_type = struct.unpack_from("<II", data, 12)
    return json.loads(data[20:20 + json_length])


def element_nodes(gltf: dict) -> list[dict]:
    return [node for node in gltf["nodes"] if "storey" in node.get("extras", {})]


def shown_meshes(gltf: dict) -> tuple[set[int], int]:
    """(materials, triangles) of the meshes the viewer shows when it opens: all but drainage."""
    materials, triangles = set(), 0
    for node in gltf["nodes"]:
        if "mesh" not in node or node.get("extras", {}).get("ifcClass") in DRAINAGE_CLASSES:
            continue
        for primitive in gltf["meshes"][node["mesh"]]["primitives"]:
            materials.add(primitive["material"])
            triangles += gltf["accessors"][primitive["indices"]]["count"] // 3
    return materials, triangles


# -- the browser ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"the Python package playwright is missing: {INSTALL_HELP}", pytrace=False)
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: {INSTALL_HELP}", pytrace=False)
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        except Exception as exc:  # a broken install: say so, do not skip
            pytest.fail(f"cannot start {CHROMIUM}: {exc}\n{INSTALL_HELP}", pytrace=False)
        yield browser
        browser.close()


class Recorder:
    """Every request the page makes; those not to the local server are aborted and kept."""

    def __init__(self, host: str):
        self.host = host
        self.local: list[str] = []
        self.outside: list[str] = []
        self.page_errors: list[str] = []
        self.console_errors: list[str] = []

    def route(self, route):
        url = route.request.url
        parsed = urlparse(url)
        if parsed.scheme in ("data", "blob") or parsed.netloc == self.host:
            self.local.append(url)
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()


@pytest.fixture(scope="module")
def viewer(browser, base_url, app):
    """The viewer page, loaded once in Chinese (?lang=zh), with every request recorded."""
    recorder = Recorder(urlparse(base_url).netloc)
    page = browser.new_page(viewport=VIEWPORT)
    page.route("**/*", recorder.route)
    page.on("pageerror", lambda error: recorder.page_errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and recorder.console_errors.append(message.text))
    page.set_default_timeout(60_000)
    page.goto(f"{base_url}/?lang=zh")
    page.wait_for_function("window.__ready !== undefined")
    stats = page.evaluate("window.__ready")
    page.recorder = recorder
    page.first_stats = stats
    page.app = app
    yield page
    page.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = tmp_path_factory.mktemp("viewer_shots")
    SHOTS_COPY.mkdir(parents=True, exist_ok=True)

    def save(page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path))
        shutil.copy(path, SHOTS_COPY / path.name)
        return path

    return save


def canvas_box(page) -> dict:
    return page.eval_on_selector("#scene-canvas", "c => { const r = c.getBoundingClientRect(); "
                                                  "return {x: r.left, y: r.top, width: r.width, height: r.height}; }")


def mean_colour(page, x: float, y: float, size: int = 5) -> tuple[float, float, float]:
    """Mean RGB of a size × size block centred on canvas pixel (x, y), rendered and read at once."""
    half = size // 2
    block = page.evaluate(f"window.__readPixels({round(x) - half}, {round(y) - half}, {size}, {size})")
    data = block["data"]
    pixels = len(data) // 4
    return tuple(sum(data[i + channel] for i in range(0, len(data), 4)) / pixels for channel in range(3))


def show(page, **view) -> dict:
    """Set mode/states/diff, put every layer and change status back on (pipes off, as the
    viewer starts), close the panel, and look at the whole community. Returns __stats()."""
    page.evaluate("view => window.__setStates(view)", view)
    page.evaluate("""() => {
        for (const key of ['buildings', 'roads', 'green', 'parking', 'service', 'other', 'context']) window.__setLayer(key, true);
        window.__setLayer('pipes', false);
        for (const s of ['added', 'removed', 'geometry', 'data', 'geometry+data', 'unchanged']) window.__setDiffStatus(s, true);
    }""")
    page.keyboard.press("Escape")
    page.evaluate("window.__fitSite()")
    return page.evaluate("window.__setStates({})")


# -- the tests ------------------------------------------------------------------------------------

def test_page_loads_offline_in_chinese(viewer, shots):
    recorder = viewer.recorder
    assert recorder.outside == [], f"requests left the local server: {recorder.outside}"
    paths = {urlparse(url).path for url in recorder.local}
    # three.js came from the server's npm install, and the state's GLB from the API.
    assert "/vendor/three/build/three.module.js" in paths
    assert f"/api/projects/{PROJECT}/states/baseline/model.glb" in paths
    # ?lang=zh: the labels are Chinese from the start.
    assert viewer.inner_text('[data-mode="side"]') == "左右对比"
    assert viewer.evaluate("document.documentElement.lang") == "zh-CN"
    # The first frame (what benchmarks/viewer.py times) shows the community, and its GLB was
    # fetched once: the early request of js/prefetch.js, handed to the loader.
    first = viewer.first_stats
    gltf = glb_json(viewer.app, "baseline")
    materials, triangles = shown_meshes(gltf)
    assert first["frame"] >= 1 and first["firstFrameMs"] > 0
    assert first["elements"] == len(element_nodes(gltf))
    # every shown mesh (a batch per material) and the ground; pins may come later
    assert first["drawCalls"] >= len(materials) + 1 and first["triangles"] >= triangles + 2, first
    glb_requests = [url for url in recorder.local if urlparse(url).path.endswith("/states/baseline/model.glb")]
    assert len(glb_requests) == 1, glb_requests
    shots(viewer, "01_first_view_zh")


def test_sample_community_renders(viewer, app, shots):
    stats = show(viewer, mode="single", single="baseline", diff=False)
    box = canvas_box(viewer)

    def sample() -> list[tuple[int, int, int]]:
        """A 5 × 3 grid of 40-px blocks over the canvas."""
        pixels = []
        for column in range(5):
            for row in range(3):
                x = box["width"] * (column + 0.5) / 5
                y = box["height"] * (row + 0.5) / 3
                block = viewer.evaluate(f"window.__readPixels({round(x) - 20}, {round(y) - 20}, 40, 40)")["data"]
                pixels.extend(tuple(block[i:i + 3]) for i in range(0, len(block), 4))
        return pixels

    drawn = sample()
    # The same view with every layer off is the empty sky: the model must cover much of it.
    viewer.evaluate("() => { for (const k of ['buildings','roads','green','parking','service','other','context']) "
                    "window.__setLayer(k, false); }")
    empty = sample()
    assert viewer.evaluate("window.__stats()")["triangles"] == 0, "layers off, yet something is drawn"
    show(viewer, mode="single", single="baseline", diff=False)
    covered = sum(1 for a, b in zip(drawn, empty) if math.dist(a, b) > 12) / len(drawn)
    luminance = [0.2126 * r + 0.7152 * g + 0.0722 * b for r, g, b in drawn]
    mean = sum(luminance) / len(luminance)
    spread = math.sqrt(sum((v - mean) ** 2 for v in luminance) / len(luminance))
    assert covered > 0.6, f"the model covers only {covered:.0%} of the sampled pixels: the canvas looks blank"
    assert spread > 15, f"luminance standard deviation {spread:.1f}: no contrast, the canvas looks flat"

    # Expected work, from the GLB itself: the viewer draws the shown element meshes batched, one
    # draw call per material (viewer/js/batch.js; transparent ones in a single pass too), all on
    # screen in the whole-site view; add the ground sheet and the service-point pins (stick, ball
    # and label each). The sky is painted behind the canvas, not drawn.
    gltf = glb_json(app, "baseline")
    materials, triangles = shown_meshes(gltf)
    layers = api(app, f"/api/projects/{PROJECT}/states/baseline/layers").get_json()
    service_points = sum(1 for f in layers["features"] if f["properties"]["layer"] == "service_points")
    low = len(materials) + 1
    high = low + 3 * service_points
    assert low <= stats["drawCalls"] <= high, (
        f"{stats['drawCalls']} draw calls; expected {low}–{high}: {len(materials)} materials shown, "
        f"the ground, and {service_points} service-point pins")
    # The ground is two triangles; a pin (8-sided stick, 16 × 12 ball, label) under 600.
    assert triangles + 2 <= stats["triangles"] <= triangles + 2 + 600 * service_points, (
        f"{stats['triangles']} triangles drawn; the shown meshes have {triangles}")
    assert stats["elements"] == len(element_nodes(gltf))
    assert stats["nodes"] >= len(gltf["nodes"])
    shots(viewer, "02_baseline_single")


def test_swipe_shows_an_element_that_only_the_proposal_has(viewer, app, shots):
    show(viewer, mode="swipe", left="baseline", right="proposal_a", diff=False)
    viewer.evaluate("window.__setLayer('service', false)")  # labels are drawn over everything
    diff = api(app, f"/api/projects/{PROJECT}/states/proposal_a/diff").get_json()
    proposal = {node["extras"]["globalId"]: node["extras"] for node in element_nodes(glb_json(app, "proposal_a"))}
    baseline_ids = {node["extras"]["globalId"] for node in element_nodes(glb_json(app, "baseline"))}
    added = [gid for gid in diff["added"] if gid in proposal]
    assert added and not set(added) & baseline_ids
    # Sponge facilities (rain gardens, bioretention cells) lie open to the sky: try them first.
    added.sort(key=lambda gid: (proposal[gid]["ifcClass"] != "IfcGeographicElement",
                                proposal[gid]["ifcClass"] == "IfcTransportElement"))
    tried = []
    for gid in added[:8]:
        where = viewer.evaluate(f"window.__screenOf({json.dumps(gid)}, 'right')")
        if where is None:
            tried.append((gid, "off screen"))
            continue
        x, y = where["x"], where["y"]
        viewer.evaluate("window.__setSwipe(0)")  # all proposal
        after = mean_colour(viewer, x, y)
        seen_after = viewer.evaluate(f"window.__pickAt({x}, {y})")
        viewer.keyboard.press("Escape")
        viewer.evaluate("window.__setSwipe(1)")  # all baseline
        before = mean_colour(viewer, x, y)
        seen_before = viewer.evaluate(f"window.__pickAt({x}, {y})")
        viewer.keyboard.press("Escape")
        distance = math.dist(after, before)
        tried.append((gid, proposal[gid]["name"], seen_after, seen_before, round(distance, 1)))
        if seen_after == gid:
            assert seen_before != gid, "the baseline side shows an element the baseline does not have"
            assert distance > 40, (
                f"{proposal[gid]['name']} ({gid}) at ({x:.0f}, {y:.0f}): proposal side {after}, "
                f"baseline side {before} — the swipe does not change what is drawn there")
            viewer.evaluate("window.__setSwipe(0.5)")
            shots(viewer, "03_swipe_half")
            return
    pytest.fail(f"no element added in proposal_a was visible from the default view: {tried}")


def test_side_by_side_cameras_move_together(viewer, app, shots):
    show(viewer, mode="side", left="baseline", right="proposal_a", diff=True)
    # A roof both states have: drawn at the same place in each half.
    roof = next(node["extras"]["globalId"] for node in element_nodes(glb_json(app, "baseline"))
                if node["extras"]["ifcClass"] == "IfcRoof")
    box = canvas_box(viewer)
    half = math.floor(box["width"] / 2)

    def both():
        left = viewer.evaluate(f"window.__screenOf({json.dumps(roof)}, 'left')")
        right = viewer.evaluate(f"window.__screenOf({json.dumps(roof)}, 'right')")
        assert left and right, "the roof is off screen"
        assert right["x"] - left["x"] == pytest.approx(half, abs=1.5)
        assert right["y"] == pytest.approx(left["y"], abs=1.0)
        return left

    start = both()
    shots(viewer, "04_side_by_side_diff_zh")
    # Turn the left view with the mouse: the right one follows.
    x0, y0 = box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.6
    viewer.mouse.move(x0, y0)
    viewer.mouse.down()
    for step in range(1, 5):
        viewer.mouse.move(x0 + 30 * step, y0 - 6 * step)
    viewer.mouse.up()
    moved = both()
    assert math.dist((start["x"], start["y"]), (moved["x"], moved["y"])) > 10, "the drag did not move the camera"
    # The same element sits under the same point of each half.
    assert viewer.evaluate(f"window.__pickAt({moved['x']}, {moved['y']})") == roof
    viewer.keyboard.press("Escape")


def test_click_on_a_building_shows_its_globalid_and_property_sets(viewer, app, shots):
    show(viewer, mode="single", single="baseline", diff=False)
    viewer.evaluate("window.__setLayer('service', false)")
    gltf = glb_json(app, "baseline")
    box = canvas_box(viewer)
    for node in element_nodes(gltf):
        extras = node["extras"]
        if extras["ifcClass"] != "IfcRoof":
            continue
        where = viewer.evaluate(f"window.__screenOf({json.dumps(extras['globalId'])}, 'right')")
        # A roof well inside the part of the view the panel will not cover.
        if where and 100 < where["x"] < box["width"] * 0.6 and 100 < where["y"] < box["height"] - 100:
            break
    else:
        pytest.fail("no roof in view")
    roof, building = extras["globalId"], extras["building"]
    building_psets = list(api(app, f"/api/projects/{PROJECT}/states/baseline/elements/{building}").get_json()["psets"])
    roof_psets = list(api(app, f"/api/projects/{PROJECT}/states/baseline/elements/{roof}").get_json()["psets"])
    assert building_psets, "the sample's buildings carry property sets"

    viewer.mouse.click(box["x"] + where["x"], box["y"] + where["y"])
    viewer.wait_for_selector(f'#properties .panel-building[data-global-id="{building}"]')
    panel = viewer.inner_text("#properties")
    assert viewer.inner_text('[data-testid="panel-gid"]') == roof
    assert building in panel
    for name in building_psets + roof_psets:
        assert viewer.locator(f'#properties table[data-pset="{name}"]').count() >= 1, f"no table for {name}"
    shots(viewer, "05_pick_roof_zh")

    # By GlobalId: a wall of the same building.
    wall = next(node["extras"]["globalId"] for node in element_nodes(gltf)
                if node["extras"]["ifcClass"] == "IfcWall" and node["extras"]["building"] == building)
    assert viewer.evaluate(f"window.__pickGlobalId({json.dumps(wall)})") == wall
    assert viewer.inner_text('[data-testid="panel-gid"]') == wall
    assert viewer.evaluate("window.__pickGlobalId('0000000000000000000000')") is None
    assert viewer.is_hidden("#properties")


def test_language_switch_changes_the_labels(viewer, shots):
    show(viewer, mode="single", single="baseline", diff=False)
    assert viewer.evaluate("window.__setLang('en')") == "en"
    assert viewer.inner_text('[data-mode="side"]') == "Side by side"
    assert viewer.inner_text("#state-single option:checked") == "Before retrofit"
    assert viewer.inner_text("#lang-toggle") == "中文"
    shots(viewer, "06_single_en")
    viewer.evaluate("window.__setLang('zh')")
    assert viewer.inner_text('[data-mode="side"]') == "左右对比"
    assert viewer.inner_text("#state-single option:checked") == "改造前"
    assert viewer.inner_text('#layers-list [data-layer="buildings"] .toggle-label') == "建筑"


def test_change_colours_and_status_toggles(viewer, app, shots):
    stats = show(viewer, mode="single", single="proposal_a", diff=True)
    counts = api(app, f"/api/projects/{PROJECT}/states/proposal_a/diff").get_json()["summary"]["counts"]
    for status in ("added", "removed", "unchanged"):
        shown = viewer.inner_text(f'#diff-section [data-status="{status}"] .toggle-count')
        assert int(shown) == counts[status], f"legend says {shown} {status}, the diff {counts[status]}"
    shots(viewer, "07_proposal_a_changes_zh")
    viewer.evaluate("window.__setDiffStatus('unchanged', false)")
    fewer = viewer.evaluate("window.__stats()")
    assert fewer["triangles"] < stats["triangles"] * 0.5, "hiding unchanged elements hid little"
    shots(viewer, "08_proposal_a_only_changes_zh")


def test_glb_reader_builds_what_gltfloader_builds(viewer):
    """viewer/js/glb.js, the fast reader of twin/export.py's GLBs, against three's GLTFLoader:
    the same objects in the same tree — types, extras, world matrices, materials, geometry."""
    for query in ("baseline/model.glb", "proposal_a/model.glb?diff=baseline"):
        differences = viewer.evaluate("""async (url) => {
            const { GLTFLoader } = await import('three/addons/loaders/GLTFLoader.js');
            const { readGlb } = await import('/viewer/js/glb.js');
            const bytes = await (await fetch(url)).arrayBuffer();
            const objects = (root) => { const list = []; root.updateMatrixWorld(true); root.traverse((o) => list.push(o)); return list; };
            const expected = objects((await new GLTFLoader().parseAsync(bytes, '')).scene);
            const got = objects(readGlb(bytes, url));
            const found = [];
            if (expected.length !== got.length) return [`${got.length} objects, GLTFLoader ${expected.length}`];
            const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
            expected.forEach((e, i) => {
                const g = got[i];
                if (e.type !== g.type || !same(e.userData, g.userData)) found.push(`${i}: ${e.type} ${g.type} ${g.userData.globalId}`);
                if (e.matrixWorld.elements.some((v, k) => Math.abs(v - g.matrixWorld.elements[k]) > 1e-9)) found.push(`${i}: matrix`);
                if (!e.isMesh) return;
                for (const key of ['type', 'name', 'transparent', 'opacity', 'side', 'flatShading', 'depthWrite', 'metalness', 'roughness'])
                    if (e.material[key] !== g.material[key]) found.push(`${i}: material ${key}`);
                if (!e.material.color.equals(g.material.color)) found.push(`${i}: colour`);
                for (const key of ['position', 'index']) {
                    const a = key === 'index' ? e.geometry.index.array : e.geometry.attributes[key].array;
                    const b = key === 'index' ? g.geometry.index.array : g.geometry.attributes[key].array;
                    if (a.length !== b.length || a.some((v, k) => v !== b[k])) found.push(`${i}: ${key}`);
                }
                if (!e.geometry.boundingBox.equals(g.geometry.boundingBox)) found.push(`${i}: bounds`);
            });
            return found.slice(0, 10);
        }""", f"/api/projects/{PROJECT}/states/{query}")
        assert differences == [], f"{query}: {differences}"
    # A file using more of glTF than twin/export.py writes is left to GLTFLoader (loader.js).
    declined = viewer.evaluate("""async (url) => {
        const { readGlb, splitGlb } = await import('/viewer/js/glb.js');
        const { json, bin } = splitGlb(await (await fetch(url)).arrayBuffer());
        json.extensionsUsed = ['KHR_materials_unlit'];
        const raw = new TextEncoder().encode(JSON.stringify(json));
        const text = new Uint8Array(Math.ceil(raw.length / 4) * 4).fill(0x20); // chunks pad to 4 bytes
        text.set(raw);
        const glb = new Uint8Array(12 + 8 + text.length + 8 + bin.length);
        const view = new DataView(glb.buffer);
        view.setUint32(0, 0x46546c67, true); view.setUint32(4, 2, true); view.setUint32(8, glb.length, true);
        view.setUint32(12, text.length, true); view.setUint32(16, 0x4e4f534a, true); glb.set(text, 20);
        view.setUint32(20 + text.length, bin.length, true); view.setUint32(24 + text.length, 0x004e4942, true);
        glb.set(bin, 28 + text.length);
        return [readGlb(glb.buffer) === null, json.nodes.length];
    }""", f"/api/projects/{PROJECT}/states/baseline/model.glb")
    assert declined[0] is True and declined[1] > 1000, declined


def test_clock_holds_at_zero_without_simulation_results(viewer):
    assert viewer.evaluate("window.__setTime(120)") == 0
    assert viewer.is_hidden("#clock-bar")


def test_no_page_errors_and_still_offline(viewer):
    recorder = viewer.recorder
    assert recorder.outside == [], f"requests left the local server: {recorder.outside}"
    assert recorder.page_errors == [], recorder.page_errors
    assert recorder.console_errors == [], recorder.console_errors
