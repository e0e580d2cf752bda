"""Declarative base, naming convention and the closed vocabularies of the schema.

Constraint and index names come from one naming convention so that the hand-written
migration, the ORM metadata and the live database agree on every name (Alembic compares
indexes by name, and ``DROP CONSTRAINT`` needs one). The vocabularies live here, next to the
CHECK constraints built from them, so the repository validates against the same lists the
database enforces.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import CheckConstraint, MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION: Final[dict[str, str]] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

METRIC_CATEGORIES: Final[tuple[str, ...]] = ("baseline", "optimization", "benchmark", "live")
BENCHMARK_KINDS: Final[tuple[str, ...]] = ("benchmark", "load_test", "stress", "scalability", "optimize")
BENCHMARK_STATUSES: Final[tuple[str, ...]] = ("running", "complete", "incomplete", "failed")
TERMINAL_STATUSES: Final[frozenset[str]] = frozenset({"complete", "incomplete", "failed"})
CACHE_TYPES: Final[tuple[str, ...]] = ("agent_definitions", "user_context", "workflow_state", "selections")


class Base(DeclarativeBase):
    """Root of every mapped class; its ``metadata`` is Alembic's ``target_metadata``."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def one_of(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    """``CHECK (column IN (...))`` named ``ck_<table>_<name>`` by the convention."""
    quoted = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=name)
