"""Rainfall for the stormwater engine: design storms, rain records and the design depth.

- `chicago_storm`: the Chicago (Keifer & Chu 1957) design hyetograph built from a Chinese
  storm-intensity formula (GB 50014-2021 §4.1.9) q = 167·A1·(1 + C·lgP) / (t + b)^n,
  q in L/(s·ha), t in min — equivalently i = A1·(1 + C·lgP) / (t + b)^n in mm/min. The
  cumulative depth of the storm is taken from the analytic mass curve, so the storm's total
  depth equals the intensity formula's depth for that duration exactly.
- `read_rain_series`: a continuous record from a CSV file or a SWMM user-prepared rain file
  ("STA YYYY MM DD HH mm value" lines, SWMM 5 User's Manual §11.3 "Rain Gage Files").
- `design_depth_for_control_rate`: the design rainfall depth of a target annual runoff volume
  control rate (《海绵城市建设技术指南》, MOHURD 2014, §3.3: daily series, days ≤ 2 mm left out).
- `synthetic_series`: a seeded, documented *synthetic* 10-year hourly series with a
  north-China annual total and summer concentration, for when no station record is at hand.
- `to_inp_timeseries`: the SWMM [TIMESERIES] lines of a hyetograph.

Plain NumPy; no twin import. Sources and parameter caveats: docs/rainfall.md.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

DEFAULT_START = datetime(2025, 7, 1, 0, 0)
"""Start time of design storms (any date works; SWMM needs one)."""


class RainfallError(ValueError):
    """Bad rainfall input: the message names the file, line or parameter."""


@dataclass
class Hyetograph:
    """Rainfall intensity, constant over each interval (how SWMM reads a rain gage series)."""

    times_s: np.ndarray
    """(T,) float64: start of each interval, s from `start`."""
    intensity_mm_h: np.ndarray
    """(T,) float64: mean intensity over the interval, mm/h."""
    interval_s: float
    """Interval length, s."""
    name: str
    start: datetime

    @property
    def depths_mm(self) -> np.ndarray:
        """Depth of each interval, mm."""
        return self.intensity_mm_h * self.interval_s / 3600.0

    @property
    def total_mm(self) -> float:
        return float(self.depths_mm.sum())

    @property
    def duration_s(self) -> float:
        return float(len(self.times_s) * self.interval_s)


@dataclass(kw_only=True, frozen=True)
class StormFormula:
    """One city's storm-intensity formula i = A1(1 + C lgP) / (t + b)^n (i mm/min, t min).

    `published` says whether the numbers are a city's published formula (with `source`) or a
    typical set standing in for one.
    """

    a1_mm_min: float
    """A1: rain intensity parameter, mm/min (q-form A = 167·A1 L/(s·ha))."""
    c: float
    """C: return-period coefficient, dimensionless."""
    b_min: float
    """b: time offset, min."""
    n: float
    """n: decay exponent, dimensionless."""
    source: str
    published: bool

    def mean_intensity_mm_min(self, duration_min: float, return_period_y: float) -> float:
        """Mean intensity over `duration_min`, mm/min."""
        return self.a1_mm_min * (1.0 + self.c * math.log10(return_period_y)) / (duration_min + self.b_min) ** self.n

    def depth_mm(self, duration_min: float, return_period_y: float) -> float:
        """Rain depth over `duration_min` (the IDF depth), mm."""
        return self.mean_intensity_mm_min(duration_min, return_period_y) * duration_min


NORTH_CHINA_TYPICAL = StormFormula(
    a1_mm_min=2001.0 / 167.0, c=0.811, b_min=8.0, n=0.711, published=False,
    source=("typical north-China set: the classic Beijing formula q = 2001(1+0.811 lgP)/(t+8)^0.711 "
            "as tabulated in the Water Supply and Drainage Design Handbook vol. 5 (2nd ed. 2004), "
            "quoted from memory and not checked against the handbook offline; Yantai's own "
            "published formula could not be found offline and must replace it before design use"),
)

STORM_FORMULAS: dict[str, StormFormula] = {
    "north_china_typical": NORTH_CHINA_TYPICAL,
    # Yantai (project city): no published Yantai formula could be found offline, so the city
    # key maps to the clearly labelled typical set (see docs/rainfall.md).
    "yantai": NORTH_CHINA_TYPICAL,
}
"""Settings table: city name (lower case) → formula. Add a city's published formula here."""


