"""Is the live catalog version whole?

A version is written completely before the pointer switches to it, and its keys carry no TTL
once live; but Redis can still lose some of them: an evicting ``maxmemory-policy``
(``allkeys-*``) drops least-used keys under memory pressure, an operator deletes keys by
pattern. A half version answers 404 for agents that exist and 503 for selections while the
pointer says all is well, and a refresh that only compares the catalog's files would never
notice. So the refresh checks every key of the live version (its index set lists them) and
every value its refs hash names, and republishes when any is missing, and readiness checks a
random sample on every probe.

The supported deployment is ``maxmemory-policy noeviction`` (or ``volatile-*``, which only
evicts keys with a TTL: cached free-text selections and task results, never a live version);
``eviction_warning`` names an ``allkeys-*`` policy so the worker and readiness can say so.
"""

from __future__ import annotations

import redis
from redis.exceptions import ResponseError

from agentload import keys
from agentload.reader.codec import text
from agentload.reader.shared import missing_content

CHECK_PART = 5000  # keys per EXISTS call
EVICTING_PREFIX = "allkeys-"


def required_keys(version: str) -> list[str]:
    """Keys every version has whatever its catalog (the index lists the rest)."""
    return [keys.meta_key(version), keys.manifest_key(version), keys.resolver_key(version),
            keys.version_index_key(version)]


def missing_keys(r: redis.Redis, version: str) -> int:
    """How many keys of ``version`` are gone (0: whole), its shared values included
    (``shared.missing_content``). One SMEMBERS and one EXISTS per ``CHECK_PART`` keys: about
    2 ms per thousand keys."""
    members = [m for m in (text(k) for k in r.smembers(keys.version_index_key(version))) if m]
    wanted = list(dict.fromkeys([*required_keys(version), *members]))
    present = 0
    for i in range(0, len(wanted), CHECK_PART):
        present += int(r.exists(*wanted[i:i + CHECK_PART]))
    return len(wanted) - present + missing_content(r, version)


def eviction_warning(r: redis.Redis) -> str | None:
    """A sentence for an evicting ``maxmemory-policy``, None when safe or not readable
    (managed Redis often disables ``CONFIG``)."""
    try:
        reply = r.config_get("maxmemory-policy")
    except ResponseError:
        return None
    return policy_warning(str(reply.get("maxmemory-policy") or ""))


def policy_warning(policy: str) -> str | None:
    """The warning for ``policy`` (shared by the worker's sync and the API's async client)."""
    if policy.startswith(EVICTING_PREFIX):
        return (f"Redis maxmemory-policy is {policy}: it can evict keys of the live catalog version "
                "(refreshes republish it, readiness fails meanwhile); deploy with noeviction")
    return None
