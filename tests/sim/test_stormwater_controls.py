"""Control rules ([CONTROLS]): parsing and writing back, the resumable kernel, rule semantics, and
agreement with EPA SWMM 5.2 (pyswmm) on models whose pumps and gates are run by rules.

SWMM tolerances as test_stormwater_swmm.py (the issue's figures): outfall volume 2 %, peak outfall
flow 5 %, flooding 10 % or 50 m3; rule actions are compared with the "Control Actions Taken" SWMM
writes in its report (CONTROLS YES), in time to within a few routing steps.
"""
from __future__ import annotations

import os
import re
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from sim.stormwater import kernels as K
from sim.stormwater.controller import chosen_actions
from sim.stormwater.controls import Action, Premise, Rule, Variable
from sim.stormwater.io import InpWarning, parse_inp, read_inp, write_inp
from sim.stormwater.model import Settings, StormwaterInputError, simulate
from sim.stormwater.prepare import prepare

pyswmm = pytest.importorskip("pyswmm")
EXAMPLES = Path(pyswmm.__file__).parent / "tests" / "data"

# A wet well (WW) emptied by a pump into a junction, and a tank (TANK) behind a bottom orifice, both
# fed by runoff of two storms; SI units, dynamic wave.
TANK_MODEL = """
[TITLE]
Wet well with a controlled pump and a tank with a controlled orifice

[OPTIONS]
FLOW_UNITS           CMS
INFILTRATION         HORTON
FLOW_ROUTING         DYNWAVE
START_DATE           06/01/2020
START_TIME           00:00:00
REPORT_START_DATE    06/01/2020
REPORT_START_TIME    00:00:00
END_DATE             06/01/2020
END_TIME             12:00:00
REPORT_STEP          00:01:00
WET_STEP             00:01:00
DRY_STEP             00:05:00
ROUTING_STEP         0:00:05
INERTIAL_DAMPING     PARTIAL
VARIABLE_STEP        0.75
MIN_SURFAREA         1.167
HEAD_TOLERANCE       0.0015
MINIMUM_STEP         0.5
{extra_options}

[RAINGAGES]
RG1 INTENSITY 0:10 1.0 TIMESERIES STORM

[SUBCATCHMENTS]
S1 RG1 TANK 6 80 300 1 0
S2 RG1 WW 4 70 250 1 0

[SUBAREAS]
S1 0.013 0.15 2 5 25 OUTLET
S2 0.013 0.15 2 5 25 OUTLET

[INFILTRATION]
S1 76 13 4 7 0
S2 76 13 4 7 0

[JUNCTIONS]
J1 8 3 0 0 0

[OUTFALLS]
OUT 5 FREE NO

[STORAGE]
TANK 10 4 0 FUNCTIONAL 0 0 600 0 0
WW 6 4 0 FUNCTIONAL 0 0 150 0 0

[CONDUITS]
C1 J1 OUT 200 0.013 0 0 0 0

[PUMPS]
P1 WW J1 PC1 OFF 0 0

[ORIFICES]
OR1 TANK J1 BOTTOM 0 0.65 NO 0

[XSECTIONS]
C1 CIRCULAR 1.2 0 0 0 1
OR1 CIRCULAR 0.4 0 0 0

[CURVES]
PC1 Pump2 0.5 0.15
PC1       1.5 0.25
PC1       4   0.3

[TIMESERIES]
STORM 0:00 5
STORM 0:30 15
STORM 1:00 40
STORM 1:30 90
STORM 2:00 40
STORM 2:30 20
STORM 3:00 10
STORM 3:30 5
STORM 4:00 0
STORM 6:00 10
STORM 6:30 30
STORM 7:00 10
STORM 7:30 0

[REPORT]
CONTROLS YES

{controls}
"""

TANK_RULES = """[CONTROLS]
; the pump empties the wet well between 2.0 m and 0.6 m
RULE PUMP_ON
IF NODE WW DEPTH > 2.0
THEN PUMP P1 STATUS = ON

RULE PUMP_OFF
IF NODE WW DEPTH < 0.6
THEN PUMP P1 STATUS = OFF

; the tank's gate opens above 1.5 m and closes below 1.0 m: the tank keeps its first metre
RULE GATE_OPEN
IF NODE TANK DEPTH > 1.5
THEN ORIFICE OR1 SETTING = 1

RULE GATE_SHUT
IF NODE TANK DEPTH < 1.0
THEN ORIFICE OR1 SETTING = 0
"""


