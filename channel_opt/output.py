"""Writing a solution to a result folder, atomically and only where it is safe.

Everything is written into a hidden temporary folder next to the target and moved
into place with one ``rename`` at the end, so a crash or kill never leaves a folder
that looks complete: the target either holds the previous complete result or the
new complete result.

channel_opt replaces only a folder it wrote itself: every result folder holds a
marker file (:data:`MARKER`) with the scenario hash and input path, and
:func:`check_target` refuses, before anything is solved, any other target (a file,
a symbolic link, a non-empty folder without the marker, the folder of the input
file or one containing it, the current folder or one of its parents) and, unless
asked to overwrite, a folder holding a *different* scenario's result.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import re
import secrets
import shutil
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .scenario import Scenario
from .solving import Solution
from .solving.stochastic import profit_plot, report_lines, shown

log = logging.getLogger(__name__)

_PACKAGES = ("channel_opt", "pyomo", "highspy", "pandas", "numpy", "scipy", "pydantic",
             "pyscipopt")

MARKER = ".channel_opt-result"  # in every folder channel_opt writes (JSON)
_PARTIAL = re.compile(r"^\..+\.(?:tmp|old)-(\d+)(?:-[0-9a-f]+)?$")  # our hidden work folders
_UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")
_MAX_NAME = 120


class OutputRefused(Exception):
    """The result folder may not be written (command line: exit 2, nothing solved)."""


def safe_folder_name(name: str) -> str:
    """``name`` as one safe path component: separators, control and shell-special
    characters become ``_``, leading dots and spaces go, at most 120 characters;
    ``scenario`` if nothing is left. Readable ids (``apparel``, ``tiny-2024_v1``,
    ``Ärger 1``) are kept as they are.
    """
    s = _UNSAFE_CHARS.sub("_", str(name)).strip().lstrip(". ").rstrip(". ")
    s = s[:_MAX_NAME].rstrip(". ")
    return s if s and s.strip("_") else "scenario"


def unsafe_name_reason(name: str) -> str | None:
    """Why ``name`` is not used as it is for ``results/<name>`` (``None`` if it is)."""
    safe = safe_folder_name(name)
    if safe == name:
        return None
    return (f"scenario name {name!r} is not a safe folder name (it must be one path "
            f"component, without separators, '..' or a leading dot); results go to "
            f"results/{safe}")


def default_result_folder(scenario: Scenario) -> Path:
    """``results/<safe folder name of the scenario>`` under the current folder."""
    return Path("results") / safe_folder_name(scenario.name)


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The marker of a folder channel_opt wrote, or ``None`` if it has none."""
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("written_by") == "channel_opt" \
        else None


def _marker(scenario: Scenario, input_path: Path | None, *, partial: bool) -> dict[str, Any]:
    return {"written_by": "channel_opt", "scenario": scenario.name,
            "scenario_hash": scenario.hash,
            "input": None if input_path is None else str(input_path.resolve()),
            "pid": os.getpid(), "partial": partial}


def _within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def _absolute(p: Path) -> Path:
    """Absolute, ``..`` resolved, symbolic links resolved in the parents only."""
    p = Path(os.path.abspath(p))
    return p.parent.resolve() / p.name if p.name else p


