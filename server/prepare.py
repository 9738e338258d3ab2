"""The `prepare` job: load one state (filling the content cache) and write its GLBs to the instance folder.

Run in a worker process so that a newly uploaded project's states are ready before anyone asks:
the plain GLB and, for a proposal, the diff GLB against the baseline land in `<instance>/glb`
under the same names the server's GlbCache looks for, so the viewer's first request is a file
send. Progress: the loader's triangulation progress covers 5-60 %, the exports the rest.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from twin.project import load_project

from server.glb_cache import GlbCache
from server.twins import StateStore


def prepare_state(params: dict[str, Any], report_progress: Callable[..., None]) -> dict[str, Any]:
    project = load_project(params["project_folder"])
    state = params["state"]
    baseline = project.baseline.name
    project.state(state)  # ProjectError naming the states if it has gone from project.toml
    states = StateStore(capacity=2)
    glb = GlbCache(Path(params["instance_path"]) / "glb", states)

    def loader_progress(start: float, span: float, name: str):
        def progress(done: int, total: int, what: str) -> None:
            report_progress(start + span * done / max(total, 1), f"loading {name}: {what} {done}/{total}")
        return progress

    report_progress(0.0, f"loading {state}")
    twin = states.loaded(
        project, state, progress=loader_progress(0.05, 0.55 if state == baseline else 0.4, state)).twin
    if state != baseline:
        report_progress(0.45, f"loading {baseline} (the diff base)")
        states.loaded(project, baseline, progress=loader_progress(0.45, 0.15, baseline))
    report_progress(0.65, f"exporting the GLB of {state}")
    plain = glb.get(project, state)
    diff = None
    if state != baseline:
        report_progress(0.85, f"exporting the diff GLB of {state} against {baseline}")
        diff = glb.get(project, state, diff_base=baseline)
    report_progress(1.0, "prepared")
    return {
        "result_path": str(plain.path),
        "glb": str(plain.path),
        "diff_glb": str(diff.path) if diff is not None else None,
        "diff_base": baseline if diff is not None else None,
        "elements": len(twin.elements),
    }
