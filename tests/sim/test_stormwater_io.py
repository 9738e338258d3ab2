"""SWMM .inp reading and writing: round trip, unit conversion, warnings, clear errors."""
from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import pytest

from sim.stormwater.io import InpWarning, parse_inp, read_inp, write_inp
from sim.stormwater.model import Horton, StormwaterInputError

pyswmm = pytest.importorskip("pyswmm")
EXAMPLES = Path(pyswmm.__file__).parent / "tests" / "data"
GOOD = sorted(p for p in EXAMPLES.glob("*.inp") if p.name != "model_bad_input_1.inp")


def _read_quiet(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InpWarning)
        return read_inp(path)


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_round_trip_gives_the_same_model(path):
    model = _read_quiet(path)
    again = parse_inp(write_inp(model), source="rewritten")
    model.source = again.source = ""
    assert dataclasses.asdict(again) == dataclasses.asdict(model)


def test_us_units_are_converted_to_si():
    model = _read_quiet(EXAMPLES / "model_full_features.inp")
    s1 = model.subcatchments["S1"]
    assert s1.area_m2 == pytest.approx(4046.8564224)      # 1 acre
    assert s1.width_m == pytest.approx(500 * 0.3048)
    assert s1.slope == pytest.approx(0.005)
    assert isinstance(s1.infiltration, Horton)
    assert s1.infiltration.max_rate_mps == pytest.approx(3 * 0.0254 / 3600)
    assert s1.infiltration.decay_per_s == pytest.approx(4 / 3600)
    assert s1.outlet == "J1"
    assert model.subcatchments["S3"].outlet == "J3"          # file says 'j3': names are case-insensitive
    assert model.conduits["C1:C2"].xsection.geom1_m == pytest.approx(0.3048)


def test_unsupported_sections_are_named_in_a_warning_and_kept():
    with pytest.warns(InpWarning, match="POLLUTANTS, LANDUSES"):
        model = read_inp(EXAMPLES / "model_lids.inp")
    assert "POLLUTANTS" in model.extra_sections
    assert "[POLLUTANTS]" in write_inp(model)


def test_rewritten_file_runs_the_same_in_swmm(tmp_path):
    # The rewritten file goes through SWMM's own parser: its results must match the original's to
    # the printing precision of the numbers we write (10 significant digits): 1e-6 relative.
    from sim.stormwater.metrics import swmm_reference

    src = EXAMPLES / "model_weir_setting.inp"
    out = tmp_path / "rewritten.inp"
    write_inp(_read_quiet(src), out)
    a, b = swmm_reference(src), swmm_reference(out)
    for key in ("runoff_volume_m3", "outfall_volume_m3", "flooding_volume_m3", "peak_outfall_flow_m3s"):
        assert b[key] == pytest.approx(a[key], rel=1e-6, abs=1e-9), key


def test_bad_reference_names_element_and_field():
    with pytest.raises(StormwaterInputError, match=r"\[SUBCATCHMENTS\] S1: rain gage"):
        read_inp(EXAMPLES / "model_bad_input_1.inp")


def test_bad_number_names_line_and_field():
    text = (EXAMPLES / "model_rain.inp").read_text().replace("[JUNCTIONS]\n", "[JUNCTIONS]\nJX abc 1 0 0 0\n", 1)
    with pytest.raises(StormwaterInputError, match=r"\[JUNCTIONS\] JX: field Elevation = 'abc'"):
        parse_inp(text, source="bad.inp")


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(StormwaterInputError, match="cannot read"):
        read_inp(tmp_path / "nope.inp")
