"""The simulations blueprint: what engine jobs produced — metrics, series and playback frames.

    GET /api/simulations                                  the engine job kinds a client can start
    GET /api/projects/<p>/states/<s>/simulations          per engine kind: the state's latest job and
                                                          its latest finished one with a result
    GET /api/jobs/<id>/result                             metrics (value, unit, meaning), series
                                                          (inlined), and the frame arrays' names/shapes
    GET /api/jobs/<id>/frames[?arrays=a,b|all]            the frames in one binary file (below)

An engine job saves a sim.result.Result (JSON + NPZ) and names the JSON as its `result_path`
(server/sim_jobs/). The viewer fetches the frames once and plays them back locally, so the
frames file is built for a browser: typed arrays it can view without copying.

Frames file (`application/vnd.community-twin.frames`, little-endian, format 1):

    bytes 0-3     b"TWFR"
    bytes 4-7     uint32 format version (1)
    bytes 8-11    uint32 length H of the JSON header
    bytes 12-     the header, UTF-8 JSON, padded with spaces so the data starts at a multiple of 8
    then          each array's bytes, C order, each starting at a multiple of 8 from the file start

    header = {"engine", "engineVersion", "job", "kind", "project", "state",
              "frameCount": T, "frameIntervalS", "durationS",
              "arrays":  {name: {"dtype": "float32"|"float64"|"int8"|"uint8"|"int16"|"int32"|..,
                                 "shape": [...], "offset": bytes from the file start, "byteLength"}},
              "strings": {name: [...]}}                  # numpy unicode arrays (ids, group names)

Arrays keep the frames contract's names, dtypes and shapes (COMMON frames contract: times_s,
positions_xy_m, state, group, vtype, heading_rad, link_flow_ratio, node_depth_m, ...);
int64 becomes int32 and bool uint8 (JavaScript has no 64-bit integer view worth using).
Without `?arrays=` the file holds the contract's playback arrays (PLAYBACK_ARRAYS) that the
result has — what the viewer draws; an engine's other frames (a whole-community evacuation
also keeps a density grid per frame, ~140 MB, and PedPy's trajectory table) are sent when
named (`?arrays=density_p_m2,...`) or with `?arrays=all`; `times_s` always comes along.
Each file is built once and kept under `<instance>/frames/` beside a gzip copy, which is
sent to clients that accept gzip (fetch decompresses it transparently); the ETag follows
the NPZ file, so a re-run that replaces the result replaces the frames.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import math
import pkgutil
import struct
import threading
from pathlib import Path
from typing import Any

import numpy as np
from flask import Blueprint, abort, current_app, jsonify, request, send_file, url_for

from twin.atomic import write_atomically

from server.jobs_api import job_or_404
from server.services import only_query, project_or_404, services, state_or_404
from server.store import job_json

bp = Blueprint("simulations", __name__)

MAGIC = b"TWFR"
FORMAT_VERSION = 1
MEDIA_TYPE = "application/vnd.community-twin.frames"
PLAYBACK_ARRAYS = ("times_s", "positions_xy_m", "state", "state_names", "group", "group_names", "heading_rad",
                   "vtype", "vtype_names", "link_ids", "link_flow_ratio", "node_ids", "node_depth_m",
                   "node_flooding_m3s")
"""The frames contract's arrays (COMMON frames contract): what the viewer plays back."""

_JS_DTYPES = {"float32", "float64", "int8", "uint8", "int16", "uint16", "int32", "uint32"}
_build_lock = threading.Lock()


class FramesError(ValueError):
    """A saved result that breaks the frames contract; the message names the file and array."""


# -- engine kinds ---------------------------------------------------------------------------------

def engine_kinds() -> list[str]:
    """Kinds of engine jobs: the app's SIMULATION_KINDS when set, else every server/sim_jobs module's KIND."""
    configured = current_app.config.get("SIMULATION_KINDS")
    if configured is not None:
        return list(configured)
    import importlib

    import server.sim_jobs as package

    kinds = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        kinds.append(importlib.import_module(f"{package.__name__}.{info.name}").KIND)
    return kinds


