"""twin.indicators: the indicator data file, target scoring, the static indicators of the sample
community on every state, engine adapters (missing, failing, cached) and the JSON contract."""
import contextlib
import io
import json
import sys
import types

import numpy as np
import pytest

from sim.result import Metric, Result
from twin.cli import SAMPLE_PROJECT, main
from twin.engine_cache import Runs
from twin.indicators import IndicatorError, load_definitions, passes, scorecard
from twin.project import load_project

SIX = {"complete_functions", "beautiful_environment", "convenient_travel", "green_low_carbon",
       "safety_resilience", "smart_governance"}


def test_definitions_cover_the_six_standards():
    standards, indicators = load_definitions()
    assert {s.id for s in standards} == SIX
    assert {i.standard for i in indicators} == SIX
    for indicator in indicators:
        assert indicator.name_zh and indicator.name_en and indicator.unit and indicator.target_source


def test_bad_definition_names_the_row_and_field(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[[standard]]\nid = "s"\nname_zh = "s"\nname_en = "s"\n[[indicator]]\nid = "x"\nstandard = "s"\n')
    with pytest.raises(IndicatorError, match=r"indicator\[0\] \(x\): missing name_zh"):
        load_definitions(path)


def test_params_that_do_not_fit_the_method_are_refused(tmp_path):
    from twin.indicators import DEFINITIONS

    text = DEFINITIONS.read_text(encoding="utf-8").replace('params = { service = "kindergarten", radius_m = 300.0 }',
                                                           'params = { service = "kindergarten", radius = 300.0 }')
    path = tmp_path / "typo.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(IndicatorError, match=r"walk_kindergarten_5min\): params do not fit method walk_share"):
        load_definitions(path)


def test_a_negative_resolution_is_refused(tmp_path):
    from twin.indicators import DEFINITIONS

    text = DEFINITIONS.read_text(encoding="utf-8").replace("resolution = 1.0", "resolution = -1.0")
    path = tmp_path / "resolution.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(IndicatorError, match=r"evacuation_time\): target resolution must be a number ≥ 0, not -1.0"):
        load_definitions(path)


def test_relative_and_absolute_targets():
    _, indicators = load_definitions()
    by_id = {i.id: i for i in indicators}
    fire = by_id["fire_lanes_clear"]  # >= 100 %
    assert passes(fire, 100.0, 70.0, is_baseline=False) == (True, None)
    assert passes(fire, 99.9, 70.0, is_baseline=False)[0] is False
    evacuation = by_id["evacuation_time"]  # not worse than the baseline, lower is better
    assert passes(evacuation, 610.0, 600.0, is_baseline=False)[0] is False
    assert passes(evacuation, 600.0, 600.0, is_baseline=False)[0] is True
    assert passes(evacuation, 600.0, 600.0, is_baseline=True)[0] is None
    # resolved to the second: 0.6 s longer is no change, 1 s longer is worse
    assert passes(evacuation, 600.6, 600.0, is_baseline=False)[0] is True
    assert passes(evacuation, 601.0, 600.0, is_baseline=False)[0] is False
    pipes = by_id["storm_pipes_renewed"]  # strictly better than the baseline
    assert passes(pipes, 0.0, 0.0, is_baseline=False)[0] is False
    assert passes(by_id["worst_junction_los"], "E", None, is_baseline=True)[0] is False


@pytest.fixture(scope="module")
def sample_json():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["indicators", str(SAMPLE_PROJECT), "--engines", "none", "--json"])
    assert status == 0
    return {row["id"]: row for row in json.loads(out.getvalue())}


def test_json_contract(sample_json):
    for row in sample_json.values():
        assert {"id", "standard", "name_zh", "name_en", "unit", "target", "values"} <= row.keys()
        assert set(row["values"]) == {"baseline", "proposal_a", "proposal_b"}
        for cell in row["values"].values():
            assert {"value", "passed"} <= cell.keys()
            if cell["value"] is None:
                assert cell["note"].startswith(("not computed: ", "not declared"))
    assert sample_json["annual_runoff_control_rate"]["values"]["baseline"]["note"] == \
        "not computed: stormwater runs not selected (--engines)"


