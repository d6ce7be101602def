"""What sweeps, frontiers and comparisons share: the solve task sent to the batch
executor, the row a solution contributes to a table, and the batch result folder.

A batch folder (``sweep/``, ``frontier/``, ``compare/``) is written like a single
result (:mod:`channel_opt.output`): checked first with
:func:`~channel_opt.output.check_target`, filled in a hidden temporary folder with
channel_opt's marker, moved into place with one rename; a folder channel_opt did not
write, or the result of another scenario, is never replaced.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .. import output, report
from ..scenario import Scenario
from ..solving import Solution
from ..solving import solve as solve_scenario

# the KPIs (numbers) a sweep / compare row carries, in this order
KPI_COLUMNS = ("profit", "revenue", "units_sold", "lost_sales_units", "overlap_count",
               "channels_opened", "listings", "commission_paid", "max_capacity_utilization")


@dataclass(frozen=True)
class SolveTask:
    """One solve of a batch: a scenario (pickled by content) and the solve options.
    The worker builds the model from the scenario itself.
    """

    scenario: Scenario
    options: dict[str, Any] = field(default_factory=dict)


def run_solve(task: SolveTask) -> Solution:
    """The batch task: ``channel_opt.solve(task.scenario, **task.options)``."""
    return solve_scenario(task.scenario, **task.options)


def solution_row(sol: Solution) -> dict[str, Any]:
    """Status, profit, bound, gap, solve time and the numeric KPIs of a solution."""
    row: dict[str, Any] = {"plan_status": sol.plan_status, "termination": sol.termination,
                           "objective": sol.objective, "bound": sol.bound, "gap": sol.gap}
    for k in KPI_COLUMNS:
        row[k] = sol.kpis.get(k)
    row["solve_seconds"] = sol.timings.get("solve")
    row["scenario_hash"] = sol.scenario_hash
    return row


def unique_names(names: list[str]) -> list[str]:
    """Safe folder names, made unique by ``-2``, ``-3``... (never two points in one)."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        base = output.safe_folder_name(n)
        key = base.lower()
        seen[key] = seen.get(key, 0) + 1
        out.append(base if seen[key] == 1 else f"{base}-{seen[key]}")
    return out


def write_batch_folder(out_dir: str | os.PathLike[str], scenario: Scenario,
                       input_path: str | os.PathLike[str] | None,
                       fill: Callable[[Path], None], *, overwrite: bool = False) -> Path:
    """Write a batch result folder atomically: ``fill(tmp)`` writes its content into a
    hidden temporary folder that then replaces ``out_dir`` (see the module note).
    """
    return output.write_folder(out_dir, scenario, input_path, fill, overwrite=overwrite)


def write_table(d: Path, name: str, df: pd.DataFrame) -> None:
    """A table of a batch folder as CSV."""
    df.to_csv(d / f"{name}.csv", index=False)


def pyplot() -> Any:
    """Pyplot (matplotlib) on the Agg backend, or ``None`` when it is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def md_table(df: pd.DataFrame, max_rows: int = 60, file: str | None = None) -> str:
    """A Markdown table (the result report's format)."""
    return report.md_table(df, max_rows, file)
