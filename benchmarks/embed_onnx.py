"""Would ONNX Runtime run the sentence-embedding model faster than numpy? A probe, not a backend.

The per-request embedding (``agentload/selection/embed.py``, a numpy forward pass over ~42 MB
of float32 encoder weights) is most of a free-text selection's time. This script builds the same
encoder as an ONNX graph from the installed safetensors weights (ONNX Runtime's fused BERT
operators: EmbedLayerNormalization, Attention, SkipLayerNormalization, FastGelu — the tanh GELU
that ``embed.py`` uses), and an int8 copy (``quantize_dynamic``: int8 weights per channel,
activations quantised per call), then measures side by side in one run: latency of one request
of about 6, 16 and 42 tokens and of a batch of those three (texts from the scenario suites),
the cosine of each backend's vectors with numpy's over the request texts and every catalog
passage, and the selection figures of ``selection_quality.py`` with each backend's vectors.

onnx and onnxruntime are not project dependencies: without them the script says so and exits 0.
First run (2-core shared machine, loaded, 200 rounds): fp32 gives the same vectors (cosine 1.00000)
and the same selections, 2.3x / 1.8x / 1.7x faster for 6 / 16 / 42 tokens; int8 is 4.5x / 3.2x /
2.6x faster but its vectors (min cosine 0.983) lose a v4 scenario (recall 96.7 % -> 93.3 %).

    .venv/bin/python benchmarks/embed_onnx.py [--rounds 200] [--no-selection]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import BUNDLED_CATALOG, LAYOUTS_DIR, SCENARIOS_DIR, fmt_pct, read_jsonl, suite_files, table

from agentload.catalog import load_catalog
from agentload.selection import semantic
from agentload.selection.embed import BATCH, EmbeddingModel, model_folder

MS = "com.microsoft"


def build_graph(folder: Path) -> Any:
    """The BERT encoder, mean pooling and L2 normalisation as one ONNX model (numpy's maths)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import load_file

    cfg = json.loads((folder / "config.json").read_text())
    heads, eps = int(cfg["num_attention_heads"]), float(cfg.get("layer_norm_eps", 1e-12))
    w = load_file(str(folder / "model.safetensors"))
    inits: list[Any] = []
    nodes: list[Any] = []

    def const(name: str, arr: Any) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def op(kind: str, ins: list[str], domain: str = "", outs: int = 1, **attrs: Any) -> list[str]:
        names = [f"{kind}_{len(nodes)}_{i}" for i in range(outs)]
        nodes.append(helper.make_node(kind, ins, names, name=f"{kind}_{len(nodes)}", domain=domain or None, **attrs))
        return names

    def skip_norm(h: str, skip: str, p: str, block: str) -> str:
        """LayerNorm(h + bias + skip): the dense layer's bias, its residual and its LayerNorm."""
        return op("SkipLayerNormalization", [h, skip, const(p + block + ".g", w[p + block + ".LayerNorm.weight"]),
                                             const(p + block + ".b", w[p + block + ".LayerNorm.bias"]),
                                             const(p + block + ".bias", w[p + block + ".dense.bias"])],
                  MS, epsilon=eps)[0]

    ids32 = op("Cast", ["input_ids"], to=TensorProto.INT32)[0]
    mask32 = op("Cast", ["attention_mask"], to=TensorProto.INT32)[0]
    positions = w["embeddings.position_embeddings.weight"] + w["embeddings.token_type_embeddings.weight"][0]
    x = op("EmbedLayerNormalization", [ids32, "", const("word", w["embeddings.word_embeddings.weight"]),
                                       const("position", positions), "",
                                       const("emb.g", w["embeddings.LayerNorm.weight"]),
                                       const("emb.b", w["embeddings.LayerNorm.bias"]), mask32],
           MS, outs=2, epsilon=eps)[0]
    for i in range(int(cfg["num_hidden_layers"])):
        p = f"encoder.layer.{i}."
        qkv = [f"{p}attention.self.{m}" for m in ("query", "key", "value")]
        att = op("Attention", [x, const(f"{i}.qkv.w", np.concatenate([w[n + ".weight"].T for n in qkv], axis=1)),
                               const(f"{i}.qkv.b", np.concatenate([w[n + ".bias"] for n in qkv])), mask32],
                 MS, num_heads=heads)[0]
        x = skip_norm(op("MatMul", [att, const(f"{i}.att.w", w[p + "attention.output.dense.weight"].T)])[0], x,
                      p, "attention.output")
        h = op("MatMul", [x, const(f"{i}.ffn.w", w[p + "intermediate.dense.weight"].T)])[0]
        h = op("FastGelu", [h, const(f"{i}.ffn.b", w[p + "intermediate.dense.bias"])], MS)[0]
        x = skip_norm(op("MatMul", [h, const(f"{i}.out.w", w[p + "output.dense.weight"].T)])[0], x, p, "output")
    mask = op("Unsqueeze", [op("Cast", ["attention_mask"], to=TensorProto.FLOAT)[0], const("axis2", np.array([2]))])[0]
    axis1 = const("axis1", np.array([1]))
    total = op("ReduceSum", [op("Mul", [x, mask])[0], axis1], keepdims=0)[0]
    count = op("Max", [op("ReduceSum", [mask, axis1], keepdims=0)[0], const("tiny", np.array(1e-9, np.float32))])[0]
    pooled = op("Div", [total, count])[0]
    norm2 = op("Max", [op("ReduceL2", [pooled, const("last", np.array([-1]))], keepdims=1)[0],
                       const("tinier", np.array(1e-12, np.float32))])[0]
    nodes.append(helper.make_node("Div", [pooled, norm2], ["embedding"], name="normalise"))
    ints = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "tokens"])
            for n in ("input_ids", "attention_mask")]
    size = int(w["embeddings.LayerNorm.weight"].size)
    out = [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", size])]
    model = helper.make_model(helper.make_graph(nodes, "encoder", ints, out, inits),
                              opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid(MS, 1)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def ort_encoder(model: EmbeddingModel, path: Path) -> Callable[[list[str]], np.ndarray]:
    """``EmbeddingModel.encode`` with the forward pass run by ONNX Runtime on one thread."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def encode(texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        order = sorted((i for i, t in enumerate(texts) if t.strip()), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH):
            batch = order[start:start + BATCH]
            with model._lock:
                enc = model.tokenizer.encode_batch([texts[i] for i in batch])
            feed = {"input_ids": np.asarray([e.ids for e in enc], dtype=np.int64),
                    "attention_mask": np.asarray([e.attention_mask for e in enc], dtype=np.int64)}
            out[batch] = session.run(None, feed)[0]
        return out

    return encode


def corpus() -> tuple[list[str], list[str]]:
    """The scenario suites' request texts and every catalog passage of the layouts."""
    requests = [s["context"]["request"] for p in sorted(SCENARIOS_DIR.glob("*requests*.jsonl"))
                for s in read_jsonl(p) if s["context"].get("request")]
    passages: list[str] = []
    for root in sorted(d for d in LAYOUTS_DIR.iterdir() if d.is_dir() and d.name.endswith("-installed")):
        cat = load_catalog(root)
        passages.extend(t for aid in cat.agents for t in semantic._passages(cat.agents[aid], cat))
    return requests, passages


def latency(backends: dict[str, Callable[[list[str]], np.ndarray]], cases: dict[str, list[str]],
            rounds: int) -> list[list[str]]:
    times: dict[tuple[str, str], list[float]] = {}
    for r in range(rounds + 5):  # the backends interleaved, call by call; 5 warm-up rounds
        for label, texts in cases.items():
            for name, encode in backends.items():
                t0 = time.perf_counter()
                encode(texts)
                if r >= 5:
                    times.setdefault((label, name), []).append((time.perf_counter() - t0) * 1e3)
    rows = []
    for label in cases:
        base = statistics.median(times[(label, "numpy")])
        row = [label]
        for name in backends:
            v = sorted(times[(label, name)])
            med = statistics.median(v)
            row.append(f"{med:.2f} / {v[min(len(v) - 1, int(0.99 * len(v)))]:.2f} ({base / med:.1f}x)")
        rows.append(row)
    return rows


def selection(encoders: dict[str, Callable[[list[str]], np.ndarray]]) -> list[list[str]]:
    from selection_quality import evaluate

    from agentload.measure.evaluation import suite_catalog
    from agentload.selection.engine import Selector

    def method(f: Callable[[list[str]], np.ndarray]) -> Callable[[EmbeddingModel, list[str]], np.ndarray]:
        return lambda _self, texts: f(texts)

    suites = [(p, suite_catalog(p, LAYOUTS_DIR, BUNDLED_CATALOG)) for p in suite_files(SCENARIOS_DIR)]
    original, rows = EmbeddingModel.encode, []
    try:
        for name, encode in encoders.items():
            EmbeddingModel.encode = method(encode)  # type: ignore[method-assign,assignment]
            semantic._cache.clear()  # vectors are cached by text: each backend computes its own
            result = evaluate({r: Selector(load_catalog(r)) for r in dict.fromkeys(r for _, r in suites)}, suites)
            for suite, by in result.items():
                s = by["selective"]
                rows.append([name, suite, fmt_pct(s["recall"]), f"{s['mean_agents']:.3f}",
                             fmt_pct(s["median_reduction"]), fmt_pct(s["p10_reduction"]), ", ".join(s["missed"])])
    finally:
        EmbeddingModel.encode = original  # type: ignore[method-assign]
        semantic._cache.clear()
    return rows


def compare(model: EmbeddingModel, backends: dict[str, Callable[[list[str]], np.ndarray]], requests: list[str],
            rounds: int, with_selection: bool) -> None:
    """Print the latency of one request of about 6, 16 and 42 tokens and of a batch of those
    three, each backend interleaved call by call, then (``with_selection``) the selection
    figures with each backend's vectors."""
    lengths = {r: len(model.tokenizer.encode(r).ids) for r in requests}
    picks = [min(requests, key=lambda r: (abs(lengths[r] - n), r)) for n in (6, 16, 42)]
    cases = {**{f"1 request, {lengths[p]} tokens": [p] for p in picks}, "batch of those 3": picks}
    print(f"\nlatency of encode, ms median / p99 ({rounds} rounds interleaved; speed-up of the median vs numpy)")
    print(table(["texts", *backends], latency(backends, cases, rounds)))
    if with_selection:
        print("\nselection_quality.py figures (selective strategy) with each backend's vectors")
        print(table(["backend", "suite", "recall", "agents", "median red.", "p10 red.", "missed"], selection(backends)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--no-selection", dest="selection", action="store_false")
    args = ap.parse_args()
    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        print("onnx / onnxruntime not installed (pip install onnx onnxruntime): nothing to compare")
        return
    folder, model = model_folder(), EmbeddingModel.load()
    if folder is None or model is None:
        sys.exit("the embedding model is not installed (make venv)")
    tmp = Path(tempfile.mkdtemp(prefix="embed-onnx-"))
    onnx.save(build_graph(folder), str(tmp / "fp32.onnx"))
    quantize_dynamic(tmp / "fp32.onnx", tmp / "int8.onnx", weight_type=QuantType.QInt8, per_channel=True,
                     reduce_range=True, op_types_to_quantize=["MatMul", "Attention"],
                     extra_options={"DefaultTensorType": 1})
    backends = {"numpy": model.encode, "ort fp32": ort_encoder(model, tmp / "fp32.onnx"),
                "ort int8": ort_encoder(model, tmp / "int8.onnx")}
    requests, passages = corpus()
    texts = list(dict.fromkeys(requests + passages))
    ref = model.encode(texts)
    print(f"cosine with numpy's vectors over {len(texts)} texts ({len(requests)} requests, {len(passages)} passages)")
    for name in list(backends)[1:]:
        cos = (ref * backends[name](texts)).sum(1)
        print(f"  {name}: min {cos.min():.5f}  mean {cos.mean():.5f}")
    compare(model, backends, requests, args.rounds, args.selection)


if __name__ == "__main__":
    main()
