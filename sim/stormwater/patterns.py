"""SWMM time patterns ([PATTERNS]) applied to dry-weather flows and inflow baselines.

A pattern is a list of multipliers of one kind: MONTHLY (12, January first), DAILY (7, Sunday
first), HOURLY (24, from midnight) or WEEKEND (24, hourly multipliers used on Saturdays and
Sundays). As in SWMM 5:

* a dry-weather flow ([DWF]: average flow and up to four patterns) runs at
  average x monthly(month) x daily(day of the week) x hourly(hour), where on Saturdays and
  Sundays a WEEKEND pattern, when the flow has one, takes the hourly pattern's place;
* an external inflow's baseline ([INFLOWS] Baseline and Pattern) is multiplied by its one
  pattern, whatever its kind (a WEEKEND pattern leaves weekdays at 1).

The multipliers change on the hour (or day, or month) and hold in between, so the flow over a
run is a step function of time. `multiplier_steps` writes it as breakpoints for the engine's
time series (two points per change: the old value up to the instant before, the new one from it),
which the engine reads like any inflow series: the model itself keeps the file's [DWF], [INFLOWS]
and [PATTERNS] lines unchanged, so a file read and written again is the file SWMM reads.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .model import StormwaterInputError

SIZES = {"MONTHLY": 12, "DAILY": 7, "HOURLY": 24, "WEEKEND": 24}
NO_PATTERN = ("", "*")
EPS_S = 1e-3   # a step's old value holds up to this long before the change


@dataclass(frozen=True)
class Pattern:
    name: str
    kind: str                       # MONTHLY | DAILY | HOURLY | WEEKEND
    factors: tuple[float, ...]


def _split(line: str) -> list[str]:
    return [x.strip('"') for x in line.split(";", 1)[0].split()]


def parse_patterns(lines: list[str], source: str) -> dict[str, Pattern]:
    """The [PATTERNS] section's lines (as the file has them) as patterns by upper-case name.

    A name's first line gives its kind; lines after it (with or without the kind again) add
    multipliers.
    """
    kinds: dict[str, str] = {}
    names: dict[str, str] = {}
    factors: dict[str, list[float]] = {}
    for line in lines:
        t = _split(line)
        if not t:
            continue
        key = t[0].upper()
        rest = t[1:]
        if rest and rest[0].upper() in SIZES:
            kind = rest[0].upper()
            if key in kinds and kinds[key] != kind:
                raise StormwaterInputError(f"{source} [PATTERNS] {t[0]}: kind {kind} after {kinds[key]}")
            kinds[key] = kind
            rest = rest[1:]
        elif key not in kinds:
            raise StormwaterInputError(f"{source} [PATTERNS] {t[0]}: the first line must give the kind "
                                       f"({', '.join(SIZES)})")
        names.setdefault(key, t[0])
        for x in rest:
            try:
                factors.setdefault(key, []).append(float(x))
            except ValueError:
                raise StormwaterInputError(f"{source} [PATTERNS] {t[0]}: multiplier {x!r} is not a number") from None
    out = {}
    for key, kind in kinds.items():
        f = factors.get(key, [])
        if len(f) > SIZES[kind]:
            raise StormwaterInputError(f"{source} [PATTERNS] {names[key]}: {len(f)} multipliers for a {kind} "
                                       f"pattern (at most {SIZES[kind]})")
        # SWMM fills multipliers the file leaves out with 1
        out[key] = Pattern(names[key], kind, tuple(f) + (1.0,) * (SIZES[kind] - len(f)))
    return out


def _swmm_day(when: datetime) -> int:
    """Day of the week as SWMM numbers it: 0 Sunday ... 6 Saturday."""
    return (when.weekday() + 1) % 7


def dwf_multiplier(patterns: list[Pattern], when: datetime) -> float:
    """Multiplier of a dry-weather flow with these patterns at `when`."""
    by_kind = {p.kind: p for p in patterns}
    day = _swmm_day(when)
    f = 1.0
    if "MONTHLY" in by_kind:
        f *= by_kind["MONTHLY"].factors[when.month - 1]
    if "DAILY" in by_kind:
        f *= by_kind["DAILY"].factors[day]
    if "WEEKEND" in by_kind and day in (0, 6):
        f *= by_kind["WEEKEND"].factors[when.hour]
    elif "HOURLY" in by_kind:
        f *= by_kind["HOURLY"].factors[when.hour]
    return f


def baseline_multiplier(pattern: Pattern, when: datetime) -> float:
    """Multiplier of an inflow baseline with this one pattern at `when`."""
    day = _swmm_day(when)
    if pattern.kind == "MONTHLY":
        return pattern.factors[when.month - 1]
    if pattern.kind == "DAILY":
        return pattern.factors[day]
    if pattern.kind == "HOURLY":
        return pattern.factors[when.hour]
    return pattern.factors[when.hour] if day in (0, 6) else 1.0


def lookup(patterns: dict[str, Pattern], names, where: str) -> list[Pattern]:
    """The patterns `names` refers to (blank and '*' skipped); errors name the reference."""
    out = []
    for name in names:
        if name in NO_PATTERN:
            continue
        p = patterns.get(name.upper())
        if p is None:
            raise StormwaterInputError(f"{where}: time pattern {name!r} is not in [PATTERNS]")
        out.append(p)
    return out


def multiplier_steps(multiplier, start: datetime, t_end: float) -> tuple[list[float], list[float]]:
    """Breakpoints (s from `start`) and values of multiplier(datetime) over [0, t_end], hour by hour."""
    first = start.replace(minute=0, second=0, microsecond=0)
    times, values = [0.0], [multiplier(start)]
    hour = first + timedelta(hours=1)
    while True:
        t = (hour - start).total_seconds()
        if t > t_end:
            break
        v = multiplier(hour)
        if v != values[-1]:
            times += [t - EPS_S, t]
            values += [values[-1], v]
        hour += timedelta(hours=1)
    times.append(t_end + 1.0)   # hold the last value to the end (and a little beyond it)
    values.append(values[-1])
    return times, values
