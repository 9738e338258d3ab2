"""Numba kernels of the stormwater engine: runoff of all subcatchments, dynamic- and kinematic-wave routing.

Pure functions over NumPy arrays (structure of arrays, SI units: m, s, m/s, m3/s); no SimPy, no
I/O. Equations follow the SWMM 5 Reference Manual, Vol. I (Rossman & Huber 2016: ch. 3 nonlinear
reservoir runoff, ch. 4 Horton / Green-Ampt / curve-number infiltration with recovery) and Vol. II
(Rossman 2017: ch. 3 kinematic wave, ch. 4 dynamic wave solved by Picard iterations on node
continuity and link momentum, surcharge by the dQ/dH node correction, flooding above the rim).
`run_system` is the whole run: runoff steps (wet/dry), routing steps (variable, Courant-limited)
with runoff interpolated in between, dry periods skipped when nothing flows, and the records the
Result needs; it is `start_system` (the state at t = 0), `advance_system` (on to a given time, or
until a watched control-rule comparison changes; link settings may change between calls) and
`finish_system` (the final balances), so a run can stop and resume bit for bit. Tests check the
pieces against closed forms and pure-Python references.
"""
import inspect
import math

import numpy as np
from numba import njit

from .lid import F_DRAIN, F_SURFACE, lid_step

G = 9.80665
MANNING_EXP = 5.0 / 3.0
FUDGE = 1e-4          # m, smallest depth treated as wet (SWMM FUDGE is 0.0001 ft)
OMEGA = 0.5           # under-relaxation of Picard iterations (SWMM dynwave)

SHAPE_CIRCULAR = 0
SHAPE_RECT_CLOSED = 1
SHAPE_RECT_OPEN = 2
SHAPE_TRAPEZOIDAL = 3
SHAPE_TRIANGULAR = 4

INFIL_NONE = 0
INFIL_HORTON = 1
INFIL_GREEN_AMPT = 2
INFIL_MOD_GREEN_AMPT = 3
INFIL_CURVE_NUMBER = 4

NODE_JUNCTION = 0
NODE_OUTFALL = 1
NODE_STORAGE = 2

LINK_CONDUIT = 0
LINK_PUMP = 1
LINK_ORIFICE = 2
LINK_WEIR = 3
LINK_OUTLET = 4

OUTFALL_FREE = 0
OUTFALL_NORMAL = 1
OUTFALL_FIXED = 2
OUTFALL_TIDAL = 3
OUTFALL_TIMESERIES = 4

# ============================================================================ runoff


# ---- the reservoir in closed form: dx/dt = i - alpha x^m (x = depth above depression storage, m = 5/3).
# Scaled by the equilibrium excess depth x_e = (|i|/alpha)^(1/m) and the time x_e/|i|, every sub-area
# follows one of three universal curves u(s) (u = x/x_e): du/ds = 1 - u^m below equilibrium, the same
# above it, du/ds = -(1 + u^m) when losses exceed the inflow. Each is the inverse of a time integral,
# tabulated once here on a smooth variable (TABLE points, linear in between: relative error ~1e-6),
# so a runoff step costs two table look-ups instead of an adaptive Runge-Kutta integration.
RES_TABLE_N = 8193
RES_SPAN = 40.0       # table variables run over [0, 40] (rising) and [-40, 40] (falling, losing)


def _cumulative(x, g):
    out = np.zeros_like(x)
    out[1:] = np.cumsum(0.5 * (g[1:] + g[:-1]) * np.diff(x))
    return out


def _reservoir_tables(n=RES_TABLE_N, fine=16):
    m = MANNING_EXP
    # rising: r = -ln(1 - u), F(r) = int_0^u dv / (1 - v^m)
    r = np.linspace(0.0, RES_SPAN, (n - 1) * fine + 1)
    e = np.exp(-r)
    g = np.where(r > 0, e / -np.expm1(m * np.log1p(-np.minimum(e, 1 - 1e-16))), 1.0)
    g[0] = 1.0
    rising = _cumulative(r, g)[::fine]
    # falling towards equilibrium from above: p = ln(u - 1), H(p) = int_u^inf dv / (v^m - 1) (decreasing)
    p = np.linspace(-RES_SPAN, RES_SPAN, (n - 1) * fine + 1)
    g = np.exp(p) / np.expm1(m * np.log1p(np.exp(p)))
    tail = 1.5 * (1.0 + np.exp(RES_SPAN)) ** (1.0 - m)
    falling = (tail + _cumulative(p, g)[-1] - _cumulative(p, g))[::fine]
    # losing: q = ln u, K(q) = int_0^u dv / (1 + v^m)
    g = np.exp(p) / (1.0 + np.exp(m * p))
    losing = (np.exp(-RES_SPAN) + _cumulative(p, g))[::fine]
    return np.stack([rising, -falling, losing])


RES_TABLES = _reservoir_tables()
"""Rows: F (rising), -H (falling), K (losing); passed to the kernels as an argument (numba does not
cache functions that read large global arrays)."""


@njit(cache=True, _nrt=False)
def _tab_value(tab, lo, hi, x):
    # linear interpolation in a table sampled uniformly on [lo, hi]
    m = tab.shape[0] - 1
    u = (x - lo) / (hi - lo) * m
    if u <= 0.0:
        return tab[0]
    k = int(u)
    if k >= m:
        return tab[m]
    return tab[k] + (u - k) * (tab[k + 1] - tab[k])


@njit(cache=True, _nrt=False)
def _tab_inverse(tab, lo, hi, w):
    # x in [lo, hi] with table value w (increasing table, w inside its range): bisection over the points
    a, b = 0, tab.shape[0] - 1
    while b - a > 1:
        c = (a + b) // 2
        if tab[c] <= w:
            a = c
        else:
            b = c
    f = (w - tab[a]) / (tab[b] - tab[a]) if tab[b] > tab[a] else 0.0
    return lo + (a + f) * (hi - lo) / (tab.shape[0] - 1)


@njit(cache=True, _nrt=False)
def reservoir_depth(depth, inflow, alpha, dstore, duration, res_tab):
    """Depth (m) after `duration` s of dd/dt = i - alpha (d - ds)^(5/3) above ds, = i below, from depth >= ds.

    Closed form through the universal curves above (res_tab = RES_TABLES; i = 0: x^(-2/3) grows
    linearly in time).
    """
    m = MANNING_EXP
    RES_RISING, RES_FALLING_NEG, RES_LOSING = res_tab[0], res_tab[1], res_tab[2]
    RES_LOSING_INF = RES_LOSING[-1] + 1.5 * math.exp(-2.0 * RES_SPAN / 3.0)   # K(infinity)
    x0 = max(depth - dstore, 0.0)
    if inflow == 0.0:
        if x0 <= 0.0:
            return dstore
        return dstore + (x0 ** (1.0 - m) + (m - 1.0) * alpha * duration) ** (1.0 / (1.0 - m))
    xe = (abs(inflow) / alpha) ** (1.0 / m)
    s = duration * abs(inflow) / xe
    u0 = x0 / xe
    span = RES_SPAN
    if inflow > 0.0:
        if u0 < 1.0:
            w = _tab_value(RES_RISING, 0.0, span, -math.log1p(-u0)) + s
            if w >= RES_RISING[-1]:
                r = span + m * (w - RES_RISING[-1])
            else:
                r = _tab_inverse(RES_RISING, 0.0, span, w)
            return dstore + xe * -math.expm1(-r)
        if u0 == 1.0:
            return depth
        p0 = math.log(u0 - 1.0)
        if p0 > span:
            h = 1.5 * u0 ** (1.0 - m)
        elif p0 < -span:
            h = -RES_FALLING_NEG[0] + (-span - p0) / m
        else:
            h = -_tab_value(RES_FALLING_NEG, -span, span, p0)
        w = h + s
        if w >= -RES_FALLING_NEG[0]:
            p = -span - m * (w + RES_FALLING_NEG[0])
        elif w <= -RES_FALLING_NEG[-1]:
            return dstore + xe * (w / 1.5) ** (1.0 / (1.0 - m))
        else:
            p = _tab_inverse(RES_FALLING_NEG, -span, span, -w)
        return dstore + xe * (1.0 + math.exp(p))
    if x0 <= 0.0:
        return max(dstore + inflow * duration, 0.0)
    q0 = math.log(u0)
    if q0 < -span:
        k0 = u0
    elif q0 > span:
        k0 = RES_LOSING_INF - 1.5 * u0 ** (1.0 - m)
    else:
        k0 = _tab_value(RES_LOSING, -span, span, q0)
    w = k0 - s
    if w <= 0.0:
        # the excess runs out after k0 time units; below ds the depth falls at the loss rate
        return max(dstore + inflow * (duration - k0 * xe / abs(inflow)), 0.0)
    if w <= RES_LOSING[0]:
        return dstore + xe * w
    if w >= RES_LOSING[-1]:
        return dstore + xe * (1.5 / (RES_LOSING_INF - w)) ** 1.5
    return dstore + xe * math.exp(_tab_inverse(RES_LOSING, -span, span, w))


@njit(cache=True, _nrt=False)
def ponded_depth_step(depth, inflow, alpha, dstore, dt, res_tab):
    """One sub-area's ponded depth (m) after dt (s) under net inflow (m/s); and the time with outflow.

    Depression storage fills first; the remaining time follows the nonlinear reservoir in closed
    form (SWMM subcatch.c updatePondedDepth integrates the same ODE by Runge-Kutta).
    Returns (new depth m, seconds the depth exceeded dstore).
    """
    tx = dt
    if depth + inflow * dt <= dstore:
        depth = max(depth + inflow * dt, 0.0)
    else:
        dx = dstore - depth
        if dx > 0.0 and inflow > 0.0:
            tx -= dx / inflow
            depth = dstore
        if alpha > 0.0 and tx > 0.0:
            depth = reservoir_depth(depth, inflow, alpha, dstore, tx, res_tab)
        else:
            depth = max(depth + inflow * max(tx, 0.0), 0.0)
    if depth > dstore:
        return depth, tx
    return depth, 0.0


@njit(cache=True, _nrt=False)
def horton_infil(state, par, irate, depth, dt):
    """Horton infiltration rate (m/s) over dt, SWMM's cumulative form with equivalent time tp.

    par: f0, fmin (m/s), decay kd (1/s), regen kr (1/s), Fmax (m). state: tp (s), Fe (m).
    Recovery when dry: tp shrinks so capacity grows back at rate kr (Vol. I §4.2).
    """
    f0, fmin, kd, kr, fmax = par[0], par[1], par[2], par[3], par[4]
    tp = state[0]
    df = f0 - fmin
    fa = irate + depth / dt
    if df < 0.0 or kd < 0.0:
        return 0.0
    if df == 0.0 or kd == 0.0:
        return max(0.0, min(f0, fa))
    fp = 0.0
    if fa > 1e-12:
        t1 = tp + dt
        tlim = 16.0 / kd
        if tp >= tlim:
            fcum_p = fmin * tp + df / kd
            fcum_1 = fcum_p + fmin * dt
        else:
            fcum_p = fmin * tp + df / kd * (1.0 - math.exp(-kd * tp))
            fcum_1 = fmin * t1 + df / kd * (1.0 - math.exp(-kd * t1))
        fp = max((fcum_1 - fcum_p) / dt, fmin)
        if fp > fa:
            fp = fa
        if t1 > tlim or fp < fa:
            tp = t1
        else:
            # infiltration limited by supply: find tp with F(tp) = F(tp_old) + fp dt (Newton)
            target = fcum_p + fp * dt
            t = tp + 0.5 * dt
            for _ in range(50):
                ft = fmin + df * math.exp(-kd * t)
                fcum = fmin * t + df / kd * (1.0 - math.exp(-kd * t))
                step = (fcum - target) / ft
                t -= step
                if t < 0.0:
                    t = 0.0
                if abs(step) < 1e-6:
                    break
            tp = t
        if fmax > 0.0:
            if state[1] + fp * dt > fmax:
                fp = max((fmax - state[1]) / dt, 0.0)
            state[1] += fp * dt
    elif kr > 0.0:
        r = math.exp(-kr * dt)
        x = 1.0 - math.exp(-kd * tp)
        tp = -math.log(1.0 - r * x) / kd
        if fmax > 0.0:
            state[1] = fmin * tp + df / kd * (1.0 - math.exp(-kd * tp))
    state[0] = tp
    return fp


@njit(cache=True, _nrt=False)
def _ga_f2(f1, c1, ks, ts):
    # Green-Ampt: F2 - c1 ln(F2 + c1) = F1 - c1 ln(F1 + c1) + Ks ts, solved by Newton from the right
    c2 = f1 - c1 * math.log(f1 + c1) + ks * ts
    f2 = f1 + ks * ts + math.sqrt(2.0 * c1 * ks * ts)
    for _ in range(60):
        g = f2 - c1 * math.log(f2 + c1) - c2
        dg = f2 / (f2 + c1)
        if dg <= 0.0:
            break
        step = g / dg
        f2 -= step
        if f2 < f1:
            f2 = f1
        if abs(step) < 1e-9:
            break
    return f2


@njit(cache=True, _nrt=False)
def green_ampt_infil(state, par, irate, depth, dt, modified):
    """Green-Ampt infiltration (m/s) with SWMM's upper-zone moisture recovery (Vol. I §4.3).

    par: suction S (m), Ks (m/s), IMDmax, Lu (m, upper zone depth 4 sqrt(Ks in/h) in), kr (1/s),
    Tr (s). state: IMD, F (m), Fu (m), saturated flag, T (s until a new event).
    """
    s_head, ks, imd_max, lu, kr, tr = par[0], par[1], par[2], par[3], par[4], par[5]
    fumax = imd_max * lu
    if fumax <= 0.0:
        return 0.0
    state[4] -= dt
    ia = irate + depth / dt
    if ia < 1e-12:
        ia = 0.0
    if state[3] > 0.5:   # saturated upper zone
        if ia == 0.0:
            return 0.0
        state[4] = tr
        c1 = (s_head + depth) * state[0]
        f2 = _ga_f2(state[1], c1, ks, dt)
        dF = f2 - state[1]
        if dF > ia * dt:
            dF = ia * dt
            state[3] = 0.0
        state[1] += dF
        state[2] = min(state[2] + dF, fumax)
        return dF / dt
    if ia == 0.0:
        if state[2] <= 0.0:
            return 0.0
        dF = kr * fumax * dt
        state[1] -= dF
        state[2] -= dF
        if state[2] <= 0.0:
            state[2] = 0.0
            state[1] = 0.0
            state[0] = imd_max
            return 0.0
        if state[4] <= 0.0:
            state[0] = (fumax - state[2]) / lu
            state[1] = 0.0
        return 0.0
    if ia <= ks:
        dF = ia * dt
        state[1] += dF
        state[2] = min(state[2] + dF, fumax)
        if not modified and state[4] <= 0.0:
            state[0] = (fumax - state[2]) / lu
            state[1] = 0.0
        return ia
    state[4] = tr
    fs = ks * (s_head + depth) * state[0] / (ia - ks)
    if state[1] > fs:
        state[3] = 1.0
        c1 = (s_head + depth) * state[0]
        f2 = _ga_f2(state[1], c1, ks, dt)
        dF = min(f2 - state[1], ia * dt)
        if f2 - state[1] > ia * dt:
            state[3] = 0.0
        state[1] += dF
        state[2] = min(state[2] + dF, fumax)
        return dF / dt
    if state[1] + ia * dt < fs:
        dF = ia * dt
        state[1] += dF
        state[2] = min(state[2] + dF, fumax)
        return ia
    ts = max(dt - (fs - state[1]) / ia, 0.0)
    c1 = (s_head + depth) * state[0]
    f2 = _ga_f2(fs, c1, ks, ts)
    if f2 > fs + ia * ts:
        f2 = fs + ia * ts
    dF = f2 - state[1]
    state[1] = f2
    state[2] = min(state[2] + dF, fumax)
    state[3] = 1.0
    return dF / dt


