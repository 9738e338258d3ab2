"""What stormwater experts read: volumes, peaks, flooding and continuity, with units and meaning.

`METRICS` names every metric of a stormwater Result (SI units). `build_metrics(totals)` turns the
engine's totals into sim.result.Metric objects; `swmm_reference(inp_path)` runs the same .inp
through EPA SWMM 5.2 (pyswmm / swmm-toolkit, the optional `anchors` extra) and returns the same
names, so tests and benchmarks compare like with like.
"""
from __future__ import annotations

import math
import os

from sim.result import Metric

METRICS: dict[str, tuple[str, str]] = {
    "rainfall_volume_m3": ("m3", "rain falling on all subcatchments"),
    "runoff_volume_m3": ("m3", "surface runoff leaving the subcatchments (after LID treatment)"),
    "infiltration_volume_m3": ("m3", "water infiltrated into pervious soil"),
    "evaporation_volume_m3": ("m3", "water evaporated from ponded surfaces"),
    "lid_captured_volume_m3": ("m3", "water kept by LID units (infiltrated, evaporated or stored)"),
    "external_inflow_volume_m3": ("m3", "direct and dry-weather inflow entered at nodes"),
    "outfall_volume_m3": ("m3", "water leaving the system through outfalls"),
    "peak_outfall_flow_m3s": ("m3/s", "largest total flow through all outfalls"),
    "flooding_volume_m3": ("m3", "water overflowing manholes onto the surface (ponded or lost)"),
    "flooded_nodes": ("count", "nodes that overflowed at some time"),
    "max_flooding_duration_s": ("s", "longest time any node was overflowing"),
    "runoff_continuity_error_pct": ("%", "runoff mass balance error: (in - out - stored)/in"),
    "routing_continuity_error_pct": ("%", "routing mass balance error: (in - out - stored)/in"),
    "runoff_control_rate": ("1", "1 - (outfall + flooding volume) / rainfall volume over the site"),
    "routing_steps": ("count", "routing time steps computed"),
    "reused_volume_m3": ("m3", "water leaving through outfalls that keep it on the site (rain reuse)"),
}


def build_metrics(values: dict[str, float]) -> dict[str, Metric]:
    """Metric objects for the names in `values` (each must be one of METRICS)."""
    out = {}
    for name, value in values.items():
        unit, meaning = METRICS[name]
        out[name] = Metric(value=float(value), unit=unit, meaning=meaning)
    return out


def control_rate(rainfall_m3: float, outfall_m3: float, flooding_m3: float) -> float:
    """Runoff (volume) control rate 0..1 over the site: share of rain not leaving as outflow or flooding."""
    if rainfall_m3 <= 0.0:
        return float("nan")
    return min(1.0, max(0.0, 1.0 - (outfall_m3 + flooding_m3) / rainfall_m3))


def swmm_reference(inp_path: str | os.PathLike) -> dict[str, float]:
    """Run `inp_path` in EPA SWMM 5.2 via pyswmm; its totals under our metric names (SI units).

    Volumes from SWMM's own mass balance (system runoff and routing statistics, converted from
    ft3 or m3), peak outfall flow as the largest per-outfall peak when there is one outfall,
    else the largest total outfall flow at the report steps of the binary output (for a model with
    no links, which SWMM does not route, the largest runoff there of the subcatchments draining to
    a node).
    """
    import tempfile

    from pyswmm import Links, Nodes, Simulation, Subcatchments, SystemStats

    with tempfile.TemporaryDirectory() as tmp:
        rpt, out = os.path.join(tmp, "ref.rpt"), os.path.join(tmp, "ref.out")
        with Simulation(str(inp_path), reportfile=rpt, outputfile=out) as sim:
            for _ in sim:
                pass
            us = sim.flow_units in ("CFS", "GPM", "MGD")
            vol = 0.3048 ** 3 if us else 1.0
            length = 0.3048 if us else 1.0
            depth = 0.0254 if us else 1e-3
            stats = SystemStats(sim)
            ro, rt = stats.runoff_stats, stats.routing_stats
            subs = list(Subcatchments(sim))
            area_m2 = sum(s.area for s in subs) * (4046.8564224 if us else 1e4)
            outfalls = [n for n in Nodes(sim) if n.is_outfall()]
            peaks = [n.outfall_statistics["peak_flowrate"] for n in outfalls]
            # node statistics crash swmm-toolkit 0.17 for an outfall (outfalls never flood anyway) and for
            # every node of a model with no links, which SWMM does not route (nothing floods there)
            routed = len(Links(sim)) > 0
            flooded = [n for n in Nodes(sim) if routed and not n.is_outfall()
                       and n.statistics["flooding_volume"] > 0.0]
            node_ids = {n.nodeid for n in Nodes(sim)}
            to_nodes = [k for k, s in enumerate(subs) if s.connection in node_ids]
            flow_factor = {"CFS": 0.3048 ** 3, "GPM": 3.785411784e-3 / 60, "MGD": 3785.411784 / 86400,
                           "CMS": 1.0, "LPS": 1e-3, "MLD": 1000 / 86400}[sim.flow_units]
            res = {
                "rainfall_volume_m3": ro["rainfall"] * depth * area_m2,
                # our runoff counts LID underdrain flow too (it leaves the subcatchment): SWMM books it apart
                "runoff_volume_m3": (ro["runoff"] + ro["drains"]) * depth * area_m2,
                "infiltration_volume_m3": ro["infiltration"] * depth * area_m2,
                "evaporation_volume_m3": ro["evaporation"] * depth * area_m2,
                "external_inflow_volume_m3": (rt["dry_weather_inflow"] + rt["external_inflow"]) * vol,
                "outfall_volume_m3": rt["outflow"] * vol,
                "flooding_volume_m3": rt["flooding"] * vol,
                "flooded_nodes": float(len(flooded)),
                "runoff_continuity_error_pct": ro["routing_error"],
                "routing_continuity_error_pct": rt["routing_error"],
                "peak_outfall_flow_m3s": (max(peaks) if peaks else 0.0) * flow_factor,
            }
            del length
        if len(outfalls) > 1 or not routed:
            from swmm.toolkit import output, shared_enum

            # a model with no links is not routed by SWMM ("Flow Routing ... NO"): its outfalls
            # report no flow, and what reaches them is the runoff of the subcatchments draining to a node
            handle = output.init()
            output.open(handle, out)
            try:
                last = output.get_times(handle, shared_enum.Time.NUM_PERIODS) - 1
                if routed:
                    series = output.get_system_series(handle, shared_enum.SystemAttribute.OUTFALL_FLOWS, 0, last)
                else:
                    series = [0.0] * (last + 1)
                    for k in to_nodes:
                        rate = output.get_subcatch_series(handle, k, shared_enum.SubcatchAttribute.RUNOFF_RATE, 0, last)
                        series = [a + b for a, b in zip(series, rate)]
            finally:
                output.close(handle)
            res["peak_outfall_flow_m3s"] = max(series) * flow_factor if len(series) else 0.0
    return {k: (0.0 if isinstance(v, float) and math.isnan(v) else v) for k, v in res.items()}
