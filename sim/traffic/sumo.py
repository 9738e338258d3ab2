"""Run the same plain-XML files in SUMO (the anchor) to cross-check this engine.

`run_sumo(nod, edg, rou, workdir)` builds the network with netconvert (no U-turns, as this
engine) and runs sumo with the same step length, then reads tripinfo: per vehicle its depart,
arrival and duration, plus teleports (SUMO's way of clearing a gridlock, which it reports as
warnings). A scenario's other plain files go to netconvert (`types` .typ.xml, `connections`
.con.xml, `tls` .tll.xml) and `additional` files (vTypes kept apart from the routes) to sumo; when
not given they are the ones found next to the files, as `sim.traffic.io` finds them
(`companion_files`; .add.xml files that define vTypes), so both engines run the same scenario. Needs the eclipse-sumo package (the `anchors` extra); `sumo_available()` says whether
it is there.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def _binary(name: str) -> str | None:
    """The sumo / netconvert program itself. The eclipse-sumo wheel's binary comes first: the
    wheel also puts a Python launcher of that name in the venv's bin, a Python process starting
    the binary (about 0.09 s of CPU a run that would count as SUMO's in cpu_s)."""
    try:
        import sumo  # eclipse-sumo wheel

        candidate = Path(sumo.SUMO_HOME) / "bin" / name
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    return shutil.which(name)


def sumo_available() -> bool:
    return _binary("sumo") is not None and _binary("netconvert") is not None


@dataclass(kw_only=True)
class SumoRun:
    ids: list[str]
    depart_s: np.ndarray
    arrive_s: np.ndarray
    duration_s: np.ndarray
    route_length_m: np.ndarray
    teleports: int
    jam_teleports: int
    cpu_s: float           # CPU seconds of the sumo process (user + system)
    vehicle_updates: int   # sum over steps of vehicles running (from the summary output)
    loaded: int


def run_sumo(nod, edg, rou, workdir, *, step_s: float = 0.5, end_s: float | None = None, time_to_teleport_s: float = 300.0,
             types=None, connections=None, tls=None, additional=()) -> SumoRun:
    from .io import companion_files

    found = companion_files(edg)
    # None: the file found next to the edges; False: none
    types, connections, tls = ((found[k] if v is None else v or None) for k, v in
                               (("types", types), ("connections", connections), ("tls", tls)))
    if not additional:
        additional = [p for p in sorted(Path(rou).parent.glob("*.add.xml")) if "<vType" in p.read_text(errors="replace")]
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    net = work / "net.net.xml"
    env = dict(os.environ)
    build = [_binary("netconvert"), "-n", str(nod), "-e", str(edg), "-o", str(net), "--no-turnarounds", "true", "--no-warnings", "true"]
    for option, path in (("-t", types), ("-x", connections), ("-i", tls)):
        if path:
            build += [option, str(path)]
    proc = subprocess.run(build, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"netconvert failed: {proc.stderr[-2000:]}")
    tripinfo, summary = work / "tripinfo.xml", work / "summary.xml"
    cmd = [_binary("sumo"), "-n", str(net), "-r", str(rou), "--step-length", str(step_s), "--tripinfo-output", str(tripinfo),
           "--summary-output", str(summary), "--no-step-log", "true", "--time-to-teleport", str(time_to_teleport_s),
           "--duration-log.disable", "true", "--seed", "42"]
    if additional:
        cmd += ["-a", ",".join(str(a) for a in additional)]
    if end_s is not None:
        cmd += ["--end", str(end_s)]
    before = os.times()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    after = os.times()
    if proc.returncode != 0:
        raise RuntimeError(f"sumo failed: {proc.stderr[-2000:]}")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    ids, dep, arr, dur, rl = [], [], [], [], []
    for el in ET.parse(tripinfo).getroot().iter("tripinfo"):
        ids.append(el.get("id"))
        dep.append(float(el.get("depart")))
        arr.append(float(el.get("arrival")))
        dur.append(float(el.get("duration")))
        rl.append(float(el.get("routeLength")))
    updates = 0
    loaded = 0
    for el in ET.parse(summary).getroot().iter("step"):
        updates += int(float(el.get("running")))
        loaded = int(float(el.get("loaded")))
    text = proc.stderr + proc.stdout
    teleports = len(re.findall(r"Teleporting vehicle", text))
    jam = len(re.findall(r"Teleporting vehicle '[^']*'; waited too long \((jam|yield|wrong lane)", text))
    return SumoRun(ids=ids, depart_s=np.array(dep), arrive_s=np.array(arr), duration_s=np.array(dur), route_length_m=np.array(rl),
                   teleports=teleports, jam_teleports=jam, cpu_s=cpu, vehicle_updates=updates, loaded=loaded)
