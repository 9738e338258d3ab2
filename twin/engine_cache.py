"""Engine and sunlight runs for the scorecard, cached on disk by input fingerprint.

An engine is reached through `twin.commands.<engine>.run_state(project, state_name, *,
progress=None) -> sim.result.Result`. A run is keyed by the engine, the state, the bytes of
every input file of that state (project.toml, the IFC or action files down to the baseline,
the CIM context), the settings it ran with and the source code of the engine, the extraction
and the layers; the Result (without its playback frames) is pickled under
`$TWIN_CACHE_DIR/runs/`. So a scorecard of unchanged inputs reads its runs back, and any
change of input or code runs the engine again. A missing engine module or function, or an
engine that raises, becomes NotComputed with the reason — never a made-up value.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import pickle
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twin.atomic import write_atomically
from twin.cache import cache_dir
from twin.errors import OutputError, TwinError

ROOT = Path(__file__).resolve().parent.parent
CODE = {
    "stormwater": ["sim/stormwater", "sim/result.py", "twin/extract", "twin/layers.py", "twin/commands/stormwater.py"],
    "traffic": ["sim/traffic", "sim/result.py", "twin/extract", "twin/layers.py", "twin/commands/traffic.py"],
    "evacuation": ["sim/evacuation", "sim/result.py", "twin/extract", "twin/layers.py", "twin/commands/evacuation.py"],
    "sunlight": ["twin/sunlight.py", "twin/kernels.py", "twin/layers.py", "twin/geometry.py"],
}
"""Source files whose text is part of a run's key (a code change invalidates cached runs)."""


