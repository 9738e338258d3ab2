"""Route choice (nearest / quickest exit) and what experts read: density grid, Fruin level of service, bottlenecks."""
import numpy as np
import pytest
from shapely.geometry import box

from sim.evacuation import Agent, Exit, Scenario, Settings, simulate
from sim.evacuation.metrics import density_grid, level_of_service, summary
from sim.evacuation.model import quickest_exits


def _hall():
    # 40 m x 20 m hall; 300 people packed at the west end; a 1 m door in the west wall right
    # by them, a 4 m gate in the east wall 30 m farther
    hall = box(0, 0, 40, 20)
    xs, ys = np.meshgrid(np.linspace(1.0, 10.0, 20), np.linspace(1.0, 19.0, 15))
    agents = tuple(Agent(x=float(x), y=float(y)) for x, y in zip(xs.ravel(), ys.ravel()))
    exits = (Exit(id="door", coords=((0, 9.5), (0, 10.5)), width_m=1.0),
             Exit(id="gate", coords=((40, 8), (40, 12)), width_m=4.0))
    return Scenario(walkable=hall, agents=agents, exits=exits)


def test_quickest_exit_sends_people_past_the_queue_and_saves_time():
    nearest = simulate(_hall(), Settings(max_time_s=600), seed=1)
    quickest = simulate(_hall(), Settings(max_time_s=600, route="quickest"), seed=1)
    assert nearest.value("evacuated") == quickest.value("evacuated") == 300
    # nearest: everyone queues at the 1 m door (300 / ~1.6 p/s ~ 190 s)
    assert nearest.value("exit/gate/evacuated") == 0
    assert nearest.value("total_evacuation_time_s") > 150.0
    # quickest: the back of the queue walks ~35 m (~30 s) to the gate instead of waiting; the two
    # exits finish closer together and the last one is out in well under two thirds of the time
    assert quickest.value("exit/gate/evacuated") > 100
    assert quickest.value("total_evacuation_time_s") < 0.67 * nearest.value("total_evacuation_time_s")


def test_quickest_exits_weighs_walking_against_the_queue_ahead():
    # two exits; capacity 1 p/s each. Agent 0 is 10 m from exit 0 behind 30 others heading
    # there, 40 m from exit 1 with nobody ahead: 10/1 + 30/1 = 40 s vs 40/1 = 40 s: a tie, no switch.
    # Agent 1, 50 m from exit 1, would save nothing; agent 2 behind the same queue at 12 m, 20 m
    # from exit 1: 12 + 31 = 43 s vs 20 s: switches.
    d0 = np.concatenate([[10.0, 5.0, 12.0], np.linspace(1, 9.5, 30)])
    d1 = np.concatenate([[40.0, 50.0, 20.0], np.full(30, 60.0)])
    current = np.zeros(33, dtype=np.int64)
    choice = quickest_exits(np.vstack([d0, d1]), np.ones(33), current, np.array([1.0, 1.0]))
    assert choice[0] == 0 and choice[1] == 0 and choice[2] == 1
    assert (choice[3:] == 0).all()


def test_density_grid_counts_people_per_square_metre_and_fruin_levels():
    positions = np.array([[[0.5, 0.5], [1.5, 0.5], [0.2, 1.9], [np.nan, np.nan], [5.5, 3.0]]], dtype=np.float32)
    density, origin = density_grid(positions, (0.0, 0.0, 6.0, 4.0), 2.0)
    assert origin == (0.0, 0.0)
    assert density.shape == (1, 3, 4)
    assert density[0, 0, 0] == pytest.approx(3 / 4.0)   # three people in the first 2 m x 2 m cell
    assert density[0, 1, 2] == pytest.approx(1 / 4.0)
    assert density.sum() * 4.0 == pytest.approx(4)      # everyone present counted once, NaN = absent
    # Fruin walkway levels: A < 0.31 < B < 0.43 < C < 0.72 < D < 1.08 < E < 2.17 < F (persons/m²)
    assert list(level_of_service(np.array([0.1, 0.35, 0.5, 1.0, 2.0, 3.0]))) == [0, 1, 2, 3, 4, 5]


def test_the_worst_bottleneck_is_the_queue_at_the_narrow_door():
    result = simulate(_hall(), Settings(max_time_s=600), seed=1)
    s = summary(result)
    # the crowd at the 1 m door stands at level E-F (the published crowd density in front of a
    # bottleneck is 2-5 p/m²; 2 m cells average it with the emptier edges of the queue)
    assert s["max_local_density_p_m2"] >= 2.17
    first = s["bottlenecks"][0]
    assert first["nearest_exit"] == "door" and first["distance_to_exit_m"] < 6.0
    assert first["congested_s"] > 60.0
    frames = result.frames
    t, h, w = frames["density_p_m2"].shape
    assert t == len(frames["times_s"]) and frames["los_max"].shape == (h, w)
    # the grid holds everyone on the ground at each second (its cells cover the hall)
    present = np.isfinite(frames["positions_xy_m"][:, :, 0]).sum(axis=1)
    np.testing.assert_allclose(frames["density_p_m2"].sum(axis=(1, 2)) * float(frames["density_cell_m"]) ** 2, present)
    # waiting in congestion: the queue waits, measured per resident; the far end of the queue most
    waited = frames["waited_outdoors_s"]
    assert waited.max() > 100.0 and s["waited_mean_s"] > 30.0


