"""Root gaps: how far the formulation's bounds sit above the best known plan (issue 13).

``python -m benchmarks rootgap --family core,all --sizes 1e3,1e4`` measures, per family
and size (seeded instances of :mod:`benchmarks.generator`):

* the **LP bound**: the optimum of the LP relaxation (every integer column relaxed);
* the **root bound**: HiGHS' dual bound after its root node (presolve, cuts and
  root heuristics; ``mip_max_nodes = 1``: HiGHS stops before its first branch, while
  ``0`` stops before the root is even solved), with the plan HiGHS has by then;
* the **best known plan**: a longer solve (the constructive plan of
  :func:`channel_opt.solving.heuristic.construct` as MIP start, then HiGHS under
  ``--time-limit``), with its final bound; the best of this plan and the root's plan
  is the reference.

Gaps are relative to the best known plan: ``(bound - best) / |best|``. Results are
appended to ``<out>/<name>.csv``; ``<out>/<name>.md`` is rewritten from the latest
run of every (family, size). Rerun it after a formulation change to get the "after"
table next to the "before" one (``--name`` keeps them apart).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import report

FIELDS = [
    "run_id", "timestamp", "family", "size", "seed", "cells", "n_cols", "n_rows",
    "lp_bound", "t_lp", "root_bound", "root_plan", "t_root", "best_plan", "best_bound",
    "best_status", "t_best", "lp_gap", "root_gap", "best_gap", "commit", "loadavg", "note",
]


def _highs(am: Any, *, time_limit: float | None = None, **options: Any) -> Any:
    from channel_opt.model import to_highs

    h = to_highs(am)
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    for k, v in options.items():
        h.setOptionValue(k, v)
    return h


def lp_bound(am: Any, time_limit: float | None = None) -> tuple[float | None, float]:
    """The LP relaxation's optimum (``None`` if it did not solve) and its time."""
    t = time.perf_counter()
    h = _highs(am, time_limit=time_limit, solve_relaxation=True)
    h.run()
    ok = h.modelStatusToString(h.getModelStatus()) == "Optimal"
    return (float(h.getInfo().objective_function_value) if ok else None,
            time.perf_counter() - t)


def _value(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) and abs(x) < 1e29 else None


def root_bound(am: Any, time_limit: float | None = None
               ) -> tuple[float | None, float | None, float]:
    """(dual bound after the root node, HiGHS' plan by then, seconds). The bound is
    ``None`` when the time limit cut the root short (its bound is then not the
    root's: HiGHS reports whatever it had, sometimes only the trivial bound)."""
    t = time.perf_counter()
    h = _highs(am, time_limit=time_limit, mip_max_nodes=1)
    h.run()
    info = h.getInfo()
    plan = _value(info.objective_function_value) if info.primal_solution_status == 2 else None
    cut = h.modelStatusToString(h.getModelStatus()) == "Time limit reached"
    bound = None if cut else _value(info.mip_dual_bound)
    return bound, plan, time.perf_counter() - t


def best_plan(am: Any, data: Any, time_limit: float, mip_gap: float = 1e-4
              ) -> dict[str, Any]:
    """A longer solve: the constructive plan, then the package's LP phase (the LP
    relaxation and the plan rounded from it, in half the limit), the better plan as
    MIP start, then HiGHS within ``time_limit`` seconds in all. Returns ``x`` (None
    without a plan), ``objective``, ``bound``, ``status`` and ``seconds``.
    """
    from channel_opt.solving.heuristic import construct
    from channel_opt.solving.relaxation import lp_phase

    t = time.perf_counter()
    start = construct(am, data, time_limit=0.25 * time_limit)
    rel, rounded = lp_phase(am, 0.5 * time_limit, mip_gap)
    if rounded is not None and (start.objective is None or
                                float(am.cost @ rounded) > start.objective):
        start.x, start.objective = rounded, float(am.cost @ rounded)
    if rel.bound is not None:
        start.bound = min(start.bound, rel.bound)
    h = _highs(am, time_limit=max(1.0, time_limit - (time.perf_counter() - t)),
               mip_rel_gap=mip_gap)
    if start.x is not None:
        h.setSolution(am.n_cols, np.arange(am.n_cols, dtype=np.int32),
                      np.asarray(start.x, float))
    h.run()
    info = h.getInfo()
    x = None
    obj = None
    if info.primal_solution_status == 2:
        x = np.asarray(h.getSolution().col_value, float)
        obj = float(info.objective_function_value)
    if start.x is not None and start.objective is not None and (obj is None
                                                                 or start.objective > obj):
        x, obj = np.asarray(start.x, float), float(start.objective)
    bound = _value(info.mip_dual_bound)
    if math.isfinite(start.bound):
        bound = start.bound if bound is None else min(bound, start.bound)
    return {"x": x, "objective": obj, "bound": bound,
            "status": h.modelStatusToString(h.getModelStatus()),
            "seconds": time.perf_counter() - t}


def _gap(bound: float | None, best: float | None) -> float | None:
    if bound is None or best is None:
        return None
    return (bound - best) / max(1e-9, abs(best))


