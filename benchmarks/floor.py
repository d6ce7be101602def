"""The floor: a plain, hand-written numpy/scipy assembly of the ``core`` model.

This is the reference the issue measures our build path against ("what does a
hand-written numpy assembly of the same matrix cost"). It reads the validated
scenario tables directly and assembles the very same MIP as
``channel_opt.model.build_array_model`` for scenarios of the ``core`` benchmark
family (MNL demand, offered channel sets, listings, openings, brand launches; no
optional rule, no price levels, no per-region channel overrides, no channel rules),
then passes it to HiGHS with one ``passModel`` call.

It deliberately imports nothing from ``channel_opt.model``: every index, bound,
coefficient and row is computed here, with no labels, no names and no per-block
bookkeeping. Columns and rows may come in a different order than ours; the number
of rows, columns and nonzeros and the LP-relaxation optimum are the same (checked by
``tests/test_benchmarks_smoke.py`` and ``python -m benchmarks check-floor``).

Model (maximize profit), with ``E(c)`` the eligible channels of cell ``c``,
``M`` an offered set (a non-empty subset of ``E(c)`` with at most
``max_channels_per_cell`` members) and ``odds_k = share_k / (1 - share_k)``:

* columns: ``open[r,k]``, ``list[p,k]``, ``brand[b,k]``, ``launch[b]`` (new brands
  only), ``offer[c,M]`` (binaries) and ``sales[c,k]`` in ``[0, share * market]``;
* ``list[p,k] - brand[b(p),k] <= 0``; ``brand[b,k] - launch[b] <= 0`` (new brands);
* ``sum_M offer[c,M] <= 1``;
* ``sum_{M ∋ k} offer[c,M] - list[p,k] <= 0`` and ``... - open[r,k] <= 0``;
* ``sales[c,k] - sum_{M ∋ k} market * odds_k / (1 + sum_{i in M} odds_i) offer[c,M] <= 0``;
* objective: margin x sales - opening, listing and launch costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

KINDS = ("online", "offline", "o2o")


@dataclass
class FloorModel:
    """The assembled core model as plain arrays (column-wise matrix)."""

    n_cols: int
    n_rows: int
    cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    integrality: np.ndarray
    matrix: sp.csc_matrix

    @property
    def nnz(self) -> int:
        """Nonzeros of the constraint matrix."""
        return int(self.matrix.nnz)


def unsupported(tables: dict[str, pd.DataFrame], settings: Any) -> list[str]:
    """Why the floor cannot assemble this scenario (empty: it can)."""
    why = []
    rules = settings.rules
    on = [k for k in type(rules).model_fields if getattr(rules, k) is not None]
    if on:
        why.append(f"rule families on: {', '.join(on)}")
    if settings.demand_model != "mnl":
        why.append(f"demand model {settings.demand_model}")
    if settings.channel_rules:
        why.append("channel rules")
    for t in ("price_levels", "region_channels"):
        if t in tables and tables[t] is not None and len(tables[t]):
            why.append(f"table {t}")
    if "single_kind" in tables["brands"] and tables["brands"]["single_kind"].any():
        why.append("single-kind brands")
    return why


def _split(col: pd.Series) -> list[list[str]]:
    return [[x.strip() for x in str(v).split(";") if x.strip()] for v in col]


def _allowed(lists: list[list[str]], items: np.ndarray) -> np.ndarray:
    """Boolean matrix: row i allows item j (an empty list allows everything)."""
    out = np.zeros((len(lists), len(items)), bool)
    for i, xs in enumerate(lists):
        out[i] = True if not xs else np.isin(items, xs)
    return out


def assemble(tables: dict[str, pd.DataFrame], settings: Any) -> FloorModel:
    """Assemble the core model from the (validated, canonical) scenario tables."""
    why = unsupported(tables, settings)
    if why:
        raise NotImplementedError("the numpy floor covers the core family only: " + "; ".join(why))
    ch, br, pr, rg, sg = (tables[t] for t in ("channels", "brands", "products", "regions",
                                              "segments"))
    cells, shares = tables["cells"], tables["shares"]
    n_k, n_r, n_s = len(ch), len(rg), len(sg)
    ch_id = ch["id"].to_numpy()
    kind = pd.Index(KINDS).get_indexer(ch["kind"]).astype(np.int64)

    # --- entity codes (string ids -> integers, once per column)
    def code(values: pd.Series, ids: pd.Series) -> np.ndarray:
        return pd.Index(ids).get_indexer(values).astype(np.int64)

    p_brand = code(pr["brand"], br["id"])
    c_p, c_r, c_s = (code(cells[c], t["id"]) for c, t in (("product", pr), ("region", rg),
                                                           ("segment", sg)))
    market = cells["market_size"].to_numpy(float) * br["ramp_up"].to_numpy(float)[p_brand[c_p]]
    s_p, s_r, s_s = (code(shares[c], t["id"]) for c, t in (("product", pr), ("region", rg),
                                                            ("segment", sg)))
    s_k = code(shares["channel"], ch["id"])
    # cell of each share row through one integer key (cells are unique per key)
    c_key = (c_p * n_r + c_r) * n_s + c_s
    s_key = (s_p * n_r + s_r) * n_s + s_s
    order = np.argsort(c_key, kind="stable")
    pos = np.searchsorted(c_key[order], s_key)
    pos = np.minimum(pos, len(order) - 1)
    s_cell = np.where(c_key[order][pos] == s_key, order[pos], -1)

    # --- eligibility: segment channel lists, brand and product allowed kinds
    seg_ok = _allowed(_split(sg["channels"]), ch_id)  # (segment, channel)
    brand_ok = _allowed(_split(br["allowed_kinds"]), np.array(KINDS))  # (brand, kind)
    prod_ok = _allowed(_split(pr["allowed_kinds"]), np.array(KINDS))  # (product, kind)
    share = shares["share"].to_numpy(float)
    ok = (s_cell >= 0) & seg_ok[s_s, s_k] & brand_ok[p_brand[s_p], kind[s_k]] \
        & prod_ok[s_p, kind[s_k]]
    dmax = share * np.where(s_cell >= 0, market[np.maximum(s_cell, 0)], 0.0)
    ok &= dmax > 0
    sel = np.flatnonzero(ok)
    cc_cell, cc_k = s_cell[sel], s_k[sel]
    o = np.lexsort((cc_k, cc_cell))  # (cell, channel) order
    cc_cell, cc_k, cc_share, cc_dmax = cc_cell[o], cc_k[o], share[sel][o], dmax[sel][o]
    n_cc = len(cc_cell)
    cc_p, cc_r = c_p[cc_cell], c_r[cc_cell]

    # --- pair columns: open[r,k], list[p,k], brand[b,k], launch[b]
    def uniq(a: np.ndarray, b: np.ndarray, nb: int) -> tuple[np.ndarray, np.ndarray]:
        u, inv = np.unique(a * nb + b, return_inverse=True)
        return u, inv

    rk, cc_rk = uniq(cc_r, cc_k, n_k)
    pk, cc_pk = uniq(cc_p, cc_k, n_k)
    pk_p, pk_k = pk // n_k, pk % n_k
    bk, pk_bk = uniq(p_brand[pk_p], pk_k, n_k)
    bk_b = bk // n_k
    new = br["new"].to_numpy(bool)
    new_b = np.unique(bk_b[new[bk_b]])
    bk_new = np.flatnonzero(new[bk_b])

    # --- offered sets: cells grouped by their eligible-channel bit pattern
    cap = settings.max_channels_per_cell
    mask = np.bincount(cc_cell, weights=np.left_shift(1, cc_k).astype(float),
                       minlength=len(cells)).astype(np.int64)
    first = np.searchsorted(cc_cell, np.arange(len(cells)))
    odds = cc_share / (1.0 - cc_share)
    off_cell, mem_off, mem_cc, mem_dem = [], [], [], []
    n_off = 0
    for m in np.unique(mask[mask > 0]):
        n_l = int(m).bit_count()
        top = n_l if cap is None else min(cap, n_l)
        S = np.array([[j in sub for j in range(n_l)] for size in range(1, top + 1)
                      for sub in combinations(range(n_l), size)])  # (sets, members)
        g = np.flatnonzero(mask == m)
        idx = first[g][:, None] + np.arange(n_l)  # cc rows of the group's cells
        od = odds[idx]
        denom = 1.0 + od @ S.T  # (cells, sets)
        si, li = np.nonzero(S)
        n_g, n_set = len(g), len(S)
        off_cell.append(np.repeat(g, n_set))
        mem_off.append((n_off + np.arange(n_g)[:, None] * n_set + si).ravel())
        mem_cc.append(idx[:, li].ravel())
        mem_dem.append((market[g][:, None] * od[:, li] / denom[:, si]).ravel())
        n_off += n_g * n_set
    off_cell_a = np.concatenate(off_cell)
    mem_off_a, mem_cc_a, mem_dem_a = (np.concatenate(x) for x in (mem_off, mem_cc, mem_dem))

    # --- column layout
    n_rk, n_pk, n_bk, n_nb = len(rk), len(pk), len(bk), len(new_b)
    c_open = 0
    c_list = c_open + n_rk
    c_brand = c_list + n_pk
    c_launch = c_brand + n_bk
    c_offer = c_launch + n_nb
    c_sales = c_offer + n_off
    n_cols = c_sales + n_cc
    margin = (pr["ref_price"].to_numpy(float)[cc_p] * (1 - ch["fee_share"].to_numpy(float)[cc_k])
              - pr["unit_cost"].to_numpy(float)[cc_p] - ch["variable_cost"].to_numpy(float)[cc_k]
              - ch["fee_per_unit"].to_numpy(float)[cc_k]
              - ch["return_rate"].to_numpy(float)[cc_k] * ch["return_cost"].to_numpy(float)[cc_k])
    cost = np.concatenate([-ch["open_cost"].to_numpy(float)[rk % n_k],
                           -ch["listing_cost"].to_numpy(float)[pk_k], np.zeros(n_bk),
                           -br["launch_cost"].to_numpy(float)[new_b], np.zeros(n_off), margin])
    col_lower = np.zeros(n_cols)
    col_upper = np.concatenate([np.ones(c_sales), cc_dmax])
    integrality = np.concatenate([np.ones(c_sales, np.int32), np.zeros(n_cc, np.int32)])

    # --- rows, as triplets
    r_lnb = 0  # listing_needs_brand [pk]
    r_bl = r_lnb + n_pk  # brand_launch [new bk]
    r_one = r_bl + len(bk_new)  # offer_one_set [cells with offers]
    cells_w, one_row = np.unique(off_cell_a, return_inverse=True)
    r_nl = r_one + len(cells_w)  # offer_needs_listing [cc]
    r_no = r_nl + n_cc  # offer_needs_open [cc]
    r_dem = r_no + n_cc  # demand [cc]
    n_rows = r_dem + n_cc
    i_pk, i_cc, i_bkn = np.arange(n_pk), np.arange(n_cc), np.arange(len(bk_new))
    n_mem = len(mem_off_a)
    ones_pk, ones_cc, ones_mem = np.ones(n_pk), np.ones(n_cc), np.ones(n_mem)
    off_cols = c_offer + mem_off_a
    rows = np.concatenate([
        r_lnb + i_pk, r_lnb + i_pk,
        r_bl + i_bkn, r_bl + i_bkn,
        r_one + one_row,
        r_nl + mem_cc_a, r_nl + i_cc,
        r_no + mem_cc_a, r_no + i_cc,
        r_dem + i_cc, r_dem + mem_cc_a])
    cols = np.concatenate([
        c_list + i_pk, c_brand + pk_bk,
        c_brand + bk_new, c_launch + np.searchsorted(new_b, bk_b[bk_new]),
        c_offer + np.arange(n_off),
        off_cols, c_list + cc_pk,
        off_cols, c_open + cc_rk,
        c_sales + i_cc, off_cols])
    vals = np.concatenate([
        ones_pk, -ones_pk,
        np.ones(len(bk_new)), -np.ones(len(bk_new)),
        np.ones(n_off),
        ones_mem, -ones_cc,
        ones_mem, -ones_cc,
        ones_cc, -mem_dem_a])
    row_upper = np.concatenate([np.zeros(r_one), np.ones(len(cells_w)), np.zeros(3 * n_cc)])
    row_lower = np.full(n_rows, -np.inf)
    a = sp.coo_matrix((vals, (rows, cols)), shape=(n_rows, n_cols)).tocsc()
    return FloorModel(n_cols, n_rows, cost, col_lower, col_upper, row_lower, row_upper,
                      integrality, a)


def pass_model(fm: FloorModel, *, relax: bool = False) -> Any:
    """Pass the floor model to a new ``highspy.Highs`` with one ``passModel`` call."""
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    a = fm.matrix
    integ = np.zeros_like(fm.integrality) if relax else fm.integrality
    status = h.passModel(fm.n_cols, fm.n_rows, a.nnz, 1, -1, 0.0, fm.cost, fm.col_lower,
                         fm.col_upper, fm.row_lower, fm.row_upper,
                         a.indptr.astype(np.int32), a.indices.astype(np.int32),
                         a.data, integ)
    if status == highspy.HighsStatus.kError:
        raise RuntimeError("HiGHS rejected the floor model")
    return h


def pass_triplets(n_rows: int, n_cols: int, rows: np.ndarray, cols: np.ndarray,
                  vals: np.ndarray, cost: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                  row_lower: np.ndarray, row_upper: np.ndarray, integrality: np.ndarray,
                  sense: int = -1) -> Any:
    """The hand-off floor: COO triplets -> CSC with scipy -> one ``passModel`` call."""
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    a = sp.coo_matrix((vals, (rows, cols)), shape=(n_rows, n_cols)).tocsc()
    status = h.passModel(n_cols, n_rows, a.nnz, 1, sense, 0.0, cost, lower, upper,
                         row_lower, row_upper, a.indptr.astype(np.int32),
                         a.indices.astype(np.int32), a.data, integrality)
    if status == highspy.HighsStatus.kError:
        raise RuntimeError("HiGHS rejected the model")
    return h


def lp_optimum(h: Any) -> tuple[str, float]:
    """Solve the LP relaxation already passed to ``h``; (status, objective)."""
    h.setOptionValue("output_flag", False)
    h.run()
    return h.modelStatusToString(h.getModelStatus()), float(h.getInfo().objective_function_value)
