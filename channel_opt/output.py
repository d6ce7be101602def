"""Writing a solution to a result folder, atomically.

Everything is written into a hidden temporary folder next to the target and moved
into place with one ``rename`` at the end, so a crash or kill never leaves a folder
that looks complete: the target either holds the previous complete result or the
new complete result.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .scenario import Scenario
from .solving import Solution

log = logging.getLogger(__name__)

_PACKAGES = ("channel_opt", "pyomo", "highspy", "pandas", "numpy", "scipy", "pydantic",
             "pyscipopt")


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages behind a result."""
    out = {"python": platform.python_version()}
    for p in _PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            continue
    return out


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, float) and not np.isfinite(o):
        return None
    return str(o)


def write_solution(sol: Solution, scenario: Scenario, out_dir: str | os.PathLike[str], *,
                   plots: bool = True) -> Path:
    """Write ``summary.json``, the tables (CSV, and Parquet where available),
    ``report.md`` and plots into ``out_dir``, atomically.
    """
    target = Path(out_dir).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        _write_into(tmp, sol, scenario, plots)
        _swap_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _swap_into_place(tmp: Path, target: Path) -> None:
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_into(d: Path, sol: Solution, scen: Scenario, plots: bool) -> None:
    tables = dict(sol.tables)
    if sol.sensitivity is not None:
        tables["sensitivity"] = sol.sensitivity
    if sol.diagnosis is not None:
        tables["diagnosis"] = sol.diagnosis.as_table()
        tables["iis"] = sol.diagnosis.iis_table()
    tables["kpis"] = kpi_table(sol.kpis)
    parquet = _has_parquet()
    for name, df in tables.items():
        df.to_csv(d / f"{name}.csv", index=False)
        if parquet:
            try:
                df.to_parquet(d / f"{name}.parquet", index=False)
            except Exception as e:  # noqa: BLE001 - Parquet is a convenience copy
                log.debug("parquet copy of %s skipped: %s", name, e)
    images = _plots(d, sol) if plots else []
    (d / "report.md").write_text(report_markdown(sol, scen, images), encoding="utf-8")
    summary = sol.summary()
    summary["package_versions"] = package_versions()
    summary["scenario_summary"] = scen.summary()
    summary["tables"] = sorted(tables)
    (d / "summary.json").write_text(json.dumps(summary, indent=2, default=_json_default),
                                    encoding="utf-8")


def kpi_table(kpis: dict[str, Any]) -> pd.DataFrame:
    """KPIs as a table: numbers in ``value`` (float), lists and words in ``text``."""
    rows = []
    for k, v in kpis.items():
        number = isinstance(v, int | float) and not isinstance(v, bool)
        text = ";".join(map(str, v)) if isinstance(v, list | tuple) else \
            ("" if v is None or number else str(v))
        rows.append({"kpi": k, "value": float(v) if number else float("nan"), "text": text})
    return pd.DataFrame(rows, columns=["kpi", "value", "text"])


def _has_parquet() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def _md_table(df: pd.DataFrame, max_rows: int = 30) -> str:
    if df is None or not len(df):
        return "_(none)_\n"
    df = df.head(max_rows)
    cols = [str(c) for c in df.columns]

    def fmt(v: Any) -> str:
        if isinstance(v, float | np.floating):
            return "" if np.isnan(v) else f"{v:,.2f}"
        return str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |"
              for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def channel_map(sol: Solution) -> pd.DataFrame:
    """Product x region matrix of the channels offered (any segment), ``+``-joined."""
    cc = sol.tables["cell_channel"]
    off = cc[cc["offered"]]
    if not len(off):
        return pd.DataFrame()
    m = (off.groupby(["product", "region"])["channel"]
         .agg(lambda s: "+".join(sorted(set(s)))).unstack("region").fillna("-"))
    return m


