"""Dual values of the capacity and floor rows from the LP with the design fixed.

With every integer decision fixed at the plan's value, the remaining model is a
linear program in the sales; its row duals are the marginal profit of one more
unit of each capacity or floor ("value of one more store-labour hour in region r")
*as long as the channel design stays as it is*. They are fixed-design values, and
every row says so (``basis``): a floor with slack in the fixed design reads 0 even
where raising it would force a costly change of design, and a capacity's value can
jump once the design may adapt. True marginal values need re-solving.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..model.linear import ArrayModel, Restricted
from ..model.registry import LIMITED, ROW
from .engines import OPTIMAL, engine_with

BASIS = "fixed design"  # the value of every row's ``basis``: the design is held fixed


def fixed_design(am: ArrayModel, x: np.ndarray) -> Restricted:
    """The LP left when every integer decision is fixed at the plan ``x``: only the
    continuous columns and the rows that hold one (:meth:`ArrayModel.restricted`),
    the model's own structure (e.g. sales within the demand of the set offered)
    as column bounds where a row keeps one column.
    """
    return am.restricted(x, continuous=True, bounds_from=as_bounds(am))


def as_bounds(am: ArrayModel) -> frozenset[str]:
    """The row blocks whose prices no result reads (registry roles ``structure`` and
    ``cut``): a row of theirs left with one column may become its bound.
    """
    return frozenset(n for n in am.cons if n in ROW and ROW[n].role in ("structure", "cut"))


def fixed_design_plan(am: ArrayModel, x: np.ndarray, blocks: list[str] | None = None,
                      time_limit: float | None = None, mip_gap: float | None = None
                      ) -> np.ndarray | None:
    """The best plan with the columns of ``blocks`` (default: every integer block) held
    at ``x``: the restricted model solved (an LP when only integer blocks are fixed),
    lifted back to every column; None when it has no plan within ``time_limit``.
    """
    fd = am.restricted(x, blocks, continuous=blocks is None, bounds_from=as_bounds(am))
    if len(fd.broken):
        return None
    if fd.model.n_cols == 0:
        return fd.base
    out = engine_with("in_memory").session(fd.model).solve(time_limit=time_limit,
                                                          mip_gap=mip_gap)
    return None if out.x is None else fd.lift(out.x)


def sensitivity(am: ArrayModel, x: np.ndarray,
                time_limit: float | None = None) -> pd.DataFrame:
    """Marginal profit per unit of right-hand side of every capacity and floor row.

    ``marginal_profit`` is d(profit)/d(limit) with the design (channels offered,
    listings, openings, levels) held at the plan's: for a capacity, what one more
    unit of capacity is worth (>= 0); for a floor, what raising the floor by one
    costs (<= 0). ``basis`` is ``"fixed design"`` on every row: these are not the
    marginal values of the design problem (see the module note). An LP not solved
    within ``time_limit`` seconds gives an empty table.
    """
    fd = fixed_design(am, x)
    cols = ["family", "where", "limit", "used", "marginal_profit", "basis"]
    if len(fd.broken):  # the design alone breaks a row: no LP to price
        return pd.DataFrame(columns=cols)
    res = engine_with("duals").session(fd.model).solve(time_limit=time_limit)
    if res.termination != OPTIMAL or res.row_dual is None or res.x is None:
        return pd.DataFrame(columns=cols)
    from .results import use_and_limit

    dual, xs = fd.lift_rows(res.row_dual), fd.lift(res.x)
    parts = []
    for fam in LIMITED:
        c = am.cons.get(fam.name)
        if c is None:
            continue
        sl = slice(c.start, c.start + c.n)
        used, limit = use_and_limit(am, c.name, xs, fam.limit_side == "upper")
        where = c.labels.astype(str).apply(lambda r: ",".join(r), axis=1)
        parts.append(pd.DataFrame({"family": fam.name, "where": where.to_numpy(), "limit": limit,
                                   "used": used, "marginal_profit": dual[sl]}))
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    out["marginal_profit"] = np.where(np.abs(out["marginal_profit"]) < 1e-9, 0.0,
                                      out["marginal_profit"])
    out["basis"] = BASIS
    return out
