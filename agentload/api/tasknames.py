"""Celery task and queue names the API enqueues, as plain strings.

The API must not import ``workers.queues`` (worker code), yet the names are a wire
protocol shared with the workers; a unit test asserts these equal ``workers.queues``'s
``TaskName``/``Queue`` values so a rename on one side fails CI instead of silently
dropping messages onto a queue nobody consumes.
"""

from __future__ import annotations

from typing import Final

PING: Final = "agentload.ping"
PRELOAD: Final = "agentload.preload"
REFRESH: Final = "agentload.refresh"
PRELOAD_CONTEXT: Final = "agentload.preload_context"
SELECT_TEXT: Final = "agentload.select_text"
BENCHMARK: Final = "agentload.benchmark"
LOAD_TEST: Final = "agentload.load_test"
OPTIMIZE: Final = "agentload.optimize"
FLUSH_CACHE_STATS: Final = "agentload.flush_cache_stats"
FLUSH_SELECTION_EVENTS: Final = "agentload.flush_selection_events"

#: queue names; ``LLEN`` of each is the queue depth reported by the metrics endpoint
QUEUE_DEFAULT: Final = "default"
QUEUE_CATALOG: Final = "catalog"
QUEUE_METRICS: Final = "metrics"
QUEUE_LONG: Final = "long"
QUEUES: Final = (QUEUE_DEFAULT, QUEUE_CATALOG, QUEUE_METRICS, QUEUE_LONG)

#: the queue each task the API sends is routed to (mirrors ``workers.queues.TASK_QUEUES``);
#: the client passes ``queue=`` explicitly because it has no routing table of its own
TASK_QUEUE: Final[dict[str, str]] = {
    PING: QUEUE_DEFAULT,
    PRELOAD: QUEUE_CATALOG,
    REFRESH: QUEUE_CATALOG,
    PRELOAD_CONTEXT: QUEUE_DEFAULT,
    SELECT_TEXT: QUEUE_DEFAULT,
    BENCHMARK: QUEUE_LONG,
    LOAD_TEST: QUEUE_LONG,
    OPTIMIZE: QUEUE_LONG,
    FLUSH_CACHE_STATS: QUEUE_METRICS,
    FLUSH_SELECTION_EVENTS: QUEUE_METRICS,
}
