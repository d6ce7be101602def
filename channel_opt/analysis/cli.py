"""The ``sweep``, ``frontier`` and ``compare`` subcommands of ``channel-opt``.

Exit status: 0 every point has a result (whatever its plan status), 2 bad input (a bad
override or scenario, a folder that may not be written, a bad executor setting:
nothing solved, nothing written), 4 a task of the batch failed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ..executor import ExecutorError, TaskError
from ..output import OutputRefused, safe_folder_name
from ..scenario import ScenarioError, load_scenario
from ..solving.options import OptionsError
from ..solving.pipeline import EXIT_BAD_INPUT, EXIT_FAILURE

_SHOWN = ["plan_status", "objective", "gap", "overlap_count"]


def _solve_options(a: argparse.Namespace) -> dict[str, Any]:
    return {k: v for k, v in (("solver", a.solver), ("time_limit", a.time_limit),
                              ("mip_gap", a.mip_gap)) if v is not None}


def _print(table: pd.DataFrame, cols: list[str]) -> None:
    shown = table[[c for c in cols if c in table.columns]]
    print(shown.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))


def _run(fn: Callable[[], int]) -> int:
    """Map the analysis errors to exit codes (bad input 2, failed task 4)."""
    try:
        return fn()
    except ScenarioError as e:
        print(str(e), file=sys.stderr)
        return EXIT_BAD_INPUT
    except (OutputRefused, ExecutorError, OptionsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (TaskError, ValueError) as e:  # a failed task; no plan to take a frontier of
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILURE


def cmd_sweep(a: argparse.Namespace) -> int:
    """Solve a grid of overrides and write ``sweep.csv``, the report and every point."""
    from .overrides import parse_grid
    from .sweep import sweep

    def go() -> int:
        scen = load_scenario(a.scenario, allow_outside=a.allow_outside_tables)
        grid = parse_grid(a.set or [])
        if not grid:
            print("error: give at least one --set KEY=V1,V2,...", file=sys.stderr)
            return EXIT_BAD_INPUT
        out = Path(a.out) if a.out else Path("results") / f"{safe_folder_name(scen.name)}-sweep"
        table = sweep(scen, grid, workers=a.workers, scheduler=a.scheduler, out=out,
                      input_path=a.scenario, overwrite=a.overwrite, plots=not a.no_plots,
                      xlsx=a.format == "xlsx", **_solve_options(a))
        _print(table, [*grid, *_SHOWN])
        print(f"{len(table)} point(s) -> {out}")
        return 0

    return _run(go)


def cmd_frontier(a: argparse.Namespace) -> int:
    """Compute the profit–overlap frontier and write ``frontier.csv`` and the report."""
    from .frontier import frontier
    from .overrides import apply_overrides, as_overrides

    def go() -> int:
        scen = load_scenario(a.scenario, allow_outside=a.allow_outside_tables)
        scen = apply_overrides(scen, as_overrides(a.set or []))
        if a.points != "all" and (not a.points.isdigit() or int(a.points) < 2):
            print(f"error: --points must be 'all' or a whole number of at least 2, got "
                  f"{a.points!r}", file=sys.stderr)
            return EXIT_BAD_INPUT
        out = Path(a.out) if a.out else \
            Path("results") / f"{safe_folder_name(scen.name)}-frontier"
        table = frontier(scen, None if a.points == "all" else int(a.points),
                         workers=a.workers, scheduler=a.scheduler, out=out,
                         input_path=a.scenario, overwrite=a.overwrite, plots=not a.no_plots,
                         xlsx=a.format == "xlsx", mip_gap=a.mip_gap, time_limit=a.time_limit)
        _print(table, ["overlap_count", "objective", "plan_status", "gap", "current"])
        print(f"{len(table)} Pareto point(s) -> {out}")
        return 0

    return _run(go)


def cmd_compare(a: argparse.Namespace) -> int:
    """Compare runs (result folders or scenario files) and write the tables and report."""
    from .compare import compare

    def go() -> int:
        if len(a.runs) < 2:
            print("error: give at least two result folders or scenario files",
                  file=sys.stderr)
            return EXIT_BAD_INPUT
        for r in a.runs:
            if not Path(r).exists():
                print(f"error: {r}: no such result folder or scenario file", file=sys.stderr)
                return EXIT_BAD_INPUT
        names = [Path(r).stem if Path(r).is_file() else Path(r).name for r in a.runs]
        out = Path(a.out) if a.out else \
            Path("results") / safe_folder_name("compare-" + "-vs-".join(names))
        tables = compare(*a.runs, workers=a.workers, scheduler=a.scheduler, out=out,
                         overwrite=a.overwrite, plots=not a.no_plots, xlsx=a.format == "xlsx",
                         **_solve_options(a))
        print(tables["kpis"].to_string(index=False))
        n = {k: len(tables[k]) for k in ("cells", "listings", "openings", "prices")}
        print("plan differences: " + ", ".join(f"{v} {k}" for k, v in n.items()) + f" -> {out}")
        return 0

    return _run(go)


def _batch_parser(sub: Any, name: str, common: argparse.ArgumentParser, help_: str,
                  options: Callable[..., None]) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(name, parents=[common], help=help_)
    p.add_argument("--solver", default=None, help="solver backend (default highs)")
    p.add_argument("--time-limit", type=float, help="seconds per solve")
    p.add_argument("--mip-gap", type=float, help="relative gap per solve (default 1e-4)")
    p.add_argument("--out", help=f"result folder (default results/<scenario name>-{name})")
    p.add_argument("--overwrite", "--force", action="store_true",
                   help="replace a folder that holds another scenario's result")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    options(p)
    return p


def add_commands(sub: Any, common: argparse.ArgumentParser,
                 options: Callable[..., None]) -> None:
    """Register the analysis subcommands on the ``channel-opt`` parser."""
    s = _batch_parser(sub, "sweep", common, "solve a grid of what-ifs (--set KEY=V1,V2,...)",
                      options)
    s.add_argument("scenario", help="scenario file (.yaml/.json/.xlsx)")
    s.set_defaults(fn=cmd_sweep)
    f = _batch_parser(sub, "frontier", common, "the exact profit–overlap Pareto frontier",
                      options)
    f.add_argument("scenario", help="scenario file (.yaml/.json/.xlsx)")
    f.add_argument("--points", default="all", help="'all' (default): every Pareto point; "
                   "N: about N points spread over the overlap range")
    f.set_defaults(fn=cmd_frontier)
    c = _batch_parser(sub, "compare", common, "compare runs side by side (result folders "
                      "or scenario files)", options)
    c.add_argument("runs", nargs="+", metavar="RUN_OR_SCENARIO")
    c.set_defaults(fn=cmd_compare)
