"""Background refresh: publish a new catalog version only when the files really changed.

Steps, under a non-blocking Redis lock (a second refresh returns ``{"skipped": "locked"}``):
1. compare the files' fingerprints with ``keys.FINGERPRINTS`` and the selection config with
   the live version's (one ``stat`` per file when nothing changed, so a no-op refresh costs
   milliseconds and publishes nothing), and check that every key of the live version is still
   there (``integrity``): a version that lost keys to eviction is republished;
2. reload with the process's ``ParseCache`` (only changed files are parsed again);
3. refuse to publish a catalog that silently lost something: when a file that parsed in the
   live version now fails, the live version keeps being served, the error is recorded
   (``keys.ERRORS``, ``keys.LAST_REFRESH``) and fingerprints are left alone so the next
   refresh tries again and publishes once the file is good;
4. compute the selections, reusing the last build's where nothing they show changed
   (``agentload.publish.rebuild``), and publish them as they come (``agentload.publish.publish``).
``force=True`` is a full rebuild: every selection is selected again and every key republished,
regardless. "Full" is about what is published, not about re-reading YAML:
every file is hashed again (mtime and size are not trusted) and a parse is reused only for
identical bytes in an identical context, which is what parsing them again would produce;
workflows, whose parse also reads their instruction files, are always read again. The
fingerprints stored with a forced version are those fresh hashes.
"""

from __future__ import annotations

import gc
import logging
import time
from pathlib import Path
from typing import Any

import redis
from redis.exceptions import LockError, LockNotOwnedError
from redis.lock import Lock

from agentload import keys
from agentload.catalog import CatalogError, EmptyCatalog, discover, load_catalog, require_agents
from agentload.publish import fingerprints as fp
from agentload.publish.digests import config_digest, fingerprint_digest, hash_mapping
from agentload.publish.publish import publish_version
from agentload.publish.rebuild import Build
from agentload.publish.state import WorkerState, selection_config
from agentload.reader.codec import dumps, loads, text
from agentload.reader.integrity import eviction_warning, missing_keys
from agentload.selection.engine import Selector
from agentload.settings import Settings

logger = logging.getLogger(__name__)
_WARNED: set[str] = set()

ERRORS_CAP = 100  # entries kept in keys.ERRORS
CHANGED_SHOWN = 50  # changed file names reported in a result


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)


def record_errors(r: redis.Redis, errors: list[CatalogError], *, held: bool) -> None:
    """Append errors to the capped ``keys.ERRORS`` list (newest first)."""
    if not errors:
        return
    now = time.time()
    pipe = r.pipeline(transaction=True)
    for e in errors:
        pipe.lpush(keys.ERRORS, dumps({"path": e.path, "reason": e.reason, "at": now, "held": held}))
    pipe.ltrim(keys.ERRORS, 0, ERRORS_CAP - 1)
    pipe.execute()


def _new_errors(errors: list[CatalogError], before: list[dict[str, Any]]) -> list[CatalogError]:
    seen = {(e.get("path"), e.get("reason")) for e in before}
    return [e for e in errors if (e.path, e.reason) not in seen]


def _take_lock(r: redis.Redis, settings: Settings, owner: str | None) -> Lock | None:
    """The refresh lock, or None when another run holds it.

    ``owner`` is the Celery task id: a task redelivered after its worker died finds the lock
    of its own dead run (same id) and takes it over instead of reporting "locked" and never
    publishing.
    """
    lock: Lock = r.lock(keys.REFRESH_LOCK, timeout=settings.refresh_lock_timeout_s, blocking=False)
    if lock.acquire(token=owner):
        return lock
    if owner is not None and r.get(keys.REFRESH_LOCK) in (owner.encode(), owner):
        lock.local.token = owner.encode()
        try:
            lock.reacquire()  # resets the TTL; fails if the lock changed hands meanwhile
        except (LockNotOwnedError, LockError):
            return None
        logger.warning("taking over the refresh lock of an earlier run of task %s (redelivered)", owner)
        return lock
    return None


def refresh_catalog(r: redis.Redis, settings: Settings, state: WorkerState, *,
                    force: bool = False, owner: str | None = None) -> dict[str, Any]:
    """Publish a new version if the catalog changed (or ``force``); see the module doc."""
    started = time.perf_counter()
    lock = _take_lock(r, settings, owner)
    if lock is None:
        return {"skipped": "locked", "duration_ms": _ms(started)}
    collecting = gc.isenabled()
    # a refresh allocates hundreds of thousands of short-lived objects next to a long-lived
    # catalog of millions: the cyclic collector's full passes over that heap took a third of a
    # 10,000-agent refresh. Reference counting still frees everything acyclic meanwhile; the
    # collector runs again as soon as the refresh ends.
    gc.disable()
    try:
        result = _refresh_locked(r, settings, state, force=force, started=started)
    except Exception as exc:
        r.set(keys.LAST_REFRESH, dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}",
                                        "at": time.time(), "duration_ms": _ms(started)}))
        raise
    finally:
        if collecting:
            gc.enable()
        try:
            lock.release()
        except LockNotOwnedError:
            # the refresh outlived refresh_lock_timeout_s: another one may have started
            logger.warning("refresh lock expired before release; raise refresh_lock_timeout_s")
    result["duration_ms"] = _ms(started)
    r.set(keys.LAST_REFRESH, dumps({"ok": "refused" not in result, "at": time.time(), **result}))
    return result


