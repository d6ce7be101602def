"""The compact exact form of mnl demand for cells with many eligible channels.

A cell whose offer options (channel set x levels) exceed
:data:`~channel_opt.model.data.MNL_ENUMERATE_MAX_OPTIONS` gets one offer binary per
(channel, level) instead of one per option (``data._offers``); its demand is the logit
written with the no-purchase volume as a variable. See ``models/channel_design.md``,
"Many channels per cell".
"""

from __future__ import annotations

import numpy as np

from ..data import labels, mnl_compact_sales, sales_odds
from ..records import ALWAYS, RowFamily, Step, VarFamily, grain_test
from .core import OFFER, SALES, Build, sales_labels


def define_compact_mnl(b: Build, rule: None) -> None:
    """The compact exact mnl form of the cells with many options (``data.mnl_compact``).

    Per cell the no-purchase volume ``P0_c = D_c / (1 + Σ_{offered} e_ckl)`` is a variable
    (``no_purchase``) with ``mnl_balance``: ``P0_c + Σ e_ckl z_ckl = D_c``, where
    ``z_ckl = P0_c · w_ckl`` (``offer_volume``) is linearized exactly for the binary offer
    ``w_ckl`` by McCormick on ``L_c ≤ P0_c ≤ D_c`` (``mnl_volume_*``); sales
    ``q_ckl ≤ e_ckl z_ckl`` (``mnl_demand``). ``L_c = D_c / (1 + the sum of the cell's
    max_channels_per_cell largest odds)`` is the least ``P0_c`` any offer can give.
    """
    d = b.data
    cm = d.mnl_compact
    if not cm.any():
        return
    s, cc = d.sales, d.cc
    sale = mnl_compact_sales(d)
    odds = sales_odds(d)[sale]
    cells = np.flatnonzero(cm)
    cpos = np.full(len(d.cells), -1)
    cpos[cells] = np.arange(len(cells))
    market = d.cells["market"].to_numpy()
    row = cpos[s["cell"].to_numpy()[sale]]
    upper = market[cells]
    # best odds of each (cell, channel) over its levels, the cap largest per cell
    cci = s["cc"].to_numpy()[sale]
    best = np.zeros(len(cc))
    np.maximum.at(best, cci, odds)
    ucc = np.unique(cci)
    cell_of = cc["cell"].to_numpy()[ucc]
    order = np.lexsort((-best[ucc], cell_of))
    c_sorted = cell_of[order]
    rank = np.arange(len(order)) - np.searchsorted(c_sorted, c_sorted)
    top = rank < d.cells["cap"].to_numpy()[c_sorted]
    most = np.bincount(cpos[c_sorted[top]], weights=best[ucc][order][top],
                       minlength=len(cells))
    lower = upper / (1.0 + most)
    p0blk = b.add_vars(
        NO_PURCHASE, labels(d, product=d.cells["p"].to_numpy()[cells],
                              region=d.cells["r"].to_numpy()[cells],
                              segment=d.cells["s"].to_numpy()[cells]),
        lower=lower, upper=upper, description="units of the cell's market that buy nothing")
    n = len(sale)
    b.add_vars(
        OFFER_VOLUME, sales_labels(d, sale), upper=upper[row],
        description="the no-purchase volume where the channel is offered at the level, else 0")
    # the offer column of each compact sales column (compact options have one member)
    mem = d.members
    off_of_sale = np.full(len(s), -1)
    off_of_sale[mem["sale"].to_numpy()] = mem["offer"].to_numpy()  # last wins: compact = 1
    w = b.col(OFFER, off_of_sale[sale])
    z = b.col(OFFER_VOLUME, np.arange(n))
    p0 = b.col(NO_PURCHASE, row)
    r = np.arange(n)
    lab = sales_labels(d, sale)
    U, L = upper[row], lower[row]
    b.add_cons(MNL_BALANCE, p0blk.labels,
                [(np.arange(len(cells)), b.col(NO_PURCHASE, np.arange(len(cells))), 1.0),
                 (row, z, odds)], lower=upper, upper=upper,
                description="no-purchase volume plus the offered channels' odds x volume = "
                "the market")
    b.add_cons(MNL_VOLUME_OFF, lab, [(r, z, 1.0), (r, w, -U)], upper=0.0,
                description="no volume where the channel is not offered at the level")
    b.add_cons(MNL_VOLUME_FLOOR, lab, [(r, z, 1.0), (r, w, -L)], lower=0.0,
                description="volume at least the least no-purchase volume where offered")
    b.add_cons(MNL_VOLUME_UPPER, lab, [(r, z, 1.0), (r, p0, -1.0), (r, w, -L)], upper=-L,
                description="volume at most the no-purchase volume")
    b.add_cons(MNL_VOLUME_LOWER, lab, [(r, z, 1.0), (r, p0, -1.0), (r, w, -U)], lower=-U,
                description="volume at least the no-purchase volume where offered")
    b.add_cons(MNL_DEMAND, lab, [(r, b.col(SALES, sale), 1.0), (r, z, -odds)], upper=0.0,
                description="sales within the channel's odds x the no-purchase volume")


