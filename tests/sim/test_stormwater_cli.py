"""`twin stormwater run`: an .inp file with its own options and rain; JSON contract; clear errors."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pyswmm = pytest.importorskip("pyswmm")
EXAMPLES = Path(pyswmm.__file__).parent / "tests" / "data"
CONTRACT = ("rainfall_volume_m3", "runoff_volume_m3", "infiltration_volume_m3", "lid_captured_volume_m3",
            "outfall_volume_m3", "peak_outfall_flow_m3s", "flooding_volume_m3", "flooded_nodes",
            "runoff_continuity_error_pct", "routing_continuity_error_pct", "runoff_control_rate")


def _twin(*args):
    return subprocess.run([sys.executable, "-m", "twin.cli", *args], capture_output=True, text=True, timeout=600)


def test_inp_run_prints_the_json_contract_with_swmm_figures():
    from sim.stormwater.metrics import swmm_reference

    path = EXAMPLES / "model_pollutants_2.inp"
    proc = _twin("stormwater", "run", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for key in CONTRACT:
        assert key in out, key
    ref = swmm_reference(path)
    # the file's own rain and time span: rainfall is the same number SWMM integrates (1e-6: float sums)
    assert out["rainfall_volume_m3"] == pytest.approx(ref["rainfall_volume_m3"], rel=1e-6)
    assert out["outfall_volume_m3"] == pytest.approx(ref["outfall_volume_m3"], rel=0.02)
    # control rate = 1 - (outfall + flooding) / rain, by definition
    expected = 1 - (out["outfall_volume_m3"] + out["flooding_volume_m3"]) / out["rainfall_volume_m3"]
    assert out["runoff_control_rate"] == pytest.approx(expected, abs=1e-9)


def test_bad_inputs_are_one_error_line(tmp_path):
    proc = _twin("stormwater", "run", str(tmp_path / "missing.inp"))
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    bad = tmp_path / "bad.inp"
    bad.write_text((EXAMPLES / "model_rain.inp").read_text().replace("C2               CIRCULAR", "C2 EGG_SHAPED", 1))
    proc = _twin("stormwater", "run", str(bad))
    assert proc.returncode == 2 and "C2" in proc.stderr and "EGG_SHAPED" in proc.stderr
    proc = _twin("stormwater", "run", str(EXAMPLES / "model_rain.inp"), "--storm", "P3")
    assert proc.returncode == 2 and "--storm" in proc.stderr


def test_project_series_run_reports_the_control_rate(tmp_path):
    # Three days of a rain record on the sample baseline (continuous run: kinematic wave, evaporation).
    import datetime

    rows = ["time,intensity_mm_h"]
    start = datetime.datetime(2020, 7, 1)
    for h in range(72):
        rows.append(f"{(start + datetime.timedelta(hours=h)).isoformat()},{12.0 if 10 <= h < 14 else 0.0}")
    rain = tmp_path / "rain.csv"
    rain.write_text("\n".join(rows) + "\n")
    sample = Path(__file__).resolve().parents[2] / "ifc_models" / "sample_community"
    proc = _twin("stormwater", "run", str(sample), "--series", str(rain), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["rainfall_volume_m3"] > 0 and out["evaporation_volume_m3"] > 0   # monthly evaporation applies
    expected = 1 - (out["outfall_volume_m3"] + out["flooding_volume_m3"]) / out["rainfall_volume_m3"]
    assert out["runoff_control_rate"] == pytest.approx(expected, abs=1e-9)
    assert 0.0 < out["runoff_control_rate"] < 1.0
    assert abs(out["runoff_continuity_error_pct"]) < 0.5 and abs(out["routing_continuity_error_pct"]) < 0.5


def test_long_run_reports_progress_from_the_running_kernel():
    # A year of rain: the kernel publishes its clock, a watcher turns it into fractions twice a second.
    import warnings

    from sim.stormwater import rainfall
    from sim.stormwater.model import Settings, simulate
    from twin.commands.stormwater import build_state_model
    from twin.project import load_project, load_state

    sample = Path(__file__).resolve().parents[2] / "ifc_models" / "sample_community"
    model, _ = build_state_model(load_state(load_project(sample), "baseline"), rainfall.synthetic_series(1),
                                 continuous=True)
    calls = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        simulate(model, Settings(keep_frames=False), progress=lambda f, m: calls.append((f, m)))
    fractions = [f for f, _ in calls]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert fractions == sorted(fractions) and all(0.0 <= f <= 1.0 for f in fractions)
    for f, message in calls[1:-1]:   # "D of 365 days" with D the simulated day
        assert message.endswith("of 365 days") and abs(int(message.split()[0]) - 365 * f) <= 1
