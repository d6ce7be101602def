"""The product-block bound: the split by product, a valid bound at any multipliers,
steps that lower it, and the solve path that reports it.

Validity is checked against answers found without it: the LP relaxation's optimum
(dual simplex on the whole model), the hand optimum of ``tiny`` (7,440) and the
independent brute force (``tests/bruteforce.py``) on random tiny scenarios.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from random_scenarios import (  # noqa: E402
    SLOW_HEALTH,
    brute_optimum,
    shrink_to_limit,
    tiny_scenarios,
)

import channel_opt  # noqa: E402
from benchmarks.generator import generate  # noqa: E402
from channel_opt.model import build_array_model  # noqa: E402
from channel_opt.model.linear import ArrayModel, HighsArrays  # noqa: E402
from channel_opt.model.registry import ROW  # noqa: E402
from channel_opt.scenario import Scenario, load_scenario  # noqa: E402
from channel_opt.solving import blocks as blocks_module  # noqa: E402
from channel_opt.solving import pipeline  # noqa: E402
from channel_opt.solving.blocks import ProductBlocks, _project, block_relax  # noqa: E402
from channel_opt.solving.decompose_parts import (  # noqa: E402
    COUPLING,
    PRODUCT_KEYED,
    DecompositionError,
    _piece,
    build_pieces,
    classify,
)
from channel_opt.solving.engines.highs import solve_lp  # noqa: E402
from channel_opt.solving.relaxation import dual_bound, partial_relax, relax  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "instances" / "tiny" / "tiny.yaml"
TOL = 1e-6


def _generated(family: str, cells: int, seed: int = 0) -> ArrayModel:
    tables, settings_ = generate(family, cells, seed)
    return build_array_model(Scenario.from_frames(tables, settings_, name=family))[0]


def _lp(am: ArrayModel) -> float:
    rel = relax(am, None, method="simplex")
    assert rel.status == "optimal" and rel.bound is not None
    return rel.bound


def _at_least(value: float, floor: float) -> bool:
    return value >= floor - TOL * max(1.0, abs(floor))


# ------------------------------------------------------------------ the split


@pytest.mark.parametrize(("family", "across"), [
    ("conflict", {"overlap_budget"}),
    ("partners", {"partner_floor", "commission_lower", "commission_upper_revenue",
                  "dealer_min_volume"})])
def test_rows_across_products_are_the_families_that_sum_over_products(
        family: str, across: set[str]) -> None:
    """Split by product, one product a piece: the rows across products are exactly
    those of families whose registry coupling holds no product (region, global); every
    other row keeps the columns of one product.
    """
    am = _generated(family, 300)
    split = classify(am, by="product")
    assert len(split.keys) > 2
    found = {c.name for c in am.cons.values()
             if (split.row_kind[c.start:c.start + c.n] == COUPLING).any()}
    assert found == across
    assert not any(ROW[name].coupling in PRODUCT_KEYED for name in found)
    # pieces of about 2,000 columns: fewer pieces, the same rows across them or fewer
    grouped = classify(am, by="product", piece_columns=2000)
    assert 1 < len(grouped.keys) < len(split.keys)
    assert set(np.flatnonzero(grouped.row_kind == COUPLING)) <= \
        set(np.flatnonzero(split.row_kind == COUPLING))


def test_pieces_built_in_one_pass_are_the_pieces_one_by_one() -> None:
    """The rows and columns of every piece, grouped in one sort, are those a scan per
    piece finds; each piece's matrix, renumbered by a search in its columns, is the
    model's rows and columns sliced; pieces are numbered in order of first appearance.
    """
    am = _generated("all", 300)
    a = am.matrix("csr")
    for piece_columns in (None, 2000):
        split = classify(am, by="product", piece_columns=piece_columns)
        rows, cols = split.rows_by_piece(), split.cols_by_piece()
        assert len(rows) == len(cols) == len(split.keys) > 2
        for r in range(len(split.keys)):
            assert np.array_equal(rows[r], np.flatnonzero(split.row_kind == r))
            assert np.array_equal(cols[r], np.flatnonzero(split.col_key == r))
        master, pieces = build_pieces(am, split)
        for piece, rw in zip(pieces, rows, strict=True):
            arr = piece.arrays
            got = sp.csc_matrix((arr.value, arr.index, arr.start),
                                shape=(arr.n_rows, arr.n_cols)).toarray()
            want = a[rw][:, np.concatenate([piece.cols, piece.copies])].toarray()
            assert np.array_equal(got, want)
    first = next(b for b in am.vars.values() if "product" in b.labels.columns)
    assert classify(am, by="product").keys[0] == str(first.labels["product"].iloc[0])
    # a row holding a column the piece has not is an error, not a wrong matrix
    rows = np.flatnonzero(split.row_kind == 0)[:1]
    other = np.flatnonzero(split.col_key == 1)
    with pytest.raises(DecompositionError, match="holds? columns it has not"):
        _piece("p0", sp.csr_matrix(([1.0], [other[0]], [0, 1]), shape=(1, am.n_cols)), rows,
               np.flatnonzero(split.col_key == 0), np.zeros(0, np.int64), *am.bounds(),
               am.integrality(), *am.row_bounds())


# ------------------------------------------------------------------ a valid bound


def _bound_checks(am: ArrayModel, opt: float, seed: int, piece_columns: int = 1) -> None:
    """At λ = 0, at the LP's duals and at random λ: the bound is at least the LP's
    optimum (so at least ``opt``) and at most the pieces' own total (their LP values
    and λ's row terms: the prices are put together right)."""
    lp = _lp(am)
    assert _at_least(lp, opt)
    blocks = ProductBlocks(am, piece_columns=piece_columns, workers=1)
    rel = relax(am, None, method="simplex")
    assert rel.duals is not None
    rng = np.random.default_rng(seed)
    scale = max(1.0, float(np.abs(am.cost).max()))
    tries = [np.zeros(len(blocks.cross)), rel.duals[blocks.cross],
             *(rng.normal(0, scale, len(blocks.cross)) for _ in range(3))]
    for k, lam in enumerate(tries):
        ev = blocks.evaluate(_project(lam, blocks.row_lo, blocks.row_up))
        assert ev.status == "optimal"
        assert _at_least(ev.bound, lp), (ev.bound, lp)
        assert _at_least(ev.pieces, ev.bound), (ev.pieces, ev.bound)
        if k % 2:  # shares of the shared columns by use: still a bound
            blocks.resplit()
            paid = sum(np.bincount(blocks._cols(i), weights=share, minlength=am.n_cols)
                       for i, share in enumerate(blocks.share))
            assert np.allclose(paid[paid > 0], 1.0)  # every cost paid once in all


