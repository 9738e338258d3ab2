"""io.py on inputs met in held-out public SWMM models: what the engine does not apply is named, bad LID
usage is refused with the element and field. Small .inp texts written here (SI units)."""
from __future__ import annotations

import warnings

import pytest

from sim.stormwater.io import InpWarning, parse_inp
from sim.stormwater.model import StormwaterInputError

BASE = """[OPTIONS]
FLOW_UNITS CMS
INFILTRATION HORTON
FLOW_ROUTING DYNWAVE

[RAINGAGES]
G1 INTENSITY 0:05 1.0 TIMESERIES R1

[SUBCATCHMENTS]
S1 G1 J1 1.0 50 100 1 0

[SUBAREAS]
S1 0.01 0.1 0.05 0.05 25 OUTLET

[INFILTRATION]
S1 50 5 4 7 0

[JUNCTIONS]
J1 10 2 0 0 0
J2 9 2 0 0 0

[OUTFALLS]
O1 8 FREE NO

[CONDUITS]
C1 J1 J2 100 0.013 0 0 0 0
C2 J2 O1 100 0.013 0 0 0 0

[XSECTIONS]
C1 CIRCULAR 0.5 0 0 0 1
C2 CIRCULAR 0.5 0 0 0 1

[TIMESERIES]
R1 0:00 10
R1 1:00 0
"""


