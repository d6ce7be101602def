"""Compare runs side by side: KPIs with deltas, the profit breakdown per run and the
plan differences (cells whose offered channel set changed, listings, openings, price
levels).

A run is a result folder written by ``channel-opt solve`` (its ``summary.json`` and
tables), a scenario file or :class:`Scenario` (solved here, through the batch
executor), or a :class:`Solution`. The first run is the reference the deltas are
taken against. The profit lines are those of the model's profit breakdown; their
order is the registry's (``VarFamily.profit_line``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from ..executor import Progress, run_batch
from ..model.registry import VARIABLES
from ..scenario import Scenario, load_scenario
from ..solving import Solution
from .batch import KPI_COLUMNS, SolveTask, md_table, pyplot, run_solve, write_batch_folder

RunLike = Scenario | Solution | str | os.PathLike[str]
_TABLES = ("profit", "cell_channel", "product_channel", "region_channel")
_KEYS = {"product", "region", "segment", "channel", "component", "level"}


@dataclass
class Run:
    """One run of a comparison: its name, status, KPIs and result tables."""

    name: str
    plan_status: str
    objective: float | None
    gap: float | None
    kpis: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    scenario_hash: str = ""


def run_of_solution(sol: Solution, name: str | None = None) -> Run:
    """A run from a solution in memory."""
    return Run(name or sol.scenario_name, sol.plan_status, sol.objective, sol.gap,
               dict(sol.kpis), {k: sol.tables[k] for k in _TABLES if k in sol.tables},
               sol.scenario_hash)


def read_run(folder: str | os.PathLike[str]) -> Run:
    """A run from a result folder (``summary.json`` and the CSV tables)."""
    d = Path(folder)
    summary = json.loads((d / "summary.json").read_text(encoding="utf-8"))
    tables = {}
    for t in _TABLES:
        p = d / f"{t}.csv"
        if p.exists():
            df = pd.read_csv(p, keep_default_na=False, na_values=[""])
            for c in df.columns:
                if c in _KEYS:
                    df[c] = df[c].fillna("").astype(str)
            tables[t] = df
    return Run(d.name, summary.get("plan_status", ""), summary.get("objective"),
               summary.get("gap"), dict(summary.get("kpis") or {}), tables,
               summary.get("scenario_hash", ""))


def _is_result_folder(p: Path) -> bool:
    return p.is_dir() and (p / "summary.json").exists()


def collect_runs(items: Sequence[RunLike], *, names: Sequence[str] | None = None,
                 workers: int | None = None, scheduler: str | None = None,
                 progress: Progress | None = None, **solve_options: Any) -> list[Run]:
    """Runs of the items in order: folders are read, scenarios solved as one batch."""
    runs: list[Run | None] = [None] * len(items)
    todo: list[tuple[int, Scenario]] = []
    for i, it in enumerate(items):
        if isinstance(it, Solution):
            runs[i] = run_of_solution(it)
        elif isinstance(it, Scenario):
            todo.append((i, it))
        elif _is_result_folder(Path(it)):
            runs[i] = read_run(it)
        else:
            todo.append((i, load_scenario(it)))
    if todo:
        opts = {"sensitivity": False, **solve_options}
        sols = run_batch(run_solve, [SolveTask(s, opts) for _, s in todo], workers=workers,
                         scheduler=scheduler, labels=[s.name for _, s in todo],
                         progress=progress)
        for (i, _), sol in zip(todo, sols, strict=True):
            runs[i] = run_of_solution(sol)
    out = [r for r in runs if r is not None]
    given = list(names) if names is not None else [r.name for r in out]
    seen: dict[str, int] = {}
    for r, n in zip(out, given, strict=True):
        seen[n] = seen.get(n, 0) + 1
        r.name = n if seen[n] == 1 else f"{n} ({seen[n]})"
    return out


def kpi_table(runs: Sequence[Run]) -> pd.DataFrame:
    """A row per KPI, a column per run, then ``Δ <run>``: each run less the first."""
    rows = [{"kpi": "plan_status", **{r.name: r.plan_status for r in runs}},
            {"kpi": "objective", **{r.name: r.objective for r in runs}},
            {"kpi": "gap", **{r.name: r.gap for r in runs}}]
    rows += [{"kpi": k, **{r.name: r.kpis.get(k) for r in runs}} for k in KPI_COLUMNS]
    df = pd.DataFrame(rows)
    ref = runs[0].name
    for r in runs[1:]:
        df[f"Δ {r.name}"] = [_delta(a, b) for a, b in zip(df[r.name], df[ref], strict=True)]
    return df


def _delta(a: Any, b: Any) -> Any:
    num = (int, float, np.integer, np.floating)
    if isinstance(a, num) and isinstance(b, num) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        return float(a) - float(b)
    return None if a == b else f"{b} → {a}"


def profit_lines() -> list[str]:
    """The profit-breakdown lines in the registry's order."""
    return [v.profit_line for v in VARIABLES if v.profit_line]


