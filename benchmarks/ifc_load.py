"""IFC load speed: our Twin loader, cold and cached, against bare IfcOpenShell and web-ifc.

For each IFC file (default: ifc_models/sample_community/*.ifc) it prints one line with the
CPU seconds and triangle counts of

* ours cold    — `twin.ifc.load_ifc(path, cache=False)`;
* ours cached  — `load_ifc(path, cache=True)` twice in one process with an empty temporary
  `TWIN_CACHE_DIR`; the second call is timed;
* IfcOpenShell — the bare `ifcopenshell.geom.iterator` (default settings plus world
  coordinates; file opening included), on one thread and on all cores;
* web-ifc      — `OpenModel` + `StreamAllMeshes` in Node (benchmarks/webifc_load.mjs);

and the ratios ours/web-ifc and cached/cold. Every measurement runs in a fresh subprocess
that imports its library first and times only the load, so imports, warm caches and earlier
runs do not leak into the figure. CPU time is the process's user + system time over all its
threads (plus reaped children), i.e. the work done, not the wait; wall time is reported in
`--json` and beside the multicore IfcOpenShell figure. With `--repeat N` the smallest of N
runs is kept.

Triangles: "placed" counts every element's triangles as drawn (a window type used 40
times counts 40 times), which is what IfcOpenShell in world coordinates produces; "unique"
counts each shared mesh once, which is what the Twin and web-ifc store.

    python benchmarks/ifc_load.py [FILE.ifc ...] [--repeat N] [--json OUT.json]

web-ifc needs `npm install --prefix benchmarks` once (package.json pins web-ifc 0.0.78).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"
DEFAULT_GLOB = "ifc_models/sample_community/*.ifc"
TIMEOUT_S = 1800

# Each snippet prints one JSON line last on stdout. CPU time includes reaped children in case
# a loader ever farms work out to processes.
_CPU_HELPERS = """
import json, os, resource, sys, time
def cpu_now():
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime
"""

_OURS_SNIPPET = _CPU_HELPERS + """
try:
    import twin.ifc
    load_ifc = twin.ifc.load_ifc
except (ImportError, AttributeError) as exc:
    print(json.dumps({"error": f"twin.ifc.load_ifc is not available: {exc}"}))
    sys.exit(0)
path, mode = sys.argv[1], sys.argv[2]
if mode == "cached":
    load_ifc(path, cache=True)  # fills the temporary cache
cpu0, wall0 = cpu_now(), time.perf_counter()
twin = load_ifc(path, cache=(mode == "cached"))
cpu, wall = cpu_now() - cpu0, time.perf_counter() - wall0
unique = sum(len(mesh.faces) for mesh in twin.meshes.values())
placed = sum(len(twin.meshes[e.mesh_id].faces) for e in twin.elements.values() if e.mesh_id is not None)
print(json.dumps({"cpu_s": cpu, "wall_s": wall, "elements": len(twin.elements),
                  "placed_triangles": placed, "unique_triangles": unique, "schema": twin.schema}))
"""

_IFCOPENSHELL_SNIPPET = _CPU_HELPERS + """
import ifcopenshell, ifcopenshell.geom
path, threads = sys.argv[1], int(sys.argv[2])
cpu0, wall0 = cpu_now(), time.perf_counter()
model = ifcopenshell.open(path)
settings = ifcopenshell.geom.settings()
settings.set("use-world-coords", True)
iterator = ifcopenshell.geom.iterator(settings, model, threads)
elements = triangles = 0
if iterator.initialize():
    while True:
        shape = iterator.get()
        elements += 1
        triangles += len(shape.geometry.faces) // 3
        if not iterator.next():
            break
cpu, wall = cpu_now() - cpu0, time.perf_counter() - wall0
print(json.dumps({"cpu_s": cpu, "wall_s": wall, "elements": elements, "placed_triangles": triangles,
                  "threads": threads, "version": ifcopenshell.version}))
"""


@dataclass
class Measurement:
    """One tool's best run on one file, or why there is none."""

    cpu_s: float | None = None
    wall_s: float | None = None
    elements: int | None = None
    placed_triangles: int | None = None
    unique_triangles: int | None = None
    error: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class FileResult:
    file: str
    schema: str
    size_mb: float
    ours_cold: Measurement
    ours_cached: Measurement
    ifcopenshell_1: Measurement
    ifcopenshell_n: Measurement
    web_ifc: Measurement
    ratio_ours_web_ifc: float | None = None
    ratio_cached_cold: float | None = None
    ratio_ours_ifcopenshell_1: float | None = None


