"""sim.stormwater.rainfall: the Chicago storm against its intensity formula, rain files, the
design depth of a control rate on a hand-computed series, the synthetic record, and SWMM reading
our [TIMESERIES] back."""
import math
from datetime import datetime, timedelta

import numpy as np
import pytest

from sim.stormwater.rainfall import (NORTH_CHINA_TYPICAL, Hyetograph, RainfallError, StormFormula, chicago_storm,
                                     control_rate_of_depth, daily_depths_mm, design_depth_for_control_rate,
                                     read_rain_series, synthetic_series, to_inp_timeseries)


@pytest.mark.parametrize("period, duration, ratio", [(1, 120, 0.4), (3, 120, 0.4), (50, 180, 0.35), (5, 60, 0.5)])
def test_chicago_total_is_the_idf_depth(period, duration, ratio):
    storm = chicago_storm(period, duration_min=duration, peak_ratio=ratio)
    # IDF depth written out by hand from i = A1(1 + C lgP)/(t + b)^n (mm/min) times t.
    f = NORTH_CHINA_TYPICAL
    idf = f.a1_mm_min * (1 + f.c * math.log10(period)) / (duration + f.b_min) ** f.n * duration
    # Interval depths are differences of the exact mass curve: only float rounding separates them.
    assert storm.total_mm == pytest.approx(idf, rel=1e-12)
    assert len(storm.times_s) == duration and storm.interval_s == 60.0
    assert storm.times_s[0] == 0.0 and storm.times_s[-1] == (duration - 1) * 60.0


def test_chicago_peak_sits_at_r_and_every_window_around_it_holds_its_idf_depth():
    storm = chicago_storm(3, duration_min=120, peak_ratio=0.4, interval_min=1)
    peak = int(np.argmax(storm.intensity_mm_h))
    assert peak == 48  # 0.4 × 120 min: the peak is the instant at minute 48, start of interval 48
    assert np.all(np.diff(storm.intensity_mm_h[:peak]) > 0) and np.all(np.diff(storm.intensity_mm_h[peak:]) < 0)
    # The Chicago storm's defining property: the window of length τ around the peak, split
    # 0.4 : 0.6, holds the IDF depth of τ. τ = 20 min → minutes 40–60 (8 before, 12 after).
    window = storm.depths_mm[40:60].sum()
    assert window == pytest.approx(NORTH_CHINA_TYPICAL.depth_mm(20, 3), rel=1e-12)


def test_peak_ratio_ends_and_bad_parameters():
    early = chicago_storm(2, duration_min=60, peak_ratio=0.0)
    assert np.argmax(early.intensity_mm_h) == 0
    late = chicago_storm(2, duration_min=60, peak_ratio=1.0)
    assert np.argmax(late.intensity_mm_h) == 59
    assert early.total_mm == pytest.approx(late.total_mm, rel=1e-12)
    with pytest.raises(RainfallError, match="peak_ratio"):
        chicago_storm(3, peak_ratio=1.5)
    with pytest.raises(RainfallError, match="unknown city"):
        chicago_storm(3, city="atlantis")
    with pytest.raises(RainfallError, match="whole number"):
        chicago_storm(3, duration_min=100, interval_min=7)


def test_stronger_return_period_means_more_rain():
    depths = [chicago_storm(p).total_mm for p in (1, 3, 10, 50)]
    assert depths == sorted(depths)
    # 1 + C lgP scales every intensity: 50-year / 1-year = 1 + 0.811 lg 50
    assert depths[-1] / depths[0] == pytest.approx(1 + 0.811 * math.log10(50), rel=1e-12)
    assert not NORTH_CHINA_TYPICAL.published  # the stand-in set says so


