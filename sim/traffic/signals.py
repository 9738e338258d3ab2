"""Fixed-time signal programs: netconvert's default program for a signalised junction, or a program
given as SUMO's tlLogic (a .tll.xml), mapped onto this engine's movements.

A program is a cycle of phases; each phase gives every movement (link) at the junction a state:
red, green (major, or minor: green but giving way, SUMO's 'g') or yellow. `default_program` builds
what netconvert 1.28 builds when no program is given (checked against netconvert on crosses, tees,
Y and five-arm junctions, merges, single approaches and the skewed junctions of a distorted grid;
tests/sim/test_traffic_signals.py):

- the major road (`major_approaches`): of the best-ranked roads in, the two arriving from the most
  opposite directions; its pair gets the first phase when their movements block each other less than
  they flow together, then the approaches left are paired the same way (`_phase_groups`: each pair
  scored by its movements' unblocked streams, straight on weighing 2 and turns 0.5); an approach
  without a partner that scores above 0 gets a phase of its own; two approaches less than 135 deg
  apart at a junction of two roads go one by one; a junction with one approach (or one pair) has a
  single phase, followed by yellow and 5 s of red (netconvert's tls.red.time);
- movements are foes as netconvert orders streams around the junction (`streams_cross`) or where
  they merge onto the same lanes; in a green phase a movement gives way to a foe green with it from
  the major road, then to one going straight on (within 45 deg), then to one that leaves between its
  road and the foe's, clockwise;
- a phase's green extends to every other movement that conflicts with none already green in it;
- a movement that gives way to another green is green minor (a permissive left turn); where such a
  left turn has lanes of its own, a 6 s protected left phase follows (tls.left-green.time);
- every green is followed by a yellow for the movements not green in the next phase; yellow lasts
  3 s up to 16.4 m/s (the fastest road in), ceil(v / 5.5) s up to 70 km/h, int(1.8 + v / 6) s above
  (fitted to netconvert 1.28 from 5 to 33 m/s);
- the 90 s cycle (tls.cycle.time) less yellows and left phases is split equally between the phases.

A tlLogic's state string has one character per link index; netconvert numbers the lane-to-lane
connections of a junction clockwise by the direction they come from, starting at north, then by
lane from the right, then from the rightmost turn to the leftmost (`sumo_link_order`). Where this
engine cannot number them as netconvert does (multi-lane approaches without their lane connections
given), the program is not applied and the reason is returned, to be named in a SumoInputWarning.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SIGNAL_RED, SIGNAL_GREEN, SIGNAL_YELLOW = 0, 1, 2   # kernels' link states
CYCLE_S = 90.0
"""netconvert's default cycle time (tls.cycle.time)."""
SINGLE_PHASE_RED_S = 5.0
"""Red after the yellow of a single-phase program (netconvert's tls.red.time)."""
LEFT_GREEN_S = 6.0
"""Protected left-turn phase where left turns have lanes of their own (netconvert's tls.left-green.time)."""
PAIR_MIN_ANGLE_DEG = 135.0
"""At a junction of two approaches they share a phase only when their arrival directions differ by more than this."""
# phase kinds
MAIN, YELLOW, LEFT, ALL_RED, GIVEN = 0, 1, 2, 3, 4


@dataclass(frozen=True, kw_only=True)
class SignalPlan:
    """A fixed-time program as a SUMO tlLogic gives it (for one junction).

    phases: (duration s, state string with one character per SUMO link index); offset_s: SUMO's
    offset (the program at time t is at (t - offset) mod cycle); link_index: the tlLogic file's own
    <connection from to fromLane linkIndex> elements, when it has them (from edge, to edge, from lane
    or -1, link index)."""

    phases: tuple[tuple[float, str], ...]
    offset_s: float = 0.0
    link_index: tuple[tuple[str, str, int, int], ...] = ()
    source: str = ""


@dataclass(kw_only=True)
class SignalProgram:
    """A junction's compiled program: for every phase its duration (s), kind (MAIN, YELLOW, LEFT,
    ALL_RED, GIVEN) and the state of each of the junction's links (`links`, link indices)."""

    node: int
    links: np.ndarray          # int32 (n,)
    durations_s: np.ndarray    # (P,)
    kinds: np.ndarray          # int8 (P,)
    states: np.ndarray         # int8 (P, n): SIGNAL_RED / GREEN / YELLOW
    minor: np.ndarray          # bool (P, n): green, but gives way to conflicting green ('g')
    offset_s: float = 0.0
    source: str = "netconvert default"

    def phase_at(self, t: float) -> tuple[int, float]:
        """The phase running at time t (s) and how long it still runs (s)."""
        cycle = float(self.durations_s.sum())
        tau = (t - self.offset_s) % cycle if cycle > 0 else 0.0
        start = 0.0
        for p, d in enumerate(self.durations_s):
            if tau < start + d - 1e-9:
                return p, start + d - tau
            start += d
        return 0, float(self.durations_s[0])


