"""Assemble the channel-design model from the family registry."""

from __future__ import annotations

from typing import Any

from ..scenario import Scenario
from .data import ModelData, build_data
from .families.core import Build
from .linear import ArrayModel, to_pyomo
from .registry import BUILDERS, STOCHASTIC_SWITCHES


def build_array_model(scenario: Scenario, data: ModelData | None = None, *,
                      two_stage: bool = False) -> tuple[ArrayModel, ModelData]:
    """The model as arrays (the single definition every backend is fed from).

    Every builder of :data:`~channel_opt.model.registry.BUILDERS` whose rule switch is
    on (or that is always built) runs in order and receives its own rule configuration.
    A switch of ``settings.stochastic`` (the shortfall cost) is on only in the model of a
    demand scenario of the two-stage model (``two_stage``).
    """
    data = data or build_data(scenario)
    b = Build(data, ArrayModel(name=scenario.name))
    rules = scenario.settings.rules
    for switch, builder in BUILDERS:
        if switch in STOCHASTIC_SWITCHES:
            rule = getattr(scenario.settings.stochastic, switch) if two_stage else None
        else:
            rule = None if switch is None else getattr(rules, switch)
        if switch is None or rule is not None:
            builder(b, rule)
    return b.am, data


def build_model(scenario: Scenario) -> Any:
    """A Pyomo ``ConcreteModel`` of the scenario, components named as in
    ``models/channel_design.md``.
    """
    am, _ = build_array_model(scenario)
    return to_pyomo(am)
