"""Cache hit rate of the request path on a replay of scenario contexts (real Redis).

10,000 requests (``--requests``) are drawn Zipf-like (weight ``1/rank^s``, ranks shuffled
with a fixed seed) from the contexts of ``../shared/scenarios/*.jsonl`` (structured and
free text) and served through ``CatalogStore.get_selection`` exactly as the API does. A miss
is followed by what the worker does (compute and store the selection), so a free-text
request misses the first time only. Each request belongs to a simulated project (its path
file), whose reported history feeds the transition model.

Four configurations, side by side:

* ``full preload``: the catalog is published with every structured selection;
* ``+ predictive warming``: after each request, ``preload_context``-style warming of the
  project's likely next contexts (``agentload.publish.predict``);
* ``lazy preload``: the version keeps only its ``full`` selection (structured selections
  deleted), the case prediction exists for: contexts the preload did not compute;
* ``lazy + predictive warming``.

    .venv/bin/python benchmarks/cache_hit_rate.py [--requests 10000] [--zipf 1.1] [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (SIGTERM runs this script's cleanup: see _common)
import orjson
import redis
import redis.asyncio as aioredis

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from cache_refresh import redis_server  # noqa: E402

from agentload import keys  # noqa: E402
from agentload.catalog import load_catalog  # noqa: E402
from agentload.context import Context  # noqa: E402
from agentload.keys import FULL_KEY  # noqa: E402
from agentload.publish.predict import warm_for_project  # noqa: E402
from agentload.publish.publish import publish_catalog, store_selection  # noqa: E402
from agentload.reader.store import CatalogStore  # noqa: E402
from agentload.reader.transitions import observe_project  # noqa: E402
from agentload.selection.engine import Selector  # noqa: E402

SCENARIOS = (REPO / ".." / "shared" / "scenarios").resolve()
CATALOG = REPO / "data" / "bmad-method-v6"
TTL_S = 3600


def load_scenarios() -> list[tuple[str, Context, bool]]:
    """(project, context, is free text) for every scenario line."""
    out: list[tuple[str, Context, bool]] = []
    for path in sorted(SCENARIOS.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                row = orjson.loads(line)
                ctx = Context.model_validate(row["context"])
                project = row.get("source", row["id"]).split("#")[0]
                out.append((project, ctx, ctx.request is not None))
    return out


def zipf_draws(n_items: int, n: int, s: float, seed: int) -> list[int]:
    rng = random.Random(seed)
    ranks = list(range(n_items))
    rng.shuffle(ranks)  # which scenario is popular is random, the popularity curve is Zipf
    weights = [1.0 / (ranks[i] + 1) ** s for i in range(n_items)]
    return rng.choices(range(n_items), weights=weights, k=n)


def reset(r: redis.Redis) -> None:
    for key in r.scan_iter(match=f"{keys.PREFIX}:*", count=1000):
        r.delete(key)


async def replay(url: str, selector: Selector, scenarios: list[tuple[str, Context, bool]],
                 draws: list[int], *, lazy: bool, warm: bool) -> dict[str, Any]:
    r = redis.Redis.from_url(url)
    reset(r)
    version = publish_catalog(r, selector.catalog, selector, ttl_old_s=TTL_S)["version"]
    if lazy:
        doomed = [k for k in r.smembers(keys.version_index_key(version))
                  if b":sel:" in k and not k.endswith(FULL_KEY.encode())]
        r.delete(*doomed)
    client = aioredis.Redis.from_url(url)
    store = CatalogStore(client, default_strategy="selective")
    counts = {True: [0, 0], False: [0, 0]}  # free text? -> [hits, requests]
    latencies: list[float] = []
    warmed = 0
    for i in draws:
        project, ctx, free = scenarios[i]
        started = time.perf_counter()
        v, resolved, selection = await store.get_selection(ctx)
        latencies.append((time.perf_counter() - started) * 1e6)
        counts[free][1] += 1
        if selection is not None:
            counts[free][0] += 1
        else:  # the worker's select_text / preload_context: compute once, store
            store_selection(r, v, selector.select_resolved(resolved), TTL_S)
        if warm:
            observe_project(r, project, ctx.workflow_history, aliases=selector.resolver.aliases)
            warmed += warm_for_project(r, selector, v, ctx, ttl_s=TTL_S)["warmed"]
    await store.flush_timings()
    server = await store.status()
    await client.aclose()
    r.close()
    hits = counts[True][0] + counts[False][0]
    total = counts[True][1] + counts[False][1]
    assert server["hit_rate"]["selections"]["hits"] == hits  # the hot-path counters agree
    return {
        "structured": counts[False][0] / max(1, counts[False][1]),
        "free": counts[True][0] / max(1, counts[True][1]),
        "overall": hits / total,
        "n_structured": counts[False][1], "n_free": counts[True][1], "warmed": warmed,
        "p50_us": statistics.median(latencies),
        "p99_us": sorted(latencies)[int(len(latencies) * 0.99)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--zipf", type=float, default=1.1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args()
    scenarios = load_scenarios()
    draws = zipf_draws(len(scenarios), args.requests, args.zipf, args.seed)
    selector = Selector(load_catalog(CATALOG))
    n_free = sum(1 for _, _, free in scenarios if free)
    print(f"{len(scenarios)} scenario contexts ({len(scenarios) - n_free} structured, {n_free} free text), "
          f"{args.requests} requests, Zipf s={args.zipf}, "
          f"{len({i for i in draws})} distinct contexts drawn")
    modes = [("full preload", False, False), ("full preload + predictive warming", False, True),
             ("lazy preload", True, False), ("lazy preload + predictive warming", True, True)]
    with redis_server(args.redis_url) as url:
        results = [(name, asyncio.run(replay(url, selector, scenarios, draws, lazy=lazy, warm=warm)))
                   for name, lazy, warm in modes]
    print(f"\n{'mode':<36}{'structured':>12}{'free text':>12}{'overall':>10}{'warmed':>8}"
          f"{'p50 us':>9}{'p99 us':>9}")
    for name, res in results:
        print(f"{name:<36}{res['structured']:>12.2%}{res['free']:>12.2%}{res['overall']:>10.2%}"
              f"{res['warmed']:>8}{res['p50_us']:>9.0f}{res['p99_us']:>9.0f}")
    first = results[0][1]
    print(f"\nrequests: {first['n_structured']} structured, {first['n_free']} free text; "
          "target: hit rate >= 99% (full preload)")


if __name__ == "__main__":
    main()
