"""The application factory: `create_app(config)` builds a Flask app serving Community Twin projects.

Config keys (all optional):

- `PROJECTS`: project folders (each with a project.toml); default the sample community;
- `INSTANCE_PATH`: folder for generated files (the GLB cache under `glb/`); default Flask's
  instance folder (`instance/` next to the `server` package);
- `VIEWER_DIR`: the viewer's folder; default `viewer/` of the repository;
- `STATE_CACHE_SIZE`: loaded states kept in memory (server.twins), default 4;
- `TESTING` and any other Flask setting.

Creating the app only checks that the project folders exist: no project file is read and no
state is loaded until a request needs it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from server import errors, projects, states, static
from server.catalog import ProjectCatalog
from server.glb_cache import GlbCache
from server.services import EXTENSION, Services
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
    )
    app.config.update(config)
    app.config["INSTANCE_PATH"] = app.instance_path
    app.json.ensure_ascii = False  # Chinese titles as UTF-8, not \u escapes
    app.json.sort_keys = False  # keep the documented key order

    state_store = StateStore(capacity=int(app.config["STATE_CACHE_SIZE"]))
    app.extensions[EXTENSION] = Services(
        catalog=ProjectCatalog(app.config["PROJECTS"]),
        states=state_store,
        glb=GlbCache(Path(app.instance_path) / "glb", state_store),
    )
    errors.register_error_handlers(app)
    app.register_blueprint(projects.bp)
    app.register_blueprint(states.bp)
    app.register_blueprint(static.bp)
    return app
