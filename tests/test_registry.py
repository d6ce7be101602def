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
from scenario_factory import every_rule_scenario

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

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT / "models" / "channel_design.md"


def test_every_built_block_has_exactly_one_record() -> None:
    # the two commission variants of the every-rule scenario build blocks of every theme,
    # each with one record; that every record's block is built is proven by the record's
    # own hand test (test_named_test_builds_the_block), so a new family needs its test
    # there and not a change to this scenario
    built_rows: set[str] = set()
    built_vars: set[str] = set()
    for decision in (False, True):
        am, _ = build_array_model(every_rule_scenario(decision=decision))
        built_rows |= set(am.cons)
        built_vars |= set(am.vars)
    assert built_rows <= set(ROW) and built_vars <= set(VAR)
    assert {r.builder.__module__ for r in ROWS if r.name in built_rows} == \
        {r.builder.__module__ for r in ROWS}
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


def _blocks_checked_by(path: Path, name: str) -> set[str] | None:
    """The block names test ``name`` of ``path`` compares with ``components(...)`` (the
    Pyomo model's components: ``assert "x" in components(s)``, ``{...} <= components(s)``);
    None if there is no such test.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            out: set[str] = set()
            for cmp in ast.walk(node):
                if isinstance(cmp, ast.Compare) and any(
                        isinstance(c, ast.Call) and isinstance(c.func, ast.Name)
                        and c.func.id == "components" for c in ast.walk(cmp)):
                    out |= {c.value for c in ast.walk(cmp)
                            if isinstance(c, ast.Constant) and isinstance(c.value, str)}
            return out
    return None


@pytest.mark.parametrize("rec", [*ROWS, *VARIABLES], ids=lambda r: r.name)
def test_named_test_builds_the_block(rec: Any) -> None:
    # every record names its hand test, the test exists and checks that the model it
    # solves carries the block (the name compared with components(...))
    assert rec.test != "—", f"{rec.name} names no hand test"
    file, _, name = rec.test.partition("::")
    checked = _blocks_checked_by(ROOT / file, name)
    assert checked is not None, f"{rec.test} does not exist"
    assert rec.name in checked, f"{rec.test} never checks that the model has {rec.name}"


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
