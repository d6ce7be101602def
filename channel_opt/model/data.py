"""Index arrays the constraint families are built from.

Everything the families need is computed here once, vectorized, from the validated
scenario: integer codes for every entity, the eligible (cell, channel) pairs, the
price levels of every (product, channel), the sales columns, and the offerable
channel sets of every cell with the exact demand of each member.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from ..scenario import Scenario
from ..scenario.tables import CHANNEL_KINDS
from ..scenario.validate import split_list

MAX_SETS_PER_CELL = 255


@dataclass
class ModelData:
    """Indexed data of one scenario."""

    scenario: Scenario
    channels: pd.DataFrame  # id, kind, ... (scenario order), plus 'unit_margin_cost'
    products: pd.DataFrame
    regions: pd.DataFrame
    brands: pd.DataFrame
    segments: pd.DataFrame
    cells: pd.DataFrame  # product, region, segment (ids), p, r, s, b (codes), market
    cc: pd.DataFrame  # eligible (cell, channel): cell, k, p, r, s, share, dmax
    pk: pd.DataFrame  # (product, channel) pairs with any eligible cell: p, k, n_levels
    levels: pd.DataFrame  # pk, level, price, mult, z (entry in price_level, -1 if single)
    sales: pd.DataFrame  # cc, lev, cell, k, p, r, price, mult
    offers: pd.DataFrame  # cell, set (label), size
    members: pd.DataFrame  # offer, cc, demand   (channel of cc is a member of offer's set)
    rk: pd.DataFrame  # (region, channel) pairs with any eligible cell: r, k, open_cost
    bk: pd.DataFrame  # (brand, channel) pairs: b, k
    pr: pd.DataFrame  # (product, region) pairs with any eligible cell: p, r


def _codes(values: pd.Series, ids: pd.Series) -> np.ndarray:
    return pd.Index(ids).get_indexer(values).astype(np.int64)


def _allow(ids: pd.Series, lists: Any, universe: np.ndarray) -> np.ndarray:
    """Boolean table [id, item]: item allowed for id (an empty list allows every item)."""
    out = np.zeros((len(ids), len(universe)), bool)
    pos = pd.Index(universe)
    for i, xs in enumerate(lists):  # one small list per entity
        items = split_list(xs) if isinstance(xs, str) else list(xs)
        if items:
            out[i, pos.get_indexer(items)] = True
        else:
            out[i, :] = True
    return out


def _eligible(scen: Scenario, ch: pd.DataFrame, codes: dict[str, np.ndarray]) -> np.ndarray:
    """Mask of the share rows that survive segment, reservation, kind, region and forbid
    rules, from integer codes (boolean look-up tables per rule, no string joins).
    """
    p, r, s, k = codes["p"], codes["r"], codes["s"], codes["k"]
    kinds = np.array(CHANNEL_KINDS)
    ch_kind = pd.Index(kinds).get_indexer(ch["kind"])
    kk = ch_kind[k]
    ch_ids = ch["id"].to_numpy()
    segs = scen.segments
    keep = _allow(segs["id"], segs["channels"], ch_ids)[s, k]
    res = scen.settings.rules.reserved_segments or {}
    if res:
        lists = [res.get(sid, None) for sid in segs["id"]]
        table = _allow(segs["id"], [x if x is not None else [] for x in lists], ch_ids)
        reserved = np.array([x is not None for x in lists])
        keep &= ~reserved[s] | table[s, k]
    prod, brands = scen.products, scen.brands
    b_of_p = pd.Index(brands["id"]).get_indexer(prod["brand"])
    keep &= _allow(prod["id"], prod["allowed_kinds"], kinds)[p, kk]
    keep &= _allow(brands["id"], brands["allowed_kinds"], kinds)[b_of_p[p], kk]
    rc = scen.region_channels
    if len(rc):
        banned = np.zeros((len(scen.regions), len(ch)), bool)
        rcb = rc[~rc["allowed"]]
        banned[pd.Index(scen.regions["id"]).get_indexer(rcb["region"]),
               pd.Index(ch["id"]).get_indexer(rcb["channel"])] = True
        keep &= ~banned[r, k]
    in_season = prod["in_season"].to_numpy(bool)
    ids = {"product": prod["id"], "region": scen.regions["id"], "segment": segs["id"],
           "brand": brands["id"]}
    for rule in scen.settings.channel_rules:
        if rule.action != "forbid":
            continue
        hit = np.ones(len(p), bool)
        if rule.channel is not None:
            hit &= ch_ids[k] == rule.channel
        if rule.kind is not None:
            hit &= kinds[kk] == rule.kind
        for scope, code in (("product", p), ("region", r), ("segment", s), ("brand", b_of_p[p])):
            val = getattr(rule, scope)
            if val is not None:
                hit &= code == pd.Index(ids[scope]).get_loc(val)
        if rule.season is not None:
            hit &= in_season[p] == (rule.season == "in")
        keep &= ~hit
    return keep


def build_data(scen: Scenario) -> ModelData:
    """Index the scenario for the model builder."""
    ch = scen.channels.reset_index(drop=True)
    products = scen.products.reset_index(drop=True).copy()
    regions = scen.regions.reset_index(drop=True)
    brands = scen.brands.reset_index(drop=True)
    segments = scen.segments.reset_index(drop=True)
    cells = scen.cells.reset_index(drop=True).copy()
    cells["p"] = _codes(cells["product"], products["id"])
    cells["r"] = _codes(cells["region"], regions["id"])
    cells["s"] = _codes(cells["segment"], segments["id"])
    products["b"] = _codes(products["brand"], brands["id"])
    cells["b"] = products["b"].to_numpy()[cells["p"].to_numpy()]
    cells["market"] = cells["market_size"].to_numpy() * brands["ramp_up"].to_numpy()[
        cells["b"].to_numpy()]

    sh = scen.shares
    codes = {"p": _codes(sh["product"], products["id"]), "r": _codes(sh["region"], regions["id"]),
             "s": _codes(sh["segment"], segments["id"]), "k": _codes(sh["channel"], ch["id"])}
    keep = _eligible(scen, ch, codes)
    n_r, n_s, n_k = len(regions), len(segments), len(ch)
    cell_key = (cells["p"].to_numpy() * n_r + cells["r"].to_numpy()) * n_s + \
        cells["s"].to_numpy()
    sh_key = (codes["p"][keep] * n_r + codes["r"][keep]) * n_s + codes["s"][keep]
    cell = pd.Index(cell_key).get_indexer(sh_key)
    k = codes["k"][keep]
    share = sh["share"].to_numpy(float)[keep]
    dmax = share * cells["market"].to_numpy()[cell]
    ok = (cell >= 0) & (dmax > 0)
    order = np.lexsort((k[ok], cell[ok]))
    cc = pd.DataFrame({"cell": cell[ok][order], "k": k[ok][order], "share": share[ok][order],
                       "dmax": dmax[ok][order]})
    for col in ("p", "r", "s", "b"):
        cc[col] = cells[col].to_numpy()[cc["cell"].to_numpy()]

    pk_key, pk_of_cc = np.unique(cc["p"].to_numpy() * n_k + cc["k"].to_numpy(),
                                 return_inverse=True)
    pk = pd.DataFrame({"p": pk_key // n_k, "k": pk_key % n_k})
    levels = _levels(scen, pk, products, ch)
    pk["n_levels"] = np.bincount(levels["pk"].to_numpy(), minlength=len(pk))
    # levels of a (product, channel) with several levels get a price_level variable;
    # a single level is decided by the listing itself
    multi = pk["n_levels"].to_numpy()[levels["pk"].to_numpy()] >= 2
    levels["z"] = np.where(multi, np.cumsum(multi) - 1, -1)
    cc["pk"] = pk_of_cc
    # sales columns: one per (cc, level of its pk)
    lev_start = np.concatenate([[0], np.cumsum(pk["n_levels"].to_numpy())[:-1]])
    nl = pk["n_levels"].to_numpy()[cc["pk"].to_numpy()]
    cc_rep = np.repeat(np.arange(len(cc)), nl)
    offs = np.arange(len(cc_rep)) - np.repeat(np.cumsum(nl) - nl, nl)
    lev = lev_start[cc["pk"].to_numpy()][cc_rep] + offs
    sales = pd.DataFrame({"cc": cc_rep, "lev": lev})
    for col in ("cell", "k", "p", "r", "s"):
        sales[col] = cc[col].to_numpy()[cc_rep]
    sales["price"] = levels["price"].to_numpy()[lev]
    sales["mult"] = levels["mult"].to_numpy()[lev]

    offers, members = _offers(scen, cc, cells, ch)

    rk = cc[["r", "k"]].drop_duplicates().sort_values(["r", "k"]).reset_index(drop=True)
    rk["open_cost"] = ch["open_cost"].to_numpy()[rk["k"].to_numpy()]
    rc = scen.region_channels
    over = rc[np.isfinite(rc["open_cost"].to_numpy())]
    if len(over):
        key = pd.MultiIndex.from_arrays([_codes(over["region"], regions["id"]),
                                         _codes(over["channel"], ch["id"])])
        pos = key.get_indexer(pd.MultiIndex.from_frame(rk[["r", "k"]]))
        rk["open_cost"] = np.where(pos >= 0, over["open_cost"].to_numpy()[np.maximum(pos, 0)],
                                   rk["open_cost"].to_numpy())
    bk = cc[["b", "k"]].drop_duplicates().sort_values(["b", "k"]).reset_index(drop=True)
    pr = cc[["p", "r"]].drop_duplicates().sort_values(["p", "r"]).reset_index(drop=True)
    return ModelData(scen, ch, products, regions, brands, segments, cells, cc, pk, levels,
                     sales, offers, members, rk, bk, pr)


def _levels(scen: Scenario, pk: pd.DataFrame, products: pd.DataFrame,
            ch: pd.DataFrame) -> pd.DataFrame:
    """Price levels per (product, channel); the reference price where none are given."""
    pl = scen.price_levels
    explicit = pd.DataFrame({"p": _codes(pl["product"], products["id"]),
                             "k": _codes(pl["channel"], ch["id"]),
                             "level": pl["level"].astype(str).to_numpy(),
                             "price": pl["price"].to_numpy(float),
                             "mult": pl["demand_multiplier"].to_numpy(float)})
    pk_index = pd.MultiIndex.from_frame(pk[["p", "k"]])
    explicit["pk"] = pk_index.get_indexer(pd.MultiIndex.from_frame(explicit[["p", "k"]]))
    explicit = explicit[explicit["pk"] >= 0]
    has = np.zeros(len(pk), bool)
    has[explicit["pk"].to_numpy()] = True
    implicit = pd.DataFrame({"pk": np.flatnonzero(~has), "level": "ref"})
    implicit["p"] = pk["p"].to_numpy()[implicit["pk"].to_numpy()]
    implicit["k"] = pk["k"].to_numpy()[implicit["pk"].to_numpy()]
    implicit["price"] = products["ref_price"].to_numpy()[implicit["p"].to_numpy()]
    implicit["mult"] = 1.0
    out = pd.concat([explicit, implicit], ignore_index=True)
    return out.sort_values(["pk", "level"], kind="stable").reset_index(drop=True)


def _offers(scen: Scenario, cc: pd.DataFrame, cells: pd.DataFrame,
            ch: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every offerable channel set of every cell and the exact demand of its members.

    Cells are grouped by their eligible-channel pattern; each pattern's subsets are
    enumerated once and all cells of the pattern are handled with one array operation.
    """
    cap = scen.settings.max_channels_per_cell
    mnl = scen.settings.demand_model == "mnl"
    ch_ids = ch["id"].to_numpy()
    cell_of = cc["cell"].to_numpy()
    k_of = cc["k"].to_numpy()
    bits = np.left_shift(np.int64(1), k_of.astype(np.int64))
    n_cells = len(cells)
    mask = np.bincount(cell_of, weights=bits, minlength=n_cells).astype(np.int64)
    first = np.searchsorted(cell_of, np.arange(n_cells))
    offer_parts: list[pd.DataFrame] = []
    vocab: dict[str, int] = {}
    member_parts: list[pd.DataFrame] = []
    n_off = 0
    for m in np.unique(mask[mask > 0]):
        chans = [k for k in range(len(ch_ids)) if (int(m) >> k) & 1]
        n_l = len(chans)
        top = n_l if cap is None else min(cap, n_l)
        subsets = [c for size in range(1, top + 1) for c in combinations(range(n_l), size)]
        if len(subsets) > MAX_SETS_PER_CELL:
            raise ValueError(f"{n_l} eligible channels give {len(subsets)} channel sets per "
                             "cell; set max_channels_per_cell")
        S = np.zeros((len(subsets), n_l), bool)
        for i, sub in enumerate(subsets):
            S[i, list(sub)] = True
        gcells = np.flatnonzero(mask == m)
        ccidx = first[gcells][:, None] + np.arange(n_l)[None, :]  # (n_g, n_l)
        share = cc["share"].to_numpy()[ccidx]
        market = cells["market"].to_numpy()[gcells]
        if mnl:
            odds = share / (1.0 - share)
            denom = 1.0 + odds @ S.T.astype(float)  # (n_g, n_S)
            dem = market[:, None, None] * odds[:, None, :] / denom[:, :, None]
        else:
            dem = np.broadcast_to((share * market[:, None])[:, None, :],
                                  (len(gcells), len(subsets), n_l))
        n_g, n_s = len(gcells), len(subsets)
        set_codes = np.array([vocab.setdefault("+".join(ch_ids[chans[j]] for j in sub),
                                               len(vocab)) for sub in subsets], np.int64)
        offer_parts.append(pd.DataFrame({
            "cell": np.repeat(gcells, n_s),
            "set": np.tile(set_codes, n_g),
            "size": np.tile(S.sum(1), n_g),
        }))
        si, li = np.nonzero(S)  # member pairs of the pattern
        off_id = n_off + np.arange(n_g)[:, None] * n_s + si[None, :]
        member_parts.append(pd.DataFrame({
            "offer": off_id.ravel(),
            "cc": ccidx[:, li].ravel(),
            "demand": dem[:, si, li].ravel(),
        }))
        n_off += n_g * n_s
    offers = pd.concat(offer_parts, ignore_index=True) if offer_parts else \
        pd.DataFrame({"cell": np.zeros(0, np.int64), "set": np.zeros(0, np.int64),
                      "size": np.zeros(0, np.int64)})
    offers["set"] = pd.Categorical.from_codes(offers["set"].to_numpy(),
                                              categories=pd.Index(list(vocab), dtype=object))
    members = pd.concat(member_parts, ignore_index=True) if member_parts else \
        pd.DataFrame({"offer": np.zeros(0, np.int64), "cc": np.zeros(0, np.int64),
                      "demand": np.zeros(0)})
    return offers, members


