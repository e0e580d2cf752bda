"""The manifest of a selective answer is bounded at any catalog size, and recall is kept.

A generated 2,000-agent catalog (``agentload.measure.synthetic``) is far over the manifest budget:
every precomputed selection and every scenario of its ground-truth suites (derived from the
bundled suites) must carry a manifest within ``manifest_budget_tokens``, counted exactly, that
readers rebuild from the stored ids, and the suites' recall must be what the 10-agent catalog
gets. The bundled trees stay under the budget: their manifests list every other agent.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from _fixtures import BUNDLED, REQUESTS, STRUCTURED, bundled_catalog, bundled_selector, read_suite

from agentload.catalog import Catalog, load_catalog
from agentload.context import Context
from agentload.keys import FULL_KEY
from agentload.measure.synthetic import make_synthetic_catalog, recalled, synthetic_suites
from agentload.publish.contexts import iter_selections
from agentload.selection.engine import SelectionConfig, Selector
from agentload.selection.manifest import HEADER, render_bounded
from agentload.selection.search import LineSearch
from agentload.tokens import count_tokens

N_AGENTS = 2000


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return load_catalog(make_synthetic_catalog(BUNDLED, tmp_path_factory.mktemp("big") / "cat", N_AGENTS))


@pytest.fixture(scope="module")
def big_selector(big: Catalog) -> Selector:
    return Selector(big)


@pytest.fixture(scope="module")
def suites() -> dict[str, list[dict[str, Any]]]:
    return synthetic_suites(BUNDLED, N_AGENTS, read_suite(STRUCTURED), read_suite(REQUESTS))


def _check_manifest(selector: Selector, manifest: str, tokens: int, listed: list[str] | None) -> None:
    budget = selector.config.manifest_budget_tokens
    assert listed is not None and len(listed) <= selector.config.manifest_candidates
    assert tokens == count_tokens(manifest) <= budget
    assert manifest == render_bounded(selector.manifest.lines, listed, selector.manifest.summary)


def test_given_2000_agents_when_precomputing_then_every_manifest_is_within_the_budget(big_selector: Selector) -> None:
    assert big_selector.manifest.bounded and big_selector.manifest.full_tokens > 20 * 1500
    n = 0
    for key, sel in iter_selections(big_selector):
        if key == FULL_KEY:
            assert sel.manifest == "" and len(sel.agents) == N_AGENTS
            continue
        _check_manifest(big_selector, sel.manifest, sel.manifest_tokens, sel.manifest_ids)
        assert len(sel.agents) <= big_selector.config.max_selected_agents
        n += 1
    assert n > 2000  # thousands of distinct contexts, each one bounded


def test_given_2000_agents_when_answering_the_suites_then_recall_is_kept_and_answers_stay_small(
    big_selector: Selector, suites: dict[str, list[dict[str, Any]]]
) -> None:
    real = bundled_catalog().agents
    small = bundled_selector()
    own = {sc["id"] for sc in read_suite(STRUCTURED) + read_suite(REQUESTS)}  # the suites' own lines
    for name, lines in suites.items():
        hits = 0
        for sc in lines:
            sel = big_selector.select(Context(**sc["context"]))
            _check_manifest(big_selector, sel.manifest, sel.manifest_tokens, sel.manifest_ids)
            assert sel.context_tokens < 3000, (sc["id"], sel.context_tokens)
            hits += recalled(sc, sel.agent_ids, real)
        mine = [sc for sc in lines if sc["id"] in own]
        on_ten = sum(set(sc["required_agents"]) <= set(small.select(Context(**sc["context"])).agent_ids)
                     for sc in mine)
        assert mine and hits / len(lines) >= on_ten / len(mine), name  # as good as on the 10-agent catalog
    assert len(suites["structured"]) == 4 * len(read_suite(STRUCTURED))  # and asked on 3 path copies each


def test_given_a_tight_budget_when_listing_then_lines_stop_at_the_budget(big: Catalog) -> None:
    selector = Selector(big, replace(SelectionConfig(), manifest_budget_tokens=300, manifest_candidates=50))
    sel = selector.select(Context(track="bmad-method-s003", field_type="greenfield", phase=2))
    assert sel.manifest_ids is not None and 0 < len(sel.manifest_ids) < 50
    assert sel.manifest_tokens == count_tokens(sel.manifest) <= 300
    assert selector.manifest.overflowed  # the budget, not the count, ended the listing


def test_given_bounded_manifest_when_reading_it_then_it_names_what_is_left_and_how_to_find_it(
    big_selector: Selector,
) -> None:
    sel = big_selector.select(Context(request="write the product requirements"))
    lines = sel.manifest.splitlines()
    assert lines[0] == HEADER and all(line.startswith("- ") for line in lines[1:1 + len(sel.manifest_ids or [])])
    summary = big_selector.manifest.summary
    assert sel.manifest.endswith(summary) and "search_catalog" in summary and f"{N_AGENTS:,} agents" in summary
    assert "- bmm: 1,999 agents" in summary and "- core: 1 agent" in summary
    # the request's own ranking comes first: product managers, the loaded one excepted
    listed = sel.manifest_ids or []
    assert listed and all(a.startswith("pm") for a in listed[:5]) and not set(listed) & set(sel.agent_ids)


def test_given_bundled_trees_when_selecting_then_the_manifest_lists_every_other_agent() -> None:
    selector = bundled_selector()
    assert not selector.manifest.bounded
    sel = selector.select(Context(track="bmad-method", field_type="greenfield", next_workflow="prd"))
    assert sel.manifest_ids is None
    assert (sel.manifest, sel.manifest_tokens) == selector.manifest.text(frozenset(sel.agent_ids))
    assert len(sel.manifest.splitlines()) == len(selector.catalog.agents) - len(sel.agents) + 1


def test_given_a_catalog_over_the_budget_when_searching_its_lines_then_any_agent_is_found(
    big_selector: Selector,
) -> None:
    index = LineSearch(big_selector.manifest.lines)
    assert index.search("tea-1007", 3)[0][0] == "tea-1007"  # an id finds its own line first
    found = [a for a, _ in index.search("ux designer", 20)]
    assert len(found) == 20 and all(a.startswith("ux-designer") for a in found)
    assert index.search("zzzqqq", 5) == [] and index.search("pm", 0) == []