def profit_table(runs: Sequence[Run]) -> pd.DataFrame:
    """The profit breakdown per run (a column each, ``Δ`` against the first), a row per
    line and channel, closed by the total.
    """
    parts = []
    for r in runs:
        p = r.tables.get("profit")
        if p is None or not len(p):
            continue
        parts.append(p.assign(channel=p["channel"].fillna("").astype(str))
                     .groupby(["component", "channel"], sort=False)["amount"].sum()
                     .rename(r.name))
    if not parts:
        return pd.DataFrame(columns=["component", "channel"])
    df = pd.concat(parts, axis=1).fillna(0.0).reset_index()
    order = {n: i for i, n in enumerate(profit_lines())}
    df["_o"] = df["component"].map(order).fillna(len(order))
    df = df.sort_values(["_o", "channel"], kind="stable").drop(columns="_o")
    names = [r.name for r in runs if r.name in df.columns]
    total = {"component": "profit", "channel": "", **{n: float(df[n].sum()) for n in names}}
    df = pd.concat([df, pd.DataFrame([total])], ignore_index=True)
    for n in names[1:]:
        df[f"Δ {n}"] = df[n] - df[names[0]]
    return df.reset_index(drop=True)


def _wide_diff(runs: Sequence[Run], table: str, keys: list[str], value: Any) -> pd.DataFrame:
    """Per key, a column per run holding ``value(rows)``; only the keys where runs differ."""
    cols = []
    for r in runs:
        t = r.tables.get(table)
        if t is None:
            continue
        cols.append(value(t).rename(r.name))
    if len(cols) < 2:
        return pd.DataFrame(columns=keys)
    df = pd.concat(cols, axis=1).fillna("")
    differ = df.astype(str).nunique(axis=1) > 1
    return df[differ].reset_index()


def plan_differences(runs: Sequence[Run]) -> dict[str, pd.DataFrame]:
    """Cells whose offered set changed, listings, openings and price levels that differ."""
    def offered(t: pd.DataFrame) -> pd.Series:
        on = t[t["offered"].astype(bool)]
        sets = on.sort_values("channel").groupby(["product", "region", "segment"])[
            "channel"].agg("+".join)
        allk = t.groupby(["product", "region", "segment"])["channel"].size()
        return sets.reindex(allk.index).fillna("-")

    def flag(col: str, keys: list[str]) -> Any:
        return lambda t: t.set_index(keys)[col].astype(bool).map({True: "yes", False: "no"})

    def level(t: pd.DataFrame) -> pd.Series:
        lv = t[t["listed"].astype(bool)].set_index(["product", "channel"])
        return lv["level"].astype(str) + " " + lv["price"].map("{:.2f}".format)

    return {
        "cells": _wide_diff(runs, "cell_channel", ["product", "region", "segment"], offered),
        "listings": _wide_diff(runs, "product_channel", ["product", "channel"],
                               flag("listed", ["product", "channel"])),
        "openings": _wide_diff(runs, "region_channel", ["region", "channel"],
                               flag("open", ["region", "channel"])),
        "prices": _wide_diff(runs, "product_channel", ["product", "channel"], level),
    }


