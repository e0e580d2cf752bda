"""Publishing versions to a real Redis, and reading them back through ``CatalogStore``."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

import agentload.publish.retire as retire_mod
import agentload.publish.writer as writer_mod
from agentload import keys
from agentload.catalog import Catalog, load_catalog
from agentload.context import Context
from agentload.keys import FULL_KEY
from agentload.publish.contexts import compute_selections
from agentload.publish.publish import publish_catalog, publish_version, store_selection
from agentload.reader.store import CatalogNotPublished, CatalogStore
from agentload.selection.engine import Selector

BUNDLED = Path(__file__).resolve().parents[2] / "data" / "bmad-method-v6"
UX_CONTEXT = Context(track="bmad-method", field_type="greenfield", phase=2, has_ui=True)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(BUNDLED)


@pytest.fixture(scope="module")
def selector(catalog: Catalog) -> Selector:
    return Selector(catalog)


@pytest.fixture
def store(redis_url: str) -> Iterator[tuple[CatalogStore, asyncio.AbstractEventLoop]]:
    loop = asyncio.new_event_loop()
    client = aioredis.Redis.from_url(redis_url)
    yield CatalogStore(client, default_strategy="selective"), loop
    loop.run_until_complete(client.aclose())
    loop.close()


def test_given_catalog_when_publishing_then_every_structured_selection_and_the_pointer_are_written(
    redis_client: redis.Redis, catalog: Catalog, selector: Selector
) -> None:
    stats = publish_catalog(redis_client, catalog, selector, ttl_old_s=60)
    v = stats["version"]
    assert redis_client.get(keys.CURRENT_VERSION) == v
    assert redis_client.zscore(keys.VERSIONS, v) is not None
    expected = compute_selections(selector)
    assert stats["selections"] == len(expected) and FULL_KEY in expected
    pipe = redis_client.pipeline()
    for key in expected:
        pipe.ttl(keys.selection_key(v, key))
    assert set(pipe.execute()) == {-1}  # all present, none expiring while current
    listed = redis_client.hgetall(keys.refs_key(v))
    assert {keys.agent_entry(a) for a in catalog.agents} <= set(listed)
    pipe = redis_client.pipeline()
    for digest in listed.values():
        pipe.ttl(keys.content_key(digest))
    assert set(pipe.execute()) == {-1}  # every listed value stored, none expiring while current
    meta = redis_client.get(keys.meta_key(v))
    assert meta is not None and '"agents":10' in meta
    assert redis_client.scard(keys.version_index_key(v)) == stats["keys"] - 1
    second = publish_catalog(redis_client, catalog, selector, ttl_old_s=60)
    assert second["previous"] == v and redis_client.get(keys.CURRENT_VERSION) == second["version"]
    assert 0 < redis_client.ttl(keys.selection_key(v, FULL_KEY)) <= 60  # the old one now expires
    assert 0 < redis_client.ttl(keys.meta_key(v)) <= 60
    assert int(redis_client.hget(keys.stats_key("selections"), "evictions") or 0) == len(expected)


def test_given_many_chunks_and_script_calls_when_publishing_then_every_key_is_indexed_and_switched(
    redis_client: redis.Redis, catalog: Catalog, selector: Selector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes go by chunks (one SADD each) and the switch reads the versions' indexes in Redis:
    with tiny chunks every boundary is crossed, and still every key is indexed, made permanent
    when current and given its expiry when replaced."""
    monkeypatch.setattr(writer_mod, "CHUNK", 7)
    monkeypatch.setattr(retire_mod, "RETIRE_CHUNK", 7)
    old = publish_catalog(redis_client, catalog, selector, ttl_old_s=60)
    new = publish_catalog(redis_client, catalog, selector, ttl_old_s=60)
    assert new["previous"] == old["version"] and redis_client.get(keys.CURRENT_VERSION) == new["version"]
    for stats, live in ((old, False), (new, True)):
        v = stats["version"]
        index = keys.version_index_key(v)
        members = sorted(redis_client.smembers(index))
        assert len(members) == stats["keys"] - 1 > 7 * 5
        assert keys.meta_key(v) in members and keys.selection_key(v, FULL_KEY) in members
        pipe = redis_client.pipeline()
        for key in [*members, index]:
            pipe.ttl(key)
        ttls = pipe.execute()
        assert all(t == -1 for t in ttls) if live else all(0 < t <= 60 for t in ttls), ttls


