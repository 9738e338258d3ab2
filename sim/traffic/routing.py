"""Fastest routes on the street network: Dijkstra over edges, an edge's cost its free-flow time
(length / speed limit) plus the time through the junction movement into it (plus SUMO's minor-link
penalty where the movement gives way); closed edges are
not part of the graph, so closing a street reroutes every trip that used it."""
from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from .network import CompiledNetwork

MINOR_PENALTY_S = 1.5
"""SUMO's --weights.minor-penalty default: routing adds this time for a movement that gives way
(at a signal, one green-minor in some phase, a permissive turn; elsewhere one yielding to a foe)."""


def minor_links(net: CompiledNetwork) -> np.ndarray:
    """Per link: True when its movement gives way, as SUMO's minor links (MINOR_PENALTY_S)."""
    minor = np.zeros(len(net.link_to), dtype=bool)
    for k in range(len(net.link_to)):
        minor[k] = bool(np.any(net.foe_yield[net.foe_start[k]:net.foe_start[k + 1]] == 1))
    for program in net.signal_programs:
        minor[program.links] = program.minor.any(axis=0)
    return minor


class Router:
    """Fastest routes between edges, one Dijkstra per origin edge (cached)."""

    def __init__(self, net: CompiledNetwork) -> None:
        self.net = net
        E = len(net.edge_ids)
        # arc from edge a to edge b: time on b plus time through the movement a -> b
        link_time = net.link_length / net.link_speed + np.where(minor_links(net), MINOR_PENALTY_S, 0.0)
        cost = net.edge_length[net.link_to] / net.edge_speed[net.link_to] + link_time
        keep = ~net.edge_closed[net.link_from] & ~net.edge_closed[net.link_to]
        self.graph = csr_matrix((np.maximum(cost[keep], 1e-6), (net.link_from[keep], net.link_to[keep])), shape=(E, E))
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._keep = keep
        self._link_time = link_time[keep]
        # the same graph for routes on current times: its data set per call (order: CSR position -> kept link)
        frm, to = net.link_from[keep], net.link_to[keep]
        index = csr_matrix((np.arange(1, len(frm) + 1, dtype=np.float64), (frm, to)), shape=(E, E))
        self._now_graph = index.copy()
        self._now_order = index.data.astype(np.int64) - 1
        self._now_to = to[self._now_order]
        self._now_link_time = self._link_time[self._now_order]

    def route_on(self, origin: int, target: int, edge_time: np.ndarray) -> np.ndarray | None:
        """Fastest route from origin to target (edge indices, both included; None when unreachable)
        with edge_time[e] the time (s) on edge e now, in place of its free-flow time (not cached)."""
        if origin == target:
            return np.array([origin], dtype=np.int32)
        graph = self._now_graph
        graph.data = np.maximum(edge_time[self._now_to] + self._now_link_time, 1e-6)
        return _path(*dijkstra(graph, directed=True, indices=origin, return_predecessors=True), origin, target)

    def _tree(self, origin: int):
        if origin not in self._cache:
            dist, pred = dijkstra(self.graph, directed=True, indices=origin, return_predecessors=True)
            self._cache[origin] = (dist, pred)
        return self._cache[origin]

    def time_between(self, origin: int, target: int) -> float | None:
        """Free-flow time (s) from the end of `origin` to the end of `target`; None if unreachable."""
        dist, _ = self._tree(origin)
        return None if not np.isfinite(dist[target]) else float(dist[target])

    def route(self, origin: int, target: int, *, allow_same: bool = False) -> np.ndarray | None:
        """Edge indices from origin to target (both included), or None when unreachable.
        With allow_same, origin == target means a loop back to the same edge (circling a block)."""
        if origin == target and not allow_same:
            return np.array([origin], dtype=np.int32)
        if origin == target:
            best = None
            for k in range(self.net.edge_link_start[origin], self.net.edge_link_start[origin + 1]):
                nxt = int(self.net.link_to[k])
                sub = self.route(nxt, target)
                if sub is not None and (best is None or len(sub) < len(best)):
                    best = sub
            return None if best is None else np.concatenate([[origin], best]).astype(np.int32)
        return _path(*self._tree(origin), origin, target)


def _path(dist: np.ndarray, pred: np.ndarray, origin: int, target: int) -> np.ndarray | None:
    """The edges from origin to target along a Dijkstra tree (dist, pred); None when unreachable."""
    if not np.isfinite(dist[target]):
        return None
    path = [target]
    while path[-1] != origin:
        path.append(int(pred[path[-1]]))
    return np.array(path[::-1], dtype=np.int32)
