"""Scenario-analysis benchmark (issue 14): ``python -m benchmarks.analysis``.

sweep
    20 points of ``tiny`` (``rules.overlap.cost`` = 0, 50, ..., 950) through
    ``channel_opt.sweep`` (serial and on local worker processes) against the bare
    solves of the same 20 scenarios in a loop in this process: the sum of their
    ``channel_opt.solve`` wall times and the sum of the solver's own times
    (``timings["solve"]``). Overhead ratio = sweep wall / sum of bare solve walls.
frontier
    A ``--points``-point profit–overlap frontier of ``apparel`` on ``--workers`` local
    processes: wall time, points, their statuses.

Writes ``benchmarks/results/analysis_<what>.md`` (rewritten) and prints it. The machine
load is printed with the numbers: timings on a shared machine are only comparable
side by side within one run.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pandas as pd

import channel_opt
from channel_opt.analysis.batch import md_table
from channel_opt.analysis.overrides import apply_overrides

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "instances" / "tiny" / "tiny.yaml"
APPAREL = ROOT / "instances" / "apparel" / "apparel.yaml"
RESULTS = ROOT / "benchmarks" / "results"
COSTS = [50 * i for i in range(20)]


def bench_sweep(workers: int) -> list[str]:
    scen = channel_opt.load_scenario(TINY)
    channel_opt.solve(scen)  # warm-up: imports, first HiGHS call
    points = [apply_overrides(scen, {"rules.overlap.cost": c}) for c in COSTS]
    bare_wall, bare_solver = 0.0, 0.0
    for s in points:
        t = time.perf_counter()
        sol = channel_opt.solve(s)
        bare_wall += time.perf_counter() - t
        bare_solver += sol.timings["solve"]
    t = time.perf_counter()
    serial = channel_opt.sweep(scen, {"rules.overlap.cost": COSTS}, workers=1)
    serial_wall = time.perf_counter() - t
    t = time.perf_counter()
    procs = channel_opt.sweep(scen, {"rules.overlap.cost": COSTS}, workers=workers)
    procs_wall = time.perf_counter() - t
    same = bool((serial["objective"] == procs["objective"]).all())
    return [
        "## Sweep: 20 points of tiny (rules.overlap.cost = 0, 50, ..., 950)", "",
        "| run | wall (s) | / sum of bare solve() walls |", "|---|---|---|",
        f"| bare `channel_opt.solve` x 20, in a loop | {bare_wall:.2f} | 1.00 |",
        f"| (of which the solver itself) | {bare_solver:.2f} | {bare_solver / bare_wall:.2f} |",
        f"| `sweep(workers=1)` (in process) | {serial_wall:.2f} | "
        f"{serial_wall / bare_wall:.2f} |",
        f"| `sweep(workers={workers})` (spawned processes) | {procs_wall:.2f} | "
        f"{procs_wall / bare_wall:.2f} |", "",
        f"Process and serial results identical: {same}.", ""]


def bench_frontier(points: int, workers: int, time_limit: float | None) -> list[str]:
    print(f"frontier of apparel, {points} points on {workers} workers...", flush=True)
    t = time.perf_counter()
    f = channel_opt.frontier(APPAREL, points, workers=workers, time_limit=time_limit)
    wall = time.perf_counter() - t
    cols = ["overlap_count", "objective", "plan_status", "gap", "current"]
    return [f"## Frontier: apparel, {points} points requested, {workers} workers", "",
            f"Wall time {wall:.1f} s for {len(f)} Pareto point(s)"
            + ("" if time_limit is None else f" (time limit {time_limit:g} s per solve)")
            + ".", "", md_table(f[cols], 100), ""]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.analysis", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", nargs="*", default=["sweep", "frontier"],
                   choices=["sweep", "frontier"])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--points", type=int, default=10)
    p.add_argument("--time-limit", type=float, default=None, help="per frontier solve")
    a = p.parse_args(argv)
    pd.set_option("display.width", 200)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = ["# Scenario analysis benchmark", "",
             f"{os.cpu_count()} cores, load average {load:.1f} at the start "
             "(shared machine: compare only numbers of one run).", ""]
    if "sweep" in a.what:
        lines += bench_sweep(a.workers)
    if "frontier" in a.what:
        lines += bench_frontier(a.points, a.workers, a.time_limit)
    text = "\n".join(lines)
    (RESULTS / f"analysis_{'_'.join(a.what)}.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
