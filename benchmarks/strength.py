"""Formulation strength: root gaps of the channel-design MIP per family and size.

For every instance (a generator family at a size and seed, or a shipped instance):

* ``lp``: the LP relaxation bound (HiGHS, integrality dropped);
* ``root``: HiGHS' bound after its root node (presolve, cuts; ``mip_max_nodes = 0``);
* ``cheap``: the constructive heuristic's bound (``solving/heuristic.py``);
* ``best``: the best plan a time-limited HiGHS solve finds (and its final bound);

and the root gaps ``(bound - best) / |best|``. With ``--by-block`` the LP solution is
compared with the best plan block by block (objective share, fractional binaries), so
a reader sees which rows' relaxation leaks.

``python -m benchmarks.strength --families core partners --sizes 1000 --seeds 0 1``
prints a Markdown table; ``--json FILE`` keeps the rows.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("tiny", "regional", "apparel", "electronics")


def _highs(am: Any, *, relax: bool, time_limit: float, nodes: int | None = None,
           start: np.ndarray | None = None) -> dict[str, Any]:
    """One HiGHS run of the array model; its bound, objective, point and time."""
    from channel_opt.solving.backends import new_highs

    h = new_highs(am)
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", 1e-4)
    if relax:
        h.setOptionValue("solve_relaxation", True)
    if nodes is not None:
        h.setOptionValue("mip_max_nodes", int(nodes))
    if start is not None:
        n = h.getNumCol()
        h.setSolution(n, np.arange(n, dtype=np.int32), np.asarray(start, float))
    t = time.perf_counter()
    h.run()
    secs = time.perf_counter() - t
    info = h.getInfo()
    has = info.primal_solution_status == 2
    obj = float(info.objective_function_value) if has else None
    if relax:
        bound = obj if h.modelStatusToString(h.getModelStatus()) == "Optimal" else None
    else:
        b = float(info.mip_dual_bound)
        bound = b if math.isfinite(b) else None
    x = np.asarray(h.getSolution().col_value, float) if has else None
    return {"bound": bound, "objective": obj, "x": x, "seconds": secs,
            "status": h.modelStatusToString(h.getModelStatus())}


def _gap(bound: float | None, best: float | None) -> float | None:
    if bound is None or best is None or best == 0:
        return None
    return (bound - best) / abs(best)


def by_block(am: Any, x_lp: np.ndarray, x_best: np.ndarray) -> list[dict[str, Any]]:
    """Objective contribution and fractional binaries of every variable block, LP point
    against the best plan: where the relaxation gains its extra profit.
    """
    out = []
    integ = am.integrality() > 0
    for name, blk in am.vars.items():
        sl = slice(blk.start, blk.start + blk.n)
        c = am.cost[sl]
        frac = np.abs(x_lp[sl] - np.round(x_lp[sl])) > 1e-6
        out.append({"block": name, "lp": float(c @ x_lp[sl]), "best": float(c @ x_best[sl]),
                    "fractional": int((frac & integ[sl]).sum()), "n": blk.n})
    return out


def row_slack(am: Any, x: np.ndarray) -> dict[str, tuple[int, int]]:
    """Per row family: (rows at a bound within 1e-6, rows)."""
    a = am.matrix("csr") @ x
    lo, up = am.row_bounds()
    out = {}
    for name, blk in am.cons.items():
        sl = slice(blk.start, blk.start + blk.n)
        tight = (np.abs(a[sl] - up[sl]) < 1e-6 * np.maximum(1, np.abs(up[sl]))) | \
            (np.abs(a[sl] - lo[sl]) < 1e-6 * np.maximum(1, np.abs(lo[sl])))
        out[name] = (int(tight.sum()), blk.n)
    return out


def scenario_of(name: str, n_cells: int | None, seed: int | None) -> Any:
    """A generator instance (family at a size and seed) or a shipped instance."""
    from channel_opt.scenario import Scenario, load_scenario

    if n_cells is None:
        path = ROOT / "instances" / name / f"{name}.yaml"
        return load_scenario(path)
    from .generator import generate

    tables, settings = generate(name, n_cells, seed or 0)
    return Scenario.from_frames(tables, settings, name=f"{name}_{n_cells}_{seed}")


def measure(scen: Any, *, best_limit: float, root_limit: float,
            blocks: bool = False, known: float | None = None) -> dict[str, Any]:
    """LP, root, cheap bounds and the best plan of one scenario."""
    from channel_opt.model import build_array_model
    from channel_opt.solving.heuristic import construct

    t = time.perf_counter()
    am, data = build_array_model(scen)
    build_s = time.perf_counter() - t
    start = construct(am, data, time_limit=best_limit / 4)
    lp = _highs(am, relax=True, time_limit=root_limit)
    root = _highs(am, relax=False, time_limit=root_limit, nodes=1, start=start.x)
    best = _highs(am, relax=False, time_limit=best_limit, start=start.x)
    cands = [v for v in (best["objective"], start.objective, root["objective"], known)
             if v is not None]
    best_obj = max(cands) if cands else None
    row: dict[str, Any] = {
        "instance": scen.name, "cells": len(scen.cells), "cols": am.n_cols,
        "rows": am.n_rows, "build_s": round(build_s, 2),
        "lp": lp["bound"], "lp_s": round(lp["seconds"], 2),
        "root": root["bound"], "root_s": round(root["seconds"], 2),
        "cheap": start.bound, "best": best_obj, "best_status": best["status"],
        "best_bound": best["bound"], "best_s": round(best["seconds"], 2),
        "gap_lp": _gap(lp["bound"], best_obj), "gap_root": _gap(root["bound"], best_obj),
        "gap_cheap": _gap(start.bound, best_obj), "gap_final": _gap(best["bound"], best_obj),
    }
    x_best = best["x"] if best["x"] is not None else start.x
    if blocks and lp["x"] is not None and x_best is not None:
        row["blocks"] = by_block(am, lp["x"], x_best)
        row["tight_lp"] = row_slack(am, lp["x"])
        row["tight_best"] = row_slack(am, x_best)
    return row


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.2f} %"


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of root gaps."""
    head = ("| instance | cells | best plan | LP gap | root gap | cheap-bound gap | "
            "final gap (HiGHS) | LP s | root s |")
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        best = "—" if r["best"] is None else f"{r['best']:,.0f}"
        lines.append(f"| {r['instance']} | {r['cells']} | {best} | {_pct(r['gap_lp'])} | "
                     f"{_pct(r['gap_root'])} | {_pct(r['gap_cheap'])} | "
                     f"{_pct(r['gap_final'])} | {r['lp_s']} | {r['root_s']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", nargs="*", default=["core", "conflict", "partners",
                                                       "capacity", "all"])
    ap.add_argument("--sizes", nargs="*", type=int, default=[1000, 10000])
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1])
    ap.add_argument("--instances", nargs="*", default=list(SHIPPED))
    ap.add_argument("--best-limit", type=float, default=60.0)
    ap.add_argument("--root-limit", type=float, default=120.0)
    ap.add_argument("--by-block", action="store_true")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    rows = []
    jobs: list[tuple[str, int | None, int | None]] = [
        (f, n, s) for f in a.families for n in a.sizes for s in a.seeds]
    jobs += [(i, None, None) for i in a.instances]
    for name, n, s in jobs:
        row = measure(scenario_of(name, n, s), best_limit=a.best_limit,
                      root_limit=a.root_limit, blocks=a.by_block)
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items()}, default=str), file=sys.stderr,
              flush=True)
        if a.json:
            a.json.write_text(json.dumps(rows, indent=1, default=str))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
