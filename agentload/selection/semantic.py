"""Semantic similarity between a request and each agent's own texts, fused with BM25.

Each agent is embedded as several passages, as in the lexical index: who it is (title, role,
when to use it) and one per menu entry (the entry's description and what it runs: workflow or
skill name and description). An agent's similarity is its best passage's cosine with the
request. Fusion keeps the lexical scale (the confidence rule's thresholds stay meaningful):
``fused = bm25 + weight * max(best_bm25, min_score) * rel`` where ``rel`` is 1 for the most
similar agent, 0 for agents at or below the mean similarity, linear between. A request with
no lexical match at all is decided by similarity alone when the best cosine reaches
``MIN_COSINE``. Passage vectors are cached by text, so catalog copies and refreshes that keep
the texts do not embed them again.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from agentload.catalog import Agent, Catalog
from agentload.selection.embed import EmbeddingModel

MIN_COSINE = 0.35
CACHE_SIZE = 50_000
RECENT = 16
_CODE = re.compile(r"\[[A-Z0-9]{1,4}\]\s*")
_cache: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()


def _passages(agent: Agent, catalog: Catalog) -> list[str]:
    p = agent.persona
    out = [f"{agent.title}. {p.role}. {agent.description}".strip(". "), f"{p.identity} {p.principles}"[:1000]]
    for item in agent.menu:
        text = _CODE.sub("", item.description)
        work = catalog.work_items.get(item.work_item or "")
        info = catalog.workflows.get(item.workflow_file or "")
        if work is not None and work.description and work.description not in text:
            text = f"{text}. {work.description}"
        elif info is not None and info.description and info.description not in text:
            text = f"{text}. {info.description}"
        if text.strip():
            out.append(text[:1000])
    return out


def _embed(model: EmbeddingModel, texts: list[str]) -> npt.NDArray[np.float32]:
    missing = list(dict.fromkeys(t for t in texts if t not in _cache))
    if missing:
        for text, vec in zip(missing, model.encode(missing), strict=True):
            _cache[text] = vec
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return np.stack([_cache[t] for t in texts]) if texts else np.zeros((0, 384), dtype=np.float32)


@dataclass
class SemanticIndex:
    """Passage vectors (rows) and the agent each belongs to (``ids`` order)."""

    model: EmbeddingModel
    vectors: npt.NDArray[np.float32]
    owner: npt.NDArray[np.int32]
    n_agents: int
    starts: npt.NDArray[np.intp] = field(init=False)  # each agent's first passage (each has one)
    _recent: OrderedDict[str, npt.NDArray[np.float64]] = field(init=False, default_factory=OrderedDict)

    def __post_init__(self) -> None:
        self.starts = np.searchsorted(self.owner, np.arange(self.n_agents))
    @classmethod
    def build(cls, catalog: Catalog, ids: list[str]) -> SemanticIndex | None:
        """None when the embedding model is not installed (lexical retrieval only)."""
        model = EmbeddingModel.load()
        if model is None or not ids:
            return None
        texts: list[str] = []
        owner: list[int] = []
        for i, aid in enumerate(ids):
            for passage in _passages(catalog.agents[aid], catalog):
                texts.append(passage)
                owner.append(i)
        return cls(model, _embed(model, texts), np.asarray(owner, dtype=np.int32), len(ids))

    def similarity(self, text: str) -> npt.NDArray[np.float64]:
        """Best-passage cosine per agent (the last few texts are remembered: one selection asks
        for the whole request, its clauses and its router)."""
        hit = self._recent.get(text)
        if hit is not None:
            return hit
        q = _embed(self.model, [text])[0]
        cos = (self.vectors @ q).astype(np.float64)
        # passages are stored agent by agent: one reduceat is the per-agent maximum
        best: npt.NDArray[np.float64] = np.maximum.reduceat(cos, self.starts)
        self._recent[text] = best
        while len(self._recent) > RECENT:
            self._recent.popitem(last=False)
        return best

    def fuse(self, text: str, lexical: npt.NDArray[np.float64], weight: float,
             min_score: float) -> npt.NDArray[np.float64]:
        """Lexical scores with the semantic boost described in the module docstring."""
        sim = self.similarity(text)
        top_sim, mean = float(sim.max()), float(sim.mean())
        rel = np.clip((sim - mean) / max(top_sim - mean, 1e-6), 0.0, 1.0)
        top_lex = float(lexical.max(initial=0.0))
        if top_lex < min_score and top_sim < MIN_COSINE:
            return lexical
        fused: npt.NDArray[np.float64] = lexical + weight * max(top_lex, min_score) * rel
        return fused
