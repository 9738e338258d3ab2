"""The `stormwater` job: rain on one state of a project, its Result saved in the instance folder.

params (optional, besides the runner's project / project_folder / state / instance_path):
storm ("P3": design storm return period; default the project's setting).
Progress: 0-20 % loading the state and building the drainage model, 20-100 % running.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

KIND = "stormwater"


def run(params: dict[str, Any], report_progress: Callable[..., None]) -> dict[str, Any]:
    from twin.commands.stormwater import StormwaterError, parse_storm, run_state, summary
    from twin.project import load_project

    project = load_project(params["project_folder"])
    state = params["state"]
    project.state(state)  # ProjectError naming the states if it is not in project.toml
    storm = params.get("storm", f"P{project.settings.get('storm_return_period_years', 3)}")
    if not isinstance(storm, str):
        raise StormwaterError(f"stormwater job: params.storm must be a text such as 'P3', got {storm!r}")
    parse_storm(storm)  # StormwaterError naming the parameter if it is not a return period

    def progress(fraction: float) -> None:
        report_progress(min(fraction, 0.99), f"stormwater {state} {storm}: {fraction * 100:.0f} %")

    result = run_state(project, state, storm=storm, progress=progress)
    tag = re.sub(r"[^0-9A-Za-z.]", "_", storm)
    json_path, _ = result.save(Path(params["instance_path"]) / "results" / f"stormwater-{project.name}-{state}-{tag}")
    report_progress(1.0, "done")
    return {"result_path": str(json_path), "metrics": summary(result)}
