"""Numba kernel: one time step of the water balance of many LID units (SWMM 5 LID layers).

The layered model of EPA SWMM 5 (Rossman & Huber 2016, SWMM Reference Manual Vol. III —
Water Quality / LID, ch. 6): a surface layer (ponding up to a berm, Manning outflow or
immediate overflow), a soil layer (Green-Ampt infiltration from the surface, percolation
K_s·exp(−HCO·(φ − θ)) above field capacity), a pavement layer, a storage layer (seepage to
the native soil, underdrain q = C·(h − h_d)^η with h in mm and q in mm/h) and a green roof's
drainage mat, each flux limited by the room below and the water above, integrated by explicit
Euler over the runoff step as SWMM does. Types: bioretention / rain garden (BC), green roof (GR),
infiltration trench (IT), permeable pavement (PP), rain barrel / storage tank (RB), rooftop
disconnection (RD).

Beyond SWMM: a storage unit can have a reuse demand (irrigation, toilet flushing) — water
withdrawn from storage at the demand rate while there is any, before the underdrain, and
counted as reused rather than as outflow.

Signature (structure of arrays, SI units, rates per unit area of the LID in m/s):

    lid_step(kind (N,) int32, params (N, N_PARAMS) float64, state (N, N_STATE) float64,
             inflow_m_s (N,), evap_m_s (N,), dt_s, fluxes (N, N_FLUX) float64) -> None

`params` columns are the P_* constants (fill with `lid_params` below or by hand), `state`
columns the S_* constants (start from `initial_state`), and after the call `fluxes` holds the
step's mean rates F_* (m/s): surface outflow, underdrain, exfiltration to native soil,
evaporation, reuse, and the actual inflow accepted. `state` is advanced in place and also
accumulates the volumes (m per unit area) in S_CUM_*. Wire it into runoff by calling it once
per runoff step with the rain plus run-on each unit receives.

Checked against EPA SWMM 5.2 (swmm-toolkit) on one all-LID subcatchment per type in
tests/sim/test_stormwater_lid.py: every water-balance volume within 0.05 mm of SWMM's. This file
holds numba code outside `kernels.py` because the LID step is its own unit the runoff kernel calls.
"""
import math

import numpy as np
from numba import njit

KIND_BIORETENTION = 0
KIND_GREEN_ROOF = 1
KIND_INFILTRATION_TRENCH = 2
KIND_PERMEABLE_PAVEMENT = 3
KIND_RAIN_BARREL = 4
KIND_ROOFTOP_DISCONNECTION = 5

(P_SURF_THICK, P_SURF_VOID, P_SURF_ALPHA, P_SURF_OVERFLOW, P_SOIL_THICK, P_SOIL_POROSITY, P_SOIL_FIELD_CAP,
 P_SOIL_WILT, P_SOIL_KSAT, P_SOIL_KSLOPE, P_SOIL_SUCTION, P_PAVE_THICK, P_PAVE_VOID, P_PAVE_IMPERV, P_PAVE_KSAT,
 P_STOR_THICK, P_STOR_VOID, P_STOR_KSAT, P_DRAIN_COEFF, P_DRAIN_EXPON, P_DRAIN_OFFSET, P_DRAIN_DELAY,
 P_MAT_ALPHA, P_WIDTH_PER_AREA, P_REUSE_RATE, P_ROOF_DRAIN, P_GA_LU_FT, P_GA_FUMAX,
 P_PAVE_CLOG, P_STOR_CLOG, P_REGEN_DAYS, P_REGEN_DEGREE) = range(32)
N_PARAMS = 32
"""Units: thicknesses, suction, offset m; KSAT, REUSE_RATE, ROOF_DRAIN m/s; SURF_ALPHA and
MAT_ALPHA (1/n)·√slope (m^(1/3)/s); WIDTH_PER_AREA 1/m; DRAIN_COEFF in SWMM's mm-units
(q mm/h = C·h_mm^η); DRAIN_DELAY s; GA_LU_FT Green-Ampt upper-zone depth in ft and GA_FUMAX
its saturated water volume (m), both derived by `lid_params`. PAVE_CLOG and STOR_CLOG (m): the
inflow depth that clogs the pavement / the storage layer's bottom completely (SWMM's Vclog
void volumes, converted by `lid_params`; 0 = never clogs); REGEN_DAYS (days) and REGEN_DEGREE
(0-1): the pavement's permeability regeneration."""

(S_SURF, S_SOIL, S_STOR, S_PAVE, S_GA_IMD, S_GA_F, S_GA_FU, S_GA_SAT, S_GA_T, S_DRY_TIME, S_OLD_DRAIN,
 S_CUM_INFLOW, S_CUM_EVAP, S_CUM_EXFIL, S_CUM_SURFACE, S_CUM_DRAIN, S_CUM_REUSE, S_GA_IMDMAX,
 S_VOL_TREATED, S_CLOCK, S_NEXT_REGEN) = range(21)
N_STATE = 21

F_SURFACE, F_DRAIN, F_EXFIL, F_EVAP, F_REUSE, F_INFLOW = range(6)
N_FLUX = 6

M_PER_FT = 0.3048
MM_H_PER_M_S = 1000.0 * 3600.0


# ---------------------------------------------------------------------------- Green-Ampt

