"""Search over a catalog version's manifest lines: how a client reaches what a bounded manifest
does not list.

A bounded manifest (``selection.manifest``) lists the few most relevant agents and sums up the
rest by module; ``search_catalog`` (MCP) and ``GET /api/v1/catalog/search`` find any other
line by its words, as tool-search systems do for large tool sets. The documents are the
published manifest lines themselves (id, title, distinctive capabilities; a skill's
description), so the readers that already cache them per version can search without touching
the catalog files or a worker; BM25 over the same tokenisation and implementation as the
selector's own index (``selection.text_index.bm25f``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import numpy as np

from agentload.selection.text_index import bm25f
from agentload.selection.tokenize import tokenize

EXACT_BONUS = 1000.0  # a query that is an id finds that line first


class LineSearch:
    """BM25 index over ``{id: manifest line}``; built once per catalog version."""

    def __init__(self, lines: Mapping[str, str]) -> None:
        self.ids = sorted(lines)
        self.lines = dict(lines)
        self._pos = {a: i for i, a in enumerate(self.ids)}
        docs = [Counter(tokenize(f"{self.lines[a]} {a.replace('-', ' ')}")) for a in self.ids]
        self.postings, _ = bm25f({"line": docs}, {"line": 1.0})

    def search(self, query: str, limit: int) -> list[tuple[str, float]]:
        """Up to ``limit`` (id, score) pairs, best first, ids in order among equal scores;
        only lines sharing a word with ``query`` (or named by it exactly)."""
        if limit < 1 or not self.ids:
            return []
        scores = np.zeros(len(self.ids))
        for term in set(tokenize(query)):
            post = self.postings.get(term)
            if post is not None:
                scores[post[0]] += post[1]
        exact = self._pos.get(query.strip())
        if exact is not None:
            scores[exact] += EXACT_BONUS
        hits = np.flatnonzero(scores > 0)
        order = hits[np.lexsort((hits, -scores[hits]))][:limit]
        return [(self.ids[int(i)], round(float(scores[i]), 3)) for i in order]