def compare(*items: RunLike, names: Sequence[str] | None = None, workers: int | None = None,
            scheduler: str | None = None, out: str | os.PathLike[str] | None = None,
            overwrite: bool = False, plots: bool = True, xlsx: bool = False,
            progress: Progress | None = None, **solve_options: Any) -> dict[str, pd.DataFrame]:
    """Compare two or more runs (result folders, scenario files, scenarios, solutions).

    Returns the tables ``kpis`` (with deltas against the first run), ``profit`` (the
    breakdown per run), ``cells``, ``listings``, ``openings`` and ``prices`` (what
    differs between the plans); with ``out`` also writes them with ``report.md`` and
    plots into a result folder.
    """
    if len(items) < 2:
        raise ValueError("compare needs at least two runs")
    runs = collect_runs(items, names=names, workers=workers, scheduler=scheduler,
                        progress=progress, **solve_options)
    tables = {"kpis": kpi_table(runs), "profit": profit_table(runs), **plan_differences(runs)}
    if out is not None:
        ident = hashlib.sha256("|".join(r.scenario_hash for r in runs).encode()).hexdigest()
        who = cast(Scenario, _Ident("compare: " + ", ".join(r.name for r in runs), ident))

        def fill(d: Path) -> None:
            for k, df in tables.items():
                df.to_csv(d / f"{k}.csv", index=False)
            images = compare_plots(d, runs, tables) if plots else []
            (d / "report.md").write_text(report(runs, tables, images), encoding="utf-8")
            if xlsx:
                from ..output_xlsx import write_workbook

                write_workbook(d / "compare.xlsx", tables,
                               {"runs": [r.name for r in runs],
                                "scenario_hashes": [r.scenario_hash for r in runs]})

        write_batch_folder(out, who, None, fill, overwrite=overwrite)
    return tables


@dataclass(frozen=True)
class _Ident:
    """What a result folder's marker records of a comparison (name and hash)."""

    name: str
    hash: str


def report(runs: Sequence[Run], tables: dict[str, pd.DataFrame], images: list[str]) -> str:
    """The comparison report (Markdown)."""
    names = ", ".join(f"`{r.name}`" for r in runs)
    s = [f"# Comparison: {names}", "", f"Deltas (Δ) are against `{runs[0].name}`.", "",
         "## Key figures", "", md_table(tables["kpis"], 60, "kpis.csv"), "",
         "## Profit breakdown", "", md_table(tables["profit"], 80, "profit.csv"), "",
         "## Plan differences", ""]
    for key, what in (("cells", "Cells whose offered channel set changed (`-`: none)"),
                      ("listings", "Listings"), ("openings", "Channel openings"),
                      ("prices", "Price levels of listed products")):
        df = tables[key]
        s += [f"### {what}: {len(df)} difference(s)", "", md_table(df, 60, f"{key}.csv"), ""]
    if images:
        s += ["## Plots", ""] + [f"![{i}]({i})" for i in images] + [""]
    return "\n".join(s)


def compare_plots(d: Path, runs: Sequence[Run], tables: dict[str, pd.DataFrame]) -> list[str]:
    """Profit breakdown per run (stacked by line) and the KPI deltas."""
    plt = pyplot()
    prof = tables["profit"]
    if plt is None or not len(prof):
        return []
    names = [r.name for r in runs if r.name in prof.columns]
    lines = prof[prof["component"] != "profit"].groupby("component", sort=False)[names].sum()
    fig, ax = plt.subplots(figsize=(max(5.0, 1.6 * len(names) + 3), 4.5))
    pos = np.zeros(len(names))
    neg = np.zeros(len(names))
    for comp, vals in lines.iterrows():
        v = vals.to_numpy(float)
        base = np.where(v >= 0, pos, neg)
        ax.bar(names, v, bottom=base, label=str(comp))
        pos += np.where(v >= 0, v, 0)
        neg += np.where(v < 0, v, 0)
    total = prof[prof["component"] == "profit"][names].to_numpy(float).ravel()
    ax.plot(names, total, "k_", ms=30, mew=2, label="profit")
    ax.axhline(0, color="k", lw=0.6)
    ax.set_title("Profit breakdown per run")
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1, 1))
    fig.savefig(d / "profit.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return ["profit.png"]