def test_block_bound_is_valid_on_known_optima() -> None:
    """tiny: two products, a partner floor across them (7,440 by hand,
    instances/tiny/README.md); 300 cells of `partners` and `conflict` against their
    LP optimum."""
    _bound_checks(build_array_model(load_scenario(TINY))[0], 7440.0, 0)
    for family in ("partners", "conflict"):
        am = _generated(family, 300, 3)
        _bound_checks(am, -np.inf, 1, piece_columns=1500)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=SLOW_HEALTH)
@given(tiny_scenarios(), st.integers(0, 10**6))
def test_block_bound_is_valid_on_bruteforced_scenarios(
        case: tuple[dict[str, Any], dict[str, Any]], seed: int) -> None:
    scen, refused = shrink_to_limit(*case)
    assume(not refused)
    opt = brute_optimum(scen)
    am, _ = build_array_model(scen)
    assume(am.n_cols > 0)
    _bound_checks(am, opt, seed)


def test_steps_lower_the_bound_toward_the_lp() -> None:
    """300 cells of `partners` (seed 3): the floors and dealer minimums across
    products, unpriced at λ = 0, leave the bound above the LP; the steps toward the
    LP's value lower it and it stays at or above the LP."""
    am = _generated("partners", 300, 3)
    lp = _lp(am)
    first = block_relax(am, None, target=lp, iterations=0, piece_columns=1500)
    steps = block_relax(am, None, target=lp, iterations=25, piece_columns=1500)
    assert first.bound is not None and steps.bound is not None
    assert _at_least(steps.bound, lp)
    assert steps.bound < first.bound - 1e-4 * abs(first.bound), (steps.bound, first.bound)


