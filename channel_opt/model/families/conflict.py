"""Channel-conflict families: the online/offline overlap of a (product, region) with its
cost and budget, and the commission shared with the region's stores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...scenario.settings import Commission, Overlap
from ..data import ModelData, best_option_per_cell, kinds_of, labels, offer_touches_kind
from ..records import RowFamily, Step, VarFamily, hand_test
from .core import OFFER, OFFLINE, ONLINE, SALES, Build, group_index


def define_overlap(b: Build, rule: Overlap) -> None:
    """``overlap[p,r]``: product sold in region through online and offline kinds.

    ``overlap_online[c]`` / ``overlap_offline[c]`` lift ``online_sold[p,r]`` /
    ``offline_sold[p,r]`` above the cell's offered set; ``overlap_pair[p,r]`` sets
    ``overlap >= online_sold + offline_sold - 1``; ``overlap_budget`` caps the count;
    the conflict cost is charged in the objective.
    """
    d = b.data
    of = d.offers
    t_on, t_off = offer_touches_kind(d, ONLINE), offer_touches_kind(d, OFFLINE)
    cell_on = np.zeros(len(d.cells), bool)
    cell_on[of["cell"].to_numpy()[t_on]] = True
    cell_off = np.zeros(len(d.cells), bool)
    cell_off[of["cell"].to_numpy()[t_off]] = True
    c = d.cells
    pr_on = set(zip(c["p"].to_numpy()[cell_on], c["r"].to_numpy()[cell_on], strict=True))
    pr_off = set(zip(c["p"].to_numpy()[cell_off], c["r"].to_numpy()[cell_off], strict=True))
    both = sorted(pr_on & pr_off)
    if not both:
        return
    pr = pd.DataFrame(both, columns=["p", "r"])
    lab = labels(d, product=pr["p"], region=pr["r"])
    for sold, kind in ((ONLINE_SOLD, ONLINE), (OFFLINE_SOLD, OFFLINE)):
        b.add_vars(sold, lab, upper=1.0, description=f"1 if the product is offered through "
                   f"an {kind}-kind channel in the region")
    b.add_vars(OVERLAP, lab, upper=1.0, cost=-rule.cost,
               description="1 if the product is sold both online and offline in the region")
    pr_idx = pd.MultiIndex.from_frame(pr)
    # one row per cell with sets (its options exclude each other); per (cell, channel)
    # in a compact cell, whose channels are offered independently
    compact = c["compact"].to_numpy(bool)
    mem = d.members
    cc_of = np.full(len(of), -1)
    cc_of[mem["offer"].to_numpy()] = mem["cc"].to_numpy()  # compact options: one member
    for rec, touch, var in ((OVERLAP_ONLINE, t_on, ONLINE_SOLD),
                            (OVERLAP_OFFLINE, t_off, OFFLINE_SOLD)):
        oi = np.flatnonzero(touch)
        cell = of["cell"].to_numpy()[oi]
        pos = pr_idx.get_indexer(pd.MultiIndex.from_arrays([c["p"].to_numpy()[cell],
                                                            c["r"].to_numpy()[cell]]))
        keep = pos >= 0
        oi, cell, pos = oi[keep], cell[keep], pos[keep]
        rows, first = group_index(np.where(compact[cell], len(c) + cc_of[oi], cell))
        cw = cell[first]
        lab_c = labels(d, product=c["p"].to_numpy()[cw], region=c["r"].to_numpy()[cw],
                       segment=c["s"].to_numpy()[cw])
        if compact[cw].any():
            ids = d.channels["id"].to_numpy().astype(object)
            lab_c["channel"] = pd.Categorical(np.where(
                compact[cw], ids[d.cc["k"].to_numpy()[cc_of[oi[first]]]], "(set)"))
        b.add_cons(rec, lab_c,
                   [(rows, b.col(OFFER, oi), 1.0),
                    (np.arange(len(cw)), b.col(var, pos[first]), -1.0)], upper=0.0,
                   description=f"{var.name} covers every cell offered such a channel")
    n = len(pr)
    r = np.arange(n)
    b.add_cons(OVERLAP_PAIR, lab,
               [(r, b.col(ONLINE_SOLD, r), 1.0), (r, b.col(OFFLINE_SOLD, r), 1.0),
                (r, b.col(OVERLAP, r), -1.0)], upper=1.0,
               description="overlap >= online_sold + offline_sold - 1")
    if rule.max_pairs is not None:
        b.add_cons(OVERLAP_BUDGET, pd.DataFrame({"scope": ["all"]}),
                   [(np.zeros(n, np.int64), b.col(OVERLAP, r), 1.0)],
                   upper=float(rule.max_pairs),
                   description="most (product, region) pairs sold online and offline")


def _online_revenue_terms(b: Build) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sales columns of online-kind channels: (index, region, revenue per unit)."""
    d = b.data
    s = d.sales
    idx = np.flatnonzero(kinds_of(d, s["k"].to_numpy()) == ONLINE)
    return idx, s["r"].to_numpy()[idx], s["price"].to_numpy()[idx]