def _code_hash(engine: str) -> str:
    digest = hashlib.sha256()
    for entry in CODE[engine]:
        path = ROOT / entry
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            if file.exists():
                digest.update(str(file.relative_to(ROOT)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def _file_digests(run_args: dict | None) -> dict[str, str]:
    """Content hashes of the files a run argument names (a rain record): an edited file runs again."""
    digests = {}
    for name, value in (run_args or {}).items():
        if isinstance(value, str) and Path(value).is_file():
            digests[name] = hashlib.sha256(Path(value).read_bytes()).hexdigest()
    return digests


@dataclass(kw_only=True)
class EngineRun:
    engine: str
    state: str
    key: str
    result: Any
    seconds: float
    cached: bool
    overrides: dict | None = None

    def describe(self, metric: str | None = None) -> str:
        version = f"{self.result.engine} {self.result.engine_version}" if hasattr(self.result, "engine_version") else self.engine
        settings = f", settings {json.dumps(self.overrides, sort_keys=True)}" if self.overrides else ""
        what = f" metric {metric}" if metric else ""
        return f"{version} on {self.state}, run {self.key[:12]}{settings}{what}"


class Runs:
    """The runs one scorecard needs, computed once per process and cached on disk."""

    def __init__(self, project, *, engines: set[str], cache: bool = True, progress=None) -> None:
        """`progress(engine, state, fraction 0–1)` is called while an engine runs (not for cached runs)."""
        self.project = project
        self.engines = engines
        self.cache = cache
        self.progress = progress
        self._memo: dict[tuple, Any] = {}
        self._fingerprints: dict[str, str] = {}
        self._code: dict[str, str] = {}
        self.log: list[dict] = []

    # ------------------------------------------------------------------ fingerprints
    def state_fingerprint(self, state: str) -> str:
        if state not in self._fingerprints:
            from twin.actions import read_actions

            spec = self.project.state(state)
            digest = hashlib.sha256()
            digest.update((self.project.root / "project.toml").read_bytes())
            if self.project.context is not None:
                digest.update(self.project.context.read_bytes())
            if spec.ifc is not None:
                digest.update(spec.ifc.read_bytes())
            else:
                digest.update(spec.actions.read_bytes())
                header, _ = read_actions(spec.actions)
                base = spec.base or header.get("base") or self.project.baseline.name
                if base != state:
                    digest.update(self.state_fingerprint(base).encode())
            self._fingerprints[state] = digest.hexdigest()
        return self._fingerprints[state]

    def code_hash(self, engine: str) -> str:
        """Hash of the engine's source, taken once per Runs before the engine is first imported, so
        a file edited while the scorecard runs never labels results of the code already loaded."""
        if engine not in self._code:
            self._code[engine] = _code_hash(engine)
        return self._code[engine]

    def _key(self, engine: str, state: str, extra: Any) -> str:
        digest = hashlib.sha256()
        for part in (engine, state, self.state_fingerprint(state), self.code_hash(engine), json.dumps(extra, sort_keys=True, default=str)):
            digest.update(str(part).encode() + b"\0")
        return digest.hexdigest()

    # ------------------------------------------------------------------ disk
    def _load(self, key: str):
        if not self.cache:
            return None
        try:
            with open(cache_dir() / "runs" / f"{key}.pickle", "rb") as handle:
                return pickle.load(handle)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
            return None

    def _store(self, key: str, payload) -> None:
        if not self.cache:
            return
        try:
            folder = cache_dir() / "runs"
            folder.mkdir(parents=True, exist_ok=True)
            write_atomically(folder / f"{key}.pickle", lambda s: pickle.dump(payload, s, protocol=pickle.HIGHEST_PROTOCOL), mode=0o600)
        except (OSError, OutputError):
            pass  # a read-only cache only costs the speed-up

    # ------------------------------------------------------------------ engines
    def engine(self, state: str, engine: str, *, overrides: dict | None = None, run_args: dict | None = None) -> EngineRun:
        """The engine's run of a state: project settings updated with `overrides`, and `run_args`
        passed to its run_state as keyword arguments (e.g. a stormwater design storm)."""
        from twin.indicators import NotComputed

        memo_key = (engine, state, json.dumps(overrides, sort_keys=True), json.dumps(run_args, sort_keys=True))
        if memo_key in self._memo:
            outcome = self._memo[memo_key]
            if isinstance(outcome, NotComputed):
                raise outcome
            return outcome
        try:
            outcome = self._run_engine(state, engine, overrides, run_args)
        except NotComputed as exc:
            self._memo[memo_key] = exc
            self.log.append({"engine": engine, "state": state, "overrides": overrides or run_args, "error": str(exc)})
            raise
        self._memo[memo_key] = outcome
        self.log.append({"engine": engine, "state": state, "overrides": outcome.overrides, "key": outcome.key,
                         "engine_version": getattr(outcome.result, "engine_version", None),
                         "engine_name": getattr(outcome.result, "engine", engine),
                         "seconds": round(outcome.seconds, 2), "cached": outcome.cached})
        return outcome

    def _run_engine(self, state: str, engine: str, overrides: dict | None, run_args: dict | None) -> EngineRun:
        import inspect

        from twin.indicators import NotComputed

        settings = {**self.project.settings, **(overrides or {})}
        described = {**(overrides or {}), **(run_args or {})} or None
        key = self._key(engine, state, {"settings": settings, "run_args": run_args or {},
                                        "files": _file_digests(run_args)})
        stored = self._load(key)
        if stored is not None:
            return EngineRun(engine=engine, state=state, key=key, result=stored["result"], seconds=stored["seconds"],
                             cached=True, overrides=described)
        module_name = f"twin.commands.{engine}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name in (module_name, f"sim.{engine}"):
                raise NotComputed(f"{engine} engine not available in this build") from None
            raise NotComputed(f"{engine} engine failed to import: {exc}") from None
        except Exception as exc:  # an engine that does not import is reported, not fatal to the scorecard
            raise NotComputed(f"{engine} engine failed to import: {exc}") from None
        run_state = getattr(module, "run_state", None)
        if run_state is None:
            raise NotComputed(f"{engine} engine not available in this build ({module_name} has no run_state)")
        if run_args:
            accepted = inspect.signature(run_state).parameters
            missing = [name for name in run_args if name not in accepted]
            if missing:
                raise NotComputed(f"{engine} engine's run_state takes no {', '.join(missing)} argument")
        project = dataclasses.replace(self.project, settings=settings) if overrides else self.project
        started = time.perf_counter()
        try:
            result = run_state(project, state, progress=self._progress_for(engine, state), **(run_args or {}))
        except Exception as exc:  # the brief: an engine that raises is 'not computed: <error>', never fatal
            raise NotComputed(f"{engine} engine failed: {type(exc).__name__}: {exc}") from None
        seconds = time.perf_counter() - started
        light = dataclasses.replace(result, frames=None) if dataclasses.is_dataclass(result) else result
        self._store(key, {"result": light, "seconds": seconds})
        return EngineRun(engine=engine, state=state, key=key, result=light, seconds=seconds, cached=False, overrides=described)

    def _progress_for(self, engine: str, state: str):
        """The engines call progress(fraction[, message]); the scorecard's callback also gets which run."""
        if self.progress is None:
            return None
        return lambda fraction, *message: self.progress(engine, state, float(fraction))

    # ------------------------------------------------------------------ sunlight
    def sunlight(self, state: str, *, without_added_elevators: bool = False):
        from twin.indicators import NotComputed

        memo_key = ("sunlight", state, without_added_elevators)
        if memo_key in self._memo:
            outcome = self._memo[memo_key]
            if isinstance(outcome, Exception):
                raise outcome
            return outcome
        try:
            outcome = self._run_sunlight(state, without_added_elevators)
        except TwinError as exc:
            outcome = NotComputed(str(exc))
            self._memo[memo_key] = outcome
            raise outcome from None
        self._memo[memo_key] = outcome
        self.log.append({"engine": "sunlight", "state": state, "without_added_elevators": without_added_elevators,
                         "key": outcome.key, "seconds": round(outcome.seconds, 2), "cached": outcome.cached,
                         "triangles": outcome.result.triangles, "dwellings": len(outcome.result.hours)})
        return outcome

    def _run_sunlight(self, state: str, without_added_elevators: bool):
        from twin.project import load_state
        from twin.sunlight import SunlightSettings, added_elevators, analyse, site_latitude

        twin = load_state(self.project, state)
        latitude, source = site_latitude(twin, self.project.settings)
        fields = {f.name for f in dataclasses.fields(SunlightSettings)}
        chosen = {k[len("sunlight_"):]: v for k, v in self.project.settings.items()
                  if k.startswith("sunlight_") and k[len("sunlight_"):] in fields and k != "sunlight_latitude_deg"}
        settings = SunlightSettings(latitude_deg=latitude, **chosen)
        exclude: set[str] = set()
        if without_added_elevators:
            exclude = added_elevators(load_state(self.project, self.project.baseline.name), twin)
        key = self._key("sunlight", state, {"settings": dataclasses.asdict(settings), "exclude": sorted(exclude)})
        stored = self._load(key)
        if stored is None:
            result = analyse(twin, settings, exclude=exclude, latitude_source=source)
            self._store(key, {"result": result, "seconds": result.seconds})
            return SunlightRun(state=state, key=key, result=result, seconds=result.seconds, cached=False)
        return SunlightRun(state=state, key=key, result=stored["result"], seconds=stored["seconds"], cached=True)

    def provenance(self) -> list[dict]:
        return list(self.log)


@dataclass(kw_only=True)
class SunlightRun:
    state: str
    key: str
    result: Any
    seconds: float
    cached: bool

    def share_meeting(self) -> float:
        return self.result.share_meeting()

    def describe(self) -> str:
        s = self.result.settings
        return (f"twin.sunlight on {self.state}, run {self.key[:12]}: {len(self.result.hours)} dwellings, "
                f"latitude {s.latitude_deg:.3f}°, declination {s.declination():.2f}°, {s.start_h:g}–{s.end_h:g} h true solar time, "
                f"step {s.step_min:g} min")
