"""Turn a stormwater Model into the kernels' structure-of-arrays inputs, run them, build the Result.

Resolves the options SWMM would (time span and steps, defaults, node full depths from pipe
crowns, link offsets, slopes), lays rain out as one piecewise-constant table over all gauges,
packs curves and time series, and converts the kernel's totals and records into metrics,
series and viewer frames.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from . import kernels as K
from . import patterns as P
from .metrics import build_metrics, control_rate
from .model import (ENGINE_VERSION, CurveNumber, GreenAmpt, Horton, Model, Settings, StormwaterInputError)

SHAPES = {"CIRCULAR": K.SHAPE_CIRCULAR, "FORCE_MAIN": K.SHAPE_CIRCULAR, "RECT_CLOSED": K.SHAPE_RECT_CLOSED,
          "RECT_OPEN": K.SHAPE_RECT_OPEN, "TRAPEZOIDAL": K.SHAPE_TRAPEZOIDAL, "TRIANGULAR": K.SHAPE_TRIANGULAR}
FT = 0.3048


class EngineWarning(UserWarning):
    """The run differs from what the file asks in a named way (e.g. routing method fallback)."""


def _seconds(text: str, default: float) -> float:
    if not text:
        return default
    if ":" in text:
        parts = [float(p) for p in text.split(":")]
        while len(parts) < 3:
            parts.append(0.0)
        return parts[0] * 3600 + parts[1] * 60 + parts[2]
    return float(text)


def _date(text: str, time_text: str, where: str) -> datetime:
    try:
        month, day, year = (int(x) for x in text.split("/"))
        base = datetime(year, month, day)
    except ValueError:
        raise StormwaterInputError(f"{where}: date {text!r}, expected MM/DD/YYYY") from None
    return base + timedelta(seconds=_seconds(time_text, 0.0) if time_text else 0.0)


@dataclass
class Prepared:
    """Kernel inputs of one run, plus what is needed to name and scale the results."""

    model: Model
    settings: Settings
    args: tuple
    node_ids: list[str]
    link_ids: list[str]
    link_full_q: np.ndarray
    total_area_m2: float
    report_step_s: float
    t_end_s: float
    dynamic: bool
    lid_kind: np.ndarray
    lid_par: np.ndarray
    lid_area: np.ndarray
    rules: list = field(default_factory=list)   # control rules simulated (controls.Rule)
    rule_step_s: float = 0.0                     # [OPTIONS] RULE_STEP (0: after every routing step)
    start: datetime = datetime(2000, 1, 1)

    def run(self, progress=None):
        """Run the kernel; progress(fraction, message), if given, is called about twice a second.

        With control rules the run is cut at each rule evaluation (a SimPy process, controls.py) and
        resumed with the settings the rules chose; without, it is one kernel call."""
        from sim.result import Result, Series

        actions: list = []
        if self.rules:
            out = self._run_controlled(progress, actions)
        elif progress is None:
            out = K.run_system(*self.args)
        else:
            out = _watched(self.args, self.t_end_s, progress)
        totals, series, fr_depth, fr_q, fr_flood, flood_time, node_vols, lid_state = out
        rain, evap, infil, runoff_nodes, ponded = totals[0], totals[1], totals[2], totals[3], totals[4]
        lid_kept = 0.0
        if len(self.lid_area):
            from .kernels.lid import S_CUM_EVAP, S_CUM_EXFIL, S_CUM_REUSE, stored_depth_m

            # water held at the end less what the units held at the start (soil at wilting point...)
            stored = (stored_depth_m(self.lid_kind, self.lid_par, lid_state)
                      - stored_depth_m(self.lid_kind, self.lid_par, self.args[-5]))
            kept = lid_state[:, S_CUM_EVAP] + lid_state[:, S_CUM_EXFIL] + lid_state[:, S_CUM_REUSE] + stored
            lid_kept = float((kept * self.lid_area).sum())
        lateral, ext, outfall, flooding = totals[5], totals[6], totals[7], totals[8]
        store0, store1 = totals[9], totals[10]
        runoff_err = 100.0 * (rain - evap - infil - runoff_nodes - ponded - lid_kept) / rain if rain > 0 else 0.0
        route_in = lateral + store0   # lateral already holds the external and dry-weather inflow
        routing_err = 100.0 * (route_in - outfall - flooding - store1) / route_in if route_in > 0 else 0.0
        flooded = int(np.count_nonzero(flood_time > 0.0))
        # outfalls named in settings.not_outflow (e.g. a rain-reuse outlet) keep their water on the site
        kept = sum(node_vols[self.node_ids.index(n), 1] for n in self.settings.not_outflow if n in self.node_ids)
        values = {
            "rainfall_volume_m3": rain, "runoff_volume_m3": runoff_nodes, "infiltration_volume_m3": infil,
            "evaporation_volume_m3": evap, "lid_captured_volume_m3": lid_kept, "external_inflow_volume_m3": ext,
            "outfall_volume_m3": outfall, "peak_outfall_flow_m3s": totals[11], "flooding_volume_m3": flooding,
            "flooded_nodes": flooded, "max_flooding_duration_s": float(flood_time.max()) if flood_time.size else 0.0,
            "runoff_continuity_error_pct": runoff_err, "routing_continuity_error_pct": routing_err,
            "runoff_control_rate": control_rate(rain, outfall - kept, flooding), "routing_steps": totals[12],
            "reused_volume_m3": kept,
        }
        n = series.shape[0]
        times = np.arange(n, dtype=np.float64) * self.report_step_s
        result = Result(engine="stormwater", engine_version=ENGINE_VERSION, metrics=build_metrics(values),
                        series={"rain_mps": Series(times_s=times, values=series[:, 0], unit="m/s"),
                                "runoff_m3s": Series(times_s=times, values=series[:, 1], unit="m3/s"),
                                "outfall_flow_m3s": Series(times_s=times, values=series[:, 2], unit="m3/s"),
                                "flooding_m3s": Series(times_s=times, values=series[:, 3], unit="m3/s")})
        result.node_flooding_m3 = {n: float(v) for n, v in zip(self.node_ids, node_vols[:, 0]) if v > 0.0}
        result.node_flooding_s = {n: float(v) for n, v in zip(self.node_ids, flood_time) if v > 0.0}
        result.routing_iterations = int(totals[16])   # Picard iterations of the dynamic wave (speed reports)
        result.conduit_solves = int(totals[17])   # conduit momentum solves in them (bypassed links not counted)
        result.control_actions = actions   # (time s, link, new setting, rule) of every change a rule made
        if self.settings.keep_frames and fr_depth.shape[0] == n:
            stride = max(1, int(round(self.settings.frame_interval_s / self.report_step_s)))
            full = np.where(self.link_full_q > 0, self.link_full_q, np.nan)
            ratio = np.nan_to_num(np.abs(fr_q[::stride]) / full[None, :], nan=0.0).astype(np.float32)
            result.frames = {
                "times_s": times[::stride].copy(),
                "link_ids": np.array(self.link_ids, dtype=str),
                "link_flow_ratio": ratio,
                "node_ids": np.array(self.node_ids, dtype=str),
                "node_depth_m": fr_depth[::stride].astype(np.float32),
                "node_flooding_m3s": fr_flood[::stride].astype(np.float32),
            }
        return result


    def _run_controlled(self, progress, actions: list):
        """The kernel run in pieces between rule evaluations, driven by the SimPy rule process."""
        import time

        import simpy

        from .controller import rule_controller

        running = Running(self)
        env = simpy.Environment()
        env.process(rule_controller(env, running, self.rules, self.rule_step_s, self.start, actions))
        if progress is None:
            env.run()
        else:
            last = time.monotonic()
            while env.peek() < float("inf"):
                env.step()
                if time.monotonic() - last > 0.5:
                    last = time.monotonic()
                    days = f"{running.t / 86400:.1f} of {self.t_end_s / 86400:.1f} days"
                    progress(min(running.t / self.t_end_s, 1.0), days)
        return running.finish()




class Running:
    """A run that stops and resumes (pyswmm-style stepping): `advance(t)` routes to the end of the first
    step at or after t; node and link states are read by name; link settings changed between calls
    (pump on/off and speed, orifice and weir opening, conduit open/closed) apply from the next step.
    Without changes, the pieces add up bit for bit to one uninterrupted run (kernels.advance_system)."""

    def __init__(self, prepared: Prepared):
        self.prepared = prepared
        self.args = prepared.args
        self.arg = dict(zip(K.RUN_PARAMS, self.args))
        self.state = K.start_system(*[self.arg[n] for n in K.START_PARAMS])
        f = {name: k for k, name in enumerate(K.STATE_FIELDS)}
        for name in ("y", "q", "vol", "lat_new", "link_y", "pump_state", "link_setting", "sc"):
            setattr(self, "_" + name, self.state[f[name]])
        self.node_index = {n: i for i, n in enumerate(prepared.node_ids)}
        self.link_index = {n: k for k, n in enumerate(prepared.link_ids)}
        self.gage_index = {g: k for k, g in enumerate(prepared.model.raingages)}
        model = prepared.model
        n_link = len(prepared.link_ids)
        self.close_time = np.zeros(n_link)
        for name, o in model.orifices.items():
            self.close_time[self.link_index[name]] = o.close_time_s
        kind = self.arg["link_kind"]
        self.is_pump = kind == K.LINK_PUMP
        self.setting = np.where(self.is_pump, self._pump_state.astype(float), 1.0)
        self.target = self.setting.copy()
        self.time_last_set = np.zeros(n_link)
        self.t = 0.0
        self._watch_ready = False
        self.pid_memory: dict = {}   # (rule, branch, action) -> [e1, e2] of a PID setting

    # ---- clock
    @property
    def done(self) -> bool:
        return self.t >= self.prepared.t_end_s - 1e-9

    @property
    def step_s(self) -> float:
        """Length of the last routing step (s)."""
        return float(self._sc[K.SC_DT_LAST])

    @property
    def moving(self) -> bool:
        """An orifice gate still moving to its target (it moves a little every step)."""
        return bool(np.any(self.setting != self.target))

    @property
    def t_end(self) -> float:
        return self.prepared.t_end_s

    def advance(self, t_stop: float, watch=None) -> float:
        """Route to the end of the first step at or after t_stop (s); with a controls.Watch, stop earlier
        when a watched comparison changes truth or a pump is about to switch on its own depths."""
        if watch is None:
            self.t = float(K.advance_system(*self.args, self.state, t_stop, K.NO_WATCH_INT, K.NO_WATCH_CONST,
                                            K.NO_WATCH_LAST, False))
            self._sync_pumps()
        else:
            if not self._watch_ready:
                self._watch_ready = True
                t_rain = K.rain_probe_time(self.t, self.step_s, self._sc[K.SC_T_RUN_OLD], self._sc[K.SC_T_RUN_NEW])
                K.watch_update(watch.rows, watch.values, watch.last, t_rain, self._y, self.arg["invert"], self._vol,
                               self._lat_new, self._q, self._link_y, self.arg["rain_times"], self.arg["rain_rate"])
            self.t = float(K.advance_system(*self.args, self.state, t_stop, watch.rows, watch.values, watch.last,
                                            watch.stop_on_switch))
            self._sync_pumps()
        return self.t

    def _sync_pumps(self) -> None:
        """Pump settings as the kernel left them (its start-up / shut-off depths switch pumps between calls)."""
        for k in np.flatnonzero(self.is_pump):
            now = float(self._link_setting[k]) if self._pump_state[k] else 0.0
            if now != self.setting[k]:
                if (now > 0.0) != (self.setting[k] > 0.0):
                    self.time_last_set[k] = self.t
                self.setting[k] = now
                self.target[k] = now

    def finish(self):
        return K.finish_system(*K.finish_inputs(self.arg, self.state))

    # ---- reading
    def node_value(self, name: str, attribute: str) -> float:
        i = self.node_index[name]
        if attribute == "DEPTH":
            return float(self._y[i])
        if attribute == "HEAD":
            return float(self._y[i] + self.arg["invert"][i])
        if attribute == "VOLUME":
            return float(self._vol[i])
        if attribute == "INFLOW":   # lateral inflow (runoff, external, dry weather), as SWMM
            return float(self._lat_new[i])
        if attribute == "MAXDEPTH":
            return float(self.arg["full_depth"][i])
        raise KeyError(attribute)

    def link_value(self, name: str, attribute: str):
        k = self.link_index[name]
        if attribute == "FLOW":
            return float(self._q[k])
        if attribute == "DEPTH":
            return float(self._link_y[k])
        if attribute in ("STATUS", "SETTING"):
            return float(self.setting[k])
        if attribute in ("TIMEOPEN", "TIMECLOSED"):
            is_open = self.setting[k] > 0.0
            if is_open != (attribute == "TIMEOPEN"):
                return None
            return self.t - float(self.time_last_set[k])
        if attribute == "FULLFLOW":
            return float(self.prepared.link_full_q[k])
        if attribute == "FULLDEPTH":
            return float(self.arg["g1"][k])
        if attribute == "LENGTH":
            return float(self.arg["length"][k])
        if attribute == "SLOPE":
            return float(self.arg["slope"][k])
        raise KeyError(attribute)

    def rain_intensity(self, gage: str) -> float:
        """The gauge's rain rate (m/s) as SWMM's rules see it before the next step (K.rain_probe_time)."""
        times, rate = self.arg["rain_times"], self.arg["rain_rate"]
        t_rain = K.rain_probe_time(self.t, self.step_s, self._sc[K.SC_T_RUN_OLD], self._sc[K.SC_T_RUN_NEW])
        j = min(max(int(np.searchsorted(times, t_rain, side="right")) - 1, 0), rate.shape[0] - 1)
        return float(rate[j, self.gage_index[gage]])

    def curve_value(self, curve: str, x: float) -> float:
        """A curve's y at x (file units), linear between its points and held beyond them."""
        c = self.prepared.model.curves[curve]
        return float(np.interp(x, c.x, c.y))

    def series_value(self, series: str) -> float:
        """A time series' value now, linear between its points and held beyond them."""
        ts = self.prepared.model.timeseries[series]
        return float(np.interp(self.t, _series_times(ts, self.prepared.start), ts.values))

    # ---- settings
    def switch_pumps_on_depth(self) -> None:
        """Pumps with start-up / shut-off depths switch as the kernel would at the next step's start (then
        the rules may override), and the kernel is told not to switch them again for that step."""
        start, stop = self.arg["pump_start"], self.arg["pump_stop"]
        lf = self.arg["link_from"]
        for k in np.flatnonzero(self.is_pump):
            self.target[k] = self.setting[k]
            if self.arg["dynamic"] and start[k] > 0.0:
                if self._y[lf[k]] >= start[k]:
                    if self.setting[k] <= 0.0:
                        self.target[k] = 1.0
                elif self._y[lf[k]] <= stop[k]:
                    self.target[k] = 0.0
        self._sc[K.SC_SWITCHED] = 1.0

    def target_of(self, link: str) -> float:
        return float(self.target[self.link_index[link]])

    def set_target(self, link: str, value: float) -> bool:
        """Ask for a new setting; True when it differs from the target already set."""
        k = self.link_index[link]
        if self.target[k] == value:
            return False
        self.target[k] = value
        return True

    def move_settings(self) -> None:
        """Settings to their targets: at once, or for an orifice with a closing time, by the fraction of it
        one step takes (SWMM's gradual gate)."""
        for k in np.flatnonzero(self.setting != self.target):
            old, new = self.setting[k], self.target[k]
            if self.close_time[k] > 0.0:
                d = self.step_s / self.close_time[k]
                new = min(new, old + d) if new > old else max(new, old - d)
            if (old > 0.0) != (new > 0.0):
                self.time_last_set[k] = self.t
            self.setting[k] = new
            if self.is_pump[k]:
                self._pump_state[k] = new > 0.0
                if new > 0.0:
                    self._link_setting[k] = new
            else:
                self._link_setting[k] = new


