"""The server job and run_state on the sample community: a saved Result with metrics and frames."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SAMPLE = Path(__file__).resolve().parents[2] / "ifc_models" / "sample_community"


def test_stormwater_job_saves_a_result_with_frames(tmp_path):
    from server.sim_jobs import stormwater as job

    seen = []
    out = job.run({"project": "sample_community", "project_folder": str(SAMPLE), "state": "baseline",
                   "instance_path": str(tmp_path), "storm": "P3"}, lambda f, m="": seen.append(f))
    assert seen[-1] == 1.0 and all(0 <= f <= 1 for f in seen)
    meta = json.loads(Path(out["result_path"]).read_text())
    assert meta["engine"] == "stormwater"
    m = out["metrics"]
    # the rain of the run is all accounted for: runoff + infiltration + ponded/evaporated rest (runoff balance)
    assert abs(m["runoff_continuity_error_pct"]) < 0.5 and abs(m["routing_continuity_error_pct"]) < 0.5
    assert 0.0 <= m["runoff_control_rate"] <= 1.0
    arrays = np.load(Path(out["result_path"]).with_suffix(".npz"))    # no pickle: plain arrays only
    ids = arrays["frames/link_ids"]
    assert ids.dtype.kind == "U" and len(ids[0]) == 22                  # pipes named by their IFC GlobalId
    T = len(arrays["frames/times_s"])
    assert arrays["frames/link_flow_ratio"].shape == (T, len(ids))
    assert arrays["frames/node_depth_m"].shape == (T, len(arrays["frames/node_ids"]))
    assert np.nanmax(arrays["frames/node_flooding_m3s"]) > 0.0 and m["flooded_nodes"] > 0   # P3 floods the baseline
