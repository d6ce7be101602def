"""The channel-design MIP: index data, constraint families, array model and Pyomo model."""

from .build import build_array_model, build_model
from .data import ModelData, build_data
from .linear import ArrayModel, to_highs, to_pyomo

__all__ = ["ArrayModel", "ModelData", "build_array_model", "build_data",
           "build_model", "to_highs", "to_pyomo"]
