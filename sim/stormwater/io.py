"""Read and write EPA SWMM 5 input files (.inp) as stormwater.model.Model (SI units).

`read_inp(path)` / `parse_inp(text)` parse the sections the engine simulates into the data
classes of model.py, converting the file's US or SI units to m, m2, m3/s, m/s. Sections the
engine does not simulate are kept verbatim (`Model.extra_sections`) and written back, and each
one that would change the hydraulics is named in a warning (`InpWarning`), never dropped
silently; so are values read but not applied (SURCHARGE_METHOD SLOT, LENGTHENING_STEP,
IGNORE_ROUTING, force mains' friction law, [FILES] USE). [PATTERNS] is kept verbatim too, and
applied to [DWF] and [INFLOWS] baselines when the model runs (patterns.py). [CONTROLS] rules are
parsed into `Model.controls` and written back (controls.py; rules it cannot simulate are named in a
warning and written back as read). LID
usage is checked as SWMM does: DrainTo names a node, the units cover no more than their
subcatchment. `write_inp(model)` writes the file in the model's own FLOW_UNITS, so a file read
and written again runs the same in SWMM (tests check this by running both through SWMM).
"""
from __future__ import annotations

import os
import shlex
import warnings
from dataclasses import replace
from pathlib import Path

from .controls import format_controls, parse_controls
from .model import (Conduit, Curve, CurveNumber, DryWeatherFlow, Evaporation, GreenAmpt, Horton,
                    Inflow, Junction, LidControl, LidUsage, Model, Options, Orifice, Outfall, Outlet, Pump,
                    RainGage, Storage, StormwaterInputError, Subcatchment, TimeSeries, Weir, XSection)
from .model import canonical_name as _canon
from .patterns import lookup as lookup_patterns
from .patterns import parse_patterns


class InpWarning(UserWarning):
    """A part of an .inp file the engine keeps but does not simulate."""


FT = 0.3048
IN = 0.0254
ACRE = 4046.8564224
FLOW_TO_M3S = {"CFS": FT ** 3, "GPM": 3.785411784e-3 / 60.0, "MGD": 3785.411784 / 86400.0,
               "CMS": 1.0, "LPS": 1e-3, "MLD": 1000.0 / 86400.0}
US_UNITS = ("CFS", "GPM", "MGD")

# Sections kept verbatim without a warning: they do not change flows (drawing, report, tags).
QUIET_SECTIONS = {"MAP", "COORDINATES", "VERTICES", "POLYGONS", "SYMBOLS", "LABELS", "BACKDROP",
                  "TAGS", "REPORT", "PROFILES", "FILES",
                  "PATTERNS"}   # (kept verbatim, and applied to DWF and inflow baselines: patterns.py)
# Sections read into the model.
KNOWN_SECTIONS = ("TITLE", "OPTIONS", "EVAPORATION", "RAINGAGES", "SUBCATCHMENTS", "SUBAREAS",
                  "INFILTRATION", "LID_CONTROLS", "LID_USAGE", "JUNCTIONS", "OUTFALLS", "STORAGE",
                  "CONDUITS", "PUMPS", "ORIFICES", "WEIRS", "OUTLETS", "XSECTIONS", "INFLOWS", "DWF",
                  "CURVES", "TIMESERIES")


class _Units:
    """Factors from the file's units to SI for one FLOW_UNITS choice."""

    def __init__(self, flow_units: str):
        if flow_units not in FLOW_TO_M3S:
            raise StormwaterInputError(f"[OPTIONS] FLOW_UNITS {flow_units!r}: expected one of {sorted(FLOW_TO_M3S)}")
        us = flow_units in US_UNITS
        self.flow = FLOW_TO_M3S[flow_units]
        self.length = FT if us else 1.0                 # ft | m
        self.area = ACRE if us else 1e4                  # ac | ha (subcatchment area)
        self.node_area = FT * FT if us else 1.0          # ft2 | m2 (ponded / storage area)
        self.depth = IN if us else 1e-3                  # in | mm (rain, storage, infiltration depths)
        self.rate = self.depth / 3600.0                  # in/h | mm/h
        self.evap = self.depth / 86400.0                 # in/day | mm/day
        self.weir_coeff = (FT ** 0.5) if us else 1.0     # ft^0.5/s | m^0.5/s
        self.us = us


def _time_s(text: str, where: str) -> float:
    """'H:MM[:SS]' or decimal hours -> s."""
    try:
        if ":" in text:
            parts = [float(p) for p in text.split(":")]
            while len(parts) < 3:
                parts.append(0.0)
            return parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]
        return float(text) * 3600.0
    except ValueError:
        raise StormwaterInputError(f"{where}: time {text!r}, expected H:MM[:SS] or decimal hours") from None