def _yard_with_a_square(to_square_too=True):
    # 60 m x 20 m yard, a 4 m gate in the east wall; a 10 m x 8 m square (an assembly area) by the
    # west wall, its west side along that wall. Ten people near the square, ten near the gate, one in it.
    from shapely.geometry import box as rect

    yard = rect(0, 0, 60, 20)
    square = rect(0, 6, 10, 14)
    west = tuple(Agent(x=16.0 + (k % 5), y=4.0 + 3.0 * (k // 5), speed_mps=1.2) for k in range(10))
    east = tuple(Agent(x=50.0 + (k % 5), y=4.0 + 3.0 * (k // 5), speed_mps=1.2) for k in range(10))
    inside = (Agent(x=5.0, y=10.0, speed_mps=1.2),)
    return Scenario(walkable=yard, agents=west + east + inside, assembly=(square,), assembly_ids=("square",),
                    exits=(Exit(id="gate", coords=((60, 8), (60, 12)), width_m=4.0),))


def test_an_assembly_area_is_a_destination_safe_on_stepping_in():
    result = simulate(_yard_with_a_square(), Settings(max_time_s=120), seed=0)
    s = summary(result)
    assert s["evacuated"] == 21 and s["stuck"] == 0
    assert s["exits"]["square"]["kind"] == "assembly" and s["exits"]["gate"]["kind"] == "exit"
    # the ten by the square walk to it, the ten by the gate go out, the one in the square is safe at once
    assert s["exits"]["square"]["evacuated"] == 11 and s["exits"]["gate"]["evacuated"] == 10
    t = result.frames["evacuation_time_s"]
    assert t[20] == 0.0
    # from x = 16-20 to the square's east side at x = 10 (6-10 m, plus the way round to its open
    # sides for those beside it) at 1.2 m/s; from x = 50-54 to the gate at x = 60 (6-10 m)
    assert np.all((t[:10] > 4.0) & (t[:10] < 15.0)) and np.all((t[10:20] > 4.0) & (t[10:20] < 12.0))
    # the square's west side lies along the wall: nobody enters over it (its open outline is the
    # other three sides, 28 m, less 5 cm at each end where they meet the wall; all four: 36 m)
    assert result.metrics["exit/square/specific_flow_p_m_s"].meaning.endswith("27.9 m of open outline, not through a door")
    # those who stepped in walked on into the square before they left the model
    last_xy = result.frames["positions_xy_m"]
    assert np.isnan(last_xy[-1]).all()

    # exits only: all 21 to the gate, the west ten walking ~40 m more
    gates = simulate(_yard_with_a_square(), Settings(max_time_s=120, to_assembly=False), seed=0)
    g = summary(gates)
    assert g["evacuated"] == 21 and set(g["exits"]) == {"gate"}
    assert g["total_evacuation_time_s"] > s["total_evacuation_time_s"] + 25.0


def test_assembly_areas_round_trip_through_geojson_with_their_ids(tmp_path):
    from sim.evacuation.io import read_scenario, write_scenario

    path = tmp_path / "yard.geojson"
    write_scenario(path, _yard_with_a_square())
    back = read_scenario(path)
    assert back.assembly_ids == ("square",) and back.assembly[0].equals(_yard_with_a_square().assembly[0])
    assert summary(simulate(back, Settings(max_time_s=120), seed=0))["exits"]["square"]["evacuated"] == 11


def test_arrivals_in_a_small_assembly_area_leave_room_for_those_behind():
    # 40 people from four corners of a 34 m x 20 m room to a 3 m x 2 m area near one corner (as the
    # exit zone of jupedsim-scenarios' four_start_areas): each walks half the area's depth in and
    # leaves, so the area never fills; the last one is safe about when the farthest walker arrives
    from shapely.geometry import Point
    from shapely.geometry import box as rect

    zone = rect(1.5, 16.0, 4.5, 18.0)
    starts = [(28.0, 2.0), (27.0, 16.0), (12.0, 2.0), (18.0, 9.0)]
    agents = tuple(Agent(x=x0 + 0.6 * (k % 5), y=y0 + 0.6 * (k // 5), speed_mps=1.3)
                   for x0, y0 in starts for k in range(10))
    result = simulate(Scenario(walkable=rect(0, 0, 34, 20), agents=agents, assembly=(zone,)), Settings(max_time_s=120), seed=0)
    assert result.value("evacuated") == 40
    farthest = max(zone.exterior.distance(Point(a.x, a.y)) for a in agents) / 1.3
    assert farthest < result.value("total_evacuation_time_s") < 1.25 * farthest + 5.0
