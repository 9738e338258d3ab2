"""Runoff kernels against closed forms and a pure-Python reference (SWMM Vol. I ch. 3 and 4)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from sim.stormwater import kernels as K

MM_H = 1e-3 / 3600.0


def _plane(area=1e4, width=100.0, slope=0.01, n=0.015):
    """One fully impervious subcatchment without depression storage (all arrays for runoff_step)."""
    alpha = width * math.sqrt(slope) / (n * area)
    return dict(area=np.array([area]), frac=np.array([[1.0, 0.0, 0.0]]), alpha=np.array([[alpha, alpha, 0.0]]),
                dstore=np.zeros((1, 3)), f_outlet=np.ones((1, 3)), route_to=np.zeros(1, np.int64),
                out_sub=np.full(1, -1, np.int64), gage=np.zeros(1, np.int64), infil_kind=np.zeros(1, np.int64),
                infil_par=np.zeros((1, 6)), infil_state=np.zeros((1, 6)))


def _run_plane(p, rain_mps, dt, n_steps):
    depth, sub, new, buf, vols = np.zeros((1, 3)), np.zeros((1, 3)), np.zeros(1), np.zeros((1, 3)), np.zeros((1, 5))
    out = []
    for _ in range(n_steps):
        K.runoff_step(dt, np.array([rain_mps]), 0.0, p["area"], p["frac"], p["alpha"], p["dstore"], p["f_outlet"],
                      p["route_to"], p["out_sub"], p["gage"], p["infil_kind"], p["infil_par"], p["infil_state"],
                      depth, sub, new, buf, vols, np.zeros(1), K.RES_TABLES)
        out.append(new[0])
    return np.array(out), depth, vols


def test_impervious_plane_reaches_the_analytic_equilibrium():
    # Steady rain i on a plane: outflow tends to i*A and the depth to (i/alpha)^(3/5) (Manning reservoir).
    p = _plane()
    rain = 50 * MM_H
    q, depth, _ = _run_plane(p, rain, 60.0, 240)
    assert q[-1] == pytest.approx(rain * 1e4, rel=1e-4)
    assert depth[0, 0] == pytest.approx((rain / p["alpha"][0, 0]) ** 0.6, rel=1e-4)


def test_reservoir_kernel_matches_a_pure_python_integration():
    # The same ODE dd/dt = i - alpha d^(5/3) integrated by scipy (RK45, tight tolerances); SWMM's
    # reported outflow is alpha d^(5/3) at the step end. The kernel's relative tolerance is 1e-4.
    p = _plane()
    rain, dt, n = 80 * MM_H, 300.0, 12
    q, _, _ = _run_plane(p, rain, dt, n)
    alpha = p["alpha"][0, 0]
    sol = solve_ivp(lambda t, d: [rain - alpha * max(d[0], 0.0) ** (5 / 3)], (0, dt * n), [0.0],
                    t_eval=dt * np.arange(1, n + 1), rtol=1e-10, atol=1e-12)
    reference = alpha * sol.y[0] ** (5 / 3) * 1e4
    np.testing.assert_allclose(q, reference, rtol=2e-3)


def test_mass_balance_of_the_plane_closes():
    # rain = runoff volume + water still ponded, exactly up to the reported-rate convention: SWMM books
    # the end-of-step rate over the whole step, so the balance closes to the change over one step.
    p = _plane()
    q, depth, vols = _run_plane(p, 30 * MM_H, 60.0, 200)
    rain_vol = vols[0, 0]
    assert rain_vol == pytest.approx(30 * MM_H * 60 * 200 * 1e4)
    assert vols[0, 4] + depth[0, 0] * 1e4 == pytest.approx(rain_vol, rel=5e-3)


def test_horton_cumulative_infiltration_is_the_integrated_curve():
    # With ample water Horton's F(T) = fmin T + (f0 - fmin)/k (1 - e^{-kT}) (Vol. I eq. 4-2), step by step.
    f0, fmin, k = 76 * MM_H, 13 * MM_H, 4 / 3600
    par = np.array([f0, fmin, k, 0.0, 0.0, 0.0])
    state = np.zeros(6)
    total, dt = 0.0, 300.0
    for _ in range(24):
        total += K.horton_infil(state, par, 200 * MM_H, 0.0, dt) * dt
    T = 24 * dt
    assert total == pytest.approx(fmin * T + (f0 - fmin) / k * (1 - math.exp(-k * T)), rel=1e-9)


def test_horton_capacity_recovers_when_dry():
    # After the dry time the curve is back near its start (98 % of the decay undone, SWMM's definition).
    f0, fmin, k, dry_days = 76 * MM_H, 13 * MM_H, 4 / 3600, 2.0
    kr = -math.log(0.02) / (dry_days * 86400)
    par = np.array([f0, fmin, k, kr, 0.0, 0.0])
    state = np.zeros(6)
    for _ in range(24):
        K.horton_infil(state, par, 200 * MM_H, 0.0, 300.0)
    wet_tp = state[0]
    for _ in range(int(dry_days * 86400 / 3600)):
        K.horton_infil(state, par, 0.0, 0.0, 3600.0)
    capacity = fmin + (f0 - fmin) * math.exp(-k * state[0])
    assert state[0] < 0.05 * wet_tp
    assert capacity > fmin + 0.9 * (f0 - fmin)


def test_green_ampt_follows_the_implicit_solution_after_ponding():
    # Rain above Ks: the surface saturates when F = Fs = Ks S IMD / (i - Ks), at t = Fs / i; then
    # F - Fs - c ln((F + c) / (Fs + c)) = Ks (t - ts) with c = S IMD (Mein & Larson 1973).
    s, ks, imd, i = 0.11, 10 * MM_H, 0.3, 60 * MM_H
    lu_ft = 4 * math.sqrt(ks / (0.0254 / 3600)) / 12
    par = np.array([s, ks, imd, lu_ft * 0.3048, lu_ft / 90000, 5400 / lu_ft])
    state = np.array([imd, 0.0, 0.0, 0.0, 0.0, 0.0])
    dt, n = 60.0, 120
    F = 0.0
    for _ in range(n):
        F += K.green_ampt_infil(state, par, i, 0.0, dt, False) * dt
    c = s * imd
    fs = ks * c / (i - ks)
    ts = fs / i
    T = dt * n
    ref = brentq(lambda f: f - fs - c * math.log((f + c) / (fs + c)) - ks * (T - ts), fs, fs + i * T)
    assert F == pytest.approx(ref, rel=2e-3)   # the step holding ts splits rain / GA phases exactly


def test_curve_number_keeps_p_s_over_p_plus_s():
    # SWMM's continuous CN: cumulative infiltration F = P S / (P + S) (runoff P^2 / (P + S), no Ia).
    cn = 80.0
    smax = (1000 / cn - 10) * 0.0254
    par = np.array([smax, 1 / (5 * 86400), 0.06 * 5 * 86400, 0, 0, 0])
    state = np.array([smax, 0.0, 0.0, 0.0, smax, 0.0])
    dt, rain = 300.0, 20 * MM_H
    F = 0.0
    for _ in range(36):
        F += K.curve_number_infil(state, par, rain, 0.0, dt) * dt
    P = rain * dt * 36
    assert F == pytest.approx(P * smax / (P + smax), rel=1e-9)