@njit(cache=True, _nrt=False)
def curve_number_infil(state, par, irate, depth, dt):
    """SCS curve-number infiltration applied continuously as SWMM does (Vol. I §4.4).

    par: Smax (m), regen (1/s), Tmax (s, dry time that starts a new event).
    state: S (m), P (m), F (m), T (s), Se (m), f (m/s).
    """
    smax, regen, tmax = par[0], par[1], par[2]
    fa = irate + depth / dt
    if irate > 1e-12:
        if state[3] >= tmax:
            state[1] = 0.0
            state[2] = 0.0
            state[5] = 0.0
            state[4] = state[0]
        state[3] = 0.0
        state[1] += irate * dt
        f1 = state[1] * (1.0 - state[1] / (state[1] + state[4])) if state[1] + state[4] > 0.0 else 0.0
        state[5] = (f1 - state[2]) / dt
        if state[5] < 0.0 or state[0] <= 0.0:
            state[5] = 0.0
    else:
        if depth > 1e-6 and state[0] > 0.0:
            if state[5] * dt > state[0]:
                state[5] = state[0] / dt
        else:
            state[5] = 0.0
            state[3] += dt
    if state[5] > 0.0:
        state[5] = max(min(state[5], fa), 0.0)
        state[2] += state[5] * dt
        if regen > 0.0:
            state[0] = max(state[0] - state[5] * dt, 0.0)
    else:
        state[0] = min(state[0] + regen * smax * dt, smax)
    return state[5]


@njit(cache=True, _nrt=False)
def runoff_step(dt, rain, evap_rate, area, frac, alpha, dstore, f_outlet, route_to, out_sub, gage,
                infil_kind, infil_par, infil_state, depth, sub_runoff, new_runoff, inflow, vols, extra_perv, res_tab):
    """Advance all subcatchments one runoff step of dt (s) (SWMM runoff_execute order).

    rain[g] (m/s) per gauge; frac/alpha/dstore/f_outlet [j, 3] per sub-area (impervious without
    and with depression storage, pervious); route_to 0 outlet, 1 pervious->impervious,
    2 impervious->pervious; out_sub[j] receiving subcatchment (-1: a node). depth, sub_runoff
    (end-of-step outflow m/s per sub-area) and new_runoff (m3/s to the outlet) are updated in
    place; vols[j] accumulates rain, runon, evaporation, infiltration, runoff volumes (m3).
    res_tab: RES_TABLES (the reservoir's universal curves).
    extra_perv[j] (m3/s): water put on the pervious area from outside (LID outflow sent there).
    """
    n = area.shape[0]
    for j in range(n):
        for i in range(3):
            inflow[j, i] = 0.0
    # runon from upstream subcatchments and between sub-areas: previous step's outflow
    for j in range(n):
        k = out_sub[j]
        if k >= 0 and k != j:
            q1 = new_runoff[j] / area[k]
            vols[k, 1] += new_runoff[j] * dt
            for i in range(3):
                inflow[k, i] += q1
    for j in range(n):
        if route_to[j] == 2 and frac[j, 2] > 0.0:
            q = (sub_runoff[j, 0] * frac[j, 0] + sub_runoff[j, 1] * frac[j, 1]) * (1.0 - f_outlet[j, 0])
            inflow[j, 2] += q / frac[j, 2]
        if route_to[j] == 1 and frac[j, 1] > 0.0:
            q = sub_runoff[j, 2] * (1.0 - f_outlet[j, 2]) * frac[j, 2]
            inflow[j, 1] += q / frac[j, 1]
        if extra_perv[j] > 0.0 and frac[j, 2] > 0.0 and area[j] > 0.0:
            inflow[j, 2] += extra_perv[j] / (frac[j, 2] * area[j])
    for j in range(n):
        precip = rain[gage[j]]
        out = 0.0
        vols[j, 0] += precip * dt * area[j]
        for i in range(3):
            sub_runoff[j, i] = 0.0
            if frac[j, i] <= 0.0:
                continue
            surf_moisture = depth[j, i] / dt
            surf_evap = min(surf_moisture, evap_rate)
            infil = 0.0
            runon = inflow[j, i]
            total_in = runon + precip
            if i == 2:
                kind = infil_kind[j]
                if kind == INFIL_HORTON:
                    infil = horton_infil(infil_state[j], infil_par[j], total_in, depth[j, i], dt)
                elif kind == INFIL_GREEN_AMPT or kind == INFIL_MOD_GREEN_AMPT:
                    infil = green_ampt_infil(infil_state[j], infil_par[j], total_in, depth[j, i], dt,
                                             kind == INFIL_MOD_GREEN_AMPT)
                elif kind == INFIL_CURVE_NUMBER:
                    infil = curve_number_infil(infil_state[j], infil_par[j], total_in, depth[j, i], dt)
            surf_moisture += total_in
            losses = surf_evap + infil
            t_runoff = dt
            if losses >= surf_moisture:
                # everything available is lost: scale both losses to what was there
                if losses > 0.0:
                    scale = surf_moisture / losses
                    surf_evap *= scale
                    infil *= scale
                depth[j, i] = 0.0
                t_runoff = 0.0
            else:
                depth[j, i], t_runoff = ponded_depth_step(depth[j, i], total_in - losses, alpha[j, i],
                                                          dstore[j, i], dt, res_tab)
            a_sub = frac[j, i] * area[j]
            vols[j, 2] += surf_evap * dt * a_sub
            vols[j, 3] += infil * dt * a_sub
            if depth[j, i] > dstore[j, i] and t_runoff > 0.0:
                sub_runoff[j, i] = alpha[j, i] * (depth[j, i] - dstore[j, i]) ** MANNING_EXP * t_runoff / dt
            out += sub_runoff[j, i] * frac[j, i] * f_outlet[j, i]
        new_runoff[j] = out * area[j]
        vols[j, 4] += new_runoff[j] * dt


# ============================================================================ cross-sections


CIRC_TABLE_N = 4096


def _circle_table(n=CIRC_TABLE_N):
    """A circle of diameter 1 filled to depth x at u = 0, 1/n, ..., 1 (see _circle_u): rows (area,
    hydraulic radius, hydraulic radius^(4/3), hydraulic radius^(2/3)). Spaced in u, which goes as sqrt(x) near the invert (area
    grows as x^1.5) and as sqrt(1 - x) near the crown (the wetted perimeter closes as sqrt(1 - x))."""
    u = np.arange(n + 1) / n
    x = np.where(u <= 0.5, 2.0 * u * u, 1.0 - 2.0 * (1.0 - u) ** 2)
    c = np.clip(1.0 - 2.0 * x, -1.0, 1.0)
    theta = 2.0 * np.arccos(c)
    area = (theta - 2.0 * c * np.sqrt(1.0 - c * c)) / 8.0
    perim = theta / 2.0
    radius = np.divide(area, perim, out=np.zeros_like(area), where=perim > 0.0)
    radius[-1] = 0.25
    area[-1] = math.pi / 4.0
    return np.ascontiguousarray(np.stack([area, radius, radius ** (4.0 / 3.0), radius ** (2.0 / 3.0)], axis=1))


CIRC_TABLE = _circle_table()   # a compile-time constant of the kernels; linear interpolation in it is within
#                               1e-5 of the exact area and radius (relative) above 1 % of the diameter, 1.3e-4 at 0.01 %


@njit(cache=True, inline="always")
def _circle_u(x):
    # table coordinate of the filled fraction x in [0, 1]: sqrt(x/2) up to half full, 1 - sqrt((1-x)/2) above
    if x <= 0.5:
        return math.sqrt(0.5 * max(x, 0.0))
    return 1.0 - math.sqrt(0.5 * max(1.0 - x, 0.0))


@njit(cache=True, inline="always")
def _circle_row(d, x):
    # (area m2, hydraulic radius m, (R/d)^(4/3), (R/d)^(2/3)) of a circle of diameter d filled to the
    # fraction x of it, from one place in CIRC_TABLE (the dynamic wave's momentum needs them all at each
    # end and the middle)
    u = _circle_u(x) * CIRC_TABLE_N
    k = min(int(u), CIRC_TABLE_N - 1)
    f = u - k
    a = CIRC_TABLE[k, 0] + f * (CIRC_TABLE[k + 1, 0] - CIRC_TABLE[k, 0])
    r = CIRC_TABLE[k, 1] + f * (CIRC_TABLE[k + 1, 1] - CIRC_TABLE[k, 1])
    t43 = CIRC_TABLE[k, 2] + f * (CIRC_TABLE[k + 1, 2] - CIRC_TABLE[k, 2])
    t23 = CIRC_TABLE[k, 3] + f * (CIRC_TABLE[k + 1, 3] - CIRC_TABLE[k, 3])
    return d * d * a, d * r, t43, t23


@njit(cache=True, inline="always")
def _circle_width_cut(d, y):
    # _width_cut of a circle: top width at y, held at its value at CROWN_CUTOFF of the diameter above it
    yy = min(max(y, 0.0), CROWN_CUTOFF * d)
    return 2.0 * math.sqrt(max(yy * (d - yy), 0.0))


@njit(cache=True)
def _circle_segment(d, y):
    # (area, hydraulic radius) of a circle of diameter d filled to y < d, from CIRC_TABLE (acos and the
    # radius' power were a third of a dynamic-wave run's time)
    a, r, _t43, _t23 = _circle_row(d, y / d)
    return a, r


@njit(cache=True)
def xs_area(shape, g1, g2, g3, g4, y):
    """Flow area (m2) at depth y (m) of one barrel."""
    if y <= 0.0:
        return 0.0
    if y > g1:
        y = g1
    if shape == SHAPE_CIRCULAR:
        return _circle_segment(g1, y)[0]
    if shape == SHAPE_RECT_CLOSED or shape == SHAPE_RECT_OPEN:
        return g2 * y
    if shape == SHAPE_TRAPEZOIDAL:
        return y * (g2 + 0.5 * (g3 + g4) * y)
    # triangular: top width g2 at full height g1
    return 0.5 * g2 / g1 * y * y


@njit(cache=True)
def xs_width(shape, g1, g2, g3, g4, y):
    """Top width (m) at depth y; zero once a closed section is full."""
    if y <= 0.0:
        y = 0.0
    if shape == SHAPE_CIRCULAR:
        if y >= g1:
            return 0.0
        return 2.0 * math.sqrt(max(y * (g1 - y), 0.0))
    if shape == SHAPE_RECT_CLOSED:
        return 0.0 if y >= g1 else g2
    if y > g1:
        y = g1
    if shape == SHAPE_RECT_OPEN:
        return g2
    if shape == SHAPE_TRAPEZOIDAL:
        return g2 + (g3 + g4) * y
    return g2 / g1 * y


@njit(cache=True)
def xs_radius(shape, g1, g2, g3, g4, y):
    """Hydraulic radius (m) at depth y."""
    if y <= 0.0:
        return 0.0
    if y > g1:
        y = g1
    if shape == SHAPE_CIRCULAR:
        if y >= g1:
            return g1 / 4.0
        return _circle_segment(g1, y)[1]
    a = xs_area(shape, g1, g2, g3, g4, y)
    if shape == SHAPE_RECT_CLOSED:
        p = g2 + 2.0 * y + (g2 if y >= g1 else 0.0)
    elif shape == SHAPE_RECT_OPEN:
        p = g2 + 2.0 * y
    elif shape == SHAPE_TRAPEZOIDAL:
        p = g2 + y * (math.sqrt(1.0 + g3 * g3) + math.sqrt(1.0 + g4 * g4))
    else:
        s = 0.5 * g2 / g1
        p = 2.0 * y * math.sqrt(1.0 + s * s)
    return a / p if p > 0.0 else 0.0


@njit(cache=True)
def xs_area_radius(shape, g1, g2, g3, g4, y):
    """(area m2, hydraulic radius m) at depth y; one acos for circular pipes."""
    if y <= 0.0:
        return 0.0, 0.0
    if shape == SHAPE_CIRCULAR:
        if y >= g1:
            return math.pi * g1 * g1 / 4.0, g1 / 4.0
        return _circle_segment(g1, y)
    return xs_area(shape, g1, g2, g3, g4, y), xs_radius(shape, g1, g2, g3, g4, y)


@njit(cache=True)
def manning_flow(shape, g1, g2, g3, g4, n, slope, y):
    """Manning flow (m3/s) of one barrel at depth y: Q = (1/n) A R^(2/3) S^(1/2) (SI)."""
    if slope <= 0.0 or y <= 0.0:
        return 0.0
    a, r = xs_area_radius(shape, g1, g2, g3, g4, y)
    return a * r ** (2.0 / 3.0) * math.sqrt(slope) / n


@njit(cache=True)
def y_max_flow(shape, g1):
    """Depth (m) of the largest Manning flow: 0.938 D for circular, the full depth otherwise."""
    if shape == SHAPE_CIRCULAR:
        return 0.9382 * g1
    if shape == SHAPE_RECT_CLOSED:
        return 0.999 * g1   # the lid adds perimeter at full: largest just below it
    return g1


@njit(cache=True)
def _excess(kind, shape, g1, g2, g3, g4, n, slope, target, yy):
    # sign of (quantity at depth yy - target): 0 Manning flow, 1 critical-flow balance, 2 area
    if kind == 0:
        return manning_flow(shape, g1, g2, g3, g4, n, slope, yy) - target
    a = xs_area(shape, g1, g2, g3, g4, yy)
    if kind == 1:
        return G * a * a * a - target * target * xs_width(shape, g1, g2, g3, g4, yy)
    return a - target


@njit(cache=True)
def _bisect_depth(kind, shape, g1, g2, g3, g4, n, slope, target, hi):
    lo = 0.0
    tol = 1e-6 * hi
    for _ in range(50):
        if hi - lo < tol:
            break
        mid = 0.5 * (lo + hi)
        if _excess(kind, shape, g1, g2, g3, g4, n, slope, target, mid) < 0.0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@njit(cache=True)
def normal_depth(shape, g1, g2, g3, g4, n, slope, q):
    """Depth (m) of uniform flow q (m3/s) per barrel; the max-flow depth if q exceeds capacity."""
    if q <= 0.0:
        return 0.0
    hi = y_max_flow(shape, g1)
    if manning_flow(shape, g1, g2, g3, g4, n, slope, hi) <= q:
        return hi
    return _bisect_depth(0, shape, g1, g2, g3, g4, n, slope, q, hi)


@njit(cache=True)
def critical_depth(shape, g1, g2, g3, g4, q):
    """Critical depth (m) for q (m3/s) per barrel: q^2 W = g A^3."""
    if q <= 0.0:
        return 0.0
    hi = 0.999 * g1
    if _excess(1, shape, g1, g2, g3, g4, 0.0, 0.0, q, hi) <= 0.0:
        return hi
    return _bisect_depth(1, shape, g1, g2, g3, g4, 0.0, 0.0, q, hi)


@njit(cache=True)
def depth_of_area(shape, g1, g2, g3, g4, a):
    """Depth (m) with flow area a (m2) (bisection; full depth if a exceeds the full area)."""
    if a <= 0.0:
        return 0.0
    if a >= xs_area(shape, g1, g2, g3, g4, g1):
        return g1
    return _bisect_depth(2, shape, g1, g2, g3, g4, 0.0, 0.0, a, g1)


@njit(cache=True)
def free_end_depths(s, d1, d2, d3, d4, n, slope, q):
    """(smaller, larger) of critical and normal depth for q per barrel: the depth at a free-fall end."""
    yc = critical_depth(s, d1, d2, d3, d4, abs(q))
    yn = normal_depth(s, d1, d2, d3, d4, n, max(slope, 1e-6), abs(q))
    return min(yc, yn), max(yc, yn)


# ============================================================================ nodes


@njit(cache=True, _nrt=False)
def curve_lookup(cx, cy, cn, c, x):
    """Linear interpolation in packed curve c (held at the end values)."""
    m = cn[c]
    if m == 0:
        return 0.0
    if x <= cx[c, 0]:
        return cy[c, 0]
    for k in range(1, m):
        if x <= cx[c, k]:
            x0, x1 = cx[c, k - 1], cx[c, k]
            if x1 == x0:
                return cy[c, k]
            return cy[c, k - 1] + (cy[c, k] - cy[c, k - 1]) * (x - x0) / (x1 - x0)
    return cy[c, m - 1]