def storm_formula(city: str) -> StormFormula:
    key = city.strip().lower()
    if key not in STORM_FORMULAS:
        raise RainfallError(f"storm formula: unknown city {city!r}; known: {', '.join(sorted(STORM_FORMULAS))}")
    return STORM_FORMULAS[key]


# ---------------------------------------------------------------------------- design storm

def _chicago_mass_curve(t_min: np.ndarray, duration_min: float, peak_ratio: float,
                        formula: StormFormula, return_period_y: float) -> np.ndarray:
    """Cumulative depth (mm) of the Chicago storm at times t_min from its start.

    The Chicago storm puts every duration's IDF depth around the peak, split r : (1 − r)
    before and after it. With H(τ) = a·τ/(τ + b)^n the IDF depth of duration τ, the depth
    fallen from the start to a time tb before the peak is r·H(T) − r·H(tb/r), and to a time
    ta after the peak r·H(T) + (1 − r)·H(ta/(1 − r)); at t = T both give H(T).
    """
    a = formula.a1_mm_min * (1.0 + formula.c * math.log10(return_period_y))
    b, n, r = formula.b_min, formula.n, peak_ratio

    def idf_depth(tau):
        return a * tau / (tau + b) ** n

    t_peak = r * duration_min
    total_before = r * idf_depth(duration_min)
    t = np.clip(np.asarray(t_min, dtype=np.float64), 0.0, duration_min)
    out = np.empty_like(t)
    before = t <= t_peak
    if r > 0:
        out[before] = total_before - r * idf_depth((t_peak - t[before]) / r)
    else:
        out[before] = 0.0
    if r < 1:
        out[~before] = total_before + (1.0 - r) * idf_depth((t[~before] - t_peak) / (1.0 - r))
    else:
        out[~before] = total_before
    return out


def chicago_storm(return_period_y: float, duration_min: float = 120, peak_ratio: float = 0.4,
                  interval_min: float = 1, city: str = "yantai", *, start: datetime = DEFAULT_START) -> Hyetograph:
    """Chicago design hyetograph of return period P (years) from the city's storm formula.

    Interval depths are differences of the analytic mass curve, so the total is the IDF depth
    of `duration_min` to rounding and the interval holding the peak time has the largest mean
    intensity.
    """
    if not return_period_y > 0:
        raise RainfallError(f"chicago_storm: return_period_y must be > 0 years, not {return_period_y!r}")
    if not 0.0 <= peak_ratio <= 1.0:
        raise RainfallError(f"chicago_storm: peak_ratio must be within 0–1, not {peak_ratio!r}")
    if not interval_min > 0 or not duration_min > 0:
        raise RainfallError(f"chicago_storm: duration_min and interval_min must be > 0 (got {duration_min!r}, {interval_min!r})")
    steps = duration_min / interval_min
    if abs(steps - round(steps)) > 1e-9:
        raise RainfallError(f"chicago_storm: duration_min {duration_min} is not a whole number of {interval_min}-min intervals")
    formula = storm_formula(city)
    edges = np.arange(int(round(steps)) + 1, dtype=np.float64) * interval_min
    depth = np.diff(_chicago_mass_curve(edges, duration_min, peak_ratio, formula, return_period_y))
    interval_s = interval_min * 60.0
    return Hyetograph(times_s=edges[:-1] * 60.0, intensity_mm_h=depth * 3600.0 / interval_s, interval_s=interval_s,
                      name=f"chicago_{city.lower()}_P{return_period_y:g}y_{duration_min:g}min", start=start)


# ---------------------------------------------------------------------------- records

