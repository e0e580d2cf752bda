"""Free-text retrieval pieces: tokenizer, lexicon, clause splitting, BM25 index, confidence rule, manifest lines."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from _fixtures import bundled_catalog, bundled_selector

from agentload.catalog import Agent, Catalog
from agentload.catalog.models import MenuItem, Persona
from agentload.selection.engine import SelectionConfig
from agentload.selection.lexicon import RINGS, expansions
from agentload.selection.manifest import Manifest, manifest_line
from agentload.selection.text_index import TextIndex
from agentload.selection.text_pick import TextSelector, split_clauses
from agentload.selection.tokenize import STOPWORDS, tokenize
from agentload.tokens import count_tokens


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return bundled_catalog()


@pytest.fixture(scope="module")
def text() -> TextSelector:
    return bundled_selector().text


# --- tokenizer and lexicon ---------------------------------------------------------------------


def test_given_text_when_tokenizing_then_stopwords_and_single_letters_drop_and_stems_meet() -> None:
    assert tokenize("I want a PRD, please!") == ["prd"]
    assert tokenize("x y z") == []
    assert tokenize("architect") == tokenize("architecture") == tokenize("Architectural")
    assert tokenize("Testing tests") == [tokenize("test")[0]] * 2
    assert all(len(t) <= 7 for t in tokenize("internationalization documentation"))
    assert not {w for w in ("the", "please", "want") if tokenize(w)}
    assert "please" in STOPWORDS


@pytest.mark.parametrize(
    ("request_text", "implied"),
    [("update the docs", "documentation"), ("write specs.", "requirements"), ("a one-pager, quick", "brief"),
     ("monolith vs microservices", "architecture"), ("retro time", "retrospective")],
)
def test_given_request_with_ring_word_when_expanding_then_ring_members_are_added(
    request_text: str, implied: str
) -> None:
    extra = expansions(request_text)
    assert implied in extra.split()
    hit = next(w for ring in RINGS for w in ring if w in extra.split())
    ring = next(r for r in RINGS if hit in r)
    assert set(extra.split()) <= {part for w in ring for part in w.split()}


def test_given_request_without_ring_words_when_expanding_then_nothing_is_added() -> None:
    assert expansions("zebra crossing") == ""


def test_given_sequence_words_when_splitting_then_each_ask_is_a_clause() -> None:
    assert split_clauses("write the prd, then design the architecture") == [
        "write the prd", "design the architecture"]
    assert split_clauses("Research the market. Draft a brief") == ["Research the market", "Draft a brief"]
    assert split_clauses("erst die Anforderungen und dann die Architektur") == [
        "erst die Anforderungen", "die Architektur"]
    assert split_clauses("just one ask") == ["just one ask"]
    assert split_clauses("prd then x") == ["prd then x"]  # clauses under two content words do not count


# --- the BM25 index ----------------------------------------------------------------------------


def test_given_catalog_when_indexing_then_one_persona_unit_per_agent_plus_one_per_menu_item(
    catalog: Catalog, text: TextSelector
) -> None:
    idx = text.index
    assert idx.ids == sorted(catalog.agents)
    assert idx.n_units == len(catalog.agents) + sum(len(a.menu) for a in catalog.agents.values())
    assert int(idx.is_persona.sum()) == len(catalog.agents)
    assert idx.scores("").shape == (len(catalog.agents),) and not idx.scores("").any()
    assert not idx.scores("zzqx blorp").any()


def test_given_distinctive_menu_item_when_querying_its_name_then_owner_is_selected(
    catalog: Catalog, text: TextSelector
) -> None:
    counts = Counter(name for a in catalog.agents.values() for name in {m.name for m in a.menu})
    checked = 0
    for agent in catalog.agents.values():
        for item in agent.menu:
            if counts[item.name] == 1:
                picks = text.select(item.name.replace("-", " "), None, 0).picks
                assert agent.id in picks, (item.name, agent.id, list(picks))
                checked += 1
    assert checked > 20


def test_given_role_when_scoring_names_then_agents_titled_by_it_score(catalog: Catalog, text: TextSelector) -> None:
    scores = text.index.field_scores("architect")
    hits = {text.index.ids[i] for i in np.flatnonzero(scores)}
    assert hits and all("archite" in (catalog.agents[a].title + catalog.agents[a].persona.role).lower() for a in hits)


def test_given_role_prior_when_ranking_then_it_only_scales_existing_scores(text: TextSelector) -> None:
    plain = text.rank("review the design", None)
    boosted = text.rank("review the design", "architect")
    assert np.all(boosted >= plain - 1e-12)
    assert np.all((plain == 0) == (boosted == 0))
    assert np.all(boosted <= plain * 1.15 + 1e-9)


# --- the confidence rule -----------------------------------------------------------------------


def test_given_structured_levels_when_selecting_text_then_limits_are_three_one_zero(catalog: Catalog) -> None:
    text = TextSelector(catalog, SelectionConfig(text_tie_ratio=0.0))  # every close candidate may load
    query = "create the document"
    free = text.select(query, None, 0)
    assert len(free.picks) == 3 and not free.ambiguous
    assert len(text.select(query, None, 1).picks) == 1
    assert text.select(query, None, 2).picks == {}


def test_given_work_on_every_menu_when_selecting_text_then_one_agent_runs_it(text: TextSelector) -> None:
    query = "what is the workflow status"  # a workflow on most menus: one of its owners is enough
    found = text.select(query, None, 0)
    assert len(found.picks) == 1 and not found.ambiguous


def test_given_weak_request_when_selecting_text_then_nothing_is_confident(catalog: Catalog) -> None:
    strict = TextSelector(catalog, SelectionConfig(text_min_score=1e9))
    assert strict.select("write the prd", None, 0).picks == {}
    assert strict.select("", None, 0).picks == {}


def test_given_multi_part_request_when_selecting_text_then_each_clause_adds_its_winner(text: TextSelector) -> None:
    found = text.select("brainstorm some ideas and then write the test plan", None, 2)
    assert {"analyst", "tea"} <= set(found.picks)
    assert all(r.rule == "text:clause" for rs in found.picks.values() for r in rs)


def test_given_clear_request_when_selecting_text_then_single_agent_with_score(text: TextSelector) -> None:
    found = text.select("set up the test framework", None, 0)
    assert list(found.picks) == ["tea"]
    reason = found.picks["tea"][0]
    assert reason.rule == "text:bm25" and reason.score and reason.detail == "1.00 of best"


def test_given_tiny_catalog_when_indexing_then_agents_without_menus_still_score() -> None:
    agent = Agent(id="solo", module="m", path="p", title="Solo Poet", persona=Persona(role="writes poems"),
                  text="x", tokens=1,
                  menu=[MenuItem(trigger="*sing", name="sing", description="[SG] Sing a song",
                                 target_kind="action", target="sing loudly")])
    idx = TextIndex(Catalog(root="/r", agents={"solo": agent}))
    assert idx.n_units == 2
    assert idx.scores("poem")[0] > 0 and idx.scores("loudly")[0] > 0


# --- manifest lines ----------------------------------------------------------------------------


def _agent(aid: str, title: str, names: list[str]) -> Agent:
    return Agent(id=aid, module="m", path="p", title=title, text="", tokens=0,
                 menu=[MenuItem(trigger=n, name=n) for n in names])


def test_given_many_capabilities_when_making_manifest_line_then_capabilities_are_dropped_from_the_end() -> None:
    names = [f"capability-number-{i}" for i in range(20)]
    line = manifest_line(_agent("a", "Alpha", names), set(), 30)
    assert line.startswith("- a: Alpha | capability-number-0")
    assert count_tokens(line) <= 30 and "capability-number-19" not in line


def test_given_long_title_when_making_manifest_line_then_title_words_are_trimmed() -> None:
    title = " ".join(f"Word{i}" for i in range(60))
    line = manifest_line(_agent("a", title, []), set(), 30)
    assert line.startswith("- a: Word0") and count_tokens(line) <= 30


def test_given_common_and_long_names_when_making_manifest_line_then_they_are_left_out() -> None:
    line = manifest_line(_agent("a", "Alpha", ["status", "x" * 41, "plan", "plan"]), {"status"}, 30)
    assert line == "- a: Alpha | plan"


def test_given_no_title_when_making_manifest_line_then_persona_role_is_used() -> None:
    agent = Agent(id="a", module="m", path="p", persona=Persona(role="Keeper of lists"), text="", tokens=0)
    assert manifest_line(agent, set(), 30) == "- a: Keeper of lists"


def test_given_very_long_agent_id_when_making_manifest_line_then_line_still_fits_budget() -> None:
    aid = "-".join(f"{i:08x}{i * 7919:08x}" for i in range(1, 6))
    line = manifest_line(_agent(aid, "Title", ["plan"]), set(), 30)
    assert count_tokens(line) <= 30


def test_given_line_with_newline_when_counting_manifest_then_exact_count_is_used() -> None:
    agents = {"a": _agent("a", "Multi\nline title", ["plan"]), "b": _agent("b", "Beta", ["ship"])}
    manifest = Manifest(Catalog(root="/r", agents=agents))
    text, tokens = manifest.text(frozenset())
    assert "\nline title" in text and tokens == count_tokens(text)
    only_b, only_b_tokens = manifest.text(frozenset({"a"}))
    assert only_b.endswith(manifest.lines["b"]) and only_b_tokens == count_tokens(only_b)
