"""Why a scenario is infeasible, in the planner's words.

The elastic version of the model gives every row of the rule families (floors,
capacities, budgets, forced channels) a penalized slack and every forced decision
a penalized release; the least total slack tells which rules cannot hold together,
where, and by how much.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..model.linear import ArrayModel
from .backends import new_highs

# Families that are structure (choice of sets, linking): never relaxed.
STRUCTURE = {"offer_one_set", "offer_needs_listing", "offer_needs_open", "demand",
             "listing_needs_brand", "brand_launch", "price_one_level", "price_level_sales",
             "brand_kind_link", "overlap_online", "overlap_offline", "overlap_pair",
             "commission_def", "commission_lower", "commission_upper_revenue",
             "commission_upper_policy", "offer_needs_stock", "cell_market"}

PLANNER_WORDS = {
    "partner_floor": ("partner profit floor", "short by", "currency"),
    "dealer_min_volume": ("dealer minimum volume", "short by", "units"),
    "service_level": ("regional service level", "short by", "units"),
    "cell_service_level": ("cell service level", "short by", "units"),
    "store_labour": ("store labour hours", "over by", "h"),
    "dealer_capacity": ("dealer capacity", "over by", "units"),
    "dc_capacity": ("distribution-centre capacity", "over by", "units"),
    "inventory": ("inventory", "over by", "units"),
    "shelf_space": ("shelf space", "over by", "shelf units"),
    "overlap_budget": ("overlap budget", "over by", "pairs"),
    "price_parity": ("price parity band", "violated", ""),
    "brand_one_kind": ("one channel kind per brand", "violated", ""),
    "force_segment": ("forced channel for a segment", "not offered", ""),
}


@dataclass
class Conflict:
    """One rule that cannot hold, where, and by how much."""

    family: str
    where: dict[str, Any]
    amount: float
    text: str


@dataclass
class Diagnosis:
    """The families and places that conflict."""

    conflicts: list[Conflict] = field(default_factory=list)
    families: list[str] = field(default_factory=list)
    message: str = ""

    def as_table(self) -> pd.DataFrame:
        """One row per conflict."""
        return pd.DataFrame([{"family": c.family, "where": _where(c.where),
                              "amount": c.amount, "explanation": c.text}
                             for c in self.conflicts],
                            columns=["family", "where", "amount", "explanation"])


def _where(lab: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in lab.items() if k != "scope") or "overall"


def elastic_model(am: ArrayModel) -> tuple[ArrayModel, list[tuple[str, str]]]:
    """A copy of ``am`` with penalized slack on every rule row and forced bound.

    Returns the model and, per slack block, (family, slack block name).
    """
    el = ArrayModel(name=am.name + "_elastic")
    for b in am.vars.values():
        lower = b.lower.copy()
        if b.integer:
            lower = np.minimum(lower, 0.0)  # forced decisions are released (and penalized)
        el.add_vars(b.name, b.labels, lower=lower, upper=b.upper, integer=b.integer,
                    description=b.description)
    slacks: list[tuple[str, str]] = []
    extra: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    for c in am.cons.values():
        if c.name in STRUCTURE:
            continue
        extra[c.name] = []
        for side, bound, sign in (("upper", c.upper, -1.0), ("lower", c.lower, 1.0)):
            rows = np.flatnonzero(np.isfinite(bound))
            if not len(rows):
                continue
            blk = el.add_vars(f"slack_{c.name}_{side}", c.labels.iloc[rows], cost=-1.0)
            slacks.append((c.name, blk.name))
            extra[c.name].append((rows, blk.cols, np.full(len(rows), sign)))
    # forced lower bounds become rows  x + release >= 1 with a penalized release
    for b in am.vars.values():
        forced = np.flatnonzero(b.integer & (b.lower > 0))
        if not len(forced):
            continue
        rel = el.add_vars(f"release_{b.name}", b.labels.iloc[forced], upper=1.0, cost=-1.0)
        slacks.append((f"forced {b.name}", rel.name))
        n = len(forced)
        el.add_cons(f"forced_{b.name}", b.labels.iloc[forced],
                    [(np.arange(n), b.start + forced, 1.0), (np.arange(n), rel.cols, 1.0)],
                    lower=1.0)
    for c in am.cons.values():
        terms = [(c.rows, c.cols, c.vals)] + [(r, cols, v) for r, cols, v in extra.get(c.name,
                                                                                        [])]
        el.add_cons(c.name, c.labels, terms, lower=c.lower, upper=c.upper,
                    description=c.description)
    # the elastic model's column numbers match: original blocks come first, in order
    return el, slacks


def diagnose(am: ArrayModel, currency: str = "EUR") -> Diagnosis:
    """Least-slack explanation of an infeasible model (solved with HiGHS)."""
    el, slacks = elastic_model(am)
    h = new_highs(el)
    h.run()
    info = h.getInfo()
    import highspy

    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal or \
            info.primal_solution_status != 2:
        return Diagnosis(message="the elastic model could not be solved either "
                         f"({h.modelStatusToString(h.getModelStatus())}); the conflict is in "
                         "the structure of the scenario")
    x = np.asarray(h.getSolution().col_value)
    conflicts = []
    for fam, name in slacks:
        blk = el.vars[name]
        vals = x[blk.start:blk.start + blk.n]
        for i in np.flatnonzero(vals > 1e-6):
            lab = {str(k): v for k, v in blk.labels.iloc[int(i)].items()}
            conflicts.append(_conflict(fam, lab, float(vals[i]), currency))
    conflicts.sort(key=lambda c: -c.amount)
    fams = sorted({c.family for c in conflicts})
    msg = ("the scenario is infeasible: " + "; ".join(c.text for c in conflicts[:10])
           if conflicts else "no rule family needs relaxing: the infeasibility is numerical")
    return Diagnosis(conflicts, fams, msg)


def _conflict(fam: str, lab: dict[str, Any], amount: float, currency: str) -> Conflict:
    name, verb, unit = PLANNER_WORDS.get(fam, (fam.replace("_", " "), "violated by", ""))
    unit = currency if unit == "currency" else unit
    where = _where(lab)
    if fam.startswith("forced"):
        text = f"the forced decision {fam.split(' ', 1)[1]} at {where} cannot hold with the " \
            "other rules"
    else:
        text = f"{name} cannot be met at {where}: {verb} {amount:,.2f} {unit}".rstrip()
    return Conflict(fam, lab, amount, text)


