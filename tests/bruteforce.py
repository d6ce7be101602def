"""An independent brute-force evaluator of the channel-design problem.

Written from the semantics in ``/work/shared/SPEC.md`` (sections 2-5) and
``models/channel_design.md`` -- *not* from ``channel_opt.model`` (which it must never
import): it is the oracle the MIP is checked against.

For a tiny scenario it enumerates every discrete design:

* per cell the offered channel set (empty, or a non-empty subset of the eligible
  channels with at most ``max_channels_per_cell`` members, containing every channel a
  segment ``force`` rule requires);
* per (product, channel) with two or more price levels, the level (it only matters
  where the product ends up listed); a level's multiplier multiplies the channel's
  odds under ``mnl`` and its demand under ``independent`` (SPEC section 4), so a
  cell's offer is a channel set at the chosen levels, as the model's offer options;
* per region the commission policy when ``commission.decision`` is on.

Everything else is derived minimally from the offered sets (costs are nonnegative,
so opening, listing, selling a brand, launching or stocking more than the offers
need can only cost): channel ``k`` is open in region ``r`` iff a cell of ``r`` offers
it or a ``force`` rule opens it; product ``p`` is listed in ``k`` iff a cell of ``p``
offers ``k`` or a rule forces the listing; brand ``b`` is sold in ``k`` iff one of its
products is listed there or a rule forces it; a new brand is launched iff it is sold
anywhere; a product is stocked in a region iff a cell there is offered a
``uses_store_stock`` channel. Forced-but-unused openings/listings still pay their
fixed cost, still need a price level (price parity), still count for
``single_kind`` brands, and a forced open dealer channel still has to reach the
dealer minimum volume.

Given the discrete design the sales are a continuous LP (capacities, floors and
service levels couple cells). Per cell it is solved in closed form (a greedy over the
unit margins with the cell's market cap / cell service level); designs are then
ranked by the sum of the per-cell optima less fixed costs -- an upper bound on the
design's profit -- and, when a coupling rule is active, the full sales LP of each
design is solved with ``scipy.optimize.linprog`` in that order until the bound drops
below the best profit found (exact: every skipped design is provably no better).

Semantic choices where the documents leave room (mirroring the documented model):

* Forcing: a ``force`` rule scoped to a segment requires the channel to be offered to
  every cell of the segment where it is eligible; scoped to a product or a season it
  forces the listing, to a brand the brand's sale, to a region (or unscoped) the
  opening in that region (every region). Only pairs some eligible cell can use are
  forced (decision variables exist only there); a rule that matches no such pair
  raises ``ValueError``.
* ``commission.policy_cost`` is charged per region with the policy switched on, only
  when ``decision`` is true (the objective term is ``policy_cost * commission_policy``).
* Grain (issue 12): a unit's variable cost is the region's ``region_channels.variable_cost``
  (else the channel's) plus ``product_channels.variable_cost``; a product's listing cost
  is ``product_channels.listing_cost`` (else the channel's); ``product_channels.allowed``
  false makes the channel ineligible for the product's cells. A channel is *used* (pays
  ``launch_cost``) iff it is open in some region; with ``channel_capacity`` its sales
  times ``capacity_use`` stay within ``channels.capacity``, with
  ``region_channel_capacity`` its sales in a region within ``region_channels.capacity``
  (a closed channel sells nothing, so "available only when used / open" is implied).
  Sets are enumerated for both demand models whatever form the model uses.
* Overlap counts offered (not sold) online-kind and offline-kind channels; ``o2o``
  counts as neither. Price parity compares online-kind with offline-kind channels, and
  o2o-kind with the kind ``price_parity.o2o_side`` names.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linprog

INF = math.inf
FEAS_TOL = 1e-9


def _split(v: Any) -> list[str]:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return []
    return [x.strip() for x in str(v).split(";") if x.strip()]


@dataclass
class _Cell:
    p: str
    r: str
    s: str
    D: float
    elig: list[int]  # channel indices
    share: dict[int, float]
    options: list[tuple[int, ...]] = field(default_factory=list)  # offered sets (sorted ks)


@dataclass
class Problem:
    """The scenario read into plain Python structures."""

    scen: Any
    K: list[str]
    ch: list[dict[str, Any]]
    products: dict[str, dict[str, Any]]
    brands: dict[str, dict[str, Any]]
    regions: dict[str, dict[str, Any]]
    cells: list[_Cell]
    levels: dict[tuple[str, int], list[tuple[str, float, float]]]  # (p,k) -> [(lvl, P, m)]
    open_cost: dict[tuple[str, int], float]
    forced_list: set[tuple[str, int]]
    forced_sell: set[tuple[str, int]]
    forced_open: set[tuple[str, int]]
    forced_offer: dict[int, set[int]]  # cell index -> channels
    vc_rk: dict[tuple[str, int], float]  # region's variable cost of a channel (replaces)
    cap_rk: dict[tuple[str, int], float]  # region's capacity of a channel (finite only)
    list_pk: dict[tuple[str, int], float]  # product's listing cost in a channel (replaces)
    vc_pk: dict[tuple[str, int], float]  # product's variable cost in a channel (added)
    use_pk: dict[tuple[str, int], float]  # capacity units per unit (default 1)

    def variable_cost(self, p: str, r: str, i: int) -> float:
        """Variable cost per unit of product p in region r through channel i."""
        base = self.vc_rk.get((r, i), float(self.ch[i]["variable_cost"]))
        return base + self.vc_pk.get((p, i), 0.0)

    def listing_cost(self, p: str, i: int) -> float:
        return self.list_pk.get((p, i), float(self.ch[i]["listing_cost"]))

    def capacity_use(self, p: str, i: int) -> float:
        return self.use_pk.get((p, i), 1.0)


# ----------------------------------------------------------------------------- reading


def read_problem(scen: Any) -> Problem:
    """Read a ``channel_opt.scenario.Scenario`` into a :class:`Problem`."""
    st = scen.settings
    rules = st.rules
    chdf = scen.channels
    K = [str(x) for x in chdf["id"]]
    ch = [dict(r) for r in chdf.to_dict("records")]
    kidx = {k: i for i, k in enumerate(K)}
    products = {str(r["id"]): dict(r) for r in scen.products.to_dict("records")}
    brands = {str(r["id"]): dict(r) for r in scen.brands.to_dict("records")}
    regions = {str(r["id"]): dict(r) for r in scen.regions.to_dict("records")}
    segs = {str(r["id"]): _split(r["channels"]) for r in scen.segments.to_dict("records")}
    reserved = dict(rules.reserved_segments or {})
    allowed_rk: dict[tuple[str, str], bool] = {}
    open_cost: dict[tuple[str, int], float] = {}
    rc_rows = scen.region_channels.to_dict("records") if "region_channels" in scen.tables \
        else []
    rc_cost = {}
    vc_rk: dict[tuple[str, int], float] = {}
    cap_rk: dict[tuple[str, int], float] = {}
    for row in rc_rows:
        allowed_rk[str(row["region"]), str(row["channel"])] = bool(row["allowed"])
        if not math.isnan(float(row["open_cost"])):
            rc_cost[str(row["region"]), str(row["channel"])] = float(row["open_cost"])
        if not math.isnan(float(row["variable_cost"])):
            vc_rk[str(row["region"]), kidx[str(row["channel"])]] = float(row["variable_cost"])
        if math.isfinite(float(row["capacity"])):
            cap_rk[str(row["region"]), kidx[str(row["channel"])]] = float(row["capacity"])
    # product x channel grain: listing cost (replaces), variable cost (added), capacity use
    pc_rows = scen.product_channels.to_dict("records") if "product_channels" in scen.tables \
        else []
    allowed_pk = {(str(r_["product"]), str(r_["channel"])): bool(r_["allowed"])
                  for r_ in pc_rows}
    list_pk = {(str(r_["product"]), kidx[str(r_["channel"])]): float(r_["listing_cost"])
               for r_ in pc_rows if not math.isnan(float(r_["listing_cost"]))}
    vc_pk = {(str(r_["product"]), kidx[str(r_["channel"])]): float(r_["variable_cost"])
             for r_ in pc_rows}
    use_pk = {(str(r_["product"]), kidx[str(r_["channel"])]): float(r_["capacity_use"])
              for r_ in pc_rows}
    for r in regions:
        for i, k in enumerate(K):
            open_cost[r, i] = rc_cost.get((r, k), float(ch[i]["open_cost"]))

    shares: dict[tuple[str, str, str], dict[int, float]] = {}
    for row in scen.shares.to_dict("records"):
        key = (str(row["product"]), str(row["region"]), str(row["segment"]))
        shares.setdefault(key, {})[kidx[str(row["channel"])]] = float(row["share"])

    def kind(i: int) -> str:
        return str(ch[i]["kind"])

    def forbidden(p: str, r: str, s: str, i: int) -> bool:
        prod = products[p]
        for rule in st.channel_rules:
            if rule.action != "forbid":
                continue
            if not _rule_matches_channel(rule, K[i], kind(i)):
                continue
            if _rule_matches_scope(rule, p, prod, r, s):
                return True
        return False

    cells: list[_Cell] = []
    for row in scen.cells.to_dict("records"):
        p, r, s = str(row["product"]), str(row["region"]), str(row["segment"])
        b = str(products[p]["brand"])
        D = float(row["market_size"]) * float(brands[b]["ramp_up"])
        sh = shares.get((p, r, s), {})
        elig = []
        for i in sorted(sh):
            a = sh[i]
            if not a * D > 0:
                continue
            if segs[s] and K[i] not in segs[s]:
                continue
            if s in reserved and K[i] not in reserved[s]:
                continue
            pk = _split(products[p]["allowed_kinds"])
            if pk and kind(i) not in pk:
                continue
            bk = _split(brands[b]["allowed_kinds"])
            if bk and kind(i) not in bk:
                continue
            if not allowed_rk.get((r, K[i]), True):
                continue
            if not allowed_pk.get((p, K[i]), True):
                continue
            if forbidden(p, r, s, i):
                continue
            elig.append(i)
        cells.append(_Cell(p, r, s, D, elig, {i: sh[i] for i in elig}))

    # price levels of every (p, k) a cell can use
    table_levels: dict[tuple[str, int], list[tuple[str, float, float]]] = {}
    if "price_levels" in scen.tables:
        for row in scen.price_levels.to_dict("records"):
            key = (str(row["product"]), kidx[str(row["channel"])])
            table_levels.setdefault(key, []).append(
                (str(row["level"]), float(row["price"]), float(row["demand_multiplier"])))
    usable_pk = {(c.p, i) for c in cells for i in c.elig}
    levels = {}
    for p, i in usable_pk:
        levels[p, i] = sorted(table_levels.get((p, i)) or
                              [("ref", float(products[p]["ref_price"]), 1.0)])

    # forcing
    usable_rk = {(c.r, i) for c in cells for i in c.elig}
    usable_bk = {(str(products[c.p]["brand"]), i) for c in cells for i in c.elig}
    forced_list: set[tuple[str, int]] = set()
    forced_sell: set[tuple[str, int]] = set()
    forced_open: set[tuple[str, int]] = set()
    forced_offer: dict[int, set[int]] = {}
    for rule in st.channel_rules:
        if rule.action != "force":
            continue
        chans = [i for i in range(len(K)) if _rule_matches_channel(rule, K[i], kind(i))]
        if rule.segment is not None:
            matched = False
            for ci, c in enumerate(cells):
                if c.s == rule.segment:
                    for i in chans:
                        if i in c.elig:
                            forced_offer.setdefault(ci, set()).add(i)
                            matched = True
            if not matched:
                raise ValueError(f"force rule {rule} matches no usable decision")
            continue
        if rule.product is not None or rule.season is not None:
            hit = {(p, i) for (p, i) in usable_pk if i in chans and (
                p == rule.product if rule.product is not None else
                bool(products[p]["in_season"]) == (rule.season == "in"))}
            forced_list |= hit
        elif rule.brand is not None:
            hit = {(b, i) for (b, i) in usable_bk if i in chans and b == rule.brand}
            forced_sell |= hit
        else:
            hit = {(r, i) for (r, i) in usable_rk if i in chans and
                   (rule.region is None or r == rule.region)}
            forced_open |= hit
        if not hit:
            raise ValueError(f"force rule {rule} matches no usable decision")

    cap = st.max_channels_per_cell
    for ci, c in enumerate(cells):
        need = forced_offer.get(ci, set())
        opts: list[tuple[int, ...]] = [] if need else [()]
        top = len(c.elig) if cap is None else min(cap, len(c.elig))
        for size in range(1, top + 1):
            for sub in itertools.combinations(c.elig, size):
                if need <= set(sub):
                    opts.append(sub)
        c.options = opts
    return Problem(scen, K, ch, products, brands, regions, cells, levels, open_cost,
                   forced_list, forced_sell, forced_open, forced_offer, vc_rk, cap_rk,
                   list_pk, vc_pk, use_pk)


def _rule_matches_channel(rule: Any, k: str, kind: str) -> bool:
    if rule.channel is not None:
        return bool(rule.channel == k)
    return bool(rule.kind == kind)


def _rule_matches_scope(rule: Any, p: str, prod: dict[str, Any], r: str, s: str) -> bool:
    if rule.product is not None:
        return bool(rule.product == p)
    if rule.brand is not None:
        return bool(rule.brand == prod["brand"])
    if rule.segment is not None:
        return bool(rule.segment == s)
    if rule.region is not None:
        return bool(rule.region == r)
    if rule.season is not None:
        return bool(prod["in_season"]) == (rule.season == "in")
    return True


# ----------------------------------------------------------------------------- demand


def demand(prob: Problem, c: _Cell, M: tuple[int, ...],
           lv: dict[tuple[str, int], int]) -> dict[int, float]:
    """Demand of each member of the offered set ``M`` at the levels ``lv`` (SPEC section
    4): under ``mnl`` a level's multiplier multiplies the channel's odds, under
    ``independent`` its demand.
    """
    mult = {i: prob.levels[c.p, i][lv[c.p, i]][2] for i in M}
    if prob.scen.settings.demand_model == "mnl":
        att = {i: mult[i] * c.share[i] / (1.0 - c.share[i]) for i in M}
        den = 1.0 + sum(att.values())
        return {i: c.D * att[i] / den for i in M}
    return {i: mult[i] * c.share[i] * c.D for i in M}


def design_space_size(prob: Problem) -> int:
    """Number of (offer design, level choice, policy choice) combinations."""
    n = 1
    for c in prob.cells:
        n *= max(1, len(c.options))
    return n * _n_global(prob)


def _n_global(prob: Problem) -> int:
    n = 1
    for v in prob.levels.values():
        n *= len(v)
    com = prob.scen.settings.rules.commission
    if com is not None and com.decision:
        n *= 2 ** len(prob.regions)
    return n


def _global_choices(prob: Problem) -> list[tuple[dict[tuple[str, int], int], dict[str, int]]]:
    pks = sorted(prob.levels)
    regs = sorted(prob.regions)
    com = prob.scen.settings.rules.commission
    pol_opts: list[dict[str, int]]
    if com is None:
        pol_opts = [{r: 0 for r in regs}]
    elif com.decision:
        pol_opts = [dict(zip(regs, bits, strict=True))
                    for bits in itertools.product((0, 1), repeat=len(regs))]
    else:
        pol_opts = [{r: 1 for r in regs}]
    lvl_opts = [dict(zip(pks, ls, strict=True)) for ls in
                itertools.product(*[range(len(prob.levels[pk])) for pk in pks])]
    return [(lv, pol) for lv in lvl_opts for pol in pol_opts]


# ----------------------------------------------------------------------------- sales


def _greedy(coef: list[float], ub: list[float], lo: float, hi: float) -> float | None:
    """max sum coef*q s.t. 0 <= q <= ub, lo <= sum q <= hi (None if infeasible)."""
    tot_ub = sum(ub)
    top = min(hi, tot_ub)
    if lo > top + FEAS_TOL * max(1.0, lo):
        return None
    pos = sum(u for cf, u in zip(coef, ub, strict=True) if cf > 0)
    target = min(max(pos, lo), top)
    val = 0.0
    left = target
    for cf, u in sorted(zip(coef, ub, strict=True), key=lambda t: -t[0]):
        take = min(u, left)
        if take <= 0:
            break
        val += cf * take
        left -= take
    return val


@dataclass
class _Col:
    cell: int
    k: int
    ub: float
    margin: float  # HQ margin less commission
    price: float
    partner: float  # partner income per unit incl. commission share


def _columns(prob: Problem, ci: int, M: tuple[int, ...], lv: dict[tuple[str, int], int],
             pol: dict[str, int]) -> list[_Col]:
    c = prob.cells[ci]
    d = demand(prob, c, M, lv)
    prod = prob.products[c.p]
    com = prob.scen.settings.rules.commission
    out = []
    for i in M:
        _, P, _m = prob.levels[c.p, i][lv[c.p, i]]
        chn = prob.ch[i]
        fs, fu = float(chn["fee_share"]), float(chn["fee_per_unit"])
        mu = (P * (1 - fs) - float(prod["unit_cost"]) - prob.variable_cost(c.p, c.r, i) - fu
              - float(chn["return_rate"]) * float(chn["return_cost"]))
        partner = fu + fs * P
        if com is not None and chn["kind"] == "online" and pol[c.r]:
            mu -= com.share * P
            partner += com.share * P
        out.append(_Col(ci, i, d[i], mu, P, partner))
    return out


def _cell_bounds(prob: Problem, c: _Cell) -> tuple[float, float]:
    rules = prob.scen.settings.rules
    hi = c.D if prob.scen.settings.demand_model == "independent" else INF
    lo = (rules.cell_service_level or 0.0) * c.D
    return lo, hi


def _coupling_rows(prob: Problem, cols: list[_Col], open_rk: set[tuple[str, int]]
                   ) -> tuple[list[dict[int, float]], list[float], list[dict[int, float]],
                              list[float]]:
    """The rows coupling cells: (<= rows, rhs, >= rows, rhs); rows map column -> coef."""
    rules = prob.scen.settings.rules
    le: list[dict[int, float]] = []
    le_b: list[float] = []
    ge: list[dict[int, float]] = []
    ge_b: list[float] = []
    cells = prob.cells

    def row(pred: Any, coef: Any) -> dict[int, float]:
        return {j: coef(col) for j, col in enumerate(cols) if pred(col) and coef(col) != 0}

    for r, reg in prob.regions.items():
        def in_r(col: _Col, r: str = r) -> bool:
            return cells[col.cell].r == r
        if rules.partner_floor is not None and float(reg["partner_profit_floor"]) > 0:
            ge.append(row(in_r, lambda col: col.partner))
            ge_b.append(float(reg["partner_profit_floor"]))
        if rules.dealer_min_volume is not None and float(reg["dealer_min_volume"]) > 0:
            for i, chn in enumerate(prob.ch):
                if float(chn["dealer_use"]) > 0 and (r, i) in open_rk:
                    ge.append(row(lambda col, r=r, i=i: in_r(col, r) and col.k == i,
                                  lambda col: 1.0))
                    ge_b.append(float(reg["dealer_min_volume"]))
        if rules.store_labour is not None and math.isfinite(float(reg["store_labour_hours"])):
            le.append(row(in_r, lambda col: float(prob.ch[col.k]["labour_hours"])
                          + float(prob.ch[col.k]["return_rate"])
                          * float(prob.ch[col.k]["return_labour_hours"])))
            le_b.append(float(reg["store_labour_hours"]))
        if rules.dealer_capacity is not None and math.isfinite(float(reg["dealer_capacity"])):
            le.append(row(in_r, lambda col: float(prob.ch[col.k]["dealer_use"])))
            le_b.append(float(reg["dealer_capacity"]))
        if rules.service_level is not None and float(reg["service_level"]) > 0:
            mk = sum(c.D for c in cells if c.r == r)
            ge.append(row(in_r, lambda col: 1.0))
            ge_b.append(float(reg["service_level"]) * mk)
    if rules.dc_capacity is not None:
        le.append(row(lambda col: True, lambda col: float(prob.ch[col.k]["dc_use"])))
        le_b.append(float(rules.dc_capacity))
    # channel capacities: a channel is used iff it is open somewhere (launch cost >= 0),
    # and sells only where open, so its capacity binds its sales everywhere
    if rules.channel_capacity is not None:
        for i, chn in enumerate(prob.ch):
            if math.isfinite(float(chn["capacity"])):
                le.append(row(lambda col, i=i: col.k == i,
                              lambda col: prob.capacity_use(cells[col.cell].p, col.k)))
                le_b.append(float(chn["capacity"]))
    if rules.region_channel_capacity is not None:
        for (r, i), cap in prob.cap_rk.items():
            le.append(row(lambda col, r=r, i=i: col.k == i and cells[col.cell].r == r,
                          lambda col: prob.capacity_use(cells[col.cell].p, col.k)))
            le_b.append(cap)
    if rules.inventory is not None:
        for p, prod in prob.products.items():
            if math.isfinite(float(prod["inventory"])):
                le.append(row(lambda col, p=p: cells[col.cell].p == p, lambda col: 1.0))
                le_b.append(float(prod["inventory"]))
    return le, le_b, ge, ge_b


def has_coupling(prob: Problem) -> bool:
    """Whether a rule couples cells (then each design needs its sales LP)."""
    rules = prob.scen.settings.rules
    regs = list(prob.regions.values())
    return any([
        rules.partner_floor is not None and any(r["partner_profit_floor"] > 0 for r in regs),
        rules.dealer_min_volume is not None and any(r["dealer_min_volume"] > 0 for r in regs),
        rules.store_labour is not None and any(math.isfinite(r["store_labour_hours"])
                                               for r in regs),
        rules.dealer_capacity is not None and any(math.isfinite(r["dealer_capacity"])
                                                  for r in regs),
        rules.service_level is not None and any(r["service_level"] > 0 for r in regs),
        rules.dc_capacity is not None,
        rules.channel_capacity is not None and any(math.isfinite(float(c["capacity"]))
                                                   for c in prob.ch),
        rules.region_channel_capacity is not None and bool(prob.cap_rk),
        rules.inventory is not None and any(math.isfinite(p["inventory"])
                                            for p in prob.products.values()),
    ])


def sales_lp(prob: Problem, design: list[int], lv: dict[tuple[str, int], int],
             pol: dict[str, int], open_rk: set[tuple[str, int]]) -> float | None:
    """Optimal variable profit (sales margin less commission) of a fixed design."""
    cols: list[_Col] = []
    for ci, j in enumerate(design):
        cols += _columns(prob, ci, prob.cells[ci].options[j], lv, pol)
    le, le_b, ge, ge_b = _coupling_rows(prob, cols, open_rk)
    for ci, c in enumerate(prob.cells):
        lo, hi = _cell_bounds(prob, c)
        mem = {j: 1.0 for j, col in enumerate(cols) if col.cell == ci}
        if math.isfinite(hi):
            le.append(mem)
            le_b.append(hi)
        if lo > 0:
            ge.append(mem)
            ge_b.append(lo)
    n = len(cols)
    if n == 0:
        ok = all(b <= FEAS_TOL for b in ge_b) and all(b >= -FEAS_TOL for b in le_b)
        return 0.0 if ok else None
    rows = [(r_, b_) for r_, b_ in zip(le, le_b, strict=True)] + \
        [({j: -v for j, v in r_.items()}, -b_) for r_, b_ in zip(ge, ge_b, strict=True)]
    A = np.zeros((len(rows), n))
    b = np.zeros(len(rows))
    for i, (r_, b_) in enumerate(rows):
        for j, v in r_.items():
            A[i, j] = v
        b[i] = b_
    res = linprog(-np.array([c.margin for c in cols]),
                  A_ub=A if len(rows) else None, b_ub=b if len(rows) else None,
                  bounds=[(0.0, c.ub) for c in cols], method="highs")
    if res.status == 2:
        return None
    if res.status != 0:
        raise RuntimeError(f"sales LP failed: {res.message}")
    return float(-res.fun)


# ----------------------------------------------------------------------------- search


@dataclass
class Result:
    """Best design found."""

    profit: float | None
    design: dict[str, Any] | None = None
    n_designs: int = 0
    n_lps: int = 0


def solve(scen: Any, *, max_combinations: int = 2_000_000) -> Result:
    """Best profit of the scenario by exhaustive enumeration (None: infeasible)."""
    prob = read_problem(scen)
    st = prob.scen.settings
    rules = st.rules
    cells = prob.cells
    n_c = len(cells)
    sizes = [len(c.options) for c in cells]
    if any(s == 0 for s in sizes):
        return Result(None)
    n_design = math.prod(sizes)
    gchoices = _global_choices(prob)
    if n_design * len(gchoices) > max_combinations:
        raise ValueError(f"design space too large: {n_design} x {len(gchoices)}")
    # all designs: option index per cell
    if n_c:
        grids = np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij")
        idx = np.stack([g.ravel() for g in grids], axis=1)
    else:
        idx = np.zeros((1, 0), np.int64)
    N = len(idx)
    K = prob.K
    nk = len(K)
    kinds = [str(c["kind"]) for c in prob.ch]

    # offered channels per design and cell, as booleans (any number of channels)
    OM = np.zeros((N, n_c, nk), bool)
    for ci, c in enumerate(cells):
        lut = np.zeros((max(1, len(c.options)), nk), bool)
        for j, M in enumerate(c.options):
            lut[j, list(M)] = True
        OM[:, ci, :] = lut[idx[:, ci]]

    def or_over(sel: list[int]) -> np.ndarray:
        return OM[:, sel, :].any(axis=1) if sel else np.zeros((N, nk), bool)

    def forced_mask(forced: set[tuple[str, int]], key: str) -> np.ndarray:
        out = np.zeros(nk, bool)
        for x, i in forced:
            if x == key:
                out[i] = True
        return out

    feas = np.ones(N, bool)
    fixed = np.zeros(N)
    # openings
    open_mask: dict[str, np.ndarray] = {}
    for r in prob.regions:
        m = or_over([ci for ci, c in enumerate(cells) if c.r == r]) | forced_mask(
            prob.forced_open, r)
        open_mask[r] = m
        for i in range(nk):
            fixed += prob.open_cost[r, i] * m[:, i]
    # channel launch: used iff open in some region
    used = np.zeros((N, nk), bool)
    for m in open_mask.values():
        used |= m
    fixed += used @ np.array([float(c["launch_cost"]) for c in prob.ch])
    # listings
    list_mask: dict[str, np.ndarray] = {}
    for p in prob.products:
        m = or_over([ci for ci, c in enumerate(cells) if c.p == p]) | forced_mask(
            prob.forced_list, p)
        list_mask[p] = m
        for i in range(nk):
            fixed += prob.listing_cost(p, i) * m[:, i]
    # brands: sold, launched, single kind
    for b, br in prob.brands.items():
        m = np.zeros((N, nk), bool) | forced_mask(prob.forced_sell, b)
        for p, prod in prob.products.items():
            if prod["brand"] == b:
                m |= list_mask[p]
        if br["new"]:
            fixed += float(br["launch_cost"]) * m.any(axis=1)
        if br["single_kind"]:
            n_kinds = sum(m[:, [i for i in range(nk) if kinds[i] == kd]].any(axis=1)
                          for kd in ("online", "offline", "o2o"))
            feas &= n_kinds <= 1
    # stock / shelf space
    if rules.shelf_space is not None:
        stock_bits = np.array([bool(prob.ch[i]["uses_store_stock"]) for i in range(nk)])
        for r, reg in prob.regions.items():
            used = np.zeros(N)
            for p, prod in prob.products.items():
                m = or_over([ci for ci, c in enumerate(cells) if c.p == p and c.r == r])
                used += float(prod["shelf_space"]) * (m & stock_bits).any(axis=1)
            cap = float(reg["shelf_capacity"])
            feas &= used <= cap + 1e-9 * max(1.0, abs(cap))
    # overlap
    if rules.overlap is not None:
        on_bits = np.array([kinds[i] == "online" for i in range(nk)])
        off_bits = np.array([kinds[i] == "offline" for i in range(nk)])
        count = np.zeros(N)
        for p in prob.products:
            for r in prob.regions:
                m = or_over([ci for ci, c in enumerate(cells) if c.p == p and c.r == r])
                count += (m & on_bits).any(axis=1) & (m & off_bits).any(axis=1)
        fixed += rules.overlap.cost * count
        if rules.overlap.max_pairs is not None:
            feas &= count <= rules.overlap.max_pairs + 1e-9
    base_feas = feas.copy()
    coupled = has_coupling(prob)

    cand_ub: list[np.ndarray] = []
    cand_fixed: list[np.ndarray] = []
    for lv, pol in gchoices:
        feas_g = base_feas.copy()
        # price parity on the listed pairs
        if rules.price_parity is not None:
            band = rules.price_parity.band
            bound = {("online", "offline"), ("o2o", rules.price_parity.o2o_side)}
            for p, prod in prob.products.items():
                ref = float(prod["ref_price"])
                for i1 in range(nk):
                    for i2 in range(nk):
                        if (kinds[i1], kinds[i2]) not in bound:
                            continue
                        if (p, i1) not in prob.levels or (p, i2) not in prob.levels:
                            continue
                        P1 = prob.levels[p, i1][lv[p, i1]][1]
                        P2 = prob.levels[p, i2][lv[p, i2]][1]
                        if abs(P1 - P2) > band * ref + 1e-9:
                            feas_g &= ~(list_mask[p][:, i1] & list_mask[p][:, i2])
        pol_cost = 0.0
        if rules.commission is not None and rules.commission.decision:
            pol_cost = rules.commission.policy_cost * sum(pol.values())
        # per-cell closed-form optimum of every option, and upper bounds on what the
        # cell can contribute to the coupling floors (necessary conditions, to skip LPs)
        val = np.zeros(N) - fixed - pol_cost
        reg_income = {r: np.zeros(N) for r in prob.regions}
        reg_sales = {r: np.zeros(N) for r in prob.regions}
        reg_dealer = {(r, i): np.zeros(N) for r in prob.regions for i in range(nk)}
        for ci, c in enumerate(cells):
            lo, hi = _cell_bounds(prob, c)
            n_o = len(c.options)
            v, inc, sal = np.empty(n_o), np.empty(n_o), np.empty(n_o)
            dl = np.zeros((n_o, nk))
            for j, M in enumerate(c.options):
                cols = _columns(prob, ci, M, lv, pol)
                ubs = [x.ub for x in cols]
                g = _greedy([x.margin for x in cols], ubs, lo, hi)
                v[j] = -INF if g is None else g
                inc[j] = _greedy([x.partner for x in cols], ubs, 0.0, hi) or 0.0
                sal[j] = min(sum(ubs), hi)
                for x in cols:
                    dl[j, x.k] = min(x.ub, hi)
            val += v[idx[:, ci]]
            reg_income[c.r] += inc[idx[:, ci]]
            reg_sales[c.r] += sal[idx[:, ci]]
            for i in range(nk):
                reg_dealer[c.r, i] += dl[idx[:, ci], i]
        if coupled:
            for r, reg in prob.regions.items():
                if rules.partner_floor is not None:
                    fl = float(reg["partner_profit_floor"])
                    feas_g &= reg_income[r] >= fl - 1e-7 * max(1.0, fl)
                if rules.service_level is not None:
                    need = float(reg["service_level"]) * sum(c.D for c in cells if c.r == r)
                    feas_g &= reg_sales[r] >= need - 1e-7 * max(1.0, need)
                if rules.dealer_min_volume is not None:
                    vmin = float(reg["dealer_min_volume"])
                    for i in range(nk):
                        if float(prob.ch[i]["dealer_use"]) > 0 and vmin > 0:
                            is_open = open_mask[r][:, i]
                            feas_g &= ~is_open | (reg_dealer[r, i] >= vmin - 1e-7 * vmin)
        val[~feas_g] = -INF
        cand_ub.append(val)
        cand_fixed.append(fixed + pol_cost)

    ub_all = np.concatenate(cand_ub)
    fixed_all = np.concatenate(cand_fixed)
    if not np.isfinite(ub_all).any():
        return Result(None, n_designs=N * len(gchoices))
    if not coupled:
        best = int(np.argmax(ub_all))
        gi, di = divmod(best, N)
        return Result(float(ub_all[best]), _describe(prob, idx[di], gchoices[gi]),
                      N * len(gchoices))
    order = np.argsort(-ub_all, kind="stable")
    best_val: float | None = None
    best_des = None
    n_lp = 0
    for t in order:
        ub = ub_all[t]
        if not np.isfinite(ub):
            break
        if best_val is not None and ub <= best_val + 1e-9 * max(1.0, abs(best_val)):
            break
        gi, di = divmod(int(t), N)
        lv, pol = gchoices[gi]
        design = [int(x) for x in idx[di]]
        open_rk = {(r, i) for r in prob.regions for i in range(nk) if open_mask[r][di, i]}
        n_lp += 1
        v = sales_lp(prob, design, lv, pol, open_rk)
        if v is None:
            continue
        total = v - float(fixed_all[t])
        if best_val is None or total > best_val:
            best_val, best_des = total, _describe(prob, idx[di], gchoices[gi])
    return Result(best_val, best_des, N * len(gchoices), n_lp)


def _describe(prob: Problem, design: np.ndarray, g: tuple[dict[tuple[str, int], int],
                                                        dict[str, int]]) -> dict[str, Any]:
    lv, pol = g
    offers = {}
    for ci, j in enumerate(design):
        c = prob.cells[ci]
        offers[c.p, c.r, c.s] = [prob.K[i] for i in c.options[int(j)]]
    return {"offers": offers,
            "levels": {(p, prob.K[i]): prob.levels[p, i][l_][0] for (p, i), l_ in lv.items()},
            "policy": pol}


def best_profit(scen: Any) -> float | None:
    """Best profit of a tiny scenario (None when no design is feasible)."""
    return solve(scen).profit