@njit(cache=True, _nrt=False)
def curve_step(cx, cy, cn, c, x):
    """Step-function lookup (SWMM PUMP1 / PUMP2 curves: y of the first x not below)."""
    m = cn[c]
    for k in range(m):
        if x <= cx[c, k]:
            return cy[c, k]
    return cy[c, m - 1] if m > 0 else 0.0


@njit(cache=True, _nrt=False)
def curve_lookup_ex(cx, cy, cn, c, x):
    """Linear interpolation in packed curve c, extended beyond its points (SWMM's table_lookupEx): from the
    origin below the first point, along the last segment's slope (never falling) above the last."""
    m = cn[c]
    if m == 0:
        return 0.0
    if x <= cx[c, 0]:
        return x / cx[c, 0] * cy[c, 0] if cx[c, 0] > 0.0 else cy[c, 0]
    s = 0.0
    for k in range(1, m):
        x0, x1 = cx[c, k - 1], cx[c, k]
        if x1 != x0:
            s = (cy[c, k] - cy[c, k - 1]) / (x1 - x0)
        if x <= x1:
            if x1 == x0:
                return cy[c, k]
            return cy[c, k - 1] + (cy[c, k] - cy[c, k - 1]) * (x - x0) / (x1 - x0)
    return cy[c, m - 1] + max(s, 0.0) * (x - cx[c, m - 1])


@njit(cache=True, _nrt=False)
def storage_area(node, y, st_a, st_b, st_c, st_curve, cx, cy, cn):
    """Surface area (m2) of a storage unit at depth y: a st_a y^st_b + st_c[0] + st_c[1] y^2 (FUNCTIONAL, and
    SWMM 5.2's analytic shapes), or a TABULAR curve extended beyond its points, as SWMM."""
    if st_curve[node] >= 0:
        return curve_lookup_ex(cx, cy, cn, st_curve[node], y)
    if y > 0.0:
        return st_a[node] * y ** st_b[node] + st_c[node, 0] + st_c[node, 1] * y * y
    return st_c[node, 0] + (st_a[node] if st_b[node] == 0.0 else 0.0)


@njit(cache=True, _nrt=False)
def storage_volume(node, y, st_a, st_b, st_c, st_curve, cx, cy, cn):
    """Volume (m3) of a storage unit at depth y: the integral of its surface area (TABULAR: trapezoids between
    the curve's points, a triangle below the first, the last segment's slope carried on above the last,
    never below zero area; SWMM's table_getStorageVolume). Callers cap y at the unit's full depth: SWMM
    holds a unit's volume there, however high it surcharges."""
    if y <= 0.0:
        return 0.0
    c = st_curve[node]
    if c >= 0:
        m = cn[c]
        if m == 0:
            return 0.0
        x1, a1 = cx[c, 0], cy[c, 0]
        if y <= x1:
            return 0.0 if x1 < 1e-6 else a1 / x1 * y * y / 2.0
        v = 0.0
        dx = 0.0
        da = 0.0
        for k in range(1, m):
            x2, a2 = cx[c, k], cy[c, k]
            if x2 >= y:
                a = a1 + (a2 - a1) * (y - x1) / (x2 - x1) if x2 > x1 else 0.5 * (a1 + a2)
                return v + 0.5 * (a1 + a) * (y - x1)
            dx, da = x2 - x1, a2 - a1
            v += 0.5 * (a1 + a2) * dx
            x1, a1 = x2, a2
        if dx > 0.0:
            s = da / dx
            a = a1 + s * (y - x1)
            if a < 0.0:
                return v - a1 * a1 / s / 2.0
            return v + 0.5 * (a1 + a) * (y - x1)
        return v
    return st_a[node] / (st_b[node] + 1.0) * y ** (st_b[node] + 1.0) + st_c[node, 0] * y + st_c[node, 1] / 3.0 * y ** 3



# ============================================================================ links (dynamic wave)


CROWN_CUTOFF = 0.96   # fraction of a closed section's height above which its top width is held (slot-free EXTRAN)


@njit(cache=True)
def _width_cut(s, d1, d2, d3, d4, yy):
    # closed sections keep the width they have near the crown, so a nearly full pipe still stores water
    if s == SHAPE_CIRCULAR or s == SHAPE_RECT_CLOSED:
        if yy >= CROWN_CUTOFF * d1:
            yy = CROWN_CUTOFF * d1
    return xs_width(s, d1, d2, d3, d4, yy)


@njit(cache=True)
def _froude(s, d1, d2, d3, d4, v, yy):
    if yy <= FUDGE:
        return 0.0
    a = xs_area(s, d1, d2, d3, d4, yy)
    w = _width_cut(s, d1, d2, d3, d4, yy)
    if w <= 0.0 or a <= 0.0:
        return 0.0
    return abs(v) / math.sqrt(G * a / w)


@njit(cache=True, _nrt=False)
def _free_cached(l, d1, n, slope, q, fe, tab_yn, tab_yc, k, s_max, qc_max):
    # critical / normal depths from the section's tables (row k), reused while q barely moves;
    # fe[l] = (flow, smaller depth, larger depth) of the last look-up
    q = abs(q)
    if abs(q - fe[l, 0]) > 1e-2 * q + 1e-7 or fe[l, 0] < 0.0:
        fe[l, 1], fe[l, 2] = free_end_depths_tab(tab_yn, tab_yc, k, d1, math.sqrt(max(slope, 1e-6)) / n * s_max, qc_max, q)
        fe[l, 0] = q
    return fe[l, 1], fe[l, 2]


@njit(cache=True, _nrt=False, inline="always")
def _momentum(dt, l, y_n1, y_n2, inv1, inv2, outfall1, outfall2, lk, qb_old, qb_last, a_mid_old, normal_limited,
              damping, fe, tab_yn, tab_yc):
    # one barrel's momentum over dt from the end depths y_n1, y_n2 (conduit_flow's physics): (dry, flow
    # before relaxation, weighted area, 1 / (1 + friction term), mid area, surface areas to the ends, volume,
    # mid depth)
    z1, z2, s, d1, d2, d3, d4, n, L, slope, nb, k, s_max, qc_max, d43, inv_d, inv_L, inv_nb, conv = lk
    z1a = inv1 + z1
    z2a = inv2 + z2
    h1 = max(y_n1 + inv1, z1a)
    h2 = max(y_n2 + inv2, z2a)
    y1 = min(max(h1 - z1a, FUDGE), d1)
    y2 = min(max(h2 - z2a, FUDGE), d1)
    # ---- flow class (0 sub, 1 super, 2 up-critical, 3 dn-critical, 4 up-dry, 5 dn-dry, 6 dry)
    off1 = z1
    off2 = z2
    if outfall1:
        off1 = max(0.0, off1 - y_n1)
    if outfall2:
        off2 = max(0.0, off2 - y_n2)
    cls = 0
    fasnh = 1.0
    if not (y1 >= d1 and y2 >= d1):
        if y1 > FUDGE and y2 > FUDGE:
            if qb_last < 0.0 and off1 > 0.0:
                lo, hi = _free_cached(l, d1, n, slope, qb_last, fe, tab_yn, tab_yc, k, s_max, qc_max)
                if y1 < lo:
                    cls = 2
                    y1 = max(lo, FUDGE)
                    h1 = z1a + y1
            elif qb_last >= 0.0 and off2 > 0.0:
                lo, hi = _free_cached(l, d1, n, slope, qb_last, fe, tab_yn, tab_yc, k, s_max, qc_max)
                if y2 < lo:
                    cls = 3
                    y2 = max(lo, FUDGE)
                    h2 = z2a + y2
                elif y2 < hi:
                    fasnh = 0.0 if hi - lo < FUDGE else (hi - y2) / (hi - lo)
        elif y1 <= FUDGE and y2 <= FUDGE:
            cls = 6
        elif y2 > FUDGE:
            if h2 < z1a:
                cls = 4
            elif off1 > 0.0:
                cls = 2
                y1 = max(_free_cached(l, d1, n, slope, qb_last, fe, tab_yn, tab_yc, k, s_max, qc_max)[0], FUDGE)
                h1 = z1a + y1
        else:
            if h1 < z2a:
                cls = 5
            elif off2 > 0.0:
                cls = 3
                y2 = max(_free_cached(l, d1, n, slope, qb_last, fe, tab_yn, tab_yc, k, s_max, qc_max)[0], FUDGE)
                h2 = z2a + y2
    # ---- surface area given to the end nodes
    y_mid = max(0.5 * (y1 + y2), FUDGE)
    circ = s == SHAPE_CIRCULAR and d43 > 0.0   # the circle's table (d43: the diameter^(4/3))
    if circ:
        w1 = _circle_width_cut(d1, y1)
        w2 = _circle_width_cut(d1, y2)
        wm = _circle_width_cut(d1, y_mid)
    else:
        w1 = _width_cut(s, d1, d2, d3, d4, y1)
        w2 = _width_cut(s, d1, d2, d3, d4, y2)
        wm = _width_cut(s, d1, d2, d3, d4, y_mid)
    sa1 = 0.0
    sa2 = 0.0
    if cls == 0:
        sa1 = (w1 + wm) * L / 4.0
        sa2 = (wm + w2) * L / 4.0 * fasnh
    elif cls == 2:
        sa2 = (wm + w2) * L * 0.5
    elif cls == 3:
        sa1 = (w1 + wm) * L * 0.5
    elif cls == 4:
        sa2 = (wm + w2) * L / 4.0
        if z1 <= 0.0:
            sa1 = (w1 + wm) * L / 4.0
    elif cls == 5:
        sa1 = (wm + w1) * L / 4.0
        if z2 <= 0.0:
            sa2 = (w2 + wm) * L / 4.0
    else:
        sa1 = FUDGE * L / 2.0
        sa2 = sa1
    if circ:
        a1, r1, t43_1, t23_1 = _circle_row(d1, y1 * inv_d)
        a2 = _circle_row(d1, y2 * inv_d)[0]
        a_mid, r_mid, t43_m, _t23 = _circle_row(d1, y_mid * inv_d)
    else:
        a1, r1 = xs_area_radius(s, d1, d2, d3, d4, y1)
        a2 = xs_area(s, d1, d2, d3, d4, y2)
        a_mid, r_mid = xs_area_radius(s, d1, d2, d3, d4, y_mid)
        t43_1 = t23_1 = t43_m = 0.0
    is_full = y1 >= d1 and y2 >= d1
    volume = 0.5 * (a1 + a2) * L
    if cls >= 4 or a_mid <= FUDGE:
        return True, 0.0, a_mid, 1.0, a_mid, sa1, sa2, volume, y_mid
    inv_am = 1.0 / a_mid   # one division for the velocity and the Froude number (divisions are slow)
    v = qb_last * inv_am
    if v > 15.0:
        v = 15.0
    elif v < -15.0:
        v = -15.0
    froude = abs(v) * math.sqrt(wm * inv_am * (1.0 / G)) if (wm > 0.0 and y_mid > FUDGE) else 0.0
    if cls == 0 and froude > 1.0:
        cls = 1
    if froude <= 0.5:
        sigma = 1.0
    elif froude >= 1.0:
        sigma = 0.0
    else:
        sigma = 2.0 * (1.0 - froude)
    rho = sigma if (not is_full and qb_last > 0.0 and h1 >= h2) else 1.0
    a_wtd = a1 + (a_mid - a1) * rho
    r_wtd = r1 + (r_mid - r1) * rho
    if damping == 0:
        sigma = 1.0
    elif damping == 2:
        sigma = 0.0
    if is_full and (s == SHAPE_CIRCULAR or s == SHAPE_RECT_CLOSED):
        sigma = 0.0
    if circ and rho == 1.0:
        r43 = d43 * t43_m
    elif circ and r1 > 0.0 and r_mid > 0.0:
        # r_wtd^(4/3) = r_wtd x its cube root: Halley's method (cubic convergence, one division a step) from
        # the blend of the two radii's cube roots (from the table): two steps reach the root to rounding for
        # radii within a factor of 2 of each other, four for radii up to a hundredfold apart (pow was slower)
        c = d43 * t43_1 / r1
        c = c + (d43 * t43_m / r_mid - c) * rho
        steps = 2 if (r_mid <= 2.0 * r1 and r1 <= 2.0 * r_mid) else 4
        for _ in range(steps):
            c3 = c * c * c
            c = c * (c3 + 2.0 * r_wtd) / (2.0 * c3 + r_wtd)
        r43 = r_wtd * c
    else:
        r43 = r_wtd ** (4.0 / 3.0)
    dq2 = dt * G * a_wtd * (h2 - h1) * inv_L                                           # head difference
    dq3 = 2.0 * v * (a_mid - a_mid_old) * sigma                                  # local acceleration
    dq4 = dt * v * v * (a2 - a1) * inv_L * sigma                                       # convective acceleration
    # friction (Manning) dq1 = dt g n^2 |v| / R^(4/3), the flow divided by 1 + dq1 = (R^(4/3) + dt g n^2 |v|) / R^(4/3)
    inv_den = r43 / (r43 + dt * G * n * n * abs(v)) if (r_wtd > 0.0 and r43 > 0.0) else 1.0
    qb = (qb_old - dq2 + dq3 + dq4) * inv_den
    # normal-flow limitation (SWMM NORMAL_FLOW_LIMITED: 1 SLOPE, 2 FROUDE, 3 BOTH)
    if qb > 0.0 and normal_limited > 0 and y1 < d1 and (cls == 0 or cls == 1) and slope > 0.0:
        has_outfall = outfall1 or outfall2
        check = False
        if (normal_limited == 1 or normal_limited == 3 or has_outfall) and y1 < y2:
            check = True
        if (not check and (normal_limited == 2 or normal_limited == 3) and not has_outfall
                and y1 > FUDGE and y2 > FUDGE and a1 > 0.0):
            if circ:
                ia1 = 1.0 / a1
                fr1 = abs(qb) * ia1 * math.sqrt(w1 * ia1 * (1.0 / G)) if w1 > 0.0 else 0.0   # _froude at y1
            else:
                fr1 = _froude(s, d1, d2, d3, d4, qb / a1, y1)
            if fr1 >= 1.0:
                check = True
        if check:
            if circ:
                qn = a1 * math.sqrt(d43) * t23_1 * conv   # conv: sqrt(slope) / n
            else:
                qn = a1 * r1 ** (2.0 / 3.0) * math.sqrt(slope) / n
            if qn < qb:
                qb = qn
    return False, qb, a_wtd, inv_den, a_mid, sa1, sa2, volume, y_mid