def kinds_of(data: ModelData, k: np.ndarray) -> np.ndarray:
    """Channel kind of each channel code."""
    return data.channels["kind"].to_numpy()[k]


def offer_touches(data: ModelData, channels: np.ndarray) -> np.ndarray:
    """Per offer: does its set contain one of ``channels`` (a bool mask by channel code)."""
    mem = data.members
    hit = channels[data.cc["k"].to_numpy()[mem["cc"].to_numpy()]]
    out = np.zeros(len(data.offers), bool)
    out[mem["offer"].to_numpy()[hit]] = True
    return out


def offer_touches_kind(data: ModelData, kind: str) -> np.ndarray:
    """Per offer: does its set contain a channel of ``kind``."""
    return offer_touches(data, data.channels["kind"].to_numpy() == kind)


def labels(data: ModelData, *, categorical: bool = True, **cols: Any) -> pd.DataFrame:
    """Id labels from codes: ``labels(d, product=p, region=r)``.

    Model blocks get categorical columns (codes plus the id list, no string copies:
    labels are only read when names are needed); result tables get plain ids.
    """
    tables = {"product": data.products, "region": data.regions, "segment": data.segments,
              "channel": data.channels, "brand": data.brands}
    out: dict[str, Any] = {}
    for name, values in cols.items():
        if name in tables:
            ids = tables[name]["id"].to_numpy()
            codes = np.asarray(values, np.int64)
            out[name] = pd.Categorical.from_codes(codes, categories=pd.Index(ids, dtype=object)) \
                if categorical else ids[codes]
        elif categorical and not isinstance(values, pd.Categorical):
            out[name] = pd.Categorical(np.asarray(values))
        else:
            out[name] = values if categorical else np.asarray(values)
    return pd.DataFrame(out)
