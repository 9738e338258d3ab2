"""What traffic engineers read from a run: trips, travel time and delay, queues, level of service,
vehicle-km, parking, gates, gridlock — every figure with its unit and a one-line meaning.

Level of service follows HCM 7th edition control-delay thresholds: unsignalised junctions
(two-way and all-way stop, Exhibits 20-2 / 21-8) A <= 10, B <= 15, C <= 25, D <= 35, E <= 50,
F > 50 s/veh; signalised (Exhibit 19-8) A <= 10, B <= 20, C <= 35, D <= 55, E <= 80, F > 80.
A junction's delay here is the delay vehicles accumulate on each approach edge (time lost
against the desired speed, departure edges excluded) per vehicle leaving it; the junction
takes the worst approach (HCM reports two-way-stop junctions by their worst movement).
"""
from __future__ import annotations

import numpy as np

from sim.result import Metric

UNSIGNALISED_LOS = ((10, "A"), (15, "B"), (25, "C"), (35, "D"), (50, "E"))
SIGNALISED_LOS = ((10, "A"), (20, "B"), (35, "C"), (55, "D"), (80, "E"))


def los_letter(delay_s: float, signalised: bool = False) -> str:
    for limit, letter in (SIGNALISED_LOS if signalised else UNSIGNALISED_LOS):
        if delay_s <= limit:
            return letter
    return "F"


def junction_los(details, net, min_vehicles: int = 5) -> dict[str, dict]:
    """Per junction: worst approach delay (s/veh), its LOS letter, max queue (m) and vehicles counted."""
    from .network import KIND_CODE

    out: dict[str, dict] = {}
    node_kind = {nid: int(net.node_kind[i]) for i, nid in enumerate(net.node_ids)}
    for eid, node, q, dly, n in zip(details.approach_ids, details.approach_node, details.approach_max_queue_m,
                                    details.approach_delay_s, details.approach_vehicles):
        is_gate = net.node_gate_s[net.node_ids.index(node)] > 0   # a gate's exit queue counts
        if node_kind[node] == KIND_CODE["dead_end"] and not is_gate:
            continue
        k = net.node_ids.index(node)
        row = out.setdefault(node, {"x_m": float(net.node_x[k]), "y_m": float(net.node_y[k]), "delay_s": 0.0,
                                    "max_queue_m": 0.0, "vehicles": 0, "approaches": {}})
        row["approaches"][eid] = {"delay_s": float(dly), "max_queue_m": float(q), "vehicles": int(n)}
        row["vehicles"] += int(n)
        row["max_queue_m"] = max(row["max_queue_m"], float(q))
        if n >= min_vehicles:
            row["delay_s"] = max(row["delay_s"], float(dly))
    for node, row in out.items():
        row["los"] = los_letter(row["delay_s"], node_kind[node] == KIND_CODE["traffic_light"])
    return out


def traffic_metrics(details, net, settings, end_s: float) -> dict[str, Metric]:
    d = details
    travel = d.arrive_s - d.depart_s
    done = ~np.isnan(travel)
    regular = np.array([k != "emergency" for k in d.trip_kind], dtype=bool)
    tt = travel[done & regular]
    delay = (travel - d.free_time_s)[done & regular]
    entered = ~np.isnan(d.depart_s)
    junctions = junction_los(d, net)
    m: dict[str, Metric] = {}

    def put(name, value, unit, meaning):
        m[name] = Metric(value=float(value), unit=unit, meaning=meaning)

    put("trips_total", len(travel), "veh", "trips in the demand")
    put("trips_completed", int(done.sum()), "veh", "trips that reached their destination before the end")
    put("trips_not_entered", int((~entered).sum()), "veh", "trips still waiting to enter the network at the end (no room)")
    put("trips_unfinished", int((entered & ~done).sum()), "veh", "trips still on the road at the end")
    put("mean_travel_time_s", tt.mean() if tt.size else 0.0, "s", "mean time from entering the network to arrival")
    put("p95_travel_time_s", np.percentile(tt, 95) if tt.size else 0.0, "s", "95th percentile of travel time")
    put("mean_delay_s", delay.mean() if delay.size else 0.0, "s", "mean travel time minus free-flow time of the same route")
    put("p95_delay_s", np.percentile(delay, 95) if delay.size else 0.0, "s", "95th percentile of delay")
    put("vehicle_km", float(np.nansum(d.distance_m)) / 1000.0, "veh·km", "distance driven by all vehicles")
    put("max_queue_m", max([j["max_queue_m"] for j in junctions.values()] + [0.0]), "m",
        "longest queue at any junction approach (vehicles under 5 km/h back from the stop line)")
    worst = max(junctions.values(), key=lambda j: j["delay_s"], default=None)
    put("worst_junction_delay_s", worst["delay_s"] if worst else 0.0, "s/veh", "control delay of the worst junction approach")
    put("junctions_los_e_or_f", sum(1 for j in junctions.values() if j["los"] in ("E", "F")), "junctions",
        "junctions at HCM level of service E or F")
    put("gridlock", 1.0 if d.gridlock_time_s is not None else 0.0, "bool",
        f"1 when a vehicle stood still for {settings.jam_s:.0f} s (a jam that does not clear; nobody is teleported)")
    if d.gridlock_time_s is not None:
        put("gridlock_time_s", d.gridlock_time_s, "s", "when the first vehicle had stood still for the jam time")
    if d.gate_max_queue_veh:
        put("gate_max_queue_veh", max(d.gate_max_queue_veh.values()), "veh", "longest queue waiting to enter at a gate")
    if d.car_park_occupancy:
        used = sum(u for u, _ in d.car_park_occupancy.values())
        total = sum(c for _, c in d.car_park_occupancy.values())
        put("parking_occupancy", used / total if total else 0.0, "fraction", "occupied spaces / spaces at the end")
        put("parking_search_mean_s", d.parking_search_s.mean() if d.parking_search_s.size else 0.0, "s",
            "mean time from reaching the chosen car park to parking (circling when full)")
        put("parking_unparked", d.parking_unparked, "veh", "drivers who found no free space anywhere")
        chargers = sum(c for _, c in d.charger_occupancy.values())
        if chargers:
            put("ev_charger_occupancy", sum(u for u, _ in d.charger_occupancy.values()) / chargers, "fraction",
                "occupied charger spaces / charger spaces at the end")
        put("ev_without_charger", d.ev_without_charger, "veh", "electric cars that found no free charger anywhere")
    return m