def test_static_indicators_move_the_intended_way(sample_json):
    def v(indicator, state):
        return sample_json[indicator]["values"][state]["value"]

    # proposal A clears informal parking off the 4.5 m fire lanes: every fire lane is clear again
    assert v("fire_lanes_clear", "baseline") < 100.0 and v("fire_lanes_clear", "proposal_a") == pytest.approx(100.0)
    # proposal A removes all 8 illegal structures (96 m²); B keeps them
    assert (v("illegal_structures_count", "baseline"), v("illegal_structures_count", "proposal_a")) == (8, 0)
    assert sample_json["illegal_structures_area"]["values"]["proposal_a"]["change"] == pytest.approx(-96.0, abs=0.5)
    # A separates the combined sewers and adds elevators; its new east gate shortens walks to the supermarket
    assert v("rain_sewage_separated", "proposal_a") == pytest.approx(100.0)
    assert v("step_free_dwellings", "proposal_a") > v("step_free_dwellings", "baseline") == 0.0
    assert v("walk_supermarket_15min", "proposal_a") > v("walk_supermarket_15min", "baseline")
    # A's new elderly service point in the block farthest from the station: 52 % -> 86 % within 300 m
    assert v("walk_elderly_station_5min", "baseline") == pytest.approx(52.3, abs=0.1)
    assert v("walk_elderly_station_5min", "proposal_a") == pytest.approx(85.5, abs=0.1)
    # B's new 2,625 m² community centre adds to the 800 m² one
    assert v("service_centre_floor_area", "proposal_b") == pytest.approx(3425.0)
    assert v("parking_per_household", "proposal_b") > v("parking_per_household", "baseline")
    # the clinic stands 600 m west of the site: beyond 500 m for everyone (walks of 843–1,241 m)
    assert v("walk_clinic_10min", "baseline") == 0.0


def _fake_engine(monkeypatch, name, run_state):
    module = types.ModuleType(f"twin.commands.{name}")
    if run_state is not None:
        module.run_state = run_state
    monkeypatch.setitem(sys.modules, f"twin.commands.{name}", module)


def _control_rate_row(card, which="annual_runoff_control_rate"):
    return next(r for r in card["indicators"] if r["id"] == which)


def test_missing_engine_is_not_computed_never_invented(monkeypatch):
    project = load_project(SAMPLE_PROJECT)
    _fake_engine(monkeypatch, "stormwater", None)
    card = scorecard(project, states=["baseline"], engines={"stormwater"})
    cell = _control_rate_row(card)["values"]["baseline"]
    assert cell["value"] is None and cell["note"] == "not computed: stormwater engine not available in this build (twin.commands.stormwater has no run_state)"


def test_failing_engine_says_why(monkeypatch):
    def run_state(project, state, *, progress=None):
        raise ValueError("no outfall reachable from manhole M1")

    _fake_engine(monkeypatch, "stormwater", run_state)
    card = scorecard(load_project(SAMPLE_PROJECT), states=["baseline"], engines={"stormwater"})
    assert _control_rate_row(card, "design_storm_control_rate")["values"]["baseline"]["note"] == \
        "not computed: stormwater engine failed: ValueError: no outfall reachable from manhole M1"
    # the annual rate needs a run over the rain record, which this engine cannot do
    assert _control_rate_row(card)["values"]["baseline"]["note"] == \
        "not computed: stormwater engine's run_state takes no series argument"


