"""Vectorized validation of the scenario's tables.

Checks run column-wise over whole tables (never row by row in Python over a whole
table) and collect every problem before anything is raised. Rules are read from the
row models in :mod:`channel_opt.scenario.tables`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .demand import share_factors
from .errors import Problem, quote
from .settings import ChannelRule, Settings
from .tables import CHANNEL_KINDS, TABLES, Column, TableSpec, columns

_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}
MAX_LISTED = 8  # problems listed per (table, column, rule) before summarizing


@dataclass
class Source:
    """Where a table came from: file (and sheet), and the file row of its first data row."""

    file: str
    table: str
    first_row: int = 2  # CSV/Excel: header is row 1
    typed: bool = False  # cells carry their own type (workbook, YAML rows): "1.7" is text


@dataclass
class Collector:
    """Collects problems, summarizing long runs of the same problem."""

    problems: list[Problem] = field(default_factory=list)

    def rows(self, src: Source, mask: np.ndarray, column: str | None, rule: str, fix: str,
             index: pd.Index) -> None:
        """Report ``rule`` for every row where ``mask`` holds."""
        pos = np.flatnonzero(mask)
        if pos.size == 0:
            return
        for i in pos[:MAX_LISTED]:
            self.problems.append(Problem(src.file, src.table, int(index[i]) + src.first_row,
                                         column, rule, fix))
        if pos.size > MAX_LISTED:
            self.problems.append(Problem(src.file, src.table, None, column,
                                         f"{pos.size - MAX_LISTED} more row(s) break the same "
                                         f"rule ({rule})", fix))

    def table(self, src: Source, column: str | None, rule: str, fix: str) -> None:
        """Report a problem of a whole table or column."""
        self.problems.append(Problem(src.file, src.table, None, column, rule, fix))


def _blank(s: pd.Series) -> np.ndarray:
    if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        return np.asarray(s.isna() | (s.astype("string").str.strip() == ""), dtype=bool)
    return np.asarray(s.isna(), dtype=bool)


def _coerce(df: pd.DataFrame, spec: TableSpec, src: Source, out: Collector) -> pd.DataFrame:
    """Return the table with canonical dtypes; report bad cells."""
    cols = columns(spec.row)
    known = {c.name for c in cols}
    df = df.rename(columns=lambda c: str(c).strip())
    foreign = bool(len(df.columns)) and not known & set(df.columns)
    if foreign:
        # not this table at all (a wrong file): its header may be anything, even a
        # secret, so it is not quoted
        out.table(src, None, "the header row names none of the table's columns",
                  f"give '{spec.name}' a header row with its columns: "
                  f"{', '.join(c.name for c in cols)}")
        df = df.iloc[:, :0]
    for c in df.columns:
        if c not in known:
            out.table(src, c, "unknown column",
                      f"remove it or rename it to one of: {', '.join(sorted(known))}")
    if df.columns.duplicated().any():
        out.table(src, None, "duplicate column header", "keep one column per name")
        df = df.loc[:, ~df.columns.duplicated()]
    res: dict[str, Any] = {}
    for col in cols:
        if col.name not in df.columns:
            if col.required and not foreign:  # a foreign header is one problem
                out.table(src, col.name, "missing required column",
                          f"add column '{col.name}' ({col.description})")
                res[col.name] = _placeholder_series(col, len(df))
            elif not col.required:
                res[col.name] = _default_series(col, len(df))
            else:
                res[col.name] = _placeholder_series(col, len(df))
            continue
        res[col.name] = _coerce_column(df[col.name], col, src, out)
    return pd.DataFrame(res, index=df.index)


def _default_series(col: Column, n: int) -> pd.Series:
    if col.kind == "float":
        return pd.Series(np.full(n, col.default, dtype=float))
    if col.kind == "bool":
        return pd.Series(np.full(n, bool(col.default)))
    return pd.Series([col.default] * n, dtype=object)


def _placeholder_series(col: Column, n: int) -> pd.Series:
    """Stand-in for a missing required column (already reported) so later checks can run."""
    if col.kind == "float":
        return pd.Series(np.full(n, np.nan))
    if col.kind == "bool":
        return pd.Series(np.zeros(n, dtype=bool))
    return pd.Series([""] * n, dtype=object)


def _coerce_column(s: pd.Series, col: Column, src: Source, out: Collector) -> pd.Series:
    blank = _blank(s)
    if blank.any() and col.required:
        out.rows(src, blank, col.name, "missing value", f"fill in '{col.name}'", s.index)
    if col.kind == "float":
        if pd.api.types.is_bool_dtype(s.dtype):
            vals = np.full(len(s), np.nan)
            out.rows(src, np.ones(len(s), bool), col.name, "not a number",
                     "write a number", s.index)
        else:
            typed_bad = np.zeros(len(s), bool)
            if s.dtype == object:
                # true/false is not a number; in a typed source neither is a text
                # ("1.700": 1.7 or 1700? no locale is guessed)
                is_text = np.fromiter((isinstance(v, str) for v in s), bool, len(s))
                is_bool = np.fromiter((isinstance(v, bool | np.bool_) for v in s), bool,
                                      len(s))
                if src.typed:
                    looks = is_text & ~blank & np.isfinite(pd.to_numeric(
                        s.where(is_text, None), errors="coerce").to_numpy(dtype=float,
                                                                          na_value=np.nan))
                    out.rows(src, looks, col.name, "number written as text",
                             f"type the number itself into '{col.name}' (no quotes, no "
                             "thousands separator)", s.index)
                    typed_bad = looks
                out.rows(src, is_bool, col.name, "true/false is not a number",
                         f"write a number for '{col.name}'", s.index)
                typed_bad |= is_bool
                s = s.where(~typed_bad, None)
            vals = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            blank = blank | typed_bad  # reported above, not again as "not a number"
        bad = np.isnan(vals) & ~blank
        out.rows(src, bad, col.name, "not a number", f"write a number for '{col.name}'"
                 + (f" in {col.unit}" if col.unit else ""), s.index)
        if not col.required:
            vals = np.where(blank, col.default, vals)
        inf_ok = col.default == math.inf
        nonfinite = ~np.isfinite(vals) & ~np.isnan(vals) & ~(inf_ok & (vals == math.inf))
        out.rows(src, nonfinite, col.name, "number is not finite",
                 "write a finite number" + (" or leave the cell empty for no limit"
                                            if inf_ok else ""), s.index)
        ok = np.isfinite(vals)
        if col.lower is not None:
            lo = vals <= col.lower if col.lower_strict else vals < col.lower
            rel = ">" if col.lower_strict else ">="
            what = "negative number" if col.lower == 0 and not col.lower_strict else \
                f"value must be {rel} {col.lower:g}"
            out.rows(src, ok & lo, col.name, what,
                     f"write a value {rel} {col.lower:g}", s.index)
        if col.upper is not None:
            hi = vals >= col.upper if col.upper_strict else vals > col.upper
            rel = "<" if col.upper_strict else "<="
            out.rows(src, ok & hi, col.name, f"value must be {rel} {col.upper:g}",
                     f"write a value {rel} {col.upper:g}"
                     + (" (a share is a fraction: 0.3, not 30)" if col.unit == "fraction" else ""),
                     s.index)
        return pd.Series(vals, index=s.index)
    if col.kind == "bool":
        if pd.api.types.is_bool_dtype(s.dtype):
            return s.astype(bool)
        txt = s.astype("string").str.strip().str.lower().fillna("")
        t = txt.isin(list(_TRUE)).to_numpy(dtype=bool)
        f = txt.isin(list(_FALSE)).to_numpy(dtype=bool)
        bad = ~(t | f) & ~blank
        out.rows(src, bad, col.name, "not true/false", f"write true or false in '{col.name}'",
                 s.index)
        vals = np.where(blank | bad, bool(col.default), t)  # bad cells: reported, use default
        return pd.Series(vals.astype(bool), index=s.index)
    txt = s if pd.api.types.is_string_dtype(s.dtype) and s.dtype != object \
        else s.astype("str")
    txt = txt.str.strip()
    if blank.any():
        txt = txt.where(~pd.Series(blank, index=s.index), "" if col.default is None
                        else str(col.default))
    res = txt.fillna("")
    if col.kind == "enum":
        bad = ~res.isin(col.choices).to_numpy() & ~blank
        out.rows(src, bad, col.name, f"unknown {col.name}",
                 f"use one of: {', '.join(col.choices)}", s.index)
    return res


def validate_tables(raw: dict[str, pd.DataFrame | None], sources: dict[str, Source],
                    settings: Settings, out: Collector) -> dict[str, pd.DataFrame]:
    """Coerce and check every table and the cross-references between them."""
    clean: dict[str, pd.DataFrame] = {}
    missing: dict[str, set[str]] = {}  # required columns absent from a table (reported)
    for name, spec in TABLES.items():
        df = raw.get(name)
        src = sources.get(name, Source("<scenario>", name))
        if df is not None:
            present = {str(c).strip() for c in df.columns}
            missing[name] = {c.name for c in columns(spec.row)
                             if c.required and c.name not in present}
        if df is None:
            if spec.required:
                out.table(src, None, "required table is missing",
                          f"add the '{name}' table")
            df = pd.DataFrame({c.name: pd.Series(dtype=object) for c in columns(spec.row)})
        elif len(df) == 0 and spec.required:
            out.table(src, None, "required table is empty", f"add at least one row to '{name}'")
        df = _coerce(df.reset_index(drop=True), spec, src, out)
        if len(df) and not missing.get(name, set()) & set(spec.key):
            dup = df.duplicated(list(spec.key), keep="first").to_numpy()
            key = ", ".join(spec.key)
            out.rows(src, dup, spec.key[-1], f"duplicate key ({key})",
                     "keep one row per key or merge the rows", df.index)
        clean[name] = df
    for name, spec in TABLES.items():
        src = sources.get(name, Source("<scenario>", name))
        df = clean[name]
        for colname, target in spec.refs:
            if colname in missing.get(name, set()) or "id" in missing.get(target, set()):
                continue  # the missing column is reported; its placeholder proves nothing
            ids = clean[target]["id"]
            bad = ~df[colname].isin(ids).to_numpy() & (df[colname] != "").to_numpy()
            out.rows(src, bad, colname, f"unknown {colname} id (not in table '{target}')",
                     f"use an id listed in '{target}' or add it there", df.index)
    if not any(missing.values()):  # cross-checks need every required column
        _table_checks(clean, sources, out)
        settings_checks(clean, sources, settings, out)
    return clean


def _lookup(keys: pd.Series, values: pd.Series, missing: bool) -> np.ndarray:
    """``values[keys]`` as a bool array (``missing`` for unknown keys), vectorized."""
    if not len(values):
        return np.full(len(keys), missing)
    pos = pd.Index(values.index).get_indexer(keys)
    return np.where(pos >= 0, values.to_numpy(bool)[np.maximum(pos, 0)], missing)


def split_list(value: str) -> list[str]:
    """Split a ';'-separated cell into its items."""
    return [v.strip() for v in str(value).split(";") if v.strip()]


def _table_checks(t: dict[str, pd.DataFrame], sources: dict[str, Source],
                  out: Collector) -> None:
    """The cross checks between tables that no setting changes: list-valued cells,
    store presence of store channels, shares of known cells.
    """
    def src(name: str) -> Source:
        return sources.get(name, Source("<scenario>", name))

    channels = set(t["channels"]["id"])
    regions = t["regions"]
    # list-valued cells
    for name, col, universe, what in (("segments", "channels", channels, "channel"),
                                      ("brands", "allowed_kinds", set(CHANNEL_KINDS), "kind"),
                                      ("products", "allowed_kinds", set(CHANNEL_KINDS), "kind")):
        df = t[name]
        if not len(df):
            continue
        items = df[col].map(split_list)
        bad = items.map(lambda xs, u=universe: any(x not in u for x in xs)).to_numpy(dtype=bool)
        out.rows(src(name), bad, col, f"unknown {what} in list",
                 f"use ';'-separated {what}s from: {', '.join(sorted(universe))}", df.index)
    shares = t["shares"]
    if len(shares):
        # duplicate ids are reported above; map through the first row of each id
        ch = t["channels"].drop_duplicates("id").set_index("id")
        reg = regions.drop_duplicates("id").set_index("id")
        # unknown ids (reported above) map to NaN: neither needs nor lacks a store
        needs_store = _lookup(shares["channel"], ch["requires_store"] | (ch["kind"] == "o2o"),
                              False)
        has_store = _lookup(shares["region"], reg["has_stores"], True)
        out.rows(src("shares"), needs_store & ~has_store, "channel",
                 "channel requires store presence but the region has no stores",
                 "drop the row, or set has_stores: true for the region", shares.index)
        keys = ["product", "region", "segment"]
        cell_idx = pd.MultiIndex.from_frame(t["cells"][keys].astype(str))
        sh_idx = pd.MultiIndex.from_frame(shares[keys].astype(str))
        out.rows(src("shares"), ~sh_idx.isin(cell_idx), "segment",
                 "share for a cell that is not in table 'cells'",
                 "add the cell (product, region, segment) to 'cells' or drop the row",
                 shares.index)


def settings_checks(t: Mapping[str, pd.DataFrame], sources: Mapping[str, Source],
                    settings: Settings, out: Collector) -> None:
    """The cross checks that read the settings: mnl shares strictly inside (0, 1),
    demand scenarios, the ids rules name, force rules with a target.

    The only checks a settings change can break on tables that passed the rest: a
    settings-only what-if (:meth:`~channel_opt.scenario.Scenario.with_settings`) runs
    these alone on the validated tables, and reports what a full validation would.
    """
    t = dict(t)

    def src(name: str) -> Source:
        return sources.get(name, Source("<scenario>", name))

    shares = t["shares"]
    if len(shares) and settings.demand_model == "mnl":
        # shares outside [0, 1] are already reported by the column's bounds
        bad = ((shares["share"] == 0) | (shares["share"] == 1)).to_numpy()
        out.rows(src("shares"), bad, "share",
                 "mnl share must be strictly between 0 and 1",
                 "write a share in (0, 1), or drop the row if the channel cannot reach "
                 "the cell, or set demand_model: independent", shares.index)
    channels = set(t["channels"]["id"])
    segs = set(t["segments"]["id"])
    _demand_scenario_checks(t, src, settings, out)
    rules = settings.rules
    setting_src = Source(sources.get("settings", Source("<scenario>", "settings")).file,
                         "rules")
    if rules.reserved_segments:
        for seg, chs in rules.reserved_segments.items():
            if seg not in segs:
                setting_src_ = Source(setting_src.file, "rules.reserved_segments")
                out.table(setting_src_, seg, "unknown segment in rule",
                          f"use a segment id from 'segments': {', '.join(sorted(segs))}")
            for c in chs:
                if c not in channels:
                    out.table(Source(setting_src.file, "rules.reserved_segments"), seg,
                              f"rule references channel '{quote(c)}' that does not exist",
                              f"use a channel id from 'channels': {', '.join(sorted(channels))}")
    ids = {k: set(t[k]["id"]) for k in ("products", "brands", "regions", "segments")}
    for i, r in enumerate(settings.channel_rules):
        where = Source(setting_src.file, f"channel_rules[{i}]")
        if (r.channel is None) == (r.kind is None):
            out.table(where, None, "give exactly one of 'channel' or 'kind'",
                      "name a channel id or a channel kind")
        if r.channel is not None and r.channel not in channels:
            out.table(where, "channel", f"rule references channel '{quote(r.channel)}' that "
                      "does not exist", f"use one of: {', '.join(sorted(channels))}")
        scopes = [(k, getattr(r, k)) for k in ("product", "brand", "segment", "region", "season")
                  if getattr(r, k) is not None]
        if len(scopes) > 1:
            out.table(where, None, "give at most one scope (product, brand, segment, region or "
                      "season)", "split the rule into one rule per scope")
        for k, v in scopes:
            if k != "season" and v not in ids[k + "s"]:
                out.table(where, k, f"rule references unknown {k} '{quote(v)}'",
                          f"use a {k} id from table '{k}s'")
    _forced_without_target(t, settings, setting_src.file, out)


def _rule_is_sound(rule: ChannelRule, channels: set[str], ids: dict[str, set[str]]) -> bool:
    """The rule names one channel or kind, at most one scope, and only known ids.

    The others are reported already.
    """
    scopes = [(k, getattr(rule, k)) for k in ("product", "brand", "segment", "region")
              if getattr(rule, k) is not None]
    return ((rule.channel is None) != (rule.kind is None)
            and (rule.channel is None or rule.channel in channels)
            and len(scopes) + (rule.season is not None) <= 1
            and all(v in ids[k + "s"] for k, v in scopes))


def _forced_without_target(t: dict[str, pd.DataFrame], settings: Settings, file: str,
                           out: Collector) -> None:
    """Report every ``force`` rule that no eligible, selling (cell, channel) can carry out:
    forbidden by a ``forbid`` rule (a contradiction), or excluded by the segments'
    channel lists, allowed kinds, region_channels or missing shares.

    Eligibility is the model's own (:func:`channel_opt.model.data._eligible`), run on
    the tables with already-reported bad references left out, so the check runs with
    every other one.
    """
    from types import SimpleNamespace

    from ..model.data import _eligible

    forces = [(i, r) for i, r in enumerate(settings.channel_rules) if r.action == "force"]
    if not forces:
        return
    known = {k: t[k].drop_duplicates("id").reset_index(drop=True)
             for k in ("channels", "products", "regions", "brands", "segments")}
    ch = known["channels"]
    ch_set = set(ch["id"])
    kinds = set(CHANNEL_KINDS)

    def only(items: str, universe: set[str]) -> str:
        return ";".join(x for x in split_list(items) if x in universe)

    segs = known["segments"].assign(channels=known["segments"]["channels"].map(
        lambda v: only(v, ch_set)))
    prods = known["products"][known["products"]["brand"].isin(set(known["brands"]["id"]))]
    prods = prods.assign(allowed_kinds=prods["allowed_kinds"].map(lambda v: only(v, kinds)))
    ids = {"products": set(prods["id"]),
           **{k: set(known[k]["id"]) for k in ("brands", "segments", "regions")}}
    brands = known["brands"].assign(allowed_kinds=known["brands"]["allowed_kinds"].map(
        lambda v: only(v, kinds)))
    rc = t["region_channels"]
    rc = rc[rc["region"].isin(ids["regions"]) & rc["channel"].isin(ch_set)]
    pcs = t["product_channels"]
    pcs = pcs[pcs["product"].isin(ids["products"]) & pcs["channel"].isin(ch_set)]
    reserved = {sg: [c for c in cs if c in ch_set]
                for sg, cs in (settings.rules.reserved_segments or {}).items()
                if sg in ids["segments"]}
    sound = [r for r in settings.channel_rules if _rule_is_sound(r, ch_set, ids)]
    rules = settings.rules.model_copy(update={"reserved_segments": reserved or None})
    # selling pairs: a share > 0 of a known cell with a market > 0
    cells = t["cells"].drop_duplicates(["product", "region", "segment"])
    cells = cells[cells["market_size"].to_numpy() > 0]
    sh = t["shares"]
    key = ["product", "region", "segment"]
    sh = sh[(sh["share"].to_numpy() > 0) & sh["channel"].isin(ch_set)
            & sh["product"].isin(set(prods["id"])) & sh["region"].isin(ids["regions"])
            & sh["segment"].isin(ids["segments"])
            & pd.MultiIndex.from_frame(sh[key]).isin(pd.MultiIndex.from_frame(cells[key]))]
    codes = {"p": pd.Index(prods["id"]).get_indexer(sh["product"]),
             "r": pd.Index(known["regions"]["id"]).get_indexer(sh["region"]),
             "s": pd.Index(segs["id"]).get_indexer(sh["segment"]),
             "k": pd.Index(ch["id"]).get_indexer(sh["channel"])}
    prods = prods.reset_index(drop=True)

    def eligible(channel_rules: list[ChannelRule]) -> np.ndarray:
        view = SimpleNamespace(
            settings=settings.model_copy(update={"rules": rules,
                                                 "channel_rules": tuple(channel_rules)}),
            segments=segs, products=prods, brands=brands, regions=known["regions"],
            region_channels=rc, product_channels=pcs)
        return np.asarray(_eligible(view, ch, codes), dtype=bool)  # type: ignore[arg-type]

    forbids = [r for r in sound if r.action == "forbid"]
    keep, base = eligible(forbids), eligible([])
    in_season = prods["in_season"].to_numpy(bool)[codes["p"]]
    brand_of = prods["brand"].to_numpy()[codes["p"]]
    col = {"product": sh["product"].to_numpy(), "region": sh["region"].to_numpy(),
           "segment": sh["segment"].to_numpy(), "brand": brand_of}
    for i, rule in forces:
        if rule not in sound:
            continue
        hit = (sh["channel"].to_numpy() == rule.channel) if rule.channel is not None \
            else (ch["kind"].to_numpy()[codes["k"]] == rule.kind)
        for scope, values in col.items():
            if getattr(rule, scope) is not None:
                hit &= values == getattr(rule, scope)
        if rule.season is not None:
            hit &= in_season == (rule.season == "in")
        if (hit & keep).any():
            continue
        where = Source(file, f"channel_rules[{i}]")
        what = f"channel '{quote(rule.channel)}'" if rule.channel is not None \
            else f"every {rule.kind} channel"
        hit &= base  # the places the rule could force if nothing were forbidden
        blamed = [j for j, r in enumerate(settings.channel_rules) if r in forbids
                  and (hit & ~eligible([r])).any()] if hit.any() else []
        if blamed:
            names = ", ".join(f"channel_rules[{j}]" for j in blamed)
            out.table(where, "action", f"force rule contradicts forbid rule(s) {names}: "
                      f"every place where it forces {what} is forbidden",
                      "remove the force rule or narrow or remove the forbid rule(s)")
        else:
            out.table(where, "action", f"force rule has no target: no cell in its scope can "
                      f"use {what} (segment channel lists, allowed kinds, region_channels, "
                      "product_channels, reserved segments or missing shares exclude it)",
                      "remove the rule, or make the channel eligible in its scope")


def _demand_scenario_checks(t: dict[str, pd.DataFrame], src: Any, settings: Settings,
                            out: Collector) -> None:
    """Probabilities sum to 1; factors need scenarios; a scaled share stays a share."""
    ds, fac = t["demand_scenarios"], t["demand_factors"]
    if len(ds) and abs(float(ds["probability"].sum()) - 1.0) > 1e-6:
        out.table(src("demand_scenarios"), "probability",
                  f"probabilities sum to {ds['probability'].sum():g}, not 1",
                  "scale the probabilities so they sum to 1")
    if not len(fac):
        return
    if not len(ds):
        out.table(src("demand_factors"), "scenario",
                  "demand factors without demand scenarios change nothing",
                  "add the scenarios to 'demand_scenarios' or drop the table")
        return
    shares, kind_of = t["shares"], t["channels"].drop_duplicates("id").set_index("id")["kind"]
    strict = settings.demand_model == "mnl"
    for sid in ds["id"]:
        mult, row = share_factors(t, str(sid), kind_of)
        scaled = shares["share"].to_numpy() * mult
        bad = scaled >= 1.0 if strict else scaled > 1.0 + 1e-12
        for i in np.flatnonzero(bad)[:MAX_LISTED]:
            r = shares.iloc[i]
            out.rows(src("demand_factors"), fac.index == row[i], "factor",
                     f"scales the share {r['share']:g} of {r['channel']} for "
                     f"{r['product']}/{r['region']}/{r['segment']} (shares row "
                     f"{int(shares.index[i]) + src('shares').first_row}) to {scaled[i]:g} in "
                     f"demand scenario '{quote(str(sid))}'; a share must stay "
                     + ("below 1 (mnl)" if strict else "at most 1"),
                     "lower the factor or the share", fac.index)
