"""The SFPE hydraulic estimate (the anchor) and the courtyard before/after a retrofit: sign and size of the change."""
import numpy as np
import pytest
from shapely.geometry import box

from sim.evacuation import Agent, Exit, Scenario, Settings, simulate
from sim.evacuation.cases import courtyard
from sim.evacuation.hydraulic import (SFPE_UNIMPEDED_SPEED_MPS, estimate, exit_capacity_p_s, queue_clear_times,
                                      sfpe_speed_mps)
from sim.evacuation.model import prepare


def test_sfpe_capacity_and_queue_are_the_handbook_arithmetic():
    # 1.32 p/s per metre of effective width, 0.15 m boundary layer each side
    assert exit_capacity_p_s(1.0) == pytest.approx(1.32 * 0.7)
    assert exit_capacity_p_s(6.0) == pytest.approx(1.32 * 5.7)
    # everyone at once: the queue clears at (N - 1) / capacity after the first; late arrivals pass freely
    np.testing.assert_allclose(queue_clear_times(np.zeros(5), 2.0), [0.0, 0.5, 1.0, 1.5, 2.0])
    np.testing.assert_allclose(queue_clear_times(np.array([0.0, 10.0, 0.1]), 2.0), [0.0, 0.5, 10.0])


def test_sfpe_speed_falls_with_density_as_the_handbook_gives():
    # S = k (1 - 0.266 D), k = 1.40 m/s, from 0.54 p/m²; 0.85 k below. Its flow S D peaks at
    # D = 1 / (2 x 0.266) = 1.88 p/m² with 1.40 / (4 x 0.266) = 1.316 p/s/m: the handbook's
    # maximum specific flow of 1.32 p/s per metre of effective width used for the exits
    assert sfpe_speed_mps(0.2) == pytest.approx(SFPE_UNIMPEDED_SPEED_MPS) == pytest.approx(1.19)
    assert sfpe_speed_mps(1.0) == pytest.approx(1.40 * (1 - 0.266))
    densities = np.linspace(0.54, 3.7, 2000)
    flows = [sfpe_speed_mps(d) * d for d in densities]
    assert max(flows) == pytest.approx(1.32, abs=0.005)
    assert densities[int(np.argmax(flows))] == pytest.approx(1.88, abs=0.01)
    assert sfpe_speed_mps(3.8) == 0.0


def test_sfpe_estimate_of_a_crowd_behind_one_exit():
    # 100 people in a line 20 m from a 2 m exit in a 30 m x 2 m corridor (1.67 p/m², so they
    # walk at 1.40 (1 - 0.266 x 1.67) = 0.78 m/s), no pre-movement: walk 20 m, then 99 headways
    # of 1 / (1.32 x 1.7) s
    agents = tuple(Agent(x=10.0, y=0.5 + 0.01 * i, premovement_s=0.0) for i in range(100))
    scenario = Scenario(walkable=box(0, 0, 30, 2), agents=agents,
                        exits=(Exit(id="e", coords=((30, 0), (30, 2)), width_m=2.0),))
    result = estimate(scenario)
    speed = 1.40 * (1 - 0.266 * 100 / 60.0)
    assert result.speed_mps == pytest.approx(speed)
    expected = 20.0 / speed + 99 / (1.32 * 1.7)
    # the raster distance is within a cell (0.25 m) of 20 m
    assert result.total_s == pytest.approx(expected, abs=0.25 / speed + 1e-9)
    assert result.exits["e"]["persons"] == 100
    # at the unimpeded speed given explicitly
    fast = estimate(scenario, speed_mps=SFPE_UNIMPEDED_SPEED_MPS)
    assert fast.total_s == pytest.approx(20.0 / SFPE_UNIMPEDED_SPEED_MPS + 99 / (1.32 * 1.7),
                                         abs=0.25 / SFPE_UNIMPEDED_SPEED_MPS + 1e-9)


def test_removing_the_wall_and_adding_a_gate_shortens_the_evacuation_in_both_models():
    # the courtyard of benchmarks/evacuation.py at half scale (100 m x 75 m, 750 residents, 3 m gates)
    totals = {}
    for after in (False, True):
        scenario = courtyard(after=after, residents=750, scale=0.5, gate_m=3.0)
        settings = Settings(max_time_s=900, density_cell_m=0)
        geo = prepare(scenario, settings)
        ours = simulate(scenario, settings, geometry=geo, seed=0)
        sfpe = estimate(scenario, geometry=geo)
        assert ours.value("evacuated") == 750    # nobody trapped at the wall's end
        totals[after] = (ours.value("total_evacuation_time_s"), sfpe.total_s)
        # the case is built for the gates to govern: in the hydraulic estimate each gate's queue
        # outlasts its arrivals, and in ours each gate passes at least its SFPE capacity (a
        # saturated opening: measured bottleneck flows lie above the SFPE design value)
        for k, (exit_id, g) in enumerate(sfpe.exits.items()):
            assert g["clear_s"] > g["last_arrival_s"]
            assert g["persons"] == ours.value(f"exit/{exit_id}/evacuated")
            assert ours.value(f"exit/{exit_id}/flow_p_s") >= g["capacity_p_s"]
    (ours_before, sfpe_before), (ours_after, sfpe_after) = totals[False], totals[True]
    # the same sign in both: the retrofit helps
    assert ours_after < ours_before and sfpe_after < sfpe_before
    # each within 25 % of the anchor. Measured: 134 / 169 s before, 95 / 107 s after (ours / SFPE);
    # ours is the faster where the gates govern, as its 3 m gates pass 5.1-5.3 p/s against the
    # SFPE's 3.56 (the full-size comparison with JuPedSim, 6 m gates, is benchmarks/evacuation.py)
    for ours, sfpe in totals.values():
        assert ours == pytest.approx(sfpe, rel=0.25)