def _parse(text: str) -> tuple[object, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = parse_inp(text, source="t.inp")
    return model, [str(w.message) for w in caught if issubclass(w.category, InpWarning)]


def test_plain_model_has_no_warning():
    _, messages = _parse(BASE)
    assert messages == []


def test_force_main_friction_law_is_named_as_not_simulated():
    text = BASE.replace("C2 CIRCULAR 0.5 0 0 0 1", "C2 FORCE_MAIN 0.5 130 0 0 1")
    model, messages = _parse(text.replace("FLOW_ROUTING DYNWAVE", "FLOW_ROUTING DYNWAVE\nFORCE_MAIN_EQUATION H-W"))
    assert model.conduits["C2"].xsection.shape == "FORCE_MAIN"
    assert len(messages) == 1
    assert "[XSECTIONS] FORCE_MAIN C2" in messages[0] and "H-W roughness (Geom2)" in messages[0]


def test_used_interface_file_is_named():
    _, messages = _parse(BASE + '\n[FILES]\nUSE HOTSTART "start.hsf"\nSAVE OUTFLOWS "out.txt"\n')
    assert messages == ["t.inp: [FILES] USE HOTSTART: interface files are not read (the run starts from the "
                        "file's own initial state and inputs)"]


def test_saved_interface_file_is_quiet():
    _, messages = _parse(BASE + '\n[FILES]\nSAVE OUTFLOWS "out.txt"\n')
    assert messages == []


def test_dry_weather_flow_patterns_are_applied_so_nothing_is_named():
    # (they were kept but not applied; test_stormwater_swmm.py checks them against SWMM now)
    text = BASE + '\n[DWF]\nJ1 FLOW 0.01 "" "" "P1"\nJ2 FLOW 0.01\n\n[PATTERNS]\nP1 DAILY 1 1 1 1 1 1 1\n'
    _, messages = _parse(text)
    assert messages == []


LID = """
[LID_CONTROLS]
B1 RB
B1 STORAGE 1000 0.75 0 0
B1 DRAIN 1 0.5 0 6 0 0

[LID_USAGE]
{usage}
"""


def test_lid_drain_to_a_node_is_matched_without_case():
    model, _ = _parse(BASE + LID.format(usage="s1 b1 10 2 1 0 10 0 * j2 0"))
    u = model.lid_usage[0]
    assert (u.subcatchment, u.lid, u.drain_to) == ("S1", "B1", "J2")


def test_lid_drain_to_an_unknown_name_is_refused():
    with pytest.raises(StormwaterInputError, match=r"\[LID_USAGE\] S1 B1: DrainTo node: 'J9' not defined"):
        parse_inp(BASE + LID.format(usage="S1 B1 10 2 1 0 10 0 * J9 0"), source="t.inp")


def test_lid_drain_to_a_subcatchment_is_refused_as_unsupported():
    text = BASE.replace("S1 G1 J1 1.0 50 100 1 0", "S1 G1 J1 1.0 50 100 1 0\nS2 G1 J2 1.0 50 100 1 0")
    text = text.replace("S1 0.01 0.1 0.05 0.05 25 OUTLET", "S1 0.01 0.1 0.05 0.05 25 OUTLET\nS2 0.01 0.1 0.05 0.05 25 OUTLET")
    text = text.replace("S1 50 5 4 7 0", "S1 50 5 4 7 0\nS2 50 5 4 7 0")
    with pytest.raises(StormwaterInputError, match=r"\[LID_USAGE\] S1 B1: DrainTo 'S2' is a subcatchment"):
        parse_inp(text + LID.format(usage="S1 B1 10 2 1 0 10 0 * S2 0"), source="t.inp")


def test_lid_area_larger_than_its_subcatchment_is_refused():
    # S1 is 1 ha = 10000 m2; SWMM refuses more than 0.1 % above it (ERR_LID_AREAS)
    model, _ = _parse(BASE + LID.format(usage="S1 B1 2 5000 1 0 10 0 * * 0"))
    assert sum(u.number * u.area_m2 for u in model.lid_usage) == pytest.approx(10000.0)
    with pytest.raises(StormwaterInputError, match=r"\[LID_USAGE\] S1: LID units cover 10100 m2, more than the "
                                                   r"subcatchment's area 10000 m2"):
        parse_inp(BASE + LID.format(usage="S1 B1 2 5050 1 0 10 0 * * 0"), source="t.inp")


@pytest.mark.parametrize("option, expected", [
    ("SURCHARGE_METHOD SLOT", "t.inp: [OPTIONS] SURCHARGE_METHOD SLOT not simulated: surcharged pipes are run "
                              "with EXTRAN's method"),
    ("LENGTHENING_STEP 5", "t.inp: [OPTIONS] LENGTHENING_STEP 5 not simulated: short conduits keep their length"),
    ("IGNORE_ROUTING YES", "t.inp: [OPTIONS] IGNORE_ROUTING YES not applied: flows are routed"),
])
def test_options_not_applied_are_named(option, expected):
    _, messages = _parse(BASE.replace("FLOW_ROUTING DYNWAVE", f"FLOW_ROUTING DYNWAVE\n{option}"))
    assert messages == [expected]


@pytest.mark.parametrize("option", ["SURCHARGE_METHOD EXTRAN", "LENGTHENING_STEP 0", "IGNORE_ROUTING NO"])
def test_options_at_what_the_engine_does_are_quiet(option):
    _, messages = _parse(BASE.replace("FLOW_ROUTING DYNWAVE", f"FLOW_ROUTING DYNWAVE\n{option}"))
    assert messages == []


def test_run_on_to_a_subcatchment_that_is_all_lid_is_refused_by_name():
    """A subcatchment wholly covered by LID units (a common way to model them) receiving run-on:
    SWMM routes that water into the LID units, which this engine does not; it must say so, not
    divide by a zero area (a held-out model stopped with a bare ZeroDivisionError)."""
    from sim.stormwater.model import Settings, simulate

    text = BASE.replace("S1 G1 J1 1.0 50 100 1 0", "S1 G1 S2 1.0 50 100 1 0\nS2 G1 J2 1.0 50 100 1 0")
    text = text.replace("S1 0.01 0.1 0.05 0.05 25 OUTLET", "S1 0.01 0.1 0.05 0.05 25 OUTLET\nS2 0.01 0.1 0.05 0.05 25 OUTLET")
    text = text.replace("S1 50 5 4 7 0", "S1 50 5 4 7 0\nS2 50 5 4 7 0")
    text = text.replace("FLOW_ROUTING DYNWAVE", "FLOW_ROUTING DYNWAVE\nSTART_DATE 07/01/2020\nSTART_TIME 00:00\n"
                        "END_DATE 07/01/2020\nEND_TIME 03:00\nROUTING_STEP 5")
    whole, _ = _parse(text + LID.format(usage="S2 B1 2 5000 1 0 10 0 * * 0"))
    with pytest.raises(StormwaterInputError, match=r"t.inp \[SUBCATCHMENTS\] S1: runs on to S2, whose LID units "
                                                   r"cover all of it .*run-on into LID units is not simulated"):
        simulate(whole, Settings())
    part, _ = _parse(text + LID.format(usage="S2 B1 2 4000 1 0 10 0 * * 0"))  # 20 % of S2 outside its LIDs
    result = simulate(part, Settings())  # runs: the run-on lands on S2's 2,000 m2 outside the LIDs
    assert result.metrics["runoff_volume_m3"].value > 0
