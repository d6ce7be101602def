"""Does each benchmark family test what it names? (issue 13 item 1; not a test)

For each family, size and seed: generate, find the best plan within the time limit
(the constructive plan as MIP start, then HiGHS: :func:`benchmarks.rootgap.best_plan`)
and profile it (:func:`benchmarks.report.plan_profile`). A family *holds* when every
channel carries at least ``MIN_SHARE`` of the units, every rule family it switches on
has a binding row, and overlaps, markdown prices and commission occur where it has
those rules (:func:`problems`; the slow test ``tests/test_benchmark_families.py``
asserts the same on small instances).

    python -m benchmarks.families_check --families conflict partners all apparel \\
        --cells 1000 --seeds 0 1 2 3 --limit 60 [--out results/families_check.md]

One Markdown row per run, printed (and appended to ``--out``) as it finishes.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from . import generator
from .report import binding_by_rule, mix_text, plan_profile, rules_on
from .rootgap import best_plan

MIN_SHARE = 0.05
HEADER = ("| family | cells | seed | status | gap | min share | channel mix (units) "
          "| problems | markdown | overlaps | commission | load |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|")


def check(name: str, cells: int, seed: int, time_limit: float,
          mip_gap: float = 1e-3) -> dict[str, Any]:
    """The best plan of one instance, its profile and what fails in it."""
    from channel_opt.model import build_array_model
    from channel_opt.scenario import Scenario

    tables, settings = generator.generate(name, cells, seed)
    scen = Scenario.from_frames(tables, settings, name=name)
    am, data = build_array_model(scen)
    best = best_plan(am, data, time_limit, mip_gap=mip_gap)
    row: dict[str, Any] = {"family": name, "cells": len(data.cells), "seed": seed,
                           "status": best["status"], "objective": best["objective"],
                           "bound": best["bound"], "profile": None}
    if best["x"] is None:
        row["problems"] = [f"no plan within {time_limit:g} s"]
        return row
    on = rules_on(scen.settings)
    row["profile"] = prof = plan_profile(am, data, best["x"], on)
    row["problems"] = problems(name, on, prof)
    return row


def problems(name: str, on: set[str], prof: dict[str, Any]) -> list[str]:
    """What keeps a plan's profile from testing what the family names (empty: holds)."""
    fam = generator.FAMILIES[name]
    out = [f"{k} {v:.1%} of the units" for k, v in sorted(prof["mix"].items())
           if v < MIN_SHARE]
    by_rule = binding_by_rule(prof["binding"])
    out += [f"{k} not binding" for k, (hit, _) in sorted(by_rule.items()) if not hit]
    out += [f"{k} has no rows" for k in sorted(on - set(by_rule))]
    if "overlap" in on and prof["overlap_pairs"] == 0:
        out.append("no overlap")
    if fam.price_levels and prof["markdown_units"] <= 0:
        out.append("no markdown")
    if "commission" in on and prof["commission_regions"] == 0:
        out.append("no commission")
    return out


def markdown_row(r: dict[str, Any]) -> str:
    """One table row of :func:`check`'s result."""
    prof = r["profile"]
    obj, bound = r["objective"], r["bound"]
    gap = "–" if obj is None or bound is None else f"{(bound - obj) / max(abs(obj), 1e-9):.2%}"
    load = f"{os.getloadavg()[0]:.1f}"
    if prof is None:
        return (f"| {r['family']} | {r['cells']:,} | {r['seed']} | {r['status']} | {gap} "
                f"| – | – | {'; '.join(r['problems'])} | – | – | – | {load} |")
    mix = mix_text(prof["mix"])
    return (f"| {r['family']} | {r['cells']:,} | {r['seed']} | {r['status']} | {gap} "
            f"| {min(prof['mix'].values()):.1%} | {mix} | "
            f"{'; '.join(r['problems']) or 'none: holds'} | {prof['markdown_units']:.1%} "
            f"| {prof['overlap_pairs']} | {prof['commission_regions']} | {load} |")


def main(argv: list[str] | None = None) -> int:
    """Run the grid; print (and append to ``--out``) one row per run."""
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--families", nargs="+", default=list(generator.FAMILIES))
    p.add_argument("--cells", nargs="+", type=int, default=[1000])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3])
    p.add_argument("--limit", type=float, default=60.0, help="seconds per best plan")
    p.add_argument("--out", help="append the rows to this Markdown file")
    a = p.parse_args(argv)
    out = Path(a.out) if a.out else None
    if out is not None and not out.exists():
        out.write_text(HEADER + "\n", encoding="utf-8")
    print(HEADER, flush=True)
    failed = 0
    for cells in a.cells:
        for name in a.families:
            for seed in a.seeds:
                r = check(name, cells, seed, a.limit)
                failed += bool(r["problems"])
                line = markdown_row(r)
                print(line, flush=True)
                if out is not None:
                    with out.open("a", encoding="utf-8") as f:
                        f.write(line + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
