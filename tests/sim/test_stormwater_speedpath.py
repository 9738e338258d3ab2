"""What makes design storms fast must not change what they compute: SWMM's variable-step rule against a
pure-Python reference, and the longer steps of an event's tail against runs that never lengthen them."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sim.stormwater import kernels as K
from sim.stormwater.model import Settings, simulate

FT = 0.3048


def _reference_step(route_step, courant, min_step, links, nodes, dt_last):
    """SWMM 5.2's getVariableStep as its manual and dynwave.c describe it, written plainly.

    links: (flow m3/s, barrels, mid area m2, volume m3, mid depth m, length m, diameter m) of circular
    conduits; nodes: (depth now, depth a step ago, crown depth) of junctions.
    """
    dt = route_step
    for q, barrels, a_mid, volume, y_mid, _length, d in links:
        qb = abs(q) / barrels
        if qb <= 1e-4 * FT ** 3 or a_mid <= 1e-4 * FT ** 2 or y_mid <= 1e-4 or d - y_mid <= 1e-4 * FT:
            continue   # no flow, no water, or a full pipe (no free surface: Froude number 0)
        hyd_depth = K.xs_area(K.SHAPE_CIRCULAR, d, 0, 0, 0, y_mid) / K.xs_width(K.SHAPE_CIRCULAR, d, 0, 0, 0, y_mid)
        froude = qb / a_mid / math.sqrt(K.G * hyd_depth)
        if froude <= 0.01:
            continue
        dt = min(dt, volume / barrels / qb * froude / (1 + froude) * courant)
    for y, y_before, crown in nodes:
        if y <= 1e-4 * FT or y + 1e-4 * FT >= crown:
            continue
        rate = abs(y - y_before) / dt_last
        if rate >= 1e-4 * FT:
            dt = min(dt, 0.25 * crown / rate)
    return min(math.floor(max(dt, min_step) * 1000) / 1000, route_step)


def _kernel_step(route_step, courant, min_step, links, nodes, dt_last):
    links = np.array(links, dtype=float).reshape(-1, 7)
    nodes = np.array(nodes, dtype=float).reshape(-1, 3)
    n_link, n_node = len(links), len(nodes)
    zeros = np.zeros(n_link)
    return K.variable_step(route_step, courant, min_step, np.full(n_link, K.LINK_CONDUIT, dtype=np.int64),
                           links[:, 0].copy(), links[:, 1].copy(), links[:, 2].copy(), links[:, 3].copy(),
                           links[:, 4].copy(), links[:, 5].copy(), np.full(n_link, K.SHAPE_CIRCULAR, dtype=np.int64),
                           links[:, 6].copy(), zeros, zeros, zeros, np.full(n_node, K.NODE_JUNCTION, dtype=np.int64),
                           nodes[:, 0].copy(), nodes[:, 1].copy(), nodes[:, 2].copy(), dt_last)


def _conduit(q, y_mid, d=0.6, length=40.0, barrels=1):
    a = K.xs_area(K.SHAPE_CIRCULAR, d, 0, 0, 0, y_mid)
    return (q, barrels, a, a * length * barrels, y_mid, length, d)


@pytest.mark.parametrize("links, nodes, expected", [
    # a 40 m pipe half full carrying 0.2 m3/s: v = 1.41 m/s, c = 1.52 m/s, 0.75 x 40 / 2.93 = 10.2 s > 5 s
    ([_conduit(0.2, 0.3)], [], 5.0),
    # a short one (8 m) at the same flow sets the step: 0.75 x 8 / 2.93 = 2.045 s
    ([_conduit(0.2, 0.3), _conduit(0.2, 0.3, length=8.0)], [], 2.045),
    # the same short pipe with a barely moving backwater (Froude number below 0.01) is not looked at
    ([_conduit(0.2, 0.3), _conduit(0.002, 0.55, length=8.0)], [], 5.0),
    # a full pipe has no free-surface wave: no limit from it, however short
    ([_conduit(0.9, 0.6, length=8.0)], [], 5.0),
    # a manhole rising 2 cm per 1 s step under a 1 m crown: a quarter of the crown in 12.5 s; 6 cm: 4.17 s
    ([], [(0.30, 0.28, 1.0)], 5.0),
    ([], [(0.30, 0.24, 1.0)], 4.166),
    # surcharged (above the crown) or dry nodes are not looked at; the step never goes below the minimum
    ([], [(1.20, 0.90, 1.0), (0.0, 0.3, 1.0)], 5.0),
    ([_conduit(2.0, 0.3, length=1.0)], [], 0.5),
])
def test_variable_step_follows_swmms_rule(links, nodes, expected):
    ours = _kernel_step(5.0, 0.75, 0.5, links, nodes, 1.0)
    assert ours == pytest.approx(_reference_step(5.0, 0.75, 0.5, links, nodes, 1.0), abs=1e-9)
    assert ours == pytest.approx(expected, abs=0.01)


@pytest.fixture(scope="module")
def baseline_p3():
    from twin.commands.stormwater import build_state_model, project_rain
    from twin.project import load_project, load_state

    project = load_project(Path(__file__).resolve().parents[2] / "ifc_models" / "sample_community")
    return build_state_model(load_state(project, "baseline"), project_rain(project), continuous=False)[0]


@pytest.mark.parametrize("routing", ["KINWAVE", "DYNWAVE"])
def test_longer_steps_in_the_tail_of_the_storm_change_no_result(baseline_p3, routing):
    # After the rain, once no manhole floods and every flow is below 1 % of the storm's peak inflow, steps
    # grow to the runoff step (60 s here; Courant-limited in dynamic wave). Against the same run held to
    # ROUTING_STEP (5 s) throughout: the same volumes, peak and flooding (0.1 %; the tail carries under 2 %
    # of the outflow), continuity as good, and fewer steps.
    def run(fraction):
        return simulate(baseline_p3, Settings(routing=routing, keep_frames=False, tail_step_fraction=fraction))

    fast, full = run(0.01), run(0.0)
    for key in ("outfall_volume_m3", "peak_outfall_flow_m3s", "flooding_volume_m3", "runoff_volume_m3"):
        assert fast.value(key) == pytest.approx(full.value(key), rel=1e-3), key
    assert abs(fast.value("routing_continuity_error_pct")) < max(0.1, 1.5 * abs(full.value("routing_continuity_error_pct")))
    assert fast.value("routing_steps") < 0.9 * full.value("routing_steps")
