"""Validation and normalisation of JSON-safe metric rows before a batched insert.

Rows arrive from Celery messages and the API as plain dicts (strings, numbers, lists), never
as ORM objects. Each table has a pydantic model of the row it accepts: the keys, their types
and defaults, and the values derived when absent. Validating here turns a typo'd key or a bad
category into a ``ValueError`` naming the table, the row and the field, instead of an
``IntegrityError`` (or silently dropped data) deep inside a batch, and gives every row the full
key set that a single ``executemany`` needs.

A key whose value is ``None`` counts as absent (its default applies), as it does for the
nullable columns the rows become.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from models.base import CACHE_TYPES, METRIC_CATEGORIES
from models.types import as_utc, utcnow

Row = TypeVar("Row", bound="MetricRow")


def _one_of(values: tuple[str, ...]) -> Callable[[str], str]:
    """A check that a value is in ``values`` (the vocabularies the CHECK constraints use)."""

    def check(value: str) -> str:
        if value not in values:
            raise ValueError(f"{value!r} is not one of {', '.join(values)}")
        return value

    return check


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]
_UUID: TypeAdapter[uuid.UUID] = TypeAdapter(uuid.UUID)


def to_uuid(value: str | uuid.UUID) -> uuid.UUID:
    """A ``uuid.UUID`` from itself or its string form; ``ValueError`` for anything else."""
    return _UUID.validate_python(value)


class MetricRow(BaseModel):
    """Fields every metric table has; subclasses name their ``table``."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)
    table: ClassVar[str]

    recorded_at: UtcDatetime = Field(default_factory=utcnow)

    @model_validator(mode="before")
    @classmethod
    def _none_is_absent(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {key: value for key, value in data.items() if value is not None}
        return data


class IdentifiedRow(MetricRow):
    """Rows that may point at a user and a project: by internal id (``user_id``) or by external
    id (``user``), which the repository resolves (creating the user) and drops before insert."""

    user_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    user: str | None = None
    project: str | None = None


class TokenOptimizationRow(IdentifiedRow):
    """``token_optimization``: ``reduction`` is ``1 - optimized/baseline`` when absent (0 for a
    zero baseline)."""

    table: ClassVar[str] = "token_optimization"

    strategy: str
    context_hash: str | None = None
    baseline_tokens: int
    optimized_tokens: int
    reduction: float | None = None
    agents: list[str] = Field(default_factory=list)
    optimization_version: int | None = None

    @model_validator(mode="after")
    def _derive(self) -> TokenOptimizationRow:
        if self.reduction is None:
            base = self.baseline_tokens
            self.reduction = 1.0 - self.optimized_tokens / base if base > 0 else 0.0
        return self


class AgentLoadingRow(IdentifiedRow):
    """``agent_loading_metrics``: ``agents_count`` is ``len(agents_loaded)`` when absent."""

    table: ClassVar[str] = "agent_loading_metrics"

    context_hash: str | None = None
    strategy: str
    agents_loaded: list[str] = Field(default_factory=list)
    agents_count: int | None = None
    loaded_tokens: int = 0
    manifest_tokens: int = 0
    baseline_tokens: int = 0
    latency_ms: float | None = None
    cache_hit: bool = False
    source: str = "api"

    @model_validator(mode="after")
    def _derive(self) -> AgentLoadingRow:
        if self.agents_count is None:
            self.agents_count = len(self.agents_loaded)
        return self


class CachePerformanceRow(MetricRow):
    """``cache_performance``: ``hit_rate`` is ``hits / (hits + misses)`` when absent (0 without
    lookups); counters are deltas since the previous flush, sizes in keys and bytes."""

    table: ClassVar[str] = "cache_performance"

    cache_type: Annotated[str, AfterValidator(_one_of(CACHE_TYPES))]
    hits: int = 0
    misses: int = 0
    refreshes: int = 0
    evictions: int = 0
    size_keys: int = 0
    memory_bytes: int = 0
    avg_time_ms: float | None = None
    hit_rate: float | None = None

    @model_validator(mode="after")
    def _derive(self) -> CachePerformanceRow:
        if self.hit_rate is None:
            lookups = self.hits + self.misses
            self.hit_rate = self.hits / lookups if lookups else 0.0
        return self


class PerformanceMetricRow(MetricRow):
    """``performance_metrics``: one named measurement in a category (``labels`` a JSON object)."""

    table: ClassVar[str] = "performance_metrics"

    category: Annotated[str, AfterValidator(_one_of(METRIC_CATEGORIES))]
    metric_name: str
    metric_value: float
    unit: str | None = None
    labels: dict[str, Any] = Field(default_factory=dict)
    strategy: str | None = None
    benchmark_id: uuid.UUID | None = None


def _problems(exc: ValidationError, model: type[MetricRow]) -> str:
    """Pydantic's errors in the words this module has always used: unknown keys (with the
    allowed ones), a required key, or a bad value and why."""
    unknown = sorted(str(e["loc"][0]) for e in exc.errors() if e["type"] == "extra_forbidden")
    said = [f"unknown keys {unknown}; allowed: {sorted(model.model_fields)}"] if unknown else []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        if error["type"] == "missing":
            said.append(f"{field!r} is required")
        elif error["type"] != "extra_forbidden":
            said.append(f"bad {field!r}: {error['msg']}" if field else error["msg"])
    return "; ".join(said)


def validate_row(model: type[Row], row: Mapping[str, Any], *, index: int = 0) -> Row:
    """One row as ``model``; ``TypeError`` for a row that is not a dict, ``ValueError``
    (``"<table> row <index>: ..."``, every problem named) for one that does not fit."""
    if not isinstance(row, Mapping):
        raise TypeError(f"{model.table} row {index}: expected a dict, got {type(row).__name__}")
    try:
        return model.model_validate(row)
    except ValidationError as exc:
        raise ValueError(f"{model.table} row {index}: {_problems(exc, model)}") from exc


def normalize(model: type[MetricRow], rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` validated as ``model`` and dumped with every column key (identity keys only
    where given), ready for one ``executemany``; raises as ``validate_row``."""
    if isinstance(rows, Mapping):
        raise TypeError(f"{model.table}: pass a list of row dicts, not a single dict")
    out = []
    for index, row in enumerate(rows):
        valid = validate_row(model, row, index=index)
        out.append(valid.model_dump(exclude={"user", "project"} - valid.model_fields_set))
    return out