def test_engine_runs_are_cached_by_input(monkeypatch):
    calls = []

    def run_state(project, state, *, progress=None, storm="P3", series=None):
        calls.append((state, project.settings.get("storm_return_period_years"), storm, series is not None))
        rate = {"baseline": 0.62, "proposal_a": 0.81}[state] if series else 0.3
        return Result(engine="sim.stormwater", engine_version="test", metrics={
            "runoff_control_rate": Metric(value=rate, unit="1", meaning="fraction of the rain retained")},
            frames={"times_s": np.zeros(3)})

    _fake_engine(monkeypatch, "stormwater", run_state)
    project = load_project(SAMPLE_PROJECT)
    card = scorecard(project, states=["baseline", "proposal_a"], engines={"stormwater"})
    row = _control_rate_row(card)
    # a 0–1 fraction from the engine is shown in percent; A passes the 75 % target, the baseline fails
    assert row["values"]["baseline"] == {**row["values"]["baseline"], "value": 62.0, "passed": False}
    assert row["values"]["proposal_a"]["value"] == pytest.approx(81.0) and row["values"]["proposal_a"]["passed"]
    assert "sim.stormwater test on proposal_a, run " in row["values"]["proposal_a"]["source"]
    assert "rain_synthetic_10y.csv" in row["values"]["proposal_a"]["source"]
    # the rain record and the 50-year storm are more runs per state, asked for by argument (and setting)
    assert sorted(calls) == [(state, rp, storm, series) for state in ("baseline", "proposal_a")
                             for rp, storm, series in ((3, "P3", False), (3, "P3", True), (50, "P50", False))]
    calls.clear()
    runs = Runs(project, engines={"stormwater"})
    again = scorecard(project, states=["baseline", "proposal_a"], engines={"stormwater"}, runs=runs)
    assert calls == [] and all(entry["cached"] for entry in runs.provenance())
    assert _control_rate_row(again)["values"]["proposal_a"]["value"] == pytest.approx(81.0)


def test_text_table_names_every_standard_and_the_reasons(capsys):
    assert main(["indicators", str(SAMPLE_PROJECT), "--engines", "none", "--state", "proposal_a"]) == 0
    out = capsys.readouterr().out
    for heading in ("Complete functions / 功能完善", "Smart governance / 智慧治理"):
        assert heading in out
    # proposal A clears the fire lanes: 100 %, passed
    assert any(line.startswith("  Fire lanes at least 4 m wide") and "100.0 % ✓" in line for line in out.splitlines())
    assert "  not computed: traffic runs not selected (--engines)" in out
    # long names are wrapped whole, the values on their last line
    assert "  Residents within a 5-minute walk (300 m) of an elderly\n  service station " in out


def test_unknown_engine_is_a_clear_error(capsys):
    assert main(["indicators", str(SAMPLE_PROJECT), "--engines", "traffic,weather"]) == 2
    assert "error: --engines: unknown weather" in capsys.readouterr().err


def test_an_unreached_building_fails_with_a_null_and_a_reason(monkeypatch):
    def run_state(project, state, *, progress=None):
        return Result(engine="sim.traffic", engine_version="test", metrics={
            "emergency_access_max_s": Metric(value=float("inf"), unit="s", meaning="longest access time")})

    _fake_engine(monkeypatch, "traffic", run_state)
    card = scorecard(load_project(SAMPLE_PROJECT), states=["baseline"], engines={"traffic"})
    cell = next(r for r in card["indicators"] if r["id"] == "emergency_access_worst")["values"]["baseline"]
    assert cell["value"] is None and cell["passed"] is False and "infinity" in cell["note"]
    json.dumps(card["indicators"], allow_nan=False)  # the JSON stays strict


def _sample_copy(folder, *, governance: str | None = None):
    """The sample project copied into `folder`, its [governance] replaced if given."""
    import shutil

    for item in SAMPLE_PROJECT.iterdir():
        if item.is_file():
            shutil.copy(item, folder / item.name)
    text = (folder / "project.toml").read_text(encoding="utf-8")
    if governance is not None:
        text = text.split("\n[governance]\n")[0] + "\n[governance]\n" + governance
    (folder / "project.toml").write_text(text, encoding="utf-8")
    return folder


