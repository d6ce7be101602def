"""The report shows the money and what it cuts (issue 9 item 10).

* ``profit`` table: one line per objective term, summing to the objective; on
  ``tiny`` every line equals the hand derivation of ``instances/tiny/README.md``;
* ``partners.floor_active`` only where a floor > 0 is set and the rule is on;
* the report says how many rows a cut table leaves out and where they are, has a
  prices section with the band and the gap, and the channel map tells "not offered"
  from "no eligible channel" (table and picture) -- checked through the command line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import channel_opt
from channel_opt.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "instances" / "tiny" / "tiny.yaml"


def lines(profit: pd.DataFrame) -> dict[tuple[str, str], float]:
    return {(r.component, r.channel): r.amount for r in profit.itertuples()}


def test_profit_breakdown_of_tiny_by_hand() -> None:
    sol = channel_opt.solve(load_scenario(TINY), sensitivity=False)
    assert sol.objective == pytest.approx(7440.0)
    p = sol.tables["profit"]
    # instances/tiny/README.md, "Optimum": sales margin per channel
    #   online: p1 north 40 x 36 = 1,440
    #   store:  p1 north 40 x 30 + p2 north 60 x 15 + p1 south 60 x 30 + p2 south 60 x 15
    #           = 1,200 + 900 + 1,800 + 900 = 4,800
    #   dealer: 30 x 20 (p1) + 30 x 10 (p2), in both regions = 1,800
    # store opening 100 in both regions: -200; one overlapping pair (p1, north): -400
    want = {("sales margin", "online"): 1440.0, ("sales margin", "store"): 4800.0,
            ("sales margin", "dealer"): 1800.0, ("channel opening", "store"): -200.0,
            ("overlap cost", ""): -400.0}
    got = lines(p)
    assert set(got) == set(want)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-6), key
    assert p["amount"].sum() == pytest.approx(sol.objective, rel=1e-6)
    # revenue and costs of the margin lines (P: p1 100, p2 50; unit cost 60 / 30)
    m = p[p["component"] == "sales margin"].set_index("channel")
    # online: 40 units of p1: revenue 4,000, product cost 2,400, variable cost 4 x 40
    assert m.loc["online", ["revenue", "product_cost", "variable_cost", "partner_fees",
                            "returns_cost"]].tolist() == pytest.approx(
        [4000.0, 2400.0, 160.0, 0.0, 0.0])
    # store: p1 100 units (40 north + 60 south), p2 120 units: revenue 10,000 + 6,000;
    # fee share 10 %: 1,600 to the partners; product cost 6,000 + 3,600
    assert m.loc["store", ["revenue", "product_cost", "partner_fees"]].tolist() == \
        pytest.approx([16000.0, 9600.0, 1600.0])
    margin = m["revenue"] - m[["product_cost", "variable_cost", "partner_fees",
                               "returns_cost"]].sum(axis=1)
    assert margin.to_numpy() == pytest.approx(m["amount"].to_numpy())


def test_partner_floor_active_only_where_a_floor_is_set() -> None:
    # tiny: north has no floor (0), south 1,700, rule on
    sol = channel_opt.solve(load_scenario(TINY), sensitivity=False)
    part = sol.tables["partners"].set_index("region")
    assert part["floor_active"].to_dict() == {"north": False, "south": True}
    # the same floors with the rule off: no floor is active
    scen = load_scenario(TINY)
    off = Scenario.from_frames(
        {name: getattr(scen, name) for name in ("channels", "brands", "products",
                                                "regions", "segments", "cells", "shares")},
        {"demand_model": "mnl", "rules": {"overlap": {"cost": 400}}})
    part = channel_opt.solve(off, sensitivity=False).tables["partners"]
    assert not part["floor_active"].any()


# ----------------------------------------------------------- a generated instance

N_PRODUCTS = 45  # more than the 40 rows the report shows of a product table


def generated_tables(seed: int = 7) -> dict[str, Any]:
    """45 products of two brands (one new, with a launch cost) in ``north`` and
    ``south`` (stores) and ``rural`` (no stores: online only); region ``island`` has no
    cells (no eligible channel at all). Online promo levels on every third product;
    listing costs; random shares and markets.
    """
    rng = np.random.default_rng(seed)
    products = [{"id": f"p{i:02d}", "brand": "old" if i % 4 else "new",
                 "unit_cost": float(rng.integers(20, 60)),
                 "ref_price": float(rng.integers(70, 120)) + 0.99} for i in range(N_PRODUCTS)]
    channels = [
        {"id": "online", "kind": "online", "variable_cost": 6.0, "listing_cost": 40.0},
        {"id": "store", "kind": "offline", "fee_share": 0.2, "requires_store": True,
         "open_cost": 500.0, "listing_cost": 25.0},
        {"id": "bopis", "kind": "o2o", "fee_per_unit": 3.0, "requires_store": True,
         "open_cost": 300.0},
    ]
    regions = [{"id": "north", "partner_profit_floor": 4000.0},
               {"id": "south"}, {"id": "rural", "has_stores": False},
               {"id": "island", "has_stores": False}]
    cells, shares = [], []
    for pr in products:
        for r in ("north", "south", "rural"):
            cells.append({"product": pr["id"], "region": r, "segment": "all",
                          "market_size": float(rng.integers(50, 150))})
            for k in (("online",) if r == "rural" else ("online", "store", "bopis")):
                shares.append({"product": pr["id"], "region": r, "segment": "all",
                               "channel": k, "share": float(rng.uniform(0.1, 0.5))})
    # p44 costs more than any price: never offered where it is eligible ("-")
    products[-1]["unit_cost"] = 500.0
    levels = []
    for pr in products[::3]:
        levels += [{"product": pr["id"], "channel": "online", "level": "full",
                    "price": pr["ref_price"]},
                   {"product": pr["id"], "channel": "online", "level": "promo",
                    "price": round(pr["ref_price"] * 0.8, 2), "demand_multiplier": 1.4}]
    return {"channels": channels,
            "brands": [{"id": "old"}, {"id": "new", "new": True, "launch_cost": 800.0}],
            "products": products, "regions": regions, "segments": [{"id": "all"}],
            "cells": cells, "shares": shares, "price_levels": levels}


SETTINGS: dict[str, Any] = {"rules": {
    "price_parity": {"band": 0.1}, "overlap": {"cost": 30.0}, "partner_floor": True,
    "commission": {"share": 0.03, "decision": True, "policy_cost": 200.0}}}


def check_breakdown(scen: Scenario, sol: channel_opt.Solution) -> None:
    """Every line of ``profit`` recomputed from the other result tables and the inputs."""
    t = sol.tables
    p = t["profit"]
    assert p["amount"].sum() == pytest.approx(sol.objective, rel=1e-6)
    got = lines(p)
    cc = t["cell_channel"]
    for k, margin in cc.groupby("channel")["margin"].sum().items():
        assert got[("sales margin", k)] == pytest.approx(margin, rel=1e-9, abs=1e-6)
    rc = t["region_channel"]
    opening = (rc["open"] * rc["open_cost"]).groupby(rc["channel"]).sum()
    listing_cost = scen.channels.set_index("id")["listing_cost"]
    pc = t["product_channel"]
    listing = (pc["listed"] * listing_cost.reindex(pc["channel"]).to_numpy()) \
        .groupby(pc["channel"]).sum()
    for name, per_channel in (("channel opening", opening), ("listing", listing)):
        for k, v in per_channel.items():
            assert got.get((name, k), 0.0) == pytest.approx(-v, abs=1e-6), (name, k)
    brands = scen.brands.set_index("id")
    sold = set(t["brand_channel"].loc[t["brand_channel"]["sold"], "brand"])
    launch = sum(float(brands.loc[b, "launch_cost"]) for b in sold if brands.loc[b, "new"])
    assert got.get(("brand launch", ""), 0.0) == pytest.approx(-launch, abs=1e-6)
    rules = scen.settings.rules
    if rules.overlap is not None:
        assert got[("overlap cost", "")] == pytest.approx(
            -rules.overlap.cost * len(t["overlaps"]), abs=1e-6)
    if rules.commission is not None:
        assert got[("commission to stores", "")] == pytest.approx(
            -t["partners"]["commission"].sum(), abs=1e-6)


def test_profit_breakdown_sums_to_the_objective_on_a_generated_instance() -> None:
    scen = Scenario.from_frames(generated_tables(), SETTINGS)
    sol = channel_opt.solve(scen, sensitivity=False)
    assert sol.plan_status == "optimal"
    check_breakdown(scen, sol)
    # the fixed costs are really paid in this plan: the test is not vacuous
    comps = set(sol.tables["profit"]["component"])
    assert {"channel opening", "listing", "brand launch"} <= comps
    # partners: only north has a floor
    part = sol.tables["partners"].set_index("region")["floor_active"]
    assert part.to_dict() == {"north": True, "south": False, "rural": False,
                              "island": False}


@pytest.mark.slow
def test_profit_breakdown_on_apparel() -> None:
    scen = load_scenario(ROOT / "instances" / "apparel" / "apparel.yaml")
    check_breakdown(scen, channel_opt.solve(scen, sensitivity=False))


# ----------------------------------------------------------- through the command line


@pytest.fixture(scope="module")
def cli_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The result folder of the generated instance, written in-process (fast); the
    command line writes the same folder (``test_command_line_writes_the_report``).
    """
    from channel_opt.output import write_solution

    scen = Scenario.from_frames(generated_tables(), SETTINGS)
    return write_solution(channel_opt.solve(scen), scen, tmp_path_factory.mktemp("gen") / "res")


