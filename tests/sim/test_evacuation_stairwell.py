"""The stairwell queue network (SFPE hydraulic model as SimPy processes) and its hand-over to the yard."""
import math

import numpy as np
import pytest
import simpy
from shapely.geometry import box

from sim.evacuation import Agent, Exit, Scenario, Settings, simulate
from sim.evacuation.model import Premovement
from sim.evacuation.stairwell import (StairParams, Stairwell, StairwellRun, flight_length_m, households_of,
                                      stair_speed_mps, start_stairwell)


def _run_stairwell(stairwell, *, speeds=None, premovement=0.0):
    """The stairwell alone: the door hands residents straight out; returns the record."""
    env = simpy.Environment()
    households = households_of(stairwell, 0)
    n = stairwell.residents
    v = np.full(n, 1.34) if speeds is None else np.asarray(speeds, dtype=float)
    record = StairwellRun()

    def door_reached(i):
        return
        yield

    start_stairwell(env, stairwell, households, params=StairParams(), premovement_s=lambda h: premovement,
                    speed_factor=v / 1.34, walk_speed_mps=v, door_reached=door_reached, record=record)
    env.run()
    return record


def test_sfpe_stair_speed_and_flow_are_the_handbook_values():
    # SFPE: S = k (1 - 0.266 D), 0.85 k below 0.54 p/m²; flow F = S D peaks at D = 1/(2a) = 1.88 p/m²
    assert stair_speed_mps(0.3, 1.0) == pytest.approx(0.85)
    assert stair_speed_mps(1.0, 1.0) == pytest.approx(0.734)
    d = np.linspace(0.6, 3.4, 281)
    flow = np.array([stair_speed_mps(x, 1.0) * x for x in d])
    assert d[flow.argmax()] == pytest.approx(1 / (2 * 0.266), abs=0.01)
    # the peak specific flow (persons/s per metre of effective width) for k = 1.00 is 0.94 (SFPE table)
    assert flow.max() == pytest.approx(0.94, abs=0.005)


def test_a_lone_resident_from_the_top_floor_takes_the_closed_form_time():
    w = Stairwell(id="s", door_xy=(0, 0), storeys=6, dwellings_per_floor=(0, 0, 0, 0, 0, 1), residents=1)
    record = _run_stairwell(w)
    p = StairParams()
    headway = 1 / (p.max_specific_flow_p_m_s * (1.1 - 0.3))
    door = 1 / (p.door_specific_flow_p_m_s * (1.1 - 0.3))
    # flat walk, then 5 storeys: entry headway plus the flight at 0.85 k (alone: density < 0.54)
    expected = p.to_stair_m / 1.34 + 5 * (headway + flight_length_m(w, p) / 0.85) + door
    assert record.at_door_s[0] == pytest.approx(expected, rel=1e-9)
    assert record.waited_inside_s[0] == pytest.approx(5 * headway + door, rel=1e-9)


def test_a_full_stairwell_empties_at_the_stair_capacity():
    # 6 storeys x 2 flats x 5 persons, all leaving at once: the stair (0.94 p/s/m x 0.8 m =
    # 0.752 p/s) is narrower than the door (1.32 x 0.8 = 1.056 p/s), so residents from upper
    # floors reach the door at the stair's capacity: the SFPE hydraulic answer, to 2 %.
    w = Stairwell(id="s", door_xy=(0, 0), storeys=6, dwellings_per_floor=(2,) * 6, residents=60)
    record = _run_stairwell(w)
    ground = set(households_of(w, 0)[0].residents + households_of(w, 0)[1].residents)
    upper = np.sort([t for i, t in record.at_door_s.items() if i not in ground])
    middle = upper[10:40]
    rate = (len(middle) - 1) / (middle[-1] - middle[0])
    assert rate == pytest.approx(0.94 * 0.8, rel=0.02)
    # nobody is lost, nobody counted twice
    assert sorted(record.at_door_s) == list(range(60))


