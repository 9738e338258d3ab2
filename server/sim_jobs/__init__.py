"""Engine runs as server jobs, one module per engine.

Each module defines `KIND` (the name clients ask for in POST .../jobs, e.g. "stormwater")
and a module-level `run(params, report_progress) -> dict` following server/jobs.py's job
contract (params carry project, project_folder, state, instance_path; the result names its
saved Result with `result_path`). `discover()` registers them all with the job runner.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Callable


def discover(register: Callable[[str, Callable], None]) -> list[str]:
    kinds = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        register(module.KIND, module.run)
        kinds.append(module.KIND)
    return kinds
