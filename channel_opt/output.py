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
import functools
import json
import logging
import os
import platform
import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .report import report_markdown, report_plots
from .scenario import Scenario
from .solving import Solution
from .solving.stochastic import profit_plot, shown

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


def marker(scenario: Scenario, input_path: Path | None, *, partial: bool) -> dict[str, Any]:
    """The content of the marker file of a folder being written (``partial``) or done."""
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
    """Versions of Python and of the packages behind a result (looked up once per
    process: reading the installed packages' metadata took 50 ms per result folder).
    """
    return dict(_package_versions())


@functools.cache
def _package_versions() -> tuple[tuple[str, str], ...]:
    out = [("python", platform.python_version())]
    for p in _PACKAGES:
        try:
            out.append((p, metadata.version(p)))
        except metadata.PackageNotFoundError:
            continue
    return tuple(out)


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
    inp = None if input_path is None else Path(input_path)
    return write_folder(out_dir, scenario, input_path,
                        lambda d: _write_into(d, sol, scenario, plots, inp, overrides or {},
                                              xlsx), overwrite=overwrite)


def write_folder(out_dir: str | os.PathLike[str], scenario: Scenario,
                 input_path: str | os.PathLike[str] | None, fill: Callable[[Path], None], *,
                 overwrite: bool = False) -> Path:
    """Write a result folder atomically: checked with :func:`check_target`, ``fill(tmp)``
    writes the content into a hidden temporary folder holding the marker (partial while
    it is filled), which then replaces ``out_dir`` with one rename
    (:func:`swap_into_place`). A single result and the batch folders (sweep, frontier,
    compare) are all written through here.
    """
    target = check_target(out_dir, scenario, input_path, overwrite=overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_work_folders(target.parent)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir(mode=0o777)  # the umask applies, as for any folder the user makes
    inp = None if input_path is None else Path(input_path)
    try:
        write_marker(tmp, marker(scenario, inp, partial=True))
        fill(tmp)
        write_marker(tmp, marker(scenario, inp, partial=False))
        swap_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def write_marker(d: Path, data: dict[str, Any]) -> None:
    """Write the marker file (:data:`MARKER`) into folder ``d``."""
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


def swap_into_place(tmp: Path, target: Path) -> None:
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
    images = report_plots(d, shown(sol)) if plots else []
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
