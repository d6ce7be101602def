"""Scenario schema, loaders and validation."""

from .errors import Problem, ScenarioError
from .io import load_scenario, save_scenario
from .scenario import Scenario, active_rules
from .settings import ChannelRule, Rules, Settings

__all__ = ["ChannelRule", "Problem", "Rules", "Scenario", "ScenarioError", "Settings",
           "active_rules", "load_scenario", "save_scenario"]
