"""Semantic similarity between a request and each agent's own texts, fused with BM25.

Each agent is embedded as several passages, as in the lexical index: who it is (title, role,
when to use it) and one per menu entry (the entry's description and what it runs: workflow or
skill name and description). An agent's similarity is its best passage's cosine with the
request. Fusion keeps the lexical scale (the confidence rule's thresholds stay meaningful):
``fused = bm25 + weight * max(best_bm25, min_score) * rel`` where ``rel`` is 1 for the most
similar agent, 0 for agents at or below the mean similarity, linear between. A request with
no lexical match at all is decided by similarity alone when the best cosine reaches
``MIN_COSINE``. Passage vectors are cached by text, so catalog copies and refreshes that keep
the texts do not embed them again; a process may also install a shared ``VectorStore``
(``use_store``: the workers' disk cache, ``agentload/jobs/vectors.py``) so that a fresh process
reads the vectors another one computed instead of spending seconds of CPU on them.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from agentload.catalog import Agent, Catalog
from agentload.selection.embed import EmbeddingModel

MIN_COSINE = 0.35
CACHE_SIZE = 50_000
RECENT = 16
_CODE = re.compile(r"\[[A-Z0-9]{1,4}\]\s*")
_cache: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()


class VectorStore(Protocol):
    """Vectors kept outside this process, keyed by model version and exact text."""

    def load(self, model: str, texts: list[str]) -> dict[str, npt.NDArray[np.float32]]:
        """The stored vectors of those ``texts`` that have one (shape (384,) each)."""
        ...

    def save(self, model: str, vectors: dict[str, npt.NDArray[np.float32]]) -> None:
        """Keep ``vectors`` (text -> vector) for other processes."""
        ...


_store: list[VectorStore] = []


def use_store(store: VectorStore | None) -> None:
    """Install (or, with None, remove) this process's shared vector store."""
    _store[:] = [store] if store is not None else []


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


def _embed(model: EmbeddingModel, texts: list[str], shared: bool = False) -> npt.NDArray[np.float32]:
    """Vectors of ``texts``; ``shared``: catalog passages, looked up in and written to the
    installed store (request texts never are: they stay in this process)."""
    store = _store[0] if _store and shared else None
    missing = list(dict.fromkeys(t for t in texts if t not in _cache))
    if missing and store is not None:
        _cache.update(store.load(model.version, missing))
        missing = [t for t in missing if t not in _cache]
    if missing:
        fresh = dict(zip(missing, model.encode(missing), strict=True))
        _cache.update(fresh)
        if store is not None:
            store.save(model.version, fresh)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return np.stack([_cache[t] for t in texts]) if texts else np.zeros((0, 384), dtype=np.float32)


@dataclass
class SemanticIndex:
    """Passage vectors (rows, shape (passages, 384)) and the agent each belongs to (``ids`` order).

    The matrix is kept transposed in memory (``columns``, (384, passages), C order; ``vectors``
    is a view of it): OpenBLAS multiplies a request vector by it 2-3x faster than by the row
    layout (measured at 1,000 agents: 0.23 against 0.54-0.76 ms per request), same memory."""

    model: EmbeddingModel
    vectors: npt.NDArray[np.float32]
    owner: npt.NDArray[np.int32]
    n_agents: int
    starts: npt.NDArray[np.intp] = field(init=False)  # each agent's first passage (each has one)
    columns: npt.NDArray[np.float32] = field(init=False)
    _recent: OrderedDict[str, npt.NDArray[np.float64]] = field(init=False, default_factory=OrderedDict)

    def __post_init__(self) -> None:
        self.starts = np.searchsorted(self.owner, np.arange(self.n_agents))
        self.columns = np.ascontiguousarray(self.vectors.T)
        self.vectors = self.columns.T

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
        return cls(model, _embed(model, texts, shared=True), np.asarray(owner, dtype=np.int32), len(ids))

    def prepare(self, texts: list[str]) -> None:
        """Embed those of ``texts`` not seen lately in one batch, and score them. A forward pass
        of the model reads all its weights whatever the batch (several ms): a request and its
        clauses cost one pass instead of one each. Vectors agree with one-by-one encoding up to
        float rounding."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._recent]
        if todo:
            self._remember(todo, _embed(self.model, todo))

    def _remember(self, texts: list[str], queries: npt.NDArray[np.float32]) -> None:
        for text, q in zip(texts, queries, strict=True):
            # one vector-matrix product per text: OpenBLAS runs one product with a few rows
            # of queries slower than as many vector products (measured at 1,000 agents)
            cos = q @ self.columns
            # passages are stored agent by agent: one reduceat is the per-agent maximum
            self._recent[text] = np.maximum.reduceat(cos, self.starts).astype(np.float64)
        while len(self._recent) > RECENT:
            self._recent.popitem(last=False)

    def forget_texts(self) -> None:
        """Drop every remembered text vector and similarity; the index's own passage vectors stay.
        The next selection embeds its request as it would a request never seen (benchmarks time
        unseen requests this way; a process never needs it)."""
        _cache.clear()
        self._recent.clear()

    def similarity(self, text: str) -> npt.NDArray[np.float64]:
        """Best-passage cosine per agent (the last few texts are remembered: one selection asks
        for the whole request, its clauses and its router)."""
        if text not in self._recent:
            self._remember([text], _embed(self.model, [text]))
        return self._recent[text]

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
