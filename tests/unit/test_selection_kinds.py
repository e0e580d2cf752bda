"""The kinds of free-text failure named in issue 12, each on requests written here.

None of these requests is a line of a scenario suite. Each test says which kind it covers.
Kinds that need a stronger sentence model than the one bundled (paraphrases with no word in
common with the catalog) are kept as strict ``xfail``: they document the gap and fail loudly
once it closes.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest
from _fixtures import bundled_selector

from agentload.catalog import load_catalog
from agentload.context import Context
from agentload.selection.engine import Selector
from agentload.selection.focus import SIDE_WEIGHT, term_weights
from agentload.selection.text_pick import ask_clauses
from agentload.selection.tokenize import tokenize

LAYOUTS = Path(__file__).resolve().parents[2] / "data" / "bmad-layouts"


@lru_cache(maxsize=4)
def layout(name: str) -> Selector:
    return Selector(load_catalog(LAYOUTS / name))


def agents(request: str, selector: Selector | None = None, **context: object) -> set[str]:
    sel = selector or bundled_selector()
    return set(sel.select(Context(request=request, **context)).agent_ids)  # type: ignore[arg-type]


def weight(text: str, word: str) -> float:
    return term_weights(text, lambda t: True)[tokenize(word)[0]]


# --- the focus of a request ---------------------------------------------------------------------


def test_given_ask_with_setting_after_a_preposition_when_weighed_then_setting_counts_half() -> None:
    text = "Draft the onboarding plan for our pet-sitting app"
    assert weight(text, "plan") == 1.0
    assert weight(text, "app") == SIDE_WEIGHT


def test_given_statement_before_the_ask_when_weighed_then_statement_counts_half() -> None:
    text = "The billing tests are failing, fix the invoice rounding"
    assert weight(text, "billing") == SIDE_WEIGHT and weight(text, "rounding") == 1.0


def test_given_head_without_catalog_words_when_weighed_then_phrase_after_it_is_the_ask() -> None:
    def known(term: str) -> bool:
        return term == tokenize("roadmap")[0]

    weights = term_weights("help me with the roadmap for the launch", known)
    assert weights[tokenize("roadmap")[0]] == 1.0 and weights[tokenize("launch")[0]] == SIDE_WEIGHT


def test_given_only_statements_when_weighed_then_they_are_the_ask() -> None:
    assert weight("the signup page is broken on tablets", "signup") == 1.0


def test_given_two_objects_of_one_verb_when_split_then_each_keeps_the_verb() -> None:
    assert ask_clauses("sketch the screens and the data model") == ["sketch the screens", "sketch the data model"]


# --- kind 3: a side word beats the ask ------------------------------------------------------------


@pytest.mark.parametrize(("request_text", "wanted"), [
    ("Write the architecture doc for the checkout flow UI", "architect"),
    ("Draft the product brief for our testing-tools startup", "analyst"),
    ("Draft the PRD for our grocery delivery mobile app", "pm"),
    ("Finish story 3.1, two integration tests fail, make them pass", "dev"),
])
def test_given_ask_with_a_side_word_of_another_agent_when_selecting_then_the_ask_wins(
        request_text: str, wanted: str) -> None:
    assert wanted in agents(request_text)


def test_given_v4_ask_after_a_preposition_when_selecting_then_the_asked_role_is_loaded() -> None:
    assert "pm" in agents("Bitte schreib das PRD für unseren Onlineshop", layout("v4.44.3-installed"))


# --- kind 4: background and vague asks ------------------------------------------------------------


def test_given_background_naming_other_roles_when_selecting_then_the_ask_is_loaded() -> None:
    got = agents("The mockups are done and QA is happy. Now write the PRD.", layout("v4.44.3-installed"))
    assert "pm" in got


def test_given_vague_implementation_ask_when_selecting_then_the_implementer_is_among_them() -> None:
    assert "dev" in agents("Implement the shopping-cart story")


def test_given_background_then_an_ask_when_selecting_then_few_agents() -> None:
    got = agents("Compliance asked about SOC2 last week and the mockups are finished. Anyway, please draft the PRD.")
    assert "pm" in got and len(got) <= 2


# --- kind 5: structured context and text ----------------------------------------------------------


def test_given_phase_and_a_build_request_when_selecting_then_text_adds_an_agent_the_path_lacks() -> None:
    path_only = set(bundled_selector().select(Context(track="bmad-method", field_type="greenfield",
                                                      phase=4)).agent_ids)
    got = agents("code the payment webhook from story 3.2", track="bmad-method", field_type="greenfield", phase=4)
    assert "dev" in got and path_only < got


def test_given_phase_and_two_objects_when_selecting_then_both_owners_are_loaded() -> None:
    got = agents("design the screens and the system architecture", phase=2)
    assert {"ux-designer", "architect"} <= got


# --- kind 6: multi-step requests ------------------------------------------------------------------


@pytest.mark.parametrize(("request_text", "wanted"), [
    ("First write the epics; once that is done plan the sprint", {"pm", "sm"}),
    ("1. write the epics 2. plan the sprint", {"pm", "sm"}),
    ("1. brainstorm feature ideas 2. write the product brief 3. create the PRD", {"analyst", "pm"}),
    ("First plan the sprint, after that implement the first story", {"sm", "dev"}),
])
def test_given_steps_for_different_roles_when_selecting_then_each_step_has_its_owner(
        request_text: str, wanted: set[str]) -> None:
    assert wanted <= agents(request_text)


def test_given_steps_in_skills_layout_when_selecting_then_each_step_has_its_skill() -> None:
    sel = layout("v6.12.0-installed")
    got = sel.select(Context(request="First write the PRD, once that is done create the architecture"))
    owners = {o for s in got.skills for o in s.owners}
    assert len(got.skills) >= 2 and len(owners) >= 2


# --- kind 7: the whole team -----------------------------------------------------------------------


def test_given_question_to_the_whole_team_when_selecting_then_only_the_orchestrator() -> None:
    sel = bundled_selector()
    got = agents("I'd like all of you to weigh in on whether we should drop IE support")
    assert got == {sel.orchestrator}


def test_given_whole_team_in_skills_layout_when_selecting_then_its_team_skill_and_no_side_skills() -> None:
    sel = layout("v6.12.0-installed")
    got = sel.select(Context(request="let's get everybody together to argue about dark mode"))
    assert [s.id for s in got.skills] == [sel.team.team_item]


# --- kind 8: a track alone ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["v4.44.3-installed", "v6.12.0-installed"])
def test_given_only_a_track_when_selecting_then_the_agents_of_its_first_work(name: str) -> None:
    sel = layout(name)
    for track in sel.resolver.tracks:
        got = sel.select(Context(track=track.aliases[0], field_type="greenfield"))
        assert got.agents and all(r.rule.startswith("path:") for a in got.agents for r in a.reasons)


def test_given_bundled_track_alone_when_selecting_then_first_phase_owners() -> None:
    sel = bundled_selector()
    path = next(p for p in sel.catalog.paths if p.track == "bmad-method" and p.field_type == "greenfield")
    first = {w.agent for w in path.phases[0].workflows if w.agent}
    assert set(sel.select(Context(track="bmad-method", field_type="greenfield")).agent_ids) <= first


# --- kind 9: other languages ----------------------------------------------------------------------


@pytest.mark.parametrize(("request_text", "wanted"), [
    ("Erstelle bitte die Architektur für unseren Onlineshop", "architect"),
    ("Rédige le PRD pour notre application", "pm"),
    ("Organiza una sesión de brainstorming para el producto", "analyst"),
    ("Planifie le prochain sprint", "sm"),
])
def test_given_request_in_another_language_sharing_a_term_when_selecting_then_found(
        request_text: str, wanted: str) -> None:
    assert wanted in agents(request_text)


# --- kinds 1 and 2: paraphrase with no catalog word (known gap of the bundled model) ---------------

_MODEL_GAP = "all-MiniLM-L6-v2 does not relate this paraphrase to the catalog's words (issue 12, kinds 1-2, 9)"


def test_given_design_question_in_the_catalogs_words_when_selecting_then_architect() -> None:
    assert "architect" in agents("The monolith can't keep up with peak load anymore, what should we split "
                                 "out and how do the pieces talk?")


def test_given_market_question_without_the_word_research_when_selecting_then_analyst() -> None:
    assert "analyst" in agents("Who else sells subscription boxes for dog food, and how big is that market?")


def test_given_docs_ask_without_the_word_documentation_when_selecting_then_tech_writer() -> None:
    assert "tech-writer" in agents("Put together a page explaining how our API works for outside developers")


@pytest.mark.xfail(strict=True, reason=_MODEL_GAP)
@pytest.mark.parametrize(("request_text", "wanted"), [
    ("Our checkout calls five services in a row and times out under load; how should we restructure the calls?",
     "architect"),
    ("We need to pick between a message queue and plain HTTP calls between our backend pieces", "architect"),
    ("Should the mobile client talk to the database directly or go through something in between?", "architect"),
    ("Look over my diff and tell me what's wrong with it before I ship", "dev"),
    ("Bitte überprüfe meinen Code vor dem Merge", "dev"),
])
def test_given_paraphrase_without_catalog_words_when_selecting_then_owner_found(
        request_text: str, wanted: str) -> None:
    assert wanted in agents(request_text)