def report_markdown(sol: Solution, scen: Scenario, images: list[str]) -> str:
    """The human report."""
    cur = scen.settings.currency
    s = [f"# Channel design: {scen.name}", ""]
    if scen.description:
        s += [scen.description, ""]
    gap = "n/a" if sol.gap is None else f"{sol.gap:.4%}"
    obj = "n/a" if sol.objective is None else f"{sol.objective:,.2f} {cur}"
    bound = "n/a" if sol.bound is None else f"{sol.bound:,.2f} {cur}"
    s += ["## Status", "",
          f"- plan: **{sol.plan_status}** (solver stopped: {sol.termination}; "
          f"{sol.solver} {sol.solver_version}: {sol.solver_message})",
          f"- profit: {obj}; best bound: {bound}; gap: {gap}",
          "- time (s): " + ", ".join(f"{k} {v:.2f}" for k, v in sol.timings.items()),
          f"- scenario hash: `{sol.scenario_hash[:16]}`", ""]
    if sol.violations:
        s += ["## Plan check failed", ""] + [f"- {v}" for v in sol.violations] + [""]
    if sol.diagnosis is not None:
        s += ["## Why the scenario is infeasible", "", sol.diagnosis.message, "",
              _md_table(sol.diagnosis.as_table()), "",
              "### Irreducible conflicting set (IIS of the LP relaxation)", "",
              sol.diagnosis.iis_note, ""]
        if sol.diagnosis.iis:
            s += [_md_table(sol.diagnosis.iis_table()), ""]
    if not sol.has_plan:
        return "\n".join(s)
    k = sol.kpis
    s += ["## Key figures", "",
          _md_table(pd.DataFrame([{"kpi": a, "value": b} for a, b in k.items()])), ""]
    s += ["## Channel map (channels offered per product and region)", "",
          _md_table(channel_map(sol).reset_index(), 40), ""]
    rc = sol.tables["region_channel"]
    s += ["## Channels by region", "", _md_table(rc[rc["open"]], 60), ""]
    s += ["## Capacity use and floors", "", _md_table(sol.tables["capacity"], 60), ""]
    s += ["## Partner profit vs floor", "", _md_table(sol.tables["partners"], 60), ""]
    if sol.sensitivity is not None and len(sol.sensitivity):
        sens = sol.sensitivity[sol.sensitivity["marginal_profit"] != 0]
        s += ["## What one more unit is worth (design fixed)", "",
              "Fixed-design values: LP duals with the channel design held as planned; a "
              "floor with slack reads 0 even where raising it would force a costly change "
              "of design, so re-solve to price a change of a limit.", "",
              _md_table(sens, 40), ""]
    s += ["## Overlaps (product sold online and offline in a region)", "",
          _md_table(sol.tables["overlaps"], 40), ""]
    if images:
        s += ["## Plots", ""] + [f"![{i}]({i})" for i in images] + [""]
    return "\n".join(s)


def _plots(d: Path, sol: Solution) -> list[str]:
    """Channel map, capacity use and partner profit plots (needs matplotlib)."""
    if not sol.has_plan:
        return []
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.info("matplotlib not installed: report without plots")
        return []
    out = []
    cmap_df = channel_map(sol)
    if len(cmap_df):
        cats = sorted(set(cmap_df.to_numpy().ravel()))
        codes = cmap_df.replace({c: i for i, c in enumerate(cats)}).to_numpy(float)
        fig, ax = plt.subplots(figsize=(min(16, 2 + 0.4 * codes.shape[1]),
                                        min(20, 2 + 0.12 * codes.shape[0])))
        im = ax.imshow(codes, aspect="auto", cmap="tab20", interpolation="nearest")
        ax.set_xticks(range(codes.shape[1]), cmap_df.columns, rotation=90, fontsize=7)
        ax.set_yticks([])
        ax.set_ylabel(f"products ({codes.shape[0]})")
        cbar = fig.colorbar(im, ax=ax, ticks=range(len(cats)))
        cbar.ax.set_yticklabels(cats, fontsize=7)
        ax.set_title("Channels offered per product and region")
        fig.tight_layout()
        fig.savefig(d / "channel_map.png", dpi=110)
        plt.close(fig)
        out.append("channel_map.png")
    cap = sol.tables["capacity"]
    cap = cap[cap["kind"] == "capacity"].dropna(subset=["utilization"])
    if len(cap):
        top = cap.sort_values("utilization", ascending=False).head(30)
        fig, ax = plt.subplots(figsize=(8, 0.5 + 0.25 * len(top)))
        ax.barh(top["family"] + " " + top["where"].astype(str), top["utilization"])
        ax.axvline(1.0, color="k", lw=0.8)
        ax.set_xlabel("utilization")
        ax.set_title("Capacity use")
        fig.tight_layout()
        fig.savefig(d / "capacity.png", dpi=110)
        plt.close(fig)
        out.append("capacity.png")
    p = sol.tables["partners"]
    if len(p) and (p["partner_profit"].abs().sum() > 0 or p["floor"].sum() > 0):
        fig, ax = plt.subplots(figsize=(min(16, 2 + 0.35 * len(p)), 4))
        xs = np.arange(len(p))
        ax.bar(xs, p["partner_profit"], label="partner profit")
        ax.scatter(xs, p["floor"], color="r", marker="_", s=200, label="floor", zorder=3)
        ax.set_xticks(xs, p["region"], rotation=90, fontsize=7)
        ax.legend()
        ax.set_title("Offline partners' profit vs floor")
        fig.tight_layout()
        fig.savefig(d / "partners.png", dpi=110)
        plt.close(fig)
        out.append("partners.png")
    return out