def yellow_time_s(vmax: float) -> float:
    """netconvert 1.28's yellow time for a junction whose fastest road in has speed vmax (m/s)."""
    if vmax < 70 / 3.6:
        return float(max(3, math.ceil(vmax / 5.5 - 1e-9)))
    return float(int(1.8 + vmax / 6.0))


def bearing_from(dx: float, dy: float) -> float:
    """Compass bearing (deg, 0 = north, clockwise) of the direction a road arrives from, given its
    direction of travel at the junction (dx, dy)."""
    b = math.degrees(math.atan2(-dx, -dy)) % 360.0
    return 0.0 if b > 360.0 - 1e-6 else round(b, 6)


def default_program(node: int, ins: list[int], links_of: dict[int, list[int]], conflict, gives_way, is_left,
                    dedicated_left, bearing: dict[int, float], vmax: float, *, major: set[int], names: dict[int, str],
                    weight: dict[int, list[tuple[int, int, float]]]) -> SignalProgram:
    """netconvert's program for a junction (see the module docstring). ins: incoming edges in SUMO's
    link order; links_of: their links in that order; conflict(a, b) / gives_way(a, b): movements a and
    b conflict / a gives way to b when both are green; is_left(k), dedicated_left(k): a left turn /
    one with lanes of its own; major: the approaches of the major road (`major_approaches`); names:
    edge ids; weight[e]: for each movement of approach e (not U-turns) (link, lanes it leaves from,
    2 if it goes straight on, else 0.5)."""
    links = [k for e in ins for k in links_of[e]]
    groups = _phase_groups(ins, links_of, conflict, bearing, major, names, weight)
    yellow = yellow_time_s(vmax)
    phases: list[tuple[int, set[int], set[int]]] = []   # (kind, green links, minor links)
    for group in groups:
        green = [k for e in group for k in links_of[e]]
        for k in links:          # green extends to every movement conflicting with none green
            if k not in green and not any(conflict(k, g) or conflict(g, k) for g in green):
                green.append(k)
        minor = {a for a in green for b in green if a != b and conflict(a, b) and gives_way(a, b)}
        phases.append((MAIN, set(green), minor))
        protected = {k for k in minor if is_left(k) and dedicated_left(k)}
        if protected:
            phases.append((LEFT, protected, set()))
    n_main = sum(1 for kind, _, _ in phases if kind == MAIN)
    n_left = len(phases) - n_main
    if n_main == 1:
        green_s = CYCLE_S - yellow - SINGLE_PHASE_RED_S - n_left * (LEFT_GREEN_S + yellow)
    else:
        green_s = math.floor((CYCLE_S - n_main * yellow - n_left * (LEFT_GREEN_S + yellow)) / n_main)
    index = {k: j for j, k in enumerate(links)}
    durations, kinds, states, minors = [], [], [], []
    for p, (kind, green, minor) in enumerate(phases):
        row = np.full(len(links), SIGNAL_RED, dtype=np.int8)
        low = np.zeros(len(links), dtype=bool)
        for k in green:
            row[index[k]] = SIGNAL_GREEN
            low[index[k]] = k in minor
        durations.append(green_s if kind == MAIN else LEFT_GREEN_S)
        kinds.append(kind)
        states.append(row)
        minors.append(low)
        nxt = phases[p + 1][1] if p + 1 < len(phases) else (phases[0][1] if len(phases) > 1 else set())
        yrow = np.where(row == SIGNAL_GREEN, SIGNAL_YELLOW, SIGNAL_RED).astype(np.int8)
        ylow = np.zeros(len(links), dtype=bool)
        for k in green & nxt:    # green in the next phase too: it stays green through the yellow
            yrow[index[k]] = SIGNAL_GREEN
            ylow[index[k]] = low[index[k]]
        durations.append(yellow)
        kinds.append(YELLOW)
        states.append(yrow)
        minors.append(ylow)
    if n_main == 1:
        durations.append(SINGLE_PHASE_RED_S)
        kinds.append(ALL_RED)
        states.append(np.full(len(links), SIGNAL_RED, dtype=np.int8))
        minors.append(np.zeros(len(links), dtype=bool))
    return SignalProgram(node=node, links=np.array(links, dtype=np.int32), durations_s=np.array(durations, dtype=np.float64),
                         kinds=np.array(kinds, dtype=np.int8), states=np.array(states, dtype=np.int8),
                         minor=np.array(minors, dtype=bool))


def _angle_between(bearing, a, b) -> float:
    """The smaller angle (deg) between the directions two approaches arrive from."""
    d = abs(bearing[a] - bearing[b]) % 360.0
    return min(d, 360.0 - d)


