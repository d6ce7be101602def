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
                   overwrite: bool = False) -> Path:
    """Write ``summary.json``, the tables (CSV, and Parquet where available),
    ``report.md``, plots and the marker into ``out_dir``, atomically.

    The target is checked again with :func:`check_target` (a folder may have
    appeared while solving); :class:`OutputRefused` if it may not be written.
    Folders follow the umask.
    """
    target = check_target(out_dir, scenario, input_path, overwrite=overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_work_folders(target.parent)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir(mode=0o777)  # the umask applies, as for any folder the user makes
    inp = None if input_path is None else Path(input_path)
    try:
        _write_marker(tmp, _marker(scenario, inp, partial=True))
        _write_into(tmp, sol, scenario, plots, inp)
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
                input_path: Path | None = None) -> None:
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
    summary["input"] = None if input_path is None else str(input_path.resolve())
    summary["overrides"] = {}  # settings overridden on the command line (none yet)
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
