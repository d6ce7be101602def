"""A plan improved region by region and product by product: neighbourhood search
over the region split and the product split, taking turns.

Where the rules bind per region (partner floors, dealer minimum volumes, store
labour, shelf and dealer capacities, service levels: the `all` family, issue 13), the
constructive plan serves each region by rules of thumb and the plans rounded from a
relaxation keep its choices where the relaxation is fractional. At 10^3 cells of
`all` the constructive plan is 13 % below the optimum, four fifths of it in the
regions with floors, dealer minimums or capacities (sales and overlap costs).

**Neighbourhood.** A few regions at a time (``group``, 2 by default): their columns
(the registry's regional blocks, :func:`~channel_opt.solving.decompose_parts.classify`)
are free and every other column is fixed at the incumbent. What is left is a small
MIP: those columns and the rows that hold them, each row's side shifted by what the
fixed columns put in it. Its optimum is at least the incumbent's part (the incumbent
is its start), so the plan never gets worse (fix-and-optimize by region). Two
regions rather than one, because the rows across regions bind (inventory per
product, the DC capacity): alone, a region cannot take stock another one holds. The
groups are drawn anew each pass. Measured at 10^3 cells of `all` (optimum 1,498,381,
constructive plan 1,298,782, 40 s): one region 1,464,105, two 1,486,449, three
1,444,418 (their MIPs stop on the time limit).

**By product.** A region's MIP frees its regional columns only: a product's listings,
price levels and brand decisions (national) stay where the start plan put them, in
every region. The product split (``by="product"``: the same registry, keyed by
product) frees a few products at a time, every column of theirs in every region,
drawn together up to about ``PRODUCT_COLUMNS`` columns; the columns shared across
products (openings) stay fixed. Passes take turns between the splits of ``by``.
At 10^4 cells of `all`, 45 s from the same start and point (three instances,
seeds 0-2): by region alone 1.31 / 1.64 / 1.49 % below the blocks' bound, products
first then in turn 1.09 / 1.39 / 1.13 %, regions first 1.26 / 1.29 / 1.18 %
(``pipeline.SEARCH_BY``: products first).

**Boxes.** At 10^5 cells of `all` two regions hold about 110,000 columns, and on
such a MIP HiGHS' root cut separation (its path aggregation) ran 40-80 s past a
4-10 s limit, checking neither the limit nor the interrupt callback. A group of
regions above ``REGION_COLUMNS`` columns is cut by product into boxes: the group's
columns of one part of the products (the parts drawn anew each pass) and its
columns of no product (its commission, ...), in every box of the group, so that
two boxes of one group are never solved side by side. At 10^5 cells of `all`
(seed 1), 240 s from the same plan and point: whole regions 1.96 % below the
blocks' bound, boxes of 40,000 columns 1.49 %. At 10^4 cells two regions hold
23,500 columns and are not cut (boxes of 20,000: 1.40 % against 1.11 %).

**Size.** After a whole pass of a split, its next neighbourhoods hold twice the
pieces where at most ``GROW`` of the pass's MIPs ended on their time limit, and half
(never fewer than at the start, nor more than half the pieces) where fewer than
``SHRINK`` ended optimal: a MIP solved to its optimum well within its time says a
larger one fits (adaptive large neighbourhood search). At 10^4 cells of `all` the
MIPs after the first pass end optimal in 0.1-2 s, and the search stalled at a plan
0.67 % below one the whole model's RENS finds in 438 s (seed 0). 65 s from the same
plan and blocks' point, seeds 0-2, gap to the run's bound: fixed sizes 0.99 / 0.85 /
0.55 %, adaptive 0.86 / 0.72 / 0.59 %. At 10^5 cells (seed 1) the first two passes
keep their size (their MIPs end on their limits) and the run is as before.

**With a relaxation's point** (the LP's or the product blocks'), the integer columns
of a neighbourhood where the plan and the point's integral values agree stay fixed
too (RINS, Danna, Rothberg and Le Pape 2005, inside the neighbourhood): far smaller
MIPs. At 10^4 cells of `all` in 60 s from the constructive plan (15.70 M; blocks'
bound 17.51 M): 17.18 M with the fixings, 15.74 M without. When a pass with the
fixings finds nothing, the later passes free the whole neighbourhoods. The point
also orders the first pass: regions where it earns most above the plan first.

**Side by side.** HiGHS releases the GIL, so ``workers`` neighbourhoods with no
column in common are solved at once in threads. A row that holds several of them
gives each an equal part of its slack at the incumbent, so their new parts together
still fit; each part is then taken if the plan with it passes the row check and is
better.

Passes repeat until the time is used or, without fixings, one pass per split in a row
changes nothing with every neighbourhood solved to its optimum.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp

from ..model.linear import ArrayModel, HighsArrays, highs_from_arrays
from .backends import _quiet_stdout
from .check import check_rows
from .decompose_parts import (
    KEYED,
    DecompositionError,
    PieceResult,
    PieceTask,
    Split,
    classify,
    run_piece,
)
from .engines import relative_gap
from .engines.highs import Cancel, run_threads
from .relaxation import INTEGRAL

log = logging.getLogger(__name__)

MIN_SECONDS = 1.0  # the least a neighbourhood's MIP is given
# a split's neighbourhoods grow after a pass with at most this share of its MIPs on
# their limit, shrink after one with fewer than this share optimal (module docstring)
GROW, SHRINK = 0.2, 0.5


def neighbourhood_search(am: ArrayModel, x: np.ndarray, time_limit: float | None, *,
                         point: np.ndarray | None = None, mip_gap: float = 1e-3,
                         workers: int | None = None, group: int = 2, seed: int = 0,
                         stop_at: tuple[float, float] | None = None,
                         by: tuple[str, ...] = ("region",)) -> np.ndarray | None:
    """The plan ``x`` (feasible) improved neighbourhood by neighbourhood within
    ``time_limit`` (module docstring): the splits of ``by`` take turns pass by pass
    (``region``: ``group`` regions per MIP; ``product``: products drawn together up to
    about ``PRODUCT_COLUMNS`` columns; both at first, then sized by the last pass:
    without a time limit no MIP stops on one, so they grow to half the pieces),
    ``workers`` MIPs at once, each within a
    tenth-of-the-run's ``mip_gap`` of its own optimum; ``point`` (a relaxation's)
    orders each split's first pass and fixes where it agrees with the plan; ``seed``
    draws the groups after the first pass; with ``stop_at`` = (bound, gap) it stops
    once the plan is within that gap of that bound (the run's). None when nothing
    better was found (or no split has two pieces).
    """
    t0 = time.monotonic()
    unknown = sorted(set(by) - set(KEYED))
    if unknown:
        raise ValueError(f"neighbourhoods by {unknown}: the splits are {sorted(KEYED)}")
    known: dict[str, Split] = {}  # each split classified once (boxes read the products')
    splits = [nb for b in by if (nb := _split(am, b, group, known)) is not None]
    if not splits:  # no split with two pieces (or none the registry gives)
        return None
    integer = am.integrality().astype(bool)
    x = np.where(integer, np.rint(x), x)
    start_value = best = float(am.cost @ x)
    workers = workers or max(1, min(2, os.cpu_count() or 1))
    rng = np.random.default_rng(seed)
    csc, csr = am.matrix("csc"), am.matrix("csr")
    # with a point: the integer columns it sets integral (RINS fixes those of them
    # where the plan agrees), until the passes with them fixed find nothing
    agree = None if point is None else integer & (np.abs(point - np.rint(point)) <= INTEGRAL)
    passes = quiet = 0  # quiet: passes in a row that changed nothing, each MIP optimal
    while True:
        left = _left(time_limit, t0)
        if (left is not None and left < MIN_SECONDS) or _within(best, stop_at):
            break
        nb = splits[passes % len(splits)]
        n, key = len(nb.split.keys), nb.split.col_key
        if passes < len(splits) and point is not None:  # where the point earns most first
            gain = np.bincount(key[key >= 0], weights=(am.cost * (point - x))[key >= 0],
                               minlength=n)
            seq = np.argsort(-gain, kind="stable")
        else:  # drawn anew, so that pieces sharing a scarce stock meet in one MIP
            seq = rng.permutation(n)
        todo = nb.todo(seq, rng)
        per_pass = math.ceil(len(todo) / workers)
        changed, solved_to_optimum = False, True
        optimal = limited = 0  # this pass's MIPs ended optimal, and on their limit
        while todo:
            left = _left(time_limit, t0)
            if left is not None and left < MIN_SECONDS:
                solved_to_optimum = False
                break
            if _within(best, stop_at):
                break
            batch, todo = _take(todo, workers)
            # what is left of the time, shared as if one more pass were to follow this
            # one: a neighbourhood that uses all it gets does not starve the next pass
            per = None if left is None else max(MIN_SECONDS, left / (
                1 + math.ceil(len(todo) / workers) + per_pass))
            cols = [one.cols for one in batch]
            subs = _submodels(am, csc, csr, x, integer, cols, per, mip_gap)
            if agree is not None and point is not None:  # RINS inside the neighbourhood
                for c, task in zip(cols, subs, strict=True):
                    fix = agree[c] & (np.abs(x[c] - np.rint(point[c])) <= INTEGRAL)
                    task.arrays.col_lower[fix] = task.arrays.col_upper[fix] = x[c][fix]
            with _quiet_stdout():  # loaded here: stdout is switched per process
                hs = [highs_from_arrays(task.arrays) for task in subs]
            results = run_threads(partial(_run_nth, hs, subs, time.perf_counter()),
                                  len(subs), len(subs), Cancel(hs))
            for c, task, res in zip(cols, subs, results, strict=True):
                solved_to_optimum &= res.status == "optimal"
                optimal += res.status == "optimal"
                limited += res.status == "limit"
                if res.x is not None and \
                        float(task.arrays.cost @ res.x) > float(task.arrays.cost @ task.start):
                    trial = x.copy()
                    trial[c] = np.where(integer[c], np.rint(res.x), res.x)
                    value = float(am.cost @ trial)
                    if value > best + 1e-9 * max(1.0, abs(best)) and not check_rows(am, trial):
                        x, best, changed = trial, value, True
            log.info("neighbourhood search, pass %d by %s, %s: plan %s (%.1f s)", passes + 1,
                     nb.by, "; ".join(nb.name(one) for one in batch),
                     f"{best:,.2f}", time.monotonic() - t0)
        passes += 1
        if not todo and optimal + limited:  # a whole pass: its MIPs size the next ones
            was = nb.group
            if limited <= GROW * (optimal + limited):
                nb.resize(2.0)
            elif optimal < SHRINK * (optimal + limited):
                nb.resize(0.5)
            if nb.group != was:
                log.info("neighbourhoods by %s: %d of %d MIPs optimal, %d on their limit: "
                         "%d pieces a MIP (were %d)", nb.by, optimal, optimal + limited,
                         limited, nb.group, was)
        # without a time limit a MIP that ends neither optimal nor on a limit (an
        # error) would otherwise keep the search going for ever
        quiet = quiet + 1 if not changed and (solved_to_optimum or time_limit is None) else 0
        if quiet >= len(splits):  # every split's neighbourhoods at their optimum
            if agree is None:
                break
            agree, quiet = None, 0  # the fixings found all they could: free them
    if best <= start_value:
        return None
    log.info("neighbourhood search (%s): %s from %s in %d pass(es), %.1f s",
             ", ".join(nb.by for nb in splits), f"{best:,.2f}", f"{start_value:,.2f}",
             passes, time.monotonic() - t0)
    return x


# a product neighbourhood: products drawn together up to about this many columns. At
# 10^4 cells of `all` (seed 0: 185 products, 1,150 columns each), 60 s by product from
# the plan of a region search (17.268 M) with the blocks' point: 2 products a MIP
# 17.297 M, 8 (9,200 columns) 17.312 M, 20 17.307 M; 8 without the point's fixings
# 17.269 M
PRODUCT_COLUMNS = 10_000

# a region neighbourhood (a group of regions) above this many columns is cut by
# product into boxes (module docstring)
REGION_COLUMNS = 40_000


class _Neighbourhood(NamedTuple):
    """One MIP of a pass: its pieces, for a box the mask of its products (None: every
    product), and its columns.
    """

    pieces: np.ndarray
    part: np.ndarray | None
    cols: np.ndarray


@dataclass
class _Neighbourhoods:
    """One split's pieces (``own``: the columns of each), how many make a MIP
    (``group``, at least ``least``) and, for region boxes, each column's product (-1:
    none) and how many parts the products of a group of regions are cut into.
    """

    by: str
    split: Split
    own: list[np.ndarray]
    group: int
    product: np.ndarray | None = None
    least: int = 1

    @property
    def parts(self) -> int:
        """Boxes per group of regions: its columns over ``REGION_COLUMNS`` (1: whole)."""
        if self.product is None:
            return 1
        columns = self.group * sum(len(o) for o in self.own) / len(self.own)
        return max(1, min(math.ceil(columns / REGION_COLUMNS), int(self.product.max()) + 1))

    def resize(self, factor: float) -> None:
        """``group`` times ``factor``, within [``least``, half the pieces]."""
        self.group = max(self.least, min(round(self.group * factor), len(self.own) // 2))

    def todo(self, seq: np.ndarray, rng: np.random.Generator) -> list[_Neighbourhood]:
        """A pass's neighbourhoods in the order ``seq`` of the pieces: groups of
        ``group`` pieces, each with every product (``None``) or, for boxes, one part
        of the products at a time (a mask over products, drawn anew each pass),
        every group's first part before any group's second; a box without columns
        (the group sells none of the part's products) is left out.
        """
        groups = [seq[i:i + self.group] for i in range(0, len(seq), self.group)]
        whole = [np.concatenate([self.own[r] for r in g]) for g in groups]
        parts = self.parts
        if self.product is None or parts == 1:
            return [_Neighbourhood(g, None, c) for g, c in zip(groups, whole, strict=True)]
        part = rng.permutation(int(self.product.max()) + 1) % parts
        out = []
        for k in range(parts):
            mask = part == k
            for g, c in zip(groups, whole, strict=True):
                p = self.product[c]
                box = c[(p < 0) | mask[np.maximum(p, 0)]]  # its columns of no product too
                if len(box):  # else the group sells none of the part's products
                    out.append(_Neighbourhood(g, mask, box))
        return out

    def name(self, one: _Neighbourhood) -> str:
        """A neighbourhood for the log: its pieces (the first three and how many
        more) and, for a box, how many products.
        """
        names = [self.split.keys[r] for r in one.pieces]
        out = ", ".join(names) if len(names) <= 3 else \
            f"{', '.join(names[:3])} and {len(names) - 3} more"
        return out if one.part is None else f"{out} ({int(one.part.sum())} products)"


def _classified(am: ArrayModel, by: str, known: dict[str, Split]) -> Split:
    """``classify(am, by=by)``, kept in ``known`` (at 10^5 cells of `all` 2 s each)."""
    if by not in known:
        known[by] = classify(am, by=by)
    return known[by]


def _split(am: ArrayModel, by: str, group: int,
           known: dict[str, Split] | None = None) -> _Neighbourhoods | None:
    """The pieces ``by`` region or product, or None where there are fewer than two.
    A group of regions above ``REGION_COLUMNS`` columns is cut by product into boxes
    (module docstring). ``known``: the splits classified so far.
    """
    known = {} if known is None else known
    try:
        split = _classified(am, by, known)
    except DecompositionError as e:
        log.info("neighbourhoods by %s skipped: %s", by, e)
        return None
    n = len(split.keys)
    if n < 2:
        return None
    own = split.cols_by_piece()
    size = sum(len(o) for o in own)
    if by == "product":
        group = round(PRODUCT_COLUMNS * n / max(1, size))
    group = max(1, min(group, n // 2))
    nb = _Neighbourhoods(by, split, own, group, least=group)
    if by == "region":  # the products that cut a large group of regions into boxes
        try:
            product = _classified(am, "product", known).col_key
        except DecompositionError as e:  # no products to cut by: whole regions
            log.info("region neighbourhoods not cut by product: %s", e)
            return nb
        nb.product = product if product.max() >= 1 else None  # < 2 products: whole
    return nb


def _run_nth(hs: list[Any], tasks: list[PieceTask], t0: float, i: int) -> PieceResult:
    """The ``i``-th neighbourhood's MIP (for :func:`run_threads`)."""
    return run_piece(hs[i], tasks[i], t0)


def _take(todo: list[_Neighbourhood], workers: int
          ) -> tuple[list[_Neighbourhood], list[_Neighbourhood]]:
    """The next batch, the longest run at the front of ``todo`` of at most ``workers``
    neighbourhoods with no piece in common (the boxes of one group of regions share
    its columns of no product: one of them at a time), and what is left.
    """
    used: set[int] = set()
    k = 0
    while k < min(workers, len(todo)) and used.isdisjoint(pieces := todo[k].pieces.tolist()):
        used.update(pieces)
        k += 1
    return todo[:max(1, k)], todo[max(1, k):]


def _submodels(am: ArrayModel, csc: sp.csc_matrix, csr: sp.csr_matrix,
               x: np.ndarray, integer: np.ndarray,
               batch: list[np.ndarray], time_limit: float | None, mip_gap: float
               ) -> list[PieceTask]:
    """One MIP per neighbourhood of ``batch`` (its columns, disjoint): the rows
    holding them, each side shifted by the fixed columns' part at ``x``; a row that
    several of the batch's neighbourhoods hold gives each an equal part of its slack
    at ``x``.
    """
    lo, up = am.row_bounds()
    col_lo, col_up = am.bounds()
    cost = am.cost
    rows = [np.unique(csc[:, cols].indices) for cols in batch]
    shared = np.zeros(len(lo), np.int64)
    for rw in rows:
        shared[rw] += 1
    out = []
    ax = csr @ x
    for cols, rw in zip(batch, rows, strict=True):
        sub = csr[rw][:, cols]
        mine = sub @ x[cols]
        rest = ax[rw] - mine
        rlo, rup = lo[rw] - rest, up[rw] - rest
        k = shared[rw].astype(float)
        with np.errstate(invalid="ignore"):  # inf − inf does not occur: ``mine`` is finite
            rup = np.where(k > 1, mine + np.maximum(rup - mine, 0.0) / k, rup)
            rlo = np.where(k > 1, mine - np.maximum(mine - rlo, 0.0) / k, rlo)
        a = sub.tocsc()
        arr = HighsArrays(len(cols), len(rw), -1, cost[cols].astype(float),
                          col_lo[cols].astype(float), col_up[cols].astype(float),
                          rlo, rup, a.indptr.astype(np.int32), a.indices.astype(np.int32),
                          a.data.astype(np.float64), integer[cols].astype(np.int32),
                          "neighbourhood")
        out.append(PieceTask(arr, time_limit, mip_gap, start=x[cols], threads=1))
    return out


def _left(time_limit: float | None, t0: float) -> float | None:
    return None if time_limit is None else time_limit - (time.monotonic() - t0)


def _within(value: float, stop_at: tuple[float, float] | None) -> bool:
    if stop_at is None:
        return False
    gap = relative_gap(value, stop_at[0])
    return gap is not None and gap <= stop_at[1]
