"""What makes design storms fast must not change what they compute: SWMM's variable-step rule against a
pure-Python reference, and the longer steps of an event's tail against runs that never lengthen them."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sim.stormwater import kernels as K
from sim.stormwater.model import Settings, simulate

FT = 0.3048


def _reference_step(route_step, courant, min_step, links, nodes, dt_last):
    """SWMM 5.2's getVariableStep as its manual and dynwave.c describe it, written plainly.

    links: (flow m3/s, barrels, mid area m2, volume m3, mid depth m, length m, diameter m) of circular
    conduits; nodes: (depth now, depth a step ago, crown depth) of junctions.
    """
    dt = route_step
    for q, barrels, a_mid, volume, y_mid, _length, d in links:
        qb = abs(q) / barrels
        if qb <= 1e-4 * FT ** 3 or a_mid <= 1e-4 * FT ** 2 or y_mid <= 1e-4 or d - y_mid <= 1e-4 * FT:
            continue   # no flow, no water, or a full pipe (no free surface: Froude number 0)
        hyd_depth = K.xs_area(K.SHAPE_CIRCULAR, d, 0, 0, 0, y_mid) / K.xs_width(K.SHAPE_CIRCULAR, d, 0, 0, 0, y_mid)
        froude = qb / a_mid / math.sqrt(K.G * hyd_depth)
        if froude <= 0.01:
            continue
        dt = min(dt, volume / barrels / qb * froude / (1 + froude) * courant)
    for y, y_before, crown in nodes:
        if y <= 1e-4 * FT or y + 1e-4 * FT >= crown:
            continue
        rate = abs(y - y_before) / dt_last
        if rate >= 1e-4 * FT:
            dt = min(dt, 0.25 * crown / rate)
    return min(math.floor(max(dt, min_step) * 1000) / 1000, route_step)


def _kernel_step(route_step, courant, min_step, links, nodes, dt_last, sub_share=0, sub=None):
    """The kernel's step; sub_share 0: SWMM's rule; `sub` (a list) receives the links' sub-step counts."""
    links = np.array(links, dtype=float).reshape(-1, 7)
    nodes = np.array(nodes, dtype=float).reshape(-1, 3)
    n_link, n_node = len(links), len(nodes)
    zeros = np.zeros(n_link)
    link_sub = np.zeros(n_link)
    dt = K.variable_step(route_step, courant, min_step, np.full(n_link, K.LINK_CONDUIT, dtype=np.int64),
                           links[:, 0].copy(), links[:, 1].copy(), links[:, 2].copy(), links[:, 3].copy(),
                           links[:, 4].copy(), links[:, 5].copy(), np.full(n_link, K.SHAPE_CIRCULAR, dtype=np.int64),
                           links[:, 6].copy(), zeros, zeros, zeros, np.full(n_node, K.NODE_JUNCTION, dtype=np.int64),
                           nodes[:, 0].copy(), nodes[:, 1].copy(), nodes[:, 2].copy(), dt_last, link_sub, sub_share,
                         np.empty(n_link + 1))
    if sub is not None:
        sub.extend(int(m) for m in link_sub)
    return dt


def _conduit(q, y_mid, d=0.6, length=40.0, barrels=1):
    a = K.xs_area(K.SHAPE_CIRCULAR, d, 0, 0, 0, y_mid)
    return (q, barrels, a, a * length * barrels, y_mid, length, d)


@pytest.mark.parametrize("links, nodes, expected", [
    # a 40 m pipe half full carrying 0.2 m3/s: v = 1.41 m/s, c = 1.52 m/s, 0.75 x 40 / 2.93 = 10.2 s > 5 s
    ([_conduit(0.2, 0.3)], [], 5.0),
    # a short one (8 m) at the same flow sets the step: 0.75 x 8 / 2.93 = 2.045 s
    ([_conduit(0.2, 0.3), _conduit(0.2, 0.3, length=8.0)], [], 2.045),
    # the same short pipe with a barely moving backwater (Froude number below 0.01) is not looked at
    ([_conduit(0.2, 0.3), _conduit(0.002, 0.55, length=8.0)], [], 5.0),
    # a full pipe has no free-surface wave: no limit from it, however short
    ([_conduit(0.9, 0.6, length=8.0)], [], 5.0),
    # a manhole rising 2 cm per 1 s step under a 1 m crown: a quarter of the crown in 12.5 s; 6 cm: 4.17 s
    ([], [(0.30, 0.28, 1.0)], 5.0),
    ([], [(0.30, 0.24, 1.0)], 4.166),
    # surcharged (above the crown) or dry nodes are not looked at; the step never goes below the minimum
    ([], [(1.20, 0.90, 1.0), (0.0, 0.3, 1.0)], 5.0),
    ([_conduit(2.0, 0.3, length=1.0)], [], 0.5),
])
def test_variable_step_follows_swmms_rule(links, nodes, expected):
    ours = _kernel_step(5.0, 0.75, 0.5, links, nodes, 1.0)
    assert ours == pytest.approx(_reference_step(5.0, 0.75, 0.5, links, nodes, 1.0), abs=1e-9)
    assert ours == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize("links, expected, sub_expected", [
    # the short pipe (2.045 s) sub-steps: the 40 m pipe (10.2 s) and the routing step (5 s) set the step
    ([_conduit(0.2, 0.3), _conduit(0.2, 0.3, length=8.0)], 5.0, [1, 3]),
    # a 1 m pipe (0.256 s at 2.93 m/s) holds the network to at most eight of its steps: 2.045 s
    ([_conduit(0.2, 0.3), _conduit(0.2, 0.3, length=1.0)], 2.045, [1, 8]),
    # two short pipes in a network of two: only one (one in 50, at least one) may sub-step
    ([_conduit(0.2, 0.3, length=8.0), _conduit(0.2, 0.3, length=6.0)], 2.045, [1, 2]),
])
def test_the_shortest_conduits_take_sub_steps_instead_of_holding_the_network(links, expected, sub_expected):
    sub = []
    assert _kernel_step(5.0, 0.75, 0.5, links, [], 1.0, sub_share=50, sub=sub) == pytest.approx(expected, abs=0.01)
    assert sub == sub_expected


