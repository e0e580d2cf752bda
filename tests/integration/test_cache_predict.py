"""The transition model and predictive warming against a real Redis."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from agentload import keys
from agentload.catalog import load_catalog
from agentload.context import Context
from agentload.publish.predict import path_next, predicted_contexts, warm_for_project
from agentload.publish.publish import publish_catalog
from agentload.reader.transitions import likely_next, observe, observe_project
from agentload.selection.engine import Selector

BUNDLED = Path(__file__).resolve().parents[2] / "data" / "bmad-method-v6"
METHOD_GREEN = "src/modules/bmm/workflows/workflow-status/paths/method-greenfield.yaml"


@pytest.fixture(scope="module")
def selector() -> Selector:
    return Selector(load_catalog(BUNDLED))


def test_given_histories_when_observing_then_transitions_are_counted(redis_client: redis.Redis) -> None:
    assert observe(redis_client, ["Product Brief", "prd", "prd", "create-architecture"]) == 2
    assert observe(redis_client, ["product-brief", "prd"]) == 1
    assert observe(redis_client, ["prd"]) == 0
    assert redis_client.hgetall(keys.TRANSITIONS) == {"product-brief|prd": "2", "prd|create-architecture": "1"}
    observe(redis_client, ["prd", "create-ux-design"])
    observe(redis_client, ["prd", "create-ux-design"])
    ranked = likely_next(redis_client, "PRD", k=5)
    assert [w for w, _ in ranked] == ["create-ux-design", "create-architecture"]
    assert sum(p for _, p in ranked) == pytest.approx(1.0)
    assert likely_next(redis_client, "prd", k=1) == [("create-ux-design", pytest.approx(2 / 3))]
    assert likely_next(redis_client, "never-seen") == []
    assert likely_next(redis_client, "a*b[c]") == []  # glob characters are matched literally


def test_given_resent_history_when_observing_a_project_then_each_step_counts_once(
    redis_client: redis.Redis, selector: Selector
) -> None:
    aliases = selector.resolver.aliases
    assert observe_project(redis_client, "p1", ["product-brief", "prd"], aliases=aliases) == 1
    assert observe_project(redis_client, "p1", ["product-brief", "prd"], aliases=aliases) == 0
    assert observe_project(redis_client, "p1", ["product-brief", "prd", "create-architecture"],
                           aliases=aliases) == 1
    assert redis_client.hget(keys.TRANSITIONS, "product-brief|prd") == "1"
    # another caller reporting a prefix (the worker, without the next workflow) adds nothing
    assert observe_project(redis_client, "p1", ["product-brief"], aliases=aliases) == 0
    assert observe_project(redis_client, "p1", ["product-brief", "prd", "create-architecture",
                                                 "create-epics-and-stories"], aliases=aliases) == 1
    # a history that diverges counts from where it differs; a reset counts anew
    assert observe_project(redis_client, "p1", ["product-brief", "prd", "create-ux-design"],
                           aliases=aliases) == 1
    assert observe_project(redis_client, "p1", ["research", "prd"], aliases=aliases) == 1
    assert redis_client.hget(keys.TRANSITIONS, "product-brief|prd") == "1"
    assert observe_project(redis_client, "p2", [], aliases=aliases) == 0


def test_given_paths_when_asking_for_the_next_step_then_the_path_order_is_the_prior(selector: Selector) -> None:
    assert path_next(selector.resolver, [METHOD_GREEN], "prd") == ["create-ux-design"]
    assert path_next(selector.resolver, [METHOD_GREEN], "sprint-planning") == []
    assert "create-ux-design" in path_next(selector.resolver, [], "prd")


def test_given_context_when_predicting_then_observed_and_path_successors_are_offered(
    redis_client: redis.Redis, selector: Selector
) -> None:
    observe(redis_client, ["prd", "create-architecture"])
    ctx = Context(track="bmad-method", field_type="greenfield", next_workflow="prd",
                  workflow_history=["product-brief"], request="write the prd")
    nexts = predicted_contexts(redis_client, selector, ctx)
    assert [c.next_workflow for c in nexts] == ["create-architecture", "create-ux-design"]
    assert all(c.request is None and c.workflow_history == ["product-brief", "prd"] for c in nexts)
    # no next workflow given: the resolver infers it from the history; predict the step after it
    from_history = predicted_contexts(redis_client, selector, Context(workflow_history=["prd"]))
    assert [(c.workflow_history, c.next_workflow) for c in from_history] == [
        (["prd", "create-architecture"], "create-epics-and-stories")]
    assert predicted_contexts(redis_client, selector, Context(request="hello")) == []


def test_given_partial_preload_when_warming_then_missing_next_selections_are_stored(
    redis_client: redis.Redis, selector: Selector
) -> None:
    v = publish_catalog(redis_client, selector.catalog, selector, ttl_old_s=60)["version"]
    observe(redis_client, ["prd", "create-architecture"])
    ctx = Context(track="bmad-method", field_type="greenfield", next_workflow="prd")
    targets = [selector.resolve(c).key() for c in predicted_contexts(redis_client, selector, ctx)]
    redis_client.delete(*(keys.selection_key(v, k) for k in targets))
    warm = warm_for_project(redis_client, selector, v, ctx, ttl_s=60)
    assert warm["warmed"] == len(targets) and warm["present"] == 0
    assert all(redis_client.exists(keys.selection_key(v, k)) for k in targets)
    again = warm_for_project(redis_client, selector, v, ctx, ttl_s=60)
    assert again["warmed"] == 0 and again["present"] == len(targets)
