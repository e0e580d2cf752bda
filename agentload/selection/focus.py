"""The focus of a request: which of its words name the work asked for, and which set the scene.

BM25 adds up every matching word, so a rare side word outweighs the ask: in "Write the PRD for
our mobile banking app" the word "app" (in one work item's name, description and text) beat
"PRD" (mentioned by many work items as their input). People put the ask first and the setting
after a preposition ("for our app", "from story 4.1", "about offline mode") or in statements
around it ("the designs are done", "the tests are red"). Words there keep half their weight;
the ranking is otherwise unchanged (all words halved = same order).

Only English, German, French and Spanish function words are fixed here (prepositions, forms of
"to be", subject pronouns and numbers that open a report); they name no agent, workflow or
catalog. ``known`` says which words the catalog indexes: a head with none of them ("help me
with the PRD") is no ask, so the phrase after its first preposition is read as the object.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from agentload.selection.tokenize import tokenize

SIDE_WEIGHT = 0.5
MIN_ASK_TERMS = 2
_SEGMENT = re.compile(r"(?<=[.;:!?])\s+|,\s+|\s+[-\u2013\u2014]\s+|\s*\n\s*")
_PREPOSITION = re.compile(
    r"\b(?:for|about|from|on|in|into|with|at|by|regarding|per|across|within|für|über|mit|von|bei|"
    r"pour|sur|avec|dans|para|sobre|con|en)\b", re.I)
_STATEMENT = re.compile(r"\b(?:is|are|was|were|has been|have been|keeps?|kept|ist|sind|war|waren|est|sont|"
                        r"es|está|están|son)\b|\w(?:'s|'re)\b", re.I)
_SUBJECT = re.compile(r"^\s*(?:i|we|they|it|he|she|you|two|three|four|five|several|many|most|some|all|"
                      r"\d+(?:x|%)?)\s+\w", re.I)  # a subject first: it reports ("two tests fail")
_OPENING = re.compile(r"^\s*(?:please|pls|can|could|would|will|let'?s|i need|we need|i want|we want|help)\b",
                      re.I)


def _segment_weights(segment: str, known: Callable[[str], bool]) -> list[tuple[str, float]]:
    """(term, weight) for one segment: head words 1, words after its first preposition half,
    unless the head names nothing the catalog knows."""
    cut = _PREPOSITION.search(segment)
    if cut is None:
        return [(t, 1.0) for t in tokenize(segment)]
    head = tokenize(segment[:cut.start()])
    tail = tokenize(segment[cut.end():])
    if not any(known(t) for t in head):  # "help me with the PRD": the object comes after it
        rest = _PREPOSITION.search(segment, cut.end())
        end = rest.start() if rest else len(segment)
        head, tail = head + tokenize(segment[cut.end():end]), tokenize(segment[end:]) if rest else []
    return [(t, 1.0) for t in head] + [(t, SIDE_WEIGHT) for t in tail]


def segments(text: str, known: Callable[[str], bool]) -> list[tuple[str, float]]:
    """The request's segments (sentences, comma parts) with their weight: 1.0 for an ask,
    ``SIDE_WEIGHT`` for a statement. Statements are the ask when nothing else is, or when the
    asks name fewer than ``MIN_ASK_TERMS`` words the catalog knows ("... screen readers don't
    announce errors. rethink the whole flow": the statement says what to rethink)."""
    parts = [s for s in _SEGMENT.split(text) if s and s.strip()]
    asks = [not is_statement(s) for s in parts]
    named = {t for s, ask in zip(parts, asks, strict=True) if ask for t in tokenize(s) if known(t)}
    if len(named) < MIN_ASK_TERMS:
        asks = [True] * len(parts)
    return [(s, 1.0 if ask else SIDE_WEIGHT) for s, ask in zip(parts, asks, strict=True)]


def term_weights(text: str, known: Callable[[str], bool]) -> dict[str, float]:
    """Weight per stemmed term of ``text``: 1.0 for the ask, ``SIDE_WEIGHT`` for the setting
    (a statement, or a phrase after a preposition); a term in several places keeps its highest."""
    out: dict[str, float] = {}
    for segment, scale in segments(text, known):
        for term, w in _segment_weights(segment, known):
            out[term] = max(out.get(term, 0.0), min(w, scale))
    return out


def is_statement(segment: str) -> bool:
    """A segment that reports a state ("the unit tests are red") rather than asking."""
    if "?" in segment or _OPENING.match(segment):
        return False
    return bool(_STATEMENT.search(segment) or _SUBJECT.match(segment))
