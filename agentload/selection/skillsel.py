"""Which workflow skills a request needs (skills layouts), by BM25 over the skills' own files.

In v6.2+ catalogs the work is in workflow skills, not in the agents: an assistant that
starts a PRD loads the PRD skill's ``SKILL.md``. Each skill is indexed by its name, its
``description`` (written by BMad to say when to use it) and the start of its body; the
menus that run it lend their descriptions too. A skill is picked when it clearly leads;
close runners-up are picked too, up to ``MAX_SKILLS``.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import numpy.typing as npt

from agentload.catalog import Catalog
from agentload.catalog.glossary import expand
from agentload.selection.text_index import bm25f
from agentload.selection.tokenize import tokenize

WEIGHTS = {"name": 2.0, "description": 1.5, "menu": 1.5, "body": 0.3}
MAX_SKILLS = 2
EXPANSION_WEIGHT = 0.5
OWNER_BOOST = 0.5
CLOSE_RATIO = 0.8
MIN_SCORE = 1.0
BODY_CHARS = 1500


class SkillIndex:
    """BM25F-style index: one document per workflow skill, fields weighted by ``WEIGHTS``."""

    def __init__(self, catalog: Catalog) -> None:
        self.ids = sorted(catalog.skills)
        self.acronyms = catalog.acronyms
        menu: dict[str, list[str]] = {}
        for agent in catalog.agents.values():
            for item in agent.menu:
                if item.work_item:
                    menu.setdefault(item.work_item, []).append(item.description)
        self.owners = [frozenset(catalog.work_items[sid].owners) for sid in self.ids]
        tokens: dict[str, list[Counter[str]]] = {f: [] for f in WEIGHTS}
        for sid in self.ids:
            w = catalog.work_items[sid]
            fields = {"name": f"{w.id} {w.name}".replace("-", " "), "description": w.description,
                      "menu": " ".join(menu.get(sid, [])), "body": w.excerpt[:BODY_CHARS]}
            for f, t in fields.items():
                tokens[f].append(Counter(tokenize(t)))
        self.postings, _ = bm25f(tokens, WEIGHTS)

    def scores(self, text: str) -> npt.NDArray[np.float64]:
        """Score per skill (``self.ids`` order) for ``text``."""
        out = np.zeros(len(self.ids))
        for term in set(tokenize(text)):
            post = self.postings.get(term)
            if post is not None:
                out[post[0]] += post[1]
        return out

    def pick(self, text: str, boost: frozenset[str] = frozenset()) -> list[tuple[str, float]]:
        """(skill id, score) of the skills ``text`` asks for, best first; [] when none leads.

        Skills on the menus of the agents in ``boost`` (those the request already selected)
        score ``1 + OWNER_BOOST`` times higher: the same request chose both."""
        if not self.ids:
            return []
        s = self.scores(text)
        extra = expand(text, self.acronyms)
        if extra:
            s = s + EXPANSION_WEIGHT * self.scores(extra)
        if boost:
            s = s * np.asarray([1.0 + OWNER_BOOST if self.owners[i] & boost else 1.0 for i in range(len(self.ids))])
        top = float(s.max())
        if top < MIN_SCORE:
            return []
        order = np.argsort(-s)
        return [(self.ids[int(i)], float(s[i])) for i in order[:MAX_SKILLS] if s[i] >= CLOSE_RATIO * top]
