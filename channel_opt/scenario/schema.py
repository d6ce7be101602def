"""JSON Schema of a scenario file, generated from the same pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from .settings import Settings
from .tables import TABLES


def scenario_file_model() -> type[BaseModel]:
    """A pydantic model of the YAML/JSON scenario file (tables as file names or rows)."""
    fields: dict[str, Any] = {}
    for name, spec in TABLES.items():
        typ = str | list[spec.row]  # type: ignore[name-defined]
        default = ... if spec.required else None
        fields[name] = (typ if spec.required else typ | None,
                        Field(default, description=(spec.row.__doc__ or "").strip()
                              + " A CSV/Parquet file next to the scenario file, or the rows."))
    tables = create_model("Tables", __config__=ConfigDict(extra="forbid"), **fields)
    return create_model(
        "ScenarioFile", __config__=ConfigDict(extra="forbid"),
        name=(str, Field(description="Scenario name (used for the result folder).")),
        description=(str, Field("", description="What the scenario is about.")),
        settings=(Settings, Field(default_factory=Settings)),
        tables=(tables, ...),
    )


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema printed by ``channel-opt schema`` (strict JSON: an infinite
    default, "no limit", is given as null).
    """
    return _finite(scenario_file_model().model_json_schema())


def _finite(o: Any) -> Any:
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_finite(v) for v in o]
    if isinstance(o, float) and o != o or o in (float("inf"), float("-inf")):
        return None
    return o
