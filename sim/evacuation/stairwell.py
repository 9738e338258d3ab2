"""Inside the walk-ups: households leave their flats, go down the stairwell and out of the unit entrance door.

A SimPy queue network per stairwell, after the hydraulic model of the SFPE Handbook (Gwynne &
Rosenbaum, "Employing the hydraulic model in assessing emergency movement", SFPE Handbook of
Fire Protection Engineering, 5th ed., 2016, ch. 59):

    household_prepares   pre-movement of the whole household (day or night distribution)
    resident_goes_down   walk to the stair head, then one flight per storey: each flight admits
                         residents no faster than its flow capacity Fs_max * effective width, lets
                         nobody overtake, and is walked at the SFPE speed for the density on it
    resident_passes_door the unit entrance door: one at a time, at most 1.32 p/s per metre of
                         effective width, and only when the spot outside the door is clear

The last step is shared with the outdoor model (model.py), which lets a resident out when the
crowd outside leaves room, so a jammed yard backs up into the stairwell.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class StairParams:
    """Stair movement, SFPE hydraulic model (Gwynne & Rosenbaum 2016, tables 59.2-59.5).

    S = k (1 - a D) along the line of travel for D >= 0.54 p/m² (0.85 k below), a = 0.266 m².
    k and the maximum specific flow are the SFPE values for 7.5 in risers / 10 in treads, the
    row nearest GB 50096 walk-up stairs (riser <= 0.175 m, tread >= 0.26 m).
    """

    k_mps: float = 1.00                     # m/s, SFPE k for a 7.5/10 in stair
    max_specific_flow_p_m_s: float = 0.94   # persons/s per metre of effective width (7.5/10 in stair)
    boundary_layer_m: float = 0.15          # m, each side (stairway walls, SFPE table 59.1)
    riser_m: float = 0.175                  # m
    tread_m: float = 0.26                   # m
    door_specific_flow_p_m_s: float = 1.32  # persons/s per metre of effective door width (SFPE)
    door_boundary_layer_m: float = 0.15     # m, each side of a door
    to_stair_m: float = 4.0                 # m, walk from the flat's door to the stair head (flat)
    density_a_m2: float = 0.266             # m²/person, the a of S = k (1 - a D)


def stair_speed_mps(density_p_m2: float, k_mps: float, a_m2: float = 0.266) -> float:
    """SFPE speed along a stair's line of travel (m/s) at a density (persons/m²)."""
    if density_p_m2 <= 0.54:
        return 0.85 * k_mps
    return max(k_mps * (1.0 - a_m2 * min(density_p_m2, 3.5)), 0.05 * k_mps)


@dataclass(frozen=True, kw_only=True)
class Household:
    """One dwelling's residents: on which floor (1 = ground floor) and the agent indices living there."""

    floor: int
    residents: tuple[int, ...]   # indices into the run's agent arrays


@dataclass(frozen=True, kw_only=True)
class Stairwell:
    """One stairwell of a walk-up and its unit entrance door.

    door_xy is the point just outside the door where residents step into the outdoor model;
    households list who lives on which floor (model.py turns dwellings and residents into it).
    """

    id: str
    door_xy: tuple[float, float]       # m, outdoor point in front of the door
    storeys: int                       # storeys above ground served by the stair
    dwellings_per_floor: tuple[int, ...]  # dwellings on floor 1, 2, ... (len = storeys)
    residents: int                     # persons living off this stair
    door_width_m: float = 1.1          # m, clear width of the unit entrance door
    stair_width_m: float = 1.1         # m, clear width of a flight (GB 50096: >= 1.0-1.1 m)
    storey_height_m: float = 2.8       # m, floor to floor
    source: str = ""                   # where it came from (a GlobalId, a feature index), for messages
    groups: tuple[tuple[str, float], ...] = ()   # who the occupants are, (group, share); () = the run's
                                                 # group_shares (a kindergarten: children and staff)


@dataclass
class _Flight:
    """One flight pair between storey s and s-1: flow-limited entry, no overtaking, SFPE speed."""

    length_m: float
    area_m2: float
    headway_s: float
    entry: object                # simpy.Resource(capacity=1)
    occupants: int = 0
    last_exit_s: float = -math.inf


