"""The application factory: `create_app(config)` builds a Flask app serving Community Twin projects.

Config keys (all optional):

- `PROJECTS`: project folders (each with a project.toml); default the sample community;
- `INSTANCE_PATH`: folder for generated files (the GLB cache under `glb/`); default Flask's
  instance folder (`instance/` next to the `server` package);
- `VIEWER_DIR`: the viewer's folder; default `viewer/` of the repository;
- `STATE_CACHE_SIZE`: loaded states kept in memory (server.twins), default 4;
- `JOB_WORKERS`: worker processes of the job pool (server.jobs), default 1 (2 on 4+ cores);
- `MAX_CONTENT_LENGTH`: largest request body (uploads), default 200 MB; larger → 413;
- `SIMULATION_KINDS`: the engine job kinds offered to the viewer (server.simulations); default
  every module of server/sim_jobs;
- `TESTING` and any other Flask setting.

Creating the app only checks that the project folders exist: no project file is read and no
state is loaded until a request needs it. It opens (or creates) the store in the instance
folder (server.store), offers the projects registered there besides `PROJECTS`, and marks
failed the jobs a previous server process left queued or running. The job pool's processes
start with the first job; `app.extensions["community_twin"].jobs.shutdown()` stops them.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

from server import errors, jobs_api, projects, simulations, states, static, uploads
from server.catalog import ProjectCatalog
from server.glb_cache import GlbCache
from server.jobs import JobRunner
from server.services import EXTENSION, Services
from server.store import DATABASE_NAME, Store
from server.twins import DEFAULT_CAPACITY, StateStore

REPOSITORY = Path(__file__).resolve().parent.parent
SAMPLE_PROJECT = REPOSITORY / "ifc_models" / "sample_community"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    config = dict(config or {})
    instance_path = config.pop("INSTANCE_PATH", None)
    app = Flask(__name__, instance_path=str(Path(instance_path).resolve()) if instance_path else None,
                static_folder=None)  # the static blueprint serves the viewer
    app.config.from_mapping(
        PROJECTS=[str(SAMPLE_PROJECT)],
        VIEWER_DIR=str(REPOSITORY / "viewer"),
        STATE_CACHE_SIZE=DEFAULT_CAPACITY,
        JOB_WORKERS=2 if (os.cpu_count() or 1) >= 4 else 1,
        MAX_CONTENT_LENGTH=200 * 1024 * 1024,
    )
    app.config.update(config)
    app.config["INSTANCE_PATH"] = app.instance_path
    app.json.ensure_ascii = False  # Chinese titles as UTF-8, not \u escapes
    app.json.sort_keys = False  # keep the documented key order

    catalog = ProjectCatalog(app.config["PROJECTS"])  # a bad PROJECTS fails before anything is written
    store = Store(Path(app.instance_path) / DATABASE_NAME)
    store.create_schema()
    interrupted = store.mark_interrupted()
    if interrupted:
        app.logger.warning("%d job(s) left unfinished by a previous server process marked failed", interrupted)
    for registered in store.projects():
        catalog.add(registered["folder"])
    state_store = StateStore(capacity=int(app.config["STATE_CACHE_SIZE"]))
    app.extensions[EXTENSION] = Services(
        catalog=catalog,
        states=state_store,
        glb=GlbCache(Path(app.instance_path) / "glb", state_store),
        store=store,
        jobs=JobRunner(store, instance_path=app.instance_path, max_workers=int(app.config["JOB_WORKERS"])),
    )
    errors.register_error_handlers(app)
    app.register_blueprint(projects.bp)
    app.register_blueprint(states.bp)
    app.register_blueprint(uploads.bp)
    app.register_blueprint(jobs_api.bp)
    app.register_blueprint(simulations.bp)
    app.register_blueprint(static.bp)
    return app
