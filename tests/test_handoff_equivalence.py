"""Both hand-offs give the same model.

The array model is passed to HiGHS in memory (``to_highs``) and turned into a Pyomo
model for every other backend (``to_pyomo``). Here the Pyomo model is read back
independently, row by row with ``generate_standard_repn``, and compared with what
HiGHS received (``Highs.getLp()``) and with the array model: same rows, columns,
coefficients, bounds, integrality and objective. Then both are solved (LP relaxation
everywhere; the MIP where it is small) and the optima agree to 1e-6 relative.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyomo.environ as pyo
import pytest
from pyomo.repn.standard_repn import generate_standard_repn

from channel_opt.model import build_array_model, to_highs, to_pyomo
from channel_opt.model.linear import ArrayModel
from channel_opt.scenario import Scenario, load_scenario
from channel_opt.solving.backends import BACKENDS, SolveOptions, get_backend

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.generator import generate  # noqa: E402

SHIPPED = ("tiny", "apparel", "electronics", "regional")
HAS_APPSI = BACKENDS["highs_pyomo"].is_available()


def _shipped(name: str) -> Scenario:
    path = ROOT / "instances" / name / f"{name}.yaml"
    if not path.exists():
        pytest.skip(f"instances/{name}/{name}.yaml is not shipped (yet)")
    return load_scenario(path)


def _generated(family: str, n_cells: int) -> Scenario:
    tables, settings = generate(family, n_cells, 0)
    return Scenario.from_frames(tables, settings, name=f"{family}_{n_cells}")


def _many_channels_with_levels() -> Scenario:
    """70 channels; three cells each eligible for a few of them (the top codes
    included), two with price levels: option labels like ``k69@promo+k03``.
    """
    ks = [f"k{i:02d}" for i in range(70)]
    elig = {"r1": ["k00", "k63", "k69"], "r2": ["k03", "k69"], "r3": ["k64"]}
    levels = [{"product": "P", "channel": k, "level": lv, "price": price,
               "demand_multiplier": m}
              for k in ("k69", "k64") for lv, price, m in (("list", 10.0, 1.0),
                                                          ("promo", 8.5, 2.5))]
    tables = {
        "channels": [{"id": k, "kind": ("online", "offline", "o2o")[i % 3],
                      "open_cost": 20.0 * (i % 4)} for i, k in enumerate(ks)],
        "brands": [{"id": "B"}],
        "products": [{"id": "P", "brand": "B", "unit_cost": 3.0, "ref_price": 10.0}],
        "regions": [{"id": r} for r in elig],
        "segments": [{"id": "S"}],
        "cells": [{"product": "P", "region": r, "segment": "S", "market_size": 100.0}
                  for r in elig],
        "shares": [{"product": "P", "region": r, "segment": "S", "channel": k,
                    "share": 0.3} for r, kk in elig.items() for k in kk],
        "price_levels": levels,
    }
    return Scenario.from_frames(tables, {"demand_model": "mnl"}, name="many_channels")


CASES: dict[str, Any] = {
    "many-channels-levels": _many_channels_with_levels,
    **{f"shipped-{n}": (lambda n=n: _shipped(n)) for n in SHIPPED},
    "generated-core-1e3": lambda: _generated("core", 1000),
    "generated-all-1e3": lambda: _generated("all", 1000),
    "generated-conflict-1e3": lambda: _generated("conflict", 1000),
}


def _opt(v: Any) -> float:
    """A Pyomo bound as a float (None -> +-inf is decided by the caller)."""
    return float(pyo.value(v))


def _label_keys(labels: Any) -> list[Any]:
    """Pyomo index of each row / column of a block, as the labels give it."""
    if labels.shape[1] == 1:
        return labels.iloc[:, 0].tolist()
    return list(labels.itertuples(index=False, name=None))


def read_pyomo(m: Any, am: ArrayModel) -> dict[str, Any]:
    """The Pyomo model as arrays, in the array model's row and column order.

    Rows are found by (component name, index) and read with ``generate_standard_repn``;
    columns are mapped through ``m._array_model_columns``.
    """
    col_of = {id(v): j for j, v in enumerate(m._array_model_columns)}
    assert len(col_of) == am.n_cols, "two columns share one Pyomo variable"
    n_vars = sum(1 for _ in m.component_data_objects(pyo.Var, descend_into=True))
    n_cons = sum(1 for _ in m.component_data_objects(pyo.Constraint, active=True,
                                                     descend_into=True))
    rows, cols, vals = [], [], []
    rlo = np.full(am.n_rows, np.nan)
    rup = np.full(am.n_rows, np.nan)
    for blk in am.cons.values():
        comp = m.component(blk.name)
        assert comp is not None, f"Pyomo model lacks constraint block {blk.name}"
        assert len(comp) == blk.n, blk.name
        for i, key in enumerate(_label_keys(blk.labels)):
            con = comp[key]
            g = blk.start + i
            repn = generate_standard_repn(con.body, compute_values=True)
            assert repn.is_linear(), f"{blk.name}[{key}] is not linear"
            coefs: dict[int, float] = {}
            for v, c in zip(repn.linear_vars, repn.linear_coefs, strict=True):
                j = col_of[id(v)]
                coefs[j] = coefs.get(j, 0.0) + float(c)
            for j, c in coefs.items():
                rows.append(g)
                cols.append(j)
                vals.append(c)
            const = float(repn.constant)
            rlo[g] = -np.inf if con.lower is None else _opt(con.lower) - const
            rup[g] = np.inf if con.upper is None else _opt(con.upper) - const
    lo = np.array([-np.inf if v.lb is None else float(v.lb) for v in m._array_model_columns])
    up = np.array([np.inf if v.ub is None else float(v.ub) for v in m._array_model_columns])
    integer = np.array([v.is_integer() for v in m._array_model_columns])
    objs = list(m.component_data_objects(pyo.Objective, active=True))
    assert len(objs) == 1
    orepn = generate_standard_repn(objs[0].expr, compute_values=True)
    cost = np.zeros(am.n_cols)
    for v, c in zip(orepn.linear_vars, orepn.linear_coefs, strict=True):
        cost[col_of[id(v)]] += float(c)
    import scipy.sparse as sp

    a = sp.coo_matrix((vals, (rows, cols)), shape=(am.n_rows, am.n_cols)).tocsr()
    a.sum_duplicates()
    return {"n_vars": n_vars, "n_cons": n_cons, "A": a, "row_lower": rlo, "row_upper": rup,
            "lower": lo, "upper": up, "integer": integer, "cost": cost,
            "maximize": objs[0].sense == pyo.maximize, "obj_constant": float(orepn.constant)}


def read_highs(h: Any) -> dict[str, Any]:
    """What HiGHS received, as arrays."""
    import scipy.sparse as sp

    lp = h.getLp()
    n, m = lp.num_col_, lp.num_row_
    am_ = lp.a_matrix_
    a = sp.csc_matrix((np.asarray(am_.value_), np.asarray(am_.index_), np.asarray(am_.start_)),
                      shape=(m, n)).tocsr()
    integ = np.asarray(lp.integrality_)
    integer = (np.array([int(x) for x in integ]) == 1) if len(integ) else np.zeros(n, bool)
    return {"A": a, "cost": np.asarray(lp.col_cost_), "lower": np.asarray(lp.col_lower_),
            "upper": np.asarray(lp.col_upper_), "row_lower": np.asarray(lp.row_lower_),
            "row_upper": np.asarray(lp.row_upper_), "integer": integer,
            "maximize": int(lp.sense_) == -1, "offset": float(lp.offset_)}


def _same_matrix(a: Any, b: Any) -> None:
    a, b = a.tocsr(), b.tocsr()
    a.sum_duplicates()
    b.sum_duplicates()
    a.eliminate_zeros()
    b.eliminate_zeros()
    assert a.shape == b.shape
    assert a.nnz == b.nnz
    assert np.array_equal(a.indptr, b.indptr)
    assert np.array_equal(a.indices, b.indices)
    np.testing.assert_allclose(a.data, b.data, rtol=1e-12, atol=0)


def _same(x: np.ndarray, y: np.ndarray) -> None:
    x, y = np.asarray(x, float), np.asarray(y, float)
    assert x.shape == y.shape
    assert np.array_equal(np.isinf(x) & (x > 0), np.isinf(y) & (y > 0))
    assert np.array_equal(np.isinf(x) & (x < 0), np.isinf(y) & (y < 0))
    fin = np.isfinite(x)
    np.testing.assert_allclose(x[fin], y[fin], rtol=1e-12, atol=1e-12)


# the largest models take 10-20 s each through Pyomo: run with the slow tests (CI)
HEAVY = {"generated-all-1e3", "shipped-apparel", "shipped-regional", "shipped-electronics",
         "generated-conflict-1e3", "generated-core-1e3"}


@pytest.fixture(scope="module", params=[
    pytest.param(k, marks=pytest.mark.slow) if k in HEAVY else k for k in CASES])
def case(request: pytest.FixtureRequest) -> dict[str, Any]:
    scen = CASES[request.param]()
    am, _ = build_array_model(scen)
    m = to_pyomo(am)
    return {"name": request.param, "scen": scen, "am": am, "m": m,
            "pyomo": read_pyomo(m, am), "highs": read_highs(to_highs(am))}


def test_same_rows_and_columns(case: dict[str, Any]) -> None:
    am, p, h = case["am"], case["pyomo"], case["highs"]
    assert p["n_cons"] == am.n_rows == h["A"].shape[0]
    assert p["n_vars"] == am.n_cols == h["A"].shape[1]
    assert am.n_rows > 0 and am.n_cols > 0


def test_same_coefficients(case: dict[str, Any]) -> None:
    am, p, h = case["am"], case["pyomo"], case["highs"]
    _same_matrix(p["A"], h["A"])
    _same_matrix(p["A"], am.matrix("csr"))


def test_same_bounds_and_integrality(case: dict[str, Any]) -> None:
    am, p, h = case["am"], case["pyomo"], case["highs"]
    lo, up = am.bounds()
    rlo, rup = am.row_bounds()
    for k, ref in (("lower", lo), ("upper", up), ("row_lower", rlo), ("row_upper", rup)):
        _same(p[k], h[k])
        _same(p[k], ref)
    assert np.array_equal(p["integer"], h["integer"])
    assert np.array_equal(p["integer"], am.integrality() == 1)


def test_same_objective(case: dict[str, Any]) -> None:
    am, p, h = case["am"], case["pyomo"], case["highs"]
    assert p["maximize"] == h["maximize"] == (am.sense == "max")
    assert p["obj_constant"] == h["offset"] == 0.0
    _same(p["cost"], h["cost"])
    _same(p["cost"], am.cost)


@pytest.mark.skipif(not HAS_APPSI, reason="appsi_highs (Pyomo's HiGHS interface) unavailable")
def test_same_lp_relaxation_optimum(case: dict[str, Any]) -> None:
    am, m = case["am"], case["m"]
    h = to_highs(am)
    n = am.n_cols
    h.changeColsIntegrality(n, np.arange(n, dtype=np.int32), np.zeros(n, dtype=np.uint8))
    h.run()
    assert h.modelStatusToString(h.getModelStatus()) == "Optimal"
    direct = h.getInfo().objective_function_value
    relaxed = m.clone()
    pyo.TransformationFactory("core.relax_integer_vars").apply_to(relaxed)
    res = pyo.SolverFactory("appsi_highs").solve(relaxed)
    assert str(res.solver.termination_condition) == "optimal"
    via_pyomo = pyo.value(next(relaxed.component_data_objects(pyo.Objective, active=True)))
    assert via_pyomo == pytest.approx(direct, rel=1e-6, abs=1e-6)


# ---------------------------------------------------------------- MIP optimum both ways

SMALL: dict[str, Any] = {
    "shipped-tiny": lambda: _shipped("tiny"),
    "many-channels-levels": _many_channels_with_levels,
    **{f"generated-{f}-60": (lambda f=f: _generated(f, 60))
       for f in ("core", "independent", "conflict", "partners", "capacity", "all")},
}


# the recalibrated families that bind take 3-6 s each: with the slow tests
SMALL_HEAVY = {"generated-partners-60", "generated-capacity-60", "generated-all-60"}


@pytest.mark.skipif(not HAS_APPSI, reason="appsi_highs (Pyomo's HiGHS interface) unavailable")
@pytest.mark.parametrize("name", [pytest.param(k, marks=pytest.mark.slow) if k in SMALL_HEAVY
                                  else k for k in SMALL])
def test_same_mip_optimum(name: str) -> None:
    am, _ = build_array_model(SMALL[name]())
    opts = SolveOptions(time_limit=120, mip_gap=1e-9)
    direct = get_backend("highs").solve(am, opts)
    via_pyomo = get_backend("highs_pyomo").solve(am, opts)
    assert direct.termination == via_pyomo.termination
    if direct.termination != "optimal":
        pytest.skip(f"{name}: HiGHS stopped with {direct.termination}")
    assert direct.objective is not None and via_pyomo.objective is not None
    assert via_pyomo.objective == pytest.approx(direct.objective, rel=1e-6, abs=1e-6)
