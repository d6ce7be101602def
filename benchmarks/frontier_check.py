"""The frontier against the enumeration (issue 14): ``python -m benchmarks.frontier_check``.

Issue 14 is done when the profit–overlap frontier of a scenario equals the one found
by enumerating the overlap budget ``rules.overlap.max_pairs`` from 0 to the
unconstrained overlap count with a plain solve per value. This script does exactly
that for a whole scenario:

1. ``channel_opt.frontier(scenario, points="all")`` (AUGMECON2, on ``--workers``
   processes), timed;
2. the unconstrained overlap count ``U``: a plain solve with ``max_pairs`` at its
   largest allowed value;
3. a plain ``channel_opt.solve`` (``method="monolithic"``, no MIP start but the solve's
   own constructive plan, at ``--gap``) for every budget ``m = 0..U``, through
   ``channel_opt.executor`` on ``--workers`` processes, in ascending chunks;
4. the Pareto set of the enumeration by the oracle's rule (:func:`pareto_points`:
   budget ``m`` is a point when its profit beats every smaller budget's; the point's
   overlap count is ``m``) and the comparison point by point: the same overlap
   counts, and objectives equal within ``--tol`` (relative).

The Markdown table and the verdict go to ``benchmarks/results/frontier_check_<name>.md``,
rewritten after every chunk (a partial run is not lost: its verdict covers the budgets
enumerated so far); the raw rows go to ``frontier_check_<name>.csv`` (enumeration) and
``frontier_check_<name>_frontier.csv``.

This module is also the one place of the enumeration oracle the tests use
(:func:`budget_profit`, :func:`enumerated_frontier`, :func:`pareto_points`): the
oracle touches no analysis code (no ``frontier``, no MIP start, no slack).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

import channel_opt
from channel_opt.analysis.batch import SolveTask, run_solve
from channel_opt.analysis.overrides import apply_overrides
from channel_opt.executor import get_executor, run_batch
from channel_opt.model import build_array_model
from channel_opt.model.linear import to_highs
from channel_opt.scenario.tables import MAX_VALUE

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
GAP = 1e-9  # relative MIP gap of every enumeration solve (and of the frontier checked)
TOL = 1e-7  # relative: two profits closer than this are the same profit


def budget_scenario(scen: channel_opt.Scenario, m: float) -> channel_opt.Scenario:
    """The scenario with the overlap budget ``max_pairs: m`` (all else as given)."""
    return apply_overrides(scen, {"rules.overlap.max_pairs": m})


def budget_profit(scen: channel_opt.Scenario, m: int, gap: float = GAP) -> float | None:
    """The most profit with at most ``m`` overlaps: the model as built for
    ``max_pairs: m``, solved by HiGHS directly (no MIP start, no analysis code).
    """
    am, _ = build_array_model(budget_scenario(scen, m))
    h = to_highs(am)
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", gap)
    h.run()
    if h.getInfo().primal_solution_status != 2:
        return None
    return float(h.getInfo().objective_function_value)


def pareto_points(profits: Iterable[tuple[int, float | None]], tol: float = TOL
                  ) -> pd.DataFrame:
    """The oracle's rule on ``(budget, profit)`` pairs: a budget is a Pareto point when
    its profit beats every smaller budget's by more than ``tol`` x |profit| (a plan
    with fewer overlaps would fit the smaller budget, so the point's overlap count is
    the budget). Columns ``overlap_count``, ``objective``, by overlap count.
    """
    rows, best = [], -math.inf
    for m, p in sorted((m, p) for m, p in profits if p is not None):
        if p > best + tol * max(1.0, abs(p)):
            rows.append({"overlap_count": int(m), "objective": float(p)})
            best = p
    return pd.DataFrame(rows, columns=["overlap_count", "objective"])


def budget_profit_task(item: tuple[channel_opt.Scenario, int]) -> float | None:
    """:func:`budget_profit` as a task of the batch executor."""
    return budget_profit(*item)


def enumerated_frontier(scen: channel_opt.Scenario, upto: int, tol: float = TOL, *,
                        workers: int = 1) -> pd.DataFrame:
    """Pareto points from a plain HiGHS solve per budget ``0..upto`` (``workers``
    processes of the batch executor; 1: in this process).
    """
    profits = run_batch(budget_profit_task, [(scen, m) for m in range(upto + 1)],
                        workers=workers, progress=lambda d, n: None)
    return pareto_points(enumerate(profits), tol)


def compare(front: pd.DataFrame, enum: pd.DataFrame, tol: float = TOL,
            upto: int | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Frontier and enumerated Pareto points side by side, and the disagreements
    (empty: equal). ``upto``: only budgets up to it were enumerated (a partial run):
    frontier points above it are not judged.
    """
    f = front[["overlap_count", "objective"]].rename(columns={"objective": "frontier"})
    e = enum[["overlap_count", "objective"]].rename(columns={"objective": "enumeration"})
    t = f.merge(e, on="overlap_count", how="outer").sort_values("overlap_count",
                                                                 ignore_index=True)
    problems = []
    verdicts = []
    for _, r in t.iterrows():
        n, pf, pe = int(r["overlap_count"]), r["frontier"], r["enumeration"]
        if upto is not None and n > upto:
            verdicts.append("not enumerated yet")
        elif pd.isna(pf):
            verdicts.append("MISSING from the frontier")
            problems.append(f"{n} overlaps: Pareto point {pe:,.4f} missing from the frontier")
        elif pd.isna(pe):
            verdicts.append("DOMINATED (not a Pareto point)")
            problems.append(f"{n} overlaps: frontier point {pf:,.4f} is not a Pareto point")
        elif abs(pf - pe) > tol * max(1.0, abs(pe)):
            verdicts.append("PROFIT DIFFERS")
            problems.append(f"{n} overlaps: frontier {pf:,.4f} vs enumeration {pe:,.4f}")
        else:
            verdicts.append("equal")
    t["difference"] = t["frontier"] - t["enumeration"]
    t["verdict"] = verdicts
    return t, problems


