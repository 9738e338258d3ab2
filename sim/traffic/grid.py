"""Generated test networks: an n x n block grid with one-way streets inside and a perimeter arterial.

The arterial (ring of the grid's outer edge, both directions, 50 km/h, priority 3) has right of
way where the inner streets (30 km/h, priority 1) meet it; inner junctions are right before
left (the default at unsigned junctions in China). Every third inner street is one-way, the
direction alternating. `grid_trips` draws random origin and destination edges and gives every
trip its fastest route, so this engine and SUMO drive exactly the same routes.
"""
from __future__ import annotations

import numpy as np

from .model import Demand, Trip, VType
from .network import Edge, Network, Node, compile_network
from .routing import Router

ARTERIAL_SPEED_MPS = 13.89
STREET_SPEED_MPS = 8.33

GRID_VTYPE = VType(id="car", length_m=5.0, min_gap_m=2.5, accel_mps2=2.6, decel_mps2=4.5, time_headway_s=1.0,
                   max_speed_mps=55.56, delta=4.0, speed_dev=0.1)
"""SUMO's passenger car as an IDM vType, written into the .rou.xml so both engines use the same parameters."""


def grid_network(blocks: int = 8, block_m: float = 100.0, *, signals: bool = False) -> Network:
    """A (blocks+1) x (blocks+1) node grid. signals=True puts fixed-time signals where inner streets meet the arterial."""
    nodes, edges = [], []
    n = blocks + 1

    def nid(i, j):
        return f"n{i}_{j}"

    for i in range(n):
        for j in range(n):
            on_ring = i in (0, blocks) or j in (0, blocks)
            corner = i in (0, blocks) and j in (0, blocks)
            kind = "priority" if on_ring else "right_before_left"
            if signals and on_ring and not corner:
                kind = "traffic_light"
            nodes.append(Node(id=nid(i, j), x=i * block_m, y=j * block_m, kind=kind))

    def add(a, b, ring, name):
        speed = ARTERIAL_SPEED_MPS if ring else STREET_SPEED_MPS
        edges.append(Edge(id=name, from_node=a, to_node=b, speed_mps=speed, lanes=1, priority=3 if ring else 1))

    for j in range(n):            # east-west streets (row j)
        ring = j in (0, blocks)
        one_way = (not ring) and j % 3 == 1
        direction = 1 if (j // 3) % 2 == 0 else -1
        for i in range(blocks):
            a, b = nid(i, j), nid(i + 1, j)
            if not one_way or direction > 0:
                add(a, b, ring, f"e{i}_{j}to{i + 1}_{j}")
            if not one_way or direction < 0:
                add(b, a, ring, f"e{i + 1}_{j}to{i}_{j}")
    for i in range(n):            # north-south streets (column i)
        ring = i in (0, blocks)
        one_way = (not ring) and i % 3 == 1
        direction = 1 if (i // 3) % 2 == 0 else -1
        for j in range(blocks):
            a, b = nid(i, j), nid(i, j + 1)
            if not one_way or direction > 0:
                add(a, b, ring, f"e{i}_{j}to{i}_{j + 1}")
            if not one_way or direction < 0:
                add(b, a, ring, f"e{i}_{j + 1}to{i}_{j}")
    return Network(nodes=nodes, edges=edges, source=f"grid {blocks}x{blocks}")


def grid_trips(network: Network, trips: int, duration_s: float = 3600.0, *, seed: int = 0, vtype: VType = GRID_VTYPE,
               min_edges: int = 3) -> Demand:
    """`trips` random trips departing uniformly over duration_s, each with its fastest route."""
    rng = np.random.default_rng(seed)
    net = compile_network(network)
    router = Router(net)
    E = len(net.edge_ids)
    out = []
    departs = np.sort(rng.uniform(0.0, duration_s, trips))
    k = 0
    while len(out) < trips:
        a, b = (int(x) for x in rng.integers(0, E, 2))
        path = router.route(a, b)
        if path is None or len(path) < min_edges:
            continue
        out.append(Trip(id=f"t{k}", depart_s=float(round(departs[len(out)], 1)), vtype=vtype.id,
                        route=tuple(net.edge_ids[e] for e in path)))
        k += 1
    return Demand(trips=out, vtypes={vtype.id: vtype}, source=f"{network.source}: {trips} random trips")
