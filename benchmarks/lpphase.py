"""The LP phase at scale: LP bound, the plan rounded from it, and their gap (not a test).

For each family, size and seed of ``benchmarks/generator.py``: the constructive plan
(:func:`channel_opt.solving.heuristic.construct`), the LP relaxation by each LP method
asked (:func:`channel_opt.solving.relaxation.relax`; its bound is the Lagrangian value
of the returned duals, :func:`~channel_opt.solving.relaxation.dual_bound`) and the
plan rounded from the last LP's point
(:func:`~channel_opt.solving.relaxation.rounded_plan`: the integer columns the LP sets
integral fixed, the MIP of the rest solved). The gap is (LP bound − plan) / plan: the
formulation's LP gap against the best plan known from this run (issue 13 item 3).

    python -m benchmarks.lpphase --families core capacity --cells 10000 --seeds 0 1 \\
        --methods simplex ipm [--round-limit 60] [--out results/lpphase.md]

One Markdown row per run, printed (and appended to ``--out``) as it finishes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HEAD = ("| family | cells | seed | columns | rows | LP method: seconds | LP bound | "
        "fractional / integer columns | rounding s | rounded plan | LP gap | "
        "constructive plan gap | load |")


def measure(family: str, cells: int, seed: int, methods: list[str],
            round_limit: float, lp_limit: float) -> dict[str, Any]:
    """One instance: the constructive plan, the LP by each method, the rounded plan."""
    from channel_opt.model import build_array_model
    from channel_opt.scenario import Scenario
    from channel_opt.solving.heuristic import construct
    from channel_opt.solving.relaxation import INTEGRAL, relax, rounded_plan

    from .generator import generate

    tables, settings = generate(family, cells, seed)
    am, data = build_array_model(Scenario.from_frames(tables, settings,
                                                      name=f"{family}_{cells}_{seed}"))
    row: dict[str, Any] = {"family": family, "cells": len(data.cells), "seed": seed,
                           "columns": am.n_cols, "rows": am.n_rows,
                           "load": f"{os.getloadavg()[0]:.1f}"}
    start = construct(am, data, time_limit=60.0)
    row["constructive"] = start.objective
    bounds, times, x = [], [], None
    for m in methods:
        rel = relax(am, lp_limit, method=m)
        times.append(f"{m} {rel.seconds:.1f}" + ("" if rel.status == "optimal" else
                                                  f" ({rel.status})"))
        if rel.bound is not None:
            bounds.append(rel.bound)
        if rel.x is not None and rel.status == "optimal":
            x = rel.x
    row["lp"] = "; ".join(times)
    row["bound"] = min(bounds) if bounds else None
    if x is not None:
        integer = am.integrality().astype(bool)
        frac = integer & (np.abs(x - np.rint(x)) > INTEGRAL)
        row["fractional"] = f"{int(frac.sum()):,} / {int(integer.sum()):,}"
        t = time.perf_counter()
        plan = rounded_plan(am, x, round_limit)
        row["round_s"] = time.perf_counter() - t
        row["rounded"] = None if plan is None else float(am.cost @ plan)
    return row


def _gap(bound: float | None, plan: float | None) -> str:
    if bound is None or plan is None:
        return "–"
    return f"{(bound - plan) / max(1e-9, abs(plan)):.3%}"


def _money(v: float | None) -> str:
    return "–" if v is None else f"{v:,.0f}"


def line(r: dict[str, Any]) -> str:
    """The Markdown row of one run."""
    rounded = "none" if r.get("round_s") is not None and r.get("rounded") is None else \
        _money(r.get("rounded"))
    return "| " + " | ".join([
        r["family"], f"{r['cells']:,}", str(r["seed"]), f"{r['columns']:,}",
        f"{r['rows']:,}", r["lp"], _money(r["bound"]), r.get("fractional", "–"),
        "–" if r.get("round_s") is None else f"{r['round_s']:.1f}", rounded,
        _gap(r["bound"], r.get("rounded")), _gap(r["bound"], r["constructive"]),
        r["load"]]) + " |"


def main(argv: list[str] | None = None) -> int:
    """Run the grid, one row at a time."""
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--families", nargs="+", default=["core", "conflict", "partners",
                                                       "capacity", "all", "apparel"])
    ap.add_argument("--cells", type=int, nargs="+", default=[10_000])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--methods", nargs="+", default=["concurrent"],
                    choices=["simplex", "ipm", "pdlp", "concurrent"])
    ap.add_argument("--lp-limit", type=float, default=900.0, help="seconds per LP")
    ap.add_argument("--round-limit", type=float, default=60.0,
                    help="seconds for the rounded plan's MIP")
    ap.add_argument("--out", help="append the rows to this Markdown file")
    a = ap.parse_args(argv)
    print(HEAD)
    print("|" + "---|" * HEAD.count(" | ") + "---|")
    for n in a.cells:
        for fam in a.families:
            for seed in a.seeds:
                text = line(measure(fam, n, seed, a.methods, a.round_limit, a.lp_limit))
                print(text, flush=True)
                if a.out:
                    with Path(a.out).open("a", encoding="utf-8") as f:
                        f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
