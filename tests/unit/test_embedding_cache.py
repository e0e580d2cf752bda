"""The workers' disk cache of passage vectors (``agentload/jobs/vectors.py``).

A process whose memory holds no vector yet (a fresh prefork child) must read the catalog's
passage vectors that another process stored instead of embedding them again; a user's request
text is never written; a cache that cannot be opened leaves selection working.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _fixtures import bundled_catalog

from agentload.jobs import vectors
from agentload.selection import semantic
from agentload.selection.embed import EmbeddingModel
from agentload.settings import Settings

pytestmark = pytest.mark.skipif(EmbeddingModel.load() is None, reason="embedding model not installed")


@pytest.fixture
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """This process as a fresh one (no vector in memory, no store), and every text it encodes
    from here on; the memory cache and store are given back afterwards."""
    saved = semantic._cache.copy()
    semantic._cache.clear()
    encoded: list[str] = []
    original = EmbeddingModel.encode

    def spy(self: EmbeddingModel, texts: list[str]) -> np.ndarray:
        encoded.extend(texts)
        return original(self, texts)

    monkeypatch.setattr(EmbeddingModel, "encode", spy)
    try:
        yield encoded
    finally:
        semantic.use_store(None)
        vectors._installed.clear()
        semantic._cache.clear()
        semantic._cache.update(saved)


def build() -> semantic.SemanticIndex:
    catalog = bundled_catalog()
    index = semantic.SemanticIndex.build(catalog, sorted(catalog.agents))
    assert index is not None
    return index


def test_given_vectors_stored_by_one_process_when_a_fresh_one_builds_then_it_embeds_no_passage(
        fresh_process: list[str], tmp_path: Path) -> None:
    store = vectors.DiskVectors(tmp_path / "vectors", size_mb=16)
    semantic.use_store(store)
    first = build()
    computed = len(fresh_process)
    assert computed > 10 and len(store.cache) == computed == len(set(fresh_process))

    semantic._cache.clear()  # the next process: same folder, nothing in memory
    fresh_process.clear()
    second = build()
    assert fresh_process == []
    assert np.array_equal(first.vectors, second.vectors)


def test_given_a_store_when_a_request_is_scored_then_its_text_is_not_written(
        fresh_process: list[str], tmp_path: Path) -> None:
    store = vectors.DiskVectors(tmp_path / "vectors", size_mb=16)
    semantic.use_store(store)
    index = build()
    stored = len(store.cache)
    index.similarity("the payroll figures of our staff in March, private")
    assert len(store.cache) == stored
    assert fresh_process[-1] == "the payroll figures of our staff in March, private"


def test_given_settings_when_installed_then_the_folder_is_used_and_zero_turns_it_off(
        fresh_process: list[str], tmp_path: Path) -> None:
    folder = tmp_path / "cache-here"
    vectors.install(Settings(env="test", embedding_cache_dir=str(folder)))
    build()
    assert folder.is_dir() and len(vectors.DiskVectors(folder, 16).cache) == len(fresh_process)

    vectors.install(Settings(env="test", embedding_cache_dir=str(folder), embedding_cache_mb=0))
    semantic._cache.clear()
    fresh_process.clear()
    build()
    assert fresh_process  # no store: embedded again


def test_given_a_folder_that_cannot_be_opened_when_installed_then_warned_and_selection_still_works(
        fresh_process: list[str], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING, logger="agentload.jobs.vectors"):
        vectors.install(Settings(env="test", embedding_cache_dir=str(blocked / "vectors")))
    assert "cannot be opened" in caplog.text
    index = build()
    assert index.vectors.shape[0] >= len(fresh_process) == len(set(fresh_process)) > 10