def test_steps_until_the_time_or_the_gap() -> None:
    """Same case: ``iterations=None`` steps until the time limit (or until the steps
    stop lowering it), below what 5 steps reach and still at or above the LP; with
    ``gap`` they stop once the bound is within it of the target (a 50 % gap: the first
    bound, no step)."""
    am = _generated("partners", 300, 3)
    lp = _lp(am)
    first = block_relax(am, None, target=lp, iterations=0, piece_columns=1500)
    five = block_relax(am, None, target=lp, iterations=5, piece_columns=1500)
    timed = block_relax(am, 4.0, target=lp, iterations=None, piece_columns=1500)
    near = block_relax(am, 4.0, target=lp, iterations=None, gap=0.5, piece_columns=1500)
    assert first.bound is not None and five.bound is not None
    assert timed.bound is not None and near.bound is not None
    assert _at_least(timed.bound, lp)
    assert timed.bound < five.bound - 1e-6 * abs(five.bound), (timed.bound, five.bound)
    assert near.bound == first.bound


def _split_lp(blocks: ProductBlocks) -> float:
    """The split's own LP, built apart from the bundle: each piece with its own copies
    of the shared columns (unlinked), each copy paying its share of the cost and
    counting its share in the rows across products. The bundle's Lagrangian dual over
    those rows equals this LP's optimum (LP duality), so it is what its bound reaches.
    """
    am = blocks.am
    mats, cost, lo, up, rlo, rup, cross = [], [], [], [], [], [], []
    for i, p in enumerate(blocks.pieces):
        arr, cols, share = p.arrays, blocks._cols(i), blocks.share[i]
        mats.append(sp.csc_matrix((arr.value, arr.index, arr.start),
                                  shape=(arr.n_rows, arr.n_cols)))
        cost.append(am.cost[cols] * share)
        lo.append(arr.col_lower)
        up.append(arr.col_upper)
        rlo.append(arr.row_lower)
        rup.append(arr.row_upper)
        cross.append(blocks.a_cross[:, cols] @ sp.diags(share))
    a = sp.vstack([sp.block_diag(mats), sp.hstack(cross)]).tocsc()
    n = a.shape[1]
    arrays = HighsArrays(n, a.shape[0], -1, np.concatenate(cost), np.concatenate(lo),
                         np.concatenate(up), np.concatenate([*rlo, blocks.row_lo]),
                         np.concatenate([*rup, blocks.row_up]), a.indptr.astype(np.int32),
                         a.indices.astype(np.int32), a.data, np.zeros(n, np.int32))
    out = solve_lp(arrays, method="simplex")
    assert out.status == "optimal" and out.value is not None
    return out.value


def test_bundle_reaches_the_split_lp() -> None:
    """300 cells of `capacity` (seed 3), shares even (no resplit): the bundle's bound
    meets the split's LP (:func:`_split_lp`, solved apart) within 1e-5 (it may go
    below it: the bound merges the copies' reduced costs), at or above the model's
    LP; the subgradient alone, with as many steps, stays 1.6 % above it."""
    am = _generated("capacity", 300, 3)
    lp = _lp(am)
    split = _split_lp(ProductBlocks(am, piece_columns=1500))
    assert _at_least(split, lp)
    kw = dict(target=lp, iterations=120, piece_columns=1500, resplit=False)
    bundle = block_relax(am, None, **kw)  # type: ignore[arg-type]
    alone = block_relax(am, None, bundle=False, **kw)  # type: ignore[arg-type]
    assert bundle.bound is not None and alone.bound is not None
    assert _at_least(bundle.bound, lp)
    assert bundle.bound <= split + 1e-5 * abs(split), (bundle.bound, split)
    assert alone.bound > split + 1e-5 * abs(split), (alone.bound, split)


def test_bundle_point_when_its_last_master_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundle ends after a step that added cuts, and its master over the whole λ
    space has no optimum (its cuts cannot meet the rows across products): the point
    is the last boxed master's, the cuts added since weighted 0."""
    am = _generated("capacity", 300, 3)
    lp = _lp(am)
    real = blocks_module._Bundle.master

    def unbounded(self: Any, center: np.ndarray, box: bool = True) -> Any:
        return real(self, center, box) if box else None

    monkeypatch.setattr(blocks_module._Bundle, "master", unbounded)
    rel = block_relax(am, None, target=lp, iterations=35, piece_columns=1500, resplit=False)
    assert rel.bound is not None and _at_least(rel.bound, lp)
    assert rel.x is not None and rel.x.shape == (am.n_cols,)
    lo, up = am.bounds()
    assert (rel.x >= lo - 1e-6).all() and (rel.x <= up + 1e-6).all()