def _regular(times: list[datetime], values: list[float], *, interval_s: float | None, as_depth: bool,
             name: str, where: str) -> Hyetograph:
    """Records at arbitrary (sorted) times → a regular hyetograph, zero where nothing is listed."""
    if not times:
        raise RainfallError(f"{where}: no rainfall records")
    order = sorted(range(len(times)), key=times.__getitem__)
    times = [times[i] for i in order]
    values = np.array([values[i] for i in order], dtype=np.float64)
    start = times[0]
    offsets = np.array([(t - start).total_seconds() for t in times])
    if interval_s is None:
        steps = np.diff(offsets)
        steps = steps[steps > 0]
        interval_s = float(steps.min()) if len(steps) else 3600.0
    index = np.rint(offsets / interval_s).astype(np.int64)
    if np.any(np.abs(index * interval_s - offsets) > 1e-6 * interval_s + 1e-3):
        raise RainfallError(f"{where}: record times are not on a regular {interval_s:g}-s grid")
    if len(np.unique(index)) != len(index):
        raise RainfallError(f"{where}: two records for the same time")
    if np.any(values < 0) or not np.all(np.isfinite(values)):
        raise RainfallError(f"{where}: rainfall values must be finite and ≥ 0")
    intensity = np.zeros(int(index[-1]) + 1)
    intensity[index] = values * 3600.0 / interval_s if as_depth else values
    return Hyetograph(times_s=np.arange(len(intensity)) * interval_s, intensity_mm_h=intensity,
                      interval_s=float(interval_s), name=name, start=start)


def _parse_time(text: str, where: str) -> datetime:
    text = text.strip()
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            pass
    raise RainfallError(f"{where}: time {text!r} not understood (use ISO 8601, e.g. 2020-07-01 13:00)")


