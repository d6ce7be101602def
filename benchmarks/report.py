"""Results: CSV (appended), Markdown table and plot of one benchmark run."""

from __future__ import annotations

import csv
import math
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

BUILD_FIELDS = [
    "run_id", "timestamp", "family", "size", "repeat", "via_csv", "cells", "shares", "n_cols",
    "n_rows", "nnz", "t_generate", "t_write_csv", "t_load", "t_build_data",
    "t_build_array_model", "t_build", "t_handoff", "t_build_handoff", "mem_build_handoff_mb",
    "peak_build_handoff_mb", "t_floor_numpy", "t_floor_numpy_assemble",
    "t_floor_numpy_passmodel", "mem_floor_numpy_mb", "peak_floor_numpy_mb",
    "floor_numpy_same_shape", "t_floor_passmodel", "mem_floor_passmodel_mb",
    "peak_floor_passmodel_mb", "ratio_time_numpy", "ratio_time_passmodel", "ratio_mem_numpy",
    "ratio_mem_passmodel", "exact_memory", "loadavg", "error",
]
SOLVE_FIELDS = [
    "run_id", "timestamp", "family", "size", "cells", "n_cols", "n_rows", "solver", "version",
    "status", "stalled", "killed", "objective", "bound", "gap", "time_limit", "mip_gap",
    "t_generate", "t_load", "t_build", "t_handoff", "t_solve", "t_extract", "wall",
    "overhead_share", "peak_mb", "loadavg", "mix", "min_channel_share", "binding",
    "unbound_rules", "markdown_units", "overlap_pairs", "commission_regions", "note",
]
# termination strings a solve row may carry (backends' plus the driver's own)
STATUSES = {"optimal", "time_limit", "other_limit", "infeasible", "unbounded", "interrupted",
            "error", "killed", "failed"}


def emit(text: str, out: str | None) -> None:
    """Print a finished Markdown table, and write it to ``out`` when given."""
    print(text)
    if out:
        Path(out).write_text(text + "\n", encoding="utf-8")


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil

        mem = f"{psutil.virtual_memory().total / 2**30:.0f} GB"
    except ImportError:  # pragma: no cover
        mem = "?"
    vers = {}
    for mod in ("numpy", "scipy", "pandas", "highspy", "pyomo"):
        try:
            from importlib.metadata import version

            vers[mod] = version(mod)
        except Exception:  # noqa: BLE001
            vers[mod] = "?"
    try:
        root = Path(__file__).resolve().parent.parent
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--",
                                "channel_opt"], capture_output=True, text=True,
                               timeout=10).stdout.strip()
        commit = commit + (" (channel_opt/ modified)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        commit = "?"
    return {"cpu": f"{cpu}, {os.cpu_count()} logical cores", "memory": mem,
            "python": platform.python_version(), "commit": commit or "?",
            **{k: v for k, v in vers.items()}}


def loadavg() -> str:
    """The 1-minute load average (other work on the machine skews timings)."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return ""


def append_csv(path: Path, fields: Sequence[str], rows: Iterable[dict[str, Any]]) -> None:
    """Append rows; if the file has other columns, rewrite it with the union of both."""
    rows = [{k: _cell(r.get(k)) for k in fields} for r in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            header = list(reader.fieldnames or [])
            if header != list(fields):
                old = list(reader)
                union = header + [k for k in fields if k not in header]
                tmp = path.with_suffix(".csv.tmp")
                with open(tmp, "w", newline="", encoding="utf-8") as g:
                    w = csv.DictWriter(g, fieldnames=union)
                    w.writeheader()
                    w.writerows(old)
                    w.writerows(rows)
                os.replace(tmp, path)
                return
        with open(path, "a", newline="", encoding="utf-8") as f:
            csv.DictWriter(f, fieldnames=list(fields)).writerows(rows)
        return
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(fields))
        w.writeheader()
        w.writerows(rows)


BOOLS = {"via_csv", "floor_numpy_same_shape", "exact_memory", "stalled", "killed"}


def read_csv(path: Path) -> list[dict[str, Any]]:
    """Rows of a results CSV (numbers stay strings; booleans become bool)."""
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in BOOLS & set(r):
            r[k] = r[k] == "True"
    return rows


def latest(rows: list[dict[str, Any]], keys: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of the most recent run of every combination of ``keys``."""
    last: dict[tuple[Any, ...], str] = {}
    for r in rows:
        k = tuple(str(r[x]) for x in keys)
        last[k] = max(last.get(k, ""), str(r["run_id"]))
    return [r for r in rows if str(r["run_id"]) == last[tuple(str(r[x]) for x in keys)]]


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.10g}"
    return v


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def median(rows: list[dict[str, Any]], key: str) -> float | None:
    """Median of a column over repeats (None where missing)."""
    vals = [x for x in (_num(r.get(key)) for r in rows) if x is not None]
    return statistics.median(vals) if vals else None


