"""Database layer: SQLAlchemy 2 ORM, engines/sessions, Alembic migrations and repository helpers.

Importing the package registers every table on ``Base.metadata`` (Alembic's target), so
anything that needs the full schema only has to ``import models``. Nothing here imports
Celery, Redis or FastAPI; callers pass a database URL or a ``Session``.
"""

from models.base import Base
from models.benchmarks import PerformanceBenchmark
from models.identity import Project, User
from models.metrics import AgentLoadingMetric, CachePerformance, FlushedBatch, PerformanceMetric, TokenOptimization
from models.session import dispose_engines, get_engine, normalize_url, session_scope

__all__ = [
    "AgentLoadingMetric",
    "Base",
    "CachePerformance",
    "FlushedBatch",
    "PerformanceBenchmark",
    "PerformanceMetric",
    "Project",
    "TokenOptimization",
    "User",
    "dispose_engines",
    "get_engine",
    "normalize_url",
    "session_scope",
]
