"""The states blueprint: what the viewer reads of one state of a project.

    GET /api/projects/<p>/states/<s>/model.glb[?diff=BASE]   the GLB (class colours, CIM context);
                                                             with diff: diff colours + removed ghosts
    GET /api/projects/<p>/states/<s>/elements/<GlobalId>[?diff=BASE]
                                                             properties of an element or spatial node
    GET /api/projects/<p>/states/<s>/info                    twin.cli.info_dict (what `twin info` says)
    GET /api/projects/<p>/states/<s>/diff[?against=BASE]     TwinDiff.to_json(), against the baseline by default
    GET /api/projects/<p>/states/<s>/layers                  the simulation layers as GeoJSON (twin coordinates)

GLBs are served from the instance folder's cache (server.glb_cache) with an ETag, so a
browser's second visit is a 304 and the server's second request is a file send.
"""
from __future__ import annotations

import re

from flask import Blueprint, abort, jsonify, send_file

from twin.cli import info_dict

from server.payloads import element_json, layers_geojson, spatial_json
from server.services import only_query, project_or_404, services, state_or_404, state_query

bp = Blueprint("states", __name__, url_prefix="/api/projects/<project>/states/<state>")

GLOBAL_ID = re.compile(r"[0-9A-Za-z_$]{22}")
"""An IFC GlobalId: 22 characters of IFC's base-64 alphabet."""


@bp.get("/model.glb")
def model_glb(project: str, state: str):
    only_query("diff")
    spec_project = project_or_404(project)
    state_or_404(spec_project, state)
    diff_base = state_query(spec_project, "diff")
    cached = services().glb.get(spec_project, state, diff_base=diff_base)
    response = send_file(cached.path, mimetype="model/gltf-binary", etag=cached.etag, conditional=True,
                         download_name=f"{state}{'.diff-' + diff_base if diff_base else ''}.glb")
    response.cache_control.no_cache = True  # revalidate each time: the ETag changes when the model does
    response.headers["X-Twin-Cache"] = "miss" if cached.generated else "hit"
    return response


@bp.get("/elements/<gid>")
def element(project: str, state: str, gid: str):
    only_query("diff")
    spec_project = project_or_404(project)
    state_or_404(spec_project, state)
    if not GLOBAL_ID.fullmatch(gid):
        abort(400, f"{gid!r} is not an IFC GlobalId (22 characters of 0-9, A-Z, a-z, _ and $)")
    diff_base = state_query(spec_project, "diff")
    store = services().states
    twin = store.twin(spec_project, state)
    if gid in twin.elements:
        payload = element_json(twin.elements[gid])
    elif gid in twin.spatial:
        payload = spatial_json(twin, twin.spatial[gid])
    else:
        removed = store.twin(spec_project, diff_base).elements.get(gid) if diff_base else None
        if removed is None:
            abort(404, f"state {state!r} of {project!r} has no element or spatial node {gid}")
        payload = element_json(removed)  # a ghost in the diff GLB: show it as it was in the base
        payload["fromState"] = diff_base
    payload["state"] = state
    if diff_base is not None and not payload["spatial"]:
        diff = store.diff(spec_project, diff_base, state)
        payload["diffStatus"] = diff.status_of(gid)
        payload["diffBase"] = diff_base
        change = store.diff_json(spec_project, diff_base, state)["changes"].get(gid)
        if change is not None:
            payload["diffChanges"] = change
    return jsonify(payload)


@bp.get("/info")
def info(project: str, state: str):
    only_query()
    spec_project = project_or_404(project)
    state_or_404(spec_project, state)
    return jsonify(services().states.memo(spec_project, state, "info", info_dict))


@bp.get("/diff")
def diff(project: str, state: str):
    only_query("against")
    spec_project = project_or_404(project)
    state_or_404(spec_project, state)
    base = state_query(spec_project, "against", default=spec_project.baseline.name)
    return jsonify(services().states.diff_json(spec_project, base, state))


@bp.get("/layers")
def layers(project: str, state: str):
    only_query()
    spec_project = project_or_404(project)
    state_or_404(spec_project, state)
    return jsonify(services().states.memo(spec_project, state, "layers_geojson",
                                          lambda twin: layers_geojson(twin, twin.layers)))