def _quiet(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


def swmm_run(path: Path, tmp_path: Path):
    """SWMM 5.2's totals (metrics.swmm_reference) and its control actions as (time h, link, setting)."""
    from pyswmm import Simulation

    from sim.stormwater.metrics import swmm_reference

    ref = swmm_reference(path)
    rpt, out = tmp_path / "swmm.rpt", tmp_path / "swmm.out"
    with Simulation(str(path), reportfile=str(rpt), outputfile=str(out)) as sim:
        start = sim.start_time
        for _ in sim:
            pass
    found = re.findall(r"(\d\d/\d\d/\d{4}):? +(\d+:\d\d:\d\d) +Link +(\S+) +setting changed to +(\S+) by Control",
                       rpt.read_text())
    actions = [((datetime.strptime(f"{d} {t}", "%m/%d/%Y %H:%M:%S") - start).total_seconds() / 3600.0, link,
                float(value)) for d, t, link, value in found]
    return ref, actions


def assert_agrees(ours, ref):
    assert ours.value("outfall_volume_m3") == pytest.approx(ref["outfall_volume_m3"], rel=0.02)
    assert ours.value("peak_outfall_flow_m3s") == pytest.approx(ref["peak_outfall_flow_m3s"], rel=0.05)
    assert abs(ours.value("flooding_volume_m3") - ref["flooding_volume_m3"]) <= max(0.1 * ref["flooding_volume_m3"],
                                                                                    50.0)
    assert abs(ours.value("routing_continuity_error_pct")) < 0.5


def assert_same_actions(ours, swmm, tolerance_h):
    """Same sequence of (link, setting) changes, each within tolerance_h of SWMM's time."""
    mine = [(link, value) for _, link, value, _ in ours]
    theirs = [(link, value) for _, link, value in swmm]
    assert mine == theirs
    for (t, *_), (ts, *_) in zip(ours, swmm):
        assert t / 3600.0 == pytest.approx(ts, abs=tolerance_h)


# ---------------------------------------------------------------------------- reading and writing


STORAGE_PUMP = EXAMPLES / "model_storage_pump.inp"   # US units: ft, cfs
MIXED_RULES = """
[CONTROLS]
RULE R1
IF NODE SU1 DEPTH > 3
OR SIMULATION TIME > 10:30
AND GAGE SCS_24h_Type_I_1in INTENSITY > 0.05
THEN PUMP P1 STATUS = OFF
AND CONDUIT C2 STATUS = CLOSED
ELSE PUMP P1 SETTING = 0.5
PRIORITY 2

RULE R2
IF SIMULATION CLOCKTIME = 8:00 PM
AND LINK C2 FLOW >= NODE J1 INFLOW
THEN PUMP P1 STATUS = ON
"""


def test_rules_are_read_in_si_and_written_back_in_the_files_units():
    model = _quiet(parse_inp, STORAGE_PUMP.read_text() + MIXED_RULES)
    r1, r2 = model.controls.rules
    depth, time, rain = r1.premises
    assert (depth.join, depth.lhs, depth.relation) == ("IF", Variable(obj="NODE", name="SU1", attribute="DEPTH"), ">")
    assert depth.value == pytest.approx(3 * 0.3048)
    assert (time.join, time.value) == ("OR", 10.5 * 3600)
    assert rain.value == pytest.approx(0.05 * 0.0254 / 3600)     # in/h -> m/s
    assert r1.then_actions == (Action(obj="PUMP", name="P1", attribute="STATUS", value=0.0),
                               Action(obj="CONDUIT", name="C2", attribute="STATUS", value=0.0))
    assert r1.else_actions == (Action(obj="PUMP", name="P1", attribute="SETTING", value=0.5),)
    assert r1.priority == 2.0 and r2.priority == 0.0
    assert r2.premises[0].value == 20 * 3600                     # 8:00 PM
    assert r2.premises[1].rhs == Variable(obj="NODE", name="J1", attribute="INFLOW")
    text = write_inp(model)
    assert "[CONTROLS]" in text and "IF   NODE SU1 DEPTH > 3" in text
    again = _quiet(parse_inp, text)
    assert again.controls.rules == model.controls.rules


def test_a_clause_not_simulated_is_named_and_its_rule_written_back_as_read():
    rules = "\n[CONTROLS]\nRULE PAST\nIF GAGE SCS_24h_Type_I_1in 6 > 0.5\nTHEN PUMP P1 STATUS = OFF\n"
    with pytest.warns(InpWarning, match=r"rule PAST: clause 'IF GAGE SCS_24h_Type_I_1in 6 > 0.5'.*not simulated"):
        model = parse_inp(STORAGE_PUMP.read_text() + rules)
    assert model.controls.active == []
    assert "IF GAGE SCS_24h_Type_I_1in 6 > 0.5" in write_inp(model)
    with pytest.warns(InpWarning, match=r"rule A: clause 'IF R6 > 1': named variable or expression R6"):
        model = parse_inp(STORAGE_PUMP.read_text() + "\n[CONTROLS]\nVARIABLE R6 = GAGE SCS_24h_Type_I_1in 6\n"
                          "RULE A\nIF R6 > 1\nTHEN PUMP P1 STATUS = OFF\n")
    assert model.controls.active == []


@pytest.mark.parametrize("rules, message", [
    ("RULE A\nIF NODE NOPE DEPTH > 1\nTHEN PUMP P1 STATUS = OFF", r"rule A, clause 'IF NODE NOPE DEPTH > 1'.*not defined"),
    ("RULE A\nTHEN PUMP P1 STATUS = OFF", r"rule A.*THEN cannot follow RULE"),
    ("RULE A\nIF NODE J2 DEPTH >> 1\nTHEN PUMP P1 STATUS = OFF", r"relation '>>'"),
    ("RULE A\nIF NODE J2 DEPTH > 1\nTHEN PUMP P1 STATUS = OPEN", r"PUMP STATUS 'OPEN'"),
    ("RULE A\nIF NODE J2 DEPTH > 1\nTHEN CONDUIT C2 SETTING = 0.5", r"conduit takes STATUS"),
])
def test_a_bad_rule_is_refused_naming_rule_and_clause(rules, message):
    with pytest.raises(StormwaterInputError, match=message):
        _quiet(parse_inp, STORAGE_PUMP.read_text() + "\n[CONTROLS]\n" + rules + "\n")


# ---------------------------------------------------------------------------- resumable kernel


@pytest.mark.parametrize("name", ["model_storage_pump", "model_weir_setting"])
def test_a_run_cut_into_pieces_is_bit_identical_to_one_run(name):
    prepared = _quiet(prepare, _quiet(read_inp, EXAMPLES / f"{name}.inp"), Settings())
    args = prepared.args
    named = dict(zip(K.RUN_PARAMS, args))
    whole = K.run_system(*args)
    state = K.start_system(*[named[n] for n in K.START_PARAMS])
    t, calls = 0.0, 0
    for stop in np.linspace(0.0, prepared.t_end_s, 37)[1:]:   # stops that fall inside routing steps
        while t < stop - 1e-9:
            t = K.advance_system(*args, state, stop - 0.3, K.NO_WATCH_INT, K.NO_WATCH_CONST, K.NO_WATCH_LAST, False)
            calls += 1
    t = K.advance_system(*args, state, prepared.t_end_s, K.NO_WATCH_INT, K.NO_WATCH_CONST, K.NO_WATCH_LAST, False)
    pieces = K.finish_system(*K.finish_inputs(named, state))
    assert calls >= 36
    for a, b in zip(whole, pieces):
        assert np.array_equal(a, b)


def test_rules_that_never_fire_leave_the_run_bit_identical():
    rules = ("\n[CONTROLS]\nRULE NEVER\nIF NODE J2 DEPTH > 1000\nOR SIMULATION TIME > 1000\n"
             "THEN PUMP P1 STATUS = OFF\n")
    plain = _quiet(simulate, _quiet(read_inp, STORAGE_PUMP))
    ruled = _quiet(simulate, _quiet(parse_inp, STORAGE_PUMP.read_text() + rules))
    assert ruled.control_actions == []
    for key in ("outfall_volume_m3", "peak_outfall_flow_m3s", "flooding_volume_m3", "routing_steps"):
        assert ruled.value(key) == plain.value(key)
    assert np.array_equal(ruled.series["outfall_flow_m3s"].values, plain.series["outfall_flow_m3s"].values)


# ---------------------------------------------------------------------------- semantics


class _Levels:
    """A stand-in for a running system: node depths only."""

    def __init__(self, **depths):
        self.depths = depths
        self.t = 0.0

    def node_value(self, name, attribute):
        return self.depths[name]


def _rule(name, premises, then=(), otherwise=(), priority=0.0):
    return Rule(name=name, premises=tuple(Premise(join=j, lhs=Variable(obj="NODE", name=n, attribute="DEPTH"),
                                                  relation=r, value=v) for j, n, r, v in premises),
                then_actions=tuple(then), else_actions=tuple(otherwise), priority=priority)


def _set(link, value):
    return Action(obj="ORIFICE", name=link, attribute="SETTING", value=value)


def test_or_joins_the_running_result_and_and_ends_it():
    # A OR B AND C is (A OR B) AND C, as SWMM reads it
    rule = _rule("R", [("IF", "A", ">", 1.0), ("OR", "B", ">", 1.0), ("AND", "C", ">", 1.0)], [_set("G", 1.0)],
                 [_set("G", 0.0)])
    when = datetime(2020, 1, 1)
    for a, b, c, expected in [(2, 0, 2, 1.0), (0, 2, 2, 1.0), (2, 2, 0, 0.0), (0, 0, 2, 0.0)]:
        chosen = chosen_actions([rule], _Levels(A=a, B=b, C=c), when, 10.0)
        assert chosen["G"][0].value == expected


def test_the_higher_priority_wins_and_the_earlier_rule_on_a_tie():
    run, when = _Levels(A=2.0), datetime(2020, 1, 1)
    low = _rule("LOW", [("IF", "A", ">", 1.0)], [_set("G", 0.2)], priority=1)
    high = _rule("HIGH", [("IF", "A", ">", 1.0)], [_set("G", 0.8)], priority=3)
    same = _rule("SAME", [("IF", "A", ">", 1.0)], [_set("G", 0.5)], priority=1)
    assert chosen_actions([low, high], run, when, 10.0)["G"][1].name == "HIGH"
    assert chosen_actions([high, low], run, when, 10.0)["G"][1].name == "HIGH"
    assert chosen_actions([low, same], run, when, 10.0)["G"][1].name == "LOW"
    assert chosen_actions([same, low], run, when, 10.0)["G"][1].name == "SAME"


def test_a_conduit_closed_by_a_rule_needs_the_dynamic_wave():
    text = """[OPTIONS]
FLOW_UNITS CMS
FLOW_ROUTING KINWAVE
START_DATE 06/01/2020
END_DATE 06/01/2020
END_TIME 02:00:00
[RAINGAGES]
RG1 INTENSITY 0:10 1.0 TIMESERIES STORM
[SUBCATCHMENTS]
S1 RG1 J1 1 80 100 1 0
[SUBAREAS]
S1 0.013 0.15 2 5 25 OUTLET
[INFILTRATION]
S1 76 13 4 7 0
[JUNCTIONS]
J1 8 3 0 0 0
[OUTFALLS]
OUT 5 FREE NO
[CONDUITS]
C1 J1 OUT 200 0.013 0 0 0 0
[XSECTIONS]
C1 CIRCULAR 1.2 0 0 0 1
[TIMESERIES]
STORM 0:00 20
STORM 1:00 0
[CONTROLS]
RULE SHUT
IF NODE J1 DEPTH > 1
THEN CONDUIT C1 STATUS = CLOSED
"""
    model = _quiet(parse_inp, text)
    with pytest.raises(StormwaterInputError, match=r"rule SHUT: CONDUIT C1 STATUS .*dynamic wave only"):
        prepare(model, Settings())
    assert simulate(model, Settings(routing="DYNWAVE")).control_actions == []   # J1 never 1 m deep


# ---------------------------------------------------------------------------- against SWMM 5.2


def test_pump_and_gate_rules_agree_with_swmm(tmp_path):
    path = tmp_path / "tank.inp"
    path.write_text(TANK_MODEL.format(extra_options="", controls=TANK_RULES))
    ours = _quiet(simulate, _quiet(read_inp, path))
    ref, swmm_actions = swmm_run(path, tmp_path)
    assert_agrees(ours, ref)
    # pump and gate switch as in SWMM: same order, each within 3 minutes
    assert len(ours.control_actions) >= 8
    assert_same_actions(ours.control_actions, swmm_actions, tolerance_h=0.05)


def test_the_gate_rule_changes_the_result_as_it_does_in_swmm(tmp_path):
    # Without the rule the orifice stays open and the tank passes its inflow on; with it the tank keeps
    # its first metre (600 m3) and opens only above 1.5 m: less outflow, and SWMM sees the same change.
    gate_only = TANK_RULES[TANK_RULES.index("; the tank"):]
    pump_only = TANK_RULES[:TANK_RULES.index("; the tank")]
    with_gate, without = tmp_path / "with.inp", tmp_path / "without.inp"
    with_gate.write_text(TANK_MODEL.format(extra_options="", controls=pump_only + gate_only))
    without.write_text(TANK_MODEL.format(extra_options="", controls=pump_only))
    ours_with, ours_without = (_quiet(simulate, _quiet(read_inp, p)) for p in (with_gate, without))
    ref_with, _ = swmm_run(with_gate, tmp_path)
    ref_without, _ = swmm_run(without, tmp_path)
    kept = ours_without.value("outfall_volume_m3") - ours_with.value("outfall_volume_m3")
    assert kept > 500.0   # most of the first metre of the tank (600 m3) stays in it
    assert kept == pytest.approx(ref_without["outfall_volume_m3"] - ref_with["outfall_volume_m3"], rel=0.05)
    assert_agrees(ours_with, ref_with)
    assert_agrees(ours_without, ref_without)


def test_rule_step_and_time_premises_agree_with_swmm(tmp_path):
    # RULE_STEP 15 min: levels are looked at four times an hour; a clock rule opens the gate fully from
    # 06:00 whatever the level (priority), SIMULATION TIME switches the pump off for good after 9 h.
    rules = TANK_RULES + """
RULE MORNING
IF SIMULATION CLOCKTIME >= 06:00:00
THEN ORIFICE OR1 SETTING = 1
PRIORITY 5

RULE LATE
IF SIMULATION TIME > 9
THEN PUMP P1 STATUS = OFF
PRIORITY 5
"""
    path = tmp_path / "tank_rule_step.inp"
    path.write_text(TANK_MODEL.format(extra_options="RULE_STEP            00:15:00", controls=rules))
    ours = _quiet(simulate, _quiet(read_inp, path))
    ref, swmm_actions = swmm_run(path, tmp_path)
    assert_agrees(ours, ref)
    # actions only at (the end of the routing step reaching) quarter hours
    for t, *_ in ours.control_actions:
        assert (t % 900.0) < 30.0
    assert_same_actions(ours.control_actions, swmm_actions, tolerance_h=0.01)


def test_rules_on_the_pyswmm_storage_pump_example_agree_with_swmm(tmp_path):
    # US units; the pump is off for the first 6 hours, then on until the storage unit it fills is
    # 4 ft deep (a rule of higher priority), then off again.
    rules = """
[CONTROLS]
RULE WAIT
IF SIMULATION TIME < 6
THEN PUMP P1 STATUS = OFF
ELSE PUMP P1 STATUS = ON

RULE FULL
IF NODE SU1 DEPTH > 4
THEN PUMP P1 STATUS = OFF
PRIORITY 2
"""
    path = tmp_path / "storage_pump_rules.inp"
    path.write_text(STORAGE_PUMP.read_text() + rules)
    ours = _quiet(simulate, _quiet(read_inp, path))
    ref, swmm_actions = swmm_run(path, tmp_path)
    assert_agrees(ours, ref)
    assert [(link, v) for _, link, v, _ in ours.control_actions] == [("P1", 0.0), ("P1", 1.0), ("P1", 0.0)]
    assert_same_actions(ours.control_actions, swmm_actions, tolerance_h=0.01)
    # the exported file runs in SWMM with the same rules
    exported = tmp_path / "exported.inp"
    write_inp(_quiet(read_inp, path), exported)
    ref2, swmm_actions2 = swmm_run(exported, tmp_path)
    assert [(link, v) for _, link, v in swmm_actions2] == [(link, v) for _, link, v in swmm_actions]
    assert ref2["outfall_volume_m3"] == pytest.approx(ref["outfall_volume_m3"], rel=1e-4)


WEIR_SETTING = EXAMPLES / "model_weir_setting.inp"   # a 5-ft transverse weir that cannot surcharge


@pytest.mark.parametrize("case", ["weir_partly_open", "side_gate_half_open_slowly", "pump_at_60_percent"])
def test_partial_settings_agree_with_swmm(case, tmp_path):
    # SETTING between 0 and 1: a weir's crest raised by the closed part of its height (water above its
    # top then floods, the weir not surcharging), a side orifice half open reached over its 0.1-h
    # closing time, a pump's flow scaled.
    if case == "weir_partly_open":
        text = WEIR_SETTING.read_text() + ("\n[CONTROLS]\nRULE W\nIF SIMULATION TIME > 10\nTHEN WEIR C3 SETTING = 0.4\n"
                                           "ELSE WEIR C3 SETTING = 1\n")
    elif case == "side_gate_half_open_slowly":
        text = TANK_MODEL.format(extra_options="", controls=TANK_RULES.replace("OR1 SETTING = 1", "OR1 SETTING = 0.5"))
        text = text.replace("OR1 TANK J1 BOTTOM 0 0.65 NO 0", "OR1 TANK J1 SIDE 0 0.65 NO 0.1")
    else:
        text = TANK_MODEL.format(extra_options="", controls=TANK_RULES.replace("PUMP P1 STATUS = ON",
                                                                                "PUMP P1 SETTING = 0.6"))
    path = tmp_path / f"{case}.inp"
    path.write_text(text)
    ours = _quiet(simulate, _quiet(read_inp, path))
    ref, swmm_actions = swmm_run(path, tmp_path)
    assert_agrees(ours, ref)
    assert_same_actions(ours.control_actions, swmm_actions, tolerance_h=0.05)
    if case == "weir_partly_open":
        assert ref["flooding_volume_m3"] > 1000.0   # the raised crest floods J3, in both engines


PUMP_RULES = TANK_RULES[:TANK_RULES.index("; the tank")]
RAIN_AND_CALENDAR_RULES = {
    # the gate shuts while it rains harder than 30 mm/h (the rain a rule sees is the runoff step's, as SWMM's)
    "rain": "RULE RAIN\nIF GAGE RG1 INTENSITY > 30\nTHEN ORIFICE OR1 SETTING = 0\nELSE ORIFICE OR1 SETTING = 1\n",
    # a time that "equals" 03:00 within half a routing step
    "clock_equals": "RULE AT\nIF SIMULATION CLOCKTIME = 03:00:00\nTHEN ORIFICE OR1 SETTING = 0.3\n",
    # 06/01/2020 is a Monday (DAY 2)
    "calendar": "RULE D\nIF SIMULATION DAY = 2\nAND SIMULATION MONTH = 6\nAND SIMULATION DATE = 06/01/2020\n"
                "THEN ORIFICE OR1 SETTING = 0\n",
}


@pytest.mark.parametrize("case", sorted(RAIN_AND_CALENDAR_RULES))
def test_rain_and_calendar_premises_agree_with_swmm(case, tmp_path):
    path = tmp_path / f"{case}.inp"
    path.write_text(TANK_MODEL.format(extra_options="", controls=PUMP_RULES + "\n" + RAIN_AND_CALENDAR_RULES[case]))
    ours = _quiet(simulate, _quiet(read_inp, path))
    ref, swmm_actions = swmm_run(path, tmp_path)
    assert_agrees(ours, ref)
    assert len(ours.control_actions) >= 5
    assert_same_actions(ours.control_actions, swmm_actions, tolerance_h=0.01)


def test_a_controlled_run_is_the_same_with_progress_reports_and_in_an_ensemble():
    from sim.stormwater.model import simulate_ensemble

    model = _quiet(parse_inp, TANK_MODEL.format(extra_options="", controls=TANK_RULES))
    plain = _quiet(simulate, model)
    seen = []
    watched = simulate(model, progress=lambda fraction, message: seen.append(fraction))
    batch = simulate_ensemble([model, model], workers=2)
    assert seen[0] == 0.0 and seen[-1] == 1.0
    for other in (watched, *batch):
        assert other.control_actions == plain.control_actions
        assert other.value("outfall_volume_m3") == plain.value("outfall_volume_m3")


MODULATED = {
    # the gate opens with the tank's depth along a CONTROL curve (depth m -> open fraction)
    "curve_gate": (PUMP_RULES + "\nRULE MOD\nIF NODE TANK DEPTH >= 0\nTHEN ORIFICE OR1 SETTING = CURVE GC\n",
                   "GC Control 0 0\nGC 1 0\nGC 2 0.5\nGC 4 1\n", ""),
    # the pump's speed follows a time series; it empties the wet well, as far as water comes in
    "series_pump": ("RULE TS\nIF SIMULATION TIME > 0\nTHEN PUMP P1 SETTING = TIMESERIES PS\n", "",
                    "PS 0:00 0\nPS 2:00 1\nPS 4:00 0.3\nPS 8:00 1\n"),
    # PID: the gate holds its own flow near 0.12 m3/s; a reverse-acting pump holds the wet well near 1 m
    "pid_gate": (PUMP_RULES + "\nRULE FLOW\nIF LINK OR1 FLOW <> 0.12\nTHEN ORIFICE OR1 SETTING = PID 0.3 5 0\n", "", ""),
    "pid_pump": ("RULE WELL\nIF NODE WW DEPTH <> 1.0\nTHEN PUMP P1 SETTING = PID -0.3 2 0\n", "", ""),
    # a pump open for more than 20 min slows to half speed (TIMEOPEN, higher priority)
    "time_open": (TANK_RULES + "\nRULE LONG\nIF PUMP P1 TIMEOPEN > 0:20\nTHEN PUMP P1 SETTING = 0.5\nPRIORITY 3\n",
                  "", ""),
}


@pytest.mark.parametrize("case", sorted(MODULATED))
def test_modulated_and_pid_settings_and_open_times_agree_with_swmm(case, tmp_path):
    rules, curves, series = MODULATED[case]
    text = TANK_MODEL.format(extra_options="", controls="[CONTROLS]\n" + rules.replace("[CONTROLS]\n", ""))
    text = text.replace("[CURVES]\n", "[CURVES]\n" + curves).replace("[TIMESERIES]\n", "[TIMESERIES]\n" + series)
    path = tmp_path / f"{case}.inp"
    path.write_text(text)
    model = _quiet(read_inp, path)
    assert _quiet(parse_inp, write_inp(model)).controls.rules == model.controls.rules
    ours = _quiet(simulate, model)
    ref, swmm_actions = swmm_run(path, tmp_path)
    assert_agrees(ours, ref)
    # modulated changes go unreported, as in SWMM; the others as SWMM's
    assert_same_actions(ours.control_actions, swmm_actions, tolerance_h=0.01)


def test_named_variables_and_expressions_agree_with_swmm(tmp_path):
    # SWMM 5.2's VARIABLE and EXPRESSION: the pump runs on a weighted sum of the two storage depths
    rules = """[CONTROLS]
VARIABLE DW = NODE WW DEPTH
VARIABLE DT = NODE TANK DEPTH
EXPRESSION LOAD = DW + 0.5 * DT ^ 2 - 0.1 * ABS(DT - DW)

RULE E_ON
IF LOAD > 2.2
THEN PUMP P1 STATUS = ON

RULE E_OFF
IF LOAD < 0.8
AND DT < 2
THEN PUMP P1 STATUS = OFF
""" + TANK_RULES[TANK_RULES.index("; the tank"):]
    path = tmp_path / "expressions.inp"
    path.write_text(TANK_MODEL.format(extra_options="", controls=rules))
    model = _quiet(read_inp, path)
    load = model.controls.rules[0].premises[0].lhs
    assert (load.obj, load.formula) == ("EXPRESSION", "DW + 0.5 * DT ** 2 - 0.1 * ABS(DT - DW)")
    again = _quiet(parse_inp, write_inp(model))
    assert again.controls.rules == model.controls.rules
    ours = _quiet(simulate, model)
    ref, swmm_actions = swmm_run(path, tmp_path)
    assert_agrees(ours, ref)
    assert len(ours.control_actions) >= 6
    assert_same_actions(ours.control_actions, swmm_actions, tolerance_h=0.01)


def test_a_bad_expression_is_refused_by_name():
    with pytest.raises(StormwaterInputError, match=r"EXPRESSION X = DW \+ __import__"):
        _quiet(parse_inp, STORAGE_PUMP.read_text() + "\n[CONTROLS]\nVARIABLE DW = NODE J2 DEPTH\n"
                          "EXPRESSION X = DW + __import__(1)\n")