@njit(cache=True, _nrt=False, inline="always")
def conduit_flow(dt, l, first, y_n1, y_n2, inv1, inv2, outfall1, outfall2, lk, q_old, q_last, a_mid_old,
                 normal_limited, damping, gated, fe, tab_yn, tab_yc, sub, y_o1, y_o2):
    """Momentum of one conduit l over dt (dynamic wave, Vol. II §4.3), per barrel internally.

    Scalars of the link and its end nodes (depths y_n1, y_n2, inverts, whether each is an outfall), its
    flows (total) at the last step and iteration and mid area at the last step; lk: the conduit's
    constants (offsets z1, z2, shape, geometry d1..d4, roughness n, length L, slope, barrels, its row k in
    tab_yn / tab_yc (xs_table: normal and critical depths) with s_max, qc_max, d1^(4/3), 1/d1, 1/L,
    1/barrels, sqrt(slope)/n); fe: the free-end depth cache (see _free_cached). Scalars rather than the system's arrays (a call passing thirty
    arrays cost more than its physics), and inlined where it is called (numba inlines no more than 32
    arguments: hence the tuple).

    Classifies the flow from the end depths (dry, free fall at an offset end: critical or normal
    depth, subcritical), then updates Q = (Q_old - dq2 + dq3 + dq4) / (1 + dq1) with friction dq1,
    head difference dq2 and inertial dq3, dq4 damped by the Froude number; upstream-weighted area
    in fast flow; the flow is capped at Manning's normal flow where the water surface is flatter
    than the bed or the flow is supercritical. Returns (total flow m3/s, dq/dh m2/s, mid area per
    barrel m2, surface area given to the upstream node m2, to the downstream node m2, volume m3,
    mid depth m).

    sub > 1: the conduit's Courant time is shorter than the network's step (variable_step lets a few
    conduits do so), so its momentum is integrated in `sub` equal sub-steps, the end depths moving
    linearly from the step's start (y_o1, y_o2) to the present iterate, each sub-step a step of its own
    from the last one's flow and mid area; the result is relaxed against the last iteration as one step's.
    """
    nb = lk[10]
    inv_L = lk[16]
    qb_last = q_last * lk[17]
    qb_old = q_old * lk[17]
    if sub <= 1:
        dry, qb, a_wtd, inv_den, a_mid, sa1, sa2, volume, y_mid = _momentum(
            dt, l, y_n1, y_n2, inv1, inv2, outfall1, outfall2, lk, qb_old, qb_last, a_mid_old, normal_limited,
            damping, fe, tab_yn, tab_yc)
        if dry:
            return 0.0, G * dt * a_mid * inv_L * nb, a_mid, sa1 * nb, sa2 * nb, volume * nb, y_mid
        dqdh = G * dt * a_wtd * inv_L * inv_den * nb
    else:
        h = dt / sub
        qb = qb_old
        am_prev = a_mid_old
        dry = False
        a_wtd = 0.0
        inv_den = 1.0
        for j in range(1, sub + 1):
            f = j / sub
            dry, qb, a_wtd, inv_den, a_mid, sa1, sa2, volume, y_mid = _momentum(
                h, l, y_o1 + f * (y_n1 - y_o1), y_o2 + f * (y_n2 - y_o2), inv1, inv2, outfall1, outfall2, lk, qb,
                qb, am_prev, normal_limited, damping, fe, tab_yn, tab_yc)
            am_prev = a_mid
        if dry:
            return 0.0, G * dt * a_mid * inv_L * nb, a_mid, sa1 * nb, sa2 * nb, volume * nb, y_mid
        dqdh = G * dt * a_wtd * inv_L / (1.0 + (1.0 / inv_den - 1.0) * sub) * nb
    if not first:
        qb = (1.0 - OMEGA) * qb_last + OMEGA * qb
        if qb * qb_last < 0.0:
            qb = 1e-5 if qb > 0.0 else -1e-5   # no change of direction without passing through zero
    if gated and qb < 0.0:
        qb = 0.0
    # no flow out of a dry node
    if qb > FUDGE and y_n1 <= FUDGE:
        qb = FUDGE
    if qb < -FUDGE and y_n2 <= FUDGE:
        qb = -FUDGE
    return qb * nb, dqdh, a_mid, sa1 * nb, sa2 * nb, volume * nb, y_mid


@njit(cache=True, _nrt=False)
def _heads_upstream_first(l, y, invert, link_from, link_to, gated):
    """(upstream head, downstream head, direction) of a weir or orifice: direction +1 when water
    flows from its from-node, -1 when it flows back, 0 when a flap gate stops it flowing back."""
    H1 = y[link_from[l]] + invert[link_from[l]]
    H2 = y[link_to[l]] + invert[link_to[l]]
    if H2 > H1:
        if gated[l]:
            return H1, H2, 0.0
        return H2, H1, -1.0
    return H1, H2, 1.0


@njit(cache=True, _nrt=False)
def weir_flow(l, y, invert, link_from, link_to, kind, crest, cw, end_con, end_coeff, g1, g2, g3, g4, gated,
              opening=1.0, can_surcharge=True):
    """Weir flow (m3/s) and dq/dh: transverse/sideflow/v-notch/trapezoidal with Villemonte submergence.

    opening (0..1, a control rule's SETTING): the open fraction of the weir's height; the crest moves up
    by the closed part, its top stays (SWMM Vol. II §6.4, controlled weirs). Above its top a weir that
    can surcharge flows as an orifice; one that cannot (Surcharge NO) passes the flow of a full opening."""
    if opening <= 0.0:
        return 0.0, 0.0
    H1, H2, sign = _heads_upstream_first(l, y, invert, link_from, link_to, gated)
    if sign == 0.0:
        return 0.0, 0.0
    h_crest = invert[link_from[l]] + crest[l] + (1.0 - opening) * g1[l]
    h = H1 - h_crest
    if h <= FUDGE:
        return 0.0, 0.0
    h_open = opening * g1[l]
    surcharged = can_surcharge and h > h_open > 0.0
    he = min(h, h_open) if h_open > 0.0 else h
    k = kind[l]
    if k == 2:   # V-NOTCH: Q = Cw s h^2.5, s = half top width / height
        q = cw[l] * (0.5 * g2[l] / g1[l]) * he ** 2.5
        expo = 2.5
    elif k == 1:   # SIDEFLOW
        L = max(g2[l] - 0.1 * end_con[l] * he, 0.0)
        q = cw[l] * L * he ** (5.0 / 3.0)
        expo = 5.0 / 3.0
    else:
        L = max(g2[l] - 0.1 * end_con[l] * he, 0.0)
        q = cw[l] * L * he ** 1.5
        expo = 1.5
        if k == 3:   # TRAPEZOIDAL: rectangular middle + triangular ends
            q += end_coeff[l] * 0.5 * (g3[l] + g4[l]) * he ** 2.5
    if surcharged:
        # above the opening the weir behaves as an orifice: Q grows with sqrt of head over mid-height
        q *= math.sqrt((h - 0.5 * h_open) / (0.5 * h_open))
        dqdh = 0.5 * q / max(h - 0.5 * h_open, FUDGE)
    else:
        dqdh = expo * q / h
    h2 = H2 - h_crest
    if h2 > 0.0 and not surcharged:
        ratio = min(h2 / h, 1.0)
        q *= (1.0 - ratio ** expo) ** 0.385
    return sign * q, dqdh


@njit(cache=True, _nrt=False)
def orifice_flow(l, y, invert, link_from, link_to, kind, offset, cd, shape, g1, g2, gated, opening=1.0):
    """Orifice flow (m3/s) and dq/dh: Cd A sqrt(2 g h), weir flow while the opening is partly full.

    opening (0..1, a control rule's SETTING): the open fraction of its height, a gate lowered from the
    top (side) or slid across (bottom): the open area is the section's area up to that fraction."""
    if opening <= 0.0:
        return 0.0, 0.0
    H1, H2, sign = _heads_upstream_first(l, y, invert, link_from, link_to, gated)
    if sign == 0.0:
        return 0.0, 0.0
    h_crest = invert[link_from[l]] + offset[l]
    full = g1[l]
    if opening < 1.0:
        full = opening * g1[l]
        if shape[l] == SHAPE_CIRCULAR:
            area = xs_area(SHAPE_CIRCULAR, g1[l], 0.0, 0.0, 0.0, full)
        else:
            area = full * g2[l]
    elif shape[l] == SHAPE_CIRCULAR:
        area = math.pi * g1[l] * g1[l] / 4.0
    else:
        area = g1[l] * g2[l]
    height = full if kind[l] == 0 else 0.0
    c_orif = cd[l] * area * math.sqrt(2.0 * G)
    h_crown = h_crest + height
    h_mid = h_crest + 0.5 * height
    if kind[l] == 1:
        # bottom orifice: weir-like until the depth over it reaches a quarter of its size
        height = full
        h_crown = h_crest + 0.25 * height
        h_mid = h_crest
    if H1 <= h_crest + FUDGE:
        return 0.0, 0.0
    if H1 >= h_crown:
        h = H1 - max(H2, h_mid)
        if h <= 0.0:
            return 0.0, 0.0
        q = c_orif * math.sqrt(h)
        return sign * q, 0.5 * q / h
    # partly full: weir flow matched to the orifice at the crown
    full_h = h_crown - h_crest
    c_weir = c_orif * math.sqrt(max(h_crown - h_mid, FUDGE)) / full_h ** 1.5
    h = H1 - h_crest
    q = c_weir * h ** 1.5
    h2 = H2 - h_crest
    if h2 > 0.0:
        q *= (1.0 - min(h2 / h, 1.0) ** 1.5) ** 0.385
    return sign * q, 1.5 * q / h


@njit(cache=True, _nrt=False)
def outlet_flow(l, y, invert, link_from, link_to, offset, coeff, expon, curve, head_based, gated, cx, cy, cn,
                setting=1.0):
    """Outlet flow (m3/s) from its rating curve (SWMM's outlet link; it gives the nodes no dq/dh).

    The head h is the depth of the upstream water above the opening (offset above the inlet node's
    invert) for a DEPTH curve, and the upstream head less the higher of the downstream head and the
    opening for a HEAD curve; Q = C h^n (curve < 0) or the curve's flow at h (held at its ends), times
    the setting a control rule gave it. Water flows from the higher head; no flow while h or the
    upstream depth is below 0.0001 ft, or backwards through a flap gate."""
    if setting <= 0.0:
        return 0.0
    n1, n2 = link_from[l], link_to[l]
    h1 = y[n1] + invert[n1]
    h2 = y[n2] + invert[n2]
    sign = 1.0
    y_up = y[n1]
    if h2 > h1:
        if gated[l]:
            return 0.0
        sign = -1.0
        h1, h2 = h2, h1
        y_up = y[n2]
    h_crest = invert[n1] + offset[l]
    if head_based[l]:
        h = h1 - max(h2, h_crest)
    else:
        h = h1 - h_crest
    if h <= FUDGE_FT or y_up <= FUDGE_FT:
        return 0.0
    c = curve[l]
    if c >= 0:
        q = curve_lookup(cx, cy, cn, c, h)
    else:
        q = coeff[l] * h ** expon[l]
    return sign * setting * q


@njit(cache=True, _nrt=False)
def pump_flow(l, y, invert, link_from, link_to, ptype, pcurve, cx, cy, cn, node_inflow, st_vol):
    """Pump flow (m3/s) from its curve: 0 ideal, 1 volume steps, 2 depth steps, 3 head, 4 depth."""
    n1, n2 = link_from[l], link_to[l]
    t = ptype[l]
    if t == 0:
        return max(node_inflow[n1], 0.0)
    c = pcurve[l]
    if t == 1:
        return curve_step(cx, cy, cn, c, st_vol[n1])
    if t == 2:
        return curve_step(cx, cy, cn, c, y[n1])
    if t == 3:
        head = (y[n2] + invert[n2]) - (y[n1] + invert[n1])
        q = curve_lookup(cx, cy, cn, c, max(head, 0.0))
        return max(q, 0.0)
    return max(curve_lookup(cx, cy, cn, c, y[n1]), 0.0)


# ============================================================================ whole run


@njit(cache=True, _nrt=False)
def _series_at(st, sv, sn, s, t):
    """Value of packed time series s at t (s): linear between points, 0 outside its span."""
    m = sn[s]
    if m == 0 or t < st[s, 0] or t > st[s, m - 1]:
        return 0.0
    return curve_lookup(st, sv, sn, s, t)


@njit(cache=True, _nrt=False)
def node_volume(i, yi, node_kind, full_depth, ponded_area, min_surf_area, st_a, st_b, st_c, st_curve, cx, cy, cn):
    """Water volume (m3) held at node i at depth yi (junction: min surface area; storage: its shape)."""
    if node_kind[i] == NODE_OUTFALL:
        return 0.0
    if node_kind[i] == NODE_STORAGE:
        return storage_volume(i, min(yi, full_depth[i]) if full_depth[i] > 0.0 else yi, st_a, st_b, st_c, st_curve,
                              cx, cy, cn)
    return junction_volume(yi, full_depth[i], ponded_area[i], min_surf_area)


@njit(cache=True, _nrt=False)
def junction_volume(yi, full_depth, ponded_area, min_surf_area):
    """Water volume (m3) in a manhole at depth yi: its minimum surface area, the ponded area above the rim."""
    if yi <= full_depth:
        return yi * min_surf_area
    return full_depth * min_surf_area + (yi - full_depth) * ponded_area


FUDGE_FLOW = 1e-4 * 0.3048 ** 3    # m3/s: SWMM's FUDGE in its internal units (0.0001 cfs)
FUDGE_AREA = 1e-4 * 0.3048 ** 2    # m2 (0.0001 ft2)
FUDGE_FT = 1e-4 * 0.3048           # m (0.0001 ft)


# quantities a control-rule premise may watch inside the kernel (advance_system's `watch` rows)
WATCH_CONST, WATCH_NODE_DEPTH, WATCH_NODE_HEAD, WATCH_NODE_VOLUME, WATCH_NODE_INFLOW, WATCH_LINK_FLOW, \
    WATCH_LINK_DEPTH, WATCH_GAGE_RAIN = range(-1, 7)
RELATIONS = ("=", "<>", "<", "<=", ">", ">=")
NO_WATCH_INT = np.zeros((0, 5), dtype=np.int64)
NO_WATCH_CONST = np.zeros(0)
NO_WATCH_LAST = np.zeros(0, dtype=np.bool_)


@njit(cache=True, _nrt=False)
def rain_probe_time(t, dt, t_run_old, t_run_new):
    """The time whose rain a control rule sees before the routing step [t, t + dt]: SWMM runs runoff up to
    the end of the coming routing step first, so its gauges show the rain of the runoff step begun last."""
    return t_run_new if t_run_new < t + dt else t_run_old


@njit(cache=True, _nrt=False)
def _watched_value(kind, i, t, y, invert, vol, lat_new, q, link_y, rain_times, rain_rate):
    if kind == WATCH_NODE_DEPTH:
        return y[i]
    if kind == WATCH_NODE_HEAD:
        return y[i] + invert[i]
    if kind == WATCH_NODE_VOLUME:
        return vol[i]
    if kind == WATCH_NODE_INFLOW:
        return lat_new[i]
    if kind == WATCH_LINK_FLOW:
        return q[i]
    if kind == WATCH_LINK_DEPTH:
        return link_y[i]
    # rain gauge i: the rate of the interval holding t
    k = np.searchsorted(rain_times, t, side="right") - 1
    k = min(max(k, 0), rain_rate.shape[0] - 1)
    return rain_rate[k, i]


@njit(cache=True, _nrt=False)
def watch_update(watch, watch_value, watch_last, t_rain, y, invert, vol, lat_new, q, link_y, rain_times, rain_rate):
    """Re-evaluate the watched comparisons into watch_last (rain as at t_rain); True when any truth changed."""
    changed = False
    for w in range(watch.shape[0]):
        lhs = _watched_value(watch[w, 0], watch[w, 1], t_rain, y, invert, vol, lat_new, q, link_y, rain_times, rain_rate)
        if watch[w, 3] == WATCH_CONST:
            rhs = watch_value[w]
        else:
            rhs = _watched_value(watch[w, 3], watch[w, 4], t_rain, y, invert, vol, lat_new, q, link_y, rain_times,
                                 rain_rate)
        r = watch[w, 2]
        if r == 0:
            truth = lhs == rhs
        elif r == 1:
            truth = lhs != rhs
        elif r == 2:
            truth = lhs < rhs
        elif r == 3:
            truth = lhs <= rhs
        elif r == 4:
            truth = lhs > rhs
        else:
            truth = lhs >= rhs
        if truth != watch_last[w]:
            watch_last[w] = truth
            changed = True
    return changed


@njit(cache=True, _nrt=False)
def _pump_would_switch(link_kind, link_from, pump_start, pump_stop, pump_state, y):
    """Whether a pump's start-up / shut-off depth would switch it now (the step's first act)."""
    for l in range(link_kind.shape[0]):
        if link_kind[l] == LINK_PUMP and pump_start[l] > 0.0:
            if y[link_from[l]] >= pump_start[l]:
                if not pump_state[l]:
                    return True
            elif y[link_from[l]] <= pump_stop[l] and pump_state[l]:
                return True
    return False


