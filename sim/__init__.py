"""The simulation engines: sim.traffic, sim.stormwater, sim.evacuation (see DESIGN.md).

Each engine takes plain data classes (never a Twin: sim does not import twin) and returns a
Result. The engines are built by their own issues; this package holds their shared parts.
"""
