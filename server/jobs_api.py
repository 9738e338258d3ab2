"""The jobs blueprint: start, watch, list and cancel long work on a state (server.jobs).

    POST /api/projects/<p>/states/<s>/jobs   {"kind": "prepare", "params": {...}}  → 202 {"id", "status", "url"}
    GET  /api/jobs/<id>                      the job: status, progress, message, result, error, times
    POST /api/jobs/<id>/cancel               queued → cancelled at once; running → its worker is told to stop
    GET  /api/jobs[?project=P&state=S]       jobs, oldest first
"""
from __future__ import annotations

from flask import Blueprint, abort, jsonify, request, url_for

from server.jobs import CONTEXT_PARAMS, JOB_KINDS
from server.services import only_query, project_or_404, services, state_or_404
from server.store import FINAL_STATUSES, job_json

bp = Blueprint("jobs", __name__)


def json_body() -> dict:
    """The request's JSON object; 400 naming what is wrong if it is not one."""
    if not request.is_json:
        abort(400, f"expected a JSON body (Content-Type: application/json) for {request.method} {request.path}")
    body = request.get_json(silent=True)
    if body is None:
        abort(400, f"malformed JSON in the body of {request.method} {request.path}")
    if not isinstance(body, dict):
        abort(400, f"expected a JSON object in the body of {request.method} {request.path}, "
                   f"not {type(body).__name__}")
    return body


def job_or_404(job_id: str):
    row = services().store.job(job_id)
    if row is None:
        abort(404, f"no job with id {job_id!r}")
    return row


@bp.post("/api/projects/<project>/states/<state>/jobs")
def start_job(project: str, state: str):
    only_query()
    spec_project = project_or_404(project)
    state_or_404(spec_project, state)
    body = json_body()
    unknown = sorted(set(body) - {"kind", "params"})
    if unknown:
        abort(400, f"unknown field {', '.join(map(repr, unknown))} (accepted: 'kind', 'params')")
    kind = body.get("kind")
    if kind not in JOB_KINDS:
        abort(400, f"unknown job kind {kind!r} (kinds: {', '.join(sorted(JOB_KINDS))})")
    params = body.get("params", {})
    if not isinstance(params, dict):
        abort(400, f"'params' must be a JSON object, not {type(params).__name__}")
    reserved = sorted(set(params) & set(CONTEXT_PARAMS))
    if reserved:
        abort(400, f"'params' may not set {', '.join(map(repr, reserved))}: the server sets them")
    job_id = services().jobs.start(project=spec_project.name, project_folder=spec_project.root,
                                   state=state, kind=kind, params=params)
    response = jsonify(id=job_id, status="queued", url=url_for("jobs.get_job", job_id=job_id))
    response.status_code = 202
    response.headers["Location"] = url_for("jobs.get_job", job_id=job_id)
    return response


@bp.get("/api/jobs/<job_id>")
def get_job(job_id: str):
    only_query()
    return jsonify(job_json(job_or_404(job_id)))


@bp.post("/api/jobs/<job_id>/cancel")
def cancel_job(job_id: str):
    only_query()
    row = job_or_404(job_id)
    if row["status"] in FINAL_STATUSES:
        abort(409, f"job {job_id} is already {row['status']}; nothing to cancel")
    services().jobs.cancel(job_id)
    return jsonify(job_json(job_or_404(job_id)))


@bp.get("/api/jobs")
def list_jobs():
    only_query("project", "state")
    rows = services().store.jobs(project=request.args.get("project"), state=request.args.get("state"))
    return jsonify([job_json(row) for row in rows])
