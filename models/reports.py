"""Read-side reports: token savings summaries and the newest metric rows.

Split from ``models.repository`` (which re-exports everything here) because these are the
queries the API's history endpoints and the reports use; they only read, and return
JSON-safe dicts newest first. The per-day grouping is the one dialect-specific piece.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal_column, or_, select
from sqlalchemy.orm import Session

from models.identity import Project, User
from models.metrics import AgentLoadingMetric, CachePerformance, PerformanceMetric, TokenOptimization
from models.support import accepts_url, clamp_limit, to_json
from models.types import as_utc

GROUP_BY = ("strategy", "user", "project", "day")


def _day(session: Session, column: Any) -> ColumnElement[Any]:
    """``YYYY-MM-DD`` (UTC) of a timestamp column, spelled per dialect."""
    # Literal SQL, not bound parameters: with server-side binding (psycopg 3) the SELECT and
    # GROUP BY copies of a parametrised expression would not be recognised as the same.
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone(literal_column("'UTC'"), column), literal_column("'YYYY-MM-DD'"))
    return func.strftime(literal_column("'%Y-%m-%d'"), column)  # SQLite stores naive UTC text


@accepts_url
def token_usage_summary(
    session: Session, group_by: str = "strategy", limit: int = 100, since: datetime | str | None = None
) -> list[dict[str, Any]]:
    """Token totals per strategy/user/project/day: sums, mean and overall reduction, count.

    ``key`` is the strategy, the user's or project's external id (``None`` = anonymous), or
    the UTC day. Days come newest first; other groupings by baseline tokens, largest first.
    """
    if group_by not in GROUP_BY:
        raise ValueError(f"group_by must be one of {', '.join(GROUP_BY)}")
    t = TokenOptimization
    key: Any = {
        "strategy": t.strategy,
        "user": User.external_id,
        "project": Project.external_id,
        "day": _day(session, t.recorded_at),
    }[group_by]
    baseline = func.coalesce(func.sum(t.baseline_tokens), 0).label("baseline")
    stmt: Select[Any] = select(
        key.label("group_key"),
        func.count().label("n"),
        baseline,
        func.coalesce(func.sum(t.optimized_tokens), 0).label("optimized"),
        func.avg(t.reduction).label("mean"),
    ).select_from(t)
    if group_by == "user":
        stmt = stmt.outerjoin(User, t.user_id == User.id)
    elif group_by == "project":
        stmt = stmt.outerjoin(Project, t.project_id == Project.id)
    if since is not None:
        stmt = stmt.where(t.recorded_at >= as_utc(since))
    order = [key.desc()] if group_by == "day" else [baseline.desc(), key]
    stmt = stmt.group_by(key).order_by(*order).limit(clamp_limit(limit))
    out = []
    for row in session.execute(stmt).mappings():
        base, optimized = int(row["baseline"]), int(row["optimized"])
        out.append(
            {
                "group_by": group_by,
                "key": row["group_key"],
                "count": int(row["n"]),
                "baseline_tokens": base,
                "optimized_tokens": optimized,
                "saved_tokens": base - optimized,
                "mean_reduction": float(row["mean"] or 0.0),
                "overall_reduction": 1.0 - optimized / base if base > 0 else 0.0,
            }
        )
    return out


@accepts_url
def recent_performance_metrics(
    session: Session, category: str | None = None, limit: int = 100, metric_name: str | None = None
) -> list[dict[str, Any]]:
    """Newest measurements first, optionally filtered by category and/or name."""
    stmt = select(PerformanceMetric)
    if category is not None:
        stmt = stmt.where(PerformanceMetric.category == category)
    if metric_name is not None:
        stmt = stmt.where(PerformanceMetric.metric_name == metric_name)
    stmt = stmt.order_by(PerformanceMetric.recorded_at.desc(), PerformanceMetric.id.desc())
    return [to_json(m) for m in session.scalars(stmt.limit(clamp_limit(limit)))]


@accepts_url
def recent_cache_performance(session: Session, limit: int = 100, cache_type: str | None = None) -> list[dict[str, Any]]:
    """Newest cache snapshots first, optionally for one cache type."""
    stmt = select(CachePerformance)
    if cache_type is not None:
        stmt = stmt.where(CachePerformance.cache_type == cache_type)
    stmt = stmt.order_by(CachePerformance.recorded_at.desc(), CachePerformance.id.desc())
    return [to_json(c) for c in session.scalars(stmt.limit(clamp_limit(limit)))]


@accepts_url
def recent_agent_loading_metrics(session: Session, limit: int = 100, user: str | None = None) -> list[dict[str, Any]]:
    """Newest loading decisions first, optionally for one user (by external id)."""
    stmt = select(AgentLoadingMetric)
    if user is not None:
        stmt = stmt.join(User, AgentLoadingMetric.user_id == User.id).where(User.external_id == user)
    stmt = stmt.order_by(AgentLoadingMetric.recorded_at.desc(), AgentLoadingMetric.id.desc())
    return [to_json(a) for a in session.scalars(stmt.limit(clamp_limit(limit)))]


@accepts_url
def recent_token_optimization(session: Session, limit: int = 100, context_prefix: str | None = None,
                              exclude_prefixes: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Newest savings rows first, optionally those whose ``context_hash`` starts with a prefix
    (``journey:`` for the journey accounting), or without those starting with any of
    ``exclude_prefixes`` (served selections only: no ``journey:`` or ``benchmark:`` rows)."""
    stmt = select(TokenOptimization)
    if context_prefix is not None:
        stmt = stmt.where(TokenOptimization.context_hash.startswith(context_prefix, autoescape=True))
    for prefix in exclude_prefixes:
        stmt = stmt.where(or_(TokenOptimization.context_hash.is_(None),
                              ~TokenOptimization.context_hash.startswith(prefix, autoescape=True)))
    stmt = stmt.order_by(TokenOptimization.recorded_at.desc(), TokenOptimization.id.desc())
    return [to_json(t) for t in session.scalars(stmt.limit(clamp_limit(limit)))]
