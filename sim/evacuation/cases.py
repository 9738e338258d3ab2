"""Reference scenarios for agreement checks: a courtyard of walk-ups before and after a retrofit.

The courtyard (200 m x 150 m at scale 1) holds six 60 m x 12 m blocks in two columns. Before:
a wall splits it down the middle, open only at its north end, and two 6 m gates (west and
south, both in the western half) serve everyone. After: the wall is removed and a 6 m gate is
added in the east wall. Residents stand in front of their blocks' four doors and leave after a
lognormal pre-movement time. benchmarks/evacuation.py runs it in this engine, in JuPedSim and
as the SFPE hydraulic estimate; tests run a smaller copy (scale < 1).
"""
from __future__ import annotations

import numpy as np
from shapely.geometry import box

from .model import Agent, Exit, Premovement, Scenario


def courtyard(*, after: bool, residents: int = 2000, scale: float = 1.0, gate_m: float = 6.0,
              premovement: Premovement = Premovement(mean_s=60.0, sd_s=30.0), seed: int = 0) -> Scenario:
    """The courtyard before (after=False) or after the retrofit; same residents, same pre-movement, in both."""
    s = scale
    walkable = box(0, 0, 200 * s, 150 * s)
    blocks = [box(x0 * s, y0 * s, (x0 + 60) * s, (y0 + 12) * s) for x0 in (20, 120) for y0 in (25, 70, 115)]
    obstacles = list(blocks)
    if not after:
        obstacles.append(box(99.85 * s, 0, 100.15 * s, 135 * s))   # the dividing wall, open at its north end
    half = gate_m / 2
    exits = [Exit(id="west", coords=((0, 76 * s - half), (0, 76 * s + half)), width_m=gate_m),
             Exit(id="south", coords=((43 * s - half, 0), (43 * s + half, 0)), width_m=gate_m)]
    if after:
        exits.append(Exit(id="east", coords=((200 * s, 76 * s - half), (200 * s, 76 * s + half)), width_m=gate_m))
    # residents in front of the four doors on each block's south face, on a 0.7 m lattice
    rng = np.random.default_rng(seed)
    doors = [(b.bounds[0] + (7.5 + 15 * k) * s, b.bounds[1]) for b in blocks for k in range(4)]
    per_door = [residents // len(doors) + (1 if d < residents % len(doors) else 0) for d in range(len(doors))]
    agents = []
    cols = max(9, int(14 * s / 0.7))   # the lattice fills the 15 m between doors (and grows with scale)
    for (dx, dy), count in zip(doors, per_door):
        for m in range(count):
            px = dx + 0.7 * (m % cols - (cols - 1) / 2)
            py = dy - 0.6 - 0.7 * (m // cols)
            agents.append(Agent(x=float(px), y=float(py), premovement_s=premovement.draw(rng)))
    return Scenario(walkable=walkable, obstacles=tuple(obstacles), exits=tuple(exits), agents=tuple(agents),
                    name=f"courtyard-{'after' if after else 'before'}")