# run state (start_system / advance_system / finish_system): the arrays in order, then the scalars
STATE_FIELDS = ('depth', 'sub_runoff', 'new_runoff', 'old_runoff', 'inflow_buf', 'vols', 'infil_state',
                'lid_state', 'lid_in', 'lid_ev', 'lid_flux', 'treated', 'extra_perv', 'lid_node_q', 'y',
                'y_old', 'q', 'q_old', 'q_last', 'a_mid', 'a_mid_old', 'dqdh', 'vol', 'vol_old', 'surf',
                'old_surf', 'sumdqdh', 'node_in', 'node_out', 'net_old', 'overflow', 'lat_new', 'lat_old',
                'outfall_q', 'pump_state', 'kin_a1', 'kin_a2', 'kin_q1', 'link_vol', 'link_sa1', 'link_sa2',
                'node_conv', 'fe_free', 'link_y', 'out_q', 'out_y', 'link_sub', 'totals', 'series', 'fr_depth', 'fr_q',
                'fr_flood', 'flood_time', 'node_vols', 'link_setting', 'sc')
(SC_T, SC_T_RUN_OLD, SC_T_RUN_NEW, SC_K_RAIN, SC_NEXT_FRAME, SC_STEPS, SC_DT_LAST, SC_EVENT_PEAK, SC_RAIN_LAST,
 SC_CALM_LAST, SC_SWITCHED, N_SCALARS) = range(12)   # SC_SWITCHED: the caller switched the pumps for the next step


SUB_STEP_MAX = 8   # sub-steps a conduit may take within one network step (variable_step)


