"""Routing against closed forms (Manning) and a pure-Python reference; mass balance; viewer frames."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.optimize import brentq

from sim.stormwater import kernels as K
from sim.stormwater.io import parse_inp
from sim.stormwater.model import Settings, simulate

D, N, LENGTH, DROP = 0.6, 0.013, 200.0, 1.0   # circular pipe: diameter m, Manning n, length m, fall m
Q_FULL = (math.pi * D * D / 4) * (D / 4) ** (2 / 3) * math.sqrt(DROP / LENGTH) / N   # Manning, full bore


def _pipe_model(inflow_m3s: float, routing: str, max_depth: float = 3.0):
    text = f"""[OPTIONS]
FLOW_UNITS CMS
FLOW_ROUTING {routing}
START_DATE 01/01/2020
START_TIME 00:00:00
END_DATE 01/01/2020
END_TIME 03:00:00
REPORT_STEP 00:01:00
ROUTING_STEP 5
VARIABLE_STEP 0.75
[JUNCTIONS]
J1 {10 + DROP} {max_depth} 0 0 0
[OUTFALLS]
O1 10 FREE NO
[CONDUITS]
C1 J1 O1 {LENGTH} {N} 0 0 0 0
[XSECTIONS]
C1 CIRCULAR {D} 0 0 0 1
[INFLOWS]
J1 FLOW "" FLOW 1.0 1.0 {inflow_m3s}
"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return parse_inp(text, source="pipe.inp")


def test_kinematic_pipe_over_capacity_carries_its_full_bore_capacity():
    # Inflow twice the capacity: a kinematic-wave conduit takes at most its full-bore Manning flow
    # (closed form above; SWMM's cap) and the rest floods the junction. Over 3 h the outfall volume is
    # Q_full times the time, less the few minutes the pipe takes to fill (1 %).
    res = simulate(_pipe_model(2 * Q_FULL, "KINWAVE"))
    assert res.value("outfall_volume_m3") == pytest.approx(Q_FULL * 3 * 3600, rel=0.01)
    assert res.series["outfall_flow_m3s"].values[-1] == pytest.approx(Q_FULL, rel=1e-3)
    inflow = res.value("external_inflow_volume_m3")
    out, flood = res.value("outfall_volume_m3"), res.value("flooding_volume_m3")
    assert out + flood == pytest.approx(inflow, rel=5e-3)    # what does not fit floods
    assert abs(res.value("routing_continuity_error_pct")) < 0.5


@pytest.mark.parametrize("routing", ["KINWAVE", "DYNWAVE"])
def test_steady_flow_passes_through_at_normal_depth(routing):
    # Half the capacity, steady: what goes in comes out and the pipe runs at its normal depth (the
    # dynamic wave holds normal flow where the water surface parallels the bed; 3 % covers the
    # drawdown towards the free outfall at the downstream end of the single cell).
    q = 0.5 * Q_FULL
    res = simulate(_pipe_model(q, routing))
    assert res.series["outfall_flow_m3s"].values[-1] == pytest.approx(q, rel=1e-3)
    yn = brentq(lambda y: K.manning_flow(K.SHAPE_CIRCULAR, D, 0, 0, 0, N, DROP / LENGTH, y) - q, 1e-6, 0.93 * D)
    depth = res.frames["node_depth_m"][-1, list(res.frames["node_ids"]).index("J1")]
    assert depth == pytest.approx(yn, rel=0.03)
    # While the empty pipe fills, the node equations do not see the downstream half-pipe's storage:
    # SWMM 5.2's own balance on this very run is -0.60 % (dynamic) / -0.44 % (kinematic); ours the same.
    assert abs(res.value("routing_continuity_error_pct")) < 0.65


def test_dynamic_surcharged_pipe_floods_the_excess():
    # Three times the capacity into a junction only as deep as the pipe (no surcharge allowed): the pipe
    # runs full under the head of its own crown, i.e. at about its full-bore Manning capacity, and the
    # rest overflows. 10 %: with the outlet at critical depth the energy slope is a little above the bed's.
    res = simulate(_pipe_model(3 * Q_FULL, "DYNWAVE", max_depth=D))
    steady_out = res.series["outfall_flow_m3s"].values[-1]
    assert steady_out == pytest.approx(Q_FULL, rel=0.10)
    assert res.value("flooded_nodes") == 1
    assert res.value("outfall_volume_m3") + res.value("flooding_volume_m3") == pytest.approx(
        res.value("external_inflow_volume_m3"), rel=5e-3)