def reachable_online_revenue(d: ModelData, regs: np.ndarray) -> np.ndarray:
    """``R̄_r / θ``: the most online-kind revenue each region in ``regs`` can reach.

    Per cell, the largest online revenue of one offer option (at most one is offered,
    and sales stay within its demand), summed per (product, region); where the product
    has a finite inventory, at most its largest online price times the inventory.
    """
    s, mem = d.sales, d.members
    sale = mem["sale"].to_numpy()
    online = kinds_of(d, s["k"].to_numpy()[sale]) == ONLINE
    rev = np.where(online, s["price"].to_numpy()[sale] * mem["demand"].to_numpy(), 0.0)
    cell_rev = best_option_per_cell(d, rev)
    c = d.cells
    n_p, n_r = len(d.products), len(d.regions)
    pr_rev = np.bincount(c["p"].to_numpy() * n_r + c["r"].to_numpy(), weights=cell_rev,
                         minlength=n_p * n_r).reshape(n_p, n_r)
    if d.scenario.settings.rules.inventory is not None:
        inv = d.products["inventory"].to_numpy(float)
        top = np.zeros(n_p)
        on_s = kinds_of(d, s["k"].to_numpy()) == ONLINE
        np.maximum.at(top, s["p"].to_numpy()[on_s], s["price"].to_numpy()[on_s])
        fin = np.isfinite(inv)
        cap = np.full(n_p, np.inf)
        cap[fin] = top[fin] * inv[fin]  # no 0·inf where a product has no online option
        pr_rev = np.minimum(pr_rev, cap[:, None])
    return pr_rev.sum(0)[regs]


def define_commission(b: Build, rule: Commission) -> None:
    """Commission sharing: ``commission[r]`` = share x online revenue of the region.

    Always paid (``commission_def``), or per region by decision ``commission_policy[r]``
    with the exact linearization ``commission_lower`` / ``commission_upper_revenue`` /
    ``commission_upper_policy`` bounded by the region's largest reachable online revenue
    ``R̄_r`` (:func:`reachable_online_revenue`; no arbitrary big-M: the smaller ``R̄``,
    the tighter the relaxation).
    """
    d = b.data
    idx, reg, price = _online_revenue_terms(b)
    regs = np.unique(reg)
    if not len(regs):
        return
    theta = rule.share
    lab = labels(d, region=regs)
    b.add_vars(COMMISSION, lab, cost=-1.0,
               description="commission paid to the region's stores")
    b.idx["commission_regions"] = regs
    rows = np.searchsorted(regs, reg)
    n = len(regs)
    r = np.arange(n)
    rev = (rows, b.col(SALES, idx), -theta * price)
    com = (r, b.col(COMMISSION, r), 1.0)
    if not rule.decision:
        b.add_cons(COMMISSION_DEF, lab, [com, rev], lower=0.0, upper=0.0,
                   description="commission = share x online revenue of the region")
        return
    rbar = theta * reachable_online_revenue(d, regs)
    b.add_vars(COMMISSION_POLICY, lab, binary=True, cost=-rule.policy_cost,
               description="1 if the region's stores get the commission share")
    pol = b.col(COMMISSION_POLICY, r)
    b.add_cons(COMMISSION_LOWER, lab, [com, rev, (r, pol, -rbar)], lower=-rbar,
               description="commission >= share x revenue when the policy is on")
    b.add_cons(COMMISSION_UPPER_REVENUE, lab, [com, rev], upper=0.0,
               description="commission <= share x revenue")
    b.add_cons(COMMISSION_UPPER_POLICY, lab, [com, (r, pol, -rbar)], upper=0.0,
               description="no commission without the policy")


# ---------------------------------------------------------------- records

ONLINE_SOLD = VarFamily("online_sold", "overlap", define_overlap, "design", "product_region",
                        "(p,r)", "[0,1]",
                        "the product is offered through an online-kind channel in the region", None,
                        hand_test("test_overlap_cost"))
