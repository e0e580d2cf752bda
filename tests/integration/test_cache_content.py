"""Values stored once by content across versions: shared, kept while listed, retired when not.

Agent definitions, work items and files live under the digest of their bytes and each version
lists its own (``publish.content``); these tests check the lifetimes through real refreshes
and publishes against a real Redis.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import orjson
import pytest
import redis
import redis.asyncio as aioredis

from agentload import keys
from agentload.catalog import Catalog, load_catalog
from agentload.keys import FULL_KEY
from agentload.publish.contexts import compute_selections
from agentload.publish.publish import publish_catalog, publish_version
from agentload.publish.refresh import refresh_catalog
from agentload.publish.state import WorkerState
from agentload.reader.integrity import missing_keys
from agentload.reader.shared import agent_value
from agentload.reader.store import CatalogStore
from agentload.selection.engine import Selector
from agentload.settings import Settings

BUNDLED = Path(__file__).resolve().parents[2] / "data" / "bmad-method-v6"
PM = "src/modules/bmm/agents/pm.agent.yaml"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(BUNDLED)


@pytest.fixture(scope="module")
def selector(catalog: Catalog) -> Selector:
    return Selector(catalog)


def _ttl_of(r: redis.Redis, version: str, entry: str) -> int:
    return int(r.ttl(keys.content_key(r.hget(keys.refs_key(version), entry))))


def test_given_one_edited_agent_when_refreshing_then_only_its_value_is_new_and_the_old_one_expires(
    tmp_path: Path, redis_url: str, redis_client: redis.Redis
) -> None:
    """Every unchanged value is the live version's, listed again; the replaced definition gets
    the old version's expiry while every value the live version lists stays permanent; an edit
    undone lists the expiring value again and makes it permanent; a lost value is noticed."""
    root = tmp_path / "catalog"
    shutil.copytree(BUNDLED, root)
    settings = Settings(redis_url=redis_url, catalog_path=root, version_ttl_s=60, refresh_lock_timeout_s=30)
    state = WorkerState()
    v1 = refresh_catalog(redis_client, settings, state)["version"]
    original = (root / PM).read_text()
    (root / PM).write_text(original.replace("role: ", "role: Content-addressed ", 1))
    second = refresh_catalog(redis_client, settings, state)
    v2 = second["version"]
    before, after = redis_client.hgetall(keys.refs_key(v1)), redis_client.hgetall(keys.refs_key(v2))
    changed = {e for e in after if before.get(e) != after[e]}
    assert changed == {keys.agent_entry("pm")} and set(before) == set(after)
    assert second["reused_values"] == len(after) - 1
    assert 0 < _ttl_of(redis_client, v1, keys.agent_entry("pm")) <= 60  # only the old version lists it
    assert {int(redis_client.ttl(keys.content_key(d))) for d in after.values()} == {-1}
    assert "Content-addressed" in orjson.loads(agent_value(redis_client, v2, "pm") or b"null")["text"]
    assert "Content-addressed" not in orjson.loads(agent_value(redis_client, v1, "pm") or b"null")["text"]

    (root / PM).write_text(original)  # undone: the old value, about to expire, is listed again
    v3 = refresh_catalog(redis_client, settings, state)["version"]
    assert redis_client.hgetall(keys.refs_key(v3)) == before
    assert {int(redis_client.ttl(keys.content_key(d))) for d in before.values()} == {-1}
    assert 0 < _ttl_of(redis_client, v2, keys.agent_entry("pm")) <= 60
    assert missing_keys(redis_client, v3) == 0
    permanent = {k for k in redis_client.scan_iter(match=keys.content_key("*")) if redis_client.ttl(k) == -1}
    assert permanent == {keys.content_key(d) for d in before.values()}  # only what the live version lists
    redis_client.delete(keys.content_key(before[keys.agent_entry("architect")]))
    assert missing_keys(redis_client, v3) == 1


def test_given_a_build_without_its_switch_when_it_stops_then_its_new_values_only_expire(
    redis_client: redis.Redis, catalog: Catalog, selector: Selector
) -> None:
    """A version written but never switched to leaves values that expire with its keys."""
    partial = [(k, s) for k, s in compute_selections(selector).items() if k != FULL_KEY]
    with pytest.raises(ValueError, match="full"):
        publish_catalog(redis_client, catalog, selector, ttl_old_s=60, selections=partial)
    values = list(redis_client.scan_iter(match=keys.content_key("*")))
    assert len(values) >= len(catalog.agents)
    assert all(int(redis_client.ttl(k)) > 0 for k in values)
    assert redis_client.get(keys.CURRENT_VERSION) is None


def test_given_published_agents_when_reading_through_the_store_then_each_version_serves_its_own(
    redis_url: str, redis_client: redis.Redis, catalog: Catalog, selector: Selector
) -> None:
    """The store reads a definition, a work item and a file by the version's refs in one call."""
    v = publish_catalog(redis_client, catalog, selector, ttl_old_s=60)["version"]
    refs = redis_client.hkeys(keys.refs_key(v))
    work = next(e for e in refs if e.startswith(keys.work_item_entry("")))
    files = [e for e in refs if e.startswith(keys.file_entry(""))]

    async def read() -> tuple[object, ...]:
        client = aioredis.Redis.from_url(redis_url)
        store = CatalogStore(client, default_strategy="selective")
        try:
            return (await store.get_agent("pm"), await store.get_agent("pm", v), await store.get_agent("nobody"),
                    await store.get_work_item(work.removeprefix(keys.work_item_entry("")), v),
                    await store.get_file(files[0].removeprefix(keys.file_entry("")), v) if files else {},
                    await store.version_gaps(v))
        finally:
            await client.aclose()

    current, explicit, nobody, item, file, gaps = asyncio.run(read())
    assert isinstance(current, dict) and current["id"] == "pm" and explicit == current and nobody is None
    assert isinstance(item, dict) and isinstance(file, dict) and gaps == 0


def test_given_the_live_refs_copied_when_an_agent_is_gone_then_the_new_version_lists_exactly_its_own(
    redis_client: redis.Redis, catalog: Catalog
) -> None:
    """A publish continuing from the live version copies its refs hash server-side and sends
    only what changed; an agent the new catalog no longer has is dropped from the copy, and a
    copy is not made from a version that is no longer live."""
    first, memo = publish_version(redis_client, catalog, Selector(catalog), ttl_old_s=60)
    dropped = sorted(catalog.agents)[-1]
    smaller = catalog.model_copy(update={"agents": {a: x for a, x in catalog.agents.items() if a != dropped}})
    second, memo2 = publish_version(redis_client, smaller, Selector(smaller), ttl_old_s=60, reuse=memo)
    before, after = (redis_client.hgetall(keys.refs_key(v["version"])) for v in (first, second))
    assert second["reused_values"] == len(after) and set(after) == set(before) - {keys.agent_entry(dropped)}
    assert all(after[e] == before[e] for e in after)
    third, _ = publish_version(redis_client, catalog, Selector(catalog), ttl_old_s=60, reuse=memo)  # stale memo
    again = redis_client.hgetall(keys.refs_key(third["version"]))
    assert again == before and {int(redis_client.ttl(keys.content_key(d))) for d in again.values()} == {-1}
    assert missing_keys(redis_client, third["version"]) == 0 and memo2.version == second["version"]
