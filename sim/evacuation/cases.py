"""Reference scenarios for agreement checks: a courtyard of walk-ups before and after a retrofit.

The courtyard (200 m x 150 m at scale 1) holds six 60 m x 12 m walk-up blocks in two columns,
their unit entrances on the north faces (as in the region's walk-ups, whose south faces carry
the living rooms and balconies). Before: a wall splits it down the middle from the south fence
to 25 m short of the north fence, and two gates serve everyone, one in the west fence and one
in the north fence where the wall points: the eastern half has to go round the wall's end to
the north gate, which takes two thirds of the residents. After: the wall is removed and a gate
is added in the east fence, and each gate takes about a third.

The geometry is chosen so that the gates govern, as the hydraulic estimate assumes: every
passage on the way (the 25 m past the wall's end, the 20 m between the wall and the blocks,
the 23 m strip north of the blocks, 33 m between blocks) is three times a gate's width or more,
streams meet only in a gate's own queue, and each gate has more people than it passes while
the last of them arrive (pre-movement 30 +- 10 s: residents already at their doors when the
alarm sounds). benchmarks/evacuation.py runs it in this engine, in JuPedSim and as the SFPE
hydraulic estimate, and prints each gate's flow against its capacity; tests run a smaller copy
(scale < 1).
"""
from __future__ import annotations

import numpy as np
from shapely.geometry import box

from .model import Agent, Exit, Premovement, Scenario

GATES = {"west": (0.0, 76.0), "north": (100.0, 150.0), "east": (200.0, 76.0)}
"""Gate centres at scale 1 (m): west and north before the retrofit, east added by it."""


def courtyard(*, after: bool, residents: int = 3000, scale: float = 1.0, gate_m: float = 6.0,
              premovement: Premovement = Premovement(mean_s=30.0, sd_s=10.0), seed: int = 0) -> Scenario:
    """The courtyard before (after=False) or after the retrofit; same residents, same pre-movement, in both."""
    s = scale
    walkable = box(0, 0, 200 * s, 150 * s)
    blocks = [box(x0 * s, y0 * s, (x0 + 60) * s, (y0 + 12) * s) for x0 in (20, 120) for y0 in (25, 70, 115)]
    obstacles = list(blocks)
    if not after:
        obstacles.append(box(99.85 * s, 0, 100.15 * s, 125 * s))   # the dividing wall, open at its north end
    half = gate_m / 2
    exits = []
    for name in ("west", "north", "east") if after else ("west", "north"):
        cx, cy = GATES[name][0] * s, GATES[name][1] * s
        along_y = name != "north"   # gates in the west and east fences run north-south
        coords = ((cx, cy - half), (cx, cy + half)) if along_y else ((cx - half, cy), (cx + half, cy))
        exits.append(Exit(id=name, coords=coords, width_m=gate_m))
    # residents in front of the four unit entrances on each block's north face, on a 0.7 m lattice
    rng = np.random.default_rng(seed)
    doors = [(b.bounds[0] + (7.5 + 15 * k) * s, b.bounds[3]) for b in blocks for k in range(4)]
    per_door = [residents // len(doors) + (1 if d < residents % len(doors) else 0) for d in range(len(doors))]
    agents = []
    cols = max(9, int(14 * s / 0.7))   # the lattice fills the 15 m between doors (and grows with scale)
    for (dx, dy), count in zip(doors, per_door):
        for m in range(count):
            px = dx + 0.7 * (m % cols - (cols - 1) / 2)
            py = dy + 0.6 + 0.7 * (m // cols)
            agents.append(Agent(x=float(px), y=float(py), premovement_s=premovement.draw(rng)))
    return Scenario(walkable=walkable, obstacles=tuple(obstacles), exits=tuple(exits), agents=tuple(agents),
                    name=f"courtyard-{'after' if after else 'before'}")
