"""The family registry holds exactly the blocks the model builds, and the model document's
family tables are generated from it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from channel_opt.model import build_array_model
from channel_opt.model.design_doc import END, START, families_markdown
from channel_opt.model.registry import (
    BUILDERS,
    ROW,
    ROWS,
    VAR,
    VARIABLES,
    planner_words,
)
from channel_opt.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT / "models" / "channel_design.md"


def every_rule_scenario(*, decision: bool) -> Scenario:
    """One product at two price levels online, a new single-kind brand, a store and a
    dealer in one region with every limit set, and every rule switched on.
    """
    tables: dict[str, list[dict[str, Any]]] = {
        "channels": [
            {"id": "online", "kind": "online", "dc_use": 1.0},
            {"id": "store", "kind": "offline", "fee_share": 0.1, "uses_store_stock": True,
             "labour_hours": 0.1},
            {"id": "dealer", "kind": "offline", "fee_per_unit": 2.0, "dealer_use": 1.0},
        ],
        "brands": [{"id": "acme", "new": True, "launch_cost": 5.0, "single_kind": True}],
        "products": [{"id": "p1", "brand": "acme", "unit_cost": 4.0, "ref_price": 10.0,
                      "inventory": 500.0, "shelf_space": 1.0}],
        "regions": [{"id": "north", "store_labour_hours": 50.0, "shelf_capacity": 3.0,
                     "dealer_capacity": 40.0, "partner_profit_floor": 1.0,
                     "dealer_min_volume": 1.0, "service_level": 0.1}],
        "segments": [{"id": "small"}],
        "cells": [{"product": "p1", "region": "north", "segment": "small",
                   "market_size": 100.0}],
        "shares": [{"product": "p1", "region": "north", "segment": "small", "channel": k,
                    "share": a} for k, a in (("online", 0.5), ("store", 0.3),
                                             ("dealer", 0.2))],
        "price_levels": [
            {"product": "p1", "channel": "online", "level": "full", "price": 10.0},
            {"product": "p1", "channel": "online", "level": "promo", "price": 8.0,
             "demand_multiplier": 1.5}],
    }
    rules = {"price_parity": {"band": 0.05}, "overlap": {"cost": 1.0, "max_pairs": 1},
             "commission": {"share": 0.1, "decision": decision}, "partner_floor": True,
             "dealer_min_volume": True, "store_labour": True, "dc_capacity": 1000.0,
             "dealer_capacity": True, "inventory": True, "shelf_space": True,
             "service_level": True, "cell_service_level": 0.1}
    return Scenario.from_frames(tables, {
        "demand_model": "independent", "rules": rules,
        "channel_rules": [{"action": "force", "channel": "online", "segment": "small"}]})


def test_every_built_block_has_exactly_one_record_and_vice_versa() -> None:
    # the two commission variants between them build every block of the model
    built_rows: set[str] = set()
    built_vars: set[str] = set()
    for decision in (False, True):
        am, _ = build_array_model(every_rule_scenario(decision=decision))
        built_rows |= set(am.cons)
        built_vars |= set(am.vars)
    assert built_rows == set(ROW)
    assert built_vars == set(VAR)
    assert len(ROWS) == len(ROW) and len(VARIABLES) == len(VAR)


def test_each_builder_reads_the_rule_it_is_given() -> None:
    # a builder takes its rule configuration as an argument, not from the scenario:
    # handed another DC capacity (700) than the scenario's (1000), it builds that one
    from channel_opt.model.families import capacity, core, partners, pricing
    from channel_opt.model.linear import ArrayModel

    scen = every_rule_scenario(decision=True)
    _, data = build_array_model(scen)
    b = core.Build(data, ArrayModel(name="t"))
    for builder in (core.define_channel_opening, core.define_listings,
                    pricing.define_price_levels, core.define_offers_and_demand):
        builder(b, None)
    capacity.define_dc_capacity(b, 700.0)
    partners.define_cell_service_level(b, 0.25)
    assert b.am.cons["dc_capacity"].upper.tolist() == [700.0]
    assert b.am.cons["cell_service_level"].lower.tolist() == [25.0]  # 0.25 x market 100
    assert dict(BUILDERS)["dc_capacity"] is capacity.define_dc_capacity


def test_planner_words_come_from_the_registry() -> None:
    assert planner_words("store_labour") == ("store labour hours", "over by", "h")
    assert planner_words("partner_floor") == ("partner profit floor", "short by", "currency")
    assert planner_words("launch_brand") == ("launch brand", "violated by", "")


def test_limit_side_follows_the_role() -> None:
    assert ROW["store_labour"].limit_side == "upper"
    assert ROW["overlap_budget"].limit_side == "upper"
    assert ROW["service_level"].limit_side == "lower"
    assert ROW["demand"].limit_side is None


def test_design_document_tables_are_current() -> None:
    text = DESIGN.read_text(encoding="utf-8")
    assert text.count(START) == 1 and text.count(END) == 1
    assert families_markdown() in text, "run: python -m channel_opt.model.design_doc"


def test_stale_design_document_is_rewritten(tmp_path: Path) -> None:
    # the generator puts the tables back where a hand edit made them drift
    doc = tmp_path / "models" / "channel_design.md"
    doc.parent.mkdir()
    doc.write_text(DESIGN.read_text(encoding="utf-8").replace("store labour hours",
                                                              "store hours"),
                   encoding="utf-8")
    assert families_markdown() not in doc.read_text(encoding="utf-8")
    env = {"PYTHONPATH": str(ROOT), "PATH": ""}
    out = subprocess.run([sys.executable, "-m", "channel_opt.model.design_doc"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, check=True)
    assert "updated" in out.stdout and not out.stderr
    assert families_markdown() in doc.read_text(encoding="utf-8")


def _strings_of_test(path: Path, name: str) -> set[str] | None:
    """The string literals of test function ``name`` in ``path`` (None: no such test)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return {c.value for c in ast.walk(node)
                    if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    return None


@pytest.mark.parametrize("rec", [*ROWS, *VARIABLES], ids=lambda r: r.name)
def test_named_test_exists_and_checks_the_block(rec: Any) -> None:
    # the test column names a test that exists and checks that the model carries the
    # block (its name appears among the test's literals, as in components(...) checks)
    if rec.test == "—":
        pytest.skip("no hand test named")
    file, _, name = rec.test.partition("::")
    strings = _strings_of_test(ROOT / file, name)
    assert strings is not None, f"{rec.test} does not exist"
    assert rec.name in strings, f"{rec.test} never names {rec.name}"


# the scenario layer sits below the model: its rule switches and table columns
# ("inventory", "shelf_space"...) are its own names, not references to blocks
_BLOCK_CONTAINERS = {"vars", "cons", "v"}  # ArrayModel.vars / .cons, Build.v


def _block_name_literals(path: Path, names: set[str]) -> list[str]:
    """Quoted block names in ``path`` other than in a record declaration, a dict key or
    a table column subscript (``cc["sales"]``: a column, not the block).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    allowed: set[int] = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in ("RowFamily", "VarFamily")):
            allowed |= {id(c) for c in ast.walk(node)}
        elif isinstance(node, ast.Dict):
            allowed |= {id(k) for k in node.keys if k is not None}
        elif isinstance(node, ast.Subscript) and not (
                isinstance(node.value, ast.Attribute) and node.value.attr in _BLOCK_CONTAINERS):
            allowed.add(id(node.slice))
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    return [f"{where}:{node.lineno}: {node.value!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and node.value in names and id(node) not in allowed]


def test_block_names_are_written_once_in_their_records() -> None:
    # code refers to a block through its record (SALES.name, b.col(OFFER, ...)), never
    # through a second literal that could drift from the record
    names = set(ROW) | set(VAR)
    files = [p for p in (ROOT / "channel_opt").rglob("*.py") if "scenario" not in p.parts]
    hits = [h for p in sorted(files) for h in _block_name_literals(p, names)]
    assert hits == [], "refer to the record instead:\n" + "\n".join(hits)


def test_the_literal_check_finds_a_block_name(tmp_path: Path) -> None:
    # the check above is not vacuous: it flags a name passed around or looked up in the
    # model, and lets a table column, a dict key and the declaration through
    src = tmp_path / "m.py"
    src.write_text('SALES = VarFamily("sales", None)\n'
                   'a = am.vars["sales"]\nb = "offer" in am.cons\nc = put("stock", 1)\n'
                   'd = cc["sales"]\ne = {"sales": 1}\n', encoding="utf-8")
    hits = _block_name_literals(src, {"sales", "offer", "stock"})
    assert [h.split(": ", 1)[1] for h in hits] == ["'sales'", "'offer'", "'stock'"]


def test_plan_check_recomputes_every_profit_line() -> None:
    # every variable block with an objective term has its own recomputation from the
    # scenario in the plan check; on the every-rule plan (a forced online offer, so a
    # launch, openings, listings, commission and its policy) each agrees with the
    # model's profit breakdown, and a breakdown that hides a cost is caught by its line
    from channel_opt import solve
    from channel_opt.solving.check import PROFIT_RECORDS, check_plan, profit_lines

    assert set(PROFIT_RECORDS) == {v for v in VARIABLES if v.profit_line}
    scen = every_rule_scenario(decision=True)
    sol = solve(scen, sensitivity=False)
    assert sol.objective is not None
    lines = profit_lines(scen, sol.tables)
    plan = sol.tables["profit"].groupby("component")["amount"].sum()
    for rec, amount in lines.items():
        assert plan.get(rec.profit_line, 0.0) == pytest.approx(amount, abs=1e-6), rec.name
    assert lines[VAR["launch_brand"]] == -5.0  # acme's launch cost
    assert sum(lines.values()) == pytest.approx(sol.objective, rel=1e-9)
    bad = dict(sol.tables)
    prof = bad["profit"].copy()
    prof.loc[prof["component"] == VAR["launch_brand"].profit_line, "amount"] = 0.0
    bad["profit"] = prof
    errors = check_plan(scen, bad, sol.objective + 5.0)
    assert len(errors) == 1 and "lines above their recomputation: brand launch 0 vs -5" \
        in errors[0]