@njit(cache=True)
def _ga_f2(f1, c1, ks, ts):
    """Cumulative infiltration after ts s of saturated Green-Ampt: solves the integrated form
    F2 − F1 − c1·ln((F2 + c1)/(F1 + c1)) = Ks·ts by Newton (direct form for short steps)."""
    f2min = f1 + ks * ts
    if c1 == 0.0:
        return f2min
    if ts < 10.0 and f1 > 0.01 * c1:
        return max(f1 + ks * (1.0 + c1 / f1) * ts, f2min)
    f2 = f1
    c2 = c1 * math.log(f1 + c1) - ks * ts
    for _ in range(20):
        step = (f2 - f1 - c1 * math.log(f2 + c1) + c2) / (1.0 - c1 / (f2 + c1))
        if abs(step) < 0.00001 * M_PER_FT:
            return max(f2, f2min)
        f2 -= step
    return f2min


@njit(cache=True)
def _ga_saturated(p, x, dt, ia, depth):
    """Green-Ampt with a saturated surface: the integrated equation over the step, capped by
    the water available (then the surface is no longer saturated)."""
    x[S_GA_T] = 5400.0 / p[P_GA_LU_FT]
    c1 = (p[P_SOIL_SUCTION] + depth) * x[S_GA_IMD]
    f2 = _ga_f2(x[S_GA_F], c1, p[P_SOIL_KSAT], dt)
    df = f2 - x[S_GA_F]
    if df > ia * dt:
        df = ia * dt
        x[S_GA_SAT] = 0.0
    x[S_GA_F] += df
    x[S_GA_FU] = min(x[S_GA_FU] + df, p[P_GA_FUMAX])
    return df / dt


@njit(cache=True)
def _green_ampt(p, x, dt, irate, depth):
    """Modified Green-Ampt infiltration rate (m/s) from a ponded surface into the soil
    (SWMM Reference Manual Vol. I §4.3, with Mein-Larson saturation time and an upper soil
    zone of depth L_u = 4√K_s (in, K_s in in/h) that recovers between events)."""
    ks = p[P_SOIL_KSAT]
    suction = p[P_SOIL_SUCTION]
    lu_ft = p[P_GA_LU_FT]
    fumax = p[P_GA_FUMAX]
    x[S_GA_T] -= dt
    ia = irate + depth / dt
    if ia < 0.0:
        ia = 0.0
    if x[S_GA_SAT] > 0.5:
        if ia <= 0.0:
            return 0.0
        return _ga_saturated(p, x, dt, ia, depth)
    if ia == 0.0:  # dry: the upper zone drains and the event clock runs down
        if x[S_GA_FU] <= 0.0:
            return 0.0
        df = lu_ft / 90000.0 * fumax * dt
        x[S_GA_F] -= df
        x[S_GA_FU] -= df
        if x[S_GA_FU] <= 0.0:
            x[S_GA_FU] = 0.0
            x[S_GA_F] = 0.0
            x[S_GA_IMD] = x[S_GA_IMDMAX]
            return 0.0
        if x[S_GA_T] <= 0.0:
            x[S_GA_IMD] = (fumax - x[S_GA_FU]) / (lu_ft * M_PER_FT)
            x[S_GA_F] = 0.0
        return 0.0
    if ia <= ks:
        df = ia * dt
        x[S_GA_F] += df
        x[S_GA_FU] = min(x[S_GA_FU] + df, fumax)
        return ia
    x[S_GA_T] = 5400.0 / lu_ft
    fs = ks * (suction + depth) * x[S_GA_IMD] / (ia - ks)  # volume at which the surface saturates
    if x[S_GA_F] > fs:
        x[S_GA_SAT] = 1.0
        return _ga_saturated(p, x, dt, ia, depth)
    if x[S_GA_F] + ia * dt < fs:
        df = ia * dt
        x[S_GA_F] += df
        x[S_GA_FU] = min(x[S_GA_FU] + df, fumax)
        return ia
    ts = max(dt - (fs - x[S_GA_F]) / ia, 0.0)
    c1 = (suction + depth) * x[S_GA_IMD]
    f2 = min(_ga_f2(fs, c1, ks, ts), fs + ia * ts)
    df = f2 - x[S_GA_F]
    x[S_GA_F] = f2
    x[S_GA_FU] = min(x[S_GA_FU] + df, fumax)
    x[S_GA_SAT] = 1.0
    return df / dt


# ---------------------------------------------------------------------------- layer fluxes

# Indices of the work vector `w` the flux routine fills (rates m/s, volume m).
(W_SURF_INFIL, W_SURF_EVAP, W_PAVE_EVAP, W_SOIL_EVAP, W_STOR_EVAP, W_PAVE_PERC, W_SOIL_PERC, W_STOR_EXFIL,
 W_STOR_DRAIN, W_SURF_OUT, W_REUSE, W_VOLUME) = range(12)
N_WORK = 12


@njit(cache=True)
def _evaporation(w, evap, dt, surface_vol, pave_vol, soil_vol, storage_vol, perv_frac):
    """Potential evaporation taken from the surface first, then (over the pervious share, and
    only while nothing infiltrates) from pavement, soil and storage in that order."""
    w[W_SURF_EVAP] = max(0.0, min(evap, surface_vol / dt))
    left = max(0.0, evap - w[W_SURF_EVAP]) * perv_frac
    if w[W_SURF_INFIL] > 0.0:
        w[W_PAVE_EVAP] = 0.0
        w[W_SOIL_EVAP] = 0.0
        w[W_STOR_EVAP] = 0.0
        return
    w[W_PAVE_EVAP] = min(left, pave_vol / dt)
    left = max(0.0, left - w[W_PAVE_EVAP])
    w[W_SOIL_EVAP] = min(left, soil_vol / dt)
    left = max(0.0, left - w[W_SOIL_EVAP])
    w[W_STOR_EVAP] = min(left, storage_vol / dt)


