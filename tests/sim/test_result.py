"""sim.result: a Result survives save/load with its units, and a failed save leaves nothing behind."""
import json

import numpy as np
import pytest

from sim.result import Metric, Result, Series


def _result():
    return Result(engine="test", engine_version="0",
                  metrics={"peak_m3s": Metric(value=1.25, unit="m3/s", meaning="peak flow")},
                  series={"flow": Series(times_s=np.array([0.0, 60.0]), values=np.array([0.0, 1.25]), unit="m3/s")},
                  frames={"times_s": np.arange(3.0), "names": np.array(["a", "bb"])})


def test_save_writes_json_and_npz_that_read_back(tmp_path):
    json_path, npz_path = _result().save(tmp_path / "run" / "r.json")
    meta = json.loads(json_path.read_text())
    assert meta["metrics"]["peak_m3s"] == {"value": 1.25, "unit": "m3/s", "meaning": "peak flow"}
    assert meta["series"]["flow"] == {"unit": "m3/s"} and meta["frames"] == ["names", "times_s"]
    with np.load(npz_path) as z:  # allow_pickle is False by default: string frames must be plain unicode
        assert z["series/flow/values"].tolist() == [0.0, 1.25]
        assert z["frames/names"].tolist() == ["a", "bb"]
    assert sorted(p.name for p in json_path.parent.iterdir()) == ["r.json", "r.npz"]  # no temporary left


def test_failed_save_leaves_no_file(tmp_path):
    class Boom:  # an array-like whose conversion fails
        def __array__(self, *a, **k):
            raise RuntimeError("boom")

    result = _result()
    result.frames["bad"] = Boom()
    with pytest.raises(RuntimeError, match="boom"):
        result.save(tmp_path / "r")
    assert list(tmp_path.iterdir()) == []  # neither file, no temporary


def test_unwritable_arrays_leave_no_json(tmp_path):
    """An NPZ that cannot be written (a folder in its way) leaves no JSON claiming a complete result."""
    (tmp_path / "r.npz").mkdir()
    with pytest.raises(OSError):
        _result().save(tmp_path / "r")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.npz"]


def test_value_names_known_metrics():
    with pytest.raises(KeyError, match="peak_m3s"):
        _result().value("nope")