def run_cli(tmp: Path, tables: dict[str, Any], settings: dict[str, Any]) -> Path:
    doc = {"name": "gen", "settings": settings, "tables": tables}
    scen = tmp / "gen.yaml"
    scen.write_text(yaml.safe_dump(doc), encoding="utf-8")
    out = tmp / "res"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "channel_opt.cli", "-q", "solve", str(scen),
                        "--out", str(out)], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return out


def test_report_says_what_it_cuts_and_shows_money_and_prices(cli_out: Path) -> None:
    out = cli_out
    report = (out / "report.md").read_text(encoding="utf-8")
    # 45 products, 40 shown: the channel map and the prices say how many more and where
    assert "… and 5 more products (see channel_map.csv)" in report
    cmap = pd.read_csv(out / "channel_map.csv", keep_default_na=False)
    assert len(cmap) == N_PRODUCTS
    # island: no cell, no eligible channel; rural: online only (eligible)
    assert set(cmap["island"]) == {"(none eligible)"}
    assert set(cmap["rural"]) <= {"online", "-"}
    loss = cmap.set_index("product").loc["p44"]
    assert loss.to_dict() == {"island": "(none eligible)", "north": "-", "south": "-",
                              "rural": "-"}
    prices = pd.read_csv(out / "prices.csv", keep_default_na=False)
    n_priced = prices["product"].nunique()
    if n_priced > 40:
        assert (f"… and {n_priced - 40} more products (see prices.csv and price_gaps.csv)"
                in report)
    # the profit section and file: lines sum to the objective in summary.json
    import json

    summary = json.loads((out / "summary.json").read_text())
    profit = pd.read_csv(out / "profit.csv", keep_default_na=False)
    assert profit["amount"].sum() == pytest.approx(summary["objective"], rel=1e-6)
    assert "## Where the profit comes from (EUR)" in report
    assert f"| profit |  | {summary['objective']:,.2f} |" in report
    assert "## Prices (chosen price per product and channel; parity)" in report
    assert "Price-parity band 10.00% of the reference price" in report
    assert "profit" in summary["tables"] and "price_gaps" in summary["tables"]


