"""Analysis batches on worker processes and a Dask cluster (slow: workers start up),
the frontier of slices of ``regional`` against an enumeration of budgets (slow), and
the enumeration oracle's own rule on cases known by hand (fast).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pandas as pd
import pytest

import channel_opt
from benchmarks import frontier_check
from benchmarks.frontier_check import GAP, compare, enumerated_frontier, pareto_points
from channel_opt.analysis.overrides import apply_overrides
from channel_opt.model.families.core import SALES
from channel_opt.model.linear import INF
from channel_opt.solving.backends import SolveOptions
from channel_opt.solving.check import plan_violations

ROOT = Path(__file__).resolve().parent.parent
REGIONAL = ROOT / "instances" / "regional" / "regional.yaml"
TINY = ROOT / "instances" / "tiny" / "tiny.yaml"
GRID = {"rules.overlap.cost": [0, 400, 1000], "regions[id=south].partner_profit_floor*": [1, 0.5]}
SAME = ["rules.overlap.cost", "regions[id=south].partner_profit_floor*", "objective", "bound",
        "gap", "plan_status", "profit", "revenue", "units_sold", "overlap_count",
        "scenario_hash"]


@pytest.mark.slow
def test_sweep_on_a_dask_cluster_equals_the_serial_run() -> None:
    distributed = pytest.importorskip("dask.distributed")
    scen = channel_opt.load_scenario(TINY)
    serial = channel_opt.sweep(scen, GRID, workers=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        on_dask = channel_opt.sweep(scen, GRID, scheduler=cluster.scheduler_address)
    assert len(serial) == 6
    pd.testing.assert_frame_equal(on_dask[SAME], serial[SAME], check_exact=True)


@pytest.mark.slow
def test_sweep_and_frontier_on_processes_equal_the_serial_run() -> None:
    scen = apply_overrides(channel_opt.load_scenario(TINY), {"rules.overlap.cost": 0})
    serial = channel_opt.sweep(scen, {"rules.overlap.max_pairs": [0, 1, 2]}, workers=1)
    procs = channel_opt.sweep(scen, {"rules.overlap.max_pairs": [0, 1, 2]}, workers=2)
    cols = ["rules.overlap.max_pairs", "objective", "bound", "plan_status", "overlap_count"]
    pd.testing.assert_frame_equal(procs[cols], serial[cols], check_exact=True)
    f1 = channel_opt.frontier(scen, workers=1, mip_gap=GAP, current=False)
    f2 = channel_opt.frontier(scen, workers=2, mip_gap=GAP, current=False)
    cols = ["overlap_count", "objective", "plan_status"]
    pd.testing.assert_frame_equal(f2[cols], f1[cols], check_exact=True)


def regional_slice(regions: list[str], n_products: int) -> channel_opt.Scenario:
    """``regional`` cut to some towns and its first products (everything else as is)."""
    full = channel_opt.load_scenario(REGIONAL)
    t = {k: full.tables[k] for k in full.tables}
    prods = t["products"]["id"].iloc[:n_products].tolist()
    t["regions"] = t["regions"][t["regions"]["id"].isin(regions)]
    t["products"] = t["products"][t["products"]["id"].isin(prods)]
    for name in ("cells", "shares"):
        df = t[name]
        t[name] = df[df["region"].isin(regions) & df["product"].isin(prods)]
    rc = t["region_channels"]
    t["region_channels"] = rc[rc["region"].isin(regions)]
    return channel_opt.Scenario.from_frames(t, full.settings, name="regional-slice")


@pytest.mark.slow
def test_regional_slice_frontier_equals_enumeration() -> None:
    # one town, every product: 32 overlaps at the most profit, each budget a plain solve
    scen = regional_slice(["walsrode"], 54)
    f = channel_opt.frontier(scen, workers=2, mip_gap=GAP, current=False)
    upto = int(f["overlap_count"].max())
    assert upto >= 20
    e = enumerated_frontier(scen, upto + 1)
    assert f["overlap_count"].tolist() == e["overlap_count"].tolist()
    assert f["objective"].to_numpy() == pytest.approx(e["objective"].to_numpy(), rel=1e-7)


@pytest.mark.slow
def test_regional_two_towns_frontier_equals_enumeration() -> None:
    # two store towns, every product: 70 overlaps at the most profit, ~3 times the
    # one-town slice; frontier and enumeration each on 2 worker processes
    scen = regional_slice(["walsrode", "soltau"], 54)
    f = channel_opt.frontier(scen, workers=2, mip_gap=GAP, current=False)
    upto = int(f["overlap_count"].max())
    assert upto >= 60
    e = enumerated_frontier(scen, upto + 1, workers=2)  # one more: nothing above the top
    table, problems = compare(f, e)
    assert problems == [], table.to_string()
    assert len(f) == len(e) >= 50
    assert (f["plan_status"] == "optimal").all()


def test_oracle_rule_keeps_budgets_that_beat_every_smaller_one() -> None:
    # budget 1 adds nothing, 3 is a tie within the tolerance, 4 is worse than 2 (a
    # solver that stopped short), 5 has no plan: the points are 0, 2 and 6
    profits = [(0, 100.0), (1, 100.0), (2, 150.0), (3, 150.0 + 1e-6), (4, 120.0), (5, None),
               (6, 151.0)]
    pts = pareto_points(profits, tol=1e-7)
    assert pts["overlap_count"].tolist() == [0, 2, 6]
    assert pts["objective"].tolist() == [100.0, 150.0, 151.0]


def test_check_names_every_kind_of_disagreement() -> None:
    enum = pd.DataFrame({"overlap_count": [0, 2, 3, 5], "objective": [10.0, 20.0, 30.0, 40.0]})
    front = pd.DataFrame({"overlap_count": [0, 1, 2, 5, 9],
                          "objective": [10.0, 15.0, 20.000001, 40.0, 50.0]})
    table, problems = compare(front, enum, tol=1e-9, upto=6)
    verdicts = dict(zip(table["overlap_count"], table["verdict"], strict=True))
    assert verdicts == {0: "equal", 1: "DOMINATED (not a Pareto point)",
                        2: "PROFIT DIFFERS", 3: "MISSING from the frontier", 5: "equal",
                        9: "not enumerated yet"}
    assert len(problems) == 3
    same, none = compare(enum, enum)
    assert none == [] and (same["verdict"] == "equal").all()


def test_frontier_point_cleans_a_leak_of_the_integrality_tolerance() -> None:
    # regional's frontier at 5 overlaps (two towns) came back "invalid": HiGHS left an
    # option "offered" at ~1e-9, so ~3e-6 units sold through an option the rounded plan
    # does not offer. The same leak put into tiny's optimal plan by hand: the point is
    # the plan of that design, valid, at the same profit.
    frontier_mod = importlib.import_module("channel_opt.analysis.frontier")
    scen = frontier_mod.frontier_scenario(channel_opt.load_scenario(TINY))
    m, _ = frontier_mod._augmented(scen)
    res = frontier_mod._solve(m, SolveOptions(None, GAP, 1, None), m.am.cost, -INF, INF, None)
    clean = frontier_mod._point(m, scen, res, None)
    assert clean is not None and clean["plan_status"] == "optimal"
    sales = m.am.vars[SALES.name]
    leaky = None
    for j in range(sales.start, sales.start + sales.n):
        if res["x"][j] == 0.0:
            x = res["x"].copy()
            x[j] = 3e-6
            if any("exceed the demand" in b
                   for b in plan_violations(scen, m.am, m.data, x)[2]):
                leaky = x
                break
    assert leaky is not None  # the plan check does see the leak
    pt = frontier_mod._point(m, scen, {**res, "x": leaky}, None)
    assert pt is not None and pt["plan_status"] == "optimal"
    assert pt["objective"] == pytest.approx(clean["objective"], rel=1e-9)
    assert pt["overlap_count"] == clean["overlap_count"]


@pytest.mark.slow
def test_frontier_check_script_on_tiny_and_its_resume(tmp_path: Path) -> None:
    scen_path = str(TINY)
    assert frontier_check.main([scen_path, "--workers", "1", "--out", str(tmp_path)]) == 0
    md = (tmp_path / "frontier_check_tiny.md").read_text(encoding="utf-8")
    assert "**EQUAL**" in md
    raw = tmp_path / "frontier_check_tiny.csv"
    rows = pd.read_csv(raw)
    assert rows["max_pairs"].tolist() == ["unconstrained", "0", "1"]  # tiny: U = 1
    rows.iloc[:2].to_csv(raw, index=False)  # as if stopped after budget 0
    assert frontier_check.main([scen_path, "--workers", "1", "--out", str(tmp_path),
                                "--resume"]) == 0
    again = pd.read_csv(raw)
    assert again["max_pairs"].tolist() == ["unconstrained", "0", "1"]
    assert again["objective"].tolist() == rows["objective"].tolist()
    assert "**EQUAL**" in (tmp_path / "frontier_check_tiny.md").read_text(encoding="utf-8")