# ---------------------------------------------------------------------------- running one tool


def _last_json_line(stdout: str) -> dict | None:
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return None
    return None


def _run(command: list[str], env: dict | None = None) -> Measurement:
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return Measurement(error=f"timed out after {TIMEOUT_S} s")
    except OSError as exc:
        return Measurement(error=f"cannot run {command[0]}: {exc}")
    result = _last_json_line(done.stdout)
    if done.returncode != 0 or result is None:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return Measurement(error=f"exit {done.returncode}: {tail}")
    if "error" in result:
        return Measurement(error=result["error"])
    known = {"cpu_s", "wall_s", "elements", "placed_triangles", "unique_triangles"}
    return Measurement(**{k: result.get(k) for k in known},
                       extra={k: v for k, v in result.items() if k not in known})


def _best(runs: list[Measurement]) -> Measurement:
    good = [run for run in runs if run.error is None]
    return min(good, key=lambda run: run.cpu_s) if good else runs[0]


def _python_env(cache_dir: str | None = None) -> dict:
    env = dict(os.environ)
    # The repository on the path, so twin.ifc is importable without installing the package.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    if cache_dir is not None:
        env["TWIN_CACHE_DIR"] = cache_dir
    return env


def measure_ours(path: Path, *, cached: bool, repeat: int) -> Measurement:
    runs = []
    for _ in range(repeat):
        if cached:
            with tempfile.TemporaryDirectory(prefix="twin-bench-cache-") as cache_dir:
                runs.append(_run([sys.executable, "-c", _OURS_SNIPPET, str(path), "cached"], _python_env(cache_dir)))
        else:
            runs.append(_run([sys.executable, "-c", _OURS_SNIPPET, str(path), "cold"], _python_env()))
    return _best(runs)


def measure_ifcopenshell(path: Path, *, threads: int, repeat: int) -> Measurement:
    return _best([_run([sys.executable, "-c", _IFCOPENSHELL_SNIPPET, str(path), str(threads)], _python_env())
                  for _ in range(repeat)])