def test_given_a_switch_whose_retirement_never_ran_when_publishing_again_then_both_superseded_versions_expire(
    redis_client: redis.Redis, catalog: Catalog, selector: Selector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The previous version is retired after the pointer switch; a process that dies in between
    leaves it without expiry, and the next switch retires it too (and counts its keys once)."""
    first = publish_catalog(redis_client, catalog, selector, ttl_old_s=60)

    def dies(*_args: object, **_kwargs: object) -> int:
        raise ConnectionError("worker killed after the switch")

    monkeypatch.setattr(writer_mod, "retire_versions", dies)
    with pytest.raises(ConnectionError):
        publish_catalog(redis_client, catalog, selector, ttl_old_s=60)
    monkeypatch.undo()
    second = redis_client.get(keys.CURRENT_VERSION)
    assert second != first["version"] and redis_client.ttl(keys.meta_key(first["version"])) == -1  # left over
    evictions = int(redis_client.hget(keys.stats_key("selections"), "evictions") or 0)
    third = publish_catalog(redis_client, catalog, selector, ttl_old_s=60)
    assert third["previous"] == second
    for v in (first["version"], second):
        members = list(redis_client.smembers(keys.version_index_key(v)))
        pipe = redis_client.pipeline()
        for key in [*members, keys.version_index_key(v)]:
            pipe.ttl(key)
        assert all(0 < t <= 60 for t in pipe.execute())
    assert redis_client.ttl(keys.meta_key(third["version"])) == -1
    retired = int(redis_client.hget(keys.stats_key("selections"), "evictions") or 0) - evictions
    assert retired == 2 * first["selections"]  # two versions' selections (one catalog), each once


def test_given_what_the_fingerprints_hash_holds_when_switching_then_it_ends_equal_to_the_new_ones(
    redis_client: redis.Redis, catalog: Catalog, selector: Selector
) -> None:
    """The switch writes only the entries that differ from what the caller says the hash
    holds (one after an edit, not the whole catalog's); the result is the same hash."""
    stored = {"a.yaml": "1:1:aaa", "b.yaml": "1:1:bbb", "gone.yaml": "1:1:ggg"}
    redis_client.delete(keys.FINGERPRINTS)
    redis_client.hset(keys.FINGERPRINTS, mapping=stored)
    new = {"a.yaml": "1:1:aaa", "b.yaml": "2:2:bbb2", "added.yaml": "3:3:ccc"}
    publish_version(redis_client, catalog, selector, ttl_old_s=60, fingerprints=new, stored_fingerprints=stored)
    assert redis_client.hgetall(keys.FINGERPRINTS) == new  # a client that decodes replies
    publish_version(redis_client, catalog, selector, ttl_old_s=60, fingerprints={}, stored_fingerprints=new)
    assert not redis_client.exists(keys.FINGERPRINTS)


def test_given_selections_without_full_when_publishing_then_it_is_refused(
    redis_client: redis.Redis, catalog: Catalog, selector: Selector
) -> None:
    with pytest.raises(ValueError, match="full"):
        publish_catalog(redis_client, catalog, selector, ttl_old_s=60, selections={})


def test_given_published_version_when_reading_through_the_store_then_hits_misses_and_strategy_work(
    redis_client: redis.Redis, catalog: Catalog, selector: Selector,
    store: tuple[CatalogStore, asyncio.AbstractEventLoop],
) -> None:
    reader, loop = store
    with pytest.raises(CatalogNotPublished):
        loop.run_until_complete(reader.get_selection(UX_CONTEXT))
    v = publish_catalog(redis_client, catalog, selector, ttl_old_s=60)["version"]
    version, resolved, selection = loop.run_until_complete(reader.get_selection(UX_CONTEXT))
    assert version == v and selection is not None
    assert [a["id"] for a in selection["agents"]] == ["pm", "ux-designer"]
    assert selection["key"] == resolved.key()
    free = Context(request="write me a poem about kubernetes")
    assert loop.run_until_complete(reader.get_selection(free))[2] is None
    assert loop.run_until_complete(reader.get_strategy()) == "selective"
    loop.run_until_complete(reader.set_strategy("full"))
    assert len(loop.run_until_complete(reader.get_selection(free))[2]["agents"]) == 10
    with pytest.raises(ValueError):
        loop.run_until_complete(reader.set_strategy("everything"))
    assert loop.run_until_complete(reader.get_agent("pm"))["title"] == "Product Manager"
    assert loop.run_until_complete(reader.get_agent("pm", version=v))["id"] == "pm"
    assert loop.run_until_complete(reader.get_agent("nobody")) is None
    manifest = loop.run_until_complete(reader.get_manifest())
    assert set(manifest["lines"]) == set(catalog.agents) and manifest["tokens"] > 0
    assert loop.run_until_complete(reader.get_workflow_state("p1")) is None
    loop.run_until_complete(reader.put_workflow_state("p1", {"done": ["prd"]}))
    assert loop.run_until_complete(reader.get_workflow_state("p1")) == {"done": ["prd"]}
    loop.run_until_complete(reader.flush_timings())
    status = loop.run_until_complete(reader.status())
    assert status["version"] == v and status["agents"] == 10 and status["keys"] > 0
    sel = status["hit_rate"]["selections"]
    assert (sel["hits"], sel["misses"]) == (2, 1) and sel["avg_time_ms"] > 0
    assert status["hit_rate"]["agent_definitions"]["misses"] == 1
    assert status["hit_rate"]["workflow_state"] == {**status["hit_rate"]["workflow_state"], "hits": 1, "misses": 1}


def test_given_stale_optimistic_version_when_reading_then_the_store_follows_the_pointer(
    redis_client: redis.Redis, catalog: Catalog, selector: Selector,
    store: tuple[CatalogStore, asyncio.AbstractEventLoop],
) -> None:
    reader, loop = store
    old = publish_catalog(redis_client, catalog, selector, ttl_old_s=1)["version"]
    assert loop.run_until_complete(reader.get_selection(UX_CONTEXT))[0] == old
    new = publish_catalog(redis_client, catalog, selector, ttl_old_s=1)["version"]
    assert loop.run_until_complete(reader.get_selection(UX_CONTEXT))[0] == new
    newer = publish_catalog(redis_client, catalog, selector, ttl_old_s=1)["version"]
    assert loop.run_until_complete(reader.get_agent("pm"))["id"] == "pm"
    assert loop.run_until_complete(reader.current_version()) == newer
    # the reader's remembered version expired entirely: it re-reads the pointer
    reader._version = old  # noqa: SLF001 - simulate a process that slept through two publishes
    redis_client.delete(keys.resolver_key(old))
    reader._resolvers.pop(old, None)  # noqa: SLF001
    assert loop.run_until_complete(reader.get_selection(UX_CONTEXT))[0] == newer
    redis_client.delete(keys.CURRENT_VERSION)
    with pytest.raises(CatalogNotPublished):
        loop.run_until_complete(reader.get_selection(UX_CONTEXT))
    with pytest.raises(CatalogNotPublished):
        loop.run_until_complete(reader.get_agent("pm"))
    redis_client.set(keys.CURRENT_VERSION, "gone")
    with pytest.raises(CatalogNotPublished):
        loop.run_until_complete(reader.get_selection(UX_CONTEXT))


def test_given_reader_hammering_when_versions_are_published_then_it_only_sees_complete_versions(
    redis_client: redis.Redis, redis_url: str, catalog: Catalog, selector: Selector
) -> None:
    first = publish_catalog(redis_client, catalog, selector, ttl_old_s=30)["version"]
    contexts = [UX_CONTEXT, Context(track="enterprise", phase=3), Context(next_workflow="dev-story"),
                Context(complexity_level=2, phase=4), Context()]
    stop = threading.Event()
    seen: set[str] = set()
    missing: list[tuple[str, str]] = []
    reads = [0]

    def hammer() -> None:
        async def run() -> None:
            client = aioredis.Redis.from_url(redis_url)
            reader = CatalogStore(client, default_strategy="selective")
            while not stop.is_set():
                for ctx in contexts:
                    version, resolved, selection = await reader.get_selection(ctx)
                    seen.add(version)
                    reads[0] += 1
                    if selection is None:
                        missing.append((version, resolved.key()))
                    agent = await reader.get_agent("pm")
                    if agent is None:
                        missing.append((version, "agent pm"))
            await client.aclose()

        asyncio.run(run())

    thread = threading.Thread(target=hammer)
    thread.start()
    published = {first}
    try:
        for _ in range(6):
            published.add(publish_catalog(redis_client, catalog, selector, ttl_old_s=30)["version"])
    finally:
        stop.set()
        thread.join(timeout=30)
    assert missing == []
    assert reads[0] > 0 and seen <= published and len(seen) >= 2


def test_given_worker_selection_when_storing_then_it_is_written_once_with_a_ttl(
    redis_client: redis.Redis, catalog: Catalog, selector: Selector
) -> None:
    v = publish_catalog(redis_client, catalog, selector, ttl_old_s=60)["version"]
    sel = selector.select(Context(request="plan the sprint"))
    assert store_selection(redis_client, v, sel, ttl_s=120) is True
    assert store_selection(redis_client, v, sel, ttl_s=120) is False  # idempotent
    assert 0 < redis_client.ttl(keys.selection_key(v, sel.key)) <= 120
