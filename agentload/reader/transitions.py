"""The workflow-transition counts projects report: ``from|to`` -> n in ``keys.TRANSITIONS``.

Written by the request path (a project's stored state: ``PUT .../workflow-state``) and by
workers; read by the publish side's predictive preload (``agentload.publish.predict``),
which warms the likely next selections. Plain Redis counting, no selection engine.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import redis

from agentload import keys
from agentload.context import norm_id
from agentload.reader.codec import dumps, loads, text

SEEN_TTL_S = 90 * 24 * 3600  # how long a project's observed-history marker is kept
_GLOB = re.compile(r"([*?\[\]\\])")


def canonical(workflow: str, aliases: Mapping[str, str] | None = None) -> str:
    wid = norm_id(workflow)
    return aliases.get(wid, wid) if aliases else wid


def _pairs(history: list[str], start: int) -> list[str]:
    return [f"{history[i - 1]}|{history[i]}" for i in range(max(start, 1), len(history))
            if history[i - 1] != history[i]]


def observe(r: redis.Redis, history: list[str], *, aliases: Mapping[str, str] | None = None) -> int:
    """Count every consecutive transition of ``history`` once (one observation per call)."""
    pairs = _pairs([canonical(h, aliases) for h in history], 1)
    if pairs:
        pipe = r.pipeline(transaction=False)
        for pair in pairs:
            pipe.hincrby(keys.TRANSITIONS, pair, 1)
        pipe.execute()
    return len(pairs)


def _common_prefix(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def observe_project(r: redis.Redis, project_id: str, history: list[str], *,
                    aliases: Mapping[str, str] | None = None) -> int:
    """Count only the transitions of a project's history not counted before (idempotent).

    Projects resend their whole history with every request, and several callers report the
    same project (the API with the next workflow appended, the worker without). The marker
    keeps the sequence already counted: a repeat or a prefix of it counts nothing, an
    extension counts only its new steps, and a history that diverges (a reset, or a step
    other than the announced one) counts from the point where it differs.
    """
    items = [canonical(h, aliases) for h in history]
    marker = keys.history_seen_key(project_id)
    counted: list[int] = [0]

    def step(pipe: redis.client.Pipeline) -> None:
        seen = loads(pipe.get(marker)) or []
        common = _common_prefix(seen, items)
        pairs = _pairs(items, common)
        pipe.multi()
        for pair in pairs:
            pipe.hincrby(keys.TRANSITIONS, pair, 1)
        if common < len(items):  # not a prefix of what was counted: it is the new sequence
            pipe.set(marker, dumps(items), ex=SEEN_TTL_S)
        counted[0] = len(pairs)

    r.transaction(step, marker)
    return counted[0]


def likely_next(r: redis.Redis, workflow: str, k: int = 3, *,
                aliases: Mapping[str, str] | None = None) -> list[tuple[str, float]]:
    """Up to ``k`` observed successors of ``workflow`` with their probabilities."""
    wid = canonical(workflow, aliases)
    counts: dict[str, int] = {}
    pattern = _GLOB.sub(r"\\\1", wid) + "|*"
    for field, value in r.hscan_iter(keys.TRANSITIONS, match=pattern, count=1000):
        _, _, to = (text(field) or "").partition("|")
        counts[to] = int(value)
    total = sum(counts.values())
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    return [(to, n / total) for to, n in ranked]