@bp.get("/api/simulations")
def list_kinds():
    only_query()
    return jsonify(kinds=engine_kinds())


@bp.get("/api/projects/<project>/states/<state>/simulations")
def state_simulations(project: str, state: str):
    only_query()
    spec_project = project_or_404(project)
    state_or_404(spec_project, state)
    rows = services().store.jobs(project=spec_project.name, state=state)
    kinds = engine_kinds()
    by_kind: dict[str, dict[str, Any]] = {kind: {"latest": None, "latestDone": None} for kind in kinds}
    for row in rows:  # oldest first: later rows overwrite
        if row["kind"] not in by_kind:
            continue
        entry = by_kind[row["kind"]]
        entry["latest"] = job_json(row)
        if row["status"] == "done" and _result_files(row, required=False) is not None:
            entry["latestDone"] = _with_urls(job_json(row))
    return jsonify(project=spec_project.name, state=state, kinds=kinds, simulations=by_kind)


def _with_urls(job: dict[str, Any]) -> dict[str, Any]:
    job["resultUrl"] = url_for("simulations.job_result", job_id=job["id"])
    job["framesUrl"] = url_for("simulations.job_frames", job_id=job["id"])
    return job


# -- results ------------------------------------------------------------------------------------

def _result_files(row, *, required: bool = True) -> tuple[Path, Path] | None:
    """(JSON, NPZ) of a done job's saved Result; with `required`, 409/404 saying why there is none."""
    if row["status"] != "done":
        if not required:
            return None
        abort(409, f"job {row['id']} ({row['kind']}) is {row['status']}"
                   f"{': ' + row['error'] if row['error'] else ''}; results exist once it is done")
    path = Path(row["result_path"]) if row["result_path"] else None
    if path is None or path.suffix != ".json":
        if not required:
            return None
        abort(404, f"job {row['id']} ({row['kind']}) saved no simulation result (no Result JSON as result_path)")
    npz = path.with_suffix(".npz")
    if not path.is_file() or not npz.is_file():
        if not required:
            return None
        abort(404, f"job {row['id']} ({row['kind']}): result file {path if not path.is_file() else npz} is missing")
    return path, npz


