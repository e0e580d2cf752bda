"""Selection jobs (queue ``default``): compute what the API missed, warm what comes next.

Results are stored under the *current* version only when this process's selector was built
for exactly that version (``selector_for_current``); otherwise nothing is written and the
result says why, because a selection from other files would be served as if it were live.
"""

from __future__ import annotations

from typing import Any

import redis

from agentload import keys
from agentload.context import Context
from agentload.jobs.runtime import STATE, StaleCatalog, redis_client, selector_for_current
from agentload.jobs.tuning import tuned_settings
from agentload.publish.content import Shared
from agentload.publish.predict import warm_for_project
from agentload.publish.publish import store_selection
from agentload.reader.codec import dumps, loads, text
from agentload.reader.shared import read_shared_sync
from agentload.reader.transitions import observe_project
from agentload.selection.engine import Selector
from agentload.settings import Settings, get_settings


def _ensure_agents(r: redis.Redis, version: str, selector: Selector, agent_ids: list[str]) -> int:
    """Write agent definitions of ``version`` that are missing (normally none); returns count.

    Stored by content without a TTL and listed in the version's refs hash (``publish.content``),
    so they live as long as a version lists them; the write happens only while ``version`` is
    still current (a superseded version must not gain values that nothing would ever expire).
    """
    found = read_shared_sync(r, version, [keys.agent_entry(a) for a in agent_ids])
    missing = [aid for aid, raw in zip(agent_ids, found, strict=True)
               if raw is None and aid in selector.catalog.agents]
    if not missing:
        return 0
    written = [0]
    values = {aid: Shared.of(dumps(selector.catalog.agents[aid])) for aid in missing}

    def write(tx: redis.client.Pipeline) -> None:
        current = text(tx.get(keys.CURRENT_VERSION))
        tx.multi()
        if current != version:
            written[0] = 0
            return
        written[0] = len(missing)
        for aid, value in values.items():
            tx.set(keys.content_key(value.digest), value.bytes())
            tx.hset(keys.refs_key(version), keys.agent_entry(aid), value.digest)

    r.transaction(write, keys.CURRENT_VERSION)
    return written[0]


class RequestTextGone(Exception):
    """The request text handed over by reference (``request_key``) is no longer in Redis: its
    TTL (``text_selection_ttl_s``) ran out before a worker took the task, or it was consumed."""


def _prepare(context: dict[str, Any], request_key: str | None = None,
             ) -> tuple[redis.Redis, Settings, Context, str, Selector]:
    """Redis, the (tuned) settings, the validated context (its request text read back from
    ``keys.request_text_key(request_key)`` when given) and this process's current selector;
    raises ``RequestTextGone`` or ``StaleCatalog``."""
    r = redis_client(get_settings())
    if request_key is not None:
        held = text(r.get(keys.request_text_key(request_key)))
        if held is None:
            raise RequestTextGone("the request text expired before a worker took this task; ask again")
        context = {**context, "request": held}
    settings = tuned_settings(r, get_settings())
    ctx = Context.model_validate(context)
    version, selector = selector_for_current(r, settings, STATE)
    return r, settings, ctx, version, selector


def _forget(r: redis.Redis, request_key: str | None) -> None:
    """Delete a request text handed over by reference once its selection is stored."""
    if request_key is not None:
        r.delete(keys.request_text_key(request_key))


def select_and_cache(context: dict[str, Any], request_key: str | None = None) -> dict[str, Any]:
    """Compute a (free-text) selection and store it under ``selection_key(v, key)``; idempotent.
    ``request_key``: the request text is in Redis under ``keys.request_text_key`` (not in ``context``)."""
    try:
        r, settings, ctx, version, selector = _prepare(context, request_key)
    except (StaleCatalog, RequestTextGone) as exc:
        return {"stored": False, "reason": str(exc)}
    resolved = selector.resolve(ctx)
    key = resolved.key()
    if r.exists(keys.selection_key(version, key)):
        _forget(r, request_key)
        return {"version": version, "key": key, "stored": False, "reason": "already cached"}
    selection = selector.select_resolved(resolved)
    stored = store_selection(r, version, selection, min(settings.text_selection_ttl_s, settings.version_ttl_s))
    _forget(r, request_key)
    return {"version": version, "key": key, "stored": stored, "agents": selection.agent_ids}


def preload_context(context: dict[str, Any], project_id: str | None, user_id: str | None,
                    request_key: str | None = None) -> dict[str, Any]:
    """Make sure a context's selection and its agents are cached, learn the project's
    history and warm the selections of its likely next steps (``request_key``: as for
    ``select_and_cache``)."""
    try:
        r, settings, ctx, version, selector = _prepare(context, request_key)
    except (StaleCatalog, RequestTextGone) as exc:
        return {"stored": False, "reason": str(exc), "project_id": project_id, "user_id": user_id}
    resolved = selector.resolve(ctx)
    key = resolved.key()
    cached = loads(r.get(keys.selection_key(version, key)))
    stored = False
    if cached is None:
        selection = selector.select_resolved(resolved)
        stored = store_selection(r, version, selection, settings.version_ttl_s)
        agent_ids = selection.agent_ids
    else:
        agent_ids = [a["id"] for a in cached["agents"]]
    observed = 0
    if project_id:
        observed = observe_project(r, project_id, ctx.workflow_history, aliases=selector.resolver.aliases)
    warm = warm_for_project(r, selector, version, ctx, ttl_s=settings.version_ttl_s)
    _forget(r, request_key)
    return {
        "version": version, "key": key, "cached": cached is not None, "stored": stored,
        "agents": agent_ids, "agents_written": _ensure_agents(r, version, selector, agent_ids),
        "observed_transitions": observed, "warm": warm, "project_id": project_id, "user_id": user_id,
    }
