"""Stormwater engine: SWMM-grade runoff and routing over a drainage network (see model.py)."""