@njit(cache=True)
def _percolation(p, theta):
    """Soil percolation: unsaturated conductivity K_s·exp(−HCO·(φ − θ)) above field capacity."""
    if theta <= p[P_SOIL_FIELD_CAP]:
        return 0.0
    return p[P_SOIL_KSAT] * math.exp(-(p[P_SOIL_POROSITY] - theta) * p[P_SOIL_KSLOPE])


@njit(cache=True)
def _drain_rate(p, x, storage_depth, theta, pave_depth, surface_depth):
    """Underdrain q = C·(h − h_d)^η, h the water above the storage bottom (mm), q mm/h → m/s.
    A full storage layer adds the saturated share of the soil and the water above it."""
    if p[P_DRAIN_COEFF] <= 0.0:
        return 0.0
    head = storage_depth
    if storage_depth >= p[P_STOR_THICK]:
        if p[P_SOIL_THICK] > 0.0 and theta > p[P_SOIL_FIELD_CAP]:
            head += (theta - p[P_SOIL_FIELD_CAP]) / (p[P_SOIL_POROSITY] - p[P_SOIL_FIELD_CAP]) * p[P_SOIL_THICK]
            if theta >= p[P_SOIL_POROSITY]:
                head += pave_depth if p[P_PAVE_THICK] > 0.0 else surface_depth
        if p[P_PAVE_THICK] > 0.0:
            head += pave_depth
            if pave_depth >= p[P_PAVE_THICK]:
                head += surface_depth
    head -= p[P_DRAIN_OFFSET]
    if head <= 1e-12:
        return 0.0
    return p[P_DRAIN_COEFF] * (head * 1000.0) ** p[P_DRAIN_EXPON] / MM_H_PER_M_S


@njit(cache=True)
def _surface_outflow(p, depth, dt):
    """Manning outflow of the water above the berm: α·(d − d_berm)^(5/3)·W/A, at most all of it."""
    delta = depth - p[P_SURF_THICK]
    if delta < 0.0:
        return 0.0
    return min(p[P_SURF_ALPHA] * delta ** (5.0 / 3.0) * p[P_WIDTH_PER_AREA], delta / dt)


@njit(cache=True)
def _limit_storage_outflows(p, w, storage_depth, inflow, dt):
    """Exfiltration no more than the water there, drain only from above its offset."""
    void = p[P_STOR_VOID]
    w[W_STOR_EXFIL] = max(0.0, min(w[W_STOR_EXFIL], inflow - w[W_STOR_EVAP] + storage_depth * void / dt))
    if w[W_STOR_DRAIN] > 0.0:
        room = -w[W_STOR_EXFIL] - w[W_STOR_EVAP]
        if storage_depth >= p[P_STOR_THICK]:
            room += inflow
        if p[P_DRAIN_OFFSET] <= storage_depth:
            room += (storage_depth - p[P_DRAIN_OFFSET]) * void / dt
        w[W_STOR_DRAIN] = min(w[W_STOR_DRAIN], max(room, 0.0))


@njit(cache=True)
def _soil_perc_limited(p, w, theta, dt):
    """Percolation, at most the water above field capacity."""
    perc = _percolation(p, theta)
    avail = max((theta - p[P_SOIL_FIELD_CAP]) * p[P_SOIL_THICK], 0.0) / dt - w[W_SOIL_EVAP]
    return max(min(perc, avail), 0.0)


@njit(cache=True)
def _soil_over_storage(p, w, evap, dt, d_surf, theta, storage_vol):
    """Evaporation and soil percolation of a soil layer above a storage layer or drainage mat
    (no evaporation from below a saturated soil); returns the surface water volume."""
    surface_vol = d_surf * p[P_SURF_VOID]
    soil_thick = p[P_SOIL_THICK]
    _evaporation(w, evap, dt, surface_vol, 0.0, theta * soil_thick - p[P_SOIL_WILT] * soil_thick, storage_vol, 1.0)
    if theta >= p[P_SOIL_POROSITY]:
        w[W_STOR_EVAP] = 0.0
    w[W_SOIL_PERC] = _soil_perc_limited(p, w, theta, dt)
    return surface_vol