@dataclass
class StairwellRun:
    """What the queue network records per resident (indices into the run's arrays)."""

    left_flat_s: dict[int, float] = field(default_factory=dict)
    at_door_s: dict[int, float] = field(default_factory=dict)
    waited_inside_s: dict[int, float] = field(default_factory=dict)


def flight_length_m(stairwell: Stairwell, params: StairParams) -> float:
    """Travel length of one storey of a half-turn stair: two sloped runs plus two landings.

    Each run climbs half the storey; its length along the slope is (h/2) / sin(theta),
    tan(theta) = riser / tread. A landing is crossed over about the stair's width (SFPE counts
    landings as travel along the line of travel)."""
    theta = math.atan2(params.riser_m, params.tread_m)
    return stairwell.storey_height_m / math.sin(theta) + 2.0 * stairwell.stair_width_m


def start_stairwell(env, stairwell: Stairwell, households: list[Household], *, params: StairParams,
                    premovement_s, speed_factor, walk_speed_mps, door_reached, record: StairwellRun) -> None:
    """Add the SimPy processes of one stairwell to `env`.

    premovement_s(household) -> s; speed_factor[i] scales the SFPE stair speed for resident i
    (own speed / adult mean), walk_speed_mps[i] is his speed on the flat; door_reached(i) is the
    outdoor model's hand-over: a generator that returns once resident i is outside.
    """
    import simpy

    effective_stair = max(stairwell.stair_width_m - 2 * params.boundary_layer_m, 0.3)
    headway = 1.0 / (params.max_specific_flow_p_m_s * effective_stair)
    length = flight_length_m(stairwell, params)
    flights = [_Flight(length_m=length, area_m2=length * stairwell.stair_width_m, headway_s=headway,
                       entry=simpy.Resource(env, capacity=1)) for _ in range(max(stairwell.storeys - 1, 0))]
    effective_door = max(stairwell.door_width_m - 2 * params.door_boundary_layer_m, 0.3)
    door = simpy.Resource(env, capacity=1)
    door_headway = 1.0 / (params.door_specific_flow_p_m_s * effective_door)

    def resident_passes_door(env, i):
        """One at a time through the door, then wait for room outside (backs up into the stair)."""
        with door.request() as turn:
            yield turn
            yield env.timeout(door_headway)
            record.at_door_s[i] = env.now
            yield from door_reached(i)

    def resident_goes_down(env, i, floor):
        free_s = 0.0
        start = env.now
        walk = params.to_stair_m / walk_speed_mps[i]
        yield env.timeout(walk)
        free_s += walk
        # flights from the resident's floor down to the ground: flight f joins storeys f+1 and f
        for flight in reversed(flights[:floor - 1]):
            with flight.entry.request() as turn:
                yield turn
                yield env.timeout(flight.headway_s)
            flight.occupants += 1
            speed = stair_speed_mps(flight.occupants / flight.area_m2, params.k_mps, params.density_a_m2) * speed_factor[i]
            own = flight.length_m / speed
            free_s += own
            leave = max(env.now + own, flight.last_exit_s + flight.headway_s)  # nobody overtakes on a stair
            flight.last_exit_s = leave
            yield env.timeout(leave - env.now)
            flight.occupants -= 1
        yield from resident_passes_door(env, i)
        record.waited_inside_s[i] = max(0.0, record.at_door_s[i] - start - free_s)

    def household_prepares(env, household: Household):
        """Pre-movement: the household notices, gathers and leaves together."""
        delay = float(premovement_s(household))
        if delay > 0:
            yield env.timeout(delay)
        for i in household.residents:
            record.left_flat_s[i] = env.now
            env.process(resident_goes_down(env, i, household.floor))

    for household in households:
        env.process(household_prepares(env, household))


def households_of(stairwell: Stairwell, first_index: int) -> list[Household]:
    """Spread the stairwell's residents over its dwellings, floor by floor (as evenly as whole persons allow).

    Agent indices run from first_index upwards; returns the households in floor order."""
    dwellings = [(floor + 1) for floor, count in enumerate(stairwell.dwellings_per_floor) for _ in range(count)]
    if not dwellings and stairwell.residents:
        dwellings = [1]
    out: list[Household] = []
    n = len(dwellings)
    index = first_index
    for d, floor in enumerate(dwellings):
        size = stairwell.residents // n + (1 if d < stairwell.residents % n else 0)
        if size == 0:
            continue
        out.append(Household(floor=floor, residents=tuple(range(index, index + size))))
        index += size
    return out