def spot_compare(front: pd.DataFrame, profit: dict[int, float | None],
                 top: float | None, tol: float = TOL) -> tuple[pd.DataFrame, list[str]]:
    """A spot check of some frontier points (``--points N``): each point with ``c``
    overlaps must have the profit of a plain solve at budget ``c`` and beat the plain
    solve at ``c - 1`` (else a plan with fewer overlaps is as good: not a Pareto point);
    the top point must have the unconstrained profit (``top``). Budgets not solved
    yet are not judged. It cannot see a missing point: that takes every budget.
    """
    rows, problems = [], []
    for _, r in front.sort_values("overlap_count").iterrows():
        c, pf = int(r["overlap_count"]), float(r["objective"])
        pc, pb = profit.get(c), profit.get(c - 1) if c > 0 else -math.inf
        if c not in profit or (c > 0 and c - 1 not in profit):
            verdict = "not solved yet"
        elif pc is None or abs(pf - pc) > tol * max(1.0, abs(pc)):
            verdict = "PROFIT DIFFERS"
            problems.append(f"{c} overlaps: frontier {pf:,.4f} vs budget {c}: {pc}")
        elif pb is not None and pb >= pc - tol * max(1.0, abs(pc)):
            verdict = "DOMINATED (not a Pareto point)"
            problems.append(f"{c} overlaps: budget {c - 1} gives {pb:,.4f} >= {pc:,.4f}")
        else:
            verdict = "equal, Pareto"
        rows.append({"overlap_count": c, "frontier": pf, "budget c": pc,
                     "budget c-1": None if c == 0 else pb, "verdict": verdict})
    if top is not None and len(front):
        pmax = float(front["objective"].max())
        if abs(pmax - top) > tol * max(1.0, abs(top)):
            problems.append(f"top of the frontier {pmax:,.4f} vs unconstrained {top:,.4f}")
    return pd.DataFrame(rows), problems


