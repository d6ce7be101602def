"""Index arrays the constraint families are built from.

Everything the families need is computed here once, vectorized, from the validated
scenario: integer codes for every entity, the eligible (cell, channel) pairs, the
price levels of every (product, channel), the sales columns, and the offer options
of every cell (a channel set and one price level per member) with the exact demand
of each member.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from itertools import combinations, product
from typing import Any

import numpy as np
import pandas as pd

from ..scenario import Scenario, Settings
from ..scenario.scenario import Tables
from ..scenario.tables import CHANNEL_KINDS
from ..scenario.validate import split_list

# Under mnl, cells with more offer options (channel set x level of each member) than
# this get the compact exact form (one binary per (channel, level), the no-purchase
# volume as a variable) instead of the enumeration of their options; see
# models/channel_design.md, "Many channels per cell". Under independent demand every
# cell has the compact form (a set does not change any member's demand).
MNL_ENUMERATE_MAX_OPTIONS = 63


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
    sales: pd.DataFrame  # cc, lev, cell, k, p, r, s, price, mult, dmax (largest demand)
    offers: pd.DataFrame  # cell, set (option label: channels, @level where several), size
    #                        (compact cells: one option per sales column, a single member)
    members: pd.DataFrame  # offer, cc, sale, demand: member (cc) of the option's set at the
    #                         level of sales column ``sale``, with its exact demand
    rk: pd.DataFrame  # (region, channel) pairs with any eligible cell: r, k, open_cost,
    #                    capacity (region_channels.capacity, inf where none)
    bk: pd.DataFrame  # (brand, channel) pairs: b, k
    pr: pd.DataFrame  # (product, region) pairs with any eligible cell: p, r
    # entity -> (its table, ids, categorical dtype of the ids): what :func:`labels` needs,
    # made once per entity instead of once per block (the ids were converted each time)
    _ids: dict[str, tuple[pd.DataFrame, np.ndarray, pd.CategoricalDtype]] = field(
        default_factory=dict, init=False, repr=False, compare=False)
    # cells["compact"]: the cell's offers are one binary per (channel, level) (several may
    # be 1, at most max_channels_per_cell: ``cells["cap"]``) instead of one option per set;
    # under mnl such a cell's demand is the compact exact form (``mnl_compact``).
    # pk: listing_cost, variable_cost (added per unit), capacity_use; sales:
    # variable_cost (per unit: the region's or channel's plus the product's), capacity_use

    def ids_of(self, entity: str) -> tuple[np.ndarray, pd.CategoricalDtype]:
        """The ids of ``entity`` (``product``, ``region``, ``segment``, ``channel``,
        ``brand``) and their categorical dtype (the ids as categories, code = position).
        """
        table = {"product": self.products, "region": self.regions, "segment": self.segments,
                 "channel": self.channels, "brand": self.brands}[entity]
        got = self._ids.get(entity)
        if got is None or got[0] is not table:
            ids = table["id"].to_numpy()
            got = (table, ids, pd.CategoricalDtype(pd.Index(ids, dtype=object)))
            self._ids[entity] = got
        return got[1], got[2]

    @property
    def mnl_compact(self) -> np.ndarray:
        """Per cell: the demand is the compact mnl form (no-purchase volume variable)."""
        if self.scenario.settings.demand_model != "mnl":
            return np.zeros(len(self.cells), bool)
        return self.cells["compact"].to_numpy(bool)


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
    pc = getattr(scen, "product_channels", None)
    if pc is not None and len(pc) and not pc["allowed"].all():
        banned_pk = np.zeros((len(prod), len(ch)), bool)
        pcb = pc[~pc["allowed"]]
        banned_pk[pd.Index(prod["id"]).get_indexer(pcb["product"]),
                  pd.Index(ch["id"]).get_indexer(pcb["channel"])] = True
        keep &= ~banned_pk[p, k]
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


# what build_data reads of the settings: model data depend on tables and these (tested)
DATA_SETTINGS = ("demand_model", "max_channels_per_cell", "channel_rules",
                 "rules.reserved_segments")


def data_key(settings: Settings) -> str:
    """The values of :data:`DATA_SETTINGS` and of the module's own knob, as one string."""
    d = settings.model_dump(mode="json")
    return json.dumps([d["rules"]["reserved_segments"] if p == "rules.reserved_segments"
                       else d[p] for p in DATA_SETTINGS] + [MNL_ENUMERATE_MAX_OPTIONS],
                      sort_keys=True)


