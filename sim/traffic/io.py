"""SUMO plain XML in and out: nodes (.nod.xml), edges (.edg.xml), edge types (.typ.xml), vehicle types,
trips, flows and routes (.rou.xml).

What is read: node id, x, y, type (priority, right_before_left, traffic_light, allway_stop, dead_end,
traffic_light_unregulated (nobody gives way); missing = priority, netconvert's default;
traffic_light_right_on_red and priority_stop run as the nearest of these, with a warning); edge id,
from, to, type, numLanes, speed, priority, length, width (per lane), shape, an edge type's numLanes,
speed, priority and width; vType id, vClass (with SUMO's defaults for that class), length, minGap,
accel, decel, tau, maxSpeed, delta, speedFactor (a number or norm/normc(mean, dev, ...)), speedDev,
sigma, carFollowModel (Krauss, SUMO's default, and IDM run as such, others as IDM; IDM parameters as
SUMO names them), vTypeDistribution; vehicle with a nested or named route, trip (from, to, via), flow (begin,
end, number, period, period="exp(rate)", vehsPerHour, probability); depart (s or h:m:s), departSpeed
(missing: the desired speed, as SUMO 1.28 inserts), arrivalPos; a vehicle's <stop lane|edge endPos duration> (a bus stop and its dwell).

The files netconvert would take with the edge file are found next to it (`companion_files`): X.typ.xml
(or the folder's only .typ.xml / .type.xml) supplies edge types, a .con.xml the lanes of the movements
(fromLane, toLane), a .tll.xml fixed-time signal programs (phases, offset; link indices numbered as
netconvert numbers them, or as the file's own <connection linkIndex> give them). vTypes a
route file uses but does not define are taken from .add.xml files next to it (SUMO's additional files).

Anything read but not applied as SUMO would apply it is named in a `SumoInputWarning` (file, element,
attribute); anything that changes the meaning beyond that (an unknown node type, depart="triggered",
an undefined vType) stops with a message naming the file, the element and the attribute. Files are
written atomically.
"""
from __future__ import annotations

import math
import os
import random
import re
import tempfile
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

from .model import Demand, DemandError, Trip, VType, VTYPES
from .network import Connection, Edge, LANE_WIDTH_M, Network, NetworkError, Node
from .signals import SignalPlan


class SumoInputWarning(UserWarning):
    """A part of a SUMO file that is read but not simulated as SUMO would simulate it."""


def _warn(message: str) -> None:
    warnings.warn(message, SumoInputWarning, stacklevel=3)


SUMO_NODE_TYPES = {"priority": "priority", "right_before_left": "right_before_left", "traffic_light": "traffic_light",
                   "allway_stop": "allway_stop", "dead_end": "dead_end", "traffic_light_unregulated": "unregulated"}
"""SUMO node type -> ours (traffic_light_unregulated: netconvert's one all-green phase, nobody gives way)."""
NODE_TYPES_APPROXIMATED = {
    "traffic_light_right_on_red": ("traffic_light", "run as a plain signal (no right turn on red)"),
    "priority_stop": ("priority", "run as a priority junction (minor roads give way without stopping first)"),
}
SUMO_DEFAULT_EDGE = {"numLanes": 1, "speed": 13.89, "priority": -1}
"""What netconvert gives an edge whose type is not defined (measured with SUMO 1.28: it warns nothing)."""

SUMO_VCLASS_DEFAULTS = {
    # vClass: (length, minGap, accel, decel, maxSpeed, speedDev, width) as SUMO 1.28 gives a vType of that
    # class without further attributes (read back through TraCI); tau 1.0 and speedFactor 1.0 for all.
    "passenger": (5.0, 2.5, 2.6, 4.5, 55.56, 0.1, 1.8), "private": (5.0, 2.5, 2.6, 4.5, 55.56, 0.1, 1.8),
    "taxi": (5.0, 2.5, 2.6, 4.5, 55.56, 0.05, 1.8), "evehicle": (5.0, 2.5, 2.6, 4.5, 55.56, 0.1, 1.8),
    "hov": (5.0, 2.5, 2.6, 4.5, 55.56, 0.1, 1.8), "custom1": (5.0, 2.5, 2.6, 4.5, 55.56, 0.1, 1.8),
    "custom2": (5.0, 2.5, 2.6, 4.5, 55.56, 0.1, 1.8), "vip": (5.0, 2.5, 2.6, 4.5, 55.56, 0.1, 1.8),
    "authority": (5.0, 2.5, 2.6, 4.5, 55.56, 0.0, 1.8), "army": (5.0, 2.5, 2.6, 4.5, 55.56, 0.0, 1.8),
    "delivery": (6.5, 2.5, 2.6, 4.5, 55.56, 0.05, 2.16), "emergency": (6.5, 2.5, 2.6, 4.5, 55.56, 0.0, 2.16),
    "bus": (12.0, 2.5, 1.2, 4.0, 27.78, 0.0, 2.5), "coach": (14.0, 2.5, 2.0, 4.0, 27.78, 0.05, 2.6),
    "truck": (7.1, 2.5, 1.3, 4.0, 36.11, 0.05, 2.4), "trailer": (16.5, 2.5, 1.1, 4.0, 36.11, 0.05, 2.55),
    "motorcycle": (2.2, 2.5, 6.0, 10.0, 55.56, 0.1, 0.9), "moped": (2.1, 2.5, 1.1, 7.0, 16.67, 0.1, 0.78),
    "bicycle": (1.6, 0.5, 1.2, 3.0, 13.89, 0.1, 0.65),
}
SUMO_DEFAULT_VTYPES = {"DEFAULT_VEHTYPE": "passenger", "DEFAULT_BIKETYPE": "bicycle", "DEFAULT_TAXITYPE": "taxi"}
"""SUMO's predefined vehicle types (their vClass defaults), which route files use without defining them."""
NO_SIREN_EMERGENCY = "emergency-no-bluelight"
"""vclass of a SUMO vType of class emergency without the bluelight device: in SUMO such a vehicle gets
no right of way, so here it drives as an ordinary vehicle (only vclass "emergency" has the siren)."""

