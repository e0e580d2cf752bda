"""One settings object for every process (API, workers, beat, CLI, MCP server).

Everything is read from the environment with the ``AGENTLOAD_`` prefix so that the
same image runs in development, CI and production; only the defaults differ.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_API_TOKEN = "dev-token-change-me"
DEFAULT_FLOWER_PASSWORD = "flower-change-me"
REPO_ROOT = Path(__file__).resolve().parent.parent

Strategy = Literal["selective", "full", "cached"]


class Settings(BaseSettings):
    """Runtime configuration. A validator refuses development secrets in production."""

    model_config = SettingsConfigDict(env_prefix="AGENTLOAD_", env_file=None, extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    redis_url: str = "redis://127.0.0.1:6379/0"
    database_url: str = Field(default_factory=lambda: f"sqlite:///{Path.cwd() / 'agentload.db'}")
    catalog_path: Path = REPO_ROOT / "data" / "bmad-method-v6"
    # projects whose BMad files (status files, finished work) the API and MCP server may read
    # (``project_path``; JSON list in the environment), and the one read for calls naming none
    # (``agentload serve --project`` sets both); empty: project files are never read
    project_roots: list[Path] = Field(default_factory=list)
    default_project: Path | None = None
    api_token: str = DEFAULT_API_TOKEN
    flower_password: str = DEFAULT_FLOWER_PASSWORD
    strategy: Strategy = "selective"

    # background work
    refresh_interval_s: float = 30.0
    stats_flush_interval_s: float = 15.0
    metrics_flush_interval_s: float = 10.0
    refresh_debounce_s: float = 2.0
    refresh_lock_timeout_s: float = 60.0
    version_ttl_s: int = 3600
    task_soft_time_limit_s: int = 300
    task_time_limit_s: int = 360
    long_task_soft_time_limit_s: int = 1800
    long_task_time_limit_s: int = 1900
    # the metrics flushes (queue ``metrics``): short, so a hung database frees the worker soon
    metrics_task_soft_time_limit_s: int = 30
    metrics_task_time_limit_s: int = 45
    # resident memory (MiB) a worker pool process may reach; past it the process is replaced
    # once its task ends (Celery's worker_max_memory_per_child). A refresh of 10,000 agents
    # peaks near 0.7 GB; the parse cache and the last build a process keeps go with it
    worker_max_memory_mb: int = Field(default=2048, ge=64)
    # margin between the longest hard time limit and Redis' redelivery of unacked messages
    # (visibility timeout = longest hard limit + this): lower it to redeliver lost work sooner
    visibility_margin_s: int = Field(default=300, ge=1)

    # selection
    manifest_max_tokens: int = 30  # one manifest line (an agent or skill) at most
    # the manifest of a selective answer never exceeds this (cl100k tokens): a catalog whose
    # whole manifest fits gets every other agent and skill listed (all the bundled BMad trees:
    # 220-1,356 tokens); a larger one gets the `manifest_candidates` most relevant lines, one
    # summary line per module and a pointer to search_catalog, whatever the catalog's size
    manifest_budget_tokens: int = Field(default=1500, ge=200, le=100_000)
    manifest_candidates: int = Field(default=10, ge=0, le=500)
    # in such a large catalog, the agents one selective answer loads in full at most: a context
    # matching dozens of path files or menus (no track named) loads these, the others lead the
    # manifest; catalogs whose whole manifest fits load whatever matches (up to 5 in the trees)
    max_selected_agents: int = Field(default=3, ge=1, le=1000)
    text_close_ratio: float = 0.72
    # of the agents within text_close_ratio of the best, those loaded beside it: within this
    # ratio (a near tie), or ranked first by one signal alone (BM25, similarity); <= text_close_ratio: all
    text_tie_ratio: float = Field(default=0.85, ge=0.0, le=1.0)
    text_min_score: float = 1.0
    text_max_agents: int = 3
    # weight of sentence-embedding similarity fused with BM25 (0 turns it off; see selection/semantic.py)
    semantic_weight: float = Field(default=0.25, ge=0.0, le=2.0)
    # workers keep catalog passage vectors on disk so a fresh process does not embed the catalog
    # again (agentload/jobs/vectors.py): folder ("" = $XDG_CACHE_HOME/agentload/embeddings) and
    # size in MiB (0 turns the cache off; one vector is 1.5 KiB)
    embedding_cache_dir: str = ""
    embedding_cache_mb: int = Field(default=256, ge=0, le=100_000)
    level_tracks: dict[int, str] = Field(
        default_factory=lambda: {
            0: "quick-flow",
            1: "quick-flow",
            2: "bmad-method",
            3: "bmad-method",
            4: "enterprise-bmad-method",
        }
    )
    orchestrator_agent: str | None = None

    # limits on input
    max_request_chars: int = 4000
    max_history_len: int = 200
    max_page_size: int = 500
    max_body_bytes: int = 65536
    max_wait_ms: int = 5000
    # bounds on uncached requests (each costs a worker computation and a stored selection):
    # per client per minute (429 past it), and distinct ones in flight at once (503 past it)
    miss_rate_per_client: int = Field(default=120, ge=1)
    max_pending_misses: int = Field(default=2000, ge=1)
    text_selection_ttl_s: int = Field(default=900, ge=60)  # how long a computed free-text selection stays
    # users' free-text requests stay out of task messages (Flower, task events, the result
    # backend's stored arguments): the API and MCP server keep the text in Redis for
    # text_selection_ttl_s under a random key and pass the task that key (agentload/api/redact.py)
    redact_request_text: bool = True
    catalog_max_file_bytes: int = 1_000_000

    # the API's listener (agentload.api.serve): a connection that sends no request for this
    # long is closed (idle keep-alive and never-used connections alike); past the concurrency
    # limit (requests in flight per process, agentload.api.admission) new requests get 503
    # "overloaded" at once instead of queueing without bound
    api_idle_timeout_s: float = Field(default=5.0, gt=0)
    # the MCP server over HTTP: when set, every request needs ``Authorization: Bearer <token>``
    mcp_token: str | None = None
    api_limit_concurrency: int = Field(default=1000, ge=1)
    # cached selection GETs answered before FastAPI's router over one pipelined Redis connection
    # (``api.hotpath``); off: every request takes the route (same answers, about 3x the CPU)
    hot_path: bool = True
    # API processes of ``python -m agentload.api.serve`` (uvicorn workers, one event loop each):
    # one per core the API may use; compose and the image run 2
    api_workers: int = Field(default=1, ge=1)

    # load tests
    loadtest_max_users: int = 500
    loadtest_max_rate: float = 5000.0
    loadtest_max_duration_s: float = 600.0
    api_base_url: str = "http://127.0.0.1:8000"

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.env == "production":
            if self.api_token == DEFAULT_API_TOKEN or len(self.api_token) < 16:
                raise ValueError(
                    "AGENTLOAD_API_TOKEN must be set to a secret of 16+ characters in production"
                )
            if self.flower_password == DEFAULT_FLOWER_PASSWORD:
                raise ValueError("AGENTLOAD_FLOWER_PASSWORD must be changed in production")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings()
