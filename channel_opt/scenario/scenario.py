"""The validated, immutable scenario and its content hash."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, get_args

import numpy as np
import pandas as pd
from pydantic import BaseModel, ValidationError

from .errors import Problem, ScenarioError
from .settings import Settings
from .tables import TABLES, columns
from .validate import Collector, Source, settings_checks, validate_tables

log = logging.getLogger(__name__)


class Tables(Mapping[str, pd.DataFrame]):
    """The canonical tables of a scenario, read-only.

    Every lookup returns a new shallow copy of the stored frame. Under pandas'
    Copy-on-Write (always on from pandas 3) that copies no data (measured: 60 µs for
    a 10^5-row, 6-column table; a deep copy takes 0.65 ms), and any change made to
    it (``.loc[...] = ``, a new column, a sort in place) copies the data first; its
    NumPy arrays are read-only. The scenario, and with it its content hash, cannot
    be changed through what it hands out.
    """

    def __init__(self, frames: Mapping[str, pd.DataFrame]):
        self._frames = dict(frames)
        # what is derived from the tables alone, kept with them (never pickled): the
        # bytes the content hash reads, the model data of each settings that shape it
        # (:func:`channel_opt.model.data.build_data`); scenarios that differ only in
        # settings (:meth:`Scenario.with_settings`) share one Tables and so these
        self.derived: dict[Any, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"_frames": self._frames}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._frames = state["_frames"]
        self.derived = {}

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self._frames[name].copy(deep=False)

    def __iter__(self) -> Iterator[str]:
        return iter(self._frames)

    def __len__(self) -> int:
        return len(self._frames)

    def __repr__(self) -> str:
        return f"Tables({', '.join(f'{k}: {len(v)} rows' for k, v in self._frames.items())})"


@dataclass(frozen=True, eq=False)
class Scenario:
    """A validated channel-design scenario.

    Build one with :meth:`Scenario.from_frames` (from pandas DataFrames) or
    :func:`channel_opt.load_scenario` (from files). Tables are canonical: columns in
    schema order, defaults filled, rows sorted by key, and read-only (each access,
    ``scen.cells`` or ``scen.tables["cells"]``, gives a copy-on-write view: changing
    it leaves the scenario as validated). The content hash is computed once at
    construction. Two scenarios are equal when their content hashes are (names and
    descriptions aside); scenarios pickle, so they can be sent to worker processes.
    ``notes``: inputs given that have no effect on the model (see
    :func:`unused_inputs`), logged as warnings when the scenario is built.
    """

    settings: Settings
    tables: Mapping[str, pd.DataFrame]
    name: str = "scenario"
    description: str = ""
    hash: str = ""
    notes: tuple[Problem, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.tables, Tables):
            object.__setattr__(self, "tables", Tables(self.tables))

    def __getattr__(self, item: str) -> pd.DataFrame:
        tables = object.__getattribute__(self, "tables")
        if item in tables:
            return tables[item]
        raise AttributeError(item)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Scenario):
            return NotImplemented
        return self.hash == other.hash

    def __hash__(self) -> int:
        return hash(self.hash)

    @classmethod
    def from_frames(cls, tables: Mapping[str, pd.DataFrame | list[dict[str, Any]] | None],
                    settings: Settings | Mapping[str, Any] | None = None, *,
                    name: str = "scenario", description: str = "",
                    sources: Mapping[str, Source] | None = None) -> Scenario:
        """Validate tables and settings into a scenario; raise :class:`ScenarioError`."""
        out = Collector()
        sources = dict(sources or {})
        unknown = set(tables) - set(TABLES)
        for u in sorted(unknown):
            out.table(sources.get("settings", Source("<scenario>", "tables")), u,
                      "unknown table", f"use one of: {', '.join(TABLES)}")
        settings_obj = _settings(settings, sources, out)
        raw: dict[str, pd.DataFrame | None] = {}
        for k, v in tables.items():
            if k in TABLES:
                raw[k] = pd.DataFrame(v) if isinstance(v, list) else v
        clean = validate_tables(raw, sources, settings_obj or Settings(), out)
        for k, spec in TABLES.items():
            if spec.not_built and raw.get(k) is not None and len(clean[k]):
                out.table(sources.get(k, Source("<scenario>", k)), None,
                          f"table '{k}' has {len(clean[k])} row(s), but {spec.not_built}: "
                          "they would change nothing",
                          f"remove the '{k}' table; meanwhile solve each realization as "
                          "its own scenario")
        if out.problems or settings_obj is None:
            raise ScenarioError(out.problems)
        canon = {k: _canonical(k, df) for k, df in clean.items()}
        tables_obj = Tables(canon)
        digest = content_hash(settings_obj, tables_obj)
        notes = tuple(unused_inputs(settings_obj, canon, sources))
        for n in notes:
            log.warning("%s: %s", name, n)
        return cls(settings=settings_obj, tables=tables_obj, name=name,
                   description=description, hash=digest, notes=notes)

    def with_settings(self, settings: Settings | Mapping[str, Any], *,
                      sources: Mapping[str, Source] | None = None,
                      name: str | None = None, description: str | None = None) -> Scenario:
        """The validated tables of this scenario under other settings, validated as
        :meth:`from_frames` would validate the same tables and settings.

        The tables passed every table check already and no setting changes them, so
        only the settings and the cross checks that read them
        (:func:`~channel_opt.scenario.validate.settings_checks`) run; the hash and the
        notes are those of a full validation. The new scenario shares this one's
        :class:`Tables` (and what is derived from them). Raises :class:`ScenarioError`.
        """
        out = Collector()
        sources = dict(sources or {})
        settings_obj = _settings(settings, sources, out)
        tables = self.tables
        assert isinstance(tables, Tables)
        canon = tables._frames  # read only, as the checks and the hash only read
        if settings_obj is not None:
            settings_checks(canon, sources, settings_obj, out)
        if out.problems or settings_obj is None:
            raise ScenarioError(out.problems)
        name = self.name if name is None else name
        notes = tuple(unused_inputs(settings_obj, canon, sources))
        for n in notes:
            log.warning("%s: %s", name, n)
        return Scenario(settings=settings_obj, tables=tables, name=name,
                        description=self.description if description is None else description,
                        hash=content_hash(settings_obj, tables), notes=notes)

    def summary(self) -> dict[str, Any]:
        """Counts of the entities and the active rule families."""
        return {
            "name": self.name,
            "hash": self.hash,
            "demand_model": self.settings.demand_model,
            **{k: len(v) for k, v in self.tables.items()},
            "rules": active_rules(self.settings),
            "unused_inputs": [str(n) for n in self.notes],
        }


def active_rules(settings: Settings) -> list[str]:
    """Names of the rule families switched on."""
    on = [k for k, v in settings.rules.model_dump().items() if v is not None]
    if settings.max_channels_per_cell is not None:
        on.append("max_channels_per_cell")
    if settings.channel_rules:
        on.append("channel_rules")
    return on


def unused_inputs(settings: Settings, tables: Mapping[str, pd.DataFrame],
                  sources: Mapping[str, Source] | None = None) -> list[Problem]:
    """Inputs that are valid but have no effect on the model, one note each.

    * a column read only by rule families that are all off (``Column.rules``), set
      away from its default in some row: e.g. ``regions.service_level`` while
      ``rules.service_level`` is off. Kept, not refused, so that a rule can be
      switched off and on without editing the tables;
    * ``brands.launch_cost`` of a brand that is not ``new`` (only new brands launch);
    * ``rules.commission.policy_cost`` while ``decision`` is false (charged only when
      the policy is decided per region).
    """
    sources = sources or {}
    on = set(active_rules(settings))
    notes: list[Problem] = []

    def src(name: str) -> Source:
        return sources.get(name, Source("<scenario>", name))

    for name, spec in TABLES.items():
        df = tables.get(name)
        if df is None or not len(df):
            continue
        for col in columns(spec.row):
            if not col.rules or on & set(col.rules):
                continue
            v = df[col.name].to_numpy()
            n = int(np.count_nonzero(v != col.default))
            if n:
                fams = " or ".join(f"'{r}'" for r in col.rules)
                notes.append(Problem(
                    src(name).file, name, None, col.name,
                    f"set in {n} row(s) but has no effect: rule family {fams} is off",
                    f"switch the family on in the rules: section ({col.rules[0]}: ...) or "
                    "drop the column"))
    brands = tables.get("brands")
    if brands is not None and len(brands):
        n = int(np.count_nonzero((brands["launch_cost"].to_numpy() > 0)
                                 & ~brands["new"].to_numpy(bool)))
        if n:
            notes.append(Problem(src("brands").file, "brands", None, "launch_cost",
                                 f"set in {n} row(s) of brands that are not new: no effect "
                                 "(only a new brand is launched)",
                                 "set new: true for a brand still to launch, or drop the cost"))
    com = settings.rules.commission
    if com is not None and com.policy_cost > 0 and not com.decision:
        notes.append(Problem(src("settings").file, "settings", None,
                             "rules.commission.policy_cost",
                             "has no effect while rules.commission.decision is false "
                             "(the policy then runs everywhere at no fixed cost)",
                             "set decision: true to decide the policy per region, or drop "
                             "policy_cost"))
    return notes


def _settings(settings: Settings | Mapping[str, Any] | None, sources: Mapping[str, Source],
              out: Collector) -> Settings | None:
    if isinstance(settings, Settings):
        return settings
    src = sources.get("settings", Source("<scenario>", "settings"))
    if settings is not None and not isinstance(settings, Mapping):
        out.problems.append(Problem(src.file, "settings", None, None,
                                    "settings is not a mapping",
                                    "write settings as key: value pairs (demand_model, rules...)"))
        return None
    try:
        return Settings.model_validate(dict(settings or {}))
    except ValidationError as e:
        for err in e.errors():
            loc = ".".join(str(x) for x in err["loc"])
            if err["type"] == "extra_forbidden":
                known = _known_keys(err["loc"][:-1])
                rule = f"unknown setting '{err['loc'][-1]}'"
                fix = "remove it" + (f" or use one of: {', '.join(known)}" if known else "")
            else:
                rule, fix = err["msg"], "correct the value"
            out.problems.append(Problem(src.file, "settings", None, loc, rule, fix))
        return None


def _known_keys(loc: tuple[int | str, ...]) -> list[str]:
    """Keys allowed in the settings block at ``loc`` (for 'unknown setting' fixes)."""
    model: type[BaseModel] = Settings
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        nested = [a for a in (field.annotation, *get_args(field.annotation))
                  if isinstance(a, type) and issubclass(a, BaseModel)]
        if not nested:
            return []
        model = nested[0]
    return sorted(model.model_fields)


def _canonical(name: str, df: pd.DataFrame) -> pd.DataFrame:
    spec = TABLES[name]
    cols = [c.name for c in columns(spec.row)]
    df = df[cols]
    if len(df):
        # sort on the ranks of the key values (factorize sorts only the distinct ids)
        ranks = [pd.factorize(df[k], sort=True)[0] for k in reversed(spec.key)]
        df = df.iloc[np.lexsort(ranks)]
    return df.reset_index(drop=True)


def content_hash(settings: Settings, tables: Mapping[str, pd.DataFrame]) -> str:
    """SHA-256 of the settings and the canonical tables (independent of file form).

    The tables' part is kept with a :class:`Tables` (read once for all settings) up to
    4 MB.
    """
    h = hashlib.sha256()
    h.update(settings.model_dump_json().encode())
    part = tables.derived.get("hash_bytes") if isinstance(tables, Tables) else None
    if part is None:
        part = _tables_bytes(tables._frames if isinstance(tables, Tables) else tables)
        if isinstance(tables, Tables) and len(part) <= 1 << 22:  # kept up to 4 MB
            tables.derived["hash_bytes"] = part
    h.update(part)
    return h.hexdigest()


def _tables_bytes(tables: Mapping[str, pd.DataFrame]) -> bytes:
    """What :func:`content_hash` reads of the tables, after the settings."""
    h = _Bytes()
    for name in sorted(tables):
        df = tables[name]
        h.update(f"\x1e{name}:{len(df)}".encode())
        for col in df.columns:
            h.update(f"\x1d{col}".encode())
            s = df[col]
            if pd.api.types.is_bool_dtype(s.dtype):
                h.update(s.to_numpy(dtype=np.uint8).tobytes())
            elif pd.api.types.is_float_dtype(s.dtype):
                v = s.to_numpy(dtype=float) + 0.0  # -0.0 -> 0.0
                h.update(v.tobytes())
            else:  # 64-bit hash of every string, then SHA-256 over those
                h.update(pd.util.hash_pandas_object(s.astype("str"), index=False)
                         .to_numpy().tobytes())
    return b"".join(h.parts)


class _Bytes:
    """Collects what would be fed to a hash, in order."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def update(self, b: bytes) -> None:
        self.parts.append(b)