def _fmt(v: float | None, kind: str = "s") -> str:
    if v is None:
        return "–"
    if kind == "s":
        return f"{v:.3f}" if v < 10 else f"{v:.1f}"
    if kind == "x":
        return f"{v:.2f}×"
    if kind == "mb":
        return f"{v:,.0f}"
    if kind == "int":
        return f"{int(v):,}"
    if kind == "pct":
        return f"{v:.1%}"
    if kind == "g":
        return f"{v:,.2f}"
    return str(v)


def _header(title: str, meta: dict[str, str], notes: list[str]) -> list[str]:
    lines = [f"# {title}", "", f"Run {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; "
             + "; ".join(f"{k} {v}" for k, v in meta.items()) + ".", ""]
    lines += [f"- {n}" for n in notes]
    if notes:
        lines.append("")
    return lines


def _group(rows: list[dict[str, Any]], keys: Sequence[str]) -> dict[tuple[Any, ...],
                                                                   list[dict[str, Any]]]:
    out: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(tuple(r[k] for k in keys), []).append(r)
    return out


def build_summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (family, size): medians over repeats, plus the scaling exponent."""
    out = []
    groups = _group(rows, ["family", "size"])
    prev: dict[str, tuple[float, float]] = {}
    for (fam, size), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], int(kv[0][1]))):
        s: dict[str, Any] = {"family": fam, "size": int(size), "repeats": len(rs)}
        for k in BUILD_FIELDS[6:-3]:
            s[k] = median(rs, k)
        s["error"] = "; ".join(sorted({str(r["error"]) for r in rs if r.get("error")}))
        cells, tb = s.get("cells"), s.get("t_build_handoff")
        s["scaling"] = None
        if cells and tb and fam in prev:
            c0, t0 = prev[fam]
            if cells > c0 and t0 > 0:
                s["scaling"] = math.log(tb / t0) / math.log(cells / c0)
        if cells and tb:
            prev[fam] = (cells, tb)
        out.append(s)
    return out


def build_markdown(rows: list[dict[str, Any]], meta: dict[str, str], notes: list[str]) -> str:
    """The Markdown report of a build run."""
    summ = build_summary(rows)
    lines = _header("Build and hand-off benchmark", meta, notes)
    lines += [
        "Times in seconds, medians over repeats, each measured in a fresh process. "
        "*build* = `build_data` + `build_array_model`; *hand-off* = `to_highs` "
        "(matrix assembly + `passModel`); *floor numpy* = `benchmarks/floor.py` "
        "(hand-written numpy/scipy assembly of the same core model from the scenario "
        "tables + `passModel`; core family only); *floor passModel* = scipy COO→CSC of "
        "our final triplets + `passModel` only. Memory: peak RSS of the phase above the "
        "RSS when it started (MB; the loaded scenario is the common baseline). "
        "*scaling*: exponent of build+hand-off time vs cells from the previous size "
        "(1.0 = linear).", "",
        "| family | cells | columns | rows | nonzeros | generate | load | build | hand-off "
        "| build+hand-off | floor numpy | floor passModel | ratio vs numpy | "
        "ratio vs passModel | scaling | mem build+hand-off | mem floor numpy | "
        "mem floor passModel | mem ratio vs numpy | mem ratio vs passModel |",
        "|" + "---|" * 20,
    ]
    for s in summ:
        lines.append("| " + " | ".join([
            s["family"], _fmt(s["cells"], "int"), _fmt(s["n_cols"], "int"),
            _fmt(s["n_rows"], "int"), _fmt(s["nnz"], "int"), _fmt(s["t_generate"]),
            _fmt(s["t_load"]), _fmt(s["t_build"]), _fmt(s["t_handoff"]),
            _fmt(s["t_build_handoff"]), _fmt(s["t_floor_numpy"]), _fmt(s["t_floor_passmodel"]),
            _fmt(s["ratio_time_numpy"], "x"), _fmt(s["ratio_time_passmodel"], "x"),
            "–" if s["scaling"] is None else f"{s['scaling']:.2f}",
            _fmt(s["mem_build_handoff_mb"], "mb"), _fmt(s["mem_floor_numpy_mb"], "mb"),
            _fmt(s["mem_floor_passmodel_mb"], "mb"), _fmt(s["ratio_mem_numpy"], "x"),
            _fmt(s["ratio_mem_passmodel"], "x")]) + " |")
    errs = [f"{s['family']} {s['size']}: {s['error']}" for s in summ if s["error"]]
    if errs:
        lines += ["", "Errors:", *[f"- {e}" for e in errs]]
    lines += ["", "## Targets (issue 5)", "",
              "| family | cells | build+hand-off ≤ 2× floor numpy | ≤ 2× floor passModel | "
              "memory ≤ 2× floor numpy | memory ≤ 2× floor passModel | scaling ≤ 1.15 |",
              "|---|---|---|---|---|---|---|"]
    for s in summ:
        if s["size"] < 100_000:
            continue
        lines.append("| " + " | ".join([
            s["family"], _fmt(s["cells"], "int"), _target(s["ratio_time_numpy"], 2.0),
            _target(s["ratio_time_passmodel"], 2.0), _target(s["ratio_mem_numpy"], 2.0),
            _target(s["ratio_mem_passmodel"], 2.0), _target(s["scaling"], 1.15)]) + " |")
    return "\n".join(lines) + "\n"


def _target(v: float | None, limit: float) -> str:
    if v is None:
        return "n/a"
    return f"{'met' if v <= limit else 'MISSED'} ({v:.2f})"


def solve_markdown(rows: list[dict[str, Any]], meta: dict[str, str], notes: list[str]) -> str:
    """The Markdown report of a solve run (the solver matrix)."""
    lines = _header("Solver matrix", meta, notes)
    lines += [
        "Each solve in its own fresh process, killed (SIGKILL to its process group) if it "
        "has not returned *grace* seconds after the time limit. *status*: the solver's "
        "termination (`optimal`, `time_limit`, ...), `killed` if the process had to be "
        "killed, `failed` if it died. *stalled*: killed, or returned well past the limit. "
        "*gap* = |bound − objective| / |objective|. *overhead* = (load + build + hand-off) "
        "/ solve time. Times in seconds.", "",
        "| family | cells | columns | rows | solver | status | stalled | objective | bound "
        "| gap | load | build | hand-off | solve | wall | overhead | note |",
        "|" + "---|" * 17,
    ]
    profiled = [r for r in rows if r.get("mix")]
    for r in sorted(rows, key=lambda r: (r["family"], int(r["size"]), r["solver"])):
        lines.append("| " + " | ".join([
            r["family"], _fmt(_num(r.get("cells")), "int"), _fmt(_num(r.get("n_cols")), "int"),
            _fmt(_num(r.get("n_rows")), "int"), f"{r['solver']} {r.get('version', '')}".strip(),
            str(r["status"]), "yes" if r.get("stalled") else "no",
            _fmt(_num(r.get("objective")), "g"), _fmt(_num(r.get("bound")), "g"),
            _fmt(_num(r.get("gap")), "pct"), _fmt(_num(r.get("t_load"))),
            _fmt(_num(r.get("t_build"))), _fmt(_num(r.get("t_handoff"))),
            _fmt(_num(r.get("t_solve"))), _fmt(_num(r.get("wall"))),
            _fmt(_num(r.get("overhead_share")), "pct"),
            str(r.get("note") or "").replace("|", "/")[:120]]) + " |")
    if profiled:
        lines += ["", "## What each plan binds", "",
                  "Per plan: the share of units per channel; per row family of the rules the "
                  "family switches on, binding rows / rows (slack at most 1e-6 of the bound, "
                  "rows whose every term is 0 not counted); the rule switches without any "
                  "binding row; the share of units sold below the reference price; "
                  "(product, region) pairs sold online and offline; regions paying "
                  "commission.", "",
                  "| family | cells | solver | channel mix (units) | binding rows | rules "
                  "not binding | markdown | overlaps | commission |", "|" + "---|" * 9]
        for r in sorted(profiled, key=lambda r: (r["family"], int(r["size"]), r["solver"])):
            lines.append("| " + " | ".join([
                r["family"], _fmt(_num(r.get("cells")), "int"), r["solver"], str(r["mix"]),
                str(r.get("binding") or "–"), str(r.get("unbound_rules") or "–"),
                _fmt(_num(r.get("markdown_units")), "pct"),
                _fmt(_num(r.get("overlap_pairs")), "int"),
                _fmt(_num(r.get("commission_regions")), "int")]) + " |")
    lines += ["", "## Winner per family and size", "",
              "Fastest proof of optimality; else the smallest gap at the limit.", "",
              "| family | cells | winner | why |", "|---|---|---|---|"]
    for (fam, size), rs in sorted(_group(rows, ["family", "size"]).items(),
                                  key=lambda kv: (kv[0][0], int(kv[0][1]))):
        lines.append(f"| {fam} | {int(size):,} | " + " | ".join(winner(rs)) + " |")
    return "\n".join(lines) + "\n"


def winner(rows: list[dict[str, Any]]) -> tuple[str, str]:
    """(solver, reason) of the best row of one family and size."""
    opt = [r for r in rows if r["status"] == "optimal" and _num(r.get("t_solve")) is not None]
    if opt:
        b = min(opt, key=lambda r: _num(r["t_solve"]) or 0.0)
        return b["solver"], f"optimal in {_num(b['t_solve']):.1f} s"
    gaps = [r for r in rows if _num(r.get("gap")) is not None]
    if gaps:
        b = min(gaps, key=lambda r: _num(r["gap"]) or 0.0)
        return b["solver"], f"best gap at the limit: {_num(b['gap']):.2%}"
    feas = [r for r in rows if _num(r.get("objective")) is not None]
    if feas:
        b = max(feas, key=lambda r: _num(r["objective"]) or 0.0)
        return b["solver"], "best plan, no bound"
    return "none", "no solver returned a plan"


def plot_build(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """Time vs cells per phase, one panel per family."""
    summ = build_summary(rows)
    fams = sorted({s["family"] for s in summ})
    series = [("t_load", "load"), ("t_build", "build"), ("t_handoff", "hand-off"),
              ("t_build_handoff", "build + hand-off"), ("t_floor_numpy", "floor numpy"),
              ("t_floor_passmodel", "floor passModel")]
    return _plot(path, fams, [(fam, [(label, [(s["cells"], s[k]) for s in summ
                                               if s["family"] == fam]) for k, label in series])
                              for fam in fams], "seconds")


def plot_solve(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """Solve time vs cells per solver, one panel per family (errors left out; a killed
    solve counts until its kill)."""
    fams = sorted({r["family"] for r in rows})
    panels = []
    for fam in fams:
        rs = [r for r in rows if r["family"] == fam]
        lines = []
        for sv in sorted({r["solver"] for r in rows}):
            pts = sorted((_num(r.get("cells")), _num(r.get("t_solve"))) for r in rs
                         if r["solver"] == sv and _num(r.get("cells")) is not None
                         and r.get("status") not in ("error", "failed"))
            lines.append((sv, pts))
        panels.append((fam, lines))
    return _plot(path, fams, panels, "solve seconds (errors omitted)")


def _plot(path: Path, fams: list[str], panels: list[tuple[str, list[tuple[str, list[Any]]]]],
          ylabel: str) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, axes = plt.subplots(1, max(1, len(fams)), figsize=(5.5 * max(1, len(fams)), 4.2),
                             squeeze=False)
    for ax, (fam, lines) in zip(axes[0], panels, strict=False):
        for i, (label, pts) in enumerate(lines):  # same colour per series in every panel
            pts = [(x, y) for x, y in pts if x is not None and y is not None and y > 0]
            if pts:
                xs, ys = zip(*sorted(pts), strict=True)
                ax.plot(xs, ys, marker="o", label=label, color=f"C{i % 10}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("cells")
        ax.set_ylabel(ylabel)
        ax.set_title(fam)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ---------------------------------------------------------------- what a plan binds

BINDING_TOL = 1e-6  # slack at most this, relative to the row's bound, is binding


def row_activity(am: Any, x: Any) -> Any:
    """``A x``: the activity of every row of the model at ``x``."""
    import numpy as np

    return am.matrix("csr") @ np.asarray(x, float)


def binding_rows(am: Any, x: Any, tol: float = BINDING_TOL) -> dict[str, tuple[int, int]]:
    """Per row block of the model: (rows binding at ``x``, rows).

    A row is binding when the slack to one of its finite bounds is at most ``tol``
    relative to that bound (``max(1, |bound|)``). Rows at a trivial ``0 <= 0`` (a
    switched-off link whose every term is zero) are not counted: they bind in every
    plan that does not use them and say nothing about the rule.
    """
    import numpy as np

    act = row_activity(am, x)
    csr = am.matrix("csr")
    a_abs = abs(csr) @ np.abs(np.asarray(x, float))  # 0 where every term of the row is 0
    out: dict[str, tuple[int, int]] = {}
    for c in am.cons.values():
        sl = slice(c.start, c.start + c.n)
        a, used = act[sl], a_abs[sl] > tol
        hit = np.zeros(c.n, bool)
        for bound in (c.lower, c.upper):
            fin = np.isfinite(bound)
            b = np.where(fin, bound, 0.0)
            hit |= fin & (np.abs(a - b) <= tol * np.maximum(1.0, np.abs(b)))
        out[c.name] = (int((hit & used).sum()), int(c.n))
    return out


def plan_profile(am: Any, data: Any, x: Any, rules: Iterable[str]) -> dict[str, Any]:
    """What a plan does with the rules it is tested on.

    ``mix``: share of the units sold per channel (every channel of the scenario);
    ``binding``: per row family of the registry whose switch is in ``rules``,
    (binding rows, rows) at ``x`` (see :func:`binding_rows`); ``overlap_pairs``: the
    (product, region) pairs sold both online and offline (``overlap`` columns at 1);
    ``markdown_units``: share of units sold at a price level below the product's
    reference price; ``commission_regions``: regions with the commission policy on.
    Family names and roles come from :mod:`channel_opt.model.registry`.
    """
    import numpy as np

    from channel_opt.model.registry import ROWS

    x = np.asarray(x, float)
    s = data.sales
    q = x[am.vars["sales"].start:am.vars["sales"].start + len(s)]
    units = np.bincount(s["k"].to_numpy(), weights=q, minlength=len(data.channels))
    total = float(units.sum())
    ids = data.channels["id"].astype(str).tolist()
    mix = {k: (float(u) / total if total > 0 else 0.0) for k, u in zip(ids, units, strict=True)}
    ref = data.products["ref_price"].to_numpy(float)[s["p"].to_numpy()]
    md = s["price"].to_numpy(float) < ref - 1e-9
    on = set(rules)
    bind = binding_rows(am, x)
    binding = {r.name: bind.get(r.name, (0, 0)) for r in ROWS if r.switch in on}

    def _count(block: str) -> int:
        b = am.vars.get(block)
        return 0 if b is None else int((x[b.start:b.start + b.n] > 0.5).sum())

    return {"mix": mix, "binding": binding, "units": total,
            "markdown_units": float(q[md].sum()) / total if total > 0 else 0.0,
            "overlap_pairs": _count("overlap"),
            "commission_regions": _count("commission_policy")}


def rules_on(settings: Any) -> set[str]:
    """The rule switches a scenario's settings turn on (``Settings.rules``)."""
    return {k for k in type(settings.rules).model_fields if getattr(settings.rules, k) is not None}


