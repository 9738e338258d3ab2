"""The uploads blueprint: new projects from uploaded IFC files, or an existing project folder registered.

    POST /api/projects   multipart: one or more .ifc/.ifczip files (any field name), optional
                         `name` (the project's name), `baseline` (which file is the baseline; default
                         the first), `title_en`, `title_zh`                                    → 201
    POST /api/projects   JSON {"folder": "/abs/path/with/project.toml"}                        → 201

An upload is written to a temporary folder beside its destination, every file is opened with
twin.ifc.open_ifc, and only when all pass is the folder renamed into
`<instance>/projects/<name>/` with a generated project.toml (one state per file, named by
the file's stem, the baseline first): a bad file leaves nothing behind. Either way the project
is recorded in the store, offered by the catalog, and a `prepare` job is queued per state.

Errors: a bad or unsafe file name, a duplicate, a file that is not IFC (`"<file>: ..."`),
a folder without project.toml → 400; a body over MAX_CONTENT_LENGTH → 413; a name or folder
already in use → 409.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from pathlib import Path

from flask import Blueprint, abort, current_app, jsonify, request
from werkzeug.datastructures import FileStorage
from werkzeug.utils import secure_filename

from twin.errors import IfcFileError, TwinError
from twin.ifc import open_ifc
from twin.project import Project, is_project_path, load_project

from server.jobs_api import json_body
from server.services import only_query, services

bp = Blueprint("uploads", __name__, url_prefix="/api/projects")

IFC_SUFFIXES = (".ifc", ".ifczip")


def projects_folder() -> Path:
    return Path(current_app.instance_path) / "projects"


@bp.post("")
def create_project():
    only_query()
    if request.mimetype == "multipart/form-data":
        return _from_upload()
    body = json_body()
    unknown = sorted(set(body) - {"folder"})
    if unknown or "folder" not in body:
        abort(400, "expected a multipart upload of .ifc/.ifczip files, or JSON {\"folder\": \"/abs/path\"}"
                   + (f"; unknown field {', '.join(map(repr, unknown))}" if unknown else ""))
    return _from_folder(body["folder"])


def _from_folder(folder) -> tuple:
    if not isinstance(folder, str) or not folder:
        abort(400, "'folder' must be a non-empty string: the absolute path of a project folder")
    path = Path(folder)
    if not path.is_absolute():
        abort(400, f"'folder' must be an absolute path, not {folder!r}")
    path = path.resolve()
    if not is_project_path(path) or path.name == "project.toml":
        abort(400, f"{folder}: not a project folder (a folder with a project.toml)")
    try:
        project = load_project(path)
    except TwinError as exc:
        abort(400, str(exc))
    if path in services().catalog.folders():
        abort(409, f"{folder}: already offered by this server")
    _check_name_free(project.name)
    return _register(project, "folder")


def _check_name_free(name: str) -> None:
    if name in services().catalog.names():
        abort(409, f"a project named {name!r} exists already; choose another name")


def _safe_name(raw: str, what: str) -> str:
    """The file-system-safe form of a name; 400 if it tries to leave its folder or has nothing safe."""
    if "/" in raw or "\\" in raw or raw.startswith(".") or "\x00" in raw:
        abort(400, f"{what} {raw!r} is not allowed: no folders, no leading dot")
    safe = secure_filename(raw)
    if not safe:
        abort(400, f"{what} {raw!r} has no usable characters (use ASCII letters, digits, '-', '_')")
    return safe


def _upload_files() -> list[FileStorage]:
    files = [file for key in request.files for file in request.files.getlist(key)]
    if not files:
        abort(400, "no files uploaded: send one or more .ifc or .ifczip files as multipart/form-data")
    return files


def _from_upload():
    files = _upload_files()
    unknown = sorted(set(request.form) - {"name", "baseline", "title_en", "title_zh"})
    if unknown:
        abort(400, f"unknown form field {', '.join(map(repr, unknown))} "
                   f"(accepted: 'name', 'baseline', 'title_en', 'title_zh')")
    planned: list[tuple[FileStorage, str, str]] = []  # (upload, original name, safe file name)
    for index, upload in enumerate(files):
        original = upload.filename or ""
        if not original:
            abort(400, f"uploaded file #{index + 1} has no file name")
        suffix = Path(original).suffix.lower()
        if suffix not in IFC_SUFFIXES:
            abort(400, f"{original}: expected an .ifc or .ifczip file")
        if "/" in original or "\\" in original or original.startswith(".") or ".." in original:
            abort(400, f"{original}: unsafe file name (no folders, no '..', no leading dot)")
        stem = secure_filename(Path(original).stem) or f"state_{index + 1}"
        safe = f"{stem}{suffix}"
        if any(Path(existing).stem.lower() == stem.lower() for _, _, existing in planned):
            abort(400, f"{original}: duplicate file name (two uploads would both be state {stem!r})")
        planned.append((upload, original, safe))

    baseline = request.form.get("baseline")
    if baseline:
        matches = [i for i, (_, original, safe) in enumerate(planned) if baseline in (original, safe)]
        if not matches:
            abort(400, f"baseline {baseline!r} is not one of the uploaded files "
                       f"({', '.join(original for _, original, _ in planned)})")
        planned.insert(0, planned.pop(matches[0]))

    name = _safe_name(request.form.get("name") or Path(planned[0][2]).stem, "project name")
    _check_name_free(name)
    destination = projects_folder() / name
    if destination.exists():
        abort(409, f"a project folder named {name!r} exists already; choose another name")

    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".upload-{name}-", dir=destination.parent))
    try:
        for upload, original, safe in planned:
            saved = staging / safe
            upload.save(saved)
            try:
                open_ifc(saved)
            except IfcFileError as exc:
                message = str(exc).replace(str(saved), "", 1).lstrip(":! ") if str(exc).startswith(str(saved)) else str(exc)
                abort(400, f"{original}: {message}")
        _write_project_toml(staging / "project.toml", name, planned)
        try:
            staging.rename(destination)
        except OSError:
            abort(409, f"a project folder named {name!r} appeared meanwhile; choose another name")
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    try:
        project = load_project(destination)
    except TwinError as exc:  # cannot happen for what we wrote; never leave a broken project
        shutil.rmtree(destination, ignore_errors=True)
        raise exc
    return _register(project, "upload", remove_on_clash=destination)


def _write_project_toml(path: Path, name: str, planned: list[tuple[FileStorage, str, str]]) -> None:
    def text(value: str) -> str:  # a JSON string is a valid TOML basic string
        return json.dumps(value, ensure_ascii=False)

    lines = ["[project]", f"name = {text(name)}",
             f"title_en = {text(request.form.get('title_en') or name)}",
             f"title_zh = {text(request.form.get('title_zh') or '')}", ""]
    for _, original, safe in planned:
        lines += ["[[states]]", f"name = {text(Path(safe).stem)}", f"title_en = {text(Path(original).stem)}",
                  f"ifc = {text(safe)}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def _register(project: Project, source: str, *, remove_on_clash: Path | None = None):
    """Record the project, offer it, and queue a prepare job per state; 201 with what was done."""
    try:
        services().store.add_project(project.name, project.root, source)
    except sqlite3.IntegrityError:
        if remove_on_clash is not None:
            shutil.rmtree(remove_on_clash, ignore_errors=True)
        abort(409, f"a project named {project.name!r} or with folder {project.root} is registered already")
    services().catalog.add(project.root)
    jobs = []
    for spec in project.states:
        job_id = services().jobs.start(project=project.name, project_folder=project.root,
                                       state=spec.name, kind="prepare")
        jobs.append({"state": spec.name, "id": job_id})
    response = jsonify(name=project.name, folder=str(project.root), source=source,
                       states=[{"name": spec.name, "baseline": index == 0}
                               for index, spec in enumerate(project.states)],
                       jobs=jobs)
    response.status_code = 201
    return response
