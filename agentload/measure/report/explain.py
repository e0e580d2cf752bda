"""Why the loading-strategy rows read as they do, said from the rows themselves.

A reader comparing ``full`` with ``selective`` sees selective send more bytes, and often a
higher p99, while it puts far fewer tokens in a model's context. Neither comes from the
selection; both come from what is measured, so the report says so beside the table:

* bytes: the benchmark reads each selection without its definitions (no ``include=full``), so
  bytes per request measure the answer itself. A selective answer carries the manifest, one
  line for each agent it does not load (``CatalogStore.fill_manifest`` fills it in on every
  read), and the reasons for each agent it loads; the full answer lists every agent and has no
  manifest. Tokens per request count what loading the answer puts in a model's context, with
  the definitions: that is where full costs more.
* p99: a strategy's p99 comes from the requests measured for it; with fewer than 100 it is set
  by its one or two slowest requests, so a gap in p99 with similar p50s is one or two slow requests.

Every figure quoted comes from the rows; a note appears only when the rows show the effect.
"""

from __future__ import annotations

from agentload.measure.report.data import StrategyRow

TAIL_REQUESTS = 100  # below this many requests, the p99 is one of the two slowest


def _bytes_note(full: StrategyRow, other: StrategyRow) -> str | None:
    if full.bytes_per_request is None or other.bytes_per_request is None:
        return None
    if other.bytes_per_request <= full.bytes_per_request:
        return None
    tokens = ""
    if other.tokens_per_request is not None and full.tokens_per_request is not None:
        tokens = (f" although it puts fewer tokens in the model's context ({other.tokens_per_request:,.0f} against "
                  f"{full.tokens_per_request:,.0f} a request)")
    return (f"Bytes: a {other.strategy} answer is larger on the wire than a full one "
            f"({other.bytes_per_request:,.0f} against {full.bytes_per_request:,.0f} bytes a request){tokens}. "
            "The benchmark reads each selection without its definitions (no include=full), so bytes measure the "
            f"answer itself: a {other.strategy} answer carries the manifest, one line for each agent it does not "
            "load (so a client can ask for it), and the reasons for each agent it loads; the full answer lists "
            "every agent and has no manifest. Tokens per request count the definitions a model then loads, which "
            "is where full costs more.")


def tail_rank(n: int) -> int:
    """Which request from the slowest sets the p99 of ``n`` (1: the slowest). The load generator's
    HdrHistogram takes the value at rank ``int(0.99 n + 0.5)`` from the fastest."""
    return n - int(0.99 * n + 0.5) + 1


def _tail_note(full: StrategyRow, other: StrategyRow) -> str | None:
    n, p99, p50 = other.requests, other.p99_ms, other.p50_ms
    if n is None or p99 is None or p50 is None or full.p99_ms is None or full.p50_ms is None:
        return None
    if n >= TAIL_REQUESTS or p99 <= full.p99_ms:
        return None
    rank = tail_rank(n)
    by = "its slowest request" if rank == 1 else f"its {rank} slowest requests"
    return (f"p99: each strategy's latency comes from {n:,} requests, and the p99 of {n:,} requests is set by {by}: "
            f"{other.strategy}'s p99 of {p99:.2f} ms against full's {full.p99_ms:.2f} ms is {rank} request"
            f"{'s' if rank > 1 else ''}, while the p50s ({p50:.2f} against {full.p50_ms:.2f} ms) compare the usual "
            "cost. `agentload benchmark --duration 10` measures about 200 requests per strategy at the default "
            "20 requests/s.")


def strategy_notes(rows: list[StrategyRow]) -> list[str]:
    """Sentences explaining the strategy rows against ``full`` (none without a full row)."""
    by = {row.strategy: row for row in rows}
    full = by.get("full")
    if full is None:
        return []
    notes: list[str] = []
    for explain in (_bytes_note, _tail_note):
        said = [note for row in rows if row.strategy != "full" and (note := explain(full, row))]
        notes += said[:1]  # selective and cached share the effect: say it once, for the first
    return notes
