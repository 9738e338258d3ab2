"""Result: what every engine returns — named metrics with units, time series, optional frames.

Saved as a JSON file (engine, metrics, series names/units) plus an NPZ file (the arrays),
both written to a temporary file first and then renamed, so nothing half-written is left.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True, kw_only=True)
class Metric:
    """One number experts read: its value, its unit and a one-line meaning."""

    value: float
    unit: str
    meaning: str


@dataclass(frozen=True, kw_only=True)
class Series:
    """A time series: times in seconds from the simulation start, values in `unit`."""

    times_s: np.ndarray
    values: np.ndarray
    unit: str


@dataclass(kw_only=True)
class Result:
    """The output of one engine run (DESIGN.md: metrics, series and frames for playback)."""

    engine: str
    engine_version: str
    metrics: dict[str, Metric] = field(default_factory=dict)
    series: dict[str, Series] = field(default_factory=dict)
    frames: dict[str, np.ndarray] | None = None

    def value(self, name: str) -> float:
        """The value of metric `name` (KeyError naming the known metrics if absent)."""
        if name not in self.metrics:
            raise KeyError(f"metric {name!r} not in result of {self.engine}; known: {sorted(self.metrics)}")
        return self.metrics[name].value

    def to_json(self) -> dict:
        """A JSON-ready dict: engine, metrics and series (arrays inlined as lists)."""
        return {
            "engine": self.engine,
            "engine_version": self.engine_version,
            "metrics": {k: {"value": m.value, "unit": m.unit, "meaning": m.meaning} for k, m in self.metrics.items()},
            "series": {k: {"unit": s.unit, "times_s": np.asarray(s.times_s).tolist(),
                           "values": np.asarray(s.values).tolist()} for k, s in self.series.items()},
            "frames": sorted(self.frames) if self.frames else [],
        }

    def save(self, path: str | os.PathLike) -> tuple[Path, Path]:
        """Write `path`.npz (arrays), then `path`.json (metrics, series units); each atomically, so a
        JSON present means the run's arrays are complete."""
        base = Path(path)
        if base.suffix in (".json", ".npz"):
            base = base.with_suffix("")
        base.parent.mkdir(parents=True, exist_ok=True)
        meta = self.to_json()
        for s in meta["series"].values():
            del s["times_s"], s["values"]
        arrays = {}
        for k, s in self.series.items():
            arrays[f"series/{k}/times_s"] = np.asarray(s.times_s, dtype=np.float64)
            arrays[f"series/{k}/values"] = np.asarray(s.values)
        for k, a in (self.frames or {}).items():
            arrays[f"frames/{k}"] = np.asarray(a)
        json_path, npz_path = base.with_suffix(".json"), base.with_suffix(".npz")
        # arrays first: the JSON is the index, so a JSON on disk means its NPZ is complete
        _atomic_write(npz_path, lambda f: np.savez_compressed(f, **arrays))
        _atomic_write(json_path, lambda f: f.write(json.dumps(meta, indent=1).encode()))
        return json_path, npz_path


def _atomic_write(target: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
