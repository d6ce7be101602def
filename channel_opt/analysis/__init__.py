"""Scenario analysis: what-if overrides, comparisons, sweeps, the profit–overlap
frontier and re-solve marginal values, all run through the batch executor
(:mod:`channel_opt.executor`).
"""

from .compare import compare
from .frontier import frontier
from .marginals import marginals
from .overrides import Override, apply_overrides, parse_grid, parse_override
from .sweep import sweep

__all__ = ["Override", "apply_overrides", "compare", "frontier", "marginals", "parse_grid",
           "parse_override", "sweep"]