def _one_conduit(dt, y1, y2, q_old, a_mid_old, sub=1, y_o1=None, y_o2=None, first=True, q_last=None):
    fe = np.full((1, 3), -1.0)
    tab = np.zeros((1, 64))
    # z1, z2, shape, d1..d4, n, L, slope, barrels, table row, s_max, qc_max, d^(4/3), 1/d, 1/L, 1/barrels, sqrt(S)/n
    lk = (0.0, 0.0, K.SHAPE_CIRCULAR, 1.5, 0.0, 0.0, 0.0, 0.013, 5.0, 0.01, 1, 0, 1.0, 1.0, 1.5 ** (4.0 / 3.0),
          1.0 / 1.5, 1.0 / 5.0, 1.0, 0.01 ** 0.5 / 0.013)
    return K.conduit_flow(dt, 0, first, y1, y2, 10.0, 9.95, False, False, lk, q_old,
                          q_old if q_last is None else q_last, a_mid_old, 3, 1, False, fe, tab, tab, sub,
                          y1 if y_o1 is None else y_o1, y2 if y_o2 is None else y_o2)


def test_sub_steps_of_a_conduit_are_its_own_steps_chained():
    # End depths held: m sub-steps of dt/m are m single steps of dt/m, each from the last one's flow and area.
    q, am = 0.3, 0.2
    for _ in range(4):
        q, _, am, *_ = _one_conduit(0.5, 0.6, 0.5, q, am)
    q4, dqdh4, am4, *_ = _one_conduit(2.0, 0.6, 0.5, 0.3, 0.2, sub=4)
    assert q4 == pytest.approx(q, rel=1e-12) and am4 == pytest.approx(am, rel=1e-12)
    # and they are more accurate than one step of 2 s on this 5 m pipe (Courant time ~0.6 s): against 40 steps of 0.05 s
    q_one, *_ = _one_conduit(2.0, 0.6, 0.5, 0.3, 0.2)
    q_fine, a_fine = 0.3, 0.2
    for _ in range(40):
        q_fine, _, a_fine, *_ = _one_conduit(0.05, 0.6, 0.5, q_fine, a_fine)
    assert abs(q4 - q_fine) < 0.5 * abs(q_one - q_fine)


@pytest.fixture(scope="module")
def baseline_p3():
    from twin.commands.stormwater import build_state_model, project_rain
    from twin.project import load_project, load_state

    project = load_project(Path(__file__).resolve().parents[2] / "ifc_models" / "sample_community")
    return build_state_model(load_state(project, "baseline"), project_rain(project), continuous=False)[0]


@pytest.mark.parametrize("routing", ["KINWAVE", "DYNWAVE"])
def test_longer_steps_in_the_tail_of_the_storm_change_no_result(baseline_p3, routing):
    # After the rain, once no manhole floods and every flow is below 1 % of the storm's peak inflow, steps
    # grow to the runoff step (60 s here; Courant-limited in dynamic wave). Against the same run held to
    # ROUTING_STEP (5 s) throughout: the same volumes, peak and flooding (0.1 %; the tail carries under 2 %
    # of the outflow), continuity as good, and fewer steps.
    def run(fraction):
        return simulate(baseline_p3, Settings(routing=routing, keep_frames=False, tail_step_fraction=fraction))

    fast, full = run(0.01), run(0.0)
    for key in ("outfall_volume_m3", "peak_outfall_flow_m3s", "flooding_volume_m3", "runoff_volume_m3"):
        assert fast.value(key) == pytest.approx(full.value(key), rel=1e-3), key
    assert abs(fast.value("routing_continuity_error_pct")) < max(0.1, 1.5 * abs(full.value("routing_continuity_error_pct")))
    assert fast.value("routing_steps") < 0.9 * full.value("routing_steps")