def mix_text(mix: dict[str, float]) -> str:
    """``online 42% · store 23% · ...``: the share of units per channel."""
    return " · ".join(f"{k} {v:.0%}" for k, v in mix.items())


def binding_by_rule(binding: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """Per rule switch of the registry: (binding rows, rows) summed over its row
    families (as :func:`plan_profile` returns them per row family)."""
    from channel_opt.model.registry import ROW

    out: dict[str, tuple[int, int]] = {}
    for name, (hit, n) in binding.items():
        sw = ROW[name].switch
        if sw is None:
            continue
        h0, n0 = out.get(sw, (0, 0))
        out[sw] = (h0 + int(hit), n0 + int(n))
    return out


def binding_text(binding: dict[str, Any]) -> str:
    """``partner_floor 3/6 · ...``: binding rows per row family that has rows."""
    return " · ".join(f"{k} {h}/{n}" for k, (h, n) in binding.items() if n)


def profile_columns(profile: dict[str, Any] | None) -> dict[str, Any]:
    """The solve-table columns of a plan profile (empty without a plan)."""
    if not profile:
        return {}
    mix, binding = profile["mix"], profile["binding"]
    by_rule = binding_by_rule(binding)
    return {"mix": mix_text(mix), "min_channel_share": min(mix.values()) if mix else None,
            "binding": binding_text(binding),
            "unbound_rules": ";".join(k for k, (h, n) in by_rule.items() if n and not h),
            "markdown_units": profile["markdown_units"],
            "overlap_pairs": profile["overlap_pairs"],
            "commission_regions": profile["commission_regions"]}
