"""A free-text selection runs the embedding model once, and the vectorised scoring is exact.

The model's forward pass reads all its weights whatever the batch, so a request and its
clauses are embedded in one batch (``SemanticIndex.prepare``): one call of the model per new
request, run as one unpadded sequence (``EmbeddingModel._packed``) whose vectors equal the
texts' one by one. The per-agent BM25 figures are one ``reduceat`` over each agent's contiguous units;
they must equal the plain definition (persona unit + best menu unit, first best on ties).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from _fixtures import bundled_catalog

from agentload.context import Context
from agentload.selection import semantic
from agentload.selection.embed import PACKED, EmbeddingModel
from agentload.selection.engine import Selector
from agentload.selection.text_index import TextIndex
from agentload.selection.text_pick import ask_clauses

needs_model = pytest.mark.skipif(EmbeddingModel.load() is None, reason="embedding model not installed")
MULTI_STEP = "Sketch the screens for the onboarding flow, then write the stories for the signup epic"


@pytest.fixture
def encode_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """Every call of the real model's ``encode`` from here on (its texts), memory cache restored after."""
    saved = semantic._cache.copy()
    calls: list[list[str]] = []
    original = EmbeddingModel.encode

    def spy(self: EmbeddingModel, texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return original(self, texts)

    monkeypatch.setattr(EmbeddingModel, "encode", spy)
    try:
        yield calls
    finally:
        semantic._cache.clear()
        semantic._cache.update(saved)


@needs_model
def test_given_a_new_multi_step_request_when_selected_then_the_model_runs_once_for_it_and_its_steps(
        encode_calls: list[list[str]]) -> None:
    selector = Selector(bundled_catalog())
    assert selector.text.semantic is not None
    selector.text.semantic.forget_texts()
    encode_calls.clear()  # the catalog's passages, embedded while the index was built
    assert len(ask_clauses(MULTI_STEP.lower())) >= 2

    selection = selector.select(Context(request=MULTI_STEP))

    assert selection.agents
    assert len(encode_calls) == 1 and len(encode_calls[0]) >= 3  # the whole request and each step
    selector.select(Context(request=MULTI_STEP))
    assert len(encode_calls) == 1  # remembered: a repeated request runs no model
    selector.text.semantic.forget_texts()
    selector.select(Context(request=MULTI_STEP))
    assert len(encode_calls) == 2  # forgotten: embedded again, as a request never seen


@needs_model
@pytest.mark.parametrize("copies", [1, 12], ids=["packed: one unpadded sequence", "padded batch"])
def test_given_texts_embedded_in_one_batch_when_compared_with_one_by_one_then_vectors_agree(copies: int) -> None:
    model = EmbeddingModel.load()
    assert model is not None
    texts = [MULTI_STEP, "sketch the screens", "", "write the stories for the signup epic and more words here"]
    texts = [f"{t} {k}" if t else t for k in range(copies) for t in texts]
    tokens = sum(len(model.tokenizer.encode(t).ids) for t in texts if t)
    assert (tokens <= PACKED) == (copies == 1)
    batch = model.encode(texts)
    alone = np.stack([model.encode([t])[0] for t in texts])
    assert np.allclose(batch, alone, atol=1e-5)
    assert not batch[2].any()  # an empty text: a zero row


def test_given_any_query_when_agents_are_scored_then_reduceat_equals_persona_plus_best_menu_unit() -> None:
    index = TextIndex(bundled_catalog())
    for query in ("write the prd", "review my code before merge", "plan the sprint and the retrospective",
                  "zzz nothing matches"):
        units = index.unit_scores(query)
        expected = np.zeros(len(index.ids))
        work: dict[int, str | None] = {}
        for a, (lo, hi) in enumerate(index.agent_units):
            menu = [j for j in range(lo, hi) if not index.is_persona[j]]
            best = max(menu, key=lambda j: units[j], default=None)
            expected[a] = units[lo] + max(0.0, units[best] if best is not None else 0.0)
            work[a] = index.unit_work[best] if best is not None and units[best] > 0 else None
        assert np.array_equal(index.scores(query), expected)
        assert index.best_work(query, list(range(len(index.ids)))) == work
