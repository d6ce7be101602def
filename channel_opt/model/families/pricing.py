"""Pricing families: the price level of a listed product, and the parity band between
prices that customers see side by side.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...scenario.settings import PriceParity
from ..data import kinds_of, labels
from ..records import ALWAYS, RowFamily, Step, VarFamily, hand_test
from .core import LIST_PRODUCT, OFFLINE, ONLINE, Build, group_index


def define_price_levels(b: Build, rule: None) -> None:
    """``price_level[p,k,l]`` where a product-channel has several levels.

    ``price_one_level[p,k]``: a listed product takes exactly one level. Offers and
    sales at a level are linked to it by ``offer_needs_level`` (in
    :func:`~channel_opt.model.families.core.define_offers_and_demand`, built after this
    family).
    """
    d = b.data
    z = d.levels["z"].to_numpy()
    # the decision choosing each level: the listing where a product has one level
    b.level_col = b.col(LIST_PRODUCT, d.levels["pk"].to_numpy())
    lv = d.levels[z >= 0].reset_index()
    if not len(lv):
        return
    b.add_vars(PRICE_LEVEL, labels(d, product=lv["p"], channel=lv["k"], level=lv["level"]),
               binary=True,
               description="1 if the product is sold at this price level in the channel")
    b.level_col = np.where(z >= 0, b.col(PRICE_LEVEL, np.maximum(z, 0)), b.level_col)
    rows, first = group_index(lv["pk"].to_numpy())
    pks = lv["pk"].to_numpy()[first]
    b.add_cons(PRICE_ONE_LEVEL, labels(d, product=d.pk["p"].to_numpy()[pks],
                                       channel=d.pk["k"].to_numpy()[pks]),
               [(rows, b.col(PRICE_LEVEL, np.arange(len(lv))), 1.0),
                (np.arange(len(pks)), b.col(LIST_PRODUCT, pks), -1.0)],
               lower=0.0, upper=0.0, description="a listed product has exactly one price level")


def parity_kind_pairs(rule: PriceParity | None) -> list[tuple[str, str]]:
    """Pairs of channel kinds whose prices the parity band binds (SPEC 5.1).

    The band binds prices a customer sees side by side: online-kind against
    offline-kind, and the o2o-kind prices (BOPIS, ship-from-store) against the kind of
    the side they are shown on, ``rules.price_parity.o2o_side`` (``online``, the web
    shop, unless the scenario says ``offline``, the store).
    """
    side = ONLINE if rule is None else rule.o2o_side
    return [(ONLINE, OFFLINE), ("o2o", side)]


def define_price_parity(b: Build, rule: PriceParity) -> None:
    """``price_parity``: no two prices of a product that the band binds further apart
    than the band.

    The band binds online-kind against offline-kind channels and o2o-kind channels
    against the side they are shown on (:func:`parity_kind_pairs`). For every such pair
    of channels of one product, every pair of levels whose prices differ by more than
    ``band * ref_price`` cannot both be chosen (a conflict-graph inequality; no big-M).
    """
    d = b.data
    band = rule.band
    lv = d.levels
    kind = kinds_of(d, lv["k"].to_numpy())
    assert b.level_col is not None, "the price levels are built before the parity band"
    lvc = lv.assign(col=b.level_col)
    pairs = pd.concat([lvc[kind == k1].merge(lvc[kind == k2], on="p", suffixes=("_a", "_b"))
                       for k1, k2 in parity_kind_pairs(rule)],
                      ignore_index=True)
    ref = d.products["ref_price"].to_numpy()[pairs["p"].to_numpy()]
    bad = np.abs(pairs["price_a"].to_numpy() - pairs["price_b"].to_numpy()) > band * ref + 1e-9
    pairs = pairs[bad].reset_index(drop=True)
    n = len(pairs)
    ids = d.channels["id"].to_numpy()
    b.add_cons(PRICE_PARITY,
               labels(d, product=pairs["p"], channel=pairs["k_a"].to_numpy(),
                      level=pairs["level_a"], other_channel=ids[pairs["k_b"].to_numpy()],
                      other_level=pairs["level_b"]),
               [(np.arange(n), pairs["col_a"].to_numpy(), 1.0),
                (np.arange(n), pairs["col_b"].to_numpy(), 1.0)], upper=1.0,
               description="two prices of a product that customers see side by side "
               "within the band")


# ---------------------------------------------------------------- records

PRICE_LEVEL = VarFamily("price_level", ALWAYS, define_price_levels, "design", "product_channel",
                        "(p,k,l), |L_pk| ≥ 2", "binary",
                        "level chosen (with one level, `list_product` plays its role)", None,
                        hand_test("test_price_levels"))

VARIABLES: tuple[VarFamily, ...] = (PRICE_LEVEL,)

PRICE_ONE_LEVEL = RowFamily("price_one_level", ALWAYS, define_price_levels, "structure",
                            "product_channel", "[p,k]", "`Σ_l price_level_pkl = list_pk`",
                            "price one level", test=hand_test("test_price_levels"))
PRICE_PARITY = RowFamily("price_parity", "price_parity", define_price_parity, "rule", "product",
                         "[p,k₁,l₁,k₂,l₂]",
                         "for every pair of channels `k₁`, `k₂` of a product whose kinds the band "
                         "binds " ""
                         "(online-kind with offline-kind, o2o-kind with the kind `o2o_side` "
                         "names) and " ""
                         "levels with `|P_pk₁l₁ − P_pk₂l₂| > band · ref_p`: `z_pk₁l₁ + z_pk₂l₂ ≤ "
                         "1` " "" "(`z` = `price_level`, or `list_product` for a single level)",
                         "price parity band", "violated", test=hand_test("test_price_parity"))

ROWS: tuple[RowFamily, ...] = (PRICE_ONE_LEVEL, PRICE_PARITY)

BUILD_STEPS: tuple[Step, ...] = (
    (40, define_price_levels),
    (80, define_price_parity),
)
"""(build step, builder) of this theme's builders."""
