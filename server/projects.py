"""The projects blueprint: which communities the server offers and their states.

    GET /api/projects   [{name, title_en, title_zh, states: [{name, title_en, title_zh, baseline}]}]

Configured projects come first, then those registered or uploaded (server.uploads, server.store).

A project whose project.toml cannot be read is listed with `error` and no states, so one
broken folder does not hide the others.
"""
from __future__ import annotations

from flask import Blueprint, jsonify

from server.services import only_query, services

bp = Blueprint("projects", __name__, url_prefix="/api/projects")


@bp.get("")
def list_projects():
    only_query()
    listing = []
    for name, project, error in services().catalog.listing():
        if project is None:
            listing.append({"name": name, "title_en": "", "title_zh": "", "states": [], "error": str(error)})
            continue
        listing.append({
            "name": name,
            "title_en": project.title_en,
            "title_zh": project.title_zh,
            "states": [{"name": spec.name, "title_en": spec.title_en, "title_zh": spec.title_zh,
                        "baseline": index == 0} for index, spec in enumerate(project.states)],
        })
    return jsonify(listing)
