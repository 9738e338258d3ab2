"""sim.evacuation: residents leave a courtyard through its exits (collision-free speed model, issue 5).

model.simulate(scenario, settings, *, seed, progress) -> sim.result.Result; io reads the GeoJSON
scenario and writes trajectories; metrics holds what experts read; kernels the numba step.
"""
from .model import (GROUPS, Agent, AgentGroup, CSMParams, Exit, Scenario, ScenarioError, Settings,
                    simulate)

__all__ = ["GROUPS", "Agent", "AgentGroup", "CSMParams", "Exit", "Scenario", "ScenarioError", "Settings",
           "simulate"]