def _kinwave_cell_reference(q_in, q_in_old, a1_old, a2_old, q2_old, dt):
    # Pure-Python SWMM kinematic-wave cell: continuity with weights 0.6 solved for the outlet depth.
    s = DROP / LENGTH

    def area(y):
        th = 2 * math.acos(1 - 2 * y / D)
        return D * D / 8 * (th - math.sin(th))

    def flow(y):
        th = 2 * math.acos(1 - 2 * y / D)
        return area(y) * (area(y) / (D * th / 2)) ** (2 / 3) * math.sqrt(s) / N

    y1 = brentq(lambda y: flow(y) - q_in, 1e-9, 0.938 * D)
    a1 = area(y1)
    f = lambda y: (0.6 * (area(y) - a2_old) + 0.4 * (a1 - a1_old)   # noqa: E731
                   + dt / LENGTH * (0.6 * (flow(y) - q_in) + 0.4 * (q2_old - q_in_old)))
    y2 = brentq(f, 1e-9, 0.938 * D)
    return a1, area(y2), flow(y2)


def test_kinwave_cell_kernel_matches_pure_python():
    # The kernel reads the pipe's geometry from tables of K.XS_TABLE_N points (linear between them); the
    # reference solves the exact geometry. 1e-4: the interpolation error of the section factor mid-pipe.
    args = (0.12, 0.05, 0.05, 0.04, 0.03, 30.0)
    s_of_a, y_of_a, a_of_s, _, _, a_max, s_max, a_full, _ = K.xs_table(K.SHAPE_CIRCULAR, D, 0, 0, 0, K.XS_TABLE_N)
    beta = math.sqrt(DROP / LENGTH) / N
    got = K.kinwave_conduit(s_of_a[None, :], y_of_a[None, :], a_of_s[None, :], 0, a_full, a_max, s_max, beta,
                            LENGTH, *args)
    np.testing.assert_allclose(got[:3], _kinwave_cell_reference(*args), rtol=1e-4)
    y1 = brentq(lambda y: K.xs_area(K.SHAPE_CIRCULAR, D, 0, 0, 0, y) - got[0], 1e-9, D)
    assert got[3] * D == pytest.approx(y1, rel=1e-4)


def test_frames_follow_the_viewer_contract():
    res = simulate(_pipe_model(0.5 * Q_FULL, "DYNWAVE"), Settings(frame_interval_s=120))
    f = res.frames
    T = len(f["times_s"])
    assert np.allclose(np.diff(f["times_s"]), 120.0)
    assert f["link_ids"].dtype.kind == "U" and f["node_ids"].dtype.kind == "U"
    assert f["link_flow_ratio"].shape == (T, 1) and f["link_flow_ratio"].dtype == np.float32
    assert f["node_depth_m"].shape == (T, 2) and f["node_flooding_m3s"].shape == (T, 2)
    assert f["link_flow_ratio"][-1, 0] == pytest.approx(0.5, rel=0.01)   # flow / full flow


@pytest.mark.parametrize("shape,g", [(K.SHAPE_CIRCULAR, (D, 0.0, 0.0, 0.0)), (K.SHAPE_TRAPEZOIDAL, (1.2, 2.0, 1.5, 1.0)),
                                     (K.SHAPE_RECT_CLOSED, (0.8, 1.2, 0.0, 0.0))])
def test_free_end_depths_from_tables_match_the_exact_inversions(shape, g):
    # The dynamic wave's free-fall ends read critical and normal depth from xs_table's square-root
    # spaced rows; the exact bisections are the reference. 1e-3 of the depth: linear between 1,001 points.
    row = K.xs_table(shape, 1.0, g[1] / g[0], g[2], g[3], K.XS_TABLE_N)
    s_max, qc_max = row[6] * g[0] ** (8 / 3), row[8] * g[0] ** 2.5
    slope = DROP / LENGTH
    q_max = math.sqrt(slope) / N * s_max
    for frac in (1e-4, 3e-3, 0.05, 0.3, 0.7, 0.99):
        q = frac * q_max
        got = K.free_end_depths_tab(row[3][None, :], row[4][None, :], 0, g[0], q_max, qc_max, q)
        want = K.free_end_depths(shape, *g, N, slope, q)
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-6 * g[0])
