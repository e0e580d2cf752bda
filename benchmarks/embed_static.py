"""Would static token vectors distilled from the model keep selection quality? A probe, not a backend.

An unseen request costs one forward pass of the sentence-embedding model (``embed.py``, 15-25 ms
here whatever the catalog size), which keeps free-text p99 for unseen requests above 10 ms. A
static model (the model2vec recipe: each vocabulary token run alone through the same encoder
as ``[CLS] token [SEP]``, its output vector kept; a text is the SIF-weighted mean of its tokens'
vectors, with the vocabulary rank as a Zipf frequency estimate) costs a table look-up instead.
This script distils that table from the installed weights (about a minute), then prints side by
side the latency of both encoders and the ``selection_quality.py`` figures with each (requests
and catalog passages both encoded by the encoder under test).

First run (2-core shared machine): static encoding is 51-63x faster (0.2-0.4 ms a request
against 10.6-24.6 ms) but loses recall: v4 86.7 % (numpy 96.7 %), v6.0.4 93.3 % (96.7 %), bmm
95.0 % (97.5 %). No variant tried kept it (SIF weight 1e-5 to 1e-3, centred or not, the token's
vector or the mean of the three): not adopted.

    .venv/bin/python benchmarks/embed_static.py [--rounds 100] [--sif 1e-4] [--no-selection]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from embed_onnx import compare, corpus

from agentload.selection.embed import EmbeddingModel

Matrix = npt.NDArray[np.float32]
GROUP = 85  # tokens run per pass as three-token texts (255 of the 256 a packed pass allows)


def distil(model: EmbeddingModel) -> Matrix:
    """(vocabulary, 384): the encoder's output at each token run alone between [CLS] and [SEP]."""
    vocab = model.w["embeddings.word_embeddings.weight"].shape[0]
    cls_id, sep_id = model.tokenizer.token_to_id("[CLS]"), model.tokenizer.token_to_id("[SEP]")
    out = np.zeros((vocab, model.w["embeddings.word_embeddings.weight"].shape[1]), dtype=np.float32)
    for start in range(0, vocab, GROUP):
        ids = np.arange(start, min(vocab, start + GROUP))
        seq = np.stack([np.full_like(ids, cls_id), ids, np.full_like(ids, sep_id)], 1).reshape(1, -1)
        segment = np.repeat(np.arange(len(ids)), 3)
        bias = np.where(segment[:, None] == segment[None, :], 0.0, -1e9).astype(np.float32)[None, None]
        out[ids] = model._layers(seq, np.tile(np.arange(3), len(ids)), bias)[0].reshape(len(ids), 3, -1)[:, 1]
    return out


def static_encoder(model: EmbeddingModel, vectors: Matrix, sif: float) -> Callable[[list[str]], Matrix]:
    """Unit vectors of texts as SIF-weighted means of the distilled token vectors."""
    vocab = vectors.shape[0]
    first = model.tokenizer.token_to_id("the") or 0  # BERT's vocabulary is frequency-ordered from here
    rank = np.maximum(np.arange(vocab, dtype=np.float64) - first + 1, 1.0)
    weight = (sif / (sif + 1.0 / (rank * np.log(vocab)))).astype(np.float32)[:, None]
    tokenizer = model.tokenizer.__class__.from_str(model.tokenizer.to_str())
    tokenizer.no_padding()

    def encode(texts: list[str]) -> Matrix:
        out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
        for i, enc in enumerate(tokenizer.encode_batch(texts, add_special_tokens=False)):
            if enc.ids:
                v = (vectors[enc.ids] * weight[enc.ids]).sum(0)
                out[i] = v / max(float(np.linalg.norm(v)), 1e-12)
        return out
    return encode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--sif", type=float, default=1e-4)
    ap.add_argument("--no-selection", dest="selection", action="store_false")
    args = ap.parse_args()
    model = EmbeddingModel.load()
    if model is None:
        sys.exit("the embedding model is not installed (make venv)")
    t0 = time.perf_counter()
    vectors = distil(model)
    print(f"distilled {vectors.shape[0]:,} token vectors in {time.perf_counter() - t0:.1f} s")
    backends = {"numpy": model.encode, "static": static_encoder(model, vectors, args.sif)}
    compare(model, backends, corpus()[0], args.rounds, args.selection)


if __name__ == "__main__":
    main()
