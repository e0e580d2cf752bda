"""Portable column types: native PostgreSQL types in production, plain ones on SQLite.

Production runs on PostgreSQL 15, where UUID, JSONB and TEXT[] are indexable, compact and
queryable. Development, unit tests and single-user installs run on a SQLite file. Each type
here is a ``TypeDecorator`` whose ``load_dialect_impl`` picks the native type on PostgreSQL
and a portable one elsewhere, and whose bind/result processing makes Python code see the same
values (``dict``/``list``, ``list[str]``, aware UTC ``datetime``) on both. UUID keys need no
type here: SQLAlchemy's own ``Uuid`` is ``UUID`` on PostgreSQL and 32 hex characters elsewhere.

The Alembic migrations spell the same storage with plain ``with_variant`` types instead of
importing this module, so that old migrations never change when application code does; the
metadata/migration comparison test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Text
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeDecorator, TypeEngine

JsonValue = dict[str, Any] | list[Any] | str | int | float | bool | None


def utcnow() -> datetime:
    """Aware UTC now; the one clock every default uses."""
    return datetime.now(UTC)


def as_utc(value: datetime | str) -> datetime:
    """``datetime`` or ISO-8601 string -> aware UTC ``datetime`` (naive means UTC already).

    Raises ``ValueError`` for a string that is not ISO-8601, ``TypeError`` for other types.
    """
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(parsed, datetime):
        raise TypeError(f"expected a datetime or ISO string, got {type(value).__name__}")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class JSONDocument(TypeDecorator[Any]):
    """Free-form JSON (labels, parameters, results): ``JSONB`` on PostgreSQL, ``JSON`` elsewhere.

    Python ``None`` is stored as SQL NULL (not the JSON literal ``null``) so that
    ``IS NULL`` filters behave the same on both dialects. Values are replaced, never mutated
    in place: the ORM does not track changes inside a dict.
    """

    impl = JSON(none_as_null=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.JSONB(none_as_null=True))
        return dialect.type_descriptor(JSON(none_as_null=True))


class TextArray(TypeDecorator[list[str]]):
    """A list of short strings (agent ids): ``TEXT[]`` on PostgreSQL, a JSON list elsewhere.

    ``TEXT[]`` lets PostgreSQL answer "which loads included agent X" with ``ANY``/GIN
    indexes; SQLite has no arrays, so the list is JSON-encoded there.
    """

    impl = JSON(none_as_null=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.ARRAY(Text()))
        return dialect.type_descriptor(JSON(none_as_null=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> list[str] | None:
        if value is None:
            return None
        if isinstance(value, str | bytes) or not isinstance(value, Sequence | set | frozenset):
            raise TypeError(f"expected a list of strings, got {type(value).__name__}")
        return [str(item) for item in value]

    def process_result_value(self, value: Any, dialect: Dialect) -> list[str] | None:
        if value is None:
            return None
        return [str(item) for item in value]


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps that are always aware UTC in Python.

    PostgreSQL stores ``TIMESTAMP WITH TIME ZONE``; SQLite has no time zones, so values are
    stored as naive UTC text and given ``tzinfo=UTC`` again when read. Naive inputs are taken
    to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        aware = as_utc(value)
        return aware if dialect.name == "postgresql" else aware.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return as_utc(value if isinstance(value, datetime) else str(value))
