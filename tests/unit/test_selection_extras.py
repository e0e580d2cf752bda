"""Extra agents (issue 12, kinds 4 and 7), each on requests written here, none a suite line.

A second agent is loaded only when the first is uncertain (a near tie, or one signal alone
prefers the runner-up); a question to the team or about whom to ask gets one router, not every
router or specialist a word matched; a closing statement is background, not a step; a negated
"X/Y" drops both.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from agentload.catalog import load_catalog
from agentload.context import Context
from agentload.selection.engine import SelectionConfig, Selector
from agentload.selection.text_pick import ask_clauses, without_negated
from agentload.selection.tokenize import tokenize

V4 = Path(__file__).resolve().parents[2] / "data" / "bmad-layouts" / "v4.44.3-installed"


@lru_cache(maxsize=4)
def v4(tie: float | None = None, semantic: float | None = None) -> Selector:
    config = SelectionConfig()
    if tie is not None:
        config.text_tie_ratio = tie
    if semantic is not None:
        config.semantic_weight = semantic
    return Selector(load_catalog(V4), config)


def agents(request: str, selector: Selector | None = None) -> set[str]:
    return set((selector or v4()).select(Context(request=request)).agent_ids)


# --- a second agent only when the first is uncertain -----------------------------------------------


@pytest.mark.parametrize(("request_text", "wanted"), [
    ("Draft the next user story for the payments epic", "sm"),
    ("Validate the story draft for 3.1 before the developers start", "po"),
])
def test_given_close_runner_up_no_signal_prefers_when_selecting_then_only_the_winner(
        request_text: str, wanted: str) -> None:
    every_close = agents(request_text, v4(tie=0.0))  # the tie rule off: every close candidate loads
    got = agents(request_text)
    assert got == {wanted} and got < every_close


REQUESTS = [
    "Shard the architecture document into smaller files",
    "review the architecture document for gaps",
    "Implement story 2.2 and mark it ready for review",
    "create the front end spec for the booking app",
    "Draft the next user story for the payments epic",
]


@pytest.mark.parametrize("request_text", REQUESTS)
def test_given_only_exact_ties_allowed_when_selecting_then_each_runner_up_is_a_signals_own_best(
        request_text: str) -> None:
    sel = v4(tie=1.0)
    found = sel.text.select(request_text, None, 0)
    ids = sel.text.index.ids
    fused = sel.text.rank(request_text, None)
    lexical = v4(semantic=0.0).text.rank(request_text, None)  # BM25 alone
    assert sel.text.semantic is not None
    meaning = sel.text.semantic.similarity(without_negated(request_text))
    firsts = {ids[int(np.argmax(s))] for s in (fused, lexical, meaning)}
    bm25 = {a for a, reasons in found.picks.items() if any(r.rule == "text:bm25" for r in reasons)}
    assert bm25 and bm25 <= firsts


def test_given_stricter_tie_ratio_when_selecting_then_never_more_agents_from_the_ranking() -> None:
    for request_text in REQUESTS:
        counts = [sum(any(r.rule == "text:bm25" for r in reasons)
                      for reasons in v4(tie=tie).text.select(request_text, None, 0).picks.values())
                  for tie in (0.0, 0.85, 1.0)]
        assert counts == sorted(counts, reverse=True) and counts[-1] >= 1


# --- one router for the team or for whom to ask -----------------------------------------------------


@pytest.mark.parametrize("request_text", [
    "party time: get the whole team to fight it out over the pricing page",
    "which of your workflows should I use for a brand-new mobile game with a web dashboard?",
    "who should I ask about the security review of the login flow?",
    "I just installed this. Who does what here, and where do I begin?",
])
def test_given_team_or_routing_question_in_catalog_with_two_routers_when_selecting_then_one_router(
        request_text: str) -> None:
    sel = v4()
    assert len(sel.routers) >= 2
    got = agents(request_text)
    assert len(got) == 1 and got <= set(sel.routers)


def test_given_routing_question_naming_an_agent_when_selecting_then_the_named_agent_stays() -> None:
    got = agents("which of you should take this, the architect or the UX expert?")
    assert "ux-expert" in got and len(got & set(v4().routers)) == 1


# --- background and negation --------------------------------------------------------------------------


def test_given_ask_then_a_closing_statement_when_split_then_the_ask_is_the_step() -> None:
    assert ask_clauses("Spec the checkout screens. The PRD is in docs/prd.md") == ["Spec the checkout screens."]
    assert agents("Spec the checkout screens. The PRD is in docs/prd.md") == {"ux-expert"}


def test_given_only_statements_when_split_then_the_last_one_is_the_step() -> None:
    assert ask_clauses("The PRD is done. The designs are done.") == ["The designs are done."]


def test_given_negated_slash_pair_when_reading_then_both_are_dropped() -> None:
    terms = set(tokenize(without_negated("a CSV link on the reports page. skip the whole PRD/architecture ceremony")))
    assert not terms & set(tokenize("PRD architecture"))