@njit(cache=True, _nrt=False)
def variable_step(route_step, var_step, min_step, link_kind, q, barrels, a_mid, link_vol, link_y, length, shape,
                  g1, g2, g3, g4, node_kind, y, y_old, crown_depth, dt_last, link_sub, sub_share, shortest_buf):
    """Next dynamic-wave step (s) by SWMM's rule (dynwave.c getVariableStep): the Courant time of every
    conduit carrying flow with a Froude number above 0.01, Fr/(1+Fr) V/Q = L/(v + c), times VARIABLE_STEP
    (a closed conduit running full has no free surface: Fr 0, no limit); then no node whose depth is
    between dry and its highest crown may change by more than a quarter of that crown at its last rate.
    Floored to the millisecond, within [min_step, route_step].

    Beyond SWMM (sub_share > 0): the few conduits with the shortest Courant times (one in sub_share, at
    least one) do not hold the whole network to their step: the step is the next conduit's Courant time, at most
    SUB_STEP_MAX times the shortest, and those conduits integrate their momentum in sub-steps within it
    (link_sub[l]: the number of sub-steps, 1 for every other link; conduit_flow). shortest_buf: room for
    the n_free + 1 shortest Courant times (at least n_link + 1 long). SWMM's answer to the
    same problem is to lengthen short conduits (LENGTHENING_STEP), which changes the network.
    """
    n_link = link_kind.shape[0]
    n_cond = 0
    for l in range(n_link):
        link_sub[l] = 1.0
        if link_kind[l] == LINK_CONDUIT:
            n_cond += 1
    n_free = max(1, n_cond // sub_share) if sub_share > 0 else 0
    # Courant candidates of the conduits, kept in link_sub as negative numbers until the step is known, and
    # the n_free + 1 shortest of them in order in shortest_buf
    cap = n_free + 1
    filled = 0
    for l in range(n_link):
        if link_kind[l] != LINK_CONDUIT:
            continue
        nb = barrels[l]
        qb = abs(q[l]) / nb
        am = a_mid[l]
        if qb <= FUDGE_FLOW or am <= FUDGE_AREA:
            continue
        ym = link_y[l]
        s = shape[l]
        if ym <= FUDGE or ((s == SHAPE_CIRCULAR or s == SHAPE_RECT_CLOSED) and g1[l] - ym <= FUDGE_FT):
            continue
        if s == SHAPE_CIRCULAR:
            w = 2.0 * math.sqrt(max(ym * (g1[l] - ym), 0.0))
        else:
            w = xs_width(s, g1[l], g2[l], g3[l], g4[l], ym)
        if w <= 0.0:
            continue
        # Froude number v / sqrt(g A / W) with A the mid area (the area at the mid depth)
        inv_am = 1.0 / am
        fr = qb * inv_am * math.sqrt(w * inv_am * (1.0 / G))
        if fr <= 0.01:
            continue
        c = link_vol[l] * fr * var_step / (nb * qb * (1.0 + fr))
        link_sub[l] = -c
        if filled < cap or c < shortest_buf[filled - 1]:
            j = filled if filled < cap else cap - 1
            while j > 0 and shortest_buf[j - 1] > c:
                shortest_buf[j] = shortest_buf[j - 1]
                j -= 1
            shortest_buf[j] = c
            if filled < cap:
                filled += 1
    # the shortest Courant time, and the (n_free + 1)-th shortest: the network's step
    shortest = shortest_buf[0] if filled > 0 else route_step
    dt = shortest_buf[cap - 1] if filled == cap else route_step
    dt = min(dt, route_step)
    dt = min(dt, SUB_STEP_MAX * shortest)
    for i in range(node_kind.shape[0]):
        if node_kind[i] == NODE_OUTFALL:
            continue
        yc = crown_depth[i]
        if y[i] <= FUDGE_FT or y[i] + FUDGE_FT >= yc or 0.25 * yc < FUDGE_FT:
            continue
        rate = abs(y[i] - y_old[i]) / dt_last
        if rate < FUDGE_FT:
            continue
        cand = 0.25 * yc / rate
        if cand < dt:
            dt = cand
    dt = max(dt, min_step)
    dt = min(math.floor(dt * 1000.0) / 1000.0, route_step)
    for l in range(n_link):
        c = -link_sub[l]
        link_sub[l] = 1.0
        if c > 0.0 and c < dt:
            link_sub[l] = math.ceil(dt / c)
    return dt


def run_system(*args):
    """Runoff and routing of the whole system from 0 to t_end (s); SWMM's step logic (see module doc).

    Returns (totals[18], series[n_frames, 4] (rain m/s area-averaged, runoff m3/s, outfall m3/s,
    flooding m3/s), node_depth[T, N], link_q[T, L], node_flood[T, N], flood_duration[N] s,
    node_vols[N, 2] (flooding, outfall volume m3), lid_state at the end).
    LID units (lid_* arrays, one row per LID_USAGE line, lid_area its total area) take rain, the
    given fractions of their subcatchment's impervious / pervious runoff, and return surface
    outflow to the outlet (or the pervious area) and underdrain flow to the outlet or a node.
    totals: 0 rain, 1 evap, 2 infil, 3 runoff to nodes, 4 final ponded, 5 lateral inflow,
    6 external inflow, 7 outfall, 8 flooding, 9 initial routing storage, 10 final routing storage,
    11 peak outfall flow, 12 routing steps, 13 runoff total (all subcatchments), 14 runon, 15 skipped s,
    16 Picard iterations (dynamic wave), 17 conduit momentum solves (dynamic wave; bypassed ones not counted).
    """
    named = dict(zip(RUN_PARAMS, args))
    state = start_system(*[named[n] for n in START_PARAMS])
    advance_system(*args, state, named["t_end"], np.zeros((0, 5), dtype=np.int64), np.zeros(0),
                   np.zeros(0, dtype=np.bool_), False)
    return finish_system(*finish_inputs(named, state))


@njit(cache=True, nogil=True)
def start_system(route_step, min_surf_area, area, infil_state, node_kind, invert, full_depth, ponded_area, y_init,
                 st_a, st_b, st_c, st_curve, cx, cy, cn, link_kind, link_from, link_to, z1, z2, shape, g1, g2, g3,
                 g4, rough, length, slope, barrels, q_init, pump_on, lid_sub, lid_state, n_frames, keep_frames):
    """The run's state at t = 0: a tuple of arrays (STATE_FIELDS) that advance_system carries on and
    finish_system closes; sc (last) holds the clocks and counters (SCALARS), link_setting (pump speed,
    orifice / weir opening, conduit open 1 / closed 0) the settings a caller may change between calls."""
    n_sub = area.shape[0]
    n_node = invert.shape[0]
    n_link = link_from.shape[0]
    totals = np.zeros(18)
    series = np.zeros((n_frames, 4))
    tf = n_frames if keep_frames else 1
    fr_depth = np.zeros((tf, n_node), dtype=np.float32)
    fr_q = np.zeros((tf, n_link), dtype=np.float32)
    fr_flood = np.zeros((tf, n_node), dtype=np.float32)
    flood_time = np.zeros(n_node)
    node_vols = np.zeros((n_node, 2))   # per node: flooding, outfall volume (m3)
    total_area = area.sum()
    # ---- runoff state
    depth = np.zeros((n_sub, 3))
    sub_runoff = np.zeros((n_sub, 3))
    new_runoff = np.zeros(n_sub)
    old_runoff = np.zeros(n_sub)
    inflow_buf = np.zeros((n_sub, 3))
    vols = np.zeros((n_sub, 5))
    infil_state = infil_state.copy()
    lid_state = lid_state.copy()
    n_lid = lid_sub.shape[0]
    lid_in = np.zeros(n_lid)
    lid_ev = np.zeros(n_lid)
    lid_flux = np.zeros((n_lid, 6))
    treated = np.zeros(n_sub)
    extra_perv = np.zeros(n_sub)
    lid_node_q = np.zeros(invert.shape[0])
    # ---- routing state
    y = y_init.copy()
    y_old = y.copy()
    y_last = y.copy()
    q = q_init.copy()
    q_old = q.copy()
    q_last = q.copy()
    a_mid = np.zeros(n_link)
    a_mid_old = np.zeros(n_link)
    dqdh = np.zeros(n_link)
    vol = np.zeros(n_node)
    vol_old = np.zeros(n_node)
    surf = np.zeros(n_node)
    old_surf = np.full(n_node, min_surf_area)
    sumdqdh = np.zeros(n_node)
    node_in = np.zeros(n_node)
    node_out = np.zeros(n_node)
    net_old = np.zeros(n_node)
    overflow = np.zeros(n_node)
    lat_new = np.zeros(n_node)
    lat_old = np.zeros(n_node)
    outfall_q = np.zeros(n_node)
    pump_state = pump_on.copy()
    kin_a1 = np.zeros(n_link)
    kin_a2 = np.zeros(n_link)
    kin_q1 = np.zeros(n_link)
    link_vol = np.zeros(n_link)
    link_sa1 = np.zeros(n_link)   # surface area a link gives its end nodes (kept while it is bypassed)
    link_sa2 = np.zeros(n_link)
    node_conv = np.zeros(n_node, dtype=np.bool_)
    fe_free = np.zeros((n_link, 3))   # free-end depth cache: flow, smaller, larger depth
    fe_free[:, 0] = -1.0
    link_y = np.zeros(n_link)
    out_q = np.full(n_node, -1.0)
    out_y = np.zeros(n_node)
    link_sub = np.ones(n_link)   # sub-steps of each conduit's momentum in the present step (variable_step)
    # conduits with an initial flow start at normal depth; a node given no initial depth starts at
    # the mean water level of the links it joins (SWMM flowrout.c: initNodeDepths), so that water
    # can leave again rather than sit in the pipes above an empty node
    depth_sum = np.zeros(n_node)
    links_at = np.zeros(n_node)
    for l in range(n_link):
        y_link = 0.0
        if link_kind[l] == LINK_CONDUIT and q[l] > 0.0:
            y_link = normal_depth(shape[l], g1[l], g2[l], g3[l], g4[l], rough[l], max(slope[l], 1e-6), q[l] / barrels[l])
            a_mid[l] = xs_area(shape[l], g1[l], g2[l], g3[l], g4[l], y_link)
            kin_a1[l] = a_mid[l]
            kin_a2[l] = a_mid[l]
            kin_q1[l] = q[l]
        for node, offset in ((link_from[l], z1[l]), (link_to[l], z2[l])):
            if y_link > FUDGE:
                depth_sum[node] += y_link + offset
            links_at[node] += 1.0
    for i in range(n_node):
        if node_kind[i] != NODE_OUTFALL and y[i] <= 0.0 and links_at[i] > 0.0:
            y[i] = depth_sum[i] / links_at[i]
            y_old[i] = y[i]
            y_last[i] = y[i]
    for i in range(n_node):
        vol[i] = node_volume(i, y[i], node_kind, full_depth, ponded_area, min_surf_area, st_a, st_b, st_c,
                             st_curve, cx, cy, cn)
    storage0 = vol.sum()
    for l in range(n_link):
        storage0 += a_mid[l] * length[l] * barrels[l]
    totals[9] = storage0
    link_setting = np.ones(n_link)
    sc = np.zeros(N_SCALARS)
    sc[SC_DT_LAST] = route_step
    return (
        depth, sub_runoff, new_runoff, old_runoff, inflow_buf, vols, infil_state, lid_state, lid_in, lid_ev,
        lid_flux, treated, extra_perv, lid_node_q, y, y_old, q, q_old, q_last, a_mid, a_mid_old, dqdh, vol,
        vol_old, surf, old_surf, sumdqdh, node_in, node_out, net_old, overflow, lat_new, lat_old, outfall_q,
        pump_state, kin_a1, kin_a2, kin_q1, link_vol, link_sa1, link_sa2, node_conv, fe_free, link_y, out_q, out_y,
        link_sub, totals, series, fr_depth, fr_q, fr_flood, flood_time, node_vols, link_setting, sc)


@njit(cache=True, nogil=True)
def advance_system(t_end, wet_step, dry_step, route_step, var_step, min_step, report_step, max_trials, head_tol,
                   dynamic, normal_limited, damping, allow_ponding, min_surf_area, skip_dry, tail_frac, sub_share,
                   bypass_trial, start_hour,
                   rain_times, rain_rate, evap_rate, dry_only,
                   area, frac, alpha, dstore, f_outlet, route_to, out_sub, out_node, gage,
                   infil_kind, infil_par, infil_state,
                   ser_t, ser_v, ser_n, inflow_node, inflow_series, inflow_factor, const_inflow,
                   node_kind, invert, full_depth, sur_depth, ponded_area, y_init, st_a, st_b, st_c, st_curve,
                   out_kind, out_stage, out_curve, crown_depth, out_link,
                   cx, cy, cn,
                   link_kind, link_from, link_to, z1, z2, shape, g1, g2, g3, g4, rough, length, slope, barrels,
                   q_init, q_full, gated, gated_to, weir_kind, weir_cw, weir_endcon, weir_endcoeff, weir_surcharge,
                   orif_kind, orif_cd, pump_type, pump_curve, pump_on, pump_start, pump_stop,
                   outlet_coeff, outlet_expon, outlet_curve, outlet_head, kin_order,
                   tab_s, tab_y, tab_a, link_tab, kin_a_full, kin_a_max, kin_s_max, kin_beta, tab_yn, tab_yc, xs_qc_max,
                   lid_sub, lid_area, lid_from_imp, lid_from_perv, lid_to_perv, lid_drain_node, lid_kind, lid_par,
                   lid_state, n_frames, keep_frames, res_tab, clock,
                   state, t_stop, watch, watch_value, watch_last, stop_on_switch):
    """Carry the run `state` (start_system) on to the end of the first routing step at or after t_stop (s),
    or to t_end; the same steps as one uninterrupted run, so a run cut into pieces is bit-identical to
    run_system when nothing changes between the pieces. Returns the time reached (s).

    It stops earlier at the end of a step after which a watched comparison (control-rule premises,
    `watch` rows: WATCH_* kind, index, relation, right kind, right index; `watch_value` the constant
    right side) no longer has the truth in `watch_last` (updated), or, with stop_on_switch, before a
    step at whose start a pump's start-up / shut-off depth would switch it (dynamic wave)."""
    (
        depth, sub_runoff, new_runoff, old_runoff, inflow_buf, vols, infil_state, lid_state, lid_in, lid_ev,
        lid_flux, treated, extra_perv, lid_node_q, y, y_old, q, q_old, q_last, a_mid, a_mid_old, dqdh, vol,
        vol_old, surf, old_surf, sumdqdh, node_in, node_out, net_old, overflow, lat_new, lat_old, outfall_q,
        pump_state, kin_a1, kin_a2, kin_q1, link_vol, link_sa1, link_sa2, node_conv, fe_free, link_y, out_q, out_y,
        link_sub, totals, series, fr_depth, fr_q, fr_flood, flood_time, node_vols, link_setting, sc) = state
    n_sub = area.shape[0]
    n_node = invert.shape[0]
    n_link = link_from.shape[0]
    total_area = area.sum()
    n_lid = lid_sub.shape[0]
    n_rain = rain_rate.shape[0]
    t = sc[SC_T]
    t_run_old = sc[SC_T_RUN_OLD]
    t_run_new = sc[SC_T_RUN_NEW]
    k_rain = int(sc[SC_K_RAIN])
    next_frame = int(sc[SC_NEXT_FRAME])
    steps = int(sc[SC_STEPS])
    dt_last = sc[SC_DT_LAST]
    event_peak = sc[SC_EVENT_PEAK]
    rain_last = sc[SC_RAIN_LAST] != 0.0
    calm_last = sc[SC_CALM_LAST] != 0.0
    switch_pumps = sc[SC_SWITCHED] == 0.0   # the caller has switched the pumps for this step already
    has_pumps = False
    kin_reservoirs = False   # kinematic wave through storage units or outlets (_kinwave_reservoir_step)
    for l in range(n_link):
        if link_kind[l] == LINK_PUMP:
            has_pumps = True
        if link_kind[l] == LINK_OUTLET:
            kin_reservoirs = True
    for i in range(n_node):
        if node_kind[i] == NODE_STORAGE:
            kin_reservoirs = True
    shortest_buf = np.empty(n_link + 1)   # variable_step's shortest Courant times
    # a conduit's constants in one row (one place in memory, not 19 arrays), as conduit_flow's tuple takes them:
    # offsets, shape, geometry, n, L, slope, barrels, its xs_table row, S_max, Qc_max, then derived ones: the
    # diameter^(4/3) of a circular conduit (friction from CIRC_TABLE), reciprocals of the diameter, the length
    # and the barrels (multiplications in the momentum instead of divisions), sqrt(slope) / n (Manning's flow
    # per A R^(2/3))
    lc = np.zeros((n_link, 19))
    for l in range(n_link):
        lc[l, 0] = z1[l]
        lc[l, 1] = z2[l]
        lc[l, 2] = shape[l]
        lc[l, 3] = g1[l]
        lc[l, 4] = g2[l]
        lc[l, 5] = g3[l]
        lc[l, 6] = g4[l]
        lc[l, 7] = rough[l]
        lc[l, 8] = length[l]
        lc[l, 9] = slope[l]
        lc[l, 10] = barrels[l]
        lc[l, 11] = link_tab[l]
        lc[l, 12] = kin_s_max[l]
        lc[l, 13] = xs_qc_max[l]
        lc[l, 14] = g1[l] ** (4.0 / 3.0) if shape[l] == SHAPE_CIRCULAR else 0.0
        if g1[l] > 0.0:
            lc[l, 15] = 1.0 / g1[l]
        if length[l] > 0.0:
            lc[l, 16] = 1.0 / length[l]
        lc[l, 17] = 1.0 / barrels[l]
        if slope[l] > 0.0 and rough[l] > 0.0:
            lc[l, 18] = math.sqrt(slope[l]) / rough[l]
    lat_sum = 0.0
    while t < t_end - 1e-9 and t < t_stop - 1e-9:
        if stop_on_switch and switch_pumps and dynamic and steps > 0:
            if _pump_would_switch(link_kind, link_from, pump_start, pump_stop, pump_state, y):
                break
        # ---------------- step length
        max_step = route_step
        if (calm_last and t_run_new > t and not rain_last and inflow_node.shape[0] == 0 and not has_pumps
                and wet_step > route_step):
            # the event's tail: steps up to the runoff step (never across it), Courant-limited in dynamic wave
            max_step = min(wet_step, t_run_new - t)
            if max_step < route_step:
                max_step = route_step
        if dynamic:
            dt = max_step
            if var_step > 0.0:
                if steps == 0:
                    dt = min_step   # SWMM starts with its minimum step
                else:
                    dt = variable_step(max_step, var_step, min_step, link_kind, q, barrels, a_mid, link_vol,
                                       link_y, length, shape, g1, g2, g3, g4, node_kind, y, y_old, crown_depth,
                                       dt_last, link_sub, sub_share, shortest_buf)
        else:
            dt = max_step
        dt = min(dt, t_end - t)
        # ---------------- skip dry periods: nothing stored, nothing flowing, no runoff
        if skip_dry:
            # Dry weather: nothing stored or flowing, no runoff -> jump to the next runoff time. The
            # kinematic wave is unconditionally stable, so there a trickle (< 10 ml/s anywhere) is
            # routed in one long step too; the dynamic wave waits for a truly empty system.
            thr = 1e-9 if dynamic else 1e-5
            empty = inflow_node.shape[0] == 0
            if empty:
                for j in range(n_sub):
                    if new_runoff[j] > thr or old_runoff[j] > thr:
                        empty = False
                        break
            if empty:
                for i in range(n_node):
                    if const_inflow[i] != 0.0 or lat_new[i] > thr or (dynamic and y[i] > FUDGE):
                        empty = False
                        break
            if empty:
                for l in range(n_link):
                    if abs(q[l]) > thr:
                        empty = False
                        break
            if empty and t_run_new > t + dt:
                dt = t_run_new - t
                totals[15] += dt
        t_new = t + dt
        # ---------------- runoff until it is ahead of the routing time
        while t_run_new < t_new and t_run_new < t_end:
            while k_rain < n_rain - 1 and rain_times[k_rain + 1] <= t_run_new:
                k_rain += 1
            raining = False
            for g in range(rain_rate.shape[1]):
                if rain_rate[k_rain, g] > 0.0:
                    raining = True
            has_runoff = False
            for j in range(n_sub):
                if new_runoff[j] > 0.0:
                    has_runoff = True
                    break
            for i in range(lid_node_q.shape[0]):
                if lid_node_q[i] > 0.0:
                    has_runoff = True   # draining LID units keep the wet step (SWMM HasWetLids)
                    break
            if raining and not rain_last:
                event_peak = 0.0   # rain begins again: a new event, a new peak
            rain_last = raining
            dtr = wet_step if (raining or has_runoff) else dry_step
            if not (raining or has_runoff) and n_lid == 0:
                # Dry weather with no water on pervious ground: one runoff step to the next change of
                # rain or evaporation. Exact: impervious depression storage evaporates linearly and
                # infiltration capacity recovers in closed form (Horton: e^(-kr t) composes; Green-Ampt
                # and curve number recover linearly), so many DRY_STEPs give the same as one.
                dry_ground = True
                for j in range(n_sub):
                    if depth[j, 2] > 0.0:
                        dry_ground = False
                        break
                if dry_ground:
                    dtr = t_end - t_run_new
            if k_rain < n_rain and rain_times[k_rain + 1] > t_run_new:
                dtr = min(dtr, rain_times[k_rain + 1] - t_run_new)
            dtr = min(dtr, t_end - t_run_new)
            if dtr <= 0.0:
                break
            ev = evap_rate[k_rain]
            if dry_only and raining:
                ev = 0.0
            for _k in range(n_sub):
                old_runoff[_k] = new_runoff[_k]
            runoff_step(dtr, rain_rate[k_rain], ev, area, frac, alpha, dstore, f_outlet, route_to, out_sub, gage,
                        infil_kind, infil_par, infil_state, depth, sub_runoff, new_runoff, inflow_buf, vols, extra_perv,
                        res_tab)
            if n_lid > 0:
                for j in range(n_sub):
                    treated[j] = 0.0
                    extra_perv[j] = 0.0
                for i in range(lid_node_q.shape[0]):
                    lid_node_q[i] = 0.0
                for u in range(n_lid):
                    j = lid_sub[u]
                    q_imp = (sub_runoff[j, 0] * frac[j, 0] * f_outlet[j, 0]
                             + sub_runoff[j, 1] * frac[j, 1] * f_outlet[j, 1]) * area[j]
                    q_perv = sub_runoff[j, 2] * frac[j, 2] * f_outlet[j, 2] * area[j]
                    q_to_lid = lid_from_imp[u] * q_imp + lid_from_perv[u] * q_perv
                    treated[j] += q_to_lid
                    lid_in[u] = rain_rate[k_rain, gage[j]] + q_to_lid / lid_area[u]
                    lid_ev[u] = ev
                    totals[0] += rain_rate[k_rain, gage[j]] * dtr * lid_area[u]
                lid_step(lid_kind, lid_par, lid_state, lid_in, lid_ev, dtr, lid_flux)
                for j in range(n_sub):
                    new_runoff[j] -= treated[j]
                    vols[j, 4] -= treated[j] * dtr
                for u in range(n_lid):
                    j = lid_sub[u]
                    q_back = lid_flux[u, F_SURFACE] * lid_area[u]
                    q_drain = lid_flux[u, F_DRAIN] * lid_area[u]
                    # to the pervious area (SWMM lid.c): the surface outflow, and the underdrain's when it
                    # drains to the subcatchment's own outlet; not where there is no pervious area
                    to_perv = lid_to_perv[u] and frac[j, 2] > 0.0
                    if to_perv:
                        extra_perv[j] += q_back
                    else:
                        new_runoff[j] += q_back
                        vols[j, 4] += q_back * dtr
                    if lid_drain_node[u] >= 0:
                        lid_node_q[lid_drain_node[u]] += q_drain
                        totals[3] += q_drain * dtr
                    elif to_perv:
                        extra_perv[j] += q_drain
                    else:
                        new_runoff[j] += q_drain
                        vols[j, 4] += q_drain * dtr
                for j in range(n_sub):
                    if new_runoff[j] < 0.0:
                        new_runoff[j] = 0.0
            for j in range(n_sub):
                if out_node[j] >= 0:
                    totals[3] += new_runoff[j] * dtr
            t_run_old = t_run_new
            t_run_new += dtr
        # ---------------- lateral inflows at the start of the routing step (runoff interpolated)
        for _k in range(n_node):
            lat_old[_k] = lat_new[_k]
        for i in range(n_node):
            lat_new[i] = const_inflow[i] + lid_node_q[i]
        ext = 0.0
        for k in range(inflow_node.shape[0]):
            qx = inflow_factor[k] * _series_at(ser_t, ser_v, ser_n, inflow_series[k], t)
            lat_new[inflow_node[k]] += qx
            ext += qx
        for i in range(n_node):
            ext += const_inflow[i]
        totals[6] += ext * dt
        f = 1.0
        if t_run_new > t_run_old:
            f = (t - t_run_old) / (t_run_new - t_run_old)
            f = min(max(f, 0.0), 1.0)
        for j in range(n_sub):
            if out_node[j] >= 0:
                lat_new[out_node[j]] += (1.0 - f) * old_runoff[j] + f * new_runoff[j]
        lat_sum = 0.0
        for i in range(n_node):
            lat_sum += lat_new[i]
        totals[5] += lat_sum * dt
        # ---------------- routing
        for i in range(n_node):   # element loops: a slice copy costs array reference counting each step
            y_old[i] = y[i]
            vol_old[i] = vol[i]
        for l in range(n_link):
            q_old[l] = q[l]
            a_mid_old[l] = a_mid[l]
        for i in range(n_node):
            overflow[i] = 0.0
            outfall_q[i] = 0.0
        if dynamic:
            # pump switching on depth (start/stop levels), once per step (unless the caller's control rules
            # have just done it, with this switching first, for this step)
            for l in range(n_link):
                if switch_pumps and link_kind[l] == LINK_PUMP and pump_start[l] > 0.0:
                    if y[link_from[l]] >= pump_start[l]:
                        pump_state[l] = True
                    elif y[link_from[l]] <= pump_stop[l]:
                        pump_state[l] = False
            switch_pumps = True
            for it in range(max_trials):
                first = it == 0
                for i in range(n_node):
                    surf[i] = 0.0
                    sumdqdh[i] = 0.0
                for l in range(n_link):
                    k = link_kind[l]
                    n1, n2 = link_from[l], link_to[l]
                    if it >= bypass_trial - 1 and node_conv[n1] and node_conv[n2]:
                        # both ends settled in the last iteration: the link keeps its flow (SWMM's bypass, which
                        # SWMM begins at the third trial: bypass_trial 3; from the second by default, see Settings)
                        surf[n1] += link_sa1[l]
                        surf[n2] += link_sa2[l]
                    elif k == LINK_CONDUIT:
                        totals[17] += 1.0
                        c = lc[l]
                        lk = (c[0], c[1], int(c[2]), c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], int(c[11]), c[12],
                              c[13], c[14], c[15], c[16], c[17], c[18])
                        qn, dq, am, sa1, sa2, lv, link_y[l] = conduit_flow(
                            dt, l, first, y[n1], y[n2], invert[n1], invert[n2], node_kind[n1] == NODE_OUTFALL,
                            node_kind[n2] == NODE_OUTFALL, lk, q_old[l], q_last[l], a_mid_old[l], normal_limited,
                            damping, gated_to[l], fe_free, tab_yn, tab_yc, int(link_sub[l]), y_old[n1], y_old[n2])
                        if link_setting[l] <= 0.0:   # closed by a control rule
                            qn = 0.0
                            dq = 0.0
                        q[l] = qn
                        a_mid[l] = am
                        dqdh[l] = dq
                        link_vol[l] = lv
                        link_sa1[l] = sa1
                        link_sa2[l] = sa2
                        surf[n1] += sa1
                        surf[n2] += sa2
                    else:
                        if k == LINK_WEIR:
                            qn, dq = weir_flow(l, y, invert, link_from, link_to, weir_kind, z1, weir_cw, weir_endcon,
                                               weir_endcoeff, g1, g2, g3, g4, gated, link_setting[l],
                                               weir_surcharge[l])
                        elif k == LINK_ORIFICE:
                            qn, dq = orifice_flow(l, y, invert, link_from, link_to, orif_kind, z1, orif_cd, shape,
                                                  g1, g2, gated, link_setting[l])
                        elif k == LINK_OUTLET:
                            qn = outlet_flow(l, y, invert, link_from, link_to, z1, outlet_coeff, outlet_expon,
                                             outlet_curve, outlet_head, gated, cx, cy, cn, link_setting[l])
                            dq = 0.0
                        else:
                            dq = 0.0
                            if pump_state[l]:
                                qn = pump_flow(l, y, invert, link_from, link_to, pump_type, pump_curve, cx, cy, cn,
                                               node_in, vol) * link_setting[l]
                                if pump_type[l] != 0 and y[n1] <= FUDGE:
                                    qn = 0.0
                                # no more than its inlet node receives and holds (SWMM's dynwave getModPumpFlow;
                                # its inflow as the last iteration summed it)
                                q_max = node_in[n1] + vol_old[n1] / dt
                                if qn > q_max:
                                    qn = max(q_max, 0.0)
                            else:
                                qn = 0.0
                        if not first and k != LINK_PUMP:
                            qn = (1.0 - OMEGA) * q_last[l] + OMEGA * qn
                            if k == LINK_OUTLET and qn * q_last[l] < 0.0:
                                # an outlet's flow passes through zero before it turns (SWMM's dynwave)
                                qn = math.copysign(0.001 * 0.3048 ** 3, qn)   # 0.001 cfs
                        q[l] = qn
                        dqdh[l] = dq
                    sumdqdh[n1] += dqdh[l]
                    sumdqdh[n2] += dqdh[l]
                for i in range(n_node):
                    node_in[i] = lat_new[i]
                    node_out[i] = 0.0
                for l in range(n_link):
                    if q[l] >= 0.0:
                        node_out[link_from[l]] += q[l]
                        node_in[link_to[l]] += q[l]
                    else:
                        node_out[link_to[l]] -= q[l]
                        node_in[link_from[l]] -= q[l]
                converged = True
                for i in range(n_node):
                    yl = y[i]
                    if node_kind[i] == NODE_OUTFALL:
                        yn = _outfall_depth(i, t_new, start_hour, y, q, out_kind, out_stage, out_curve, out_link,
                                            invert, z2, z1, link_to, shape, g1, g2, g3, g4, rough, slope, barrels,
                                            link_kind, cx, cy, cn, ser_t, ser_v, ser_n, out_q, out_y, tab_yn,
                                            tab_yc, link_tab, kin_s_max, xs_qc_max)
                        y[i] = yn
                        node_conv[i] = False
                        overflow[i] = 0.0
                        continue
                    if node_kind[i] == NODE_STORAGE:
                        a_node = storage_area(i, yl, st_a, st_b, st_c, st_curve, cx, cy, cn)
                    else:
                        a_node = min_surf_area
                    area_i = max(surf[i] + a_node, min_surf_area)
                    can_pond = allow_ponding and ponded_area[i] > 0.0
                    is_ponded = can_pond and yl > full_depth[i]
                    if is_ponded:
                        area_i = ponded_area[i]
                    dq_net = node_in[i] - node_out[i]
                    dv = 0.5 * (net_old[i] + dq_net) * dt
                    y_crown = crown_depth[i]
                    if node_kind[i] == NODE_STORAGE:
                        # a storage unit surcharges above its own full depth, whatever its pipes' crowns
                        # (measured against the highest crown it stuck there while draining)
                        y_crown = full_depth[i]
                        # (with no link's flow answering its head it fills and drains by its area, as SWMM)
                        surcharged = sur_depth[i] > 0.0 and yl > full_depth[i] and sumdqdh[i] != 0.0
                    else:
                        surcharged = (not is_ponded) and y_crown > 0.0 and yl > y_crown
                    if not surcharged:
                        yn = y_old[i] + dv / area_i
                        if not is_ponded:
                            old_surf[i] = area_i
                        if not first:
                            yn = (1.0 - OMEGA) * yl + OMEGA * yn
                        if is_ponded and yn < full_depth[i]:
                            yn = full_depth[i] - FUDGE
                    else:
                        denom = sumdqdh[i]
                        if yl < 1.25 * y_crown:
                            fx = (yl - y_crown) / y_crown
                            denom += (old_surf[i] / dt - sumdqdh[i]) * math.exp(-15.0 * fx)
                        dy = dq_net / denom if denom != 0.0 else 0.0
                        yn = yl + dy
                        if yn < y_crown:
                            yn = y_crown - FUDGE
                    if yn < 0.0:
                        yn = 0.0
                    y_max = full_depth[i] + (0.0 if can_pond else sur_depth[i])
                    overflow[i] = 0.0
                    if yn > y_max:
                        if not can_pond:
                            full_vol = node_volume(i, y_max, node_kind, full_depth, ponded_area, min_surf_area,
                                                   st_a, st_b, st_c, st_curve, cx, cy, cn)
                            ov = (vol_old[i] + dv - full_vol) / dt
                            overflow[i] = ov if ov > 0.0 else 0.0
                            yn = y_max
                            vol[i] = full_vol
                        else:
                            full_vol = node_volume(i, full_depth[i], node_kind, full_depth, ponded_area,
                                                   min_surf_area, st_a, st_b, st_c, st_curve, cx, cy, cn)
                            new_vol = max(vol_old[i] + dv, full_vol)
                            ov = (new_vol - max(vol_old[i], full_vol)) / dt
                            overflow[i] = ov if ov > 0.0 else 0.0
                            yn = full_depth[i] + (new_vol - full_vol) / ponded_area[i]
                            vol[i] = new_vol
                    elif node_kind[i] == NODE_JUNCTION:
                        vol[i] = junction_volume(yn, full_depth[i], ponded_area[i], min_surf_area)
                    else:
                        vol[i] = storage_volume(i, min(yn, full_depth[i]) if full_depth[i] > 0.0 else yn, st_a, st_b,
                                                st_c, st_curve, cx, cy, cn)
                    node_conv[i] = abs(yn - yl) <= head_tol
                    if not node_conv[i]:
                        converged = False
                    y[i] = yn
                for _k in range(n_link):
                    q_last[_k] = q[_k]
                totals[16] += 1.0
                if converged and it > 0:
                    break
            for i in range(n_node):
                net_old[i] = node_in[i] - node_out[i]
                if node_kind[i] == NODE_OUTFALL:
                    outfall_q[i] = node_in[i] - node_out[i]
        elif kin_reservoirs:
            _kinwave_reservoir_step(dt, lat_new, node_in, node_out, overflow, outfall_q, node_kind, link_kind,
                                    link_from, link_to, g1, length, barrels, q_full, q, kin_a1, kin_a2, kin_q1,
                                    kin_order, y, a_mid, tab_s, tab_y, tab_a, link_tab, kin_a_full, kin_a_max,
                                    kin_s_max, kin_beta, z1, full_depth, vol, vol_old, net_old, node_conv, st_a,
                                    st_b, st_c, st_curve, cx, cy, cn, outlet_coeff, outlet_expon, outlet_curve,
                                    link_setting)
        else:
            _kinwave_step(dt, lat_new, node_in, overflow, outfall_q, node_kind, link_from, link_to, g1, length,
                          barrels, q_full, q, kin_a1, kin_a2, kin_q1, kin_order, y, a_mid, tab_s, tab_y, tab_a,
                          link_tab, kin_a_full, kin_a_max, kin_s_max, kin_beta)
        steps += 1
        dt_last = dt
        # ---------------- totals and records
        out_now = 0.0
        fl_now = 0.0
        for i in range(n_node):
            if node_kind[i] == NODE_OUTFALL:
                if outfall_q[i] >= 0.0:
                    out_now += outfall_q[i]
                else:  # water entering through an outfall (a fixed or tidal stage): an inflow, as SWMM books it
                    totals[5] -= outfall_q[i] * dt
            fl_now += overflow[i]
            node_vols[i, 0] += overflow[i] * dt
            node_vols[i, 1] += outfall_q[i] * dt
            if overflow[i] > 0.0:
                flood_time[i] += dt
        totals[7] += out_now * dt
        totals[8] += fl_now * dt
        if out_now > totals[11]:
            totals[11] = out_now
        if tail_frac > 0.0 and not rain_last:
            q_big = max(lat_sum, out_now)
            for l in range(n_link):
                if abs(q[l]) > q_big:
                    q_big = abs(q[l])
            calm_last = fl_now == 0.0 and q_big <= tail_frac * event_peak
        else:
            calm_last = False
        if lat_sum > event_peak:
            event_peak = lat_sum
        while next_frame < n_frames and next_frame * report_step <= t_new + 1e-9:
            series[next_frame, 1] = 0.0
            for j in range(n_sub):
                if out_node[j] >= 0:
                    series[next_frame, 1] += new_runoff[j]
            kr = k_rain
            rr = 0.0
            for j in range(n_sub):
                rr += rain_rate[kr, gage[j]] * area[j]
            series[next_frame, 0] = rr / total_area if total_area > 0.0 else 0.0
            series[next_frame, 2] = out_now
            series[next_frame, 3] = fl_now
            if keep_frames:
                for i in range(n_node):
                    fr_depth[next_frame, i] = y[i]
                    fr_flood[next_frame, i] = overflow[i]
                for l in range(n_link):
                    fr_q[next_frame, l] = q[l]
            next_frame += 1
        t = t_new
        clock[0] = t   # read by a watcher thread for progress (the kernel runs without the GIL)
        if watch.shape[0] > 0:
            t_rain = rain_probe_time(t, dt_last, t_run_old, t_run_new)
            if watch_update(watch, watch_value, watch_last, t_rain, y, invert, vol, lat_new, q, link_y, rain_times,
                            rain_rate):
                break
    sc[SC_T] = t
    sc[SC_T_RUN_OLD] = t_run_old
    sc[SC_T_RUN_NEW] = t_run_new
    sc[SC_K_RAIN] = k_rain
    sc[SC_NEXT_FRAME] = next_frame
    sc[SC_STEPS] = steps
    sc[SC_DT_LAST] = dt_last
    sc[SC_EVENT_PEAK] = event_peak
    sc[SC_RAIN_LAST] = 1.0 if rain_last else 0.0
    sc[SC_CALM_LAST] = 1.0 if calm_last else 0.0
    sc[SC_SWITCHED] = 0.0 if switch_pumps else 1.0
    return t


