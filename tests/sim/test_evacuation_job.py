"""The server's `evacuation` job kind on the sample community (short time limit: the plumbing, not the physics)."""
import json
from pathlib import Path

import numpy as np
import pytest

from server.sim_jobs import evacuation as job
from twin.commands.evacuation import EvacuationInputError

SAMPLE = str(Path(__file__).resolve().parents[2] / "ifc_models" / "sample_community")


def test_the_job_saves_the_result_and_reports_progress(tmp_path):
    calls = []
    params = {"project": "sample_community", "project_folder": SAMPLE, "state": "proposal_a",
              "instance_path": str(tmp_path), "max_time_s": 20.0, "dt_s": 0.1}
    out = job.run(params, lambda fraction, message="": calls.append(fraction))
    assert job.KIND == "evacuation"
    saved = json.loads(open(out["result_path"]).read())
    assert saved["engine"] == "sim.evacuation"
    # in 20 s nobody is out of his flat yet (households take 120 +- 60 s): all reported, none out --
    # the 6572 residents and, by day, the 298 people in the kindergarten, day-care station and centre
    assert out["metrics"]["agents"] == 6572 + 298 and out["metrics"]["evacuated"] == 0
    # the gates and the four assembly areas are the destinations
    exits = out["metrics"]["exits"].values()
    assert {e["name"] for e in exits if e["kind"] == "exit"} == {"Gate S", "Gate E", "Gate N (pedestrian)", "Gate W"}
    assert {e["name"] for e in exits if e["kind"] == "assembly"} == {
        "Assembly area: Park W2", "Assembly area: Central plaza", "Assembly area: Park E5", "Assembly area: Park M6"}
    npz = np.load(out["result_path"].replace(".json", ".npz"))
    assert npz["frames/positions_xy_m"].shape == (len(npz["frames/times_s"]), 6572 + 298, 2)
    assert calls[0] == 0.0 and calls[-1] == 1.0 and calls == sorted(calls)


def test_bad_job_parameters_are_named(tmp_path):
    params = {"project": "sample_community", "project_folder": SAMPLE, "state": "baseline",
              "instance_path": str(tmp_path), "dt_s": 2}
    with pytest.raises(EvacuationInputError, match="dt_s"):
        job.run(params, lambda *a: None)
    with pytest.raises(EvacuationInputError, match="route"):
        job.run({**params, "dt_s": 0.05, "route": "fastest"}, lambda *a: None)
