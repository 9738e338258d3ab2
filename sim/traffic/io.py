"""SUMO plain XML in and out: nodes (.nod.xml), edges (.edg.xml), vehicle types, trips, flows and routes (.rou.xml).

What is read: node id, x, y, type (priority, right_before_left, traffic_light, allway_stop,
dead_end; missing = priority, netconvert's default); edge id, from, to, numLanes, speed,
priority, length, width (per lane), shape; vType id, length, minGap, accel, decel, tau,
maxSpeed, delta, speedFactor, speedDev, vClass, carFollowModel (IDM parameters as SUMO names
them); vehicle with a nested or named route, trip (from, to, via), flow (begin, end and
number, period or vehsPerHour); depart, departSpeed ("max"/"desired" or m/s); a vehicle's
<stop lane|edge endPos duration> (a bus stop and its dwell). A car-following
model other than IDM is run with IDM and its parameters (noted in `Demand.source`).
Anything else that changes the meaning (unknown node type, depart="triggered") stops with a
message naming the file, the element and the attribute. Files are written atomically.
"""
from __future__ import annotations

import math
import os
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from .model import Demand, DemandError, Trip, VType, VTYPES
from .network import Edge, LANE_WIDTH_M, Network, NetworkError, Node

SUMO_NODE_TYPES = {"priority": "priority", "right_before_left": "right_before_left", "traffic_light": "traffic_light",
                   "allway_stop": "allway_stop", "dead_end": "dead_end"}


def _parse(path) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except FileNotFoundError:
        raise NetworkError(f"{path}: no such file") from None
    except ET.ParseError as exc:
        raise NetworkError(f"{path}: not well-formed XML: {exc}") from None


def _float(el: ET.Element, name: str, where: str, default=None) -> float | None:
    raw = el.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise NetworkError(f"{where}: attribute {name}={raw!r} is not a number") from None
    if not math.isfinite(value):
        raise NetworkError(f"{where}: attribute {name}={raw!r} is not finite")
    return value


def _elements(path, tag: str):
    """(element, id, where) for every <tag> of the file; an element without id stops with its number."""
    for n, el in enumerate(_parse(path).iter(tag)):
        eid = el.get("id")
        where = f"{path}: {tag} {eid or '#' + str(n)}"
        if not eid:
            raise NetworkError(f"{where}: missing attribute id")
        yield el, eid, where


def read_nodes(path) -> list[Node]:
    nodes = []
    for el, nid, where in _elements(path, "node"):
        x, y = _float(el, "x", where), _float(el, "y", where)
        if x is None or y is None:
            raise NetworkError(f"{where}: needs x and y")
        kind = el.get("type", "priority")
        if kind not in SUMO_NODE_TYPES:
            raise NetworkError(f"{where}: type={kind!r} not supported (expected one of {', '.join(SUMO_NODE_TYPES)})")
        nodes.append(Node(id=nid, x=x, y=y, kind=SUMO_NODE_TYPES[kind], source=str(path)))
    if not nodes:
        raise NetworkError(f"{path}: no <node> elements")
    return nodes


def read_edges(path) -> list[Edge]:
    edges = []
    for el, eid, where in _elements(path, "edge"):
        if el.get("from") is None or el.get("to") is None:
            raise NetworkError(f"{where}: needs from and to nodes (edge types without nodes are not supported)")
        lanes = int(_float(el, "numLanes", where, 1))
        lane_width = _float(el, "width", where, LANE_WIDTH_M)
        shape = ()
        if el.get("shape"):
            try:
                shape = tuple(tuple(float(c) for c in p.split(",")[:2]) for p in el.get("shape").split())
            except ValueError:
                raise NetworkError(f"{where}: attribute shape is not 'x,y x,y ...'") from None
        edges.append(Edge(id=eid, from_node=el.get("from"), to_node=el.get("to"), speed_mps=_float(el, "speed", where, 13.89),
                          lanes=lanes, length_m=_float(el, "length", where), priority=int(_float(el, "priority", where, -1)),
                          width_m=lanes * lane_width, name=el.get("name", ""), shape=shape, source=str(path)))
    if not edges:
        raise NetworkError(f"{path}: no <edge> elements")
    return edges


def read_network(nod_path, edg_path) -> Network:
    return Network(nodes=read_nodes(nod_path), edges=read_edges(edg_path), source=f"{nod_path} + {edg_path}")


_VTYPE_ATTRS = {"length": "length_m", "minGap": "min_gap_m", "accel": "accel_mps2", "decel": "decel_mps2",
                "tau": "time_headway_s", "maxSpeed": "max_speed_mps", "delta": "delta", "speedFactor": "speed_factor",
                "speedDev": "speed_dev", "width": "width_m"}


def _depart_speed(raw: str | None, where: str) -> float | None:
    if raw is None:
        return 0.0
    if raw in ("max", "desired", "speedLimit"):
        return None
    try:
        return float(raw)
    except ValueError:
        raise DemandError(f"{where}: departSpeed={raw!r} not supported (a number, 'max' or 'desired')") from None