def test_design_depth_on_a_hand_computed_series():
    # Days > 2 mm: 5, 10, 20, 40 (the 1 mm day is left out) → 75 mm. For 10 ≤ D ≤ 20 the
    # captured volume is 5 + 10 + D + D; 60 % of 75 = 45 → D = 15 mm.
    daily = [0.0, 1.0, 5.0, 10.0, 20.0, 40.0]
    assert design_depth_for_control_rate(daily, 0.60) == pytest.approx(15.0, abs=1e-12)
    # Below the smallest day: 4 D = 0.2 × 75 → D = 3.75 mm.
    assert design_depth_for_control_rate(daily, 0.20) == pytest.approx(3.75, abs=1e-12)
    # The inverse checks the forward function.
    assert control_rate_of_depth(daily, 15.0) == pytest.approx(0.60, abs=1e-12)
    with pytest.raises(RainfallError, match="between 0 and 1"):
        design_depth_for_control_rate(daily, 1.2)


def test_design_depth_from_an_hourly_hyetograph_groups_calendar_days():
    # 2 days of hours starting at 22:00: 3 mm at 22:00 (day 1), 10 mm at 01:00 (day 2).
    intensity = np.zeros(6)
    intensity[0], intensity[3] = 3.0, 10.0
    h = Hyetograph(times_s=np.arange(6) * 3600.0, intensity_mm_h=intensity, interval_s=3600.0, name="t",
                   start=datetime(2020, 7, 1, 22, 0))
    assert daily_depths_mm(h).tolist() == [3.0, 10.0]
    # Days 3 and 10 mm: 0.5 × 13 = 6.5 = 2 D for D ≤ 3 is too much (max 6), so 3 + D = 6.5 → D = 3.5.
    assert design_depth_for_control_rate(h, 0.5) == pytest.approx(3.5, abs=1e-12)


def test_swmm_rain_file_and_csv_read_to_the_same_hyetograph(tmp_path):
    dat = tmp_path / "gauge.dat"
    dat.write_text("; station 1, volume (mm) per hour\n"
                   "STA01 2020 07 01 10 00 2.5\nSTA01 2020 07 01 11 00 4.0\nSTA01 2020 07 01 14 00 1.0\n")
    csv = tmp_path / "gauge.csv"
    csv.write_text("time,depth_mm\n2020-07-01 10:00,2.5\n2020-07-01 11:00,4.0\n2020-07-01 14:00,1.0\n")
    a, b = read_rain_series(dat), read_rain_series(csv)
    assert a.interval_s == b.interval_s == 3600.0 and a.start == b.start == datetime(2020, 7, 1, 10)
    assert a.intensity_mm_h.tolist() == b.intensity_mm_h.tolist() == [2.5, 4.0, 0.0, 0.0, 1.0]  # gaps are dry
    assert a.total_mm == pytest.approx(7.5)
    intensity_csv = tmp_path / "i.csv"
    intensity_csv.write_text("time,intensity_mm_h\n2020-07-01T10:00,60\n2020-07-01T10:05,30\n")
    c = read_rain_series(intensity_csv)
    assert c.interval_s == 300.0 and c.total_mm == pytest.approx(5.0 + 2.5)


def test_bad_rain_files_name_the_line(tmp_path):
    bad = tmp_path / "bad.dat"
    bad.write_text("STA01 2020 07 01 10 00 2.5\nSTA01 2020 07 01 11\n")
    with pytest.raises(RainfallError, match=r"bad.dat: line 2"):
        read_rain_series(bad)
    neg = tmp_path / "neg.csv"
    neg.write_text("time,depth_mm\n2020-07-01 10:00,-1\n")
    with pytest.raises(RainfallError, match="≥ 0"):
        read_rain_series(neg)
    with pytest.raises(RainfallError, match="cannot read"):
        read_rain_series(tmp_path / "missing.csv")
    header = tmp_path / "h.csv"
    header.write_text("when,mm\n2020-07-01 10:00,1\n")
    with pytest.raises(RainfallError, match="header"):
        read_rain_series(header)