def _large_path_tiny(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[float]]:
    """tiny solved on the large-model path with the product blocks on (they come
    first where the LP is not expected to finish in its share: here an LP as slow as
    one column per hour, so the MIP, which could not solve its root LP in its time
    either, is not started): the solution and the bounds the blocks returned."""
    monkeypatch.setattr(pipeline, "IN_PROCESS_NONZEROS", 0)  # the large-model path
    monkeypatch.setattr(pipeline, "LP_COLUMNS_PER_SECOND", 1 / 3600)
    seen: list[float] = []
    real = pipeline.block_relax

    def spy(*args: Any, **kwargs: Any) -> Any:
        rel = real(*args, **kwargs)
        seen.append(rel.bound)
        return rel

    monkeypatch.setattr(pipeline, "block_relax", spy)
    return channel_opt.solve(load_scenario(TINY), time_limit=60), seen


def test_solve_reports_the_block_bound(monkeypatch: pytest.MonkeyPatch,
                                      caplog: pytest.LogCaptureFixture) -> None:
    """tiny on the large-model path: the optimum 7,440 is found, unproven, and the
    reported bound is at least it. The first constructive plan has a line of its own
    (a long run's log shows where the plans that replace it started)."""
    with caplog.at_level(logging.INFO, logger="channel_opt"):
        sol, seen = _large_path_tiny(monkeypatch)
    first = [r.getMessage() for r in caplog.records
             if r.getMessage().startswith("constructive plan: ")]
    assert len(first) == 1
    assert 0 < float(first[0].split()[2].replace(",", "")) <= 7440.0 + 1e-6
    assert seen and _at_least(seen[0], 7440.0)
    assert sol.plan_status == "feasible" and abs(sol.objective - 7440.0) < 1e-6
    assert sol.termination == "time_limit" and "not started" in sol.solver_message
    assert sol.bound is not None and _at_least(sol.bound, 7440.0)


