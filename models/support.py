"""Small shared helpers for the repository modules: URL-or-session calls and JSON output.

``accepts_url`` is what lets a Celery task write ``insert_cache_performance(url, rows)`` in
one line while the API, which already holds a session, passes that session instead.
``to_json`` is the single place ORM rows become primitives, so no ORM object (or UUID or
datetime) ever leaks into a Celery result or an HTTP response.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.orm import Session

from models.base import Base
from models.session import session_scope

P = ParamSpec("P")
R = TypeVar("R")
MAX_LIMIT = 1000


def accepts_url(fn: Callable[Concatenate[Session, P], R]) -> Callable[Concatenate[Session | str, P], R]:
    """Let ``fn`` take a URL instead of a session, running it in its own ``session_scope``."""

    @functools.wraps(fn)
    def wrapper(session: Session | str, /, *args: P.args, **kwargs: P.kwargs) -> R:
        if isinstance(session, str):
            with session_scope(session) as scoped:
                return fn(scoped, *args, **kwargs)
        return fn(session, *args, **kwargs)

    return wrapper


def to_json(obj: Base) -> dict[str, Any]:
    """Column values of a mapped row as JSON-safe primitives (UUID -> str, datetime -> ISO)."""
    out: dict[str, Any] = {}
    for column in obj.__table__.columns:
        value = getattr(obj, column.key)
        if isinstance(value, uuid.UUID):
            value = str(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        out[column.key] = value
    return out


def clamp_limit(limit: int) -> int:
    """Page sizes between 1 and ``MAX_LIMIT``: a caller typo must not read a whole table."""
    return max(1, min(int(limit), MAX_LIMIT))
