"""The `traffic` job: simulate one state's morning peak (fire engines dispatched in the traffic) and
save its Result, with frames for playback, in the instance folder.

params (optional, besides the runner's project / project_folder / state / instance_path): seed (int).
Progress: loading the state, then simulated time of the peak, then the fire engines alone, saving.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

KIND = "traffic"


def run(params: dict[str, Any], report_progress: Callable[..., None]) -> dict[str, Any]:
    from twin.commands.traffic import PER_BUILDING, TrafficInputError, run_state_detailed
    from twin.project import load_project

    project = load_project(params["project_folder"])
    state = params["state"]
    project.state(state)  # ProjectError naming the states if it is not in project.toml
    seed = params.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TrafficInputError(f"traffic job: params.seed must be a whole number, got {seed!r}")
    out = run_state_detailed(project, state, progress=report_progress, record_frames=True, seed=seed)
    result = out["result"]
    report_progress(0.97, "saving")
    json_path, _ = result.save(Path(params["instance_path"]) / "results" / f"traffic-{project.name}-{state}")
    metrics = {name: (m.value if math.isfinite(m.value) else None) for name, m in result.metrics.items()
               if not name.startswith(PER_BUILDING)}
    metrics["emergency_access_s"] = {g: (v if math.isfinite(v) else None) for g, v in out["access"].items()}
    report_progress(1.0, "done")
    return {"result_path": str(json_path), "metrics": metrics}