@pytest.mark.slow
def test_command_line_writes_the_report(tmp_path: Path) -> None:
    out = run_cli(tmp_path, generated_tables(), SETTINGS)
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "… and 5 more products (see channel_map.csv)" in report
    assert "## Where the profit comes from (EUR)" in report
    for name in ("profit", "price_gaps", "channel_map"):
        assert (out / f"{name}.csv").exists(), name
    assert (out / "channel_map.png").exists()


def test_channel_map_picture_tells_not_offered_from_not_eligible(cli_out: Path) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    from channel_opt.report import channel_map_states

    # the states drawn: island no eligible channel (0) in every panel; p44 eligible but
    # never offered (1) where it has cells; rural has no stores (store, bopis: 0)
    scen = Scenario.from_frames(generated_tables(), SETTINGS)
    states = channel_map_states(channel_opt.solve(scen, sensitivity=False))
    regions = ["island", "north", "rural", "south"]  # the scenario's region order, sorted
    assert sorted(states) == ["bopis", "online", "store"]
    for k, m in states.items():
        assert m.shape == (N_PRODUCTS, 4)
        assert (m[:, regions.index("island")] == 0).all(), k
        assert (m[-1, [1, 3]] == 1).all(), k  # p44 in north and south
    assert (states["store"][:, 2] == 0).all() and (states["bopis"][:, 2] == 0).all()
    assert (states["online"][:-1, 2] == 2).all()  # online offered in rural (not p44)

    img = np.rint(imread(cli_out / "channel_map.png")[..., :3] * 255).astype(int)
    px = img.reshape(-1, 3)
    # "eligible, not offered" is an area of light grey (not the grey of anti-aliased
    # text), "not eligible" white, and each panel's "offered" its own tab10 colour
    share = {c: float(np.all(px == c, axis=1).mean()) for c in
             ((0xD9, 0xD9, 0xD9), (0x1F, 0x77, 0xB4), (0xFF, 0x7F, 0x0E), (0x2C, 0xA0, 0x2C))}
    assert all(v > 0.002 for v in share.values()), share