@njit(cache=True)
def _bioretention(p, x, inflow, evap, dt, w, f):
    d_surf, theta, d_stor = x[S_SURF], x[S_SOIL], x[S_STOR]
    soil_thick, porosity = p[P_SOIL_THICK], p[P_SOIL_POROSITY]
    stor_thick, void = p[P_STOR_THICK], p[P_STOR_VOID]
    surface_vol = _soil_over_storage(p, w, evap, dt, d_surf, theta, d_stor * void)
    w[W_STOR_EXFIL] = _storage_seepage(p, x)
    w[W_STOR_DRAIN] = _drain_rate(p, x, d_stor, theta, 0.0, d_surf)
    if stor_thick == 0.0:
        w[W_STOR_EVAP] = 0.0
        rate = min(w[W_SOIL_PERC], w[W_STOR_EXFIL])
        w[W_SOIL_PERC] = rate
        w[W_STOR_EXFIL] = rate
        w[W_SURF_INFIL] = min(w[W_SURF_INFIL], (porosity - theta) * soil_thick / dt + rate + w[W_SOIL_EVAP])
    elif theta >= porosity and d_stor >= stor_thick:
        # Both full: the slower of soil percolation and storage outflow sets every rate.
        rate = w[W_STOR_EXFIL] + w[W_STOR_DRAIN]
        if w[W_SOIL_PERC] < rate:
            rate = w[W_SOIL_PERC]
            if rate > w[W_STOR_EXFIL]:
                w[W_STOR_DRAIN] = rate - w[W_STOR_EXFIL]
            else:
                w[W_STOR_EXFIL] = rate
                w[W_STOR_DRAIN] = 0.0
        else:
            w[W_SOIL_PERC] = rate
        w[W_SURF_INFIL] = min(w[W_SURF_INFIL], rate)
    else:
        _limit_storage_outflows(p, w, d_stor, w[W_SOIL_PERC], dt)
        w[W_SOIL_PERC] = min(w[W_SOIL_PERC], w[W_STOR_EXFIL] + w[W_STOR_DRAIN] + w[W_STOR_EVAP]
                             + (stor_thick - d_stor) * void / dt)
        w[W_SURF_INFIL] = min(w[W_SURF_INFIL], (porosity - theta) * soil_thick / dt + w[W_SOIL_PERC] + w[W_SOIL_EVAP])
    w[W_SURF_OUT] = _surface_outflow(p, d_surf, dt)
    f[S_SURF] = (inflow - w[W_SURF_EVAP] - w[W_SURF_INFIL] - w[W_SURF_OUT]) / p[P_SURF_VOID]
    f[S_SOIL] = (w[W_SURF_INFIL] - w[W_SOIL_EVAP] - w[W_SOIL_PERC]) / soil_thick
    f[S_STOR] = 0.0 if stor_thick == 0.0 else (w[W_SOIL_PERC] - w[W_STOR_EVAP] - w[W_STOR_EXFIL] - w[W_STOR_DRAIN]) / void
    w[W_VOLUME] = surface_vol + theta * soil_thick + d_stor * void


@njit(cache=True)
def _green_roof(p, x, inflow, evap, dt, w, f):
    d_surf, theta, d_mat = x[S_SURF], x[S_SOIL], x[S_STOR]
    soil_thick, porosity = p[P_SOIL_THICK], p[P_SOIL_POROSITY]
    mat_thick, void = p[P_STOR_THICK], p[P_STOR_VOID]
    surface_vol = _soil_over_storage(p, w, evap, dt, d_surf, theta, d_mat * void)
    w[W_STOR_EXFIL] = 0.0
    # Drainage mat: Manning flow through the mat's voids (all percolation passes if no roughness).
    if p[P_MAT_ALPHA] > 0.0:
        w[W_STOR_DRAIN] = p[P_MAT_ALPHA] * d_mat ** (5.0 / 3.0) * p[P_WIDTH_PER_AREA] * void
    else:
        w[W_STOR_DRAIN] = w[W_SOIL_PERC]
    if theta >= porosity and d_mat >= mat_thick:
        rate = min(w[W_SOIL_PERC], w[W_STOR_DRAIN])
        w[W_SOIL_PERC] = rate
        w[W_STOR_DRAIN] = rate
        w[W_SURF_INFIL] = min(w[W_SURF_INFIL], rate)
    else:
        room = d_mat * void / dt - w[W_STOR_EVAP]
        if d_mat >= mat_thick:
            room += w[W_SOIL_PERC]
        w[W_STOR_DRAIN] = min(w[W_STOR_DRAIN], max(room, 0.0))
        w[W_SOIL_PERC] = min(w[W_SOIL_PERC], (mat_thick - d_mat) * void / dt + w[W_STOR_DRAIN] + w[W_STOR_EVAP])
        w[W_SURF_INFIL] = min(w[W_SURF_INFIL], (porosity - theta) * soil_thick / dt + w[W_SOIL_PERC] + w[W_SOIL_EVAP])
    w[W_SURF_OUT] = _surface_outflow(p, d_surf, dt)
    f[S_SURF] = (inflow - w[W_SURF_EVAP] - w[W_SURF_INFIL] - w[W_SURF_OUT]) / p[P_SURF_VOID]
    f[S_SOIL] = (w[W_SURF_INFIL] - w[W_SOIL_EVAP] - w[W_SOIL_PERC]) / soil_thick
    f[S_STOR] = (w[W_SOIL_PERC] - w[W_STOR_EVAP] - w[W_STOR_DRAIN]) / void
    w[W_VOLUME] = surface_vol + theta * soil_thick + d_mat * void


@njit(cache=True)
def _trench(p, x, inflow, evap, dt, w, f):
    d_surf, d_stor = x[S_SURF], x[S_STOR]
    stor_thick, void = p[P_STOR_THICK], p[P_STOR_VOID]
    surface_vol = d_surf * p[P_SURF_VOID]
    w[W_SURF_INFIL] = inflow  # while water enters, nothing evaporates from below the surface
    _evaporation(w, evap, dt, surface_vol, 0.0, 0.0, d_stor * void, 1.0)
    if d_surf > 0.0:
        w[W_STOR_EVAP] = 0.0
    to_storage = inflow + surface_vol / dt  # everything on the surface tries to enter the gravel
    w[W_STOR_EXFIL] = _storage_seepage(p, x)
    w[W_STOR_DRAIN] = _drain_rate(p, x, d_stor, 0.0, 0.0, d_surf)
    _limit_storage_outflows(p, w, d_stor, to_storage, dt)
    to_storage = min(to_storage, (stor_thick - d_stor) * void / dt + w[W_STOR_EXFIL] + w[W_STOR_EVAP] + w[W_STOR_DRAIN])
    w[W_SURF_INFIL] = to_storage
    w[W_SURF_OUT] = _surface_outflow(p, d_surf, dt)
    f[S_SURF] = (inflow - w[W_SURF_EVAP] - to_storage - w[W_SURF_OUT]) / p[P_SURF_VOID]
    f[S_STOR] = (to_storage - w[W_STOR_EVAP] - w[W_STOR_EXFIL] - w[W_STOR_DRAIN]) / void
    w[W_VOLUME] = surface_vol + d_stor * void