def streams_cross(a_in: float, a_out: float, b_in: float, b_out: float) -> bool:
    """Do two movements cross, as netconvert orders streams around a junction? Each is given by the
    compass bearings (deg) of where it enters and leaves, the roads in clockwise order, a road's lanes
    in a little before its lanes out (right-hand traffic); they cross when exactly one end of one lies
    on the clockwise arc from the entry to the exit of the other."""
    def on_arc(x: float) -> bool:
        return 0.0 < (x - a_in) % 360.0 < (a_out - a_in) % 360.0
    return on_arc(b_in) != on_arc(b_out)


def major_approaches(ins, bearing, rank) -> set[int]:
    """netconvert's major road through a junction (its edges of junction priority 1): of the approaches
    of the best rank (priority, then int(speed), lanes; rank[e] = (priority, speed m/s, lanes)), the two
    arriving from the most opposite directions, the first such pair in `ins` order; where these two are
    less than 135 deg apart (a bent main road, not allowed at a signal), the two most opposite of all,
    each pair scored by 45 deg times the product of its priority (1 at the top priority, else 0.1),
    lanes and speed relative to the junction's highest. A single best approach is major with the
    approach most opposite to it when they are more than 135 deg apart (netconvert's further rules
    for this case, a partner 75-135 deg away among roads of other priorities and the redo when the
    best road's continuation bends, are not reproduced)."""
    if len(ins) < 2:
        return set(ins)
    key = {e: (rank[e][0], int(rank[e][1]), rank[e][2]) for e in ins}
    ordered = sorted(ins, key=lambda e: (-rank[e][0], -rank[e][1], -rank[e][2]))   # stable: ties stay in ins order
    best = [e for e in ordered if key[e] == key[ordered[0]]]
    if len(best) == 1:
        first = best[0]
        other = max((e for e in ins if e != first), key=lambda e: _angle_between(bearing, first, e))
        return {first, other} if _angle_between(bearing, first, other) > 180.0 - 45.0 else {first}

    top_prio = max(rank[e][0] for e in ins)
    top_lanes = max(rank[e][2] for e in ins)
    top_speed = max(rank[e][1] for e in ins)

    def score(e) -> float:
        return (1.0 if rank[e][0] == top_prio else 0.1) * rank[e][2] / top_lanes * rank[e][1] / top_speed

    def most_opposite(pool, forced) -> tuple[int, int]:
        pair, best_angle = None, -1.0
        for i, a in enumerate(pool):
            for b in pool[i + 1:]:
                angle = _angle_between(bearing, a, b) + (45.0 * score(a) * score(b) if forced else 0.0)
                if angle > best_angle:
                    pair, best_angle = (a, b), angle
        return pair

    a, b = most_opposite(best, False)
    if _angle_between(bearing, a, b) < 180.0 - 45.0:
        a, b = most_opposite(ordered, True)
    return {a, b}


def _phase_groups(ins, links_of, conflict, bearing, major, names, weight) -> list[list[int]]:
    """Approaches sharing a phase, in phase order, as netconvert pairs them: from the approaches left,
    those of the highest junction priority (the major road) when there are two of them, else all, in
    descending order of their ids; of these the pair with the most unblocked movements: for every two
    movements (not U-turns) of the two approaches, lane by lane, + or - (as they conflict) the sum of
    their weights (`weight(k)`: 2 straight, 0.5 turning; between a major and a minor approach 2 and 0.5,
    doubled where they conflict); equal sums go to the pair arriving from more opposite directions,
    then to the later first id; a pair scoring no more than 0 does not share: its first approach goes
    alone. Two approaches less than 135 deg apart at a junction of two approaches go one by one."""
    if len(ins) == 2 and _angle_between(bearing, ins[0], ins[1]) < PAIR_MIN_ANGLE_DEG:
        return [[ins[0]], [ins[1]]]

    def unblocked(a, b) -> float:
        value = 0.0
        for x, nx, wx in weight[a]:
            for y, ny, wy in weight[b]:
                sign = -1.0 if conflict(x, y) or conflict(y, x) else 1.0
                if (a in major) == (b in major):
                    w = wx + wy
                else:
                    w = (2.0 + 0.5) * (2.0 if sign < 0 else 1.0)
                value += sign * w * nx * ny
        return value

    left = list(ins)
    groups = []
    while left:
        if len(left) == 1:
            groups.append([left.pop()])
            continue
        left.sort(key=lambda e: names[e], reverse=True)
        left.sort(key=lambda e: e not in major)
        used = [e for e in left if (e in major) == (left[0] in major)]
        if len(used) < 2:
            used = left
        best, best_value = None, -math.inf
        for i, a in enumerate(used):
            for b in used[i + 1:]:
                value = unblocked(a, b)
                if value > best_value:
                    best, best_value = (a, b), value
                elif value == best_value:
                    now, was = _angle_between(bearing, a, b), _angle_between(bearing, *best)
                    if abs(now - was) < 1e-9:
                        if names[best[0]] < names[a]:
                            best = (a, b)
                    elif was < now:
                        best = (a, b)
        group = list(best) if best_value > 0 else [best[0]]
        groups.append(group)
        for e in group:
            left.remove(e)
    return groups