def read_rain_series(path: str | Path, *, interval_s: float | None = None) -> Hyetograph:
    """A continuous rainfall record as a regular hyetograph (times not listed are dry).

    Two formats, told apart by the first data line:
    - CSV with a header: `time` plus either `intensity_mm_h` or `depth_mm` (depth over the
      interval starting at `time`); times ISO 8601.
    - SWMM user-prepared rain file: `STA YYYY MM DD HH mm value` per line (whitespace
      separated), value = rain depth in mm over the interval (SWMM's VOLUME format);
      `;` starts a comment.
    The interval is the smallest spacing between records unless `interval_s` is given.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise RainfallError(f"{path}: cannot read rainfall file: {exc.strerror or exc}") from None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith(";")]
    if not lines:
        raise RainfallError(f"{path}: empty rainfall file")
    name = path.stem
    if "," in lines[0]:
        reader = csv.DictReader(lines)
        fields = [f.strip() for f in (reader.fieldnames or [])]
        reader.fieldnames = fields
        if "time" not in fields or not ({"intensity_mm_h", "depth_mm"} & set(fields)):
            raise RainfallError(f"{path}: CSV header must have 'time' and 'intensity_mm_h' or 'depth_mm' (found {fields})")
        column = "intensity_mm_h" if "intensity_mm_h" in fields else "depth_mm"
        times, values = [], []
        for number, row in enumerate(reader, start=2):
            where = f"{path}: line {number}"
            times.append(_parse_time(row["time"], where))
            try:
                values.append(float(row[column]))
            except (TypeError, ValueError):
                raise RainfallError(f"{where}: {column} {row[column]!r} is not a number") from None
        return _regular(times, values, interval_s=interval_s, as_depth=column == "depth_mm", name=name, where=str(path))
    times, values = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        parts = line.split(";")[0].split()
        where = f"{path}: line {number}"
        if len(parts) != 7:
            raise RainfallError(f"{where}: expected 'STA YYYY MM DD HH mm value' (7 fields), found {len(parts)}")
        try:
            year, month, day, hour, minute = (int(p) for p in parts[1:6])
            times.append(datetime(year, month, day) + timedelta(hours=hour, minutes=minute))
            values.append(float(parts[6]))
        except ValueError as exc:
            raise RainfallError(f"{where}: {exc}") from None
    return _regular(times, values, interval_s=interval_s, as_depth=True, name=name, where=str(path))


# ---------------------------------------------------------------------------- design depth

def daily_depths_mm(series: Hyetograph) -> np.ndarray:
    """Rain depth of each calendar day covered by the series, mm (intervals split at midnight
    are attributed to the day they start in)."""
    midnight = datetime(series.start.year, series.start.month, series.start.day)
    offset = (series.start - midnight).total_seconds()
    day = ((series.times_s + offset) // 86400.0).astype(np.int64)
    return np.bincount(day, weights=series.depths_mm)


def control_rate_of_depth(daily_mm, depth_mm: float, *, threshold_mm: float = 2.0) -> float:
    """Fraction of the annual rain volume (days > threshold) held by a capture depth: Σ min(d, D) / Σ d."""
    d = np.asarray(daily_mm, dtype=np.float64)
    d = d[d > threshold_mm]
    if d.sum() <= 0:
        raise RainfallError(f"control rate: no day with more than {threshold_mm} mm of rain")
    return float(np.minimum(d, depth_mm).sum() / d.sum())


def design_depth_for_control_rate(series, rate: float, *, threshold_mm: float = 2.0) -> float:
    """The design rainfall depth D (mm) whose capture holds `rate` of the annual rain volume.

    The Chinese method (Sponge City Technical Guide, MOHURD 2014, §3.3): from daily depths,
    leave out days ≤ 2 mm (too small to make runoff), and find D with
    Σ min(d_i, D) = rate · Σ d_i. Σ min(d_i, D) is piecewise linear in D, so D is exact.
    `series` is a Hyetograph (aggregated to calendar days) or an array of daily depths (mm).
    """
    if not 0.0 < rate < 1.0:
        raise RainfallError(f"design depth: control rate must be between 0 and 1 (exclusive), not {rate!r}")
    daily = daily_depths_mm(series) if isinstance(series, Hyetograph) else np.asarray(series, dtype=np.float64)
    d = np.sort(daily[daily > threshold_mm])
    if len(d) == 0:
        raise RainfallError(f"design depth: no day with more than {threshold_mm} mm of rain")
    target = rate * d.sum()
    # With D between d[k-1] and d[k]: captured = Σ_{i<k} d_i + (N − k)·D.
    below = np.concatenate(([0.0], np.cumsum(d)))
    for k in range(len(d)):
        lower = d[k - 1] if k > 0 else 0.0
        captured_at_dk = below[k] + (len(d) - k) * d[k]
        if captured_at_dk >= target:
            return float(max(lower, (target - below[k]) / (len(d) - k)))
    return float(d[-1])


# ---------------------------------------------------------------------------- synthetic record

MONTHLY_SHARE = np.array([0.015, 0.017, 0.027, 0.050, 0.075, 0.110, 0.240, 0.215, 0.110, 0.055, 0.055, 0.031])
"""Share of the annual total per month (Jan–Dec), north-China monsoon shape: about 65 % in
June–August (China Meteorological Administration normals for Shandong coastal stations show
this shape; the numbers here are rounded and typical, not a station's normals)."""
WET_DAY_PROBABILITY = np.array([0.090, 0.090, 0.112, 0.150, 0.173, 0.225, 0.338, 0.300, 0.203, 0.150, 0.135, 0.098])
"""Chance that a day is wet (≥ 0.1 mm), Jan–Dec: about 70 wet days a year with the Markov
persistence below, typical of north-China coastal stations."""
WET_AFTER_WET = 0.45
GAMMA_SHAPE = 0.5
"""Shape of the gamma distribution of wet-day depths: < 1 gives the skewed daily depths of a
monsoon climate (many small days, a few large storms)."""
HOURLY_CONCENTRATION = 0.7
"""Dirichlet concentration of the hourly weights within a storm (< 1: a peaked storm)."""
"""Persistence: P(wet | previous day wet) is raised toward this value (first-order Markov chain)."""


def synthetic_series(years: int = 10, seed: int = 0, *, annual_total_mm: float = 670.0,
                     start_year: int = 2011) -> Hyetograph:
    """A SYNTHETIC hourly rainfall series — not a record of any station.

    Stands in for a Yantai 10-year record, which is not available offline. Built in three
    seeded steps (numpy default_rng(seed)):
    1. wet/dry days from a first-order Markov chain with the monthly wet-day chance
       `WET_DAY_PROBABILITY` and persistence `WET_AFTER_WET`;
    2. wet-day depths from a gamma distribution (shape `GAMMA_SHAPE`) with a monthly mean that makes the
       month's expected total `MONTHLY_SHARE · annual_total_mm`;
    3. each day's depth spread over a storm of 1–12 h (longer for larger days) starting at a
       random hour, with random (Dirichlet, `HOURLY_CONCENTRATION`) hourly weights.
    The whole series is finally scaled so that its mean annual total is `annual_total_mm`
    (typical north-China coastal total, 650–700 mm); years still differ from each other.
    """
    if years < 1:
        raise RainfallError(f"synthetic_series: years must be ≥ 1, not {years!r}")
    rng = np.random.default_rng(seed)
    start = datetime(start_year, 1, 1)
    days = (datetime(start_year + years, 1, 1) - start).days
    hourly = np.zeros(days * 24)
    shape = GAMMA_SHAPE
    wet_yesterday = False
    for k in range(days):
        date = start + timedelta(days=k)
        m = date.month - 1
        p_wet = WET_DAY_PROBABILITY[m]
        p = p_wet + (WET_AFTER_WET - p_wet) * 0.5 if wet_yesterday else p_wet
        wet_yesterday = rng.random() < p
        if not wet_yesterday:
            continue
        days_in_month = ((date.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)).day
        mean_wet_depth = MONTHLY_SHARE[m] * annual_total_mm / (days_in_month * p_wet)
        depth = rng.gamma(shape, mean_wet_depth / shape)
        storm_hours = int(np.clip(round(1 + depth / 6.0 + rng.integers(0, 4)), 1, 12))
        first_hour = int(rng.integers(0, 24))
        weights = rng.dirichlet(np.full(storm_hours, HOURLY_CONCENTRATION))
        hours = k * 24 + first_hour + np.arange(storm_hours)
        hours = hours[hours < len(hourly)]
        hourly[hours] += depth * weights[: len(hours)]
    hourly = np.round(hourly * annual_total_mm * years / hourly.sum(), 1)  # 0.1 mm, a rain gauge's resolution
    return Hyetograph(times_s=np.arange(len(hourly)) * 3600.0, intensity_mm_h=hourly, interval_s=3600.0,
                      name=f"synthetic_north_china_{years}y_seed{seed}", start=start)


# ---------------------------------------------------------------------------- SWMM

def to_inp_timeseries(h: Hyetograph, name: str) -> str:
    """SWMM [TIMESERIES] lines (`name MM/DD/YYYY HH:MM intensity`) of a hyetograph.

    For a rain gage SWMM holds each value for the gage's interval and reads unlisted times as
    dry, so only wet intervals are written, each wet spell closed by a 0 entry; the first and
    last intervals are always written so the series spans the whole hyetograph.
    """
    if not name or any(c.isspace() for c in name):
        raise RainfallError(f"to_inp_timeseries: SWMM names cannot be empty or contain spaces: {name!r}")
    intensity = np.asarray(h.intensity_mm_h, dtype=np.float64)
    wet = intensity > 0
    keep = wet.copy()
    keep[1:] |= wet[:-1]  # the dry interval after a wet one closes the spell
    keep[0] = keep[-1] = True
    lines = []
    for k in np.flatnonzero(keep):
        when = h.start + timedelta(seconds=float(h.times_s[k]))
        lines.append(f"{name} {when:%m/%d/%Y %H:%M:%S} {intensity[k]:.4f}")
    when_end = h.start + timedelta(seconds=float(h.times_s[-1] + h.interval_s))
    lines.append(f"{name} {when_end:%m/%d/%Y %H:%M:%S} 0.0000")
    return "\n".join(lines) + "\n"