@njit(cache=True)
def _pavement_permeability(p, x):
    """Pavement permeability (m/s) reduced by clogging: in proportion to the inflow it has treated
    since its last regeneration, nothing left once that reaches PAVE_CLOG (SWMM lidproc.c)."""
    clog = p[P_PAVE_CLOG]
    if clog <= 0.0:
        return p[P_PAVE_KSAT]
    if p[P_REGEN_DAYS] > 0.0 and x[S_CLOCK] / 86400.0 >= x[S_NEXT_REGEN]:
        x[S_VOL_TREATED] *= 1.0 - p[P_REGEN_DEGREE]
        x[S_NEXT_REGEN] += p[P_REGEN_DAYS]
    return p[P_PAVE_KSAT] * (1.0 - min(x[S_VOL_TREATED] / clog, 1.0))


@njit(cache=True)
def _storage_seepage(p, x):
    """Seepage rate (m/s) from the storage layer into the native soil, reduced by clogging in
    proportion to the unit's whole inflow so far, nothing left once that reaches STOR_CLOG."""
    clog = p[P_STOR_CLOG]
    if clog <= 0.0:
        return p[P_STOR_KSAT]
    return p[P_STOR_KSAT] * (1.0 - min(x[S_CUM_INFLOW] / clog, 1.0))


@njit(cache=True)
def _pavement(p, x, inflow, evap, dt, w, f):
    d_surf, d_pave, theta, d_stor = x[S_SURF], x[S_PAVE], x[S_SOIL], x[S_STOR]
    perv = 1.0 - p[P_PAVE_IMPERV]
    pave_void = p[P_PAVE_VOID] * perv
    pave_thick, soil_thick, porosity = p[P_PAVE_THICK], p[P_SOIL_THICK], p[P_SOIL_POROSITY]
    stor_thick, void = p[P_STOR_THICK], p[P_STOR_VOID]
    surface_vol = d_surf * p[P_SURF_VOID]
    pave_vol = d_pave * pave_void
    _evaporation(w, evap, dt, surface_vol, pave_vol, theta * soil_thick - p[P_SOIL_WILT] * soil_thick, d_stor * void, perv)
    if d_pave >= pave_thick or (soil_thick > 0.0 and theta >= porosity):
        w[W_STOR_EVAP] = 0.0
    w[W_PAVE_PERC] = _pavement_permeability(p, x)
    w[W_SURF_INFIL] = min(inflow + surface_vol / dt, w[W_PAVE_PERC])  # pavement takes what its permeability allows
    w[W_PAVE_PERC] = min(w[W_PAVE_PERC], max(pave_vol / dt + w[W_SURF_INFIL] - w[W_PAVE_EVAP], 0.0))
    if soil_thick > 0.0:
        w[W_SOIL_PERC] = _soil_perc_limited(p, w, theta, dt)
    else:
        w[W_SOIL_PERC] = w[W_PAVE_PERC]
    w[W_STOR_EXFIL] = _storage_seepage(p, x)
    w[W_STOR_DRAIN] = _drain_rate(p, x, d_stor, theta, d_pave, d_surf)
    stor_full = d_stor >= stor_thick
    soil_full = soil_thick > 0.0 and theta >= porosity
    pave_full = d_pave >= pave_thick
    if soil_thick == 0.0 and stor_full and pave_full:
        out = w[W_STOR_EVAP] + w[W_STOR_DRAIN] + w[W_STOR_EXFIL]
        if w[W_PAVE_PERC] > out:
            w[W_PAVE_PERC] = out
        else:
            w[W_STOR_EXFIL] = min(w[W_STOR_EXFIL], w[W_PAVE_PERC])
            w[W_STOR_DRAIN] = w[W_PAVE_PERC] - w[W_STOR_EXFIL]
        w[W_SOIL_PERC] = w[W_PAVE_PERC]
        w[W_SURF_INFIL] = min(w[W_SURF_INFIL], w[W_PAVE_PERC])
    elif soil_full and stor_full and pave_full:
        rate = w[W_STOR_EXFIL] + w[W_STOR_DRAIN]
        rate = w[W_SOIL_PERC] if w[W_SOIL_PERC] < rate else min(rate, w[W_PAVE_PERC])
        if rate > w[W_STOR_EXFIL]:
            w[W_STOR_DRAIN] = rate - w[W_STOR_EXFIL]
        else:
            w[W_STOR_EXFIL] = rate
            w[W_STOR_DRAIN] = 0.0
        w[W_SOIL_PERC] = rate
        w[W_PAVE_PERC] = rate
        w[W_SURF_INFIL] = min(w[W_SURF_INFIL], rate)
    elif soil_full and stor_full:
        out = w[W_STOR_DRAIN] + w[W_STOR_EXFIL]
        if w[W_SOIL_PERC] > out:
            w[W_SOIL_PERC] = out
        else:
            w[W_STOR_EXFIL] = min(w[W_STOR_EXFIL], w[W_SOIL_PERC])
            w[W_STOR_DRAIN] = w[W_SOIL_PERC] - w[W_STOR_EXFIL]
        w[W_SURF_INFIL] = min(w[W_SURF_INFIL], (pave_thick - d_pave) * pave_void / dt + w[W_PAVE_PERC] + w[W_PAVE_EVAP])
    elif soil_full and pave_full:
        w[W_PAVE_PERC] = min(w[W_PAVE_PERC], w[W_SOIL_PERC])
        w[W_SOIL_PERC] = w[W_PAVE_PERC]
        w[W_SURF_INFIL] = min(w[W_SURF_INFIL], w[W_PAVE_PERC])
    else:
        _limit_storage_outflows(p, w, d_stor, w[W_SOIL_PERC], dt)
        room = max((stor_thick - d_stor) * void / dt + w[W_STOR_EVAP] + w[W_STOR_DRAIN] + w[W_STOR_EXFIL], 0.0)
        if soil_thick > 0.0:
            w[W_SOIL_PERC] = min(w[W_SOIL_PERC], room)
            room = (porosity - theta) * soil_thick / dt + w[W_SOIL_PERC]
        w[W_PAVE_PERC] = min(w[W_PAVE_PERC], room)
        w[W_SURF_INFIL] = min(w[W_SURF_INFIL], (pave_thick - d_pave) * pave_void / dt + w[W_PAVE_PERC] + w[W_PAVE_EVAP])
    w[W_SURF_OUT] = _surface_outflow(p, d_surf, dt)
    f[S_SURF] = inflow - w[W_SURF_EVAP] - w[W_SURF_INFIL] - w[W_SURF_OUT]
    f[S_PAVE] = (w[W_SURF_INFIL] - w[W_PAVE_EVAP] - w[W_PAVE_PERC]) / pave_void
    if soil_thick > 0.0:
        f[S_SOIL] = (w[W_PAVE_PERC] - w[W_SOIL_EVAP] - w[W_SOIL_PERC]) / soil_thick
        into_storage = w[W_SOIL_PERC]
    else:
        f[S_SOIL] = 0.0
        into_storage = w[W_PAVE_PERC]
        w[W_SOIL_PERC] = 0.0
    f[S_STOR] = (into_storage - w[W_STOR_EVAP] - w[W_STOR_EXFIL] - w[W_STOR_DRAIN]) / void
    w[W_VOLUME] = surface_vol + pave_vol + theta * soil_thick + d_stor * void


