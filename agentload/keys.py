"""Every Redis key the system uses, in one place (arq/dramatiq style).

Keys are namespaced by a prefix and a layout version so that a change of layout never
reads stale data. Catalog data lives under a catalog *version*; one pointer key says
which version is current, so publication is a single atomic switch.
"""

from __future__ import annotations

PREFIX = "agentload"
LAYOUT = "v1"
BASE = f"{PREFIX}:{LAYOUT}"

# pointer to the live catalog version, and the list of published versions
CURRENT_VERSION = f"{BASE}:catalog:current"
VERSIONS = f"{BASE}:catalog:versions"  # sorted set: version -> published timestamp
FINGERPRINTS = f"{BASE}:catalog:fingerprints"  # hash: relpath -> "mtime:size:sha"
LAST_REFRESH = f"{BASE}:catalog:last_refresh"  # json of the last refresh result
ERRORS = f"{BASE}:catalog:errors"  # list of json errors (capped)

# runtime flags
STRATEGY = f"{BASE}:flag:strategy"

# locks and debounce
REFRESH_LOCK = f"{BASE}:lock:refresh"
REFRESH_DEBOUNCE = f"{BASE}:debounce:refresh"
BEAT_INSTANCES = f"{BASE}:beat:instances"  # hash: beat id -> last seen


def version_key(version: str, *parts: str) -> str:
    """A key inside one catalog version: ``agentload:v1:cat:<version>:<parts...>``."""
    return ":".join((BASE, "cat", version, *parts))


def agent_key(version: str, agent_id: str) -> str:
    return version_key(version, "agent", agent_id)


def selection_key(version: str, context_hash: str) -> str:
    return version_key(version, "sel", context_hash)


def manifest_key(version: str) -> str:
    return version_key(version, "manifest")


def resolver_key(version: str) -> str:
    return version_key(version, "resolver")


def meta_key(version: str) -> str:
    return version_key(version, "meta")


def text_selection_key(version: str, request_hash: str) -> str:
    return version_key(version, "text", request_hash)


def user_prefs_key(user_id: str) -> str:
    return f"{BASE}:user:{user_id}"


def workflow_state_key(project_id: str) -> str:
    return f"{BASE}:project:{project_id}:state"


TRANSITIONS = f"{BASE}:predict:transitions"  # hash: "from|to" -> count

# statistics (aggregated on the hot path, flushed to SQL by a periodic task)
STATS = f"{BASE}:stats"


def stats_key(cache_type: str) -> str:
    return f"{STATS}:cache:{cache_type}"


def latency_key(endpoint: str) -> str:
    return f"{STATS}:latency:{endpoint}"


REQUEST_COUNTS = f"{STATS}:requests"
SELECTION_EVENTS = f"{STATS}:selection_events"  # list of json events, drained by a batching task
MCP_STATS = f"{STATS}:mcp"