@njit(cache=True, nogil=True)
def finish_system(dynamic, min_surf_area, area, frac, node_kind, invert, full_depth, ponded_area, st_a, st_b, st_c,
                  st_curve, cx, cy, cn, link_kind, link_from, length, barrels,
                  depth, vols, y, link_vol, kin_a1, kin_a2, totals, series, fr_depth, fr_q, fr_flood, flood_time,
                  node_vols, lid_state, sc):
    """Final balances of a run advanced to its end: the outputs run_system returns (inputs by name from
    the run's inputs and its state, FINISH_PARAMS)."""
    n_sub = area.shape[0]
    n_node = invert.shape[0]
    n_link = link_from.shape[0]
    steps = int(sc[SC_STEPS])
    # ---------------- final balances
    for j in range(n_sub):
        totals[0] += vols[j, 0]
        totals[1] += vols[j, 2]
        totals[2] += vols[j, 3]
        totals[13] += vols[j, 4]
        totals[14] += vols[j, 1]
        for i in range(3):
            totals[4] += depth[j, i] * frac[j, i] * area[j]
    store = 0.0
    for i in range(n_node):
        store += node_volume(i, y[i], node_kind, full_depth, ponded_area, min_surf_area, st_a, st_b, st_c,
                             st_curve, cx, cy, cn)
    for l in range(n_link):
        if link_kind[l] == LINK_CONDUIT:
            if dynamic:
                store += link_vol[l]
            else:
                store += 0.5 * (kin_a1[l] + kin_a2[l]) * length[l] * barrels[l]
    totals[10] = store
    totals[12] = steps
    return totals, series, fr_depth, fr_q, fr_flood, flood_time, node_vols, lid_state


@njit(cache=True, _nrt=False)
def _outfall_depth(i, t, start_hour, y, q, out_kind, out_stage, out_curve, out_link, invert, z2, z1, link_to,
                   shape, g1, g2, g3, g4, rough, slope, barrels, link_kind, cx, cy, cn, ser_t, ser_v, ser_n,
                   out_q, out_y, tab_yn, tab_yc, link_tab, s_max, qc_max):
    """Water depth (m) at an outfall: critical/normal depth of its conduit, or a fixed/tidal/series stage.
    Critical and normal depth from the conduit's xs_table rows (tab_yn, tab_yc, row link_tab[l], with
    s_max, qc_max) where it has them, else by bisection; recomputed when the flow moves by 0.01 %."""
    l = out_link[i]
    y_free = 0.0
    z = 0.0
    if l >= 0 and link_kind[l] == LINK_CONDUIT:
        z = z2[l] if link_to[l] == i else z1[l]
        qb = abs(q[l]) / barrels[l]
        if z <= 0.0:
            if abs(qb - out_q[i]) > 1e-4 * qb + 1e-9 or out_q[i] < 0.0:
                k = link_tab[l]
                if k >= 0 and tab_yn.shape[0] > k:
                    q_max = math.sqrt(slope[l]) / rough[l] * s_max[l] if slope[l] > 0.0 else 0.0
                    yc, yn = table_depths(tab_yn, tab_yc, k, g1[l], q_max, qc_max[l], qb)
                else:
                    yc = critical_depth(shape[l], g1[l], g2[l], g3[l], g4[l], qb)
                    yn = normal_depth(shape[l], g1[l], g2[l], g3[l], g4[l], rough[l], slope[l], qb) if slope[l] > 0.0 else yc
                out_y[i] = min(yc, yn) if out_kind[i] == OUTFALL_FREE else yn
                out_q[i] = qb
            y_free = out_y[i]
    k = out_kind[i]
    if k == OUTFALL_FREE or k == OUTFALL_NORMAL:
        return y_free
    if k == OUTFALL_FIXED:
        stage = out_stage[i]
    elif k == OUTFALL_TIDAL:
        hour = (start_hour + t / 3600.0) % 24.0
        stage = curve_lookup(cx, cy, cn, out_curve[i], hour)
    else:
        stage = _series_at(ser_t, ser_v, ser_n, out_curve[i], t)
    ys = stage - invert[i]
    return max(ys, y_free, 0.0)


XS_TABLE_N = 1001     # points of the tabulated geometry (SWMM tabulates circular pipes with 51)


@njit(cache=True)
def _section_factor(shape, g1, g2, g3, g4, y):
    # A R^(2/3): Manning flow with n = 1 and slope 1
    return manning_flow(shape, g1, g2, g3, g4, 1.0, 1.0, y)


@njit(cache=True)
def _critical_factor(shape, g1, g2, g3, g4, y):
    # sqrt(g A^3 / W): the flow that is critical at depth y
    a = xs_area(shape, g1, g2, g3, g4, y)
    w = xs_width(shape, g1, g2, g3, g4, y)
    return math.sqrt(G * a * a * a / w) if w > 0.0 else 0.0


@njit(cache=True)
def xs_table(shape, g1, g2, g3, g4, n_pts):
    """Tabulated geometry of one cross-section shape (SWMM xsect.c tabulates its shapes the same way).

    On the normalised area a/A_full (n_pts points from 0 to 1): section factor A R^(2/3) / S_max and
    depth / full depth; on the normalised section factor s/S_max (0 to 1): a/A_full on the branch below
    the largest flow (kinematic wave). For the dynamic wave's free ends, on u from 0 to 1: the normal
    depth / full depth of section factor u^2 S_max, and the critical depth / full depth of critical
    flow u^2 Qc_max (square-root spacing: depth grows like a root of small flows). S_max is the section
    factor at the depth of largest Manning flow (y_max_flow), Qc_max the critical flow at 0.999 full.
    Returns (s_of_a, y_of_a, a_of_s, yn_of_u, yc_of_u, a_max / A_full, S_max, A_full, Qc_max).
    """
    a_full = xs_area(shape, g1, g2, g3, g4, g1)
    y_top = y_max_flow(shape, g1)
    s_max = _section_factor(shape, g1, g2, g3, g4, y_top)
    qc_max = _critical_factor(shape, g1, g2, g3, g4, 0.999 * g1)
    s_of_a = np.zeros(n_pts)
    y_of_a = np.zeros(n_pts)
    a_of_s = np.zeros(n_pts)
    yn_of_u = np.zeros(n_pts)
    yc_of_u = np.zeros(n_pts)
    for i in range(n_pts):
        y = depth_of_area(shape, g1, g2, g3, g4, a_full * i / (n_pts - 1))
        y_of_a[i] = y / g1
        s_of_a[i] = _section_factor(shape, g1, g2, g3, g4, y) / s_max
    for i in range(1, n_pts):
        y = _bisect_depth(0, shape, g1, g2, g3, g4, 1.0, 1.0, s_max * i / (n_pts - 1), y_top)
        a_of_s[i] = xs_area(shape, g1, g2, g3, g4, y) / a_full
        u2 = (i / (n_pts - 1)) ** 2
        yn_of_u[i] = _bisect_depth(0, shape, g1, g2, g3, g4, 1.0, 1.0, s_max * u2, y_top) / g1
        yc_of_u[i] = _bisect_depth(1, shape, g1, g2, g3, g4, 0.0, 0.0, qc_max * u2, 0.999 * g1) / g1
    a_of_s[n_pts - 1] = xs_area(shape, g1, g2, g3, g4, y_top) / a_full
    yn_of_u[n_pts - 1] = y_top / g1
    yc_of_u[n_pts - 1] = 0.999
    return s_of_a, y_of_a, a_of_s, yn_of_u, yc_of_u, a_of_s[n_pts - 1], s_max, a_full, qc_max


