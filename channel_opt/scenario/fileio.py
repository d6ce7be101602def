"""What both scenario file forms (YAML/JSON + tables, workbook) share: the columns read
as text, the settings and tables as written, and moving a finished file into place.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .scenario import Scenario
from .settings import Settings
from .tables import TABLES, columns


def text_columns(table: str | None = None) -> list[str]:
    """Columns holding ids and names: read as text, never as numbers or missing values.

    Without this, an id such as ``007`` reads as 7 and a region ``NA`` as missing.
    """
    specs = [TABLES[table]] if table in TABLES else list(TABLES.values()) if table is None \
        else []
    return sorted({c.name for spec in specs for c in columns(spec.row)
                   if c.kind in ("str", "enum")})


def settings_dict(settings: Settings) -> dict[str, Any]:
    """The settings as a plain mapping with defaults left out (for writing files)."""
    return settings.model_dump(mode="json", exclude_defaults=True, exclude_none=True)


def file_tables(scen: Scenario) -> dict[str, pd.DataFrame]:
    """Tables to write; 'no limit' (infinity) is written as an empty cell."""
    out = {}
    for k, v in scen.tables.items():
        if TABLES[k].required or len(v):
            num = v.select_dtypes("number").columns
            out[k] = v.assign(**{c: v[c].where(np.isfinite(v[c])) for c in num})
    return out


def publish(tmp: str, target: Path) -> None:
    """Give the temporary file the mode a new file gets (mkstemp makes it 0600) and
    move it into place.
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, target)