def test_pieces_loaded_one_at_a_time_where_they_would_not_fit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the pieces would not fit in memory together, each is loaded when solved
    from its last basis and none is kept: at every ``λ`` the pieces' total is the one
    of the pieces held (each piece's LP optimum), and the bundle still meets the
    split's LP (300 cells of `capacity`, as ``test_bundle_reaches_the_split_lp``)."""
    am = _generated("capacity", 300, 3)
    held = ProductBlocks(am, piece_columns=1500)
    assert held.held  # the machine holds them
    lp, split = _lp(am), _split_lp(held)
    monkeypatch.setenv("CHANNEL_OPT_MEMORY", "1000")  # 1,000 bytes: nothing fits
    one = ProductBlocks(am, piece_columns=1500)
    assert not one.held
    rng = np.random.default_rng(0)
    lam = np.zeros(len(one.cross))
    for _ in range(4):
        a, b = held.evaluate(lam), one.evaluate(lam)
        assert a.status == b.status == "optimal"
        assert abs(a.pieces - b.pieces) <= 1e-7 * abs(a.pieces), (a.pieces, b.pieces)
        lam = _project(lam + rng.random(len(lam)) * np.abs(am.cost).max() * 1e-3,
                       one.row_lo, one.row_up)
    assert all(h is None for h in one._highs) and all(b is not None for b in one._basis)
    rel = block_relax(am, None, target=lp, iterations=120, piece_columns=1500, resplit=False)
    assert rel.bound is not None and _at_least(rel.bound, lp)
    assert rel.bound <= split + 1e-5 * abs(split), (rel.bound, split)


def test_solve_with_no_memory_for_a_copy_of_the_model(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """tiny on the large-model path with no memory for a solver copy of the model
    (10^6 cells of `capacity`: 130 M nonzeros, about 30 GB a copy): no LP, no MIP,
    no plan rounded from the blocks' point (a copy too), yet the blocks' bound (pieces
    loaded one at a time) and the search find the hand optimum 7,440 and bound it."""
    monkeypatch.setenv("CHANNEL_OPT_MEMORY", "1000")

    def no_copy(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a plan rounded on a copy of the whole model")

    monkeypatch.setattr(pipeline, "rounded_plan", no_copy)
    sol, seen = _large_path_tiny(monkeypatch)
    assert seen and seen[0] is not None and _at_least(seen[0], 7440.0)
    assert sol.plan_status == "feasible" and abs(sol.objective - 7440.0) < 1e-6
    assert "not started" in sol.solver_message
    assert sol.bound is not None and _at_least(sol.bound, 7440.0)


# ------------------------------------------------------------------ the demand rows priced


def _partial_checks(am: ArrayModel, opt: float, seed: int) -> None:
    """The LP with the demand rows priced (``relaxation.partial_relax``): at any prices
    a bound at least the LP's optimum (so at least ``opt``) and at most the Lagrangian
    value of the same prices (the held rows' duals are then optimized, not guessed);
    at the LP's own duals the LP's optimum itself (strong duality on the held rows).
    """
    lp = _lp(am)
    assert _at_least(lp, opt)
    rel = relax(am, None, method="simplex")
    assert rel.duals is not None
    rng = np.random.default_rng(seed)
    scale = max(1.0, float(np.abs(am.cost).max()))
    blocks = block_relax(am, None, target=lp, iterations=20, piece_columns=1500)
    tries = [np.zeros(am.n_rows), rel.duals, rng.normal(0, scale, am.n_rows), blocks.duals]
    for k, pi in enumerate(tries):
        if pi is None:
            continue
        part = partial_relax(am, pi)
        assert part.status == "optimal" and part.bound is not None and part.duals is not None
        assert _at_least(part.bound, lp), (k, part.bound, lp)
        assert part.bound <= dual_bound(am, pi) + 1e-6 * max(1.0, abs(lp)), k
        assert part.bound == pytest.approx(dual_bound(am, part.duals), rel=1e-12)
        if k == 1:
            assert part.bound == pytest.approx(lp, rel=1e-6)


def test_demand_rows_priced_bound_on_known_optima() -> None:
    """tiny (7,440 by hand) and 300 cells of `all` and `partners` (their LP optimum)."""
    _partial_checks(build_array_model(load_scenario(TINY))[0], 7440.0, 0)
    for family in ("all", "partners"):
        _partial_checks(_generated(family, 300, 3), -np.inf, 1)


@pytest.mark.slow
@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=SLOW_HEALTH)
@given(tiny_scenarios(), st.integers(0, 10**6))
def test_demand_rows_priced_bound_on_bruteforced_scenarios(
        case: tuple[dict[str, Any], dict[str, Any]], seed: int) -> None:
    scen, refused = shrink_to_limit(*case)
    assume(not refused)
    opt = brute_optimum(scen)
    am, _ = build_array_model(scen)
    assume(am.n_cols > 0 and "demand" in am.cons)
    _partial_checks(am, opt, seed)


def test_solve_reports_the_demand_rows_priced_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """300 cells of `all` on the large-model path (blocks in place of the LP): after
    the blocks, the LP with the demand rows priced at their duals gives the reported
    bound, below the blocks' and at least the LP's optimum."""
    am = _generated("all", 300, 3)
    lp = _lp(am)
    tables, settings_ = generate("all", 300, 3)
    monkeypatch.setattr(pipeline, "IN_PROCESS_NONZEROS", 0)
    monkeypatch.setattr(pipeline, "LP_COLUMNS_PER_SECOND", 1 / 3600)
    seen: dict[str, list[float]] = {"blocks": [], "partial": []}
    real_blocks, real_partial = pipeline.block_relax, pipeline.partial_relax

    def blocks_spy(*args: Any, **kwargs: Any) -> Any:
        rel = real_blocks(*args, **kwargs)
        seen["blocks"].append(rel.bound)
        return rel

    def partial_spy(*args: Any, **kwargs: Any) -> Any:
        rel = real_partial(*args, **kwargs)
        seen["partial"].append(rel.bound)
        return rel

    monkeypatch.setattr(pipeline, "block_relax", blocks_spy)
    monkeypatch.setattr(pipeline, "partial_relax", partial_spy)
    sol = channel_opt.solve(Scenario.from_frames(tables, settings_, name="all"), time_limit=15,
                            mip_gap=1e-6, sensitivity=False)
    assert seen["blocks"] and seen["partial"]
    blocks, partial = seen["blocks"][0], seen["partial"][0]
    assert blocks is not None and partial is not None and _at_least(partial, lp)
    assert partial < blocks and sol.bound == pytest.approx(partial, rel=1e-12)
    assert sol.method["bound_origin"] == pipeline.PARTIAL_ORIGIN
    assert sol.plan_status == "feasible" and sol.objective <= partial
