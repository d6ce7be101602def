"""Parameter sweeps: solve a grid of what-ifs side by side.

``sweep(scenario, {"rules.overlap.cost": [0, 600], "regions.partner_profit_floor*":
[0.8, 1.2]})`` solves every combination (a grid, in the order given) through the batch
executor and returns one row per point: the value of every swept key, the plan status,
profit (``objective``), bound, gap and the KPIs. Every point's scenario is built and
validated here, before anything is solved (a bad key or value raises
:class:`~channel_opt.scenario.ScenarioError`); the workers receive the scenario and
build their own model.

With ``out`` the sweep is written as a folder: ``sweep.csv``, ``report.md`` with a plot
per swept key, and each point's full result in a folder of its own named from its
overrides (``rules.overlap.cost=600``), with the overrides and the input path in its
``summary.json``; the whole folder is written atomically and only where
:func:`~channel_opt.output.check_target` allows. A point's folder holds every table
and its report, without the single-solve plots (``point_plots=True`` draws them):
drawing them took most of a small sweep's time (``benchmarks/overhead.py --sweep``).
The fixed-design sensitivity LP of each point is solved, and the result tables the
plan check does not read are made, only when its folder is written (the table in
memory does not use them). A settings-only point keeps the validated tables and the
model data of its scenario (:meth:`~channel_opt.scenario.Scenario.with_settings`).
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .. import output
from ..executor import Progress, run_batch
from ..scenario import Scenario, load_scenario
from ..solving import Solution
from .batch import (
    SolveTask,
    md_table,
    pyplot,
    run_solve,
    solution_row,
    unique_names,
    write_batch_folder,
    write_table,
)
from .overrides import Override, apply_overrides, describe, make_override

log = logging.getLogger("channel_opt")


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[list[Override]]:
    """Every combination of the grid's values, as override lists (first key slowest)."""
    keys = list(grid)
    for k in keys:
        if isinstance(grid[k], str) or not isinstance(grid[k], Sequence) or not len(grid[k]):
            raise ValueError(f"sweep values of {k!r} must be a non-empty list")
    return [[make_override(k, v) for k, v in zip(keys, combo, strict=True)]
            for combo in itertools.product(*(grid[k] for k in keys))]


def point_name(ovs: Sequence[Override]) -> str:
    """A point's folder name, from its overrides: ``rules.overlap.cost=600,...``."""
    return ",".join(f"{o.key.rstrip('*')}={'x' if o.scale else ''}{o.value}" for o in ovs)


def sweep(scenario: Scenario | str | os.PathLike[str], grid: Mapping[str, Sequence[Any]], *,
          workers: int | None = None, scheduler: str | None = None,
          out: str | os.PathLike[str] | None = None,
          input_path: str | os.PathLike[str] | None = None, overwrite: bool = False,
          plots: bool = True, xlsx: bool = False, progress: Progress | None = None,
          point_plots: bool = False, **solve_options: Any) -> pd.DataFrame:
    """Solve every point of ``grid`` (key -> values; a key ending in ``*`` scales) and
    return a row per point: a column per key, ``objective``, ``plan_status``, ``gap``,
    ``bound``, KPIs (and ``folder`` when written to ``out``).

    ``workers``/``scheduler`` choose the executor (:func:`channel_opt.executor.
    get_executor`: local processes, or a Dask scheduler address); ``solve_options`` go
    to :func:`channel_opt.solve` (solver, time_limit, mip_gap, threads, seed).
    ``plots``: the sweep's plot per key; ``point_plots``: also each point's own plots.
    """
    if not isinstance(scenario, Scenario):
        input_path = scenario if input_path is None else input_path
        scenario = load_scenario(scenario)
    if out is not None:  # refused before anything is solved
        output.check_target(out, scenario, input_path, overwrite=overwrite)
    points = grid_points(grid)
    scens = [apply_overrides(scenario, ovs) for ovs in points]
    names = unique_names([point_name(ovs) for ovs in points])
    # only a folder shows the sensitivity and every result table (a row: the KPIs)
    opts = {"sensitivity": out is not None, "result_tables": out is not None,
            **solve_options}
    log.info("sweep of %s: %d point(s)", scenario.name, len(points))
    sols: list[Solution] = run_batch(run_solve, [SolveTask(s, opts) for s in scens],
                                     workers=workers, scheduler=scheduler, labels=names,
                                     progress=progress)
    rows = []
    for ovs, sol, name in zip(points, sols, names, strict=True):
        row: dict[str, Any] = {o.key: o.value for o in ovs}
        row.update(solution_row(sol))
        if out is not None:
            row["folder"] = name
        rows.append(row)
    table = pd.DataFrame(rows)
    if out is not None:
        def fill(d: Path) -> None:
            for ovs, sol, scen, name in zip(points, sols, scens, names, strict=True):
                output.write_solution(sol, scen, d / name, plots=plots and point_plots,
                                      input_path=input_path,
                                      overrides=describe(ovs), xlsx=xlsx)
            _write_sweep(d, table, list(grid), scenario, plots, xlsx)

        write_batch_folder(out, scenario, input_path, fill, overwrite=overwrite)
    return table


def _write_sweep(d: Path, table: pd.DataFrame, keys: list[str], scen: Scenario, plots: bool,
                 xlsx: bool) -> None:
    write_table(d, "sweep", table)
    images = sweep_plots(d, table, keys, scen.settings.currency) if plots else []
    cur = scen.settings.currency
    s = [f"# Sweep: {scen.name}", "",
         f"{len(table)} point(s) over {', '.join(f'`{k}`' for k in keys)}; each point's "
         "full result is in the folder named in `folder`.", "",
         f"Profit (`objective`) in {cur}; `gap` is the relative MIP gap.", "",
         md_table(table.drop(columns=["scenario_hash"]), 100, "sweep.csv"), ""]
    if images:
        s += ["## Plots", ""] + [f"![{i}]({i})" for i in images] + [""]
    (d / "report.md").write_text("\n".join(s), encoding="utf-8")
    if xlsx:
        from ..output_xlsx import write_workbook

        write_workbook(d / "sweep.xlsx", {"sweep": table},
                       {"scenario": scen.name, "scenario_hash": scen.hash, "points": len(table),
                        "keys": keys})


def sweep_plots(d: Path, table: pd.DataFrame, keys: list[str], currency: str) -> list[str]:
    """One plot per swept key: profit against the key's values, a line per combination
    of the other keys' values. Returns the file names.
    """
    plt = pyplot()
    if plt is None or not len(table):
        return []
    out = []
    for i, key in enumerate(keys):
        others = [k for k in keys if k != key]
        fig, ax = plt.subplots(figsize=(6, 4))
        groups = table.groupby(others, sort=False) if others else [((), table)]
        for label, g in groups:
            lab = ", ".join(f"{k}={v}" for k, v in zip(others, label if isinstance(
                label, tuple) else (label,), strict=True)) if others else None
            xs = g[key].to_numpy()
            numeric = pd.api.types.is_numeric_dtype(g[key].dtype)
            ax.plot(xs if numeric else [str(x) for x in xs], g["objective"].to_numpy(float),
                    marker="o", label=lab)
        ax.set_xlabel(key)
        ax.set_ylabel(f"profit ({currency})")
        ax.set_title(f"Profit vs {key}")
        if others:
            ax.legend(fontsize=7, frameon=False)
        name = f"sweep_{i + 1}_{output.safe_folder_name(key.rstrip('*'))}.png"
        fig.savefig(d / name, dpi=110, bbox_inches="tight")
        plt.close(fig)
        out.append(name)
    return out