def _watched(args: tuple, t_end_s: float, progress):
    """K.run_system(*args) while a thread reports its clock (args[-1], simulated s) as progress."""
    import threading

    clock = args[-1]
    clock[0] = 0.0
    done = threading.Event()

    def watch():
        while not done.wait(0.5):
            t = float(clock[0])
            progress(min(t / t_end_s, 1.0), f"{t / 86400:.0f} of {t_end_s / 86400:.0f} days")

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        return K.run_system(*args)
    finally:
        done.set()
        watcher.join()


def _pack(items: list[tuple[list[float], list[float]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m = max([len(x) for x, _ in items] + [1])
    cx = np.zeros((max(len(items), 1), m))
    cy = np.zeros_like(cx)
    cn = np.zeros(max(len(items), 1), dtype=np.int64)
    for k, (x, y) in enumerate(items):
        cx[k, :len(x)] = x
        cy[k, :len(y)] = y
        cn[k] = len(x)
    return cx, cy, cn


def read_rain_file(path: Path, station: str, where: str) -> list[tuple[float, float]]:
    """(unix-like seconds since 1900, value) records of a SWMM user rain file (STA YYYY MM DD HH mm value)."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise StormwaterInputError(f"{where}: rain file {path} cannot be read ({exc.strerror})") from None
    out = []
    for number, line in enumerate(lines, start=1):
        t = line.split(";")[0].split()
        if not t:
            continue
        if len(t) < 7 or (station and t[0] != station):
            if len(t) >= 7:
                continue
            raise StormwaterInputError(f"{path} line {number}: expected STA YYYY MM DD HH mm value")
        try:
            when = datetime(int(t[1]), int(t[2]), int(t[3]), int(t[4]), int(t[5]))
            out.append((when, float(t[6])))
        except ValueError:
            raise StormwaterInputError(f"{path} line {number}: bad date or value") from None
    return out


def prepare(model: Model, settings: Settings) -> Prepared:
    o = model.options
    src = model.source or "<model>"
    us = o.flow_units in ("CFS", "GPM", "MGD")
    length_u = FT if us else 1.0
    flow_u = {"CFS": FT ** 3, "GPM": 3.785411784e-3 / 60, "MGD": 3785.411784 / 86400, "CMS": 1.0, "LPS": 1e-3,
              "MLD": 1000 / 86400}[o.flow_units]
    start = _date(o.get("START_DATE", "01/01/2000"), o.get("START_TIME", "0:00"), f"{src} [OPTIONS] START_DATE")
    end = _date(o.get("END_DATE", o.get("START_DATE", "01/01/2000")), o.get("END_TIME", "0:00"),
                f"{src} [OPTIONS] END_DATE")
    t_end = (end - start).total_seconds()
    if t_end <= 0:
        raise StormwaterInputError(f"{src} [OPTIONS]: END_DATE/END_TIME must come after START_DATE/START_TIME")
    report = _seconds(o.get("REPORT_STEP"), 900.0)
    wet = _seconds(o.get("WET_STEP"), 300.0)
    dry = _seconds(o.get("DRY_STEP"), 3600.0)
    route = settings.routing_step_s or _seconds(o.get("ROUTING_STEP"), 20.0)
    routing = (settings.routing or o.routing).upper()
    var_step = float(o.get("VARIABLE_STEP", "0") or 0)
    min_step = float(o.get("MINIMUM_STEP", "0.5") or 0.5)
    min_surf = float(o.get("MIN_SURFAREA", "0") or 0) * length_u ** 2
    if min_surf <= 0:
        min_surf = 12.566 * FT ** 2   # SWMM default: 4 ft diameter manhole
    head_tol = float(o.get("HEAD_TOLERANCE", "0") or 0) * length_u or 0.005 * FT
    max_trials = int(float(o.get("MAX_TRIALS", "8") or 8)) or 8
    nfl = {"SLOPE": 1, "FROUDE": 2, "BOTH": 3, "NO": 0}.get(o.get("NORMAL_FLOW_LIMITED", "BOTH").upper(), 3)
    damping = {"NONE": 0, "PARTIAL": 1, "FULL": 2}.get(o.get("INERTIAL_DAMPING", "PARTIAL").upper(), 1)
    allow_ponding = o.get("ALLOW_PONDING", "NO").upper() == "YES"
    offsets_elev = o.get("LINK_OFFSETS", "DEPTH").upper() == "ELEVATION"
    ignore_rain = o.get("IGNORE_RAINFALL", "NO").upper() == "YES"

    # ---- nodes
    node_ids = model.node_names
    nidx = {n: i for i, n in enumerate(node_ids)}
    n_node = len(node_ids)
    node_kind = np.zeros(n_node, dtype=np.int64)
    invert = np.zeros(n_node)
    full_depth = np.zeros(n_node)
    sur_depth = np.zeros(n_node)
    ponded = np.zeros(n_node)
    y0 = np.zeros(n_node)
    st_a, st_b, st_c = np.zeros(n_node), np.zeros(n_node), np.zeros((n_node, 2))   # st_c: constant, y^2 terms
    st_curve = np.full(n_node, -1, dtype=np.int64)
    out_kind = np.zeros(n_node, dtype=np.int64)
    out_stage = np.zeros(n_node)
    out_curve = np.full(n_node, -1, dtype=np.int64)
    curves: list[tuple[list[float], list[float]]] = []
    curve_index: dict[str, int] = {}

    def add_curve(name: str, fx: float, fy: float) -> int:
        key = f"{name}|{fx}|{fy}"
        if key not in curve_index:
            c = model.curves[name]
            curve_index[key] = len(curves)
            curves.append(([x * fx for x in c.x], [v * fy for v in c.y]))
        return curve_index[key]

    series_list: list[tuple[list[float], list[float]]] = []
    series_index: dict[str, int] = {}

    def add_series(name: str, fy: float) -> int:
        key = f"{name}|{fy}"
        if key not in series_index:
            ts = model.timeseries[name]
            series_index[key] = len(series_list)
            series_list.append((_series_times(ts, start), [v * fy for v in ts.values]))
        return series_index[key]

    for name, j in model.junctions.items():
        i = nidx[name]
        invert[i], full_depth[i], y0[i] = j.invert_m, j.max_depth_m, j.init_depth_m
        sur_depth[i], ponded[i] = j.surcharge_depth_m, j.ponded_area_m2
    for name, of in model.outfalls.items():
        i = nidx[name]
        node_kind[i] = K.NODE_OUTFALL
        invert[i] = of.invert_m
        out_kind[i] = {"FREE": 0, "NORMAL": 1, "FIXED": 2, "TIDAL": 3, "TIMESERIES": 4}[of.kind]
        out_stage[i] = of.stage_m
        if of.kind == "TIDAL":
            out_curve[i] = add_curve(of.curve, 1.0, length_u)
        elif of.kind == "TIMESERIES":
            out_curve[i] = add_series(of.curve, length_u)
    for name, st in model.storages.items():
        i = nidx[name]
        node_kind[i] = K.NODE_STORAGE
        invert[i], full_depth[i], y0[i] = st.invert_m, st.max_depth_m, st.init_depth_m
        sur_depth[i] = st.surcharge_depth_m
        if st.shape == "FUNCTIONAL":
            st_a[i], st_b[i], st_c[i, 0] = st.coeff, st.exponent, st.constant_m2
        elif st.shape == "TABULAR":
            st_curve[i] = add_curve(st.curve, length_u, length_u ** 2)
        elif st.shape in ANALYTIC_STORAGE:
            st_b[i] = 1.0
            st_a[i], st_c[i, 0], st_c[i, 1] = _analytic_storage(st, length_u, f"{src} [STORAGE] {name}")
        else:
            raise StormwaterInputError(f"{src} [STORAGE] {name}: shape {st.shape} not supported "
                                       f"(FUNCTIONAL, TABULAR and {', '.join(ANALYTIC_STORAGE)} are)")

    # ---- links
    link_ids = model.link_names
    n_link = len(link_ids)
    arr = lambda dtype=float: np.zeros(n_link, dtype=dtype)  # noqa: E731
    link_kind, lf, lt = arr(np.int64), arr(np.int64), arr(np.int64)
    z1, z2, shape, g1, g2, g3, g4 = arr(), arr(), arr(np.int64), arr(), arr(), arr(), arr()
    rough, length, slope, barrels, q0, q_full = arr(), arr(), arr(), arr(), arr(), arr()
    gated, gated_to = arr(np.bool_), arr(np.bool_)
    weir_kind, weir_cw, weir_endcon, weir_endcoeff = arr(np.int64), arr(), arr(), arr()
    weir_surcharge = arr(np.bool_)
    orif_kind, orif_cd = arr(np.int64), arr()
    pump_type, pump_curve, pump_on, pump_start, pump_stop = arr(np.int64), arr(np.int64), arr(np.bool_), arr(), arr()
    outlet_coeff, outlet_expon, outlet_curve, outlet_head = arr(), arr(), arr(np.int64), arr(np.bool_)
    barrels[:] = 1.0
    pump_curve[:] = -1
    outlet_curve[:] = -1

    def set_xs(k, name, xs, section):
        if xs is None:
            raise StormwaterInputError(f"{src} [XSECTIONS]: {name} has no cross-section")
        if xs.shape not in SHAPES:
            raise StormwaterInputError(f"{src} [XSECTIONS] {name}: shape {xs.shape} not supported "
                                       f"(supported: {', '.join(SHAPES)})")
        shape[k] = SHAPES[xs.shape]
        g1[k], g2[k], g3[k], g4[k] = xs.geom1_m, xs.geom2_m, xs.geom3_m, xs.geom4_m
        if xs.shape == "TRIANGULAR" and xs.geom1_m <= 0:
            raise StormwaterInputError(f"{src} [XSECTIONS] {name}: TRIANGULAR needs a height")
        if g1[k] <= 0:
            raise StormwaterInputError(f"{src} [XSECTIONS] {name}: Geom1 must be > 0")
        barrels[k] = max(xs.barrels, 1)

    for k, name in enumerate(link_ids):
        if name in model.conduits:
            c = model.conduits[name]
            link_kind[k] = K.LINK_CONDUIT
            lf[k], lt[k] = nidx[c.from_node], nidx[c.to_node]
            set_xs(k, name, c.xsection, "CONDUITS")
            z1[k] = c.in_offset_m - (invert[lf[k]] if offsets_elev else 0.0)
            z2[k] = c.out_offset_m - (invert[lt[k]] if offsets_elev else 0.0)
            if c.length_m <= 0 or c.roughness <= 0:
                raise StormwaterInputError(f"{src} [CONDUITS] {name}: Length and Roughness must be > 0")
            rough[k], length[k] = c.roughness, c.length_m
            dz = (invert[lf[k]] + z1[k]) - (invert[lt[k]] + z2[k])
            min_slope = float(o.get("MIN_SLOPE", "0") or 0) / 100.0
            slope[k] = dz / c.length_m
            if abs(slope[k]) < min_slope:
                slope[k] = math.copysign(min_slope, slope[k] if slope[k] != 0 else 1.0)
            q0[k] = c.init_flow_m3s
            q_full[k] = K.manning_flow(shape[k], g1[k], g2[k], g3[k], g4[k], rough[k], abs(slope[k]),
                                       g1[k]) * barrels[k]
        elif name in model.pumps:
            p = model.pumps[name]
            link_kind[k] = K.LINK_PUMP
            lf[k], lt[k] = nidx[p.from_node], nidx[p.to_node]
            g1[k] = 1.0
            pump_on[k] = p.init_on
            pump_start[k], pump_stop[k] = p.startup_depth_m, p.shutoff_depth_m
            if p.curve == "*":
                pump_type[k] = 0
            else:
                kind = model.curves[p.curve].kind
                types = {"PUMP1": 1, "PUMP2": 2, "PUMP3": 3, "PUMP4": 4}
                if kind not in types:
                    raise StormwaterInputError(f"{src} [PUMPS] {name}: curve {p.curve} is {kind}, not PUMP1-4")
                pump_type[k] = types[kind]
                fx = length_u ** 3 if kind == "PUMP1" else length_u
                pump_curve[k] = add_curve(p.curve, fx, flow_u)
        elif name in model.orifices:
            r = model.orifices[name]
            link_kind[k] = K.LINK_ORIFICE
            lf[k], lt[k] = nidx[r.from_node], nidx[r.to_node]
            set_xs(k, name, r.xsection, "ORIFICES")
            z1[k] = r.offset_m - (invert[lf[k]] if offsets_elev else 0.0)
            orif_kind[k] = 0 if r.kind == "SIDE" else 1
            orif_cd[k] = r.discharge_coeff
            gated[k] = r.gated
        elif name in model.outlets:
            ot = model.outlets[name]
            link_kind[k] = K.LINK_OUTLET
            lf[k], lt[k] = nidx[ot.from_node], nidx[ot.to_node]
            z1[k] = max(ot.offset_m - (invert[lf[k]] if offsets_elev else 0.0), 0.0)   # SWMM: none below 0
            outlet_head[k] = ot.kind.endswith("/HEAD")
            if ot.kind.startswith("TABULAR"):
                outlet_curve[k] = add_curve(ot.curve, length_u, flow_u)
            else:
                outlet_coeff[k], outlet_expon[k] = ot.coeff, ot.exponent
            gated[k] = ot.gated
        else:
            w = model.weirs[name]
            link_kind[k] = K.LINK_WEIR
            lf[k], lt[k] = nidx[w.from_node], nidx[w.to_node]
            set_xs(k, name, w.xsection, "WEIRS")
            z1[k] = w.crest_height_m - (invert[lf[k]] if offsets_elev else 0.0)
            weir_kind[k] = {"TRANSVERSE": 0, "SIDEFLOW": 1, "V-NOTCH": 2, "TRAPEZOIDAL": 3}.get(w.kind, -1)
            if weir_kind[k] < 0:
                raise StormwaterInputError(f"{src} [WEIRS] {name}: type {w.kind} not supported")
            weir_cw[k], weir_endcon[k], weir_endcoeff[k] = w.discharge_coeff, w.end_contractions, w.end_coeff
            weir_surcharge[k] = w.surcharge
            gated[k] = w.gated
    # node full depth from the highest pipe crown when the file gives 0 (as SWMM does)
    crown = np.zeros(n_node)
    out_link = np.full(n_node, -1, dtype=np.int64)
    for k in range(n_link):
        for node, z in ((lf[k], z1[k]), (lt[k], z2[k])):
            if link_kind[k] == K.LINK_CONDUIT:
                crown[node] = max(crown[node], z + g1[k])
            if node_kind[node] == K.NODE_OUTFALL and out_link[node] < 0:
                out_link[node] = k
        if node_kind[lt[k]] == K.NODE_OUTFALL and model.outfalls[node_ids[lt[k]]].gated:
            gated_to[k] = True
            if link_kind[k] == K.LINK_OUTLET:
                gated[k] = True   # no water back out of a flap-gated outfall (SWMM's link_setFlapGate)
    # an orifice's, weir's or outlet's opening below its outlet node's invert is raised to it, as SWMM's
    # link_validate does under dynamic wave (the only routing here for systems with them)
    for k in range(n_link):
        if link_kind[k] in (K.LINK_ORIFICE, K.LINK_WEIR, K.LINK_OUTLET) and invert[lf[k]] + z1[k] < invert[lt[k]]:
            z1[k] = invert[lt[k]] - invert[lf[k]]
    # a node's full depth reaches the top of the links it joins, as SWMM's link_validate does (junctions, and
    # storage units that may surcharge): every link but a pump or a bottom orifice at its upstream end (an
    # outlet's top is its opening), conduits at their downstream end too
    for k in range(n_link):
        if link_kind[k] == K.LINK_PUMP or (link_kind[k] == K.LINK_ORIFICE and orif_kind[k] == 1):
            continue
        height = 0.0 if link_kind[k] == K.LINK_OUTLET else g1[k]
        ends = ((lf[k], z1[k]), (lt[k], z2[k])) if link_kind[k] == K.LINK_CONDUIT else ((lf[k], z1[k]),)
        for node, z in ends:
            if node_kind[node] == K.NODE_JUNCTION or (node_kind[node] == K.NODE_STORAGE and sur_depth[node] > 0.0):
                full_depth[node] = max(full_depth[node], z + height)

    # ---- routing method (kinematic wave needs a tree of conduits with one outlet per junction)
    dynamic = routing == "DYNWAVE"
    kin_order = np.zeros(0, dtype=np.int64)
    if not dynamic:
        reason = ""
        outlets = link_kind == K.LINK_OUTLET
        if ((link_kind != K.LINK_CONDUIT) & ~outlets).any():
            reason = "pumps, orifices or weirs"
        elif (node_kind[lf[outlets]] != K.NODE_STORAGE).any():
            reason = "an outlet that does not leave a storage unit"
        else:
            outs = np.bincount(lf, minlength=n_node) if n_link else np.zeros(n_node, dtype=np.int64)
            if ((outs > 1) & (node_kind != K.NODE_STORAGE)).any():
                reason = "a node other than a storage unit with more than one outlet link"
        if not reason:
            try:
                kin_order = _topological_order(lf, lt, n_node)
            except ValueError:
                reason = "a loop of conduits"
        if reason:
            warnings.warn(f"{src}: kinematic wave here handles trees of conduits, storage units and their outlets "
                          f"only; the system has {reason}, so it is routed by dynamic wave", EngineWarning, stacklevel=3)
            dynamic = True
    if not dynamic:
        # kinematic wave: a junction no conduit leaves is an outlet, as in SWMM (routing.c isOutletNode:
        # outside dynamic wave, nodes with no outflow link); its inflow leaves the system there
        outs = np.bincount(lf, minlength=n_node) if n_link else np.zeros(n_node, dtype=np.int64)
        for i in range(n_node):
            if node_kind[i] == K.NODE_JUNCTION and outs[i] == 0:
                node_kind[i] = K.NODE_OUTFALL
                out_kind[i] = 0  # FREE
                incoming = np.flatnonzero(lt == i)
                out_link[i] = incoming[0] if len(incoming) else -1
        # kinematic wave: a conduit takes at most its full-bore Manning flow (SWMM's cap); the rest floods
        q_full = np.array([K.manning_flow(shape[k], g1[k], g2[k], g3[k], g4[k], rough[k], max(slope[k], 1e-6),
                                          g1[k]) * barrels[k] if link_kind[k] == K.LINK_CONDUIT else 0.0
                           for k in range(n_link)])

    # ---- subcatchments
    subs = list(model.subcatchments.values())
    sidx = {s.name: j for j, s in enumerate(subs)}
    gages = list(model.raingages)
    gidx = {g: k for k, g in enumerate(gages)}
    n_sub = len(subs)
    area = np.zeros(n_sub)
    frac = np.zeros((n_sub, 3))
    alpha = np.zeros((n_sub, 3))
    dstore = np.zeros((n_sub, 3))
    f_outlet = np.ones((n_sub, 3))
    route_to = np.zeros(n_sub, dtype=np.int64)
    out_sub = np.full(n_sub, -1, dtype=np.int64)
    out_node = np.full(n_sub, -1, dtype=np.int64)
    gage = np.zeros(n_sub, dtype=np.int64)
    infil_kind = np.zeros(n_sub, dtype=np.int64)
    infil_par = np.zeros((n_sub, 6))
    infil_state = np.zeros((n_sub, 6))
    lid_area = {}
    for u in model.lid_usage:
        lid_area[u.subcatchment] = lid_area.get(u.subcatchment, 0.0) + u.number * u.area_m2
    for j, s in enumerate(subs):
        a = max(s.area_m2 - lid_area.get(s.name, 0.0), 0.0)
        area[j] = a
        fi = s.imperv_frac
        frac[j] = (fi * s.zero_imperv_frac, fi * (1 - s.zero_imperv_frac), 1 - fi)
        root = math.sqrt(max(s.slope, 0.0))
        for i, (sub_area, n) in enumerate(((fi * a, s.n_imperv), (fi * a, s.n_imperv), ((1 - fi) * a, s.n_perv))):
            alpha[j, i] = s.width_m * root / (n * sub_area) if sub_area > 0 and n > 0 else 0.0
        dstore[j] = (0.0, s.dstore_imperv_m, s.dstore_perv_m)
        if s.route_to == "PERVIOUS" and frac[j, 2] > 0:
            route_to[j] = 2
            f_outlet[j, 0] = f_outlet[j, 1] = 1 - s.routed_frac
        elif s.route_to == "IMPERVIOUS" and frac[j, 1] > 0:
            route_to[j] = 1
            f_outlet[j, 2] = 1 - s.routed_frac
        if s.outlet in sidx:
            out_sub[j] = sidx[s.outlet]
        else:
            out_node[j] = nidx[s.outlet]
        gage[j] = gidx[s.gage]
    for j, s in enumerate(subs):
        k = out_sub[j]
        if k >= 0 and k != j and area[k] <= 0.001 * subs[k].area_m2:
            # SWMM sends such run-on into the LID units; here it would land on no area at all
            raise StormwaterInputError(
                f"{src} [SUBCATCHMENTS] {s.name}: runs on to {subs[k].name}, whose LID units cover all of it "
                f"(non-LID area {area[k]:g} m2): run-on into LID units is not simulated — leave part of "
                f"{subs[k].name} outside its LID units or send {s.name} to a node")
        f = s.infiltration
        if isinstance(f, Horton):
            infil_kind[j] = K.INFIL_HORTON
            kr = -math.log(1 - 0.98) / f.dry_time_s if f.dry_time_s > 0 else 0.0
            infil_par[j, :5] = (f.max_rate_mps, f.min_rate_mps, f.decay_per_s, kr, f.max_volume_m)
        elif isinstance(f, GreenAmpt):
            infil_kind[j] = K.INFIL_MOD_GREEN_AMPT if f.modified else K.INFIL_GREEN_AMPT
            ks_in_h = f.conductivity_mps / (0.0254 / 3600)
            lu_ft = 4.0 * math.sqrt(ks_in_h) / 12.0
            infil_par[j] = (f.suction_m, f.conductivity_mps, f.initial_deficit, lu_ft * FT,
                            lu_ft / 90000.0, 5400.0 / lu_ft if lu_ft > 0 else 0.0)
            infil_state[j, 0] = f.initial_deficit
        elif isinstance(f, CurveNumber):
            infil_kind[j] = K.INFIL_CURVE_NUMBER
            cn = min(max(f.curve_number, 10.0), 99.0)
            smax = (1000.0 / cn - 10.0) * 0.0254
            regen = 1.0 / f.dry_time_s if f.dry_time_s > 0 else 0.0
            infil_par[j, :3] = (smax, regen, 0.06 / regen if regen > 0 else 1e30)
            infil_state[j, 0] = smax
            infil_state[j, 4] = smax
    # ---- rain: one piecewise-constant table over all gauges (and evaporation months)
    rain_times, rain_rate = _rain_table(model, gages, start, t_end, src, ignore_rain)
    evap = model.evaporation
    month_breaks = []
    if evap.kind == "MONTHLY":
        d = datetime(start.year, start.month, 1)
        while True:
            d = datetime(d.year + (d.month == 12), d.month % 12 + 1, 1)
            ts = (d - start).total_seconds()
            if ts >= t_end:
                break
            month_breaks.append(ts)
    if month_breaks:
        merged = np.union1d(rain_times, np.array(month_breaks))
        idx = np.searchsorted(rain_times, merged[:-1], side="right") - 1
        rain_rate = rain_rate[idx]
        rain_times = merged
    mids = rain_times[:-1]
    if evap.kind == "MONTHLY":
        evap_rate = np.array([evap.rates_mps[(start + timedelta(seconds=float(t))).month - 1] for t in mids])
    elif evap.kind == "CONSTANT":
        evap_rate = np.full(len(mids), evap.rates_mps[0])
    else:
        evap_rate = np.zeros(len(mids))

    # ---- external and dry-weather inflows
    const_inflow = np.zeros(n_node)
    inflow_node, inflow_series, inflow_factor = [], [], []
    patterns = P.parse_patterns(model.extra_sections.get("PATTERNS", []), src)
    pattern_series: dict[tuple, int] = {}

    def add_pattern_series(kind: str, pats: list) -> int:
        """Index of the step series of these patterns' multipliers over the run (patterns.py)."""
        key = (kind, tuple(p.name for p in pats))
        if key not in pattern_series:
            if kind == "DWF":
                times, values = P.multiplier_steps(lambda when: P.dwf_multiplier(pats, when), start, t_end)
            else:
                times, values = P.multiplier_steps(lambda when: P.baseline_multiplier(pats[0], when), start, t_end)
            pattern_series[key] = len(series_list)
            series_list.append((times, values))
        return pattern_series[key]

    def add_steady(node: str, flow_m3s: float, kind: str, pats: list) -> None:
        """A steady flow at a node, or one following its time patterns (a step series)."""
        if pats and flow_m3s != 0.0:
            inflow_node.append(nidx[node])
            inflow_series.append(add_pattern_series(kind, pats))
            inflow_factor.append(flow_m3s)
        else:
            const_inflow[nidx[node]] += flow_m3s

    for f in model.inflows:
        add_steady(f.node, f.baseline_m3s, "BASELINE", P.lookup(patterns, [f.pattern], f"{src} [INFLOWS] {f.node}"))
        if f.series:
            inflow_node.append(nidx[f.node])
            inflow_series.append(add_series(f.series, 1.0))
            inflow_factor.append(f.sfactor * f.mfactor * f.series_factor_m3s)
    for d in model.dwf:
        add_steady(d.node, d.average_m3s, "DWF", P.lookup(patterns, d.patterns, f"{src} [DWF] {d.node}"))
    cx, cy, cn = _pack(curves)
    ser_t, ser_v, ser_n = _pack(series_list)
    lid = _lid_arrays(model, sidx, nidx, us, src)

    if settings.bypass_trial < 2:
        raise ValueError(f"Settings.bypass_trial {settings.bypass_trial}: 2 or more (the first trial of a step "
                         "solves every link)")
    report = max(report, 1.0)
    n_frames = int(t_end // report) + 1
    keep = settings.keep_frames and n_frames * max(n_node + n_link, 1) <= 20_000_000
    args = (t_end, wet, dry, route, var_step if dynamic else 0.0, min_step, report, max_trials, head_tol,
            dynamic, nfl, damping, allow_ponding, min_surf, settings.skip_dry_routing, settings.tail_step_fraction,
            settings.substep_share, settings.bypass_trial,
            start.hour + start.minute / 60 + start.second / 3600,
            rain_times, rain_rate, evap_rate, evap.dry_only,
            area, frac, alpha, dstore, f_outlet, route_to, out_sub, out_node, gage, infil_kind, infil_par, infil_state,
            ser_t, ser_v, ser_n, np.array(inflow_node, dtype=np.int64), np.array(inflow_series, dtype=np.int64),
            np.array(inflow_factor, dtype=float), const_inflow,
            node_kind, invert, full_depth, sur_depth, ponded, y0, st_a, st_b, st_c, st_curve,
            out_kind, out_stage, out_curve, crown, out_link, cx, cy, cn,
            link_kind, lf, lt, z1, z2, shape, g1, g2, g3, g4, rough, length, slope, barrels, q0, q_full,
            gated, gated_to, weir_kind, weir_cw, weir_endcon, weir_endcoeff, weir_surcharge, orif_kind, orif_cd,
            pump_type, pump_curve, pump_on, pump_start, pump_stop, outlet_coeff, outlet_expon, outlet_curve,
            outlet_head, kin_order,
            *_xs_tables(link_kind, shape, g1, g2, g3, g4, rough, slope), *lid, n_frames, keep, K.RES_TABLES, np.zeros(1))
    full_for_ratio = np.array([q_full[k] if link_kind[k] == K.LINK_CONDUIT else 0.0 for k in range(n_link)])
    return Prepared(model=model, settings=settings, args=args, node_ids=node_ids, link_ids=link_ids,
                    link_full_q=full_for_ratio, total_area_m2=float(area.sum()), report_step_s=report,
                    t_end_s=t_end, dynamic=dynamic, lid_kind=lid[6], lid_par=lid[7], lid_area=lid[1],
                    rules=_rules_to_run(model, dynamic, src), rule_step_s=_seconds(o.get("RULE_STEP"), 0.0),
                    start=start)


ANALYTIC_STORAGE = ("CYLINDRICAL", "CONICAL", "PARABOLIC", "PYRAMIDAL")


def _analytic_storage(st, length_u: float, where: str) -> tuple[float, float, float]:
    """SWMM 5.2's storage shapes as area = a1 d + a0 + a2 d^2 (m2; SWMM User's Manual, Storage Units):
    L and W (base, or for a paraboloid top, lengths), Z the side slope (run / rise) or a paraboloid's height."""
    try:
        length, width, z = (float(v) for v in st.raw_shape[:3])
    except ValueError:
        raise StormwaterInputError(f"{where}: {st.shape} needs numbers L W Z") from None
    length, width = length * length_u, width * length_u
    if length <= 0 or width <= 0 or z < 0 or (st.shape == "PARABOLIC" and z == 0):
        raise StormwaterInputError(f"{where}: {st.shape} needs L, W > 0 and Z >= 0 (a paraboloid's Z > 0)")
    a, b = length / 2.0, width / 2.0   # semi-axes of an elliptical base or top
    if st.shape == "CYLINDRICAL":
        return 0.0, math.pi * a * b, 0.0
    if st.shape == "CONICAL":
        return 2.0 * math.pi * b * z, math.pi * a * b, math.pi * b / a * z * z
    if st.shape == "PARABOLIC":   # a paraboloid
        return math.pi * a * b / (z * length_u), 0.0, 0.0
    return 2.0 * (length + width) * z, length * width, 4.0 * z * z   # PYRAMIDAL


def _rules_to_run(model: Model, dynamic: bool, src: str) -> list:
    """The model's control rules the run evaluates (those io.py could not read are already named)."""
    rules = model.controls.active
    if not dynamic:
        for r in rules:
            for a in (*r.then_actions, *r.else_actions):
                if a.obj == "CONDUIT":
                    raise StormwaterInputError(f"{src} [CONTROLS] rule {r.name}: CONDUIT {a.name} STATUS is "
                                               f"simulated in dynamic wave only (FLOW_ROUTING DYNWAVE)")
            for p in r.premises:
                for v in (p.lhs, p.rhs):
                    if v is not None and v.attribute == "DEPTH" and v.obj != "NODE":
                        raise StormwaterInputError(f"{src} [CONTROLS] rule {r.name}: LINK {v.name} DEPTH is "
                                                   f"simulated in dynamic wave only (FLOW_ROUTING DYNWAVE)")
    return rules


_XS_ROWS: dict[tuple, tuple] = {}   # K.xs_table of a unit-height shape, by _xs_tables' key (read-only rows)


def _xs_tables(link_kind, shape, g1, g2, g3, g4, rough, slope) -> tuple:
    """Tabulated geometry of the conduits (K.xs_table), one table per distinct normalised shape (all
    circular pipes share one): rows for the kinematic wave (section factor, depth, area) and the
    dynamic wave's free ends (normal and critical depth), and per conduit A_full, a_max, S_max,
    beta = S^1/2 / n, Qc_max."""
    n_link = len(link_kind)
    link_tab = np.zeros(n_link, dtype=np.int64)
    a_full, a_max, s_max, beta, qc_max = (np.zeros(n_link) for _ in range(5))
    rows: list[tuple] = []
    index: dict[tuple, int] = {}
    for k in range(n_link):
        if link_kind[k] != K.LINK_CONDUIT:
            continue
        # geometry scaled to a unit height: circular pipes all alike, other shapes by their proportions
        key = (int(shape[k]), 0.0 if shape[k] == K.SHAPE_CIRCULAR else round(g2[k] / g1[k], 12),
               round(g3[k], 12), round(g4[k], 12))
        if key not in index:
            index[key] = len(rows)
            if key not in _XS_ROWS:   # the same shapes in every run of a session or an ensemble
                _XS_ROWS[key] = K.xs_table(key[0], 1.0, key[1], key[2], key[3], K.XS_TABLE_N)
            rows.append(_XS_ROWS[key])
        row = rows[index[key]]
        link_tab[k] = index[key]
        a_max[k] = row[5]
        s_max[k] = row[6] * g1[k] ** (8.0 / 3.0)
        a_full[k] = row[7] * g1[k] ** 2
        qc_max[k] = row[8] * g1[k] ** 2.5
        beta[k] = math.sqrt(max(slope[k], 1e-6)) / rough[k]
    n_pts = K.XS_TABLE_N if rows else 2
    tabs = [np.zeros((max(len(rows), 1), n_pts)) for _ in range(5)]
    for r, row in enumerate(rows):
        for t in range(5):
            tabs[t][r] = row[t]
    return (*tabs[:3], link_tab, a_full, a_max, s_max, beta, tabs[3], tabs[4], qc_max)


def _lid_layers(control, us: bool, src: str) -> dict:
    """kernels.lid.lid_params keyword arguments (SI: mm, mm/h) from a [LID_CONTROLS] entry."""
    depth = 25.4 if us else 1.0      # in -> mm
    layers = {name: [float(v) for v in values] for name, values in control.layers if name != "REMOVALS"}
    where = f"{src} [LID_CONTROLS] {control.name}"
    kw = {}
    try:
        if "SURFACE" in layers:
            v = layers["SURFACE"]
            kw["surface"] = (v[0] * depth, v[1], v[2], v[3])
        if "SOIL" in layers:
            v = layers["SOIL"]
            kw["soil"] = (v[0] * depth, v[1], v[2], v[3], v[4] * depth, v[5], v[6] * depth)
        if "PAVEMENT" in layers:
            v = layers["PAVEMENT"]
            kw["pavement"] = (v[0] * depth, v[1], v[2], v[3] * depth, *v[4:7])   # (+ Vclog, Treg, Freg)
        if "STORAGE" in layers:
            v = layers["STORAGE"]
            kw["storage"] = (v[0] * depth,) if control.kind == "RB" else (v[0] * depth, v[1], v[2] * depth, *v[3:4])
        if "DRAIN" in layers:
            v = layers["DRAIN"]
            if control.kind == "RD":
                kw["drain"] = (v[0] * depth, 0.0, 0.0, 0.0)
            else:   # q = C h^n: C converts with the exponent (in/h per in^n -> mm/h per mm^n)
                kw["drain"] = (v[0] * depth ** (1.0 - v[1]), v[1], v[2] * depth, v[3] if len(v) > 3 else 0.0)
        if "DRAINMAT" in layers:
            v = layers["DRAINMAT"]
            kw["drainmat"] = (v[0] * depth, v[1], v[2])
    except (IndexError, ValueError):
        raise StormwaterInputError(f"{where}: a layer has too few or non-numeric values") from None
    return kw


def _lid_arrays(model: Model, sidx: dict, nidx: dict, us: bool, src: str) -> tuple:
    """Kernel arrays for the LID units: one row per LID_USAGE line (its `number` identical units)."""
    from .kernels.lid import KIND_OF_SWMM, initial_state, lid_params

    rows = []
    for u in model.lid_usage:
        control = model.lid_controls[u.lid]
        if control.kind not in KIND_OF_SWMM:
            raise StormwaterInputError(f"{src} [LID_CONTROLS] {control.name}: LID type {control.kind} not supported "
                                       f"(supported: {', '.join(KIND_OF_SWMM)})")
        if u.area_m2 <= 0 or u.number <= 0:
            raise StormwaterInputError(f"{src} [LID_USAGE] {u.subcatchment} {u.lid}: Number and Area must be > 0")
        kind, par = lid_params(control.kind, area_m2=u.area_m2, width_m=max(u.width_m, 1e-6),
                               **_lid_layers(control, us, src))
        state = initial_state(np.array([kind], dtype=np.int32), par[None, :], u.init_sat_frac)[0]
        drain = -1
        if u.drain_to not in ("*", "") and u.drain_to in nidx:
            drain = nidx[u.drain_to]
        rows.append((sidx[u.subcatchment], u.number * u.area_m2, u.from_imperv_frac, u.from_perv_frac, u.to_perv,
                     drain, kind, par, state))
    n = len(rows)
    return (np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows], dtype=float),
            np.array([r[2] for r in rows], dtype=float), np.array([r[3] for r in rows], dtype=float),
            np.array([r[4] for r in rows], dtype=np.bool_), np.array([r[5] for r in rows], dtype=np.int64),
            np.array([r[6] for r in rows], dtype=np.int32),
            np.array([r[7] for r in rows]).reshape(n, -1) if n else np.zeros((0, 28)),
            np.array([r[8] for r in rows]).reshape(n, -1) if n else np.zeros((0, 18)))


def _series_times(ts, start: datetime) -> list[float]:
    """Times of a series in s from the simulation start (dated points absolute, others relative)."""
    out = []
    last_date = None
    day_s = {}   # seconds from the start to each date's midnight (a series' points mostly share a few dates)
    for date, t in zip(ts.dates or [""] * len(ts.times_s), ts.times_s):
        if date:
            last_date = date
        if last_date:
            if last_date not in day_s:
                day_s[last_date] = (_date(last_date, "0:00", f"[TIMESERIES] {ts.name}") - start).total_seconds()
            out.append(day_s[last_date] + t)
        else:
            out.append(t)
    return out


def _rain_table(model: Model, gages: list[str], start: datetime, t_end: float, src: str, ignore: bool):
    """Breakpoints (s) and rain rates (m/s) [interval, gauge] over [0, t_end]."""
    per_gage = []
    for name in gages:
        g = model.raingages[name]
        unit = 0.0254 if g.units == "IN" else 1e-3
        if g.source == "TIMESERIES":
            ts = model.timeseries[g.series]
            if ts.file:
                raise StormwaterInputError(f"{src} [TIMESERIES] {ts.name}: external series files are not read")
            times = _series_times(ts, start)
            values = list(ts.values)
        else:
            path = Path(g.file)
            if not path.is_absolute() and model.source:
                path = Path(model.source).parent / path
            records = read_rain_file(path, g.station, f"{src} [RAINGAGES] {name}")
            times = [(w - start).total_seconds() for w, _ in records]
            values = [v for _, v in records]
        intervals = []
        prev_cum = 0.0
        for k, (t0, v) in enumerate(zip(times, values)):
            t1 = t0 + g.interval_s
            if k + 1 < len(times):
                t1 = min(t1, times[k + 1])
            if g.form == "INTENSITY":
                rate = v * unit / 3600.0
            elif g.form == "VOLUME":
                rate = v * unit / g.interval_s
            else:   # CUMULATIVE
                rate = max(v - prev_cum, 0.0) * unit / g.interval_s
                prev_cum = v
            if rate > 0 and t1 > 0 and t0 < t_end and not ignore:
                intervals.append((max(t0, 0.0), min(t1, t_end), rate * g.snow_catch if False else rate))
        per_gage.append(intervals)
    bounds = {0.0, t_end}
    for iv in per_gage:
        for t0, t1, _ in iv:
            bounds.add(t0)
            bounds.add(t1)
    times = np.array(sorted(bounds))
    rate = np.zeros((max(len(times) - 1, 1), max(len(gages), 1)))
    for gi, iv in enumerate(per_gage):
        for t0, t1, r in iv:
            a = np.searchsorted(times, t0)
            b = np.searchsorted(times, t1)
            rate[a:b, gi] = r
    return times, rate


def _topological_order(lf: np.ndarray, lt: np.ndarray, n_node: int) -> np.ndarray:
    indeg = np.zeros(n_node, dtype=np.int64)
    for k in range(len(lf)):
        indeg[lt[k]] += 1
    out_links: dict[int, list[int]] = {}
    for k in range(len(lf)):
        out_links.setdefault(int(lf[k]), []).append(k)
    ready = [i for i in range(n_node) if indeg[i] == 0]
    order = []
    while ready:
        i = ready.pop()
        for k in out_links.get(i, []):
            order.append(k)
            indeg[lt[k]] -= 1
            if indeg[lt[k]] == 0:
                ready.append(int(lt[k]))
    if len(order) != len(lf):
        raise ValueError("loop")
    return np.array(order, dtype=np.int64)