def build_data(scen: Scenario) -> ModelData:
    """Index the scenario for the model builder; kept with its tables (``Tables.derived``,
    up to 10^4 cells) per value of :data:`DATA_SETTINGS` (4 at most) for what-ifs.
    """
    tables = scen.tables
    if not isinstance(tables, Tables) or len(scen.cells) > 10_000:
        return _build_data(scen)
    key = ("model_data", data_key(scen.settings))
    if key not in tables.derived:
        tables.derived[key] = _build_data(scen)
        for old in [k for k in tables.derived if isinstance(k, tuple)][:-4]:
            del tables.derived[old]
    got = tables.derived[key]
    return ModelData(scen, **{f.name: getattr(got, f.name).copy(deep=False)
                              for f in fields(ModelData) if f.init and f.name != "scenario"})


def _build_data(scen: Scenario) -> ModelData:
    """:func:`build_data` computed."""
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

    sale_start = np.cumsum(nl) - nl
    offers, members, compact = _offers(scen, cc, cells, ch, levels, lev_start, sale_start)
    cells["compact"] = compact
    n_elig = np.bincount(cc["cell"].to_numpy(), minlength=len(cells))
    cap = scen.settings.max_channels_per_cell
    cells["cap"] = n_elig if cap is None else np.minimum(n_elig, cap)
    # the largest demand a sales column can ever face (its bound): over the options
    dmax_sale = np.zeros(len(sales))
    np.maximum.at(dmax_sale, members["sale"].to_numpy(), members["demand"].to_numpy())
    sales["dmax"] = dmax_sale

    rk = _pairs(cc, "r", "k", n_k)
    rc = scen.region_channels
    rc_codes = (_codes(rc["region"], regions["id"]), _codes(rc["channel"], ch["id"]))
    rk_k = rk["k"].to_numpy()
    rk_codes = (rk["r"].to_numpy(), rk_k)
    rk["open_cost"] = _override(rc, rc_codes, "open_cost", rk_codes,
                                ch["open_cost"].to_numpy()[rk_k])
    rk["variable_cost"] = _override(rc, rc_codes, "variable_cost", rk_codes,
                                    ch["variable_cost"].to_numpy()[rk_k])
    rk["capacity"] = _override(rc, rc_codes, "capacity", rk_codes, np.full(len(rk), np.inf))
    pc = getattr(scen, "product_channels", None)
    if pc is None:
        pc = pd.DataFrame({"product": [], "channel": [], "listing_cost": [],
                           "variable_cost": [], "capacity_use": []})
    pc_codes = (_codes(pc["product"], products["id"]), _codes(pc["channel"], ch["id"]))
    pk_k = pk["k"].to_numpy()
    pk_codes = (pk["p"].to_numpy(), pk_k)
    pk["listing_cost"] = _override(pc, pc_codes, "listing_cost", pk_codes,
                                   ch["listing_cost"].to_numpy()[pk_k])
    pk["variable_cost"] = _override(pc, pc_codes, "variable_cost", pk_codes, np.zeros(len(pk)))
    pk["capacity_use"] = _override(pc, pc_codes, "capacity_use", pk_codes, np.ones(len(pk)))
    # per unit of each sales column: the region's (or channel's) variable cost plus the
    # product's in the channel; the capacity units it takes
    rk_key = rk["r"].to_numpy() * n_k + rk_k  # sorted: rk is sorted by (r, k)
    rk_of_sale = np.searchsorted(rk_key, sales["r"].to_numpy() * n_k + sales["k"].to_numpy())
    pk_of_sale = cc["pk"].to_numpy()[sales["cc"].to_numpy()]
    sales["variable_cost"] = rk["variable_cost"].to_numpy()[rk_of_sale] + \
        pk["variable_cost"].to_numpy()[pk_of_sale]
    sales["capacity_use"] = pk["capacity_use"].to_numpy()[pk_of_sale]
    bk = _pairs(cc, "b", "k", n_k)
    pr = _pairs(cc, "p", "r", n_r)
    return ModelData(scen, ch, products, regions, brands, segments, cells, cc, pk, levels,
                     sales, offers, members, rk, bk, pr)