def test_circular_sections_from_the_table_are_the_circle():
    # Area, hydraulic radius and its powers of a circular pipe come from CIRC_TABLE: against the circle's
    # formulas (segment of angle theta = 2 acos(1 - 2y/D)), from 1 % of the diameter to just below the crown.
    d = 0.6
    for x in np.concatenate([np.linspace(0.01, 0.99, 997), [0.999, 0.99999]]):
        theta = 2.0 * math.acos(1.0 - 2.0 * x)
        area = d * d / 8.0 * (theta - math.sin(theta))
        radius = area / (d * theta / 2.0)
        a, r = K.xs_area_radius(K.SHAPE_CIRCULAR, d, 0.0, 0.0, 0.0, x * d)
        assert a == pytest.approx(area, rel=2e-5) and r == pytest.approx(radius, rel=2e-5), x
        _, _, t43, t23 = K._circle_row(d, x)
        assert d ** (4.0 / 3.0) * t43 == pytest.approx(radius ** (4.0 / 3.0), rel=3e-5), x
        assert d ** (2.0 / 3.0) * t23 == pytest.approx(radius ** (2.0 / 3.0), rel=3e-5), x
    assert K.xs_area_radius(K.SHAPE_CIRCULAR, d, 0.0, 0.0, 0.0, d) == pytest.approx((math.pi * d * d / 4.0, d / 4.0))


def test_dated_series_times_are_each_points_own_date():
    """A dated rain series is read to seconds from the start with one date conversion per distinct date
    (the ensemble prepares 100 such series): each point still lands at its own date and time."""
    from datetime import datetime

    from sim.stormwater.model import TimeSeries
    from sim.stormwater.prepare import _series_times

    start = datetime(2025, 6, 30, 23, 0)
    ts = TimeSeries(name="R", times_s=(0.0, 1800.0, 3540.0, 0.0, 60.0, 86340.0, 0.0),
                    values=(1, 2, 3, 4, 5, 6, 7),
                    dates=("06/30/2025", "", "", "07/01/2025", "", "", "07/02/2025"))
    want = [datetime(2025, 6, 30, 0, 0, 0), datetime(2025, 6, 30, 0, 30), datetime(2025, 6, 30, 0, 59),
            datetime(2025, 7, 1, 0, 0), datetime(2025, 7, 1, 0, 1), datetime(2025, 7, 1, 23, 59),
            datetime(2025, 7, 2, 0, 0)]
    assert _series_times(ts, start) == [(w - start).total_seconds() for w in want]


def test_section_tables_are_built_once_per_shape_and_shared():
    """The section tables of a shape are computed once in a session and shared by later runs (every
    storm of an ensemble has the same pipes); a different shape still gets its own."""
    from sim.stormwater import prepare as P

    calls = []
    real = K.xs_table

    def counting(*args):
        calls.append(args[0])
        return real(*args)

    kind = np.array([K.LINK_CONDUIT, K.LINK_CONDUIT])
    circ = (np.array([K.SHAPE_CIRCULAR] * 2), np.array([0.6, 1.2]), np.zeros(2), np.zeros(2), np.zeros(2),
            np.array([0.013, 0.013]), np.array([0.01, 0.002]))
    P._XS_ROWS.clear()
    K.xs_table = counting
    try:
        first = P._xs_tables(kind, *circ)
        again = P._xs_tables(kind, *circ)
        box = P._xs_tables(kind, np.array([K.SHAPE_RECT_CLOSED] * 2), np.array([1.0, 1.0]), np.array([2.0, 2.0]),
                           np.zeros(2), np.zeros(2), np.array([0.013, 0.013]), np.array([0.01, 0.01]))
    finally:
        K.xs_table = real
    assert calls == [K.SHAPE_CIRCULAR, K.SHAPE_RECT_CLOSED]   # both circles share one table; the box its own
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], box[0])


def test_bypass_from_the_second_trial_changes_no_result(baseline_p3):
    """A link whose end nodes both moved less than HEAD_TOLERANCE over a step's first trial keeps that
    trial's flow in the second (SWMM starts bypassing at the third: bypass_trial=3). Most steps end
    after two trials, so this saves most of the second trial's conduit solves; against SWMM's rule on the
    P3 storm the same volumes, peak and flooding within 0.2 % (the settled nodes moved less than
    HEAD_TOLERANCE, 0.46 mm here), continuity as good; the first trial always solves every link."""
    def run(trial):
        return simulate(baseline_p3, Settings(keep_frames=False, bypass_trial=trial))

    fast, swmm = run(2), run(3)
    for key in ("outfall_volume_m3", "peak_outfall_flow_m3s", "flooding_volume_m3", "runoff_volume_m3"):
        assert fast.value(key) == pytest.approx(swmm.value(key), rel=2e-3), key
    assert abs(fast.value("routing_continuity_error_pct")) < max(0.1, 1.5 * abs(swmm.value("routing_continuity_error_pct")))
    n_cond = sum(1 for c in baseline_p3.conduits)
    steps = fast.value("routing_steps")
    assert swmm.conduit_solves >= 2 * n_cond * swmm.value("routing_steps")   # two full trials a step
    assert n_cond * steps <= fast.conduit_solves < 0.8 * swmm.conduit_solves
    with pytest.raises(ValueError, match="bypass_trial 1"):
        run(1)