@njit(cache=True)
def _barrel(p, x, inflow, evap, dt, w, f):
    """Rain barrel / storage tank: reuse first (beyond SWMM), then the drain once the delay
    since the last rain has passed; inflow no more than the room left."""
    d_stor = x[S_STOR]
    w[W_REUSE] = min(p[P_REUSE_RATE], d_stor / dt) if p[P_REUSE_RATE] > 0.0 else 0.0
    w[W_STOR_DRAIN] = 0.0
    if p[P_DRAIN_DELAY] == 0.0 or x[S_DRY_TIME] >= p[P_DRAIN_DELAY]:
        head = d_stor - p[P_DRAIN_OFFSET]
        if head > 0.0:
            w[W_STOR_DRAIN] = min(_drain_rate(p, x, d_stor, 0.0, 0.0, 0.0), max(head / dt - w[W_REUSE], 0.0))
    accepted = min(inflow, (p[P_STOR_THICK] - d_stor) / dt + w[W_STOR_DRAIN] + w[W_REUSE])
    w[W_SURF_INFIL] = accepted
    f[S_SURF] = inflow - accepted
    f[S_STOR] = accepted - w[W_STOR_DRAIN] - w[W_REUSE]
    w[W_VOLUME] = d_stor


@njit(cache=True)
def _rooftop(p, x, inflow, evap, dt, w, f):
    """Rooftop disconnection: roof surface water goes to the roof drain up to its capacity,
    the rest overflows (onto pervious ground when the unit routes there)."""
    d_surf = x[S_SURF]
    _evaporation(w, evap, dt, d_surf, 0.0, 0.0, 0.0, 1.0)
    w[W_SURF_INFIL] = 0.0
    out = _surface_outflow(p, d_surf, dt) if p[P_SURF_ALPHA] > 0.0 else 0.0
    w[W_STOR_DRAIN] = min(p[P_ROOF_DRAIN], out)
    w[W_SURF_OUT] = out - w[W_STOR_DRAIN]
    f[S_SURF] = inflow - w[W_SURF_EVAP] - w[W_STOR_DRAIN] - w[W_SURF_OUT]
    w[W_VOLUME] = d_surf


# ---------------------------------------------------------------------------- the step

