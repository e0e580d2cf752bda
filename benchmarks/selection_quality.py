"""Selection quality on every scenario suite: recall, agents loaded, token reduction.

For each ``*.jsonl`` suite in ``../shared/scenarios`` (else the bundled ``data/scenarios``),
on the catalog it was written for (its lines' ``catalog`` field names a tree under
``data/bmad-layouts``; module suites such as ``bmm`` use ``--catalog``), the selective strategy
and the ``full`` baseline side by side: recall of the required agents (and skills, where a
suite names them), mean agents loaded, median and p10 token reduction against what ``full``
delivers: counted on the tokens the client receives (the answer's metadata, the manifest and
each definition: ``Selection.context_tokens``), with the median on file tokens beside it.

    .venv/bin/python benchmarks/selection_quality.py [--json] [--catalog DIR] [--scenarios DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from _common import BUNDLED_CATALOG, LAYOUTS_DIR, SCENARIOS_DIR, fmt_pct, read_jsonl, suite_files, table

from agentload.catalog import load_catalog
from agentload.measure.evaluation import evaluate_one, layout_name, suite_catalog, summarize
from agentload.selection.engine import SelectionConfig, Selector

STRATEGIES = ("selective", "full")
# the knobs tuned on data, and the values tried in leave-one-suite-out (the defaults are among them)
GRID = [{"semantic_weight": w, "text_close_ratio": r, "text_tie_ratio": t}
        for w in (0.0, 0.25, 0.5) for r in (0.72, 0.8) for t in (0.0, 0.85, 0.9)]


def evaluate(selectors: dict[Path, Selector], suites: list[tuple[Path, Path]]) -> dict[str, Any]:
    """{suite name or "overall": {strategy: summary}} plus the missed scenario ids; each suite
    is run on its own catalog (``suites``: (suite, catalog root))."""
    lines: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for path, root in suites:
        scenarios = read_jsonl(path)
        selector = selectors[root]
        lines[path.name] = {s: [evaluate_one(selector, sc, s) for sc in scenarios] for s in STRATEGIES}
    if len(suites) > 1:
        lines["overall"] = {s: [x for name in list(lines) for x in lines[name][s]] for s in STRATEGIES}
    return {name: {s: summarize(by[s]) for s in STRATEGIES} for name, by in lines.items()}


def leave_one_suite_out(suites: list[tuple[Path, Path]]) -> dict[str, Any]:
    """For each suite: the grid point that does best on the *other* suites (recall, then median
    cut, then the default), and that point's figures on the held-out suite."""
    per: list[dict[str, dict[str, Any]]] = []
    for knobs in GRID:
        config = replace(SelectionConfig(), **knobs)
        selectors = {root: Selector(load_catalog(root), config) for root in dict.fromkeys(r for _, r in suites)}
        per.append({p.name: summarize([evaluate_one(selectors[root], sc) for sc in read_jsonl(p)])
                    for p, root in suites})
    default = next(i for i, k in enumerate(GRID) if all(getattr(SelectionConfig(), f) == v for f, v in k.items()))
    out: dict[str, Any] = {}
    for held, _ in suites:
        def score(i: int, held: str = held.name) -> tuple[float, float, bool]:
            rest = [v for name, v in per[i].items() if name != held]
            hits = sum(v["recall"] * v["scenarios"] for v in rest) / sum(v["scenarios"] for v in rest)
            return round(hits, 6), sum(v["median_reduction"] for v in rest) / len(rest), i == default
        best = max(range(len(GRID)), key=score)
        out[held.name] = {"knobs": GRID[best], **per[best][held.name]}
    return out


def print_table(result: dict[str, Any]) -> None:
    headers = ["suite", "n", "recall", "full recall", "agents", "full agents",
               "median red.", "full median", "p10 red.", "full p10", "mean red.", "median (files)"]
    rows = []
    for name, by in result.items():
        sel, full = by["selective"], by["full"]
        rows.append([
            name, sel["scenarios"],
            fmt_pct(sel["recall"]), fmt_pct(full["recall"]),
            f"{sel['mean_agents']:.2f}", f"{full['mean_agents']:.2f}",
            fmt_pct(sel["median_reduction"]), fmt_pct(full["median_reduction"]),
            fmt_pct(sel["p10_reduction"]), fmt_pct(full["p10_reduction"]),
            fmt_pct(sel["mean_reduction"]), fmt_pct(sel["median_file_reduction"]),
        ])
    print(table(headers, rows))
    for name, by in result.items():
        if by["selective"]["missed"] and name != "overall":
            print(f"missed in {name}: {', '.join(by['selective']['missed'])}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--catalog", type=Path, default=BUNDLED_CATALOG)
    ap.add_argument("--scenarios", type=Path, default=SCENARIOS_DIR, help="folder of *.jsonl suites")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    ap.add_argument("--no-loso", dest="loso", action="store_false", help="skip the leave-one-suite-out table")
    args = ap.parse_args()

    suites = [(p, suite_catalog(p, LAYOUTS_DIR, args.catalog)) for p in suite_files(args.scenarios)]
    t0 = time.perf_counter()
    selectors = {root: Selector(load_catalog(root)) for root in dict.fromkeys(r for _, r in suites)}
    result = evaluate(selectors, suites)
    elapsed = time.perf_counter() - t0
    catalogs = {str(root): {"layout": layout_name(sel), "agents": len(sel.catalog.agents),
                            "skills": len(sel.catalog.skills), "baseline_tokens": sel.catalog.baseline_tokens}
                for root, sel in selectors.items()}
    if args.json:
        loso = leave_one_suite_out(suites) if args.loso else None
        print(json.dumps({"catalogs": catalogs, "suites": result, "leave_one_suite_out": loso,
                          "seconds": round(elapsed, 3)}, indent=2))
        return
    for path, root in suites:
        c = catalogs[str(root)]
        print(f"{path.name}: catalog {root.name} ({c['layout']}) — {c['agents']} agents, {c['skills']} skills, "
              f"baseline {c['baseline_tokens']:,} tokens")
    print("reduction = 1 - context / full context: delivered tokens of the answer with its definitions "
          "(metadata + manifest + texts), `full` through the same path; (files) = on file tokens\n")
    print_table(result)
    print(f"\n({elapsed:.2f} s, {sum(len(read_jsonl(p)) for p, _ in suites)} scenarios x {len(STRATEGIES)} strategies)")
    if args.loso:
        print("\nleave-one-suite-out: knobs chosen on the other suites, scored on the held-out one")
        rows = [[name, r["scenarios"], fmt_pct(r["recall"]), f"{r['mean_agents']:.2f}", fmt_pct(r["median_reduction"]),
                 fmt_pct(r["p10_reduction"]), ", ".join(f"{k}={v}" for k, v in r["knobs"].items())]
                for name, r in leave_one_suite_out(suites).items()]
        print(table(["held-out suite", "n", "recall", "agents", "median red.", "p10 red.", "knobs chosen"], rows))


if __name__ == "__main__":
    main()