def measure(family: str, size: int, seed: int, *, time_limit: float,
            root_limit: float) -> dict[str, Any]:
    """One row of the root-gap table."""
    from channel_opt.model import build_array_model
    from channel_opt.scenario import Scenario

    from .generator import generate

    tables, settings = generate(family, size, seed)
    scen = Scenario.from_frames(tables, settings, name=f"{family}_{size}")
    am, data = build_array_model(scen)
    row: dict[str, Any] = {"family": family, "size": size, "seed": seed,
                           "cells": len(scen.cells), "n_cols": am.n_cols, "n_rows": am.n_rows}
    notes = []
    row["lp_bound"], row["t_lp"] = lp_bound(am, root_limit)
    row["root_bound"], row["root_plan"], row["t_root"] = root_bound(am, root_limit)
    if row["root_bound"] is None:
        notes.append(f"root node not finished within {root_limit:.0f} s")
    best = best_plan(am, data, time_limit)
    row.update(best_plan=best["objective"], best_bound=best["bound"],
               best_status=best["status"], t_best=best["seconds"])
    ref = max((v for v in (best["objective"], row["root_plan"]) if v is not None),
              default=None)
    if ref is not None and best["objective"] is not None and ref > best["objective"]:
        notes.append("the root's plan beat the longer solve")
    row["best_plan"] = ref
    row["lp_gap"] = _gap(row["lp_bound"], ref)
    row["root_gap"] = _gap(row["root_bound"], ref)
    row["best_gap"] = _gap(best["bound"], ref)
    row["note"] = "; ".join(notes)
    return row


def markdown(rows: list[dict[str, Any]], meta: dict[str, str], notes: list[str]) -> str:
    """The root-gap table."""
    lines = report._header("Root gaps", meta, notes)
    lines += [
        "Gaps relative to the best known plan: (bound − best) / |best|. *LP*: the LP "
        "relaxation; *root*: HiGHS' dual bound after its root node (`mip_max_nodes=1`: "
        "presolve, cuts, root heuristics, no branching); *final*: the bound at the end "
        "of the longer solve that found the best plan (constructive MIP start + HiGHS). Times in "
        "seconds.", "",
        "| family | cells | columns | rows | LP bound | root bound | best plan | LP gap "
        "| root gap | final gap | status of the long solve | LP s | root s | long s | note |",
        "|" + "---|" * 15,
    ]
    for r in sorted(rows, key=lambda r: (r["family"], int(r["size"]))):
        f = report._fmt
        n = report._num
        lines.append("| " + " | ".join([
            r["family"], f(n(r.get("cells")), "int"), f(n(r.get("n_cols")), "int"),
            f(n(r.get("n_rows")), "int"), f(n(r.get("lp_bound")), "g"),
            f(n(r.get("root_bound")), "g"), f(n(r.get("best_plan")), "g"),
            f(n(r.get("lp_gap")), "pct"), f(n(r.get("root_gap")), "pct"),
            f(n(r.get("best_gap")), "pct"), str(r.get("best_status") or "–"),
            f(n(r.get("t_lp"))), f(n(r.get("t_root"))), f(n(r.get("t_best"))),
            str(r.get("note") or "")]) + " |")
    return "\n".join(lines) + "\n"


def cmd_rootgap(a: argparse.Namespace) -> int:
    """``python -m benchmarks rootgap``: measure and write the table."""
    out = Path(a.out)
    name = a.name or "rootgap"
    run_id = time.strftime("%Y%m%dT%H%M%S")
    meta = report.machine()
    rows = []
    for fam in a.family:
        for size in a.sizes:
            row = measure(fam, size, a.seed, time_limit=a.time_limit, root_limit=a.root_limit)
            row.update(run_id=run_id, timestamp=time.strftime("%Y-%m-%d %H:%M:%S"),
                       commit=meta["commit"], loadavg=report.loadavg())
            rows.append(row)
            print(f"{fam:>11} {row['cells']:>9,}: LP gap {report._fmt(row['lp_gap'], 'pct')} "
                  f"root gap {report._fmt(row['root_gap'], 'pct')} final gap "
                  f"{report._fmt(row['best_gap'], 'pct')} (best {row['best_plan']}, "
                  f"{row['best_status']})", flush=True)
    report.append_csv(out / f"{name}.csv", FIELDS, rows)
    shown = report.latest(report.read_csv(out / f"{name}.csv"), ["family", "size"])
    notes = [f"command (latest run): `python -m benchmarks {' '.join(a.argv)}`",
             f"seed {a.seed}; LP and root runs limited to {a.root_limit:.0f} s, the long "
             f"solve to {a.time_limit:.0f} s; HiGHS default threads",
             "load average (1 min) per row in the CSV: the machine is shared"]
    (out / f"{name}.md").write_text(markdown(shown, meta, notes), encoding="utf-8")
    print(f"wrote {out / f'{name}.csv'}, {out / f'{name}.md'}")
    return 0


def add_parser(sub: Any, common: Any) -> None:
    """The ``rootgap`` subcommand of ``python -m benchmarks``."""
    r = sub.add_parser("rootgap", help="LP, root and best-known bounds per family and size")
    common(r, "1e3,1e4")
    r.add_argument("--time-limit", type=float, default=300.0,
                   help="seconds for the long solve that gives the best known plan "
                   "(default 300)")
    r.add_argument("--root-limit", type=float, default=300.0,
                   help="seconds for the LP relaxation and for the root node (default 300)")
    r.set_defaults(fn=cmd_rootgap)
