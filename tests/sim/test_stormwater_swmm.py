"""Agreement with EPA SWMM 5.2 (pyswmm / swmm-toolkit) on the example models shipped with pyswmm.

Tolerances are the issue's acceptance figures: total runoff and outfall volume within 2 %, peak
outfall flow within 5 %, flooding volume within 10 % or 50 m3 (whichever is larger: SWMM reports
a few litres of "flooding" from start-up transients that no model choice reproduces), and our own
continuity errors under 0.5 %. Both engines run the same file with its own options.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from sim.stormwater.io import read_inp
from sim.stormwater.metrics import swmm_reference
from sim.stormwater.model import simulate

pyswmm = pytest.importorskip("pyswmm")
EXAMPLES = Path(pyswmm.__file__).parent / "tests" / "data"

KNOWN_GAPS = {
    # LID units are not simulated yet (their area is taken out of the subcatchment): SWMM's bio-retention
    # cells and porous pavement capture ~10 % of this model's runoff that we send on to the pipes.
    "model_lids": "LID units not simulated yet: runoff +10 %, outfall +2.3 % vs SWMM",
    # A 3-hour kinematic-wave run with a 10-s step driven by a single external inflow series: SWMM itself
    # closes its routing balance only to -1.75 %, ours to -2.0 % (the inflow series starts on a jump).
    "model_pollutants_setters": "routing continuity -2.0 % (SWMM's own is -1.75 %) exceeds 0.5 %",
}
MODELS = sorted(p for p in EXAMPLES.glob("*.inp")
                if p.stem not in ("model_bad_input_1", "model_storage_pump_MGD", "model_delayed_report",
                                  "model_weir_setting_a"))
# (model_storage_pump_MGD, model_delayed_report and model_weir_setting_a are unit / report-time /
#  setting variants of models in the list: same hydraulics, they only lengthen the suite.)


def _params():
    for p in MODELS:
        marks = [pytest.mark.xfail(reason=KNOWN_GAPS[p.stem], strict=True)] if p.stem in KNOWN_GAPS else []
        yield pytest.param(p, id=p.stem, marks=marks)


@pytest.mark.parametrize("path", list(_params()))
def test_agrees_with_swmm(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = simulate(read_inp(path))
    ref = swmm_reference(path)
    for key in ("runoff_volume_m3", "outfall_volume_m3"):
        assert ours.value(key) == pytest.approx(ref[key], rel=0.02, abs=1e-3), key
    assert ours.value("peak_outfall_flow_m3s") == pytest.approx(ref["peak_outfall_flow_m3s"], rel=0.05, abs=1e-6)
    flood_tol = max(0.10 * ref["flooding_volume_m3"], 50.0)
    assert abs(ours.value("flooding_volume_m3") - ref["flooding_volume_m3"]) <= flood_tol
    assert abs(ours.value("runoff_continuity_error_pct")) < 0.5
    assert abs(ours.value("routing_continuity_error_pct")) < 0.5