OFFLINE_SOLD = VarFamily("offline_sold", "overlap", define_overlap, "design", "product_region",
                         "(p,r)", "[0,1]",
                         "the product is offered through an offline-kind channel in the region",
                         None, hand_test("test_overlap_cost"))
OVERLAP = VarFamily("overlap", "overlap", define_overlap, "design", "product_region", "(p,r)",
                    "[0,1]", "the product is sold both online and offline in the region; cost "
                    "`overlap.cost`", "overlap cost", hand_test("test_overlap_cost"))
COMMISSION = VarFamily("commission", "commission", define_commission, "operations", "region", "r",
                       "≥ 0", "commission paid to the region's stores", "commission to stores",
                       hand_test("test_commission_always"))
COMMISSION_POLICY = VarFamily("commission_policy", "commission", define_commission, "design",
                              "region", "r", "binary",
                              "commission sharing switched on in the region; cost `policy_cost`",
                              "commission policy", hand_test("test_commission_decision"))

VARIABLES: tuple[VarFamily, ...] = (
    ONLINE_SOLD, OFFLINE_SOLD, OVERLAP, COMMISSION, COMMISSION_POLICY,
)

OVERLAP_ONLINE = RowFamily("overlap_online", "overlap", define_overlap, "structure",
                           "product_region", "[c]", "`Σ_{o: M∩K^on≠∅} offer_co ≤ online_sold_pr` "
                           "(compact cells: `w_ck ≤ online_sold_pr` per channel `k ∈ K^on`)",
                           "overlap online", test=hand_test("test_overlap_cost"))
OVERLAP_OFFLINE = RowFamily("overlap_offline", "overlap", define_overlap, "structure",
                            "product_region", "[c]",
                            "`Σ_{o: M∩K^off≠∅} offer_co ≤ offline_sold_pr` (compact cells: "
                            "`w_ck ≤ offline_sold_pr` per channel `k ∈ K^off`)", "overlap offline",
                            test=hand_test("test_overlap_cost"))
OVERLAP_PAIR = RowFamily("overlap_pair", "overlap", define_overlap, "structure", "product_region",
                         "[p,r]", "`online_sold + offline_sold − overlap ≤ 1`", "overlap pair",
                         test=hand_test("test_overlap_cost"))
COMMISSION_DEF = RowFamily("commission_def", "commission", define_commission, "structure", "region",
                           "[r]",
                           "`commission_r = θ Σ_{kind(k)=online, c∈r} P q` (`decision: false`)",
                           "commission def", test=hand_test("test_commission_always"))
COMMISSION_LOWER = RowFamily("commission_lower", "commission", define_commission, "structure",
                             "region", "[r]",
                             "`com ≥ θRev − R̄(1 − pol)` (`decision: true`; `R̄_r = θ Σ_p "
                             "min(Σ_{c∈(p,r)} max_o Σ_{k∈M online} P d_ck(o), P^max_p I_p)`: "
                             "the reachable online revenue)",
                             "commission lower", test=hand_test("test_commission_decision"))
COMMISSION_UPPER_REVENUE = RowFamily("commission_upper_revenue", "commission", define_commission,
                                     "structure", "region", "[r]",
                                     "`com ≤ θRev` (`decision: true`)", "commission upper revenue",
                                     test=hand_test("test_commission_decision"))
COMMISSION_UPPER_POLICY = RowFamily("commission_upper_policy", "commission", define_commission,
                                    "structure", "region", "[r]",
                                    "`com ≤ R̄ pol` (`decision: true`)", "commission upper policy",
                                    test=hand_test("test_commission_decision"))
OVERLAP_BUDGET = RowFamily("overlap_budget", "overlap", define_overlap, "budget", "global", "[all]",
                           "`Σ overlap ≤ max_pairs`", "overlap budget", "over by", "pairs",
                           test=hand_test("test_overlap_budget"))

ROWS: tuple[RowFamily, ...] = (
    OVERLAP_ONLINE, OVERLAP_OFFLINE, OVERLAP_PAIR, COMMISSION_DEF, COMMISSION_LOWER,
    COMMISSION_UPPER_REVENUE, COMMISSION_UPPER_POLICY, OVERLAP_BUDGET,
)

BUILD_STEPS: tuple[Step, ...] = (
    (90, define_overlap),
    (100, define_commission),
)
"""(build step, builder) of this theme's builders."""