PARITY_T = {
    "channels": [{"id": "online", "kind": "online"}, {"id": "bopis", "kind": "o2o"},
                 {"id": "store", "kind": "offline"}],
    "brands": [{"id": "acme"}],
    "products": [{"id": "p1", "brand": "acme", "unit_cost": 21.99, "ref_price": 81.99}],
    "regions": [{"id": "north"}], "segments": [{"id": "small"}],
    "cells": [{"product": "p1", "region": "north", "segment": "small",
               "market_size": 100.0}],
    "shares": [{"product": "p1", "region": "north", "segment": "small", "channel": k,
                "share": a} for k, a in (("online", 0.4), ("bopis", 0.15), ("store", 0.05))],
    "price_levels": [
        {"product": "p1", "channel": "online", "level": "full", "price": 81.99},
        {"product": "p1", "channel": "online", "level": "promo", "price": 61.49,
         "demand_multiplier": 1.75}],
}


def test_prices_section_shows_the_band_and_the_gap() -> None:
    # tests/test_parity_sides.py: without parity the plan sells online at promo next to
    # bopis and the store at 81.99 (gap 20.50 = 25.00 % of 81.99); with the band 0.15
    # online goes to full price (gap 0).
    from channel_opt.report import prices_table, report_markdown

    free = Scenario.from_frames(PARITY_T, {"demand_model": "independent"})
    sol = channel_opt.solve(free, sensitivity=False)
    g = sol.tables["price_gaps"].set_index("product").loc["p1"]
    assert g["gap"] == pytest.approx(20.5) and g["gap_share"] == pytest.approx(20.5 / 81.99)
    assert pd.isna(g["band"]) and pd.isna(g["within_band"])
    assert g["pair"] == "online promo 61.49 vs store 81.99"  # first of the tied pairs
    row = prices_table(sol).set_index("product").loc["p1"]
    assert row["online"] == "61.49 (promo)" and row["bopis"] == "81.99"
    assert row["largest gap / ref"] == "25.00%"
    bound = Scenario.from_frames(PARITY_T, {"demand_model": "independent",
                                            "rules": {"price_parity": {"band": 0.15}}})
    sol = channel_opt.solve(bound, sensitivity=False)
    row = prices_table(sol).set_index("product").loc["p1"]
    assert row["online"] == "81.99 (full)" and row["largest gap / ref"] == "0.00%"
    assert row["band"] == "15.00%" and bool(row["within_band"])
    md = report_markdown(sol, bound, [])
    assert "| p1 | 81.99 | 81.99 (full) | 81.99 | 81.99 | 0.00% | 15.00% | True |" in md


def test_report_of_a_solve_with_marginals_shows_them(tmp_path: Path) -> None:
    # duo, dc capacity 30 units for online only (1 unit each, margin 50, store 30 by
    # itself): by hand, one more or one less unit of dc capacity is worth 50 per unit
    from scenario_factory import duo_tables, write_yaml_scenario

    from channel_opt.cli import main

    tables = {k: pd.DataFrame(v) for k, v in duo_tables().items()}
    path = write_yaml_scenario(tmp_path / "in", tables, {"rules": {"dc_capacity": 30}},
                               name="duo")
    out = tmp_path / "res"
    assert main(["-q", "solve", str(path), "--marginals", "--workers", "1", "--no-plots",
                 "--out", str(out)]) == 0
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## What a binding limit is worth (re-solved)" in report
    m = pd.read_csv(out / "marginals.csv")
    assert m["per_unit_minus"].tolist() == pytest.approx([50.0])
    assert m["per_unit_plus"].tolist() == pytest.approx([50.0])
    section = report.split("## What a binding limit is worth (re-solved)")[1]
    row = next(line for line in section.splitlines() if line.startswith("| dc_capacity"))
    # limit 30, used 30, step 3, profit -150 / +150, 50 per unit both ways
    assert row.startswith("| dc_capacity | all | capacity | 30.00 | 30.00 | 3.00 | -150.00 "
                          "| 150.00 | 50.00 | 50.00 |")
    # without marginals (a solve without --marginals) there is no such section
    from types import SimpleNamespace

    from channel_opt.report import _marginals_section

    assert _marginals_section(SimpleNamespace(tables={"capacity": m})) == []  # type: ignore[arg-type]