def test_nobody_overtakes_a_slow_resident_on_the_stair():
    # an elderly resident (0.8 m/s) on the 4th floor enters the stair before a fast one (1.6 m/s)
    # from the 5th floor comes down to it: the fast one may not reach the door before him
    w = Stairwell(id="s", door_xy=(0, 0), storeys=5, dwellings_per_floor=(0, 0, 0, 1, 1), residents=2)
    record = _run_stairwell(w, speeds=[0.8, 1.6])
    assert record.at_door_s[1] > record.at_door_s[0]
    alone = _run_stairwell(Stairwell(id="s", door_xy=(0, 0), storeys=5, dwellings_per_floor=(0, 0, 0, 0, 1),
                                     residents=1), speeds=[1.6])
    # held up by the slow one: he leaves the last flight one headway after him and passes the
    # door one door headway after him — the slow one sets the pace, not his own speed
    door = 1 / (1.32 * 0.8)
    assert record.at_door_s[1] == pytest.approx(record.at_door_s[0] + door, abs=1.4)
    assert record.at_door_s[1] > alone.at_door_s[0] + 10.0


def test_households_spread_residents_evenly_over_dwellings_and_floors():
    w = Stairwell(id="s", door_xy=(0, 0), storeys=3, dwellings_per_floor=(2, 2, 2), residents=16)
    households = households_of(w, 100)
    assert [h.floor for h in households] == [1, 1, 2, 2, 3, 3]
    assert [len(h.residents) for h in households] == [3, 3, 3, 3, 2, 2]
    assert [i for h in households for i in h.residents] == list(range(100, 116))


def _yard_with_a_door(blocker_premovement_s):
    # a 20 m x 6 m yard; the stairwell door spot is at (2, 3); a resident waits on it
    yard = box(0, 0, 20, 6)
    w = Stairwell(id="door", door_xy=(2.0, 3.0), storeys=2, dwellings_per_floor=(1, 1), residents=4)
    agents = (Agent(x=2.0, y=3.0, premovement_s=blocker_premovement_s, speed_mps=1.3),)
    return Scenario(walkable=yard, agents=agents, stairwells=(w,),
                    exits=(Exit(id="gate", coords=((20, 0), (20, 6)), width_m=6.0),))


def test_a_blocked_door_spot_backs_the_residents_up_into_the_stairwell():
    settings = Settings(max_time_s=200, household_premovement_day=Premovement(mean_s=0.0, sd_s=0.0))
    free = simulate(_yard_with_a_door(0.0), settings)
    blocked = simulate(_yard_with_a_door(60.0), settings)
    out_free = free.frames["out_of_building_s"][1:]
    out_blocked = blocked.frames["out_of_building_s"][1:]
    assert free.value("evacuated") == blocked.value("evacuated") == 5
    # free: the first is out within seconds (4 m to the stair head, the door)
    assert np.nanmin(out_free) < 10.0
    # blocked: nobody steps out while someone stands on the spot (he starts at 60 s and needs
    # (2r + margin) / 1.3 m/s ~ 0.3 s to clear it)
    assert np.nanmin(out_blocked) >= 60.0
    assert np.nanmin(out_blocked) < 62.0
    # the wait shows up as time waited indoors
    assert blocked.frames["waited_indoors_s"][1:].max() > 45.0


def test_night_pre_movement_delays_the_yard_by_about_the_difference_of_the_means():
    yard = box(0, 0, 40, 20)
    stairs = tuple(Stairwell(id=f"s{k}", door_xy=(5.0 + 6 * k, 10.0), storeys=4, dwellings_per_floor=(2,) * 4,
                             residents=20) for k in range(5))
    scenario = Scenario(walkable=yard, stairwells=stairs, exits=(Exit(id="gate", coords=((40, 5), (40, 15)), width_m=10.0),))
    day = simulate(scenario, Settings(max_time_s=1500, time_of_day="day"), seed=3)
    night = simulate(scenario, Settings(max_time_s=1500, time_of_day="night"), seed=3)
    assert day.value("evacuated") == night.value("evacuated") == 100
    # 40 households; the medians of the two lognormals differ by ~160 s (day 120 +- 60 s,
    # night 300 +- 150 s: medians 107 s and 268 s); the stair and the yard add about the same
    # to both, so the half-way times differ by that, within a sampling error of ~30 %
    shift = night.value("t50_s") - day.value("t50_s")
    median = lambda m, s: m / math.sqrt(1 + (s / m) ** 2)
    assert shift == pytest.approx(median(300, 150) - median(120, 60), rel=0.3)
