"""The SFPE hydraulic estimate (the anchor) and the courtyard before/after a retrofit: sign and size of the change."""
import numpy as np
import pytest
from shapely.geometry import box

from sim.evacuation import Agent, Exit, Scenario, Settings, simulate
from sim.evacuation.cases import courtyard
from sim.evacuation.hydraulic import SFPE_UNIMPEDED_SPEED_MPS, estimate, exit_capacity_p_s, queue_clear_times
from sim.evacuation.model import prepare


def test_sfpe_capacity_and_queue_are_the_handbook_arithmetic():
    # 1.32 p/s per metre of effective width, 0.15 m boundary layer each side
    assert exit_capacity_p_s(1.0) == pytest.approx(1.32 * 0.7)
    assert exit_capacity_p_s(6.0) == pytest.approx(1.32 * 5.7)
    # everyone at once: the queue clears at (N - 1) / capacity after the first; late arrivals pass freely
    np.testing.assert_allclose(queue_clear_times(np.zeros(5), 2.0), [0.0, 0.5, 1.0, 1.5, 2.0])
    np.testing.assert_allclose(queue_clear_times(np.array([0.0, 10.0, 0.1]), 2.0), [0.0, 0.5, 10.0])


def test_sfpe_estimate_of_a_crowd_behind_one_exit():
    # 100 people in a line 20 m from a 2 m exit, no pre-movement: walk 20 m at 1.19 m/s, then
    # 99 headways of 1 / (1.32 x 1.7) s
    agents = tuple(Agent(x=10.0, y=0.5 + 0.01 * i, premovement_s=0.0) for i in range(100))
    scenario = Scenario(walkable=box(0, 0, 30, 2), agents=agents,
                        exits=(Exit(id="e", coords=((30, 0), (30, 2)), width_m=2.0),))
    result = estimate(scenario)
    expected = 20.0 / SFPE_UNIMPEDED_SPEED_MPS + 99 / (1.32 * 1.7)
    # the raster distance is within a cell (0.25 m) of 20 m
    assert result.total_s == pytest.approx(expected, abs=0.25 / SFPE_UNIMPEDED_SPEED_MPS + 1e-9)
    assert result.exits["e"]["persons"] == 100


def test_removing_the_wall_and_adding_a_gate_shortens_the_evacuation_in_both_models():
    # the courtyard of benchmarks/evacuation.py at 0.4 scale (80 m x 60 m, 300 residents, 3 m gates)
    totals = {}
    for after in (False, True):
        scenario = courtyard(after=after, residents=300, scale=0.4, gate_m=3.0)
        settings = Settings(max_time_s=900, density_cell_m=0)
        geo = prepare(scenario, settings)
        ours = simulate(scenario, settings, geometry=geo, seed=0)
        assert ours.value("evacuated") == 300    # nobody trapped at the wall's end
        totals[after] = (ours.value("total_evacuation_time_s"), estimate(scenario, geometry=geo).total_s)
    (ours_before, sfpe_before), (ours_after, sfpe_after) = totals[False], totals[True]
    # the same sign in both: the retrofit helps
    assert ours_after < ours_before and sfpe_after < sfpe_before
    # each within 25 % of the anchor (here the slowest pre-movement, 228 s, and the walk govern
    # as much as the gates; the full-size comparison with JuPedSim is benchmarks/evacuation.py)
    for ours, sfpe in totals.values():
        assert ours == pytest.approx(sfpe, rel=0.25)