# ---------------------------------------------------------------- records

_T = grain_test("test_compact_mnl_hand")
NO_PURCHASE = VarFamily("no_purchase", ALWAYS, define_compact_mnl, "operations", "cell",
                        "c, compact mnl cells", "`L_c ≤ P0_c ≤ D_c`",
                        "units of the cell's market that buy nothing (compact mnl form)", None, _T)
OFFER_VOLUME = VarFamily("offer_volume", ALWAYS, define_compact_mnl, "operations", "cell",
                         "(c,k,l)", "`0 ≤ z ≤ D_c`", "`P0_c · w_ckl`: the no-purchase volume "
                         "where `(k,l)` is offered, else 0 (compact mnl form)", None, _T)

VARIABLES: tuple[VarFamily, ...] = (NO_PURCHASE, OFFER_VOLUME)

MNL_BALANCE = RowFamily("mnl_balance", ALWAYS, define_compact_mnl, "structure", "cell", "[c]",
                        "`P0_c + Σ_{k,l} e_ckl z_ckl = D_c` (compact mnl cells)", "mnl balance",
                        test=_T)
MNL_VOLUME_OFF = RowFamily("mnl_volume_off", ALWAYS, define_compact_mnl, "structure", "cell",
                           "[c,k,l]", "`z_ckl ≤ D_c w_ckl`", "mnl volume off", test=_T)
MNL_VOLUME_FLOOR = RowFamily("mnl_volume_floor", ALWAYS, define_compact_mnl, "structure", "cell",
                             "[c,k,l]", "`z_ckl ≥ L_c w_ckl`", "mnl volume floor", test=_T)
MNL_VOLUME_UPPER = RowFamily("mnl_volume_upper", ALWAYS, define_compact_mnl, "structure", "cell",
                             "[c,k,l]", "`z_ckl ≤ P0_c − L_c (1 − w_ckl)`", "mnl volume upper",
                             test=_T)
MNL_VOLUME_LOWER = RowFamily("mnl_volume_lower", ALWAYS, define_compact_mnl, "structure", "cell",
                             "[c,k,l]", "`z_ckl ≥ P0_c − D_c (1 − w_ckl)`", "mnl volume lower",
                             test=_T)
MNL_DEMAND = RowFamily("mnl_demand", ALWAYS, define_compact_mnl, "structure", "cell", "[c,k,l]",
                       "`sales_ckl ≤ e_ckl z_ckl` (`e_ckl = m_pkl a_ck / (1 − a_ck)`)",
                       "mnl demand", test=_T)

ROWS: tuple[RowFamily, ...] = (MNL_BALANCE, MNL_VOLUME_OFF, MNL_VOLUME_FLOOR, MNL_VOLUME_UPPER,
                               MNL_VOLUME_LOWER, MNL_DEMAND)

BUILD_STEPS: tuple[Step, ...] = ((55, define_compact_mnl),)
"""(build step, builder) of this theme's builders."""