@njit(cache=True, _nrt=False)
def free_end_depths_tab(tab_yn, tab_yc, k, d1, q_max, qc_max, q):
    """(smaller, larger) of critical and normal depth (m) for q (m3/s per barrel) from xs_table rows k.

    q_max = sqrt(S)/n S_max (largest Manning flow), qc_max: the section's Qc_max at this size.
    """
    q = abs(q)
    if q <= 0.0:
        return 0.0, 0.0
    yc, yn = table_depths(tab_yn, tab_yc, k, d1, q_max, qc_max, q)
    return min(yc, yn), max(yc, yn)


@njit(cache=True, _nrt=False)
def table_depths(tab_yn, tab_yc, k, d1, q_max, qc_max, q):
    """(critical, normal) depth (m) for q >= 0 (m3/s per barrel) from xs_table rows k (see
    free_end_depths_tab); q_max <= 0 (a flat conduit): the normal depth is the critical one."""
    yc = d1 * table_at(tab_yc, k, math.sqrt(min(q / qc_max, 1.0)))
    if q_max <= 0.0:
        return yc, yc
    return yc, d1 * table_at(tab_yn, k, math.sqrt(min(q / q_max, 1.0)))


@njit(cache=True, _nrt=False)
def table_at(tab, k, x):
    """Linear interpolation in row k of a table sampled uniformly on x in [0, 1] (clamped)."""
    m = tab.shape[1] - 1
    u = x * m
    if u <= 0.0:
        return tab[k, 0]
    i = int(u)
    if i >= m:
        return tab[k, m]
    return tab[k, i] + (u - i) * (tab[k, i + 1] - tab[k, i])


@njit(cache=True, _nrt=False)
def kinwave_conduit(tab_s, tab_y, tab_a, k, a_full, a_max, s_max, beta, length, q_in, q_in_old, a1_old, a2_old,
                    q2_old, dt):
    """One kinematic-wave step of one conduit as one finite-difference cell (Vol. II §3.4).

    Continuity with SWMM's weights (space 0.6, time 0.6):
    WX dA2 + (1-WX) dA1 + dt/L [WT (Q2 - Q1) + (1-WT)(Q2 - Q1)_old] = 0, Q2 = beta S(A2) per barrel,
    beta = S^1/2 / n. Geometry from the section's tables (row k of xs_table's s_of_a / y_of_a /
    a_of_s; a_max = area of largest flow / A_full): the inlet area is looked up from the inflow, the
    outlet area solved by Newton steps on the piecewise-linear continuity, kept inside a bracket.
    Returns (a1, a2, q2) per barrel (m2, m2, m3/s) and the inlet depth as a fraction of the full depth.
    """
    wx, wt = 0.6, 0.6
    if q_in <= 1e-9 and q_in_old <= 1e-9 and q2_old <= 1e-9 and a2_old <= 1e-9 and a1_old <= 1e-9:
        return 0.0, 0.0, 0.0, 0.0   # dry conduit stays dry
    q_max = beta * s_max
    x1 = a_max if q_in >= q_max else table_at(tab_a, k, q_in / q_max)
    a1 = x1 * a_full
    c = dt / length
    # f(x) = wx A_full x + c wt q_max s(x) + f0, increasing in x on [0, a_max]
    f0 = -wx * a2_old + (1.0 - wx) * (a1 - a1_old) + c * (-wt * q_in + (1.0 - wt) * (q2_old - q_in_old))
    y1 = table_at(tab_y, k, x1)
    if f0 >= 0.0:
        return a1, 0.0, 0.0, y1
    s_top = table_at(tab_s, k, a_max)
    if wx * a_full * a_max + c * wt * q_max * s_top + f0 <= 0.0:
        return a1, a_max * a_full, q_max * s_top, y1
    m = tab_s.shape[1] - 1
    lo, hi = 0.0, a_max
    x = min(max(a2_old / a_full, 0.0), a_max)
    for _ in range(60):
        i = min(int(x * m), m - 1)
        ds = (tab_s[k, i + 1] - tab_s[k, i]) * m
        s = tab_s[k, i] + (x * m - i) * (tab_s[k, i + 1] - tab_s[k, i])
        f = wx * a_full * x + c * wt * q_max * s + f0
        if f < 0.0:
            lo = x
        else:
            hi = x
        xn = x - f / (wx * a_full + c * wt * q_max * ds)
        if i / m <= xn <= (i + 1) / m or hi - lo < 1e-12:
            x = min(max(xn, lo), hi)   # the root of this linear piece: exact
            break
        x = xn if lo < xn < hi else 0.5 * (lo + hi)
    q2 = q_max * table_at(tab_s, k, x)
    if q2 < 1e-9 and q_in <= 1e-9:
        return 0.0, 0.0, 0.0, 0.0   # the last trickle has drained: the conduit is dry again
    return a1, x * a_full, q2, y1


@njit(cache=True, _nrt=False)
def _kinwave_step(dt, lat, node_in, overflow, outfall_q, node_kind, link_from, link_to, g1, length, barrels,
                  q_full, q, a1, a2, q1, order, y, a_mid, tab_s, tab_y, tab_a, link_tab, a_full, a_max, s_max, beta):
    """Kinematic-wave routing of all conduits over dt, upstream to downstream (Vol. II ch. 3).

    A junction passes its inflow to its one outlet conduit; inflow above the conduit's largest
    flow overflows the junction (flooding). Outfalls take all their inflow.
    """
    n_node = lat.shape[0]
    for i in range(n_node):
        node_in[i] = lat[i]
    for o in range(order.shape[0]):
        l = order[o]
        n1 = link_from[l]
        nb = barrels[l]
        q_in = node_in[n1]
        if q_in > q_full[l]:
            overflow[n1] += q_in - q_full[l]
            q_in = q_full[l]
        na1, na2, nq2, y1 = kinwave_conduit(tab_s, tab_y, tab_a, link_tab[l], a_full[l], a_max[l], s_max[l], beta[l],
                                            length[l], q_in / nb, q1[l] / nb, a1[l], a2[l], q[l] / nb, dt)
        a1[l], a2[l] = na1, na2
        q1[l] = q_in
        q[l] = nq2 * nb
        a_mid[l] = 0.5 * (na1 + na2)
        node_in[link_to[l]] += q[l]
        y[n1] = y1 * g1[l]
    for i in range(n_node):
        if node_kind[i] == NODE_OUTFALL:
            outfall_q[i] = node_in[i]
            y[i] = 0.0


@njit(cache=True, _nrt=False)
def storage_depth(i, v, full_depth, st_a, st_b, st_c, st_curve, cx, cy, cn):
    """Depth (m) of a storage unit holding v m3 (the inverse of storage_volume by bisection), at most its full
    depth (SWMM's storage_getDepth)."""
    top = full_depth[i]
    if v <= 0.0:
        return 0.0
    if v >= storage_volume(i, top, st_a, st_b, st_c, st_curve, cx, cy, cn):
        return top
    lo, hi = 0.0, top
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if storage_volume(i, mid, st_a, st_b, st_c, st_curve, cx, cy, cn) < v:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-9:
            break
    return 0.5 * (lo + hi)


@njit(cache=True, _nrt=False)
def _kin_link_inflow(l, dt, node_kind, link_kind, link_from, y, z1, g1, barrels, q_full, tab_s, tab_y, tab_a,
                     link_tab, a_full, a_max, s_max, beta, node_in, vol_old, outlet_coeff, outlet_expon,
                     outlet_curve, link_setting, cx, cy, cn):
    """Flow into link l from a storage unit under kinematic wave (SWMM's flowrout getLinkInflow): a conduit
    takes the normal flow of the water above its offset (its full flow once submerged), an outlet its rating at
    the depth above its opening (a HEAD curve acts on depth: no backwater); no more than the unit receives and
    holds in the step."""
    n1 = link_from[l]
    q = 0.0
    if link_kind[l] == LINK_CONDUIT:
        h = y[n1] - z1[l]
        if h > 0.0:
            # (per barrel, as SWMM's storage_getOutflow gives it for the whole conduit)
            if h >= g1[l]:
                q = q_full[l] / barrels[l]
            else:
                x = table_at_inverse_depth(tab_y, link_tab[l], h / g1[l])
                q = beta[l] * s_max[l] * table_at(tab_s, link_tab[l], x)
    elif link_kind[l] == LINK_OUTLET and link_setting[l] > 0.0:
        h = y[n1] - z1[l]
        if h > FUDGE_FT and y[n1] > FUDGE_FT:
            c = outlet_curve[l]
            q = curve_lookup(cx, cy, cn, c, h) if c >= 0 else outlet_coeff[l] * h ** outlet_expon[l]
            q *= link_setting[l]
    q_max = node_in[n1] + vol_old[n1] / dt
    return max(min(q, q_max), 0.0)


@njit(cache=True, _nrt=False)
def table_at_inverse_depth(tab_y, k, f):
    """Normalised area a/A_full of depth fraction f from row k of xs_table's y_of_a (increasing)."""
    m = tab_y.shape[1] - 1
    if f <= tab_y[k, 0]:
        return 0.0
    if f >= tab_y[k, m]:
        return 1.0
    lo, hi = 0, m
    while hi - lo > 1:
        c = (lo + hi) // 2
        if tab_y[k, c] <= f:
            lo = c
        else:
            hi = c
    d = tab_y[k, hi] - tab_y[k, lo]
    return (lo + ((f - tab_y[k, lo]) / d if d > 0.0 else 0.0)) / m


@njit(cache=True, _nrt=False)
def _kinwave_reservoir_step(dt, lat, node_in, node_out, overflow, outfall_q, node_kind, link_kind, link_from,
                            link_to, g1, length, barrels, q_full, q, a1, a2, q1, order, y, a_mid, tab_s, tab_y,
                            tab_a, link_tab, a_full, a_max, s_max, beta, z1, full_depth, vol, vol_old, net_old,
                            updated, st_a, st_b, st_c, st_curve, cx, cy, cn, outlet_coeff, outlet_expon,
                            outlet_curve, link_setting):
    """Kinematic wave through storage units and outlets (SWMM's flowrout.c for KINWAVE): links upstream to
    downstream; a storage unit, when its first outflow link comes, is solved by successive approximation
    (under-relaxation 0.55, up to 9 trials, 0.005 ft) for the depth at which its inflow, its outflows at that
    depth and its volume balance, overflowing above its full volume; conduits as in _kinwave_step."""
    n_node = lat.shape[0]
    n_order = order.shape[0]
    for i in range(n_node):
        node_in[i] = lat[i]
        node_out[i] = 0.0
        updated[i] = False
    for o in range(n_order + 1):
        if o < n_order:
            l = order[o]
            n1 = link_from[l]
            first = node_kind[n1] == NODE_STORAGE and not updated[n1]
        else:
            l = -1
            n1 = -1
            first = False
        if first:
            _update_storage(n1, o, dt, order, node_kind, link_kind, link_from, y, z1, g1, barrels, q_full, tab_s,
                            tab_y, tab_a, link_tab, a_full, a_max, s_max, beta, node_in, vol, vol_old, net_old,
                            overflow, full_depth, st_a, st_b, st_c, st_curve, cx, cy, cn, outlet_coeff,
                            outlet_expon, outlet_curve, link_setting)
            updated[n1] = True
        if l < 0:
            break
        nb = barrels[l]
        if node_kind[n1] == NODE_STORAGE:
            q_in = _kin_link_inflow(l, dt, node_kind, link_kind, link_from, y, z1, g1, barrels, q_full, tab_s,
                                    tab_y, tab_a, link_tab, a_full, a_max, s_max, beta, node_in, vol_old,
                                    outlet_coeff, outlet_expon, outlet_curve, link_setting, cx, cy, cn)
        else:
            q_in = node_in[n1]
            if link_kind[l] == LINK_CONDUIT and q_in > q_full[l]:
                overflow[n1] += q_in - q_full[l]
                q_in = q_full[l]
        if link_kind[l] == LINK_CONDUIT:
            na1, na2, nq2, y1 = kinwave_conduit(tab_s, tab_y, tab_a, link_tab[l], a_full[l], a_max[l], s_max[l],
                                                beta[l], length[l], q_in / nb, q1[l] / nb, a1[l], a2[l], q[l] / nb,
                                                dt)
            a1[l], a2[l] = na1, na2
            q1[l] = q_in
            q[l] = nq2 * nb
            a_mid[l] = 0.5 * (na1 + na2)
            if node_kind[n1] != NODE_STORAGE:
                y[n1] = y1 * g1[l]
        else:
            q[l] = q_in
        node_out[n1] += q_in
        node_in[link_to[l]] += q[l]
    # storage units no link leaves (SWMM: updated last)
    for i in range(n_node):
        if node_kind[i] == NODE_STORAGE and not updated[i]:
            _update_storage(i, n_order, dt, order, node_kind, link_kind, link_from, y, z1, g1, barrels, q_full,
                            tab_s, tab_y, tab_a, link_tab, a_full, a_max, s_max, beta, node_in, vol, vol_old,
                            net_old, overflow, full_depth, st_a, st_b, st_c, st_curve, cx, cy, cn, outlet_coeff,
                            outlet_expon, outlet_curve, link_setting)
    for i in range(n_node):
        if node_kind[i] == NODE_OUTFALL:
            outfall_q[i] = node_in[i]
            y[i] = 0.0
        elif node_kind[i] == NODE_STORAGE:
            net_old[i] = node_in[i] - node_out[i]


@njit(cache=True, _nrt=False)
def _update_storage(i, o, dt, order, node_kind, link_kind, link_from, y, z1, g1, barrels, q_full, tab_s, tab_y,
                    tab_a, link_tab, a_full, a_max, s_max, beta, node_in, vol, vol_old, net_old, overflow,
                    full_depth, st_a, st_b, st_c, st_curve, cx, cy, cn, outlet_coeff, outlet_expon, outlet_curve,
                    link_setting):
    """A storage unit's depth and volume at the step's end (SWMM's updateStorageState); its outflow links are
    order[o:] while they leave it."""
    v_fixed = vol_old[i] + 0.5 * (net_old[i] + node_in[i]) * dt
    full_vol = storage_volume(i, full_depth[i], st_a, st_b, st_c, st_curve, cx, cy, cn)
    d1 = y[i]
    for _ in range(1, 10):
        q_out = 0.0
        for k in range(o, order.shape[0]):
            m = order[k]
            if link_from[m] != i:
                break
            q_out += _kin_link_inflow(m, dt, node_kind, link_kind, link_from, y, z1, g1, barrels, q_full, tab_s,
                                      tab_y, tab_a, link_tab, a_full, a_max, s_max, beta, node_in, vol_old,
                                      outlet_coeff, outlet_expon, outlet_curve, link_setting, cx, cy, cn)
        v2 = max(v_fixed - 0.5 * q_out * dt, 0.0)
        overflow[i] = 0.0
        if v2 > full_vol:
            ov = (v2 - max(vol_old[i], full_vol)) / dt
            overflow[i] = ov if ov >= FUDGE_FLOW else 0.0
            v2 = full_vol
        vol[i] = v2
        d2 = storage_depth(i, v2, full_depth, st_a, st_b, st_c, st_curve, cx, cy, cn)
        d2 = (1.0 - 0.55) * d1 + 0.55 * d2
        y[i] = d2
        if abs(d2 - d1) <= 0.005 * 0.3048:
            break
        d1 = d2


def _parameters(kernel, drop: int = 0) -> tuple[str, ...]:
    names = tuple(inspect.signature(kernel.py_func).parameters)
    return names[:len(names) - drop]


RUN_PARAMS = _parameters(advance_system, 6)     # a run's inputs in order (prepare.py builds them)
START_PARAMS = _parameters(start_system)         # the ones start_system reads
FINISH_PARAMS = _parameters(finish_system)        # the inputs and state arrays finish_system reads


def finish_inputs(named_inputs: dict, state: tuple) -> list:
    """finish_system's arguments: from a run's state (STATE_FIELDS) before its inputs of the same name."""
    values = {**named_inputs, **dict(zip(STATE_FIELDS, state))}
    return [values[n] for n in FINISH_PARAMS]
