"""The confidence rule on top of the text index.

One agent when one clearly wins; more when candidates are close (within ``close_ratio`` of
the best); a request that chains several asks ("do X, then Y") is split into clauses and
each clause contributes its own winner. The user's role is a prior: a small multiplicative
boost for agents whose title/role matches it, never an override.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from agentload.catalog import Catalog
from agentload.selection.models import Reason
from agentload.selection.text import TextIndex
from agentload.selection.tokenize import tokenize

if TYPE_CHECKING:
    from agentload.selection.engine import SelectionConfig

ROLE_PRIOR = 0.15
_CLAUSES = re.compile(
    r"(?:,?\s*\b(?:and\s+then|then|after\s+that|afterwards|und\s+dann|dann|before\s+that|"
    r"and\s+also|plus)\b\s*|;\s*|\.\s+)",
    re.I,
)
MIN_CLAUSE_TERMS = 2


def split_clauses(text: str) -> list[str]:
    """Parts of a request that ask for different things (sequence words, sentences)."""
    parts = [p.strip() for p in _CLAUSES.split(text) if p and p.strip()]
    return [p for p in parts if len(tokenize(p)) >= MIN_CLAUSE_TERMS] or [text]


class TextSelector:
    def __init__(self, catalog: Catalog, config: SelectionConfig) -> None:
        self.index = TextIndex(catalog)
        self.config = config

    def _rank(self, text: str, role: str | None) -> np.ndarray:
        scores = self.index.scores(text)
        if role:
            prior = self.index.field_scores(role.replace("-", " ").replace("_", " "), "name")
            if prior.max() > 0:
                scores = scores * (1.0 + ROLE_PRIOR * prior / prior.max())
        return scores

    def select(self, text: str, role: str | None, have_structured: bool) -> dict[str, list[Reason]]:
        """Agents the request asks for, with their scores; empty when nothing is confident."""
        cfg = self.config
        picks: dict[str, list[Reason]] = {}
        whole = self._rank(text, role)
        if whole.max(initial=0.0) < cfg.text_min_score:
            return picks
        top = float(whole.max())
        order = np.argsort(-whole)
        limit = 1 if have_structured else cfg.text_max_agents
        for i in order[:limit]:
            if whole[i] >= cfg.text_close_ratio * top:
                picks[self.index.ids[i]] = [Reason(rule="text:bm25", score=round(float(whole[i]), 3),
                                                   detail=f"{whole[i] / top:.2f} of best")]
        clauses = split_clauses(text)
        if len(clauses) > 1:
            for clause in clauses:
                scores = self._rank(clause, role)
                best = int(np.argmax(scores))
                if scores[best] >= cfg.text_min_score and scores[best] >= 0.5 * top:
                    aid = self.index.ids[best]
                    picks.setdefault(aid, []).append(
                        Reason(rule="text:clause", score=round(float(scores[best]), 3), detail=clause[:80])
                    )
        return picks
