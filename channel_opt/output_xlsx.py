"""Result tables as one Excel workbook (``--format xlsx``): a sheet per table, the
summary on the first sheet, so a run, a sweep or a comparison opens in Excel directly.

The workbook is written to a hidden temporary file next to the target and moved into
place with one ``rename``: a crash never leaves a half-written workbook.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SUMMARY_SHEET = "summary"
_BAD = re.compile(r"[\[\]:*?/\\]")
_MAX_SHEET = 31  # Excel's limit on a sheet name


def sheet_names(names: list[str]) -> list[str]:
    """Excel-safe, unique sheet names in order (31 characters; no brackets, colon,
    star, question mark or slashes).
    """
    out: list[str] = []
    seen: set[str] = set()
    for n in names:
        base = _BAD.sub("_", str(n)).strip("'") or "sheet"
        name = base[:_MAX_SHEET]
        i = 2
        while name.lower() in seen:
            tail = f"~{i}"
            name = base[:_MAX_SHEET - len(tail)] + tail
            i += 1
        seen.add(name.lower())
        out.append(name)
    return out


def _flatten(d: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            rows += _flatten(v, key + ".")
        elif isinstance(v, list | tuple | Mapping):
            rows.append((key, json.dumps(v, default=str) if v else ""))
        elif isinstance(v, np.generic):
            rows.append((key, v.item()))
        elif isinstance(v, float) and not np.isfinite(v):
            rows.append((key, str(v)))
        else:
            rows.append((key, v))
    return rows


def summary_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    """A nested summary as two columns, ``key`` (dotted path) and ``value``."""
    rows = _flatten(summary)
    return pd.DataFrame({"key": [k for k, _ in rows],
                         "value": pd.Series([v for _, v in rows], dtype=object)})


def _excel_ready(df: pd.DataFrame) -> pd.DataFrame:
    """Infinite numbers as text (Excel has none); index dropped."""
    out = df.reset_index(drop=True)
    for c in out.columns:
        s = out[c]
        if pd.api.types.is_float_dtype(s.dtype):
            v = s.to_numpy(float)
            if np.isinf(v).any():
                out[c] = pd.Series([("inf" if x > 0 else "-inf") if np.isinf(x) else x
                                    for x in v], dtype=object)
    return out


def write_workbook(path: str | os.PathLike[str], tables: Mapping[str, pd.DataFrame],
                   summary: Mapping[str, Any] | None = None) -> Path:
    """Write ``tables`` as sheets of one workbook (``summary`` first), atomically."""
    target = Path(path)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}.xlsx"
    frames: dict[str, pd.DataFrame] = {}
    if summary is not None:
        frames[SUMMARY_SHEET] = summary_frame(summary)
    frames.update({k: v for k, v in tables.items() if k != SUMMARY_SHEET or summary is None})
    names = sheet_names(list(frames))
    try:
        with pd.ExcelWriter(tmp, engine="openpyxl") as xw:
            for sheet, df in zip(names, frames.values(), strict=True):
                _excel_ready(df).to_excel(xw, sheet_name=sheet, index=False)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