def _load_npz(npz: Path) -> dict[str, np.ndarray]:
    with np.load(npz, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


@bp.get("/api/jobs/<job_id>/result")
def job_result(job_id: str):
    only_query()
    row = job_or_404(job_id)
    json_path, npz = _result_files(row)
    meta = json.loads(json_path.read_text(encoding="utf-8"))
    arrays = _load_npz(npz)
    series = {}
    for name, info in (meta.get("series") or {}).items():
        series[name] = {"unit": info.get("unit"),
                        "times_s": _plain(arrays.get(f"series/{name}/times_s")),
                        "values": _plain(arrays.get(f"series/{name}/values"))}
    frames = {name[len("frames/"):]: {"dtype": str(array.dtype), "shape": list(array.shape)}
              for name, array in arrays.items() if name.startswith("frames/")}
    body = {"job": row["id"], "kind": row["kind"], "project": row["project"], "state": row["state"],
            "engine": meta.get("engine"), "engineVersion": meta.get("engine_version"),
            "metrics": _finite_metrics(meta.get("metrics", {})), "series": series, "frames": frames,
            "framesUrl": url_for("simulations.job_frames", job_id=row["id"]) if frames else None}
    return jsonify(body)


def _finite_metrics(metrics: dict) -> dict:
    """Metrics with NaN / infinite values as null: a browser's JSON.parse refuses NaN (a time nobody
    reached, a flow per metre an assembly area has not)."""
    out = {}
    for name, metric in metrics.items():
        value = metric.get("value") if isinstance(metric, dict) else None
        if isinstance(value, float) and not math.isfinite(value):
            metric = {**metric, "value": None}
        out[name] = metric
    return out


def _plain(array: np.ndarray | None) -> list | None:
    """An array as JSON lists, NaN as null."""
    if array is None:
        return None
    values = np.asarray(array)
    if values.dtype.kind != "f":
        return values.tolist()
    finite = np.isfinite(values)
    return np.where(finite, values, None).tolist() if not finite.all() else values.tolist()


# -- frames -------------------------------------------------------------------------------------

def encode_frames(arrays: dict[str, np.ndarray], info: dict[str, Any], *, where: str = "result") -> bytes:
    """The frames file (module docstring) of `arrays` (name → array, without the 'frames/' prefix)."""
    if "times_s" not in arrays:
        raise FramesError(f"{where}: no frames array 'times_s' (the frames contract's time axis)")
    times = np.asarray(arrays["times_s"], dtype=np.float64)
    if times.ndim != 1:
        raise FramesError(f"{where}: frames array 'times_s' must be 1-D, has shape {list(times.shape)}")
    blocks: list[tuple[str, np.ndarray]] = []
    strings: dict[str, list[str]] = {}
    for name in sorted(arrays):
        array = np.asarray(arrays[name])
        if array.dtype.kind == "U":
            strings[name] = [str(v) for v in array.ravel()]
            continue
        if array.dtype.kind == "O":
            raise FramesError(f"{where}: frames array {name!r} holds Python objects; use a numpy unicode array")
        if array.dtype == np.bool_:
            array = array.astype(np.uint8)
        elif array.dtype.kind in "iu" and array.dtype.itemsize == 8:
            if array.size and (array.max() > np.iinfo(np.int32).max or array.min() < np.iinfo(np.int32).min):
                raise FramesError(f"{where}: frames array {name!r} has integers beyond 32 bits")
            array = array.astype(np.int32)
        elif array.dtype.kind == "f" and array.dtype.itemsize == 2:
            array = array.astype(np.float32)
        if array.dtype.name not in _JS_DTYPES:
            raise FramesError(f"{where}: frames array {name!r} has dtype {array.dtype}, which a browser cannot view")
        # (np.asarray, not ascontiguousarray, which turns a 0-d array into a 1-d one)
        blocks.append((name, np.asarray(array.astype(array.dtype.newbyteorder("<"), copy=False), order="C")))

    def header_with(offsets: dict[str, int]) -> bytes:
        header = {**info, "frameCount": int(times.size),
                  "frameIntervalS": float(np.median(np.diff(times))) if times.size > 1 else None,
                  "durationS": float(times[-1] - times[0]) if times.size else 0.0,
                  "arrays": {name: {"dtype": array.dtype.name, "shape": list(array.shape),
                                    "offset": offsets.get(name, 0), "byteLength": int(array.nbytes)}
                             for name, array in blocks},
                  "strings": strings}
        return json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    # Offsets depend on the header's length and the header holds them: lay out with a guess,
    # then grow the guess until the header fits before the first array.
    reserved = len(header_with({name: 10 ** 12 for name, _ in blocks})) + 8
    start = _align(12 + reserved)
    offsets, cursor = {}, start
    for name, array in blocks:
        offsets[name] = cursor
        cursor = _align(cursor + array.nbytes)
    header = header_with(offsets)
    header += b" " * (start - 12 - len(header))
    parts = [MAGIC, struct.pack("<II", FORMAT_VERSION, len(header)), header]
    written = 12 + len(header)
    for name, array in blocks:
        parts.append(b"\0" * (offsets[name] - written))
        parts.append(array.tobytes())
        written = offsets[name] + array.nbytes
    return b"".join(parts)


def decode_frames(data: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(header, arrays) of a frames file: the reader's side, for tests and Python clients."""
    if data[:4] != MAGIC:
        raise FramesError("not a Community Twin frames file (magic bytes)")
    version, length = struct.unpack_from("<II", data, 4)
    if version != FORMAT_VERSION:
        raise FramesError(f"frames format {version}; this reader knows {FORMAT_VERSION}")
    header = json.loads(data[12:12 + length])
    arrays = {}
    for name, spec in header["arrays"].items():
        dtype = np.dtype(spec["dtype"]).newbyteorder("<")
        arrays[name] = np.frombuffer(data, dtype=dtype, count=int(np.prod(spec["shape"], dtype=np.int64)),
                                     offset=spec["offset"]).reshape(spec["shape"])
    for name, values in header["strings"].items():
        arrays[name] = np.array(values, dtype=str)
    return header, arrays


def _align(offset: int) -> int:
    return (offset + 7) // 8 * 8


def _selection() -> list[str] | None:
    values = request.args.getlist("arrays")
    if not values:
        return None
    if len(values) > 1:
        abort(400, "query parameter 'arrays' given more than once; give one comma-separated list")
    names = sorted({name.strip() for name in values[0].split(",") if name.strip()})
    if not names:
        abort(400, "query parameter 'arrays' is empty; name frame arrays separated by commas, or give 'all'")
    return ["*"] if names == ["all"] else names


@bp.get("/api/jobs/<job_id>/frames")
def job_frames(job_id: str):
    only_query("arrays")
    row = job_or_404(job_id)
    json_path, npz = _result_files(row)
    selection = _selection()
    stat = npz.stat()
    etag = hashlib.sha256(f"{npz}|{stat.st_mtime_ns}|{stat.st_size}|{selection}|{FORMAT_VERSION}".encode()
                          ).hexdigest()[:32]
    folder = Path(current_app.instance_path) / "frames"
    path = folder / f"{row['id']}-{etag}.twfr"
    zipped = path.with_name(path.name + ".gz")
    if not zipped.is_file():
        with _build_lock:  # one build per file, even under concurrent first requests
            if not zipped.is_file():
                _build(row, json_path, npz, selection, path, zipped)
    use_gzip = "gzip" in request.headers.get("Accept-Encoding", "")
    response = send_file(zipped if use_gzip else path, mimetype=MEDIA_TYPE, etag=etag, conditional=True,
                         download_name=f"{row['kind']}-{row['id']}.twfr")
    if use_gzip and response.status_code == 200:
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    response.cache_control.no_cache = True
    return response


def _build(row, json_path: Path, npz: Path, selection: list[str] | None, path: Path, zipped: Path) -> None:
    meta = json.loads(json_path.read_text(encoding="utf-8"))
    stored = {name[len("frames/"):]: array for name, array in _load_npz(npz).items() if name.startswith("frames/")}
    if selection is None:
        chosen = {name: array for name, array in stored.items() if name in PLAYBACK_ARRAYS}
    elif selection == ["*"]:
        chosen = dict(stored)
    else:
        unknown = [name for name in selection if name not in stored]
        if unknown:
            abort(400, f"job {row['id']} has no frame array {', '.join(map(repr, unknown))} "
                       f"(arrays: {', '.join(sorted(stored)) or 'none'})")
        chosen = {name: stored[name] for name in selection}
        chosen.setdefault("times_s", stored.get("times_s"))
        if chosen["times_s"] is None:
            chosen.pop("times_s")
    info = {"engine": meta.get("engine"), "engineVersion": meta.get("engine_version"), "job": row["id"],
            "kind": row["kind"], "project": row["project"], "state": row["state"]}
    try:
        data = encode_frames(chosen, info, where=str(npz))
    except FramesError as exc:
        abort(422, str(exc))
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{row['id']}-*"):  # an older build of a result since replaced
        if old.name not in (path.name, zipped.name) and not old.name.startswith("."):
            old.unlink(missing_ok=True)
    write_atomically(path, lambda stream: stream.write(data))
    write_atomically(zipped, lambda stream: _gzip_into(stream, data))


def _gzip_into(stream, data: bytes) -> None:
    with gzip.GzipFile(fileobj=stream, mode="wb", compresslevel=6, mtime=0) as zipped:
        zipped.write(data)