# attributes read elsewhere or without effect on the simulation (drawing, output, emissions)
_COSMETIC = {"color", "guiShape", "imgFile", "osgFile", "emissionClass", "personCapacity", "containerCapacity",
             "boardingDuration", "loadingDuration", "mass", "height", "name", "z", "spreadType", "line",
             "xmlns:xsi", "{http://www.w3.org/2001/XMLSchema-instance}noNamespaceSchemaLocation", "version"}


class _Unapplied:
    """Attributes read but not applied, gathered per element kind, reported once per file."""

    def __init__(self, path) -> None:
        self.path = path
        self.seen: dict[str, dict[str, list[str]]] = {}
        self.why: dict[tuple[str, str], str] = {}

    def check(self, el: ET.Element, kind: str, eid: str, used: set[str]) -> None:
        for attr in el.attrib:
            if attr not in used and attr not in _COSMETIC:
                self.add(kind, attr, eid)

    def add(self, kind: str, attr: str, eid: str, why: str = "") -> None:
        self.seen.setdefault(kind, {}).setdefault(attr, []).append(eid)
        if why:
            self.why[kind, attr] = why

    def report(self, notes: list[str] | None = None) -> None:
        for kind, attrs in self.seen.items():
            parts = []
            for a, ids in attrs.items():
                why = self.why.get((kind, a))
                parts.append(f"{a}{' - ' + why if why else ''} ({', '.join(ids[:3])}{', ...' if len(ids) > 3 else ''})")
            _warn(f"{self.path}: {kind} attributes read but not applied by this engine: {'; '.join(parts)}")
            if notes is not None:
                notes.append(f"{kind}: {', '.join(attrs)} not applied")


def _parse(path, error=NetworkError) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except ET.ParseError as exc:
        raise error(f"{path}: not well-formed XML: {exc}") from None


def _number(raw, where: str, name: str, error=NetworkError) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise error(f"{where}: attribute {name}={raw!r} is not a number") from None
    if not math.isfinite(value):
        raise error(f"{where}: attribute {name}={raw!r} is not finite")
    return value


def _float(el: ET.Element, name: str, where: str, default=None, error=NetworkError) -> float | None:
    raw = el.get(name)
    return default if raw is None else _number(raw, where, name, error)


def _elements(path, tag: str):
    """(element, id, where) for every <tag> of the file; an element without id stops with its number."""
    for n, el in enumerate(_parse(path).iter(tag)):
        eid = el.get("id")
        where = f"{path}: {tag} {eid or '#' + str(n)}"
        if not eid:
            raise NetworkError(f"{where}: missing attribute id")
        yield el, eid, where