def test_synthetic_series_is_seeded_north_china_like():
    a, b, c = synthetic_series(10, seed=0), synthetic_series(10, seed=0), synthetic_series(10, seed=1)
    assert np.array_equal(a.intensity_mm_h, b.intensity_mm_h) and not np.array_equal(a.intensity_mm_h, c.intensity_mm_h)
    assert a.interval_s == 3600.0 and a.start == datetime(2011, 1, 1) and "synthetic" in a.name
    # Scaled to 670 mm/yr before rounding each hour to 0.1 mm (a gauge's resolution); the
    # rounding of a few thousand wet hours moves the 10-year total by a few mm at most.
    assert a.total_mm == pytest.approx(6700.0, abs=20.0)
    months = np.array([(a.start + timedelta(seconds=float(t))).month for t in a.times_s])
    summer = a.depths_mm[(months >= 6) & (months <= 8)].sum() / a.total_mm
    assert 0.5 < summer < 0.75  # north-China monsoon: about two thirds of the rain in June–August
    daily = daily_depths_mm(a)
    wet_days_per_year = (daily >= 0.1).sum() / 10
    assert 50 < wet_days_per_year < 90
    # The 75 % design depth of north-China cities lies around 15–30 mm (Sponge City Guide 2014, zone III/IV map).
    assert 15.0 < design_depth_for_control_rate(a, 0.75) < 30.0


def swmm_rainfall_mm(h: Hyetograph, path) -> float:
    """Precipitation SWMM (swmm-toolkit) reads from our [TIMESERIES] on one 1-ha impervious
    subcatchment, from its own runoff continuity (pyswmm gives it as mm over the area)."""
    from pyswmm import Simulation, SystemStats

    end = h.start + timedelta(seconds=h.duration_s + 3600)
    interval = int(h.interval_s)
    path.write_text(f"""[OPTIONS]
FLOW_UNITS CMS
INFILTRATION HORTON
IGNORE_ROUTING YES
START_DATE {h.start:%m/%d/%Y}
START_TIME {h.start:%H:%M:%S}
END_DATE {end:%m/%d/%Y}
END_TIME {end:%H:%M:%S}
WET_STEP {interval // 3600:02d}:{interval % 3600 // 60:02d}:00
DRY_STEP 01:00:00
REPORT_STEP 24:00:00
[RAINGAGES]
RG INTENSITY {interval // 3600}:{interval % 3600 // 60:02d} 1.0 TIMESERIES R
[SUBCATCHMENTS]
S1 RG OUT 1.0 100 100 1 0
[SUBAREAS]
S1 0.012 0.1 0 0 100 OUTLET
[INFILTRATION]
S1 76.2 6.35 4 7 0
[OUTFALLS]
OUT 0 FREE
[TIMESERIES]
{to_inp_timeseries(h, "R")}""")
    with Simulation(str(path)) as sim:
        sim.step_advance(30 * 86400)
        for _ in sim:
            pass
        return SystemStats(sim).runoff_stats["rainfall"]


def test_inp_timeseries_runs_in_swmm_with_the_storm_depth(tmp_path):
    storm = chicago_storm(3, duration_min=120, peak_ratio=0.4)
    # 4-decimal intensities in the file round each minute's depth by < 1e-6 mm.
    assert swmm_rainfall_mm(storm, tmp_path / "storm.inp") == pytest.approx(storm.total_mm, rel=1e-5)


def test_a_year_of_gappy_hourly_rain_reaches_swmm_whole(tmp_path):
    """Only wet hours are written (each spell closed by a zero): SWMM must read the year's
    total exactly, i.e. treat unlisted hours as dry and hold each value for one hour."""
    year = synthetic_series(1, seed=3)
    assert swmm_rainfall_mm(year, tmp_path / "year.inp") == pytest.approx(year.total_mm, rel=1e-6)


def test_timeseries_lines_close_each_wet_spell():
    h = Hyetograph(times_s=np.arange(5) * 60.0, intensity_mm_h=np.array([0.0, 6.0, 0.0, 0.0, 0.0]), interval_s=60.0,
                   name="t", start=datetime(2020, 1, 1))
    lines = to_inp_timeseries(h, "R").splitlines()
    assert lines == ["R 01/01/2020 00:00:00 0.0000", "R 01/01/2020 00:01:00 6.0000", "R 01/01/2020 00:02:00 0.0000",
                     "R 01/01/2020 00:04:00 0.0000", "R 01/01/2020 00:05:00 0.0000"]
    with pytest.raises(RainfallError, match="spaces"):
        to_inp_timeseries(h, "my storm")
