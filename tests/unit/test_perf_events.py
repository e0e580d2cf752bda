"""Selection events (as the API writes them) -> rows of both metric tables, checked one by one."""

from __future__ import annotations

import orjson
import pytest
from _fixtures import bundled_selector

from agentload.api.service import Outcome, selection_event
from agentload.context import Context
from agentload.jobs.events import _convert, event_rows


def served(request: str | None = None, *, user: str | None = "alice") -> bytes:
    selector = bundled_selector()
    resolved = selector.resolve(Context(next_workflow="prd", request=request))
    selection = selector.select_resolved(resolved).model_dump(mode="json")
    outcome = Outcome("hit", "v1", "selective", resolved, selection)
    return selection_event(outcome, source="api", latency_ms=1.25, project="shop", user=user)


def test_given_an_api_event_when_converted_then_both_rows_carry_its_figures() -> None:
    raw = served()
    event = orjson.loads(raw)
    loading, tokens = event_rows(raw)
    assert loading["agents_loaded"] == event["agents"] == tokens["agents"] == ["pm"]
    assert loading["loaded_tokens"] + loading["manifest_tokens"] == event["optimized_tokens"]
    assert loading["baseline_tokens"] == event["baseline_tokens"] > 0  # file tokens
    # savings: delivered tokens (what the client receives), the full answer as the baseline
    assert (tokens["baseline_tokens"], tokens["optimized_tokens"]) == (
        event["full_context_tokens"], event["context_tokens"])
    assert event["full_context_tokens"] > event["baseline_tokens"] and event["context_tokens"] > 0
    assert tokens["reduction"] == event["reduction"] and loading["cache_hit"] is True
    assert (loading["user"], loading["project"], loading["source"]) == ("alice", "shop", "api")
    assert loading["context_hash"] == tokens["context_hash"] == event["context_hash"]


def test_given_an_anonymous_event_when_converted_then_no_identity_is_invented() -> None:
    loading, tokens = event_rows(served(user=None))
    assert "user" not in loading and "user" not in tokens and loading["project"] == "shop"


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", orjson.dumps({"context_hash": "k"}),
                                 orjson.dumps({"strategy": "selective", "loaded_tokens": "many"})])
def test_given_an_event_that_cannot_be_a_row_when_converted_then_it_raises(raw: bytes) -> None:
    with pytest.raises((ValueError, TypeError)):
        event_rows(raw)


def test_given_a_batch_with_bad_events_when_converted_then_only_the_bad_ones_are_set_aside() -> None:
    good = served()
    loading, tokens, bad = _convert([good, b"{", good])
    assert len(loading) == len(tokens) == 2 and bad == [b"{"]
