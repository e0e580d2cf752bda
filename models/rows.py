"""Validation and normalisation of JSON-safe metric rows before a batched insert.

Rows arrive from Celery messages and the API as plain dicts (strings, numbers, lists), never
as ORM objects. Each table has a *spec*: the keys it accepts, how each value is coerced and
its default. Checking here turns a typo'd key or a bad category into a ``ValueError`` naming
the row, instead of an ``IntegrityError`` (or silently dropped data) deep inside a batch, and
gives every row the full key set that a single ``executemany`` needs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from models.base import CACHE_TYPES, METRIC_CATEGORIES
from models.types import utcnow

Converter = Callable[[Any], Any]
REQUIRED: Final = object()
#: keys naming a user/project by external id; the repository turns them into ``*_id`` keys
IDENTITY_KEYS: Final[frozenset[str]] = frozenset({"user", "project"})


def to_datetime(value: Any) -> datetime:
    """``datetime`` or ISO-8601 string -> aware UTC ``datetime`` (naive means UTC)."""
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(parsed, datetime):
        raise TypeError(f"expected datetime or ISO string, got {type(value).__name__}")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def to_uuid(value: Any) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(str(value))


def _opt(convert: Converter) -> Converter:
    return lambda value: None if value is None else convert(value)


def _str_list(value: Any) -> list[str]:
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple | set | frozenset):
        raise TypeError(f"expected a list of strings, got {type(value).__name__}")
    return [str(item) for item in value]


def _json_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a JSON object, got {type(value).__name__}")
    return dict(value)


def _one_of(values: tuple[str, ...]) -> Converter:
    def check(value: Any) -> str:
        if value not in values:
            raise ValueError(f"{value!r} is not one of {', '.join(values)}")
        return str(value)

    return check


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


Spec = dict[str, tuple[Converter, Any]]

_COMMON: Spec = {"recorded_at": (to_datetime, utcnow)}
_IDENTITY: Spec = {"user_id": (to_uuid, None), "project_id": (to_uuid, None)}

TOKEN_OPTIMIZATION: Spec = {
    **_COMMON,
    **_IDENTITY,
    "strategy": (str, REQUIRED),
    "context_hash": (_opt(str), None),
    "baseline_tokens": (int, REQUIRED),
    "optimized_tokens": (int, REQUIRED),
    "reduction": (_opt(float), None),  # computed when absent
    "agents": (_str_list, list),
    "optimization_version": (_opt(int), None),
}

AGENT_LOADING: Spec = {
    **_COMMON,
    **_IDENTITY,
    "context_hash": (_opt(str), None),
    "strategy": (str, REQUIRED),
    "agents_loaded": (_str_list, list),
    "agents_count": (_opt(int), None),  # len(agents_loaded) when absent
    "loaded_tokens": (int, 0),
    "manifest_tokens": (int, 0),
    "baseline_tokens": (int, 0),
    "latency_ms": (_opt(float), None),
    "cache_hit": (_bool, False),
    "source": (str, "api"),
}

CACHE_PERFORMANCE: Spec = {
    **_COMMON,
    "cache_type": (_one_of(CACHE_TYPES), REQUIRED),
    "hits": (int, 0),
    "misses": (int, 0),
    "refreshes": (int, 0),
    "evictions": (int, 0),
    "size_keys": (int, 0),
    "memory_bytes": (int, 0),
    "avg_time_ms": (_opt(float), None),
    "hit_rate": (_opt(float), None),  # hits / (hits + misses) when absent
}

PERFORMANCE_METRIC: Spec = {
    **_COMMON,
    "category": (_one_of(METRIC_CATEGORIES), REQUIRED),
    "metric_name": (str, REQUIRED),
    "metric_value": (float, REQUIRED),
    "unit": (_opt(str), None),
    "labels": (_opt(_json_object), dict),
    "strategy": (_opt(str), None),
    "benchmark_id": (to_uuid, None),
}


def normalize(row: Mapping[str, Any], spec: Spec, *, index: int, table: str) -> dict[str, Any]:
    """One row -> a dict with exactly the spec's keys (plus any identity keys), coerced."""
    if not isinstance(row, Mapping):
        raise TypeError(f"{table} row {index}: expected a dict, got {type(row).__name__}")
    identity_keys = IDENTITY_KEYS if "user_id" in spec else frozenset()
    unknown = set(row) - set(spec) - identity_keys
    if unknown:
        raise ValueError(f"{table} row {index}: unknown keys {sorted(unknown)}; allowed: {sorted(spec)}")
    out: dict[str, Any] = {}
    for key, (convert, default) in spec.items():
        value = row.get(key)
        if value is None:
            if default is REQUIRED:
                raise ValueError(f"{table} row {index}: {key!r} is required")
            out[key] = default() if callable(default) else default
            continue
        try:
            out[key] = convert(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{table} row {index}: bad {key!r}: {exc}") from exc
    for key in identity_keys & set(row):
        out[key] = row[key]
    return out


def fill_token_optimization(row: dict[str, Any]) -> dict[str, Any]:
    if row["reduction"] is None:
        baseline = row["baseline_tokens"]
        row["reduction"] = 1.0 - row["optimized_tokens"] / baseline if baseline > 0 else 0.0
    return row


def fill_agent_loading(row: dict[str, Any]) -> dict[str, Any]:
    if row["agents_count"] is None:
        row["agents_count"] = len(row["agents_loaded"])
    return row


def fill_cache_performance(row: dict[str, Any]) -> dict[str, Any]:
    if row["hit_rate"] is None:
        lookups = row["hits"] + row["misses"]
        row["hit_rate"] = row["hits"] / lookups if lookups else 0.0
    return row
