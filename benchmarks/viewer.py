"""Viewer and server speed on the sample community, against a real `twin serve` (waitress).

Prints, from one run:
- time from opening the page to its first rendered frame being on screen in headless Chromium
  (Debian's, WebGL on SwiftShader: no GPU), each load in a fresh browser context (no HTTP
  cache), the server's GLB cache warm; goal < 2 s; with the median time of each step of the
  page's start (the viewer's performance marks);
- GLB bytes per state (class colours, and change colours against the baseline);
- requests per second for a state's GLB and for an evacuation run's frames file, from
  `--clients` concurrent keep-alive clients on the loopback, against the anchor: the same
  bytes served by Python's own static file server (http.server, threaded) — ours / anchor.

    .venv/bin/python benchmarks/viewer.py [--clients 50] [--requests 400] [--loads 5] [--first-frame-only]

The frames come from a real `evacuation` job on the baseline (the whole community), started
through the API and waited for; `--max-time-s` shortens the simulated time when in a hurry.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
PROJECT = "sample_community"
CHROMIUM = os.environ.get("TWIN_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run",
               "--enable-unsafe-swiftshader", "--use-angle=swiftshader"]


def start(command: list[str], pattern: str, *, cwd: Path | None = None, timeout_s: float = 120.0):
    """Start a server process and wait for the line giving its port."""
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"{command[0]} ended before listening (exit {process.poll()})")
        match = re.search(pattern, line)
        if match:
            threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()  # drain
            return process, int(match.group(1))
    process.kill()
    raise RuntimeError(f"{command}: no port after {timeout_s} s")


def get(port: int, path: str, headers: dict | None = None) -> tuple[int, bytes, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body, dict(response.getheaders())


def post(port: int, path: str, body: dict) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    if response.status >= 400:
        raise RuntimeError(f"POST {path}: {response.status} {answer}")
    return answer


def load(port: int, path: str, *, clients: int, requests: int, headers: dict | None = None) -> tuple[float, int]:
    """(requests per second, bytes per response) for `requests` GETs of `path` by `clients` threads,
    each on its own keep-alive connection."""
    per_client = max(1, requests // clients)
    sizes: list[int] = []
    errors: list[str] = []
    barrier = threading.Barrier(clients + 1)

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        barrier.wait()
        for _ in range(per_client):
            connection.request("GET", path, headers=headers or {})
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                errors.append(f"{response.status}")
            sizes.append(len(body))
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{path}: {len(errors)} failed requests ({errors[:3]})")
    return clients * per_client / elapsed, sizes[0]


PHASES = ["twin:boot", "twin:projects", "twin:glb-fetched", "twin:glb-read", "twin:model-built",
          "twin:render", "twin:rendered"]
"""The viewer's performance marks (viewer/js/main.js, loader.js), in the order they happen."""


