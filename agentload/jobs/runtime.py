"""Per-process worker resources: the Redis client, the worker state, the current selector.

Celery's prefork pool forks after import; nothing here connects at import time (redis-py's
pool also resets itself in a forked child), so every worker process gets its own
connections and its own state.
"""

from __future__ import annotations

import threading
from pathlib import Path

import redis

from agentload import keys
from agentload.catalog import load_catalog
from agentload.jobs import vectors
from agentload.publish import fingerprints as fp
from agentload.publish.digests import fingerprint_digest
from agentload.publish.refresh import refresh_catalog
from agentload.publish.state import WorkerState, selection_config
from agentload.reader.codec import loads, text
from agentload.selection.engine import Selector
from agentload.settings import Settings

STATE = WorkerState()
_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


class StaleCatalog(RuntimeError):
    """The files on disk do not match the live version and it cannot be republished now."""


def redis_client(settings: Settings) -> redis.Redis:
    """One client (connection pool) per Redis URL per process."""
    with _clients_lock:
        client = _clients.get(settings.redis_url)
        if client is None:
            client = redis.Redis.from_url(settings.redis_url)
            _clients[settings.redis_url] = client
        return client


def _matching_selector(r: redis.Redis, settings: Settings, state: WorkerState, version: str) -> Selector | None:
    """A selector built from disk, if the disk holds exactly the content of ``version``."""
    meta = loads(r.get(keys.meta_key(version))) or {}
    root = Path(settings.catalog_path)
    stored = {text(k) or "": text(v) or "" for k, v in r.hgetall(keys.FINGERPRINTS).items()}
    catalog = load_catalog(root, cache=state.parse_cache(str(root)),
                           max_file_bytes=settings.catalog_max_file_bytes)
    config = selection_config(settings)
    digest = fingerprint_digest(fp.for_catalog(root, catalog, fp.scan(root, stored)), config)
    if meta.get("digest") != digest:
        return None
    selector = Selector(catalog, config)
    state.remember(version, selector)
    return selector


def selector_for_current(r: redis.Redis, settings: Settings, state: WorkerState) -> tuple[str, Selector]:
    """(current version, a selector for exactly that version), building one when needed.

    A worker's selector must produce what the live version would: when the disk moved on
    since the version was published, the catalog is refreshed first; when that cannot be
    done now (another refresh holds the lock, or a broken file holds publication),
    ``StaleCatalog`` tells the job not to write results under the live version.
    """
    vectors.install(settings)
    version = text(r.get(keys.CURRENT_VERSION))
    if version is None:
        refresh_catalog(r, settings, state)
        version = text(r.get(keys.CURRENT_VERSION))
        if version is None:
            raise StaleCatalog("no catalog version is published yet (a preload is running)")
    with state.lock:
        selector = state.selectors.get(version) or _matching_selector(r, settings, state, version)
    if selector is not None:
        return version, selector
    result = refresh_catalog(r, settings, state)
    fresh = result.get("version") if result.get("published") else None
    if fresh is not None and fresh in state.selectors:
        return fresh, state.selectors[fresh]
    reason = result.get("skipped") or ("held by a catalog error" if result.get("held") else "unchanged")
    raise StaleCatalog(f"catalog files differ from published version {version} and were not republished"
                       f" ({reason})")