def _load() -> str:
    try:
        return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover - not on every platform
        return "load average unknown"


class Report:
    """The Markdown report, rewritten whole after every step."""

    def __init__(self, path: Path, head: list[str]) -> None:
        self.path, self.head = path, head
        self.sections: dict[str, list[str]] = {}

    def put(self, key: str, lines: list[str]) -> None:
        self.sections[key] = lines
        text = "\n".join(self.head + [ln for s in self.sections.values() for ln in s]) + "\n"
        tmp = self.path.with_suffix(".md.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.path)


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return str(v)


def _md(df: pd.DataFrame, digits: int = 4) -> list[str]:
    cols = list(df.columns)
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        out.append("| " + " | ".join(_fmt(r[c], digits) for c in cols) + " |")
    return out


def run_check(path: Path, name: str, workers: int, gap: float, tol: float,
              time_limit: float | None, upto: int | None, out_dir: Path,
              resume: bool = False, spot: int | None = None,
              frontier_last: bool = False) -> int:
    """Frontier, enumeration, comparison; returns 0 when they agree, 1 if not.
    ``resume``: take the frontier and the budgets already solved from the files of
    an earlier (partial) run of the same scenario and go on from there. ``spot``: a
    ``spot``-point frontier and only the budgets ``c`` and ``c - 1`` of its points
    (:func:`spot_compare`), when the whole enumeration does not fit the time.
    ``frontier_last``: enumerate first (a run cut short keeps the budgets solved for a
    later ``resume``), the frontier after.
    """
    scen = channel_opt.load_scenario(path)
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / f"frontier_check_{name}.md"
    raw = out_dir / f"frontier_check_{name}.csv"
    fcsv = out_dir / f"frontier_check_{name}_frontier.csv"
    state = out_dir / f"frontier_check_{name}.json"
    old = json.loads(state.read_text()) if resume and state.exists() else {}
    if old and old.get("hash") != scen.hash:
        raise SystemExit(f"{state}: written for another scenario (hash {old.get('hash')})")
    rep = Report(md, [f"# Frontier against the enumeration: {name}", "",
                      f"Scenario `{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}`"
                      f" (hash `{scen.hash[:12]}`), MIP gap {gap:g} for every solve, profits "
                      f"equal within {tol:g} (relative), {workers} worker process(es). "
                      f"{'Resumed' if resume else 'Started'} "
                      f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, "
                      f"{_load()} (a shared machine: wall times are indicative).", ""])
    st: dict[str, Any] = {"hash": scen.hash, "frontier_wall": old.get("frontier_wall"),
                          "payoff_wall": old.get("payoff_wall"),
                          "enumeration_wall": old.get("enumeration_wall", 0.0)}
    solve_opts = {"mip_gap": gap, "time_limit": time_limit, "sensitivity": False,
                  "method": "monolithic", "threads": 1}
    def run_frontier() -> pd.DataFrame:
        if resume and fcsv.exists():
            front = pd.read_csv(fcsv)
        else:
            stamps: list[float] = []
            t0 = time.perf_counter()
            front = channel_opt.frontier(
                scen, spot or "all", workers=workers, mip_gap=gap, time_limit=time_limit,
                current=False, threads=1,
                progress=lambda d, n: stamps.append(time.perf_counter() - t0))
            st["frontier_wall"] = time.perf_counter() - t0
            st["payoff_wall"] = stamps[1] if len(stamps) > 1 else None
            front.to_csv(fcsv, index=False)
            state.write_text(json.dumps(st, indent=1))
        not_opt = int((front["plan_status"] != "optimal").sum())
        solve_sum = float(front["solve_seconds"].sum()) if "solve_seconds" in front \
            else math.nan
        rep.put("frontier", [
            "## The frontier", "",
            f"`channel_opt.frontier(points={spot or chr(34) + 'all' + chr(34)}, "
            f"workers={workers})`: {len(front)} Pareto points, overlaps "
            f"{front['overlap_count'].min()}..{front['overlap_count'].max()}, wall "
            f"{_fmt(st['frontier_wall'], 1)} s (payoff table done after "
            f"{_fmt(st['payoff_wall'], 1)} s; the solves of the reported points sum to "
            f"{solve_sum:.1f} s); {not_opt} point(s) not proven optimal.", ""])
        print(f"frontier: {len(front)} points in {_fmt(st['frontier_wall'], 1)} s",
              flush=True)
        return front

    later = frontier_last and not (resume and fcsv.exists()) and spot is None
    if later:
        rep.put("frontier", ["## The frontier", "", "Runs after the enumeration.", ""])
    front = None if later else run_frontier()

    rows: list[dict[str, Any]] = []
    if resume and raw.exists():
        rows = [{k: (None if isinstance(v, float) and math.isnan(v) else v)
                 for k, v in r.items()} for r in pd.read_csv(raw).to_dict("records")]
        rows = [{**r, "max_pairs": r["max_pairs"] if r["max_pairs"] == "unconstrained"
                 else int(r["max_pairs"])} for r in rows]
    top = [r for r in rows if r["max_pairs"] == "unconstrained"]
    if upto is None and top:
        upto = int(top[0]["overlap_count"])
    seen = {r["max_pairs"] for r in rows}
    ex = get_executor(workers)
    t1 = time.perf_counter()
    try:
        if upto is None:
            (sol,) = ex.map(run_solve, [SolveTask(budget_scenario(scen, MAX_VALUE),
                                                  solve_opts)])
            if not sol.has_plan:
                raise SystemExit(f"{name}: no plan without an overlap budget")
            upto = int(sol.kpis["overlap_count"])
            rows.append({"max_pairs": "unconstrained", "plan_status": sol.plan_status,
                         "objective": sol.objective, "overlap_count": upto, "gap": sol.gap,
                         "solve_seconds": sol.timings.get("solve")})
        wanted = range(upto + 1) if spot is None else sorted(
            {b for c in front["overlap_count"] for b in (int(c), int(c) - 1) if b >= 0})
        todo = [m for m in wanted if m not in seen]
        chunk = max(1, 2 * ex.workers)
        for i in range(0, len(todo), chunk):
            part = todo[i:i + chunk]
            sols = ex.map(run_solve, [SolveTask(budget_scenario(scen, m), solve_opts)
                                      for m in part])
            for m, s in zip(part, sols, strict=True):
                rows.append({"max_pairs": m, "plan_status": s.plan_status,
                             "objective": s.objective if s.has_plan else None,
                             "overlap_count": s.kpis.get("overlap_count"), "gap": s.gap,
                             "solve_seconds": s.timings.get("solve")})
            st["enumeration_wall"] = old.get("enumeration_wall", 0.0) + \
                time.perf_counter() - t1
            pd.DataFrame(rows).to_csv(raw, index=False)
            state.write_text(json.dumps(st, indent=1))
            _enum_report(rep, rows, front, tol, part[-1], upto, st["enumeration_wall"],
                         st["frontier_wall"], spot)
            print(f"enumerated budgets up to {part[-1]} of {upto} "
                  f"({st['enumeration_wall']:.0f} s)", flush=True)
    finally:
        ex.close()
    if front is None:
        front = run_frontier()
    return 0 if _enum_report(rep, rows, front, tol, upto, upto, st["enumeration_wall"],
                             st["frontier_wall"], spot) else 1


def _enum_report(rep: Report, rows: list[dict[str, Any]], front: pd.DataFrame | None,
                 tol: float,
                 last: int, upto: int, t_enum: float, t_front: float | None,
                 spot: int | None = None) -> bool:
    """Rewrite the enumeration and verdict sections; True when all agree so far."""
    enum_rows = [r for r in rows if r["max_pairs"] != "unconstrained"]
    pts = pareto_points(((r["max_pairs"], r["objective"]) for r in enum_rows), tol)
    if front is None:  # enumeration first: nothing to compare yet
        table, problems = pts, []
    elif spot is None:
        table, problems = compare(front, pts, tol, upto=last)
    else:
        top = [r["objective"] for r in rows if r["max_pairs"] == "unconstrained"]
        table, problems = spot_compare(front, {r["max_pairs"]: r["objective"]
                                               for r in enum_rows}, top[0] if top else None,
                                       tol)
    not_opt = [r["max_pairs"] for r in enum_rows if r["plan_status"] != "optimal"]
    complete = last >= upto
    solve_sum = sum(r["solve_seconds"] or 0.0 for r in rows)
    ok = not problems and not not_opt
    if front is None:
        verdict = (f"**ENUMERATION ONLY so far** (budgets 0..{last} of {upto}): the "
                   "frontier runs after it. The table lists the enumeration's Pareto points.")
    elif spot is not None:
        verdict = ("**SPOT CHECK " + ("PASSED" if ok else "FAILED") + f"** ({len(front)} "
                   "frontier points, each against plain solves at its count and one "
                   "below; a missing point needs the whole enumeration)"
                   + ("" if complete else ", partial: see the table") + ".")
    elif complete:
        verdict = ("**EQUAL**: every Pareto point of the enumeration is on the frontier "
                   "with the same profit, and the frontier has no other point."
                   if ok else "**DIFFERENT**: see below.")
    else:
        verdict = (f"**PARTIAL** (budgets 0..{last} of {upto} enumerated): "
                   + ("equal so far." if ok else "disagreements so far, see below."))
    lines = ["## Enumeration", "",
             f"A plain `channel_opt.solve` per budget, "
             f"{'0..' + str(last) if spot is None else str(len(enum_rows)) + ' budgets'} "
             f"of 0..{upto} "
             f"(the unconstrained overlap count): wall {t_enum:.1f} s, solver time summed "
             f"{solve_sum:.1f} s; {len(pts)} Pareto point(s) so far. Frontier wall "
             f"{_fmt(t_front, 1)} s.", "", "## Verdict", "", verdict, ""]
    lines += [f"- {p}" for p in problems]
    if not_opt:
        lines += [f"- budgets solved without proof of optimality: {not_opt}"]
    lines += ["", "## Pareto points side by side", ""] + _md(table) + [""]
    lines += ["## Every budget", ""] + _md(pd.DataFrame(rows), 2) + [""]
    rep.put("enumeration", lines)
    return ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.frontier_check",
                                description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", nargs="?", default=str(ROOT / "instances" / "regional"
                                                      / "regional.yaml"))
    p.add_argument("--name", help="report name (default: the scenario file's stem)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--gap", type=float, default=GAP)
    p.add_argument("--tol", type=float, default=TOL)
    p.add_argument("--time-limit", type=float, default=None, help="seconds per solve")
    p.add_argument("--upto", type=int, default=None,
                   help="last budget (default: the unconstrained overlap count)")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--points", type=int, default=None,
                   help="spot check: an N-point frontier, budgets c and c-1 of its points")
    p.add_argument("--frontier-last", action="store_true",
                   help="enumerate first, the frontier after (keeps budgets for --resume)")
    p.add_argument("--resume", action="store_true",
                   help="go on from the files of an earlier partial run (same --out, name)")
    a = p.parse_args(argv)
    path = Path(a.scenario).resolve()
    return run_check(path, a.name or path.stem, a.workers, a.gap, a.tol, a.time_limit,
                     a.upto, a.out, a.resume, a.points, a.frontier_last)


if __name__ == "__main__":
    raise SystemExit(main())