def _fmt_time(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{(s % 3600) // 60:02d}:{s % 60:02d}"


def _num(tokens: list[str], i: int, where: str, field: str, default: float | None = None) -> float:
    if i >= len(tokens):
        if default is None:
            raise StormwaterInputError(f"{where}: missing field {field}")
        return default
    try:
        return float(tokens[i])
    except ValueError:
        raise StormwaterInputError(f"{where}: field {field} = {tokens[i]!r} is not a number") from None


def _split(line: str) -> list[str]:
    """Tokens of a data line: comment after ';' removed, quoted strings kept ("" -> '')."""
    out, cur, quoted, i = [], "", False, 0
    had_quote = False
    while i < len(line):
        c = line[i]
        if c == '"':
            quoted = not quoted
            had_quote = True
        elif c == ";" and not quoted:
            break
        elif c.isspace() and not quoted:
            if cur or had_quote:
                out.append(cur)
            cur, had_quote = "", False
        else:
            cur += c
        i += 1
    if cur or had_quote:
        out.append(cur)
    return out


def _sections(text: str, source: str) -> list[tuple[str, list[tuple[int, str]]]]:
    sections: list[tuple[str, list[tuple[int, str]]]] = []
    current = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\n\r")
        stripped = line.strip()
        if stripped.startswith("[") and "]" in stripped:
            current = (stripped[1:stripped.index("]")].strip().upper(), [])
            sections.append(current)
            continue
        if current is None:
            if stripped and not stripped.startswith(";"):
                raise StormwaterInputError(f"{source} line {number}: data before the first [SECTION]")
            continue
        current[1].append((number, line))
    return sections


def read_inp(path: str | os.PathLike) -> Model:
    """Read a SWMM 5 .inp file (errors name the file, line, element and field)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise StormwaterInputError(f"{p}: cannot read ({exc.strerror})") from None
    model = parse_inp(text, source=str(p))
    return model


def parse_inp(text: str, source: str = "<inp>") -> Model:
    """Parse .inp text into a Model; warns (InpWarning) naming sections kept but not simulated."""
    sections = _sections(text, source)
    by_name: dict[str, list[tuple[int, list[str]]]] = {}
    model = Model(source=source)
    control_lines: list[str] = []
    for name, lines in sections:
        if name == "CONTROLS":
            control_lines.extend(l for _, l in lines)
            continue
        if name in KNOWN_SECTIONS:
            rows = by_name.setdefault(name, [])
            if name == "TITLE":
                model.title.extend(l for _, l in lines if l.strip())
                continue
            for number, line in lines:
                tokens = _split(line)
                if tokens:
                    rows.append((number, tokens))
        else:
            model.extra_sections.setdefault(name, []).extend(l for _, l in lines)

    def rows(name: str):
        for number, tokens in by_name.get(name, []):
            yield f"{source} line {number} [{name}] {tokens[0]}", tokens

    for where, t in rows("OPTIONS"):
        model.options.values[t[0].upper()] = " ".join(t[1:])
    u = _Units(model.options.flow_units)
    _parse_evaporation(model, rows, u)
    for where, t in rows("TIMESERIES"):
        _parse_timeseries_row(model, where, t)
    for where, t in rows("CURVES"):
        _parse_curve_row(model, where, t)
    for where, t in rows("RAINGAGES"):
        if len(t) < 6:
            raise StormwaterInputError(f"{where}: expected Name Format Interval SCF Source ...")
        source_kind = t[4].upper()
        gage = RainGage(name=t[0], form=t[1].upper(), interval_s=_time_s(t[2], where),
                        snow_catch=_num(t, 3, where, "SCF"), source=source_kind,
                        units="IN" if u.us else "MM")
        if source_kind == "TIMESERIES":
            gage = replace(gage, series=t[5])
        elif source_kind == "FILE":
            if len(t) < 8:
                raise StormwaterInputError(f"{where}: FILE gauge needs Fname Station Units")
            gage = replace(gage, file=t[5], station=t[6], units=t[7].upper())
        else:
            raise StormwaterInputError(f"{where}: rain source {t[4]!r}, expected TIMESERIES or FILE")
        model.raingages[t[0]] = gage
    for where, t in rows("SUBCATCHMENTS"):
        if len(t) < 7:
            raise StormwaterInputError(f"{where}: expected Name Gage Outlet Area %Imperv Width %Slope [CurbLen SnowPack]")
        model.subcatchments[t[0]] = Subcatchment(
            name=t[0], gage=t[1], outlet=t[2], area_m2=_num(t, 3, where, "Area") * u.area,
            imperv_frac=_num(t, 4, where, "%Imperv") / 100.0, width_m=_num(t, 5, where, "Width") * u.length,
            slope=_num(t, 6, where, "%Slope") / 100.0, curb_length_m=_num(t, 7, where, "CurbLen", 0.0) * u.length,
            snow_pack=t[8] if len(t) > 8 else "")
    for where, t in rows("SUBAREAS"):
        sc = _lookup(model.subcatchments, t[0], where)
        model.subcatchments[sc.name] = replace(
            sc, n_imperv=_num(t, 1, where, "N-Imperv"), n_perv=_num(t, 2, where, "N-Perv"),
            dstore_imperv_m=_num(t, 3, where, "S-Imperv") * u.depth, dstore_perv_m=_num(t, 4, where, "S-Perv") * u.depth,
            zero_imperv_frac=_num(t, 5, where, "PctZero") / 100.0,
            route_to=(t[6].upper() if len(t) > 6 else "OUTLET"),
            routed_frac=_num(t, 7, where, "PctRouted", 100.0) / 100.0)
    for where, t in rows("INFILTRATION"):
        sc = _lookup(model.subcatchments, t[0], where)
        model.subcatchments[sc.name] = replace(sc, infiltration=_parse_infiltration(model.options.infiltration, t, where, u))
    for where, t in rows("JUNCTIONS"):
        model.junctions[t[0]] = Junction(
            name=t[0], invert_m=_num(t, 1, where, "Elevation") * u.length, max_depth_m=_num(t, 2, where, "MaxDepth", 0.0) * u.length,
            init_depth_m=_num(t, 3, where, "InitDepth", 0.0) * u.length,
            surcharge_depth_m=_num(t, 4, where, "SurDepth", 0.0) * u.length,
            ponded_area_m2=_num(t, 5, where, "Aponded", 0.0) * u.node_area)
    for where, t in rows("OUTFALLS"):
        _parse_outfall(model, where, t, u)
    for where, t in rows("STORAGE"):
        _parse_storage(model, where, t, u)
    for where, t in rows("CONDUITS"):
        if len(t) < 5:
            raise StormwaterInputError(f"{where}: expected Name From To Length Roughness [InOffset OutOffset InitFlow MaxFlow]")
        model.conduits[t[0]] = Conduit(
            name=t[0], from_node=t[1], to_node=t[2], length_m=_num(t, 3, where, "Length") * u.length,
            roughness=_num(t, 4, where, "Roughness"), in_offset_m=_offset(t, 5, where, "InOffset", u),
            out_offset_m=_offset(t, 6, where, "OutOffset", u), init_flow_m3s=_num(t, 7, where, "InitFlow", 0.0) * u.flow,
            max_flow_m3s=_num(t, 8, where, "MaxFlow", 0.0) * u.flow)
    for where, t in rows("PUMPS"):
        model.pumps[t[0]] = Pump(name=t[0], from_node=t[1], to_node=t[2], curve=t[3] if len(t) > 3 else "*",
                                 init_on=(t[4].upper() != "OFF") if len(t) > 4 else True,
                                 startup_depth_m=_num(t, 5, where, "Startup", 0.0) * u.length,
                                 shutoff_depth_m=_num(t, 6, where, "Shutoff", 0.0) * u.length)
    for where, t in rows("ORIFICES"):
        model.orifices[t[0]] = Orifice(name=t[0], from_node=t[1], to_node=t[2], kind=t[3].upper(),
                                       offset_m=_offset(t, 4, where, "Offset", u), discharge_coeff=_num(t, 5, where, "Qcoeff"),
                                       gated=(len(t) > 6 and t[6].upper() == "YES"),
                                       close_time_s=_num(t, 7, where, "CloseTime", 0.0) * 3600.0)
    for where, t in rows("WEIRS"):
        model.weirs[t[0]] = Weir(name=t[0], from_node=t[1], to_node=t[2], kind=t[3].upper(),
                                 crest_height_m=_offset(t, 4, where, "CrestHt", u),
                                 discharge_coeff=_num(t, 5, where, "Qcoeff") * u.weir_coeff,
                                 gated=(len(t) > 6 and t[6].upper() == "YES"),
                                 end_contractions=int(_num(t, 7, where, "EndCon", 0.0)),
                                 end_coeff=_num(t, 8, where, "EndCoeff", 0.0) * u.weir_coeff,
                                 surcharge=(len(t) <= 9 or t[9].upper() != "NO"), extra=tuple(t[10:]))
    for where, t in rows("OUTLETS"):
        _parse_outlet(model, where, t, u)
    for where, t in rows("XSECTIONS"):
        _parse_xsection(model, where, t, u)
    for where, t in rows("INFLOWS"):
        kind = t[3].upper() if len(t) > 3 else "FLOW"
        if t[1].upper() != "FLOW":
            continue   # pollutant inflows: the POLLUTANTS section is already named as not simulated
        mfactor = _num(t, 4, where, "Mfactor", 1.0)
        model.inflows.append(Inflow(node=t[0], constituent="FLOW", series=t[2], kind=kind, mfactor=mfactor,
                                    sfactor=_num(t, 5, where, "Sfactor", 1.0),
                                    baseline_m3s=_num(t, 6, where, "Baseline", 0.0) * u.flow,
                                    pattern=t[7] if len(t) > 7 else "", series_factor_m3s=u.flow))
    for where, t in rows("DWF"):
        if t[1].upper() != "FLOW":
            continue
        model.dwf.append(DryWeatherFlow(node=t[0], average_m3s=_num(t, 2, where, "Average") * u.flow,
                                        patterns=tuple(x for x in t[3:])))
    # patterns stay verbatim in extra_sections; checked here so that a bad one stops at the edge
    pats = parse_patterns(model.extra_sections.get("PATTERNS", []), source)
    for d in model.dwf:
        lookup_patterns(pats, d.patterns, f"{source} [DWF] {d.node}")
    for f in model.inflows:
        lookup_patterns(pats, [f.pattern], f"{source} [INFLOWS] {f.node}")
    for where, t in rows("LID_CONTROLS"):
        if len(t) == 2:
            model.lid_controls[t[0]] = LidControl(name=t[0], kind=t[1].upper())
        else:
            lc = _lookup(model.lid_controls, t[0], where)
            model.lid_controls[lc.name] = replace(lc, layers=lc.layers + ((t[1].upper(), tuple(t[2:])),))
    for where, t in rows("LID_USAGE"):
        _lookup(model.subcatchments, t[0], where)
        _lookup(model.lid_controls, t[1], where)
        model.lid_usage.append(LidUsage(
            subcatchment=t[0], lid=t[1], number=int(_num(t, 2, where, "Number")),
            area_m2=_num(t, 3, where, "Area") * u.node_area, width_m=_num(t, 4, where, "Width") * u.length,
            init_sat_frac=_num(t, 5, where, "InitSat", 0.0) / 100.0,
            from_imperv_frac=_num(t, 6, where, "FromImp", 0.0) / 100.0,
            to_perv=bool(int(_num(t, 7, where, "ToPerv", 0.0))),
            report_file=t[8] if len(t) > 8 else "*", drain_to=t[9] if len(t) > 9 else "*",
            from_perv_frac=_num(t, 10, where, "FromPerv", 0.0) / 100.0))
    _check_references(model)
    model.controls, control_messages = parse_controls(control_lines, model, u, source, _split)
    not_simulated = [name for name, lines in model.extra_sections.items()
                     if name not in QUIET_SECTIONS and any(_split(l) for l in lines)]
    if model.evaporation.raw:
        not_simulated.append("EVAPORATION " + model.evaporation.kind)
    if not_simulated:
        warnings.warn(f"{source}: sections kept but not simulated: {', '.join(not_simulated)}",
                      InpWarning, stacklevel=2)
    for message in [*control_messages, *_ignored_inputs(model)]:
        warnings.warn(f"{source}: {message}", InpWarning, stacklevel=2)
    return model


def _names(items: list[str], most: int = 5) -> str:
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


def _ignored_inputs(model: Model) -> list[str]:
    """Fields of sections the engine reads whose values it does not apply (each changes the results)."""
    out = []
    opt = model.options
    if opt.get("SURCHARGE_METHOD", "EXTRAN").upper() != "EXTRAN":
        out.append(f"[OPTIONS] SURCHARGE_METHOD {opt.get('SURCHARGE_METHOD')} not simulated: surcharged pipes are "
                   f"run with EXTRAN's method")
    if _is_number(opt.get("LENGTHENING_STEP", "0")) and float(opt.get("LENGTHENING_STEP", "0")) > 0:
        out.append(f"[OPTIONS] LENGTHENING_STEP {opt.get('LENGTHENING_STEP')} not simulated: short conduits keep "
                   f"their length")
    if opt.get("IGNORE_ROUTING", "NO").upper() == "YES":
        out.append("[OPTIONS] IGNORE_ROUTING YES not applied: flows are routed")
    force_mains = [name for name, c in model.conduits.items() if c.xsection and c.xsection.shape == "FORCE_MAIN"]
    if force_mains:
        out.append(f"[XSECTIONS] FORCE_MAIN {_names(force_mains)}: run as CIRCULAR with the conduit's Manning n; "
                   f"the {model.options.values.get('FORCE_MAIN_EQUATION', 'H-W')} roughness (Geom2) and "
                   f"FORCE_MAIN_EQUATION are not simulated")
    used = [" ".join(t[:2]) for t in (_split(l) for l in model.extra_sections.get("FILES", []))
            if len(t) >= 2 and t[0].upper() == "USE"]
    if used:
        out.append(f"[FILES] {', '.join(used)}: interface files are not read (the run starts from the file's "
                   f"own initial state and inputs)")
    return out


def unsupported_sections(model: Model) -> list[str]:
    """Names of the sections with data that the engine keeps but does not simulate."""
    return [name for name, lines in model.extra_sections.items()
            if name not in QUIET_SECTIONS and any(_split(l) for l in lines)]


def _lookup(table: dict, name: str, where: str):
    key = _canon(table, name)
    if key is None:
        raise StormwaterInputError(f"{where}: {name!r} is not defined in its own section before")
    return table[key]


def _offset(t, i, where, field, u: _Units) -> float:
    if i < len(t) and t[i] == "*":
        return 0.0
    return _num(t, i, where, field, 0.0) * u.length


def _parse_evaporation(model: Model, rows, u: _Units) -> None:
    evap = model.evaporation
    for where, t in rows("EVAPORATION"):
        key = t[0].upper()
        if key == "CONSTANT":
            evap.kind, evap.rates_mps = "CONSTANT", (_num(t, 1, where, "rate") * u.evap,)
        elif key == "MONTHLY":
            evap.kind = "MONTHLY"
            evap.rates_mps = tuple(_num(t, i, where, f"month {i}") * u.evap for i in range(1, 13))
        elif key == "DRY_ONLY":
            evap.dry_only = len(t) > 1 and t[1].upper() == "YES"
        elif key == "RECOVERY":
            evap.raw.append(" ".join(shlex.quote(x) for x in t))
        else:
            evap.kind = key
            evap.raw.append(" ".join(t))


def _parse_timeseries_row(model: Model, where: str, t: list[str]) -> None:
    name = t[0]
    ts = model.timeseries.get(name, TimeSeries(name=name))
    if len(t) >= 3 and t[1].upper() == "FILE":
        model.timeseries[name] = replace(ts, file=t[2])
        return
    rest = t[1:]
    times, values, dates = list(ts.times_s), list(ts.values), list(ts.dates)
    i = 0
    while i < len(rest):
        date = ""
        if "/" in rest[i]:
            date = rest[i]
            i += 1
        if i + 1 >= len(rest):
            raise StormwaterInputError(f"{where}: time series {name!r}: a time without a value")
        times.append(_time_s(rest[i], where))
        values.append(_num(rest, i + 1, where, "value"))
        dates.append(date)
        i += 2
    model.timeseries[name] = replace(ts, times_s=tuple(times), values=tuple(values), dates=tuple(dates))


def _parse_curve_row(model: Model, where: str, t: list[str]) -> None:
    name = t[0]
    rest = t[1:]
    if name not in model.curves:
        if not rest or _is_number(rest[0]):
            raise StormwaterInputError(f"{where}: curve {name!r}: first row must give the curve type")
        model.curves[name] = Curve(name=name, kind=rest[0].upper(), x=(), y=())
        rest = rest[1:]
    c = model.curves[name]
    if len(rest) % 2:
        raise StormwaterInputError(f"{where}: curve {name!r}: x y values must come in pairs")
    xs = tuple(_num(rest, i, where, "x") for i in range(0, len(rest), 2))
    ys = tuple(_num(rest, i, where, "y") for i in range(1, len(rest), 2))
    model.curves[name] = replace(c, x=c.x + xs, y=c.y + ys)


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _parse_infiltration(method: str, t: list[str], where: str, u: _Units):
    # SWMM 5.2 allows a per-subcatchment method name as the last token
    kind = method
    if t[-1].upper() in ("HORTON", "MODIFIED_HORTON", "GREEN_AMPT", "MODIFIED_GREEN_AMPT", "CURVE_NUMBER"):
        kind, t = t[-1].upper(), t[:-1]
    if kind in ("HORTON", "MODIFIED_HORTON"):
        return Horton(max_rate_mps=_num(t, 1, where, "MaxRate") * u.rate, min_rate_mps=_num(t, 2, where, "MinRate") * u.rate,
                      decay_per_s=_num(t, 3, where, "Decay") / 3600.0, dry_time_s=_num(t, 4, where, "DryTime") * 86400.0,
                      max_volume_m=_num(t, 5, where, "MaxInfil", 0.0) * u.depth)
    if kind in ("GREEN_AMPT", "MODIFIED_GREEN_AMPT"):
        return GreenAmpt(suction_m=_num(t, 1, where, "Suction") * u.depth,
                         conductivity_mps=_num(t, 2, where, "Ksat") * u.rate,
                         initial_deficit=_num(t, 3, where, "IMD"), modified=kind.startswith("MODIFIED"))
    if kind == "CURVE_NUMBER":
        return CurveNumber(curve_number=_num(t, 1, where, "CurveNum"), dry_time_s=_num(t, 3, where, "DryTime") * 86400.0)
    raise StormwaterInputError(f"{where}: infiltration method {kind!r} unknown")


def _parse_outfall(model: Model, where: str, t: list[str], u: _Units) -> None:
    kind = t[2].upper() if len(t) > 2 else "FREE"
    i = 3
    stage, curve = 0.0, ""
    if kind == "FIXED":
        stage = _num(t, 3, where, "Stage") * u.length
        i = 4
    elif kind in ("TIDAL", "TIMESERIES"):
        curve = t[3]
        i = 4
    gated = len(t) > i and t[i].upper() == "YES"
    model.outfalls[t[0]] = Outfall(name=t[0], invert_m=_num(t, 1, where, "Elevation") * u.length, kind=kind,
                                   stage_m=stage, curve=curve, gated=gated,
                                   route_to=t[i + 1] if len(t) > i + 1 else "")


OUTLET_KINDS = ("FUNCTIONAL/DEPTH", "FUNCTIONAL/HEAD", "TABULAR/DEPTH", "TABULAR/HEAD")


def _parse_outlet(model: Model, where: str, t: list[str], u: _Units) -> None:
    """Name From To Offset FUNCTIONAL/DEPTH|FUNCTIONAL/HEAD C n [Gated] or TABULAR/DEPTH|HEAD Curve [Gated]
    (plain FUNCTIONAL / TABULAR, SWMM 5.0's words, are depth curves)."""
    if len(t) < 6:
        raise StormwaterInputError(f"{where}: expected Name From To Offset Type C n|Curve [Gated]")
    kind = t[4].upper()
    if kind in ("FUNCTIONAL", "TABULAR"):
        kind += "/DEPTH"
    if kind not in OUTLET_KINDS:
        raise StormwaterInputError(f"{where}: outlet type {t[4]!r}, expected one of {', '.join(OUTLET_KINDS)}")
    offset = _offset(t, 3, where, "Offset", u)
    if kind.startswith("FUNCTIONAL"):
        if len(t) < 7:
            raise StormwaterInputError(f"{where}: FUNCTIONAL outlet needs C and n")
        expon = _num(t, 6, where, "Qexpon")
        # Q = C h^n in the file's flow and length units
        out = Outlet(name=t[0], from_node=t[1], to_node=t[2], offset_m=offset, kind=kind,
                     coeff=_num(t, 5, where, "Qcoeff") * u.flow / u.length ** expon, exponent=expon)
        rest = t[7:]
    else:
        out = Outlet(name=t[0], from_node=t[1], to_node=t[2], offset_m=offset, kind=kind, curve=t[5])
        rest = t[6:]
    model.outlets[t[0]] = replace(out, gated=bool(rest) and rest[0].upper() == "YES")


def _parse_storage(model: Model, where: str, t: list[str], u: _Units) -> None:
    shape = t[4].upper()
    s = Storage(name=t[0], invert_m=_num(t, 1, where, "Elev") * u.length, max_depth_m=_num(t, 2, where, "MaxDepth") * u.length,
                init_depth_m=_num(t, 3, where, "InitDepth") * u.length, shape=shape)
    if shape == "FUNCTIONAL":
        coeff, expo, const = (_num(t, i, where, f) for i, f in ((5, "A1"), (6, "A2"), (7, "A0")))
        # area = a d^b + c in the file's area units with d in its length units
        coeff_si = coeff * u.node_area / (u.length ** expo)
        s = replace(s, coeff=coeff_si, exponent=expo, constant_m2=const * u.node_area)
        rest = t[8:]
    elif shape == "TABULAR":
        s = replace(s, curve=t[5])
        rest = t[6:]
    else:   # CYLINDRICAL / CONICAL / PARABOLIC / PYRAMIDAL (SWMM 5.2): L W Z
        s = replace(s, raw_shape=tuple(t[5:8]))
        rest = t[8:]
    s = replace(s, surcharge_depth_m=_num(rest, 0, where, "SurDepth", 0.0) * u.length,
                evap_frac=_num(rest, 1, where, "Fevap", 0.0), seepage=tuple(float(x) for x in rest[2:5]))
    model.storages[t[0]] = s


_XSECT_RATIO_FIELDS = {"TRAPEZOIDAL": (3, 4), "RECT_OPEN": (3,), "RECT_CLOSED": (3,), "POWER": (3,)}


def _parse_xsection(model: Model, where: str, t: list[str], u: _Units) -> None:
    name, shape = t[0], t[1].upper()
    if shape in ("CUSTOM",):
        xs = XSection(shape=shape, geom1_m=_num(t, 2, where, "Geom1") * u.length, curve=t[3],
                      barrels=int(_num(t, 4, where, "Barrels", 1.0)))
    elif shape in ("IRREGULAR", "STREET"):
        xs = XSection(shape=shape, geom1_m=0.0, curve=t[2])
    else:
        g = [_num(t, i, where, f"Geom{i - 1}", 0.0) for i in range(2, 6)]
        ratios = _XSECT_RATIO_FIELDS.get(shape, ())   # side slopes / counts, not lengths
        geoms = [g[k] if (k + 1) in ratios else g[k] * u.length for k in range(4)]
        xs = XSection(shape=shape, geom1_m=geoms[0], geom2_m=geoms[1], geom3_m=geoms[2], geom4_m=geoms[3],
                      barrels=int(_num(t, 6, where, "Barrels", 1.0)), culvert=t[7] if len(t) > 7 else "")
    for table in (model.conduits, model.orifices, model.weirs):
        key = _canon(table, name)
        if key is not None:
            table[key] = replace(table[key], xsection=xs)
            return
    raise StormwaterInputError(f"{where}: link {name!r} is not a conduit, orifice or weir")


def _check_references(model: Model) -> None:
    """Every name an element refers to is defined; rewrite it in the defining spelling (case-insensitive)."""
    nodes = {n: n for n in model.node_names}
    src = model.source

    def canon(table, name, what):
        key = _canon(table, name)
        if key is None:
            raise StormwaterInputError(f"{what}: {name!r} not defined")
        return key

    for name, s in list(model.subcatchments.items()):
        gage = canon(model.raingages, s.gage, f"{src} [SUBCATCHMENTS] {name}: rain gage")
        outlet = _canon(nodes, s.outlet) or _canon(model.subcatchments, s.outlet)
        if outlet is None:
            raise StormwaterInputError(f"{src} [SUBCATCHMENTS] {name}: outlet {s.outlet!r} is not a node or subcatchment")
        model.subcatchments[name] = replace(s, gage=gage, outlet=outlet)
    for section, table in (("CONDUITS", model.conduits), ("PUMPS", model.pumps), ("ORIFICES", model.orifices),
                           ("WEIRS", model.weirs), ("OUTLETS", model.outlets)):
        for name, link in list(table.items()):
            ends = [canon(nodes, end, f"{src} [{section}] {name}: node") for end in (link.from_node, link.to_node)]
            table[name] = replace(link, from_node=ends[0], to_node=ends[1])
            if section == "PUMPS" and link.curve != "*":
                table[name] = replace(table[name], curve=canon(model.curves, link.curve, f"{src} [PUMPS] {name}: curve"))
            if section == "OUTLETS":
                if link.curve:
                    table[name] = replace(table[name], curve=canon(model.curves, link.curve, f"{src} [OUTLETS] {name}: curve"))
                continue
            if section != "PUMPS" and link.xsection is None:
                raise StormwaterInputError(f"{src} [XSECTIONS]: {section.lower()[:-1]} {name!r} has no cross-section")
    for name, g in list(model.raingages.items()):
        if g.source == "TIMESERIES":
            model.raingages[name] = replace(g, series=canon(model.timeseries, g.series, f"{src} [RAINGAGES] {name}: time series"))
    for k, f in enumerate(model.inflows):
        node = canon(nodes, f.node, f"{src} [INFLOWS]: node")
        series = canon(model.timeseries, f.series, f"{src} [INFLOWS] {node}: time series") if f.series else ""
        model.inflows[k] = replace(f, node=node, series=series)
    for k, d in enumerate(model.dwf):
        model.dwf[k] = replace(d, node=canon(nodes, d.node, f"{src} [DWF]: node"))
    lid_area: dict[str, float] = {}
    for k, u in enumerate(model.lid_usage):
        where = f"{src} [LID_USAGE] {u.subcatchment} {u.lid}"
        sub = canon(model.subcatchments, u.subcatchment, f"{src} [LID_USAGE]: subcatchment")
        lid_area[sub] = lid_area.get(sub, 0.0) + u.number * u.area_m2
        drain = u.drain_to
        if drain not in ("*", ""):
            if _canon(nodes, drain) is None and _canon(model.subcatchments, drain) is not None:
                raise StormwaterInputError(f"{where}: DrainTo {drain!r} is a subcatchment; underdrains to "
                                           f"subcatchments are not supported (name a node)")
            drain = canon(nodes, drain, f"{where}: DrainTo node")
        model.lid_usage[k] = replace(u, subcatchment=sub, lid=_canon(model.lid_controls, u.lid) or u.lid, drain_to=drain)
    for sub, a in lid_area.items():
        total = model.subcatchments[sub].area_m2
        if a > 1.001 * total:   # SWMM's own check (ERR_LID_AREAS), with its rounding allowance
            raise StormwaterInputError(f"{src} [LID_USAGE] {sub}: LID units cover {a:.6g} m2, more than the "
                                       f"subcatchment's area {total:.6g} m2")
    for name, st in list(model.storages.items()):
        if st.shape == "TABULAR":
            model.storages[name] = replace(st, curve=canon(model.curves, st.curve, f"{src} [STORAGE] {name}: curve"))
    for name, o in list(model.outfalls.items()):
        if o.kind == "TIDAL":
            model.outfalls[name] = replace(o, curve=canon(model.curves, o.curve, f"{src} [OUTFALLS] {name}: curve"))
        elif o.kind == "TIMESERIES":
            model.outfalls[name] = replace(o, curve=canon(model.timeseries, o.curve, f"{src} [OUTFALLS] {name}: series"))


# ---------------------------------------------------------------------------- writing


def _g(x: float) -> str:
    return f"{x:.10g}"


def write_inp(model: Model, path: str | os.PathLike | None = None) -> str:
    """The model as .inp text in its own FLOW_UNITS; written atomically to `path` when given."""
    u = _Units(model.options.flow_units)
    out: list[str] = []

    def section(name: str, lines: list[str]) -> None:
        if lines:
            out.append(f"[{name}]")
            out.extend(lines)
            out.append("")

    section("TITLE", list(model.title))
    section("OPTIONS", [f"{k:<20} {v}" for k, v in model.options.values.items()])
    ev = model.evaporation
    ev_lines = []
    if ev.kind == "CONSTANT":
        ev_lines.append(f"CONSTANT {_g(ev.rates_mps[0] / u.evap)}")
    elif ev.kind == "MONTHLY":
        ev_lines.append("MONTHLY " + " ".join(_g(r / u.evap) for r in ev.rates_mps))
    ev_lines.extend(ev.raw)
    ev_lines.append(f"DRY_ONLY {'YES' if ev.dry_only else 'NO'}")
    section("EVAPORATION", ev_lines)
    gl = []
    for g in model.raingages.values():
        src = f"TIMESERIES {g.series}" if g.source == "TIMESERIES" else f'FILE "{g.file}" {g.station} {g.units}'
        gl.append(f"{g.name} {g.form} {_fmt_time(g.interval_s)} {_g(g.snow_catch)} {src}")
    section("RAINGAGES", gl)
    subs = model.subcatchments.values()
    section("SUBCATCHMENTS", [
        f"{s.name} {s.gage} {s.outlet} {_g(s.area_m2 / u.area)} {_g(s.imperv_frac * 100)} {_g(s.width_m / u.length)} "
        f"{_g(s.slope * 100)} {_g(s.curb_length_m / u.length)} {s.snow_pack}".rstrip() for s in subs])
    section("SUBAREAS", [
        f"{s.name} {_g(s.n_imperv)} {_g(s.n_perv)} {_g(s.dstore_imperv_m / u.depth)} {_g(s.dstore_perv_m / u.depth)} "
        f"{_g(s.zero_imperv_frac * 100)} {s.route_to} {_g(s.routed_frac * 100) if s.route_to != 'OUTLET' else ''}".rstrip()
        for s in subs])
    il = []
    for s in subs:
        f = s.infiltration
        if isinstance(f, Horton):
            il.append(f"{s.name} {_g(f.max_rate_mps / u.rate)} {_g(f.min_rate_mps / u.rate)} {_g(f.decay_per_s * 3600)} "
                      f"{_g(f.dry_time_s / 86400)} {_g(f.max_volume_m / u.depth)}")
        elif isinstance(f, GreenAmpt):
            il.append(f"{s.name} {_g(f.suction_m / u.depth)} {_g(f.conductivity_mps / u.rate)} {_g(f.initial_deficit)}")
        elif isinstance(f, CurveNumber):
            il.append(f"{s.name} {_g(f.curve_number)} 0 {_g(f.dry_time_s / 86400)}")
    section("INFILTRATION", il)
    lc = []
    for c in model.lid_controls.values():
        lc.append(f"{c.name} {c.kind}")
        lc.extend(f"{c.name} {layer} {' '.join(vals)}" for layer, vals in c.layers)
    section("LID_CONTROLS", lc)
    section("LID_USAGE", [
        f"{l.subcatchment} {l.lid} {l.number} {_g(l.area_m2 / u.node_area)} {_g(l.width_m / u.length)} "
        f"{_g(l.init_sat_frac * 100)} {_g(l.from_imperv_frac * 100)} {int(l.to_perv)} {_q(l.report_file)} {l.drain_to} "
        f"{_g(l.from_perv_frac * 100)}" for l in model.lid_usage])
    section("JUNCTIONS", [
        f"{j.name} {_g(j.invert_m / u.length)} {_g(j.max_depth_m / u.length)} {_g(j.init_depth_m / u.length)} "
        f"{_g(j.surcharge_depth_m / u.length)} {_g(j.ponded_area_m2 / u.node_area)}" for j in model.junctions.values()])
    ol = []
    for o in model.outfalls.values():
        mid = {"FIXED": f" {_g(o.stage_m / u.length)}", "TIDAL": f" {o.curve}", "TIMESERIES": f" {o.curve}"}.get(o.kind, "")
        ol.append(f"{o.name} {_g(o.invert_m / u.length)} {o.kind}{mid} {'YES' if o.gated else 'NO'} {o.route_to}".rstrip())
    section("OUTFALLS", ol)
    sl = []
    for s in model.storages.values():
        head = f"{s.name} {_g(s.invert_m / u.length)} {_g(s.max_depth_m / u.length)} {_g(s.init_depth_m / u.length)} {s.shape}"
        if s.shape == "FUNCTIONAL":
            shape = f"{_g(s.coeff * (u.length ** s.exponent) / u.node_area)} {_g(s.exponent)} {_g(s.constant_m2 / u.node_area)}"
        elif s.shape == "TABULAR":
            shape = s.curve
        else:
            shape = " ".join(s.raw_shape)
        seep = " ".join(_g(x) for x in s.seepage)
        sl.append(f"{head} {shape} {_g(s.surcharge_depth_m / u.length)} {_g(s.evap_frac)} {seep}".rstrip())
    section("STORAGE", sl)
    section("CONDUITS", [
        f"{c.name} {c.from_node} {c.to_node} {_g(c.length_m / u.length)} {_g(c.roughness)} {_g(c.in_offset_m / u.length)} "
        f"{_g(c.out_offset_m / u.length)} {_g(c.init_flow_m3s / u.flow)} {_g(c.max_flow_m3s / u.flow)}"
        for c in model.conduits.values()])
    section("PUMPS", [
        f"{p.name} {p.from_node} {p.to_node} {p.curve} {'ON' if p.init_on else 'OFF'} {_g(p.startup_depth_m / u.length)} "
        f"{_g(p.shutoff_depth_m / u.length)}" for p in model.pumps.values()])
    section("ORIFICES", [
        f"{o.name} {o.from_node} {o.to_node} {o.kind} {_g(o.offset_m / u.length)} {_g(o.discharge_coeff)} "
        f"{'YES' if o.gated else 'NO'} {_g(o.close_time_s / 3600)}" for o in model.orifices.values()])
    section("WEIRS", [
        f"{w.name} {w.from_node} {w.to_node} {w.kind} {_g(w.crest_height_m / u.length)} {_g(w.discharge_coeff / u.weir_coeff)} "
        f"{'YES' if w.gated else 'NO'} {w.end_contractions} {_g(w.end_coeff / u.weir_coeff)} {'YES' if w.surcharge else 'NO'} "
        f"{' '.join(w.extra)}".rstrip() for w in model.weirs.values()])
    otl = []
    for o in model.outlets.values():
        if o.kind.startswith("FUNCTIONAL"):
            rating = f"{_g(o.coeff * u.length ** o.exponent / u.flow)} {_g(o.exponent)}"
        else:
            rating = o.curve
        otl.append(f"{o.name} {o.from_node} {o.to_node} {_g(o.offset_m / u.length)} {o.kind} {rating} "
                   f"{'YES' if o.gated else 'NO'}")
    section("OUTLETS", otl)
    xl = []
    for name, link in [*model.conduits.items(), *model.orifices.items(), *model.weirs.items()]:
        x = link.xsection
        if x is None:
            continue
        if x.shape == "CUSTOM":
            xl.append(f"{name} CUSTOM {_g(x.geom1_m / u.length)} {x.curve} {x.barrels}")
        elif x.shape in ("IRREGULAR", "STREET"):
            xl.append(f"{name} {x.shape} {x.curve}")
        else:
            ratios = _XSECT_RATIO_FIELDS.get(x.shape, ())
            g3 = x.geom3_m if 3 in ratios else x.geom3_m / u.length
            g4 = x.geom4_m if 4 in ratios else x.geom4_m / u.length
            xl.append(f"{name} {x.shape} {_g(x.geom1_m / u.length)} {_g(x.geom2_m / u.length)} {_g(g3)} {_g(g4)} "
                      f"{x.barrels} {x.culvert}".rstrip())
    section("XSECTIONS", xl)
    section("INFLOWS", [
        f"{f.node} FLOW {_q(f.series)} {f.kind} {_g(f.mfactor)} {_g(f.sfactor)} {_g(f.baseline_m3s / u.flow)} {f.pattern}".rstrip()
        for f in model.inflows])
    section("DWF", [f"{d.node} FLOW {_g(d.average_m3s / u.flow)} {' '.join(_q(p) for p in d.patterns)}".rstrip()
                    for d in model.dwf])
    cl = []
    for c in model.curves.values():
        for k, (x, y) in enumerate(zip(c.x, c.y)):
            cl.append(f"{c.name} {c.kind if k == 0 else ''} {_g(x)} {_g(y)}")
        if not c.x:
            cl.append(f"{c.name} {c.kind}")
    section("CURVES", cl)
    tl = []
    for ts in model.timeseries.values():
        if ts.file:
            tl.append(f'{ts.name} FILE "{ts.file}"')
        for date, t, v in zip(ts.dates or [""] * len(ts.times_s), ts.times_s, ts.values):
            tl.append(f"{ts.name} {date} {_fmt_time(t)} {_g(v)}".replace("  ", " "))
        tl.append(";")
    section("TIMESERIES", tl)
    section("CONTROLS", format_controls(model.controls, u))
    for name, lines in model.extra_sections.items():
        out.append(f"[{name}]")
        out.extend(lines)
    text = "\n".join(out) + "\n"
    if path is not None:
        _write_atomically(Path(path), text)
    return text


def _q(s: str) -> str:
    return '""' if s == "" else (f'"{s}"' if " " in s else s)


def _write_atomically(path: Path, text: str) -> None:
    from sim.result import _atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, lambda f: f.write(text.encode("utf-8")))