@njit(cache=True)
def lid_step(kind, params, state, inflow_m_s, evap_m_s, dt_s, fluxes):
    """Advance every LID unit one runoff step (see the module docstring for the arrays)."""
    n = kind.shape[0]
    w = np.zeros(N_WORK)
    f = np.zeros(4)
    for u in range(n):
        p = params[u]
        x = state[u]
        k = kind[u]
        inflow = inflow_m_s[u]
        evap = evap_m_s[u]
        for i in range(N_WORK):
            w[i] = 0.0
        for i in range(4):
            f[i] = 0.0
        # Infiltration from the surface into the soil (Green-Ampt) where a soil layer takes it.
        if k != KIND_PERMEABLE_PAVEMENT and k != KIND_RAIN_BARREL and k != KIND_ROOFTOP_DISCONNECTION \
                and p[P_SOIL_KSAT] > 0.0 and p[P_SOIL_THICK] > 0.0:
            w[W_SURF_INFIL] = _green_ampt(p, x, dt_s, inflow, x[S_SURF])
        if k == KIND_BIORETENTION:
            _bioretention(p, x, inflow, evap, dt_s, w, f)
        elif k == KIND_GREEN_ROOF:
            _green_roof(p, x, inflow, evap, dt_s, w, f)
        elif k == KIND_INFILTRATION_TRENCH:
            _trench(p, x, inflow, evap, dt_s, w, f)
        elif k == KIND_PERMEABLE_PAVEMENT:
            _pavement(p, x, inflow, evap, dt_s, w, f)
        elif k == KIND_RAIN_BARREL:
            _barrel(p, x, inflow, evap, dt_s, w, f)
        else:
            _rooftop(p, x, inflow, evap, dt_s, w, f)
        # Explicit Euler, each level kept within its layer (SWMM's LID integration).
        x[S_SURF] = max(x[S_SURF] + f[S_SURF] * dt_s, 0.0)
        if p[P_SOIL_THICK] > 0.0:
            x[S_SOIL] = min(max(x[S_SOIL] + f[S_SOIL] * dt_s, p[P_SOIL_WILT]), p[P_SOIL_POROSITY])
        if p[P_STOR_THICK] > 0.0:
            x[S_STOR] = min(max(x[S_STOR] + f[S_STOR] * dt_s, 0.0), p[P_STOR_THICK])
        if p[P_PAVE_THICK] > 0.0:
            x[S_PAVE] = min(max(x[S_PAVE] + f[S_PAVE] * dt_s, 0.0), p[P_PAVE_THICK])
        # Water above the berm spills at once where the surface has no Manning outflow; a
        # barrel has no surface: what it cannot take leaves straight away.
        if k == KIND_RAIN_BARREL:
            w[W_SURF_OUT] += x[S_SURF] / dt_s
            x[S_SURF] = 0.0
        elif p[P_SURF_OVERFLOW] > 0.0 and x[S_SURF] > p[P_SURF_THICK]:
            w[W_SURF_OUT] += (x[S_SURF] - p[P_SURF_THICK]) * p[P_SURF_VOID] / dt_s
            x[S_SURF] = p[P_SURF_THICK]
        drain = w[W_STOR_DRAIN]
        x[S_OLD_DRAIN] = drain
        # Time since rain, for a barrel's drain delay: counted after the step, as SWMM does.
        x[S_DRY_TIME] = 0.0 if inflow > 0.0 else x[S_DRY_TIME] + dt_s
        evap_total = w[W_SURF_EVAP] + w[W_PAVE_EVAP] + w[W_SOIL_EVAP] + w[W_STOR_EVAP]
        fluxes[u, F_SURFACE] = w[W_SURF_OUT]
        fluxes[u, F_DRAIN] = drain
        fluxes[u, F_EXFIL] = w[W_STOR_EXFIL]
        fluxes[u, F_EVAP] = evap_total
        fluxes[u, F_REUSE] = w[W_REUSE]
        fluxes[u, F_INFLOW] = inflow
        x[S_CUM_INFLOW] += inflow * dt_s
        x[S_CUM_EVAP] += evap_total * dt_s
        x[S_CUM_EXFIL] += w[W_STOR_EXFIL] * dt_s
        x[S_CUM_SURFACE] += w[W_SURF_OUT] * dt_s
        x[S_CUM_DRAIN] += drain * dt_s
        x[S_CUM_REUSE] += w[W_REUSE] * dt_s
        x[S_VOL_TREATED] += inflow * dt_s
        x[S_CLOCK] += dt_s


@njit(cache=True)
def stored_depth_m(kind, params, state):
    """Water held in each unit, m over its area (surface, pavement, soil and storage)."""
    n = kind.shape[0]
    out = np.zeros(n)
    for u in range(n):
        p = params[u]
        x = state[u]
        if kind[u] == KIND_RAIN_BARREL:
            out[u] = x[S_STOR]
            continue
        v = x[S_SURF] * p[P_SURF_VOID]
        v += x[S_PAVE] * p[P_PAVE_VOID] * (1.0 - p[P_PAVE_IMPERV])
        v += x[S_SOIL] * p[P_SOIL_THICK]
        v += x[S_STOR] * p[P_STOR_VOID]
        out[u] = v
    return out


# ---------------------------------------------------------------------------- set-up (plain Python)

KIND_OF_SWMM = {"BC": KIND_BIORETENTION, "RG": KIND_BIORETENTION, "GR": KIND_GREEN_ROOF, "IT": KIND_INFILTRATION_TRENCH,
                "PP": KIND_PERMEABLE_PAVEMENT, "RB": KIND_RAIN_BARREL, "RD": KIND_ROOFTOP_DISCONNECTION}