def _refresh_locked(r: redis.Redis, settings: Settings, state: WorkerState, *,
                    force: bool, started: float) -> dict[str, Any]:
    root = Path(settings.catalog_path)
    config = selection_config(settings)
    current = text(r.get(keys.CURRENT_VERSION))
    meta = loads(r.get(keys.meta_key(current))) if current else None
    stored = {text(k) or "": text(v) or "" for k, v in r.hgetall(keys.FINGERPRINTS).items()}
    found = discover(root)
    scanned = fp.scan(root, stored, found)
    changed = fp.changed(scanned, stored)
    base: dict[str, Any] = {"force": force, "version": current, "scan_ms": _ms(started)}
    warning = eviction_warning(r)
    if warning:
        base["redis_warning"] = warning
        if warning not in _WARNED:  # once per process; every result and /readyz repeat it
            _WARNED.add(warning)
            logger.warning(warning)
    same_config = meta is not None and meta.get("config_digest") == config_digest(config)
    # a live version that lost keys is republished even when no file changed; when files did
    # change, the new version is written whole anyway (a shared value found gone is sent)
    # (its fingerprints lost with them count as a change, and are checked too)
    gaps = missing_keys(r, current) if current and not force and (not changed or not stored) else 0
    if gaps:  # evicted or deleted keys: the files did not change, the live version is not whole
        logger.warning("live catalog version %s misses %d keys; republishing it", current, gaps)
        base["repaired_missing_keys"] = gaps
    if not force and same_config and not changed and not gaps:
        if fp.touched(scanned, stored):  # mtimes moved, contents did not: remember the new stats
            r.hset(keys.FINGERPRINTS, mapping=hash_mapping(scanned))
        return {**base, "changed": False}
    loaded = time.perf_counter()
    cache = state.parse_cache(str(root))
    try:
        catalog = require_agents(load_catalog(root, cache=cache, max_file_bytes=settings.catalog_max_file_bytes,
                                              rehash=force, found=found, known=scanned))
    except (EmptyCatalog, FileNotFoundError, PermissionError) as exc:
        # never publish nothing: the live version (if any) keeps serving, readiness says why
        error = CatalogError(path=".", reason=f"{type(exc).__name__}: {exc}")
        record_errors(r, _new_errors([error], (loads(r.get(keys.LAST_REFRESH)) or {}).get("errors", [])),
                      held=True)
        return {**base, "changed": True, "published": False, "held": True, "refused": error.reason,
                "errors": [error.model_dump()]}
    known = scanned
    if force:  # the loader just hashed every file it read: record that, not the mtime-trusting scan
        known = {**scanned, **{f: e.fingerprint.as_str() for f, e in cache.entries.items()}}
    fingerprints = fp.for_catalog(root, catalog, known, found)
    digest = fingerprint_digest(fingerprints, config)
    base.update(changed_files=changed[:CHANGED_SHOWN], n_changed=len(changed),
                parsed=cache.parsed, reused_parses=cache.reused, load_ms=_ms(loaded))
    if not force and not gaps and meta is not None and meta.get("digest") == digest:
        # contents are back to what is live (an edit reverted): nothing to publish
        pipe = r.pipeline(transaction=True)
        pipe.delete(keys.FINGERPRINTS)
        pipe.hset(keys.FINGERPRINTS, mapping=hash_mapping(fingerprints))
        pipe.execute()
        return {**base, "changed": False, "same_digest": True}
    previous_files = set(meta.get("parsed_files", [])) if meta else set()
    regressions = [e for e in catalog.errors if e.path in previous_files]
    if not force:  # a file of the live version (its stored fingerprints) that vanished is a loss too:
        # half-done checkout, rsync --delete-before; removing one on purpose is a forced refresh
        failed = {e.path for e in regressions}
        regressions += [CatalogError(path=f, reason="file missing: it was part of the live version "
                                     "(a forced refresh publishes without it)")
                        for f in sorted(stored) if f not in failed and stored[f] != fp.MISSING
                        and scanned.get(f) == fp.MISSING]
    last = loads(r.get(keys.LAST_REFRESH)) or {}
    if regressions:
        record_errors(r, _new_errors(regressions, last.get("errors", [])), held=True)
        return {**base, "changed": True, "published": False, "held": True,
                "errors": [e.model_dump() for e in regressions]}
    record_errors(r, _new_errors(catalog.errors, (meta or {}).get("errors", [])), held=False)
    built = time.perf_counter()
    selector = Selector(catalog, config, None if force else state.selectors.get(current or ""))
    selector_ms = _ms(built)
    build = Build(selector, None if force else state.memo)
    stats, published = publish_version(r, catalog, selector, ttl_old_s=settings.version_ttl_s, selections=build,
                                       fingerprints=fingerprints, digest=digest,
                                       reuse=None if force or gaps else state.published,
                                       stored_fingerprints=stored)
    state.remember(stats["version"], selector, build.memo, published)
    return {**base, **stats, "changed": True, "published": True, "selector_ms": selector_ms,
            "reused_selections": build.reused, "selected": build.selected,
            "errors": [e.model_dump() for e in catalog.errors]}
