"""The static blueprint: the viewer's files and three.js from its npm install — nothing from a CDN.

    GET /                              viewer/index.html (503 JSON while the viewer is not installed)
    GET /viewer/<path>                 files under viewer/ (not node_modules)
    GET /vendor/three/build/<path>     viewer/node_modules/three/build/  (three.module.js, ...)
    GET /vendor/three/addons/<path>    viewer/node_modules/three/examples/jsm/  (GLTFLoader, OrbitControls, ...)

An import map in index.html maps "three" and "three/addons/" to the two vendor prefixes.
Paths are joined with send_from_directory (werkzeug's safe_join), so `..` cannot leave
the folder. The viewer folder is the app's VIEWER_DIR (default: viewer/ of the repository).
"""
from __future__ import annotations

import posixpath
from pathlib import Path

from flask import Blueprint, abort, current_app, send_from_directory

from server.errors import error_response

bp = Blueprint("static_files", __name__)


def _viewer_dir() -> Path:
    return Path(current_app.config["VIEWER_DIR"])


def _three_dir() -> Path:
    three = _viewer_dir() / "node_modules" / "three"
    if not (three / "build").is_dir():
        abort(503, f"three.js is not installed in {three}; run `npm ci --prefix viewer`")
    return three


def _send(folder: Path, path: str):
    response = send_from_directory(folder, path, max_age=0)
    response.cache_control.no_cache = True
    return response


@bp.get("/")
def index():
    viewer = _viewer_dir()
    if not (viewer / "index.html").is_file():
        return error_response(503, f"viewer not installed: {viewer / 'index.html'} does not exist "
                                   "(the API under /api/ works without it)")
    return _send(viewer, "index.html")


@bp.get("/viewer/<path:path>")
def viewer_file(path: str):
    if posixpath.normpath(path).split("/", 1)[0] == "node_modules":
        abort(404, f"/viewer/{path}: node_modules is served under /vendor/, not /viewer/")
    return _send(_viewer_dir(), path)


@bp.get("/vendor/three/build/<path:path>")
def three_build(path: str):
    return _send(_three_dir() / "build", path)


@bp.get("/vendor/three/addons/<path:path>")
def three_addons(path: str):
    return _send(_three_dir() / "examples" / "jsm", path)