def web_ifc_problem() -> str | None:
    """Why web-ifc cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node not found on PATH"
    if not (BENCHMARKS / "node_modules" / "web-ifc").is_dir():
        return "web-ifc not installed: run `npm install --prefix benchmarks`"
    return None


def measure_web_ifc(path: Path, *, repeat: int) -> Measurement:
    problem = web_ifc_problem()
    if problem:
        return Measurement(error=problem)
    runs = []
    for _ in range(repeat):
        run = _run(["node", str(BENCHMARKS / "webifc_load.mjs"), str(path)])
        if run.error is None:
            run.cpu_s = run.extra.pop("load_cpu_s")
            run.wall_s = run.extra.pop("load_wall_s")
        runs.append(run)
    return _best(runs)


# ---------------------------------------------------------------------------- one file


def ifc_schema(path: Path) -> str:
    """FILE_SCHEMA from the header, read without any IFC library."""
    with open(path, "rb") as handle:
        head = handle.read(8192)
    match = re.search(rb"FILE_SCHEMA\s*\(\s*\(\s*'([^']*)'", head, re.IGNORECASE)
    return match.group(1).decode("ascii", "replace") if match else "?"


def _ratio(numerator: Measurement, denominator: Measurement) -> float | None:
    if numerator.cpu_s is None or not denominator.cpu_s:
        return None
    return numerator.cpu_s / denominator.cpu_s


def benchmark_file(path: Path, *, repeat: int, threads: int) -> FileResult:
    result = FileResult(
        file=str(path),
        schema=ifc_schema(path),
        size_mb=path.stat().st_size / 1e6,
        ours_cold=measure_ours(path, cached=False, repeat=repeat),
        ours_cached=measure_ours(path, cached=True, repeat=repeat),
        ifcopenshell_1=measure_ifcopenshell(path, threads=1, repeat=repeat),
        ifcopenshell_n=measure_ifcopenshell(path, threads=threads, repeat=repeat),
        web_ifc=measure_web_ifc(path, repeat=repeat),
    )
    result.ratio_ours_web_ifc = _ratio(result.ours_cold, result.web_ifc)
    result.ratio_cached_cold = _ratio(result.ours_cached, result.ours_cold)
    result.ratio_ours_ifcopenshell_1 = _ratio(result.ours_cold, result.ifcopenshell_1)
    return result


# ---------------------------------------------------------------------------- output

_COLUMNS = [
    ("file", "<"), ("schema", "<"), ("MB", ">"),
    ("ours cold s", ">"), ("tris placed/unique", ">"),
    ("cached s", ">"),
    ("IOS 1T s", ">"), ("IOS {n}T s (wall)", ">"), ("IOS tris", ">"),
    ("web-ifc s", ">"), ("web-ifc tris placed/unique", ">"),
    ("ours/web-ifc", ">"), ("cached/cold", ">"), ("ours/IOS 1T", ">"),
]


def _seconds(measurement: Measurement) -> str:
    return "n/a" if measurement.cpu_s is None else f"{measurement.cpu_s:.4f}"


def _triangles(measurement: Measurement) -> str:
    if measurement.placed_triangles is None:
        return "n/a"
    if measurement.unique_triangles is None:
        return f"{measurement.placed_triangles:,}"
    return f"{measurement.placed_triangles:,}/{measurement.unique_triangles:,}"


def _times(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.3g}x"


def format_table(results: list[FileResult], threads: int) -> str:
    headers = [name.format(n=threads) for name, _ in _COLUMNS]
    rows = []
    for r in results:
        multicore = _seconds(r.ifcopenshell_n)
        if r.ifcopenshell_n.wall_s is not None:
            multicore += f" ({r.ifcopenshell_n.wall_s:.4f})"
        rows.append([
            Path(r.file).name, r.schema, f"{r.size_mb:.2f}",
            _seconds(r.ours_cold), _triangles(r.ours_cold),
            _seconds(r.ours_cached),
            _seconds(r.ifcopenshell_1), multicore, _triangles(r.ifcopenshell_1),
            _seconds(r.web_ifc), _triangles(r.web_ifc),
            _times(r.ratio_ours_web_ifc), _times(r.ratio_cached_cold), _times(r.ratio_ours_ifcopenshell_1),
        ])
    widths = [max(len(headers[i]), *(len(row[i]) for row in rows)) for i in range(len(headers))]

    def line(cells):
        return "  ".join(f"{cell:{align}{width}}" for cell, (_, align), width in zip(cells, _COLUMNS, widths))

    out = [line(headers), "  ".join("-" * w for w in widths), *(line(row) for row in rows)]
    # Say why a cell is n/a, once per distinct reason.
    notes = {}
    for r in results:
        for label, m in (("ours cold", r.ours_cold), ("ours cached", r.ours_cached),
                         ("IfcOpenShell 1T", r.ifcopenshell_1), (f"IfcOpenShell {threads}T", r.ifcopenshell_n),
                         ("web-ifc", r.web_ifc)):
            if m.error:
                notes.setdefault((label, m.error), []).append(Path(r.file).name)
    for (label, error), files in notes.items():
        out.append(f"n/a {label}: {error} [{', '.join(files)}]")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help=f"IFC files (default: {DEFAULT_GLOB})")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement, the fastest is kept (default 1)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="threads for the multicore IfcOpenShell run (default: all cores)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON")
    args = parser.parse_args(argv)

    files = args.files or sorted(REPO.glob(DEFAULT_GLOB))
    if not files:
        print(f"error: no IFC files given and none match {DEFAULT_GLOB} yet", file=sys.stderr)
        return 2
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2

    results = []
    for path in files:
        print(f"measuring {path} ...", file=sys.stderr, flush=True)
        results.append(benchmark_file(path.resolve(), repeat=max(1, args.repeat), threads=max(1, args.threads)))
    print(format_table(results, max(1, args.threads)))
    if args.json:
        payload = {"threads": args.threads, "repeat": args.repeat, "python": sys.version.split()[0],
                   "results": [asdict(r) for r in results]}
        tmp = args.json.with_name(args.json.name + ".tmp")
        tmp.write_text(json.dumps(payload, indent=2))
        tmp.replace(args.json)  # no half-written file left behind
    return 0 if all(r.ours_cold.error is None for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
