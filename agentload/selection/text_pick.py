"""The confidence rule on top of the text index.

One agent when one clearly wins. A second (or third) only when the first is uncertain: a
candidate within ``text_close_ratio`` of the best is loaded when it nearly ties it (within
``text_tie_ratio``) or when one signal alone, the words (BM25) or the meaning (similarity),
ranks it first; a runner-up that both signals put behind the winner is left to the manifest,
where it costs a line rather than a definition. A request that chains several asks ("do X,
then Y") is split into clauses and each clause contributes its own winner. The user's role is
a prior: a small multiplicative boost for agents whose title/role matches it, never an override.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from agentload.catalog import Catalog
from agentload.catalog.glossary import expand
from agentload.selection.focus import is_statement, segments, term_weights
from agentload.selection.lexicon import expansions
from agentload.selection.models import Reason
from agentload.selection.semantic import SemanticIndex
from agentload.selection.text_index import TextIndex
from agentload.selection.tokenize import tokenize

if TYPE_CHECKING:
    from agentload.selection.engine import SelectionConfig

ROLE_PRIOR = 0.15
EXPANSION_WEIGHT = 0.5
CLAUSE_FLOOR = 0.35  # a clause's winner scores this fraction of the whole request's best,
CLAUSE_MARGIN = 1.5  # or clearly beats the clause's runner-up
_CLAUSES = re.compile(
    r"(?:,?\s*\b(?:and\s+then|then|after\s+that(?:'s|\s+is)?(?:\s+(?:done|settled|finished))?|afterwards|"
    r"once\s+(?:that|this|it)(?:'s|\s+is)?\s+(?:done|settled|finished|ready)|when\s+(?:that|this)(?:'s|\s+is)?\s+"
    r"(?:done|settled|finished)|und\s+dann|dann|danach|puis|ensuite|luego|despu[eé]s|before\s+that|and\s+also|"
    r"plus)\b\s*|;\s*|\.\s+|\s\d[.)]\s)",
    re.I,
)
MIN_CLAUSE_TERMS = 2
RANKED = 64  # agents a request ranks for the manifest (its bound lists fewer)


_NEGATED = re.compile(
    r"\b(?:no|not|without|skip(?:ping)?|don'?t (?:need|want)|ohne|kein\w*|sans|sin)\s+(?:the\s+|any\s+|a\s+)?"
    r"([\w/.-]+(?:\s+[\w/.-]+)?)", re.I)
_MARKDOWN_FILE = re.compile(r"\b[\w-]+\.md\b", re.I)


def without_negated(text: str) -> str:
    """The request without what it says it does not want ("no PRD/story ceremony", "no docs"),
    and with a named Markdown file read as documentation ("CONTRIBUTING.md")."""
    text = _NEGATED.sub(" ", text)
    return _MARKDOWN_FILE.sub(lambda m: f"{m.group(0)} documentation", text)


_SENTENCE = re.compile(r"(?<=[.;])\s+")
_STEPS = re.compile(_CLAUSES.pattern.replace(r"|;\s*|\.\s+", ""), re.I)


def ask_clauses(text: str) -> list[str]:
    """The steps a request asks for: the parts joined by sequence words ("then", "once that
    is done", "1. ... 2. ..."), each reduced to its last sentence that is no statement (the
    last sentence when all are) and its questions. "Epic 1 is wrapped. Let's do a retro" asks
    for a retrospective only, and "Spec the checkout screens. The PRD is in docs/" for the
    screens: the statements set the scene and are left to the whole-request ranking."""
    out: list[str] = []
    for step in (p.strip() for p in _STEPS.split(text) if p and p.strip()):
        if len(tokenize(step)) < MIN_CLAUSE_TERMS:
            continue
        sentences = [x.strip() for x in _SENTENCE.split(step) if tokenize(x)]
        last = max((i for i, x in enumerate(sentences) if not is_statement(x)), default=len(sentences) - 1)
        asks = [x for i, x in enumerate(sentences) if i == last or "?" in x]
        for ask in asks or [step]:
            out += _objects(ask)
    return out or [text]


_AND_OBJECT = re.compile(r"\s+(?:and|&|as well as|plus|und|et|y)\s+(?=(?:the|a|an|our|my|its|their|some|die|der|das|"
                         r"den|le|la|les|el|los|las)\s)", re.I)


def _objects(ask: str) -> list[str]:
    """"plan the UX and the architecture" asks for two things: one clause per object, each with
    the ask's verb (its first word)."""
    parts = [p.strip() for p in _AND_OBJECT.split(ask) if p.strip()]
    if len(parts) < 2:
        return [ask]
    verb = parts[0].split()[0]
    return [parts[0]] + [f"{verb} {p}" for p in parts[1:]]


def split_clauses(text: str) -> list[str]:
    """Parts of a request that ask for different things (sequence words, sentences)."""
    parts = [p.strip() for p in _CLAUSES.split(text) if p and p.strip()]
    return [p for p in parts if len(tokenize(p)) >= MIN_CLAUSE_TERMS] or [text]


@dataclass
class TextPicks:
    picks: dict[str, list[Reason]] = field(default_factory=dict)
    ambiguous: bool = False
    ranked: list[str] = field(default_factory=list)  # best-scoring agents, best first (manifest candidates)


