"""The `evacuation` job: evacuate one state of a project and save its Result in the instance folder.

params (optional, besides the runner's project / project_folder / state / instance_path):
route ("nearest" | "quickest"), time_of_day ("day" | "night"), seed (int), dt_s (s), max_time_s (s).
Progress: 0-5 % loading the state, 5-95 % simulated time, the rest saving.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

KIND = "evacuation"


def run(params: dict[str, Any], report_progress: Callable[..., None]) -> dict[str, Any]:
    from sim.evacuation.metrics import summary
    from twin.commands.evacuation import EvacuationInputError, run_state, site_settings
    from twin.project import load_project

    project = load_project(params["project_folder"])
    state = params["state"]
    project.state(state)  # ProjectError naming the states if it is not in project.toml
    seed = params.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise EvacuationInputError(f"evacuation job: params.seed must be a whole number, got {seed!r}")
    dt_s = params.get("dt_s")
    if dt_s is not None and (isinstance(dt_s, bool) or not isinstance(dt_s, (int, float)) or not 0 < dt_s <= 0.5):
        raise EvacuationInputError(f"evacuation job: params.dt_s must be a time step in (0, 0.5] s, got {dt_s!r}")
    max_time_s = params.get("max_time_s")
    if max_time_s is not None and (isinstance(max_time_s, bool) or not isinstance(max_time_s, (int, float)) or max_time_s <= 0):
        raise EvacuationInputError(f"evacuation job: params.max_time_s must be a positive number of seconds, got {max_time_s!r}")
    settings = site_settings(project.settings, route=params.get("route", "nearest"),
                             time_of_day=params.get("time_of_day", "day"), dt_s=dt_s, max_time_s=max_time_s)
    report_progress(0.0, f"loading {state}")

    def progress(fraction: float) -> None:
        report_progress(0.05 + 0.9 * fraction, f"evacuating {state}: {fraction * 100:.0f} % of the time limit")

    result = run_state(project, state, progress=progress, settings=settings, seed=seed)
    report_progress(0.96, "saving")
    tag = f"{settings.route}-{settings.time_of_day}"
    json_path, _ = result.save(Path(params["instance_path"]) / "results" / f"evacuation-{project.name}-{state}-{tag}")
    out = summary(result)
    for exit_id, entry in out["exits"].items():
        entry["name"] = result.exit_names.get(exit_id, exit_id)
    report_progress(1.0, "done")
    return {"result_path": str(json_path), "metrics": out}