def lid_params(swmm_type: str, *, area_m2: float, width_m: float, surface=(0.0, 0.0, 0.0, 1.0), soil=None,
               pavement=None, storage=None, drain=None, drainmat=None, reuse_m3_per_day: float = 0.0,
               roof_drain_mm_h: float = 0.0) -> tuple[int, np.ndarray]:
    """(kind, params row) from the numbers of a SWMM [LID_CONTROLS] entry, in its SI units:

    surface = (berm mm, vegetation volume fraction, Manning n, slope %)
    soil = (thickness mm, porosity, field capacity, wilting point, Ksat mm/h, conductivity slope, suction mm)
    pavement = (thickness mm, void ratio, impervious fraction, permeability mm/h
                [, clogging factor, regeneration interval days, regeneration fraction])
    storage = (height mm, void ratio, seepage mm/h [, clogging factor])   — rain barrel: (height mm,)
    drain = (coefficient, exponent, offset mm, delay h)
    drainmat = (thickness mm, void fraction, Manning n)
    SWMM gives void *ratios* (voids/solids) for pavement and storage: the fraction is e/(1+e).
    A clogging factor (SWMM's Vclog) is the number of the layer's void volumes of inflow that clog
    it completely (0: never clogs).
    `reuse_m3_per_day` (beyond SWMM) is withdrawn from a barrel's storage while it holds water.
    """
    kind = KIND_OF_SWMM[swmm_type]
    p = np.zeros(N_PARAMS)
    mm, mm_h = 1e-3, 1e-3 / 3600.0
    berm, veg, n, slope_pct = surface
    p[P_SURF_THICK] = berm * mm
    p[P_SURF_VOID] = 1.0 - veg if veg < 1.0 else 1.0
    p[P_SURF_ALPHA] = math.sqrt(slope_pct / 100.0) / n if n > 0 else 0.0
    p[P_SURF_OVERFLOW] = 0.0 if (kind == KIND_ROOFTOP_DISCONNECTION or p[P_SURF_ALPHA] > 0.0) else 1.0
    p[P_WIDTH_PER_AREA] = width_m / area_m2
    if soil is not None:
        thick, porosity, fc, wp, ksat, kslope, suction = soil
        p[P_SOIL_THICK], p[P_SOIL_POROSITY], p[P_SOIL_FIELD_CAP], p[P_SOIL_WILT] = thick * mm, porosity, fc, wp
        p[P_SOIL_KSAT], p[P_SOIL_KSLOPE], p[P_SOIL_SUCTION] = ksat * mm_h, kslope, suction * mm
        # Mein-Larson upper zone as SWMM sizes it: L_u = 4·√(K_s in in/h) inches.
        p[P_GA_LU_FT] = 4.0 * math.sqrt(ksat / 25.4) / 12.0
    if pavement is not None:
        thick, void_ratio, imperv, perm, *more = pavement
        clog, regen_days, regen_degree = (list(more) + [0.0, 0.0, 0.0])[:3]
        p[P_PAVE_THICK], p[P_PAVE_VOID] = thick * mm, void_ratio / (1.0 + void_ratio)
        p[P_PAVE_IMPERV], p[P_PAVE_KSAT] = imperv, perm * mm_h
        p[P_PAVE_CLOG] = clog * p[P_PAVE_THICK] * p[P_PAVE_VOID] * (1.0 - imperv)
        p[P_REGEN_DAYS], p[P_REGEN_DEGREE] = regen_days, regen_degree
    if storage is not None:
        p[P_STOR_THICK] = storage[0] * mm
        if kind == KIND_RAIN_BARREL:
            p[P_STOR_VOID] = 1.0
        else:
            p[P_STOR_VOID] = storage[1] / (1.0 + storage[1])
            p[P_STOR_KSAT] = storage[2] * mm_h
            if len(storage) > 3:
                p[P_STOR_CLOG] = storage[3] * p[P_STOR_THICK] * p[P_STOR_VOID]
    if drainmat is not None:
        thick, void_frac, n_mat = drainmat
        p[P_STOR_THICK], p[P_STOR_VOID] = thick * mm, void_frac
        p[P_MAT_ALPHA] = math.sqrt(slope_pct / 100.0) / n_mat if n_mat > 0 else 0.0
    if drain is not None:
        coeff, expon, offset, delay_h = drain
        if kind == KIND_ROOFTOP_DISCONNECTION:
            p[P_ROOF_DRAIN] = coeff * mm_h
        else:
            p[P_DRAIN_COEFF], p[P_DRAIN_EXPON], p[P_DRAIN_OFFSET], p[P_DRAIN_DELAY] = coeff, expon, offset * mm, delay_h * 3600
    if roof_drain_mm_h:
        p[P_ROOF_DRAIN] = roof_drain_mm_h * mm_h
    p[P_REUSE_RATE] = reuse_m3_per_day / 86400.0 / area_m2
    return kind, p


def initial_state(kind: np.ndarray, params: np.ndarray, initial_saturation: float = 0.0,
                  dry_time_s: float = 0.0) -> np.ndarray:
    """State rows for units starting `initial_saturation` (0–1) full, SWMM's convention: soil at
    wilting point + sat·(porosity − wilting point), storage and mat at sat·thickness. Also sets
    each row's `P_GA_FUMAX` in `params` (the Green-Ampt upper zone depends on the start moisture)."""
    state = np.zeros((len(kind), N_STATE))
    for u, p in enumerate(params):
        x = state[u]
        if p[P_SOIL_THICK] > 0:
            x[S_SOIL] = p[P_SOIL_WILT] + initial_saturation * (p[P_SOIL_POROSITY] - p[P_SOIL_WILT])
            x[S_GA_IMDMAX] = x[S_GA_IMD] = p[P_SOIL_POROSITY] - x[S_SOIL]
            p[P_GA_FUMAX] = x[S_GA_IMDMAX] * p[P_GA_LU_FT] * M_PER_FT
        x[S_STOR] = initial_saturation * p[P_STOR_THICK]
        x[S_DRY_TIME] = dry_time_s
        x[S_NEXT_REGEN] = p[P_REGEN_DAYS]
    return state