class TextSelector:
    def __init__(self, catalog: Catalog, config: SelectionConfig) -> None:
        self.index = TextIndex(catalog)
        self.config = config
        self.acronyms = catalog.acronyms
        self.semantic = SemanticIndex.build(catalog, self.index.ids) if config.semantic_weight > 0 else None

    def rank(self, text: str, role: str | None) -> np.ndarray:
        """Fused score per agent (``index.ids`` order) for ``text``, with the role prior."""
        return self._rank(text, role)[0]

    def _rank(self, text: str, role: str | None) -> tuple[np.ndarray, set[int]]:
        """(``rank``'s scores, the agents that one signal alone ranks first: the words, the meaning)."""
        text = without_negated(text)
        scores = self.index.scores(text, term_weights(text, self.index.knows))
        for segment, weight in segments(text, self.index.knows):  # implied words weigh as their segment does
            extra = f"{expansions(segment)} {expand(segment, self.acronyms)}".strip()
            if extra:
                scores = scores + EXPANSION_WEIGHT * weight * self.index.scores(extra)
        winners = {int(scores.argmax())} if len(scores) else set()
        if self.semantic is not None:
            scores = self.semantic.fuse(text, scores, self.config.semantic_weight, self.config.text_min_score)
            winners.add(int(self.semantic.similarity(text).argmax()))
        if role:
            prior = self.index.field_scores(role.replace("-", " ").replace("_", " "), "name")
            if prior.max() > 0:
                scores = scores * (1.0 + ROLE_PRIOR * prior / prior.max())
        return scores, winners

    def _one_per_work(self, text: str, close: list[int]) -> list[int]:
        """Close candidates, less those whose best match is work a better-ranked candidate also
        runs (a task on several menus): one agent that can run it is enough."""
        work = self.index.best_work(text, close)
        seen: set[str] = set()
        kept = []
        for i in close:
            if work[i] is None or work[i] not in seen:
                kept.append(i)
            if work[i] is not None:
                seen.add(work[i])  # type: ignore[arg-type]
        return kept

    def select(self, text: str, role: str | None, structured: int,
               have: frozenset[str] = frozenset()) -> TextPicks:
        """Agents the request asks for, with their scores; empty when nothing is confident.

        ``structured`` says how much the path files already decided: 0 nothing, 1 a phase
        (the request's best agent is added), 2 an explicit next workflow (only agents that
        win a clause of a multi-part request are added); ``have`` are the agents the path
        picked, so a close candidate they lack is added rather than one they already hold, and
        structured context and text do not silence each other. Of the close candidates, those
        after the best are loaded only when it is uncertain (module docstring). ``ambiguous`` is
        set when more candidates are close than may be loaded: the request is about the team as
        a whole, which is the orchestrator's job.
        """
        cfg = self.config
        out = TextPicks()
        clauses = ask_clauses(text)
        if self.semantic is not None:  # the request and its steps in one forward pass of the model
            self.semantic.prepare([without_negated(t) for t in [text, *clauses]])
        whole, winners = self._rank(text, role)
        top = float(whole.max(initial=0.0))
        best = np.argpartition(-whole, RANKED - 1)[:RANKED] if len(whole) > RANKED else np.arange(len(whole))
        out.ranked = [self.index.ids[int(i)] for i in sorted(best, key=lambda i: -whole[i]) if whole[i] > 0]
        if top < cfg.text_min_score:
            return out
        order = np.argsort(-whole)
        close = [int(i) for i in order[whole[order] >= cfg.text_close_ratio * top]]
        limit = (cfg.text_max_agents, 1, 0)[min(structured, 2)]
        close = self._one_per_work(text, close)
        if structured:  # the path already loaded some agents: the text adds its best other one
            close = [i for i in close if self.index.ids[i] not in have] or close
        out.ambiguous = len(close) > cfg.text_max_agents
        # a second agent only when the first is uncertain: nearly tied, or one signal alone prefers it
        close = close[:1] + [i for i in close[1:] if whole[i] >= cfg.text_tie_ratio * top or i in winners]
        for i in close[:limit]:
            out.picks[self.index.ids[i]] = [Reason(rule="text:bm25", score=round(float(whole[i]), 3),
                                                   detail=f"{whole[i] / top:.2f} of best")]
        if clauses != [text]:  # several steps, or an ask after some background
            for clause, agent, score in self._clause_winners(clauses, role, top):
                out.picks.setdefault(self.index.ids[agent], []).append(
                    Reason(rule="text:clause", score=round(score, 3), detail=clause[:80]))
        return out

    def _clause_winners(self, clauses: list[str], role: str | None, top: float) -> list[tuple[str, int, float]]:
        """(clause, agent index, score) for each clause with a confident winner. Steps that
        all go to one agent while one of them has a close runner-up ("draft the epics; then
        plan the sprint") give that step to the runner-up: distinct steps, distinct owners
        when the scores allow it."""
        cfg = self.config
        found: list[tuple[str, npt.NDArray[np.float64], npt.NDArray[np.intp]]] = []
        for clause in clauses:
            scores = self.rank(clause, role)
            rank = np.argsort(-scores)  # kept as an array: only its head is read
            best = int(rank[0])
            second = float(scores[rank[1]]) if len(rank) > 1 else 0.0
            strong = scores[best] >= CLAUSE_FLOOR * top or scores[best] >= CLAUSE_MARGIN * second
            if scores[best] >= cfg.text_min_score and strong:
                found.append((clause, scores, rank))
        winners = [int(rank[0]) for _, _, rank in found]
        for shared in {w for w in winners if winners.count(w) > 1}:
            options = []
            for k, (_, scores, rank) in enumerate(found):
                if rank[0] != shared:
                    continue
                alt = next((int(i) for i in rank[1:] if int(i) not in winners), None)
                if alt is not None and scores[alt] >= cfg.text_close_ratio * scores[shared]:
                    options.append((float(scores[alt] / scores[shared]), k, alt))
            if options:
                _, k, alt = max(options)
                winners[k] = alt
        return [(clause, w, float(scores[w])) for (clause, scores, _), w in zip(found, winners, strict=True)]
