"""An independent oracle for the profit–overlap frontier: one plain HiGHS solve per
overlap budget (the model as built for ``max_pairs: m``, no MIP start, no analysis
code), a budget being a Pareto point when its profit beats the budget below it.
"""

from __future__ import annotations

import pandas as pd

import channel_opt
from channel_opt.analysis.frontier import pareto_filter
from channel_opt.analysis.overrides import apply_overrides
from channel_opt.model import build_array_model
from channel_opt.model.linear import to_highs

GAP = 1e-9


def budget_profit(scen: channel_opt.Scenario, m: int) -> float | None:
    """The most profit with at most ``m`` overlaps: the model as built for
    ``max_pairs: m``, solved by HiGHS directly (no MIP start, no analysis code).
    """
    am, _ = build_array_model(apply_overrides(scen, {"rules.overlap.max_pairs": m}))
    h = to_highs(am)
    h.setOptionValue("mip_rel_gap", GAP)
    h.run()
    if h.getInfo().primal_solution_status != 2:
        return None
    return float(h.getInfo().objective_function_value)


def enumerated_frontier(scen: channel_opt.Scenario, upto: int) -> pd.DataFrame:
    """Pareto points from a plain solve per budget 0..upto: a budget is a point when its
    profit beats the budget below it.
    """
    rows = [{"overlap_count": m, "objective": p} for m in range(upto + 1)
            if (p := budget_profit(scen, m)) is not None]
    return pareto_filter(pd.DataFrame(rows), 1e-7)
