"""Formulation strength: root gaps of the channel-design MIP per family and size.

For every instance (a generator family at a size and seed, or a shipped instance):

* ``lp``: the LP relaxation bound (HiGHS, integrality dropped);
* ``root``: HiGHS' bound after its root node (presolve, cuts; ``mip_max_nodes = 0``);
* ``cheap``: the constructive heuristic's bound (``solving/heuristic.py``) and
  ``priced``: the same with the capacities priced (``solving/capacity_bound.py``), the
  bound the pipeline reports when the solver has none;
* ``best``: the best plan a time-limited HiGHS solve finds (and its final bound);

and the root gaps ``(bound - best) / |best|``. With ``--by-block`` the LP solution is
compared with the best plan block by block (objective share, fractional binaries), so
a reader sees which rows' relaxation leaks.

With ``--ref DIR`` (a checkout of the code before a change, e.g. ``git worktree add
/tmp/ref main``) the LP bound of the reference formulation is measured on the same
instance in the same run (a child process importing ``channel_opt`` from ``DIR``), so
the table shows the root gap before and after.

``python -m benchmarks.strength --families core partners --sizes 1000 --seeds 0 1``
prints a Markdown table; ``--json FILE`` keeps the rows. ``--root`` adds HiGHS' bound
after its root node (``mip_max_nodes = 1``: 0 stops before the root).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
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


def lp_of(scen: Any, time_limit: float) -> dict[str, Any]:
    """The LP relaxation bound of a scenario with the ``channel_opt`` imported here."""
    from channel_opt.model import build_array_model

    am, _ = build_array_model(scen)
    r = _highs(am, relax=True, time_limit=time_limit)
    return {"lp": r["bound"], "lp_s": round(r["seconds"], 2), "rows": am.n_rows}


def ref_lp(ref: Path, name: str, n_cells: int | None, seed: int | None,
           time_limit: float) -> dict[str, Any]:
    """The LP bound of the reference code at ``ref`` (a child process)."""
    cmd = [sys.executable, "-m", "benchmarks.strength", "--code", str(ref), "--lp-only",
           "--root-limit", str(time_limit), "--one", name, str(n_cells or 0), str(seed or 0)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": ""})
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def measure(scen: Any, *, best_limit: float, root_limit: float, root: bool = False,
            blocks: bool = False, ref: dict[str, Any] | None = None) -> dict[str, Any]:
    """LP, root, cheap bounds and the best plan of one scenario (``ref``: the
    reference code's LP bound of the same scenario, measured by :func:`ref_lp`).
    """
    from channel_opt.model import build_array_model
    from channel_opt.solving.capacity_bound import capacity_bound
    from channel_opt.solving.heuristic import construct

    t = time.perf_counter()
    am, data = build_array_model(scen)
    build_s = time.perf_counter() - t
    start = construct(am, data, time_limit=best_limit / 4)
    t = time.perf_counter()
    priced = capacity_bound(am, data, start.objective, seconds=best_limit / 4)
    priced_s = time.perf_counter() - t
    lp = _highs(am, relax=True, time_limit=root_limit)
    rt = _highs(am, relax=False, time_limit=root_limit, nodes=1, start=start.x) if root \
        else {"bound": None, "objective": None, "seconds": 0.0}
    best = _highs(am, relax=False, time_limit=best_limit, start=start.x)
    cands = [v for v in (best["objective"], start.objective, rt["objective"]) if v is not None]
    best_obj = max(cands) if cands else None
    ref = ref or {}
    row: dict[str, Any] = {
        "instance": scen.name, "cells": len(scen.cells), "cols": am.n_cols,
        "rows": am.n_rows, "build_s": round(build_s, 2),
        "lp": lp["bound"], "lp_s": round(lp["seconds"], 2),
        "lp_ref": ref.get("lp"), "lp_ref_s": ref.get("lp_s"), "rows_ref": ref.get("rows"),
        "root": rt["bound"], "root_s": round(rt["seconds"], 2),
        "cheap": start.bound, "priced": priced, "priced_s": round(priced_s, 2),
        "best": best_obj, "best_status": best["status"],
        "best_bound": best["bound"], "best_s": round(best["seconds"], 2),
        "gap_lp": _gap(lp["bound"], best_obj), "gap_lp_ref": _gap(ref.get("lp"), best_obj),
        "gap_root": _gap(rt["bound"], best_obj),
        "gap_cheap": _gap(start.bound, best_obj), "gap_priced": _gap(priced, best_obj),
        "gap_final": _gap(best["bound"], best_obj),
    }
    x_best = best["x"] if best["x"] is not None else start.x
    if blocks and lp["x"] is not None and x_best is not None:
        row["blocks"] = by_block(am, lp["x"], x_best)
        row["tight_lp"] = row_slack(am, lp["x"])
        row["tight_best"] = row_slack(am, x_best)
    return row


def with_known(row: dict[str, Any], known: dict[str, float]) -> dict[str, Any]:
    """The row with its gaps against the better of its own plan and a known one."""
    k = known.get(row["instance"])
    if k is None or (row["best"] is not None and row["best"] >= k):
        return row
    out = {**row, "best": k, "best_known": True}
    for gap, bound in (("gap_lp", "lp"), ("gap_lp_ref", "lp_ref"), ("gap_root", "root"),
                       ("gap_cheap", "cheap"), ("gap_priced", "priced"),
                       ("gap_final", "best_bound")):
        out[gap] = _gap(row.get(bound), k)
    return out


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.2f} %"


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of root gaps (``before``: the reference code's LP, if measured)."""
    head = ("| instance | cells | rows before → after | best plan | LP gap before | "
            "LP gap after | cheap-bound gap | priced-bound gap | HiGHS final gap | "
            "LP s before / after |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        best = "—" if r["best"] is None else f"{r['best']:,.0f}" + ("*" * bool(
            r.get("best_known")))
        lines.append(f"| {r['instance']} | {r['cells']} | {r.get('rows_ref') or '—'} → "
                     f"{r['rows']} | {best} | {_pct(r.get('gap_lp_ref'))} | "
                     f"{_pct(r['gap_lp'])} | {_pct(r['gap_cheap'])} | "
                     f"{_pct(r.get('gap_priced'))} | "
                     f"{_pct(r['gap_final'])} | {r.get('lp_ref_s') or '—'} / {r['lp_s']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--families", nargs="*", default=["core", "conflict", "partners",
                                                       "capacity", "all"])
    ap.add_argument("--sizes", nargs="*", type=int, default=[1000, 10000])
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1])
    ap.add_argument("--instances", nargs="*", default=list(SHIPPED))
    ap.add_argument("--best-limit", type=float, default=60.0)
    ap.add_argument("--root-limit", type=float, default=600.0, help="LP and root limit (s)")
    ap.add_argument("--root", action="store_true", help="also HiGHS' root-node bound")
    ap.add_argument("--by-block", action="store_true")
    ap.add_argument("--ref", type=Path, help="checkout of the code to compare against")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--code", type=Path, help=argparse.SUPPRESS)  # child: import from here
    ap.add_argument("--lp-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--known", nargs="*", default=[], metavar="INSTANCE=PROFIT",
                    help="best known plans from longer runs (gaps use the better plan)")
    ap.add_argument("--from-json", type=Path, help="re-render saved rows, measure nothing")
    a = ap.parse_args(argv)
    known = {k: float(v) for k, v in (x.split("=", 1) for x in a.known)}
    if a.from_json:
        print(table([with_known(r, known) for r in json.loads(a.from_json.read_text())]))
        return 0
    if a.code:
        sys.path.insert(0, str(a.code.resolve()))
    if a.lp_only:
        name, n, seed = a.one[0], int(a.one[1]) or None, int(a.one[2])
        print(json.dumps(lp_of(scenario_of(name, n, seed), a.root_limit)))
        return 0
    rows = []
    jobs: list[tuple[str, int | None, int | None]] = [
        (f, n, s) for n in a.sizes for s in a.seeds for f in a.families]
    jobs = [(i, None, None) for i in a.instances] + jobs
    for name, n, s in jobs:
        ref = None if a.ref is None else ref_lp(a.ref, name, n, s, a.root_limit)
        row = measure(scenario_of(name, n, s), best_limit=a.best_limit,
                      root_limit=a.root_limit, root=a.root, blocks=a.by_block, ref=ref)
        rows.append(with_known(row, known))
        print(json.dumps(row, default=str), file=sys.stderr, flush=True)
        if a.json:
            a.json.write_text(json.dumps(rows, indent=1, default=str))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