STATE_CHARS = {"G": (SIGNAL_GREEN, False), "g": (SIGNAL_GREEN, True), "y": (SIGNAL_YELLOW, False), "Y": (SIGNAL_YELLOW, False),
               "r": (SIGNAL_RED, False), "R": (SIGNAL_RED, False), "u": (SIGNAL_RED, False), "O": (SIGNAL_GREEN, False),
               "o": (SIGNAL_GREEN, True), "s": (SIGNAL_GREEN, True)}
"""SUMO's signal state characters: G green, g green minor (gives way), y/Y yellow, r red, u red-yellow
(still red), O off (no signal), o off blinking (gives way), s stop sign (gives way)."""


def given_program(node: int, node_id: str, plan: SignalPlan, order: list[tuple[int, int]] | None, why_not: str,
                  links: list[int], link_ends: dict[int, tuple[str, str]]) -> tuple[SignalProgram | None, list[str]]:
    """A tlLogic mapped onto the junction's links. order: SUMO's link indices as (link, from lane) in
    index order (None when they cannot be numbered as netconvert does: why_not says why). Returns the
    program (None when it cannot be applied faithfully) and the notes for a SumoInputWarning."""
    where = f"{plan.source}: tlLogic {node_id!r}"
    if not plan.phases:
        return None, [f"{where} has no phases: default program used"]
    if plan.link_index:
        by_ends = {ends: k for k, ends in link_ends.items()}
        mapped = {}
        for frm, to, _lane, idx in plan.link_index:
            k = by_ends.get((frm, to))
            if k is None:
                return None, [f"{where}: connection {frm} -> {to} (linkIndex {idx}) is not a movement here: default program used"]
            mapped.setdefault(idx, k)
        n = max(mapped) + 1 if mapped else 0
        index_links = [[mapped[i]] if i in mapped else [] for i in range(n)]
    elif order is None:
        return None, [f"{where}: link indices cannot be numbered as netconvert does ({why_not}): default program used"]
    else:
        n = len(order)
        index_links = [[k] for k, _ in order]
    notes = []
    for duration, state in plan.phases:
        if len(state) < n:
            return None, [f"{where}: a state of {len(state)} characters for the {n} links netconvert builds (SUMO refuses "
                          "it): default program used"]
        bad = sorted(set(state) - set(STATE_CHARS))
        if bad:
            return None, [f"{where}: state characters {''.join(bad)} not understood: default program used"]
    if any(len(state) > n for _, state in plan.phases):
        notes.append(f"{where}: states longer than the {n} links netconvert builds here; as in SUMO only the first {n} "
                     "characters are used")
    col = {k: j for j, k in enumerate(links)}
    states, minors, mixed = [], [], set()
    for duration, state in plan.phases:
        row = np.full(len(links), SIGNAL_RED, dtype=np.int8)
        low = np.zeros(len(links), dtype=bool)
        seen: dict[int, set[str]] = {}
        for i, ks in enumerate(index_links):
            for k in ks:
                seen.setdefault(k, set()).add(state[i])
        for k, chars in seen.items():
            if len({STATE_CHARS[c][0] for c in chars}) > 1:
                mixed.add(k)
            s, m = max((STATE_CHARS[c] for c in chars), key=lambda sm: ({SIGNAL_GREEN: 2, SIGNAL_YELLOW: 1}.get(sm[0], 0), not sm[1]))
            row[col[k]] = s
            low[col[k]] = m
        states.append(row)
        minors.append(low)
    if mixed:
        names = ", ".join(f"{link_ends[k][0]} -> {link_ends[k][1]}" for k in sorted(mixed))
        notes.append(f"{where}: lanes of one movement ({names}) get different lights in a phase; here the movement "
                     "follows the most permissive of them")
    uncovered = [k for k in links if not any(k in ks for ks in index_links)]
    if uncovered:
        notes.append(f"{where}: movements {', '.join(f'{link_ends[k][0]} -> {link_ends[k][1]}' for k in uncovered)} have "
                     "no link index in the program: red throughout")
    return SignalProgram(node=node, links=np.array(links, dtype=np.int32),
                         durations_s=np.array([float(d) for d, _ in plan.phases]), kinds=np.full(len(plan.phases), GIVEN, np.int8),
                         states=np.array(states, dtype=np.int8), minor=np.array(minors, dtype=bool), offset_s=plan.offset_s,
                         source=plan.source), notes