def first_frame_times(url: str, loads: int) -> tuple[list[float], list[dict]]:
    """Seconds from opening the page to its first frame being on screen, per load, and the
    performance marks (ms) of each load. The viewer's `__ready` resolves with `firstFrameMs`:
    performance.now() (counted from the navigation's start) once the frame that first drew the
    model has been committed — the second animation frame after it, the compositor having read
    the canvas back from the software renderer in between."""
    from playwright.sync_api import sync_playwright

    times, marks = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        for _ in range(loads):
            context = browser.new_context(viewport={"width": 1600, "height": 900})
            # The page reports its first frame through a binding, so nothing of Playwright's runs
            # in it before then (its first evaluate injects a script that holds the page's main
            # thread for about 0.1 s: wait_for_function would slow down what it measures).
            reported: list = []
            context.expose_function("__benchmarkFirstFrame", lambda stats: reported.append(stats))
            context.add_init_script("""{
                const poll = setInterval(() => {
                    if (!window.__ready) return;
                    clearInterval(poll);
                    window.__ready.then((stats) => window.__benchmarkFirstFrame(stats),
                                        (error) => window.__benchmarkFirstFrame({ error: String(error) }));
                }, 25);
            }""")
            page = context.new_page()
            page.goto(url, wait_until="commit")
            deadline = time.monotonic() + 120
            while not reported and time.monotonic() < deadline:
                page.wait_for_timeout(50)
            if not reported or "error" in reported[0]:
                raise RuntimeError(f"no first frame: {reported or 'timed out'}")
            ready = reported[0]
            if ready["elements"] < 1000 or ready["triangles"] < 10_000:
                raise RuntimeError(f"the first frame does not show the sample community: {ready}")
            times.append(ready["firstFrameMs"] / 1000)
            marks.append(dict(page.evaluate(
                "performance.getEntriesByType('mark').filter(m => m.name.startsWith('twin:'))"
                ".map(m => [m.name, m.startTime])")))
            context.close()
        browser.close()
    return times, marks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=400, help="requests per measurement (split among clients)")
    parser.add_argument("--loads", type=int, default=5, help="page loads timed")
    parser.add_argument("--max-time-s", type=float, default=None, help="evacuation's simulated time limit")
    parser.add_argument("--keep", action="store_true", help="keep the instance folder (GLBs, results) afterwards")
    parser.add_argument("--first-frame-only", action="store_true",
                        help="GLB bytes and the first frame only: no evacuation run, no concurrent load")
    args = parser.parse_args(argv)

    instance = Path(tempfile.mkdtemp(prefix="twin-bench-viewer-"))
    twin = [sys.executable, "-c", "from server.cli import main; raise SystemExit(main())"]
    serve, port = start([*twin, "serve", "--port", "0", "--instance", str(instance), "--no-warm"],
                        r"open http://127\.0\.0\.1:(\d+)/", cwd=REPOSITORY)
    anchor = None
    try:
        states = [s["name"] for s in json.loads(get(port, "/api/projects")[1])[0]["states"]]
        print(f"twin serve (waitress) on port {port}; instance {instance}")

        # GLBs: the first request exports and caches; what follows is a file send.
        print("\nGLB per state (bytes):")
        glb_paths = {}
        for state in states:
            for diff in ([None] if state == states[0] else [None, states[0]]):
                path = f"/api/projects/{PROJECT}/states/{state}/model.glb" + (f"?diff={diff}" if diff else "")
                started = time.perf_counter()
                status, body, _ = get(port, path)
                assert status == 200, (path, status)
                glb_paths[(state, diff)] = path
                print(f"  {state:<12} {'diff vs ' + diff if diff else 'class colours':<22} {len(body):>11,}"
                      f"   (first request, export included: {time.perf_counter() - started:.2f} s)")

        times, marks = first_frame_times(f"http://127.0.0.1:{port}/", args.loads)
        print(f"\npage open → first frame on screen, sample community baseline, headless Chromium on "
              f"SwiftShader ({args.loads} loads, fresh browser context each):")
        print(f"  {', '.join(f'{t:.2f}' for t in times)} s; median {statistics.median(times):.2f} s "
              f"(goal < 2 s: {'met' if statistics.median(times) < 2 else 'NOT met'})")
        medians = [(name[5:], statistics.median(m.get(name, float("nan")) for m in marks)) for name in PHASES]
        medians.append(("on screen", statistics.median(times) * 1000))
        print("  median ms from page open: " + ", ".join(f"{name} {ms:.0f}" for name, ms in medians))

        if args.first_frame_only:
            return 0
        # Frames: a real evacuation run of the baseline through the jobs API.
        params = {"max_time_s": args.max_time_s} if args.max_time_s else {}
        started = time.perf_counter()
        job = post(port, f"/api/projects/{PROJECT}/states/{states[0]}/jobs", {"kind": "evacuation", "params": params})
        while True:
            row = json.loads(get(port, f"/api/jobs/{job['id']}")[1])
            if row["status"] in ("done", "failed", "cancelled"):
                break
            time.sleep(1.0)
        if row["status"] != "done":
            raise RuntimeError(f"evacuation job {row['status']}: {row['error']}")
        frames_path = f"/api/jobs/{job['id']}/frames"
        status, raw, _ = get(port, frames_path)
        status_z, zipped, headers_z = get(port, frames_path, {"Accept-Encoding": "gzip"})
        header_length = int.from_bytes(raw[8:12], "little")
        header = json.loads(raw[12:12 + header_length])
        shapes = {name: spec["shape"] for name, spec in header["arrays"].items()}
        print(f"\nevacuation job on {states[0]}: {time.perf_counter() - started:.1f} s; frames {shapes}")
        print(f"  frames file {len(raw):,} bytes, gzip {len(zipped):,} bytes ({headers_z.get('Content-Encoding')})")

        # Anchor: the same bytes from Python's threaded static file server.
        static = instance / "anchor"
        static.mkdir()
        (static / "model.glb").write_bytes(get(port, glb_paths[(states[0], None)])[1])
        (static / "frames.twfr.gz").write_bytes(zipped)
        anchor, anchor_port = start([sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
                                     "--directory", str(static)], r"port (\d+)")
        print(f"\nconcurrent loopback load: {args.clients} keep-alive clients, {args.requests} requests each measurement")
        print(f"  {'what':<34}{'ours req/s':>12}{'anchor req/s':>14}{'ratio':>8}{'MB/s ours':>11}")
        for label, ours_path, anchor_path, headers in (
            ("GLB (baseline)", glb_paths[(states[0], None)], "/model.glb", {}),
            ("frames (evacuation, gzip)", frames_path, "/frames.twfr.gz", {"Accept-Encoding": "gzip"}),
        ):
            ours, size = load(port, ours_path, clients=args.clients, requests=args.requests, headers=headers)
            theirs, _ = load(anchor_port, anchor_path, clients=args.clients, requests=args.requests)
            print(f"  {label:<34}{ours:>12.1f}{theirs:>14.1f}{ours / theirs:>8.2f}{ours * size / 1e6:>11.1f}")
    finally:
        for process in (serve, anchor):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
        if not args.keep:
            shutil.rmtree(instance, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