def _stem(path) -> str:
    name = Path(path).name
    for suffix in (".edg.xml", ".nod.xml", ".rou.xml", ".typ.xml", ".type.xml", ".con.xml", ".tll.xml", ".add.xml", ".xml"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return Path(path).stem


def _next_to(path, suffixes: tuple[str, ...]) -> tuple[Path | None, list[Path]]:
    """A file next to `path` with one of these suffixes: the one with the same stem, else the folder's
    only one; (None, candidates) when there are several and none shares the stem."""
    folder, stem = Path(path).parent, _stem(path)
    found = sorted({p for suffix in suffixes for p in folder.glob("*" + suffix)})
    for p in found:
        if any(p.name == stem + suffix for suffix in suffixes):
            return p, found
    return (found[0] if len(found) == 1 else None), found


def companion_files(edg_path) -> dict[str, Path | None]:
    """The plain files netconvert would take with this edge file, found next to it: edge types
    (.typ.xml / .type.xml), connections (.con.xml), traffic-light programs (.tll.xml). The one with the
    edge file's stem (X.edg.xml -> X.typ.xml) wins, else the folder's only one of its kind."""
    return {"types": _next_to(edg_path, (".typ.xml", ".type.xml"))[0], "connections": _next_to(edg_path, (".con.xml",))[0],
            "tls": _next_to(edg_path, (".tll.xml",))[0]}


def read_nodes(path) -> list[Node]:
    nodes = []
    unapplied = _Unapplied(path)
    for el, nid, where in _elements(path, "node"):
        x, y = _float(el, "x", where), _float(el, "y", where)
        if x is None or y is None:
            raise NetworkError(f"{where}: needs x and y")
        kind = el.get("type", "priority")
        if kind in NODE_TYPES_APPROXIMATED:
            kind, how = NODE_TYPES_APPROXIMATED[kind]
            unapplied.add("node", f"type={el.get('type')}", nid, how)
        elif kind not in SUMO_NODE_TYPES:
            raise NetworkError(f"{where}: type={kind!r} not supported (expected one of "
                               f"{', '.join(list(SUMO_NODE_TYPES) + list(NODE_TYPES_APPROXIMATED))})")
        used = {"id", "x", "y", "type"} | ({"tlType"} if el.get("tlType", "static") == "static" else set()) \
            | ({"tl"} if el.get("tl") == nid else set())   # tl naming another program: joint control
        unapplied.check(el, "node", nid, used)
        nodes.append(Node(id=nid, x=x, y=y, kind=SUMO_NODE_TYPES[kind], source=str(path)))
    if not nodes:
        raise NetworkError(f"{path}: no <node> elements")
    for el in _parse(path):
        if el.tag not in ("node", "location", "param"):
            unapplied.add("node file", f"<{el.tag}>", el.get("id", "-"))
    unapplied.report()
    return nodes


def read_types(path) -> dict[str, dict[str, float]]:
    """Edge types of a .typ.xml: id -> numLanes, speed, priority, width (those given)."""
    types = {}
    unapplied = _Unapplied(path)
    for el, tid, where in _elements(path, "type"):
        types[tid] = {a: _float(el, a, where) for a in ("numLanes", "speed", "priority", "width") if el.get(a) is not None}
        unapplied.check(el, "edge type", tid, {"id", "numLanes", "speed", "priority", "width", "oneway"})
    unapplied.report()
    return types


def read_edges(path, types=None) -> list[Edge]:
    """Edges of a .edg.xml. `types`: edge types (a .typ.xml path or read_types' dict); None: the type file
    found next to the edge file (`companion_files`), if any edge names a type."""
    root = _parse(path)
    unapplied = _Unapplied(path)
    inline = {}
    for n, el in enumerate(root.iter("type")):   # types given inside the edge file
        tid = el.get("id") or f"#{n}"
        inline[tid] = {a: _float(el, a, f"{path}: type {tid}") for a in ("numLanes", "speed", "priority", "width") if el.get(a) is not None}
    if any(el.get("type") for el in root.iter("edge")) and types is None:
        found, candidates = _next_to(path, (".typ.xml", ".type.xml"))
        if found is not None:
            types = found
            if _stem(found) != _stem(path):
                _warn(f"{path}: edge types read from {found} (the only type file next to it)")
        elif candidates:
            _warn(f"{path}: edges name types but several type files lie next to it ({', '.join(p.name for p in candidates)}): none read")
    if isinstance(types, (str, Path)):
        types = read_types(types)
    types = {**inline, **(types or {})}
    edges = []
    for el, eid, where in _elements(path, "edge"):
        if el.get("from") is None or el.get("to") is None:
            raise NetworkError(f"{where}: needs from and to nodes (edge types without nodes are not supported)")
        base = dict(SUMO_DEFAULT_EDGE)
        tname = el.get("type")
        if tname:
            if tname in types:
                base.update(types[tname])
            else:
                unapplied.add("edge", f"type={tname}", eid, "not defined: 1 lane at 13.89 m/s, as netconvert does")
        lanes = int(_float(el, "numLanes", where, base["numLanes"]))
        if lanes < 1:
            raise NetworkError(f"{where}: numLanes={lanes} (at least 1)")
        lane_width = _float(el, "width", where, base.get("width", LANE_WIDTH_M))
        if lane_width is not None and lane_width <= 0:   # SUMO's -1: default width
            lane_width = LANE_WIDTH_M
        shape = ()
        if el.get("shape"):
            try:
                shape = tuple(tuple(float(c) for c in p.split(",")[:2]) for p in el.get("shape").split())
            except ValueError:
                raise NetworkError(f"{where}: attribute shape is not 'x,y x,y ...'") from None
        unapplied.check(el, "edge", eid, {"id", "from", "to", "type", "numLanes", "speed", "priority", "length", "width", "shape"})
        for child in el:
            if child.tag not in ("param",):
                unapplied.add("edge", f"<{child.tag}>", eid)
        edges.append(Edge(id=eid, from_node=el.get("from"), to_node=el.get("to"), speed_mps=_float(el, "speed", where, base["speed"]),
                          lanes=lanes, length_m=_float(el, "length", where), priority=int(_float(el, "priority", where, base["priority"])),
                          width_m=lanes * lane_width, name=el.get("name", ""), shape=shape, source=str(path)))
    for el in root:
        if el.tag not in ("edge", "type", "param"):
            unapplied.add("edge file", f"<{el.tag}>", el.get("id", "-"))
    if not edges:
        raise NetworkError(f"{path}: no <edge> elements")
    unapplied.report()
    return edges


def read_connections(path) -> list[Connection]:
    """Lane-to-lane connections of a .con.xml (from, to, fromLane, toLane). What else the file holds
    (deletions, prohibitions, per-connection speeds...) is named in a SumoInputWarning."""
    unapplied = _Unapplied(path)
    out = []
    for n, el in enumerate(_parse(path)):
        eid = f"{el.get('from', '?')}->{el.get('to', '?')}"
        where = f"{path}: {el.tag} {eid}"
        if el.tag != "connection":
            unapplied.add("connection file", f"<{el.tag}>", eid if el.get("from") else el.get("id", "-"), "not applied")
            continue
        if not el.get("from") or not el.get("to"):
            unapplied.add("connection", "without from and to", f"#{n}", "ignored")
            continue
        lanes = [int(_float(el, a, where, -1)) for a in ("fromLane", "toLane")]
        unapplied.check(el, "connection", eid, {"from", "to", "fromLane", "toLane"})
        out.append(Connection(from_edge=el.get("from"), to_edge=el.get("to"), from_lane=lanes[0], to_lane=lanes[1], source=str(path)))
    unapplied.report()
    return out


def read_signal_plans(path) -> dict[str, SignalPlan]:
    """Fixed-time programs of a .tll.xml by tlLogic id (the junction's id): phases (duration, state),
    offset, and the file's <connection ... linkIndex> elements when it has them. Actuated programs run
    with their phases' durations (named in a SumoInputWarning), as do other attributes not applied."""
    unapplied = _Unapplied(path)
    root = _parse(path)
    links: dict[str, list[tuple[str, str, int, int]]] = {}
    for el in root.iter("connection"):
        if el.get("tl") and el.get("linkIndex") is not None:
            where = f"{path}: connection {el.get('from')}->{el.get('to')}"
            links.setdefault(el.get("tl"), []).append((el.get("from", ""), el.get("to", ""), int(_float(el, "fromLane", where, -1)),
                                                        int(_float(el, "linkIndex", where))))
    plans: dict[str, SignalPlan] = {}
    for el, tid, where in _elements(path, "tlLogic"):
        if tid in plans:
            unapplied.add("tlLogic", f"programID={el.get('programID', '')}", tid, "a second program for the same signal: the first is used")
            continue
        if el.get("type", "static") != "static":
            unapplied.add("tlLogic", f"type={el.get('type')}", tid, "run as fixed time with the phases' durations")
        unapplied.check(el, "tlLogic", tid, {"id", "type", "programID", "offset"})
        phases = []
        for ph in el.iter("phase"):
            if ph.get("duration") is None or ph.get("state") is None:
                raise NetworkError(f"{where}: a phase needs duration and state")
            phases.append((_float(ph, "duration", where), ph.get("state")))
            unapplied.check(ph, "phase", tid, {"duration", "state"})
        plans[tid] = SignalPlan(phases=tuple(phases), offset_s=_float(el, "offset", where, 0.0), link_index=tuple(links.get(tid, ())),
                                source=str(path))
    unapplied.report()
    return plans


def read_network(nod_path, edg_path, types=None) -> Network:
    """Nodes and edges; the edge types, lane connections (.con.xml) and signal programs (.tll.xml) found
    next to the edge file (`companion_files`). What the engine cannot apply as given (a program whose
    link indices it cannot number as netconvert does, a connection to a lane that does not exist) is
    named in a SumoInputWarning when the network is read."""
    network = Network(nodes=read_nodes(nod_path), edges=read_edges(edg_path, types), source=f"{nod_path} + {edg_path}")
    companions = companion_files(edg_path)
    if companions["connections"] is not None:
        network.connections = read_connections(companions["connections"])
    if companions["tls"] is not None:
        plans = read_signal_plans(companions["tls"])
        nodes = {n.id: n for n in network.nodes}
        for tid in sorted(plans):
            if tid not in nodes or nodes[tid].kind != "traffic_light":
                _warn(f"{companions['tls']}: tlLogic {tid!r} is not a traffic_light node here: not applied")
        network.signal_plans = {tid: p for tid, p in plans.items() if tid in nodes and nodes[tid].kind == "traffic_light"}
    if network.connections or network.signal_plans:
        from .network import compile_network

        for note in dict.fromkeys(compile_network(network).notes):
            _warn(note)
    return network


_VTYPE_ATTRS = {"length": "length_m", "minGap": "min_gap_m", "accel": "accel_mps2", "decel": "decel_mps2",
                "tau": "time_headway_s", "maxSpeed": "max_speed_mps", "delta": "delta", "speedFactor": "speed_factor",
                "speedDev": "speed_dev", "width": "width_m", "sigma": "sigma"}
KRAUSS_MODELS = ("Krauss", "KraussOrig1")
"""carFollowModel values run as SUMO's Krauss (its default when none is given); IDM runs as IDM, others as IDM with a note."""
_DISTRIBUTION = re.compile(r"^\s*normc?\(\s*([-+0-9.eE]+)\s*,\s*([-+0-9.eE]+)\s*(?:,[^)]*)?\)\s*$")
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def _time(raw: str, where: str, name: str) -> float:
    """SUMO time: seconds, or h:m:s / d:h:m:s."""
    if ":" in raw:
        try:
            parts = [float(p) for p in raw.split(":")]
        except ValueError:
            raise DemandError(f"{where}: {name}={raw!r} not supported (seconds or h:m:s)") from None
        scale = (86400.0, 3600.0, 60.0, 1.0)[-len(parts):]
        return sum(p * k for p, k in zip(parts, scale))
    try:
        return _number(raw, where, name, DemandError)
    except DemandError:
        raise DemandError(f"{where}: {name}={raw!r} not supported (seconds or h:m:s)") from None


def _vtype(el: ET.Element, vid: str, where: str, unapplied: _Unapplied, notes: list[str]) -> VType:
    vclass = el.get("vClass", "passenger")
    length, min_gap, accel, decel, vmax, dev, width = SUMO_VCLASS_DEFAULTS.get(vclass, SUMO_VCLASS_DEFAULTS["passenger"])
    values = dict(length_m=length, min_gap_m=min_gap, accel_mps2=accel, decel_mps2=decel, max_speed_mps=vmax, speed_dev=dev,
                  width_m=width, time_headway_s=1.0)
    for attr, field_name in _VTYPE_ATTRS.items():
        raw = el.get(attr)
        if raw is None:
            continue
        match = _DISTRIBUTION.match(raw) if attr == "speedFactor" else None
        if match:
            values["speed_factor"], values["speed_dev"] = float(match.group(1)), float(match.group(2))
        else:
            values[field_name] = _number(raw, where, attr, DemandError)
    model = el.get("carFollowModel", "Krauss")
    values["car_follow"] = "Krauss" if model in KRAUSS_MODELS else "IDM"
    if model != "IDM" and model not in KRAUSS_MODELS:
        notes.append(f"vType {vid}: carFollowModel {model} run as IDM")
    used = {"id", "vClass", "carFollowModel", "probability", *_VTYPE_ATTRS}
    unapplied.check(el, "vType", vid, used)
    params = {p.get("key"): p.get("value") for p in el.iter("param")}
    if vclass == "emergency" and str(params.get("has.bluelight.device", "")).lower() != "true":
        vclass = NO_SIREN_EMERGENCY
    for child in el:
        if child.tag != "param":
            unapplied.add("vType", f"<{child.tag}>", vid)
    if vclass not in SUMO_VCLASS_DEFAULTS and vclass != NO_SIREN_EMERGENCY:
        unapplied.add("vType", f"vClass={vclass}", vid, "passenger defaults used")
    return VType(id=vid, vclass=vclass, **values)


def _depart_speed(raw: str | None, where: str, unapplied: _Unapplied, vid: str) -> float | None:
    if raw is None:   # SUMO 1.28 inserts a vehicle without departSpeed at its desired speed (measured), not at 0
        return None
    if raw in ("max", "desired", "speedLimit"):
        return None
    if raw in ("avg", "last", "random"):
        unapplied.add("vehicle", f"departSpeed={raw}", vid, "desired speed used")
        return None
    try:
        return float(raw)
    except ValueError:
        raise DemandError(f"{where}: departSpeed={raw!r} not supported (a number, 'max', 'desired', 'avg', 'last' or 'random')") from None


_VEHICLE_USED = {"id", "depart", "type", "route", "from", "to", "via", "departSpeed", "arrivalPos", "departLane", "departPos",
                 "begin", "end", "number", "period", "vehsPerHour", "perHour", "probability"}


def _check_vehicle(el: ET.Element, vid: str, unapplied: _Unapplied) -> float | None:
    """Vehicle attributes applied or noted; returns arrivalPos (m) when it is a position."""
    unapplied.check(el, "vehicle", vid, _VEHICLE_USED)
    lane = el.get("departLane")
    if lane is not None and lane not in ("free", "best", "random", "allowed", "first"):
        unapplied.add("vehicle", "departLane", vid, "a vehicle enters the lane with the most room")
    pos = el.get("departPos")
    if pos is not None and pos not in ("base", "0", "0.0"):
        unapplied.add("vehicle", "departPos", vid, "vehicles enter at the start of the edge")
    arrival = el.get("arrivalPos")
    if arrival is None or arrival == "max":
        return None
    try:
        return float(arrival)
    except ValueError:
        unapplied.add("vehicle", f"arrivalPos={arrival}", vid, "the end of the edge used")
        return None


def _add_vtypes(rou_path, missing: set[str], unapplied: _Unapplied, notes: list[str]) -> dict[str, VType]:
    """vTypes named in `missing` from the .add.xml files next to the route file (SUMO's additional files)."""
    found: dict[str, tuple[VType, Path]] = {}
    for add in sorted(Path(rou_path).parent.glob("*.add.xml")):
        try:
            root = ET.parse(add).getroot()
        except ET.ParseError:
            continue
        for el in root.iter("vType"):
            vid = el.get("id", "")
            if vid in missing:
                vt = _vtype(el, vid, f"{add}: vType {vid!r}", unapplied, notes)
                if vid in found and found[vid][0] != vt:
                    raise DemandError(f"{rou_path}: vType {vid!r} is defined differently in {found[vid][1]} and {add}")
                found[vid] = (vt, add)
    by_file: dict[Path, list[str]] = {}
    for vid, (vt, add) in sorted(found.items()):
        by_file.setdefault(add, []).append(vid)
    for add, ids in by_file.items():
        _warn(f"{rou_path}: vTypes {', '.join(ids)} read from {add} (not defined in the route file)")
        notes.append(f"vTypes {', '.join(ids)} from {add.name}")
    return {vid: vt for vid, (vt, _) in found.items()}


def read_routes(path, network: Network | None = None) -> Demand:
    """Trips of a .rou.xml. With `network`, a trip's via edges are routed through (fastest legs);
    without it via is noted and the fastest route from -> to is used."""
    root = _parse(path, DemandError)
    vtypes = dict(VTYPES)
    for vid, vclass in SUMO_DEFAULT_VTYPES.items():   # SUMO's own types, usable without a definition
        length, min_gap, accel, decel, vmax, dev, width = SUMO_VCLASS_DEFAULTS[vclass]
        vtypes[vid] = VType(id=vid, vclass=vclass, length_m=length, min_gap_m=min_gap, accel_mps2=accel, decel_mps2=decel,
                            max_speed_mps=vmax, speed_dev=dev, width_m=width, car_follow="Krauss")
    defined = set(SUMO_DEFAULT_VTYPES)
    notes: list[str] = []
    unapplied = _Unapplied(path)
    routes: dict[str, tuple[str, ...]] = {}
    distributions: dict[str, tuple[list[str], list[float]]] = {}
    drawn: dict[str, int] = {}
    trips: list[Trip] = []
    vias: dict[str, tuple[str, ...]] = {}

    for el in root:   # definitions first: SUMO lets vehicles name types and routes defined in the same file
        vid = el.get("id", "")
        where = f"{path}: {el.tag} {vid!r}"
        if el.tag == "vType":
            vtypes[vid] = _vtype(el, vid, where, unapplied, notes)
            defined.add(vid)
        elif el.tag == "vTypeDistribution":
            members, weights = [], []
            for sub in el.iter("vType"):
                vtypes[sub.get("id", "")] = _vtype(sub, sub.get("id", ""), where, unapplied, notes)
                defined.add(sub.get("id", ""))
                members.append(sub.get("id", ""))
                weights.append(_float(sub, "probability", where, 1.0, DemandError))
            if el.get("vTypes"):
                members = el.get("vTypes").split()
                raw = (el.get("probabilities") or "").split()
                weights = [_number(w, where, "probabilities", DemandError) for w in raw] if raw else [1.0] * len(members)
                if len(weights) != len(members):
                    raise DemandError(f"{where}: {len(members)} vTypes but {len(weights)} probabilities")
            if not members or sum(weights) <= 0:
                raise DemandError(f"{where}: a vTypeDistribution needs vTypes with positive probabilities")
            distributions[vid] = (members, weights)
        elif el.tag == "route" and vid:
            if not el.get("edges"):
                raise DemandError(f"{where}: a top-level route needs id and edges")
            routes[vid] = tuple(el.get("edges").split())
    used_types = {el.get("type", "DEFAULT_VEHTYPE") for el in root if el.tag in ("vehicle", "trip", "flow")}
    members = {m for ms, _ in distributions.values() for m in ms}
    missing = (used_types | members) - defined - set(distributions)
    if missing:
        extra = _add_vtypes(path, missing, unapplied, notes)
        vtypes.update(extra)
        defined |= set(extra)

    def vtype_of(name: str, where: str) -> str:
        if name in distributions:
            ids, weights = distributions[name]
            k = drawn.get(name, 0)
            drawn[name] = k + 1
            u, acc, total = (0.5 + k * _GOLDEN) % 1.0, 0.0, sum(weights)
            for member, w in zip(ids, weights):
                acc += w / total
                if u < acc:
                    name = member
                    break
            else:
                name = ids[-1]
        if name not in defined:
            raise DemandError(f"{where}: type={name!r} is not defined in {path} (nor in an .add.xml next to it)")
        return name

    def route_of(el, where) -> tuple[str, ...]:
        sub = el.find("route")
        if sub is not None:
            return tuple((sub.get("edges") or "").split())
        if el.get("route"):
            if el.get("route") not in routes:
                raise DemandError(f"{where}: route={el.get('route')!r} is not defined in the file (routeDistribution is not supported)")
            return routes[el.get("route")]
        return ()

    for el in root:
        tag = el.tag
        vid = el.get("id", "")
        where = f"{path}: {tag} {vid!r}"
        if tag in ("vehicle", "trip"):
            depart_raw = el.get("depart")
            if depart_raw is None:
                raise DemandError(f"{where}: missing attribute depart")
            depart = _time(depart_raw, where, "depart")
            route = route_of(el, where)
            frm, to = el.get("from", ""), el.get("to", "")
            if not route and not (frm and to):
                raise DemandError(f"{where}: needs a route or from and to")
            if el.get("via") and not route:
                vias[vid] = tuple(el.get("via").split())
            stops = []
            for stop in el.findall("stop"):
                edge = stop.get("edge") or (stop.get("lane") or "").rsplit("_", 1)[0]
                if not edge or stop.get("duration") is None:
                    raise DemandError(f"{where}: a <stop> needs edge or lane, and duration (busStop references are not supported)")
                stops.append((edge, _float(stop, "endPos", where, 0.0, DemandError), _float(stop, "duration", where, None, DemandError)))
            arrival = _check_vehicle(el, vid, unapplied)
            trips.append(Trip(id=vid, depart_s=depart, vtype=vtype_of(el.get("type", "DEFAULT_VEHTYPE"), where), route=route,
                              from_edge=frm, to_edge=to, depart_speed_mps=_depart_speed(el.get("departSpeed"), where, unapplied, vid),
                              arrival_pos_m=arrival, stops=tuple(stops), source=str(path)))
        elif tag == "flow":
            trips.extend(_flow(el, vid, where, path, route_of(el, where), vtype_of, unapplied, vias))
        elif tag not in ("vType", "vTypeDistribution", "route", "param"):
            unapplied.add("route file", f"<{tag}>", vid or "-", "not simulated")
    if vias:
        trips = _route_vias(trips, vias, network, notes)
    unapplied.report(notes)
    source = str(path) + (f" ({'; '.join(notes[:6])}{'; ...' if len(notes) > 6 else ''})" if notes else "")
    return Demand(trips=trips, vtypes=vtypes, source=source)


def _flow(el, fid, where, path, route, vtype_of, unapplied, vias) -> list[Trip]:
    """The vehicles of a <flow>: evenly spaced (number over begin-end, period, vehsPerHour), or random
    (probability per second, period="exp(rate)"), drawn with a generator seeded by the file and flow id."""
    begin = _time(el.get("begin", "0"), where, "begin")
    number = _float(el, "number", where, None, DemandError)
    per_hour = _float(el, "vehsPerHour", where, None, DemandError)
    per_hour = _float(el, "perHour", where, per_hour, DemandError)
    probability = _float(el, "probability", where, None, DemandError)
    period_raw = el.get("period")
    exp_rate = None
    step = None
    if period_raw is not None and period_raw.startswith("exp("):
        exp_rate = _number(period_raw[4:-1], where, "period", DemandError)
    elif period_raw is not None:
        step = _time(period_raw, where, "period")
    elif per_hour is not None:
        step = 3600.0 / per_hour if per_hour > 0 else math.inf
    if el.get("end") is not None:
        end = _time(el.get("end"), where, "end")
    elif number is not None and step is not None:
        end = begin + number * step
    else:
        end = begin + 86400.0
        unapplied.add("flow", "end", fid, "missing: 24 h after begin, as SUMO does")
    rng = random.Random(f"{path}|{fid}")
    if step is not None and step <= 0:
        raise DemandError(f"{where}: period must be positive")
    if number is not None and step is None and exp_rate is None and probability is None:
        count = int(number)
        times = [begin + k * (end - begin) / max(count, 1) for k in range(count)]
    elif step is not None:
        count = int(math.ceil((end - begin) / step - 1e-9)) if math.isfinite(step) else 0
        if number is not None:
            count = min(count, int(number))
        times = [begin + k * step for k in range(count)]
    elif exp_rate is not None or probability is not None:
        times, t = [], begin
        if exp_rate is not None:
            while True:
                t += rng.expovariate(exp_rate) if exp_rate > 0 else math.inf
                if t >= end:
                    break
                times.append(t)
        else:
            while t < end:
                if rng.random() < probability:
                    times.append(t)
                t += 1.0
        if number is not None:
            times = times[: int(number)]
    else:
        raise DemandError(f"{where}: a flow needs number, period, vehsPerHour or probability")
    arrival = _check_vehicle(el, fid, unapplied)
    depart_speed = _depart_speed(el.get("departSpeed"), where, unapplied, fid)
    out = []
    for k, t in enumerate(times):
        tid = f"{fid}.{k}"
        if el.get("via") and not route:
            vias[tid] = tuple(el.get("via").split())
        out.append(Trip(id=tid, depart_s=t, vtype=vtype_of(el.get("type", "DEFAULT_VEHTYPE"), where), route=route,
                        from_edge=el.get("from", ""), to_edge=el.get("to", ""), depart_speed_mps=depart_speed,
                        arrival_pos_m=arrival, source=str(path)))
    if not route and not (el.get("from") and el.get("to")) and out:
        raise DemandError(f"{where}: needs a route or from and to")
    return out


def _route_vias(trips: list[Trip], vias: dict[str, tuple[str, ...]], network: Network | None, notes: list[str]) -> list[Trip]:
    """Trips with via edges get the fastest legs from -> via... -> to as their route."""
    if network is None:
        notes.append(f"via ignored on {len(vias)} trips (read without the network: fastest route used)")
        return trips
    from dataclasses import replace

    from .network import compile_network
    from .routing import Router

    net = compile_network(network)
    router = Router(net)
    out = []
    for tr in trips:
        if tr.id not in vias:
            out.append(tr)
            continue
        stops = [tr.from_edge, *vias[tr.id], tr.to_edge]
        for e in stops:
            if e not in net.edge_index:
                raise DemandError(f"{tr.source}: {tr.id!r}: via/from/to edge {e!r} is not in the network")
        path: list[int] = [net.edge_index[stops[0]]]
        for a, b in zip(stops, stops[1:]):
            leg = router.route(net.edge_index[a], net.edge_index[b], allow_same=a == b and len(stops) > 2)
            if leg is None:
                raise DemandError(f"{tr.source}: {tr.id!r}: no route from {a!r} to {b!r} (via)")
            path.extend(int(i) for i in leg[1:])
        out.append(replace(tr, route=tuple(net.edge_ids[i] for i in path)))
    return out


def read_sumo(nod_path, edg_path, rou_path) -> tuple[Network, Demand]:
    """A network and its demand from SUMO plain XML files (with the companions found next to them)."""
    network = read_network(nod_path, edg_path)
    return network, read_routes(rou_path, network)


# ---------------------------------------------------------------------------- writing

def _write_atomic(path, root: ET.Element) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.indent(root)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            ET.ElementTree(root).write(f, encoding="utf-8", xml_declaration=True)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _g(x: float) -> str:
    return f"{x:.6g}" if abs(x) < 1e5 else f"{x:.2f}"


def write_network(net: Network, nod_path, edg_path) -> tuple[Path, Path]:
    nodes = ET.Element("nodes")
    for n in net.nodes:
        ET.SubElement(nodes, "node", id=n.id, x=f"{n.x:.3f}", y=f"{n.y:.3f}",
                      type="traffic_light_unregulated" if n.kind == "unregulated" else n.kind)
    edges = ET.Element("edges")
    for e in net.edges:
        if e.closed:
            continue
        attrs = dict(id=e.id, **{"from": e.from_node, "to": e.to_node}, numLanes=str(e.lanes), speed=_g(e.speed_mps),
                     priority=str(e.priority))
        if e.width_m is not None:
            attrs["width"] = _g(e.width_m / e.lanes)
        if e.length_m is not None:
            attrs["length"] = _g(e.length_m)
        if e.shape:
            attrs["shape"] = " ".join(f"{x:.3f},{y:.3f}" for x, y in e.shape)
        ET.SubElement(edges, "edge", **attrs)
    return _write_atomic(nod_path, nodes), _write_atomic(edg_path, edges)


def write_routes(demand: Demand, rou_path, routes: dict[str, list[str]] | None = None) -> Path:
    """vTypes used by the trips (as IDM), then vehicles sorted by departure, with explicit routes when
    `routes` (trip id -> edge ids) or the trip's own route is given, else as <trip from to>."""
    root = ET.Element("routes")
    used = sorted({t.vtype for t in demand.trips})
    for name in used:
        vt = demand.vtypes[name]
        vclass = "emergency" if vt.vclass == NO_SIREN_EMERGENCY else vt.vclass if vt.vclass in SUMO_VCLASS_DEFAULTS else "passenger"
        el = ET.SubElement(root, "vType", id=vt.id, carFollowModel=vt.car_follow, length=_g(vt.length_m), minGap=_g(vt.min_gap_m),
                           accel=_g(vt.accel_mps2), decel=_g(vt.decel_mps2), tau=_g(vt.time_headway_s), maxSpeed=_g(vt.max_speed_mps),
                           delta=_g(vt.delta), speedFactor=_g(vt.speed_factor), speedDev=_g(vt.speed_dev), width=_g(vt.width_m),
                           vClass=vclass)
        if vt.car_follow == "Krauss":
            el.set("sigma", _g(vt.sigma))
        if vt.vclass == "emergency":   # the siren: SUMO's bluelight device
            ET.SubElement(el, "param", key="has.bluelight.device", value="true")
    for t in sorted(demand.trips, key=lambda t: (t.depart_s, t.id)):
        depart_speed = "max" if t.depart_speed_mps is None else _g(t.depart_speed_mps)
        route = (routes or {}).get(t.id) or list(t.route)
        if route:
            v = ET.SubElement(root, "vehicle", id=t.id, type=t.vtype, depart=f"{t.depart_s:.2f}", departSpeed=depart_speed)
            ET.SubElement(v, "route", edges=" ".join(route))
            for edge, position, dwell in t.stops:
                ET.SubElement(v, "stop", lane=f"{edge}_0", endPos=_g(position), duration=_g(dwell))
        else:
            ET.SubElement(root, "trip", id=t.id, type=t.vtype, depart=f"{t.depart_s:.2f}", departSpeed=depart_speed,
                          **{"from": t.from_edge, "to": t.to_edge})
    return _write_atomic(rou_path, root)