def _pairs(cc: pd.DataFrame, a: str, b: str, n_b: int) -> pd.DataFrame:
    """The distinct (a, b) code pairs of ``cc``, sorted by a then b."""
    key = np.unique(cc[a].to_numpy() * n_b + cc[b].to_numpy())
    return pd.DataFrame({a: key // n_b, b: key % n_b})


def _override(table: pd.DataFrame, codes: tuple[np.ndarray, np.ndarray], column: str,
              keys: tuple[np.ndarray, np.ndarray], default: np.ndarray) -> np.ndarray:
    """``default`` with the finite values of ``table[column]`` put in where the table's
    (code pair) rows match the code pairs ``keys`` (an empty cell keeps the default).
    """
    vals = table[column].to_numpy(float) if len(table) else np.zeros(0)
    given = ~np.isnan(vals)
    if not given.any():
        return np.asarray(default, float)
    a, b = codes[0][given], codes[1][given]
    n = int(max(a.max(initial=0), b.max(initial=0), keys[0].max(initial=0),
                keys[1].max(initial=0))) + 1
    idx = pd.Index(np.where((a < 0) | (b < 0), -1, a * n + b))
    pos = idx.get_indexer(pd.Index(keys[0].astype(np.int64) * n + keys[1]))
    return np.where(pos >= 0, vals[given][np.maximum(pos, 0)], default)


def _levels(scen: Scenario, pk: pd.DataFrame, products: pd.DataFrame,
            ch: pd.DataFrame) -> pd.DataFrame:
    """Price levels per (product, channel); the reference price where none are given."""
    pl = scen.price_levels
    explicit = pd.DataFrame({"p": _codes(pl["product"], products["id"]),
                             "k": _codes(pl["channel"], ch["id"]),
                             "level": pl["level"].astype(str).to_numpy(),
                             "price": pl["price"].to_numpy(float),
                             "mult": pl["demand_multiplier"].to_numpy(float)})
    n_k = len(ch)  # pk holds distinct (p, k) code pairs; a code of -1 is never found
    ep, ek = explicit["p"].to_numpy(), explicit["k"].to_numpy()
    explicit["pk"] = pd.Index(pk["p"].to_numpy() * n_k + pk["k"].to_numpy()).get_indexer(
        pd.Index(np.where((ep < 0) | (ek < 0), -1, ep * n_k + ek)))
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


def _count_options(n_levels: list[int], top: int) -> int:
    """Number of offer options of a pattern: sum over member sets of size <= ``top`` of
    the product of their level counts (elementary symmetric sums, exact integers).
    """
    e = [1] + [0] * top
    for n in n_levels:
        for size in range(top, 0, -1):
            e[size] += e[size - 1] * n
    return sum(e[1:])


def _patterns(cc: pd.DataFrame, n_lev: np.ndarray, n_cells: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group cells by eligibility pattern: the sorted channel codes of the cell with the
    number of price levels of each.

    Returns the pattern of every cell (-1: no eligible channel), each pattern's
    (channel, levels) rows padded with -1, and each pattern's member count. Works for
    any number of channels (rows of codes, no bit masks).
    """
    cell_of = cc["cell"].to_numpy()
    if not len(cc):
        return np.full(n_cells, -1), np.zeros((0, 0), np.int64), np.zeros(0, np.int64)
    count = np.bincount(cell_of, minlength=n_cells)
    first = np.cumsum(count) - count
    pos = np.arange(len(cc)) - first[cell_of]
    width = int(count.max())
    has = count > 0
    row = np.cumsum(has) - 1  # row of each cell with a channel
    base = int(n_lev.max()) + 1
    key = np.full((int(has.sum()), width), -1, np.int64)  # channel and level count, packed
    key[row[cell_of], pos] = cc["k"].to_numpy() * base + n_lev
    uniq, inv = np.unique(key, axis=0, return_inverse=True)
    pattern = np.full(n_cells, -1)
    pattern[has] = inv.ravel()
    rows = np.full((len(uniq), 2 * width), -1, np.int64)
    rows[:, 0::2] = np.where(uniq >= 0, uniq // base, -1)
    rows[:, 1::2] = np.where(uniq >= 0, uniq % base, -1)
    return pattern, rows, (uniq >= 0).sum(1)


def _offers(scen: Scenario, cc: pd.DataFrame, cells: pd.DataFrame, ch: pd.DataFrame,
            levels: pd.DataFrame, lev_start: np.ndarray,
            sale_start: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Every offer option of every cell and the exact demand of its members; per cell
    whether it has the compact form.

    An offer option is a channel set together with one price level per member. Cells
    are grouped by their eligibility pattern (eligible channels and the number of
    levels of each); each pattern's options are enumerated once and the demand of all
    cells of the pattern is computed with one array operation (SPEC section 4: under
    ``mnl`` a level multiplies its channel's odds, under ``independent`` its demand).
    Compact cells (every cell under ``independent``; under ``mnl`` the cells with more
    than :data:`MNL_ENUMERATE_MAX_OPTIONS` options) get one option per (channel, level)
    instead, with the demand the channel has when offered alone (its largest).
    """
    cap = scen.settings.max_channels_per_cell
    mnl = scen.settings.demand_model == "mnl"
    ch_ids = ch["id"].to_numpy()
    n_cells = len(cells)
    pk_of = cc["pk"].to_numpy()
    n_lev = (np.diff(np.append(lev_start, len(levels))))[pk_of]
    pattern, pat_rows, pat_n = _patterns(cc, n_lev, n_cells)
    first = np.searchsorted(cc["cell"].to_numpy(), np.arange(n_cells))
    lev_names = levels["level"].astype(str).to_numpy()
    mult_all = levels["mult"].to_numpy(float)
    # level-name signature of every (product, channel): labels differ only where names do
    pk_names = pd.Series(lev_names).groupby(levels["pk"].to_numpy()).agg("\x1f".join)
    name_code = pd.factorize(pk_names.to_numpy())[0]
    offer_parts: list[pd.DataFrame] = []
    vocab: dict[str, int] = {}
    member_parts: list[pd.DataFrame] = []
    n_off = 0
    compact_pat = np.zeros(len(pat_rows), bool)
    for u in range(len(pat_rows)):
        n_l = int(pat_n[u])
        chans = pat_rows[u, 0:2 * n_l:2]
        n_levels = [int(x) for x in pat_rows[u, 1:2 * n_l:2]]
        top = n_l if cap is None else min(cap, n_l)
        if not mnl or _count_options(n_levels, top) > MNL_ENUMERATE_MAX_OPTIONS:
            compact_pat[u] = True
            continue
        gcells = np.flatnonzero(pattern == u)
        subsets = [c for size in range(1, top + 1) for c in combinations(range(n_l), size)]
        opts = [(sub, lv) for sub in subsets
                for lv in product(*[range(n_levels[j]) for j in sub])]
        n_o = len(opts)
        S = np.zeros((n_o, n_l), bool)
        L = np.zeros((n_o, n_l), np.int64)
        for i, (sub, lv) in enumerate(opts):
            S[i, list(sub)] = True
            L[i, list(sub)] = lv
        n_g = len(gcells)
        ccidx = first[gcells][:, None] + np.arange(n_l)[None, :]  # (n_g, n_l)
        share = cc["share"].to_numpy()[ccidx]
        market = cells["market"].to_numpy()[gcells]
        base = lev_start[pk_of[ccidx]]  # first level of each member's (product, channel)
        mult = np.where(S[None], mult_all[base[:, None, :] + L[None]], 0.0)  # (n_g, n_o, n_l)
        attr = share / (1.0 - share)
        attr = attr[:, None, :] * mult
        dem = market[:, None, None] * attr / (1.0 + attr.sum(2))[:, :, None]
        # option labels: channel ids, with the level name where a member has several
        multi = [j for j in range(n_l) if n_levels[j] > 1]
        sig, sig_of = np.unique(name_code[pk_of[ccidx[:, multi]]], axis=0,
                                return_inverse=True) if multi else \
            (np.zeros((1, 0), np.int64), np.zeros(n_g, np.int64))
        codes = np.empty((len(sig), n_o), np.int64)
        for t in range(len(sig)):
            g0 = int(np.flatnonzero(sig_of.ravel() == t)[0])
            for i, (sub, lv) in enumerate(opts):
                lab = "+".join(
                    str(ch_ids[chans[j]]) + (f"@{lev_names[base[g0, j] + lj]}"
                                             if n_levels[j] > 1 else "")
                    for j, lj in zip(sub, lv, strict=True))
                codes[t, i] = vocab.setdefault(lab, len(vocab))
        offer_parts.append(pd.DataFrame({
            "cell": np.repeat(gcells, n_o),
            "set": codes[sig_of.ravel()].ravel(),
            "size": np.tile(S.sum(1), n_g),
        }))
        si, li = np.nonzero(S)  # member pairs of the pattern
        off_id = n_off + np.arange(n_g)[:, None] * n_o + si[None, :]
        mcc = ccidx[:, li]
        member_parts.append(pd.DataFrame({
            "offer": off_id.ravel(),
            "cc": mcc.ravel(),
            "sale": (sale_start[mcc] + L[si, li][None, :]).ravel(),
            "demand": dem[:, si, li].ravel(),
        }))
        n_off += n_g * n_o
    compact = np.zeros(n_cells, bool)
    compact[pattern >= 0] = compact_pat[pattern[pattern >= 0]]
    # compact cells: one option per sales column (channel, level), demand when alone
    cci = np.flatnonzero(compact[cc["cell"].to_numpy()])
    if len(cci):
        nl = n_lev[cci]
        cc_rep = np.repeat(cci, nl)
        offs = np.arange(len(cc_rep)) - np.repeat(np.cumsum(nl) - nl, nl)
        lev = lev_start[pk_of[cc_rep]] + offs
        share = cc["share"].to_numpy()[cc_rep]
        market = cells["market"].to_numpy()[cc["cell"].to_numpy()[cc_rep]]
        mult = mult_all[lev]
        if mnl:
            attr = mult * share / (1.0 - share)
            dem = market * attr / (1.0 + attr)
        else:
            dem = mult * share * market
        # labels per distinct (channel, level): the channel id, @level where several
        key = cc["k"].to_numpy()[cc_rep] * len(levels) + lev
        ukey, lab_code = np.unique(key, return_inverse=True)
        uk, ul = ukey // len(levels), ukey % len(levels)
        several = np.diff(np.append(lev_start, len(levels)))[levels["pk"].to_numpy()[ul]] > 1
        labs = [str(ch_ids[k_]) + (f"@{lev_names[l_]}" if m_ else "")
                for k_, l_, m_ in zip(uk, ul, several, strict=True)]
        vcode = np.array([vocab.setdefault(str(x), len(vocab)) for x in labs], np.int64)
        n_c = len(cc_rep)
        offer_parts.append(pd.DataFrame({"cell": cc["cell"].to_numpy()[cc_rep],
                                         "set": vcode[lab_code.ravel()],
                                         "size": np.ones(n_c, np.int64)}))
        member_parts.append(pd.DataFrame({"offer": n_off + np.arange(n_c), "cc": cc_rep,
                                          "sale": sale_start[cc_rep] + offs,
                                          "demand": dem}))
        n_off += n_c
    offers = pd.concat(offer_parts, ignore_index=True) if offer_parts else \
        pd.DataFrame({"cell": np.zeros(0, np.int64), "set": np.zeros(0, np.int64),
                      "size": np.zeros(0, np.int64)})
    offers["set"] = pd.Categorical.from_codes(offers["set"].to_numpy(),
                                              categories=pd.Index(list(vocab), dtype=object))
    members = pd.concat(member_parts, ignore_index=True) if member_parts else \
        pd.DataFrame({"offer": np.zeros(0, np.int64), "cc": np.zeros(0, np.int64),
                      "sale": np.zeros(0, np.int64), "demand": np.zeros(0)})
    return offers, members, compact


def mnl_compact_sales(data: ModelData) -> np.ndarray:
    """Sales columns of the compact mnl cells, in order (the entries of ``offer_volume``)."""
    return np.flatnonzero(data.mnl_compact[data.sales["cell"].to_numpy()])


def sales_odds(data: ModelData) -> np.ndarray:
    """Per sales column: the channel's odds at the level, ``m_kl a_ck / (1 - a_ck)``
    (mnl; inf where a share is 1, which mnl refuses).
    """
    a = data.cc["share"].to_numpy()[data.sales["cc"].to_numpy()]
    with np.errstate(divide="ignore"):
        return data.sales["mult"].to_numpy() * a / (1.0 - a)


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


ENTITIES = ("product", "region", "segment", "channel", "brand")  # label columns from codes


def labels(data: ModelData, *, categorical: bool = True, **cols: Any) -> pd.DataFrame:
    """Id labels from codes: ``labels(d, product=p, region=r)``.

    Model blocks get categorical columns (codes plus the id list, no string copies:
    labels are only read when names are needed); result tables get plain ids.
    """
    out: dict[str, Any] = {}
    for name, values in cols.items():
        if name in ENTITIES:
            ids, dtype = data.ids_of(name)
            codes = np.asarray(values, np.int64)
            out[name] = pd.Categorical.from_codes(codes, dtype=dtype) if categorical \
                else ids[codes]
        elif categorical and not isinstance(values, pd.Categorical):
            out[name] = pd.Categorical(np.asarray(values))
        else:
            out[name] = values if categorical else np.asarray(values)
    return pd.DataFrame(out)


def best_option_per_cell(data: ModelData, member_value: np.ndarray) -> np.ndarray:
    """Per cell: the largest sum of ``member_value`` over the members of one of its
    offer options (0 for a cell without options or without a positive sum).

    At most one option is offered per cell with sets, so with ``member_value`` = a
    nonnegative amount per unit times the member's demand this bounds what the cell
    can ever contribute (the reachable amount, not a sum over all columns). A compact
    cell may offer several channels (one level each): there the channels' best values
    are summed.
    """
    mem = data.members
    per_offer = np.bincount(mem["offer"].to_numpy(), weights=member_value,
                            minlength=len(data.offers))
    out = np.zeros(len(data.cells))
    np.maximum.at(out, data.offers["cell"].to_numpy(), per_offer)
    compact = data.cells["compact"].to_numpy(bool)
    if compact.any():  # several channels at once: each channel's best, summed
        per_cc = best_option_per_cc(data, np.maximum(member_value, 0.0))
        total = np.bincount(data.cc["cell"].to_numpy(), weights=per_cc, minlength=len(out))
        out = np.where(compact, total, out)
    return out


def best_option_per_cc(data: ModelData, member_value: np.ndarray) -> np.ndarray:
    """Per eligible (cell, channel): the largest ``member_value`` of the channel over the
    options of the cell containing it (0 if none is positive).
    """
    out = np.zeros(len(data.cc))
    np.maximum.at(out, data.members["cc"].to_numpy(), member_value)
    return out