def _definitions_of(folder, keep):
    """A data file with only the rows `keep(row text)` accepts (the others would score every state)."""
    import tomllib

    from twin.indicators import DEFINITIONS

    head, *rows = DEFINITIONS.read_text(encoding="utf-8").split("\n[[indicator]]\n")
    path = folder / "some_indicators.toml"
    path.write_text(head + "".join("\n[[indicator]]\n" + row for row in rows if keep(row)), encoding="utf-8")
    assert tomllib.loads(path.read_text(encoding="utf-8"))["indicator"]
    return path


def test_the_sample_declares_its_smart_governance(sample_json):
    rows = {key: row["values"] for key, row in sample_json.items()}
    assert [rows["smart_security"][s]["value"] for s in ("baseline", "proposal_a", "proposal_b")] == [False, True, False]
    assert rows["smart_parking"]["proposal_b"]["passed"] is True


def test_smart_governance_is_read_as_declared(tmp_path):
    _sample_copy(tmp_path, governance='baseline = []\nproposal_a = ["property_information_system", "smart_parking"]\n')
    definitions = _definitions_of(tmp_path, lambda row: 'standard = "smart_governance"' in row)
    card = scorecard(load_project(tmp_path), engines=set(), definitions=definitions)
    rows = {r["id"]: r["values"] for r in card["indicators"]}
    assert rows["smart_parking"]["proposal_a"] == {**rows["smart_parking"]["proposal_a"], "value": True, "passed": True}
    assert rows["smart_security"]["proposal_a"]["value"] is False and rows["smart_security"]["baseline"]["passed"] is False
    assert rows["smart_parking"]["proposal_b"]["value"] is None
    assert rows["smart_parking"]["proposal_b"]["note"] == "not declared: [governance] has no entry for state proposal_b"
    assert card["index"]["proposal_a"]["smart_governance"] == {"index": 50.0, "passed": 2, "decided": 4}


def test_annual_control_rate_runs_over_the_declared_rain_record(tmp_path):
    """A continuous run over the project's rain record (here three wet days of a fortnight, so the
    test stays short): a fraction of the rain between 0 and 1, higher where proposal A's rain
    gardens, permeable paving and tanks hold water; no record declared → not computed."""
    record = tmp_path / "rain.csv"
    rows = ["time,depth_mm", "2020-07-01 00:00,0.0"]
    for day, depths in ((2, [3.0, 9.0, 14.0, 6.0, 2.0]), (6, [1.5, 4.0, 2.5]), (10, [8.0, 22.0, 31.0, 12.0, 5.0, 2.0])):
        rows += [f"2020-07-{day:02d} {12 + h:02d}:00,{d}" for h, d in enumerate(depths)]
    rows.append("2020-07-14 23:00,0.0")
    record.write_text("\n".join(rows) + "\n", encoding="utf-8")
    _sample_copy(tmp_path)
    toml = tmp_path / "project.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('"rain_synthetic_10y.csv"', '"rain.csv"'), encoding="utf-8")
    definitions = _definitions_of(tmp_path, lambda row: 'id = "annual_runoff_control_rate"' in row)
    card = scorecard(load_project(tmp_path), states=["baseline", "proposal_a"], engines={"stormwater"},
                     definitions=definitions, runs=Runs(load_project(tmp_path), engines={"stormwater"}, cache=False))
    values = card["indicators"][0]["values"]
    base, after = values["baseline"]["value"], values["proposal_a"]["value"]
    assert 10.0 < base < 90.0, values  # percent of 122 mm: the pervious ground and depressions keep some
    assert after > base + 2.0, values
    assert "rain.csv" in values["proposal_a"]["source"]

    toml.write_text(toml.read_text(encoding="utf-8").replace('stormwater_rain_series = "rain.csv"\n', ""), encoding="utf-8")
    card = scorecard(load_project(tmp_path), states=["baseline"], engines={"stormwater"}, definitions=definitions)
    cell = card["indicators"][0]["values"]["baseline"]
    assert cell["value"] is None and "settings] has no stormwater_rain_series" in cell["note"]
