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


# --- values stored once, whatever the versions that hold them --------------------------------
# An agent definition, a work item or a referenced file is stored once under the digest of its
# bytes; a version lists its entries in one hash (entry -> digest), so a version that changes
# one agent writes one value and a small hash, not 10,000 copies (``publish.writer``).

#: prefix of every content key: the key of a value is this prefix and its digest
CONTENT_PREFIX = f"{BASE}:blob:"


def content_key(digest: str) -> str:
    """A value stored by content: ``agentload:v1:blob:<digest of its bytes>``."""
    return CONTENT_PREFIX + digest


def refs_key(version: str) -> str:
    """Hash of one version: entry (``agent_entry``, ``work_item_entry``, ``file_entry``) -> digest."""
    return version_key(version, "refs")


def agent_entry(agent_id: str) -> str:
    """An agent definition's field in ``refs_key``."""
    return f"agent:{agent_id}"


def work_item_entry(work_item_id: str) -> str:
    """A work item (workflow, skill, task): metadata and its entry file's text."""
    return f"work:{work_item_id}"


def file_entry(path: str) -> str:
    """A file a work item references (instructions, template, step file), by catalog-relative path."""
    return f"file:{path}"


AGENT_ENTRY_PREFIX = agent_entry("")


def fresh_content_key(version: str) -> str:
    """Set of the digests a build of ``version`` stored or kept from expiring: what its switch
    makes permanent (then deleted; not in the version's index)."""
    return version_key(version, "fresh")


def selection_key(version: str, context_hash: str) -> str:
    return version_key(version, "sel", context_hash)


def manifest_key(version: str) -> str:
    return version_key(version, "manifest")


def resolver_key(version: str) -> str:
    return version_key(version, "resolver")


def meta_key(version: str) -> str:
    return version_key(version, "meta")


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


# --- reader / publish helpers (agentload/reader, agentload/publish) ---------------------------------------------


def version_index_key(version: str) -> str:
    """Set of every key written for one version, so superseding it can expire them all."""
    return version_key(version, "index")


def stats_flush_key(cache_type: str, flush_id: str) -> str:
    """Counters of one cache type taken by one flush (renamed away until the SQL commit)."""
    return f"{STATS}:flushing:{flush_id}:{cache_type}"


def history_seen_key(project_id: str) -> str:
    """How much of a project's workflow history the transition model already counted."""
    return f"{BASE}:project:{project_id}:observed"


# --- performance jobs (agentload/jobs: benchmark, load test, optimize, event flush) -------

#: tuned selection knobs (json: text_close_ratio, text_min_score, optimization_version, ...);
#: workers apply them over the settings when they build a selector
SELECTION_CONFIG = f"{BASE}:flag:selection_config"
#: held while a benchmark switches the global strategy flag, so two runs never interleave
BENCHMARK_LOCK = f"{BASE}:lock:benchmark"


#: how long Celery keeps a task's result (``result_expires``): for polling, not an archive
TASK_RESULT_TTL_S = 3600


def issued_task_key(task_id: str) -> str:
    """Set when the API or the MCP server enqueues ``task_id`` (value: the task name), so polling
    can tell an id it issued (``PENDING`` while queued) from one it never issued (404)."""
    return f"{BASE}:tasks:issued:{task_id}"


JOB_CANCEL_TTL_S = 24 * 3600  # a cancel request outlives any job's time limit


def job_cancel_key(job_id: str) -> str:
    """Set (any value) to ask the long job ``job_id`` (its Celery task id) to stop at its next check."""
    return f"{BASE}:jobs:{job_id}:cancel"


def events_flush_key(flush_id: str) -> str:
    """Selection events taken by one flush, held until their SQL commit (or given back)."""
    return f"{STATS}:flushing:{flush_id}:selection_events"
#: selection events that cannot become rows (bad JSON or types), kept aside for inspection
SELECTION_EVENTS_DEAD = f"{STATS}:selection_events:dead"


def request_text_key(ref: str) -> str:
    """A user's free-text request handed to a task by reference (``AGENTLOAD_REDACT_REQUEST_TEXT``):
    the text, with a TTL, read by the worker and deleted once its selection is stored."""
    return f"{BASE}:private:request:{ref}"


def miss_rate_key(client: str, window: int) -> str:
    """Uncached requests of one client in one minute window (a counter with a TTL)."""
    return f"{BASE}:limit:miss:{client}:{window}"


def pending_misses_key(window: int) -> str:
    """Distinct uncached requests enqueued in one pending window (a counter with a TTL)."""
    return f"{BASE}:limit:pending:{window}"

#: ``selection_key(version, FULL_KEY)`` holds the version's strategy=full selection
FULL_KEY = "full"