def check_target(out_dir: str | os.PathLike[str], scenario: Scenario,
                 input_path: str | os.PathLike[str] | None = None, *,
                 overwrite: bool = False) -> Path:
    """The absolute result folder, or :class:`OutputRefused` saying why it may not be
    written. Nothing is created or changed here.

    Refused: an existing file or symbolic link; the current folder or a parent of
    it; the input file's folder or a folder containing the input file; a non-empty
    folder without channel_opt's marker; a folder holding the result of a different
    scenario (other input file and other hash) unless ``overwrite``.
    """
    raw = Path(out_dir)
    target = _absolute(raw)
    shown = str(out_dir)
    if target.is_symlink():
        raise OutputRefused(f"--out {shown}: is a symbolic link; channel_opt writes only "
                            "into a real folder it created; give another folder")
    if target.exists() and not target.is_dir():
        raise OutputRefused(f"--out {shown}: is an existing file, not a result folder; "
                            "give a folder name (nothing was changed)")
    if _within(Path.cwd().resolve(), target):
        raise OutputRefused(f"--out {shown}: is the current folder or one of its parents; "
                            "give a folder of its own, e.g. results/<name>")
    if input_path is not None:
        inp = Path(input_path).resolve()
        if _within(inp, target):
            raise OutputRefused(f"--out {shown}: holds the input file {input_path}; "
                                "channel_opt never replaces the input's folder; give a "
                                "folder of its own")
    for anc in target.parents:  # the nearest existing parent must be a folder
        if anc.exists():
            if not anc.is_dir():
                raise OutputRefused(f"--out {shown}: {anc} is a file, not a folder")
            break
    if not target.exists():
        return target
    if not any(target.iterdir()):
        return target  # an empty folder holds nothing to lose
    mark = read_marker(target)
    if mark is None:
        raise OutputRefused(f"--out {shown}: is a folder that channel_opt did not write "
                            f"(no {MARKER} file) and it is not empty; channel_opt replaces "
                            "only its own result folders; give a new or empty folder")
    inp_s = None if input_path is None else str(Path(input_path).resolve())
    same = mark.get("scenario_hash") == scenario.hash or \
        (inp_s is not None and mark.get("input") == inp_s)
    if not same and not overwrite:
        raise OutputRefused(
            f"{shown} holds the result of another scenario ({mark.get('scenario')!r} from "
            f"{mark.get('input')}); pass --out to write elsewhere or --overwrite to "
            "replace it")
    return target


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
                   plots: bool = True, input_path: str | os.PathLike[str] | None = None,
                   overwrite: bool = False, overrides: dict[str, Any] | None = None,
                   xlsx: bool = False) -> Path:
    """Write ``summary.json``, the tables (CSV, and Parquet where available),
    ``report.md``, plots and the marker into ``out_dir``, atomically.

    The target is checked again with :func:`check_target` (a folder may have
    appeared while solving); :class:`OutputRefused` if it may not be written.
    Folders follow the umask. ``overrides`` (what-ifs applied to the input) go into
    ``summary.json``; ``xlsx`` adds ``results.xlsx`` (every table, summary first).
    """
    target = check_target(out_dir, scenario, input_path, overwrite=overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_work_folders(target.parent)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir(mode=0o777)  # the umask applies, as for any folder the user makes
    inp = None if input_path is None else Path(input_path)
    try:
        _write_marker(tmp, _marker(scenario, inp, partial=True))
        _write_into(tmp, sol, scenario, plots, inp, overrides or {}, xlsx)
        _write_marker(tmp, _marker(scenario, inp, partial=False))
        _swap_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _write_marker(d: Path, data: dict[str, Any]) -> None:
    (d / MARKER).write_text(json.dumps(data, indent=2), encoding="utf-8")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def clean_stale_work_folders(parent: Path) -> list[Path]:
    """Remove hidden ``.<name>.tmp-PID-*`` / ``.<name>.old-PID`` folders in ``parent``
    left by killed writes: only those holding channel_opt's marker whose process is
    gone. Returns what was removed.
    """
    removed: list[Path] = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return removed
    for p in entries:
        m = _PARTIAL.match(p.name)
        if not m or p.is_symlink() or not p.is_dir() or _pid_alive(int(m.group(1))):
            continue
        if read_marker(p) is None:
            with contextlib.suppress(OSError):  # killed before its marker: empty, else kept
                p.rmdir()
            continue  # not ours (or not provably): leave it
        shutil.rmtree(p, ignore_errors=True)
        log.info("removed %s, left by an interrupted run", p)
        removed.append(p)
    return removed


def _swap_into_place(tmp: Path, target: Path) -> None:
    """Move ``tmp`` to ``target`` (a previous result goes aside first and is removed
    after). Ctrl-C and SIGTERM wait until both renames are done: a signal between
    them would leave no result at all.
    """
    old = None
    with _signals_held():
        if target.exists():
            if any(target.iterdir()):
                old = target.parent / f".{target.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
                os.replace(target, old)
            else:
                target.rmdir()
        os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM (main thread, POSIX) for the duration; they are
    delivered at the end.
    """
    import signal
    import threading

    if not hasattr(signal, "pthread_sigmask") or \
            threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = {signal.SIGINT, signal.SIGTERM}
    before = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _write_into(d: Path, sol: Solution, scen: Scenario, plots: bool,
                input_path: Path | None = None, overrides: dict[str, Any] | None = None,
                xlsx: bool = False) -> None:
    tables = dict(sol.tables)
    if sol.sensitivity is not None:
        tables["sensitivity"] = sol.sensitivity
    if sol.diagnosis is not None:
        tables["diagnosis"] = sol.diagnosis.as_table()
        tables["iis"] = sol.diagnosis.iis_table()
    tables["kpis"] = kpi_table(sol.kpis)
    if sol.stochastic is not None:
        tables["stochastic"] = sol.stochastic.per_scenario
    parquet = _has_parquet()
    for name, df in tables.items():
        df.to_csv(d / f"{name}.csv", index=False)
        if parquet:
            try:
                df.to_parquet(d / f"{name}.parquet", index=False)
            except Exception as e:  # noqa: BLE001 - Parquet is a convenience copy
                log.debug("parquet copy of %s skipped: %s", name, e)
    images = _plots(d, shown(sol)) if plots else []
    if images and sol.stochastic is not None:  # matplotlib is there
        images[:0] = profit_plot(d / "stochastic.png", sol.stochastic)
    (d / "report.md").write_text(report_markdown(sol, scen, images), encoding="utf-8")
    summary = sol.summary()
    summary["input"] = None if input_path is None else str(input_path.resolve())
    summary["overrides"] = dict(overrides or {})  # what-ifs applied to the input
    summary["package_versions"] = package_versions()
    summary["scenario_summary"] = scen.summary()
    summary["tables"] = sorted(tables)
    (d / "summary.json").write_text(json.dumps(summary, indent=2, default=_json_default),
                                    encoding="utf-8")
    if xlsx:
        from .output_xlsx import write_workbook

        write_workbook(d / "results.xlsx", tables, summary)


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


def _md_table(df: pd.DataFrame | None, max_rows: int = 30, file: str | None = None,
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
          "- time (s): " + ", ".join(f"{k} {v:.2f}" for k, v in sol.timings.items()),
          f"- scenario hash: `{sol.scenario_hash[:16]}`", ""]
    if sol.violations:
        s += ["## Plan check failed", ""] + [f"- {v}" for v in sol.violations] + [""]
    if sol.diagnosis is not None:
        s += ["## Why the scenario is infeasible", "", sol.diagnosis.message, "",
              _md_table(sol.diagnosis.as_table(), 30, "diagnosis.csv"), "",
              "### Irreducible conflicting set (IIS of the LP relaxation)", "",
              sol.diagnosis.iis_note, ""]
        if sol.diagnosis.iis:
            s += [_md_table(sol.diagnosis.iis_table(), 30, "iis.csv"), ""]
    if not sol.has_plan:
        return "\n".join(s)
    if sol.stochastic is not None:  # the two-stage section; the rest shows one scenario
        s += report_lines(sol.stochastic, cur)
        sol = shown(sol)
    k = sol.kpis
    s += ["## Key figures", "",
          _md_table(pd.DataFrame([{"kpi": a, "value": b} for a, b in k.items()]), 60,
                    "kpis.csv"), ""]
    s += [f"## Where the profit comes from ({cur})", "",
          "Sales margin = revenue − product cost − variable cost − partner fees − returns "
          "cost, per channel; then the fixed costs and conflict costs. The lines add up "
          "to the profit.", "", _md_table(profit_table(sol), 60, "profit.csv", "lines"), ""]
    s += _prices_section(sol, scen)
    s += ["## Channel map (channels offered per product and region)", "",
          "`-`: channels are eligible but none is offered; `(none eligible)`: no channel "
          "may serve the product there.", "",
          _md_table(channel_map(sol).reset_index(), 40, "channel_map.csv", "products"), ""]
    rc = sol.tables["region_channel"]
    s += ["## Channels by region", "",
          _md_table(rc[rc["open"]], 60, "region_channel.csv", "open channels"), ""]
    s += ["## Capacity use and floors", "",
          _md_table(sol.tables["capacity"], 60, "capacity.csv"), ""]
    s += ["## Partner profit vs floor", "",
          "`floor_active`: a floor above 0 is set and the `partner_floor` rule is on.", "",
          _md_table(sol.tables["partners"], 60, "partners.csv", "regions"), ""]
    if sol.sensitivity is not None and len(sol.sensitivity):
        sens = sol.sensitivity[sol.sensitivity["marginal_profit"] != 0]
        s += ["## What one more unit is worth (design fixed)", "",
              "Fixed-design values: LP duals with the channel design held as planned; a "
              "floor with slack reads 0 even where raising it would force a costly change "
              "of design, so re-solve to price a change of a limit.", "",
              _md_table(sens, 40, "sensitivity.csv"), ""]
    s += ["## Overlaps (product sold online and offline in a region)", "",
          _md_table(sol.tables["overlaps"], 40, "overlaps.csv", "pairs"), ""]
    if images:
        s += ["## Plots", ""] + [f"![{i}]({i})" for i in images] + [""]
    return "\n".join(s)


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
            _md_table(tab, 40, "prices.csv and price_gaps.csv", "products"), ""]


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
