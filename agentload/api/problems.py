"""Framework-free failure types and messages shared by the HTTP API and the MCP server."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

SHOWN_CHARS = 80


def shown(value: str) -> str:
    """A client's value quoted in an error message, cut to ``SHOWN_CHARS`` (a 1 MB id must
    not come back as a 1 MB error)."""
    return repr(value if len(value) <= SHOWN_CHARS else value[:SHOWN_CHARS] + f"... ({len(value)} chars)")


_ABSOLUTE_PATH = re.compile(r"(?<![\w.])/(?:[^\s:'\"/]+/)*[^\s:'\",;)]+")


def without_paths(text: str) -> str:
    """``text`` with absolute filesystem paths replaced by ``<path>``: answers to anonymous
    clients say what is wrong, not where the server keeps its files (the log has them)."""
    return _ABSOLUTE_PATH.sub("<path>", text)


def database_failure(exc: BaseException) -> str:
    """What a client may know about a database failure: its kind (the message, which names
    hosts, ports or files, goes to the server's log)."""
    return type(exc).__name__


def redis_failure(exc: BaseException) -> str:
    """What a client may know about a Redis failure: its kind, never the server's address
    (hosts, ports and paths go to the server's log)."""
    if isinstance(exc, TimeoutError) or type(exc).__name__ == "TimeoutError":
        return "timed out"
    if "max number of clients" in str(exc):
        return "too many connections"
    if is_overload(exc):
        return "overloaded"
    return "connection failed"


OVERLOADED = "overloaded: this API process has more work than it can serve in time; retry shortly"


def is_overload(exc: BaseException) -> bool:
    """This process's Redis pool had no free connection within its timeout: too much load
    for this process, not a Redis outage (redis-py's BlockingConnectionPool message)."""
    return "No connection available" in str(exc)


class TooManyMisses(Exception):
    """A client sent more uncached requests than allowed (429), or too many distinct ones
    are being computed at once (503); ``retry_after`` in seconds."""

    def __init__(self, message: str, status: int, retry_after: int) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class NotReady(Exception):
    """Redis answers but has nothing to serve yet (no catalog version published): 503."""


def _field(loc: Sequence[Any]) -> str:
    """``query.phase``, ``context.phase`` (body fields without the ``body`` prefix), or ``body``
    for an unparseable body (pydantic locates JSON errors by character offset)."""
    parts = [str(p) for p in loc[1:]] if loc and loc[0] == "body" else [str(p) for p in loc]
    if not parts or all(p.isdigit() for p in parts):
        return "body" if loc and loc[0] == "body" else "request"
    return ".".join(parts)


def describe(errors: Sequence[Any]) -> tuple[str, list[dict[str, str]]]:
    """(one-line message naming each bad field, structured list) from pydantic errors."""
    items = [{"field": _field(e.get("loc", ())), "message": str(e.get("msg", "")), "type": str(e.get("type", ""))}
             for e in errors]
    return "; ".join(f"{i['field']}: {i['message']}" for i in items) or "invalid request", items
