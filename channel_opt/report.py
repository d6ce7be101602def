"""The human report of a result folder: ``report.md`` (the Markdown tables a reader
sees first) and its plots (channel map, capacity use, partner profit; matplotlib is
imported only when plots are drawn).

The files of a result (tables, summary, marker) and the atomic folder writing are in
:mod:`channel_opt.output`; this module only turns a :class:`Solution` into text and
images.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .scenario import Scenario
from .solving import Solution
from .solving.stochastic import report_lines, shown

log = logging.getLogger(__name__)


def md_table(df: pd.DataFrame | None, max_rows: int = 30, file: str | None = None,
              what: str = "rows") -> str:
    """A Markdown table of the first ``max_rows`` rows; a cut table says how many rows
    it leaves out and in which file they are.
    """
    if df is None or not len(df):
        return "_(none)_\n"
    n = len(df)
    df = df.head(max_rows)
    cols = [str(c) for c in df.columns]

    def fmt(v: Any) -> str:
        if v is None or v is pd.NA:
            return ""
        if isinstance(v, float | np.floating):
            return "" if np.isnan(v) else f"{v:,.2f}"
        return str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |"
              for row in df.itertuples(index=False)]
    if n > max_rows:
        where = f" (see {file})" if file else ""
        lines += ["", f"… and {n - max_rows:,} more {what}{where}"]
    return "\n".join(lines) + "\n"


def channel_map(sol: Solution) -> pd.DataFrame:
    """Product x region matrix of the channels offered (any segment), ``+``-joined;
    ``-`` where channels are eligible but none is offered, ``(none eligible)`` where no
    channel is (the ``channel_map`` result table, indexed by product).
    """
    m = sol.tables.get("channel_map")
    if m is None or not len(m):
        return pd.DataFrame()
    return m.set_index("product")


def profit_table(sol: Solution) -> pd.DataFrame:
    """The profit breakdown with a closing ``profit`` line (the sum of the lines)."""
    p = sol.tables.get("profit")
    if p is None or not len(p):
        return pd.DataFrame()
    total = pd.DataFrame([{"component": "profit", "channel": "",
                           "amount": float(p["amount"].sum())}])
    return pd.concat([p, total], ignore_index=True)


def prices_table(sol: Solution) -> pd.DataFrame:
    """Per product: the chosen price (and level) in every listed channel, the largest
    gap between prices the parity band binds, and the band.
    """
    pr = sol.tables.get("prices")
    gaps = sol.tables.get("price_gaps")
    if pr is None or not len(pr) or gaps is None:
        return pd.DataFrame()
    cell: pd.Series = pr["price"].map("{:,.2f}".format) + np.where(
        pr["level"].astype(str).isin(["", "ref"]), "", " (" + pr["level"].astype(str) + ")")
    wide = pr.assign(cell=cell).pivot(index="product", columns="channel", values="cell") \
        .fillna("")
    wide.columns = [str(c) for c in wide.columns]
    g = gaps.set_index("product")
    out = wide.join(g[["ref_price", "gap_share", "band", "within_band", "pair"]])
    out = out.rename(columns={"gap_share": "largest gap / ref", "pair": "largest gap between"})
    # widest gaps first: parity is the question
    out = out.sort_values("largest gap / ref", ascending=False, na_position="last")
    for c in ("largest gap / ref", "band"):  # shares as percentages, not 0.15 vs 0.149
        out[c] = [("" if np.isnan(v) else f"{v:.2%}") for v in out[c].to_numpy(float)]
    return out.reset_index()


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
          *([f"- plan from: {sol.method['plan_origin']}"] if "plan_origin" in sol.method
            else []),
          *([f"- bound from: {sol.method['bound_origin']}"] if "bound_origin" in sol.method
            else []),
          "- time (s): " + ", ".join(f"{k} {v:.2f}" for k, v in sol.timings.items()),
          f"- scenario hash: `{sol.scenario_hash[:16]}`", ""]
    if sol.violations:
        s += ["## Plan check failed", ""] + [f"- {v}" for v in sol.violations] + [""]
    if sol.diagnosis is not None:
        s += ["## Why the scenario is infeasible", "", sol.diagnosis.message, "",
              md_table(sol.diagnosis.as_table(), 30, "diagnosis.csv"), "",
              "### Irreducible conflicting set (IIS of the LP relaxation)", "",
              sol.diagnosis.iis_note, ""]
        if sol.diagnosis.iis:
            s += [md_table(sol.diagnosis.iis_table(), 30, "iis.csv"), ""]
    if not sol.has_plan:
        return "\n".join(s)
    if sol.stochastic is not None:  # the two-stage section; the rest shows one scenario
        s += report_lines(sol.stochastic, cur)
        sol = shown(sol)
    k = sol.kpis
    s += ["## Key figures", "",
          md_table(pd.DataFrame([{"kpi": a, "value": b} for a, b in k.items()]), 60,
                    "kpis.csv"), ""]
    s += [f"## Where the profit comes from ({cur})", "",
          "Sales margin = revenue − product cost − variable cost − partner fees − returns "
          "cost, per channel; then the fixed costs and conflict costs. The lines add up "
          "to the profit.", "", md_table(profit_table(sol), 60, "profit.csv", "lines"), ""]
    s += _prices_section(sol, scen)
    s += ["## Channel map (channels offered per product and region)", "",
          "`-`: channels are eligible but none is offered; `(none eligible)`: no channel "
          "may serve the product there.", "",
          md_table(channel_map(sol).reset_index(), 40, "channel_map.csv", "products"), ""]
    rc = sol.tables["region_channel"]
    s += ["## Channels by region", "",
          md_table(rc[rc["open"]], 60, "region_channel.csv", "open channels"), ""]
    s += ["## Capacity use and floors", "",
          md_table(sol.tables["capacity"], 60, "capacity.csv"), ""]
    s += ["## Partner profit vs floor", "",
          "`floor_active`: a floor above 0 is set and the `partner_floor` rule is on.", "",
          md_table(sol.tables["partners"], 60, "partners.csv", "regions"), ""]
    if sol.sensitivity is not None and len(sol.sensitivity):
        sens = sol.sensitivity[sol.sensitivity["marginal_profit"] != 0]
        s += ["## What one more unit is worth (design fixed)", "",
              "Fixed-design values: LP duals with the channel design held as planned; a "
              "floor with slack reads 0 even where raising it would force a costly change "
              "of design, so re-solve to price a change of a limit.", "",
              md_table(sens, 40, "sensitivity.csv"), ""]
    s += _marginals_section(sol)
    s += ["## Overlaps (product sold online and offline in a region)", "",
          md_table(sol.tables["overlaps"], 40, "overlaps.csv", "pairs"), ""]
    if images:
        s += ["## Plots", ""] + [f"![{i}]({i})" for i in images] + [""]
    return "\n".join(s)


MARGINAL_COLUMNS = ["family", "where", "kind", "limit", "used", "step", "change_minus",
                    "change_plus", "per_unit_minus", "per_unit_plus", "fixed_design_marginal",
                    "status_minus", "status_plus"]


def _marginals_section(sol: Solution) -> list[str]:
    """The re-solve values of the binding limits (``--marginals``), when computed."""
    m = sol.tables.get("marginals")
    if m is None:
        return []
    head = ["## What a binding limit is worth (re-solved)", "",
            "Each binding capacity and floor moved by `-step` and `+step` and the whole "
            "design solved again: `change_minus` / `change_plus` are the profit changes, "
            "`per_unit_*` the same per unit of the limit, next to the fixed-design value "
            "of the same row (section above). An empty change: the moved limit made the "
            "scenario infeasible (see `status_*`).", ""]
    if not len(m):
        return head + ["_(no capacity or floor is binding in this plan)_", ""]
    return head + [md_table(m[[c for c in MARGINAL_COLUMNS if c in m.columns]], 40,
                            "marginals.csv"), ""]


def _prices_section(sol: Solution, scen: Scenario) -> list[str]:
    rule = scen.settings.rules.price_parity
    if rule is None:
        head = ("No price-parity rule: the gaps below are between the prices the rule "
                "would bind (online vs offline, o2o vs online).")
    else:
        head = (f"Price-parity band {rule.band:.2%} of the reference price, binding online "
                f"vs offline prices and o2o vs {rule.o2o_side} prices. Products with the "
                "widest gap first.")
    tab = prices_table(sol)
    return ["## Prices (chosen price per product and channel; parity)", "", head, "",
            md_table(tab, 40, "prices.csv and price_gaps.csv", "products"), ""]


def report_plots(d: Path, sol: Solution) -> list[str]:
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
    if _channel_map_png(d / "channel_map.png", sol, plt):
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
        fig.savefig(d / "capacity.png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        out.append("capacity.png")
    p = sol.tables["partners"]
    if len(p) and (p["partner_profit"].abs().sum() > 0 or p["floor"].sum() > 0):
        fig, ax = plt.subplots(figsize=(min(16.0, max(4.0, 2 + 0.35 * len(p))), 4))
        xs = np.arange(len(p))
        ax.bar(xs, p["partner_profit"], label="partner profit")
        act = p["floor_active"].to_numpy(bool)  # no marker where no floor applies
        ax.scatter(xs[act], p["floor"].to_numpy(float)[act], color="r", marker="_", s=200,
                   label="floor", zorder=3)
        ax.set_xticks(xs, p["region"], rotation=90, fontsize=7)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        ax.set_title("Offline partners' profit vs floor")
        fig.savefig(d / "partners.png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        out.append("partners.png")
    return out


def channel_map_states(sol: Solution) -> dict[str, np.ndarray]:
    """Per channel, a product x region matrix (rows and columns as in
    :func:`channel_map`): 0 the channel may not serve the product there (no eligible
    cell), 1 eligible but not offered, 2 offered to some segment.
    """
    cm = channel_map(sol)
    cc = sol.tables["cell_channel"]
    if not len(cm) or not len(cc):
        return {}
    products, regions = cm.index.astype(str), cm.columns.astype(str)
    state = cc.groupby(["channel", "product", "region"])["offered"].any().astype(int) + 1
    grid = pd.MultiIndex.from_product([products, regions], names=["product", "region"])
    out = {}
    for k in sorted(state.index.get_level_values("channel").unique().astype(str)):
        codes = state.xs(k, level="channel")
        codes.index = pd.MultiIndex.from_arrays([codes.index.get_level_values(0).astype(str),
                                                 codes.index.get_level_values(1).astype(str)])
        out[k] = codes.reindex(grid).fillna(0).to_numpy(int).reshape(len(products),
                                                                     len(regions))
    return out


def _channel_map_png(path: Path, sol: Solution, plt: Any) -> bool:
    """One panel per channel, product x region: offered (the channel's colour), eligible
    but not offered (light grey), no eligible pair (white). Panels, not one colour per
    channel set: any number of channels and sets stays readable.
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    states = channel_map_states(sol)
    if not states:
        return False
    cm = channel_map(sol)
    products, regions = cm.index.astype(str), cm.columns.astype(str)
    n_k, n_p, n_r = len(states), len(products), len(regions)
    fig, axes = plt.subplots(1, n_k, squeeze=False, sharey=True,
                             figsize=(min(24.0, 1.2 + n_k * (0.8 + 0.16 * n_r)),
                                      min(16.0, 2.5 + 0.045 * n_p)))
    palette = plt.get_cmap("tab10").colors
    for i, (ax, (k, m)) in enumerate(zip(axes[0], states.items(), strict=True)):
        colours = ListedColormap(["white", "#d9d9d9", palette[i % len(palette)]])
        ax.imshow(m, aspect="auto", cmap=colours, vmin=-0.5, vmax=2.5,
                  interpolation="nearest")
        ax.set_title(f"{k}\n({int((m == 2).sum())} offered)", fontsize=9)
        ax.set_xticks(range(n_r), regions, rotation=90, fontsize=6)
        for side in ("top", "right", "bottom", "left"):
            ax.spines[side].set_color("#999999")
    ax0 = axes[0][0]
    if n_p <= 40:
        ax0.set_yticks(range(n_p), products, fontsize=6)
    else:
        ax0.set_yticks([])
    ax0.set_ylabel(f"products ({n_p})")
    handles = [Patch(facecolor="#777777", label="offered (channel colour)"),
               Patch(facecolor="#d9d9d9", label="eligible, not offered"),
               Patch(facecolor="white", edgecolor="#999999", label="channel not eligible")]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, -0.02))
    fig.suptitle("Channels offered per product (rows) and region (columns)", fontsize=11)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return True
