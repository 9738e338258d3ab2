"""Stormwater engine: SWMM-grade runoff and routing of a community's drainage system.

model.py (data classes, `simulate`), kernels.py (numba runoff and routing), io.py (SWMM 5
.inp read/write), metrics.py (volumes, peaks, flooding, continuity; SWMM reference run).
"""
