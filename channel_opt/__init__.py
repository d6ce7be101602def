"""channel_opt: online/offline (O2O) channel design as an exact mixed-integer model.

Three steps, each a pure function::

    scen = channel_opt.load_scenario("instances/apparel/apparel.yaml")
    model = channel_opt.build_model(scen)          # a Pyomo ConcreteModel, if wanted
    sol = channel_opt.solve(scen, solver="highs")  # a checked Solution
"""

from .analysis import apply_overrides, compare, frontier, marginals, sweep
from .model import build_model
from .scenario import Scenario, ScenarioError, load_scenario, save_scenario
from .solving import Solution, available_backends, solve

__version__ = "0.1.0"

__all__ = ["Scenario", "ScenarioError", "Solution", "__version__", "apply_overrides",
           "available_backends", "build_model", "compare", "frontier", "load_scenario",
           "marginals", "save_scenario", "solve", "sweep"]