def read_routes(path) -> Demand:
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise DemandError(f"{path}: no such file") from None
    except ET.ParseError as exc:
        raise DemandError(f"{path}: not well-formed XML: {exc}") from None
    vtypes = {"DEFAULT_VEHTYPE": VType(id="DEFAULT_VEHTYPE")}
    vtypes.update(VTYPES)
    notes = []
    routes: dict[str, tuple[str, ...]] = {}
    trips: list[Trip] = []

    def num(el, name, where, default=None):
        raw = el.get(name)
        if raw is None:
            return default
        try:
            return float(raw)
        except ValueError:
            raise DemandError(f"{where}: attribute {name}={raw!r} is not a number") from None

    for el in root:
        tag = el.tag
        vid = el.get("id", "")
        where = f"{path}: {tag} {vid!r}"
        if tag == "vType":
            values = {}
            for attr, field_name in _VTYPE_ATTRS.items():
                v = num(el, attr, where)
                if v is not None:
                    values[field_name] = v
            model = el.get("carFollowModel", "Krauss")
            if model != "IDM":
                notes.append(f"vType {vid}: carFollowModel {model} run as IDM")
            vtypes[vid] = VType(id=vid, vclass=el.get("vClass", "passenger"), **values)
        elif tag == "route":
            if not vid or not el.get("edges"):
                raise DemandError(f"{where}: a top-level route needs id and edges")
            routes[vid] = tuple(el.get("edges").split())
        elif tag in ("vehicle", "trip"):
            depart_raw = el.get("depart")
            if depart_raw is None:
                raise DemandError(f"{where}: missing attribute depart")
            try:
                depart = float(depart_raw)
            except ValueError:
                raise DemandError(f"{where}: depart={depart_raw!r} not supported (seconds only)") from None
            route = ()
            sub = el.find("route")
            if sub is not None:
                route = tuple((sub.get("edges") or "").split())
            elif el.get("route"):
                if el.get("route") not in routes:
                    raise DemandError(f"{where}: route={el.get('route')!r} is not defined before it")
                route = routes[el.get("route")]
            frm, to = el.get("from", ""), el.get("to", "")
            if not route and not (frm and to):
                raise DemandError(f"{where}: needs a route or from and to")
            if el.get("via") and not route:
                notes.append(f"{vid}: via ignored (fastest route used)")
            stops = []
            for stop in el.findall("stop"):
                edge = stop.get("edge") or (stop.get("lane") or "").rsplit("_", 1)[0]
                if not edge or stop.get("duration") is None:
                    raise DemandError(f"{where}: a <stop> needs edge or lane, and duration (busStop references are not supported)")
                stops.append((edge, num(stop, "endPos", where, 0.0), num(stop, "duration", where)))
            trips.append(Trip(id=vid, depart_s=depart, vtype=el.get("type", "DEFAULT_VEHTYPE"), route=route, from_edge=frm,
                              to_edge=to, depart_speed_mps=_depart_speed(el.get("departSpeed"), where), stops=tuple(stops),
                              source=str(path)))
        elif tag == "flow":
            begin = num(el, "begin", where, 0.0)
            end = num(el, "end", where, 3600.0)
            number, period, per_hour = num(el, "number", where), num(el, "period", where), num(el, "vehsPerHour", where)
            if number is not None:
                count = int(number)
                step = (end - begin) / max(count, 1)
            elif period is not None or per_hour is not None:
                step = period if period is not None else 3600.0 / per_hour
                count = int(math.floor((end - begin) / step + 1e-9))
            else:
                raise DemandError(f"{where}: a flow needs number, period or vehsPerHour")
            route = routes.get(el.get("route", ""), ())
            sub = el.find("route")
            if sub is not None:
                route = tuple((sub.get("edges") or "").split())
            for k in range(count):
                trips.append(Trip(id=f"{vid}.{k}", depart_s=begin + k * step, vtype=el.get("type", "DEFAULT_VEHTYPE"), route=route,
                                  from_edge=el.get("from", ""), to_edge=el.get("to", ""),
                                  depart_speed_mps=_depart_speed(el.get("departSpeed"), where), source=str(path)))
    source = str(path) + (f" ({'; '.join(notes[:5])})" if notes else "")
    return Demand(trips=trips, vtypes=vtypes, source=source)


def read_sumo(nod_path, edg_path, rou_path) -> tuple[Network, Demand]:
    """A network and its demand from SUMO plain XML files."""
    return read_network(nod_path, edg_path), read_routes(rou_path)


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
        ET.SubElement(nodes, "node", id=n.id, x=f"{n.x:.3f}", y=f"{n.y:.3f}", type=n.kind)
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
        ET.SubElement(root, "vType", id=vt.id, carFollowModel="IDM", length=_g(vt.length_m), minGap=_g(vt.min_gap_m),
                      accel=_g(vt.accel_mps2), decel=_g(vt.decel_mps2), tau=_g(vt.time_headway_s), maxSpeed=_g(vt.max_speed_mps),
                      delta=_g(vt.delta), speedFactor=_g(vt.speed_factor), speedDev=_g(vt.speed_dev), vClass=vt.vclass
                      if vt.vclass in ("passenger", "delivery", "bus", "emergency") else "passenger")
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
