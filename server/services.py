"""The per-app objects the blueprints share (projects, loaded states, GLB cache, store, jobs) and lookups that 404.

`create_app` puts one `Services` in `app.extensions["community_twin"]`; a route reaches it with
`services()`. Nothing is module-level state, so two apps (two tests) never share a cache.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import abort, current_app, request

from twin.project import Project, StateSpec

from server.catalog import ProjectCatalog, UnknownProject
from server.glb_cache import GlbCache
from server.jobs import JobRunner
from server.store import Store
from server.twins import StateStore

EXTENSION = "community_twin"


@dataclass
class Services:
    catalog: ProjectCatalog
    states: StateStore
    glb: GlbCache
    store: Store
    jobs: JobRunner


def services() -> Services:
    return current_app.extensions[EXTENSION]


def project_or_404(name: str) -> Project:
    try:
        return services().catalog.get(name)
    except UnknownProject:
        abort(404, f"no project named {name!r} (projects: {', '.join(services().catalog.names()) or 'none'})")


def state_or_404(project: Project, name: str) -> StateSpec:
    for spec in project.states:
        if spec.name == name:
            return spec
    abort(404, f"project {project.name!r} has no state named {name!r} "
               f"(states: {', '.join(s.name for s in project.states)})")


def state_query(project: Project, parameter: str, *, default: str | None = None) -> str | None:
    """A query parameter naming another state of the project: 400 if it is empty, repeated or
    names no state; `default` when it is absent."""
    values = request.args.getlist(parameter)
    if not values:
        return default
    if len(values) > 1:
        abort(400, f"query parameter {parameter!r} given {len(values)} times; give it once")
    value = values[0]
    if not value:
        abort(400, f"query parameter {parameter!r} is empty; expected a state of {project.name!r} "
                   f"({', '.join(s.name for s in project.states)})")
    if all(spec.name != value for spec in project.states):
        abort(400, f"query parameter {parameter}={value!r} names no state of {project.name!r} "
                   f"(states: {', '.join(s.name for s in project.states)})")
    return value


def only_query(*allowed: str) -> None:
    """400 for a query parameter the route does not know (a typo would otherwise be ignored)."""
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        accepted = ", ".join(allowed) if allowed else "none"
        abort(400, f"unknown query parameter {', '.join(map(repr, unknown))} for {request.path} (accepted: {accepted})")
