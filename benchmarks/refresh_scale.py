"""Refresh and answers at scale: 1,000 vs 10,000 synthetic agents, side by side in one run.

For each size, a catalog is generated (``agentload.measure.synthetic``) and a fresh worker process
(this script with ``--child``) refreshes it against a throw-away Redis, on command:

* full rebuild: a forced refresh in the warm worker (every file re-hashed, every selection
  selected, every key sent), median of ``--repeat``; its ratio 10k / 1k;
* no-change refresh (median);
* one changed agent: this process edits one agent file (a persona edit), asks the worker to
  refresh and polls Redis until the live version serves the new text: the time to served,
  next to the refresh's own duration and its stages (median);
* the worker's peak RSS (``ru_maxrss``, measured in that process) and the Redis bytes and keys
  of a version;
* the selective answer's delivered tokens (``Selection.context_tokens``: metadata, manifest,
  definitions) and recall on the synthetic ground-truth suites (``synthetic_suites``, derived
  from the bundled suites), bounded manifest vs the whole one (``manifest_budget_tokens``
  unbounded, no cap on agents: the behaviour before the bound), and on the 10-agent catalog.

    .venv/bin/python benchmarks/refresh_scale.py [--sizes 1000 10000] [--repeat 3] [--no-answers]

``--no-answers`` measures refresh and serving only (no recall or token figures).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import redis
from _common import BUNDLED_CATALOG, SCENARIOS_DIR, read_jsonl, table
from cache_refresh import edit_one_agent, redis_server

from agentload import keys
from agentload.catalog import load_catalog
from agentload.context import Context
from agentload.measure.synthetic import make_synthetic_catalog, recalled, synthetic_suites
from agentload.reader.shared import agent_value
from agentload.selection.engine import SelectionConfig, Selector

TARGETS = {"rebuild_ratio": 12.0, "rss_mib": 2048.0, "served_s": 2.0, "tokens": 3000}


def child(url: str, root: str) -> None:
    """The worker: one refresh per line read (``force`` or ``refresh``), one JSON line back."""
    from agentload.publish.refresh import refresh_catalog
    from agentload.publish.state import WorkerState
    from agentload.settings import Settings

    r = redis.Redis.from_url(url)
    settings = Settings(redis_url=url, catalog_path=Path(root), version_ttl_s=120, refresh_lock_timeout_s=3600)
    state = WorkerState()
    for line in sys.stdin:
        started = time.perf_counter()
        result = refresh_catalog(r, settings, state, force=line.strip() == "force")
        result["seconds"] = time.perf_counter() - started
        result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({k: v for k, v in result.items() if k not in ("changed_files", "errors")}), flush=True)


class Worker:
    """A worker process of this checkout, or of ``checkout`` (another one's code, its own
    ``benchmarks/refresh_scale.py --child``)."""

    def __init__(self, url: str, root: Path, checkout: Path | None = None) -> None:
        script = __file__ if checkout is None else str(checkout / "benchmarks" / "refresh_scale.py")
        env = None if checkout is None else {**os.environ, "PYTHONPATH": str(checkout)}
        self.proc = subprocess.Popen([sys.executable, script, "--child", url, str(root)], text=True, env=env,
                                     cwd=checkout, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def result(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        return dict(json.loads(self.proc.stdout.readline()))

    def run(self, command: str) -> dict[str, Any]:
        self.send(command)
        return self.result()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def live_agent(r: redis.Redis, agent_id: str) -> bytes | str | None:
    """The live version's definition of ``agent_id``: listed in its refs hash, or (a checkout
    from before values were stored by content, ``--against``) under its own per-version key."""
    version = r.get(keys.CURRENT_VERSION)
    if version is None:
        return None
    v = version.decode()
    if r.exists(keys.refs_key(v)):
        return agent_value(r, v, agent_id)
    return cast(bytes | None, r.get(keys.version_key(v, "agent", agent_id)))


def served_after(r: redis.Redis, agent_id: str, marker: str, started: float, limit_s: float = 60) -> float:
    """Seconds from ``started`` until the live version serves ``agent_id`` with ``marker``."""
    while time.perf_counter() - started < limit_s:
        raw = live_agent(r, agent_id)
        if raw and marker in json.loads(raw)["text"]:
            return time.perf_counter() - started
        time.sleep(0.002)
    raise TimeoutError(f"{agent_id} not served with {marker!r} within {limit_s} s")


def refresh_figures(url: str, root: Path, repeat: int) -> dict[str, Any]:
    r = redis.Redis.from_url(url)
    r.flushdb()
    worker = Worker(url, root)
    try:
        cold = worker.run("force")
        forced = [worker.run("force") for _ in range(repeat)]
        nochange = [worker.run("refresh") for _ in range(repeat)]
        changes, served = [], []
        for n in range(repeat):
            path = edit_one_agent(root, n)
            agent_id = Path(path).name.removesuffix(".agent.yaml")
            started = time.perf_counter()
            worker.send("refresh")
            served.append(served_after(r, agent_id, f"(edit {n})", started))
            changes.append(worker.result())
        last = worker.run("refresh")
    finally:
        worker.close()
    one = sorted(changes, key=lambda c: c["seconds"])[len(changes) // 2]
    return {"agents": cold["agents"], "selections": cold["selections"], "cold_s": cold["seconds"],
            "rebuild_s": statistics.median(f["seconds"] for f in forced),
            "nochange_ms": 1000 * statistics.median(x["seconds"] for x in nochange),
            "change_s": one["seconds"], "served_s": statistics.median(served), "change": one,
            "rss_mib": last["peak_rss_mib"], "bytes": forced[-1]["bytes"], "keys": forced[-1]["keys"]}


def answer_figures(root: Path, n_agents: int, bounded: bool) -> dict[str, Any]:
    """Recall and delivered tokens of the selective answers on the synthetic suites."""
    suites = synthetic_suites(BUNDLED_CATALOG, n_agents, read_jsonl(SCENARIOS_DIR / "bmm-structured.jsonl"),
                              read_jsonl(SCENARIOS_DIR / "bmm-requests.jsonl"))
    config = SelectionConfig() if bounded else replace(SelectionConfig(), manifest_budget_tokens=10**9,
                                                       max_selected_agents=10**6)
    selector = Selector(load_catalog(root), config)
    real = set(load_catalog(BUNDLED_CATALOG).agents)
    out: dict[str, Any] = {}
    for name, lines in suites.items():
        answers = [selector.select(Context(**sc["context"])) for sc in lines]
        tokens = sorted(a.context_tokens for a in answers)
        out[name] = {"n": len(lines), "recall": sum(recalled(sc, a.agent_ids, real) for sc, a in
                                                    zip(lines, answers, strict=True)) / len(lines),
                     "median": statistics.median(tokens), "p90": tokens[int(0.9 * (len(tokens) - 1))],
                     "max": tokens[-1], "manifest_max": max(a.manifest_tokens for a in answers)}
    return out


def report(sizes: list[int], runs: dict[int, dict[str, Any]], answers: dict[str, dict[str, Any]]) -> None:
    small, big = runs[sizes[0]], runs[sizes[-1]]
    rows = [["full rebuild (warm worker, s)", *(f"{runs[n]['rebuild_s']:.2f}" for n in sizes)],
            ["cold publish (fresh worker, s)", *(f"{runs[n]['cold_s']:.2f}" for n in sizes)],
            ["no-change refresh (ms)", *(f"{runs[n]['nochange_ms']:.0f}" for n in sizes)],
            ["one changed agent: refresh (s)", *(f"{runs[n]['change_s']:.2f}" for n in sizes)],
            ["one changed agent: served after (s)", *(f"{runs[n]['served_s']:.2f}" for n in sizes)],
            ["worker peak RSS (MiB)", *(f"{runs[n]['rss_mib']:.0f}" for n in sizes)],
            ["Redis bytes per version (MB)", *(f"{runs[n]['bytes'] / 1e6:.1f}" for n in sizes)],
            ["keys per version", *(f"{runs[n]['keys']:,}" for n in sizes)],
            ["precomputed selections", *(f"{runs[n]['selections']:,}" for n in sizes)]]
    print(table(["", *(f"{n:,} agents" for n in sizes)], rows))
    ratio = big["rebuild_s"] / small["rebuild_s"]
    print(f"\nfull rebuild {big['agents']:,} / {small['agents']:,} agents: x{ratio:.1f} "
          f"(agents x{big['agents'] / small['agents']:.0f}; target <= x{TARGETS['rebuild_ratio']:.0f})")
    c = big["change"]
    print(f"one change at {big['agents']:,}: scan {c['scan_ms']:.0f} ms, load {c['load_ms']:.0f}, selector "
          f"{c['selector_ms']:.0f}, selections {c['build_ms']:.0f} ({c['reused_selections']:,} rebased, "
          f"{c['selected']} selected), write {c['write_ms']:.0f} ({c['reused_values']:,} stored values reused), "
          f"switch {c['switch_ms']:.0f}")
    print(f"targets: rebuild ratio <= {TARGETS['rebuild_ratio']:.0f}: x{ratio:.1f}; worker RSS <= "
          f"{TARGETS['rss_mib']:.0f} MiB: {big['rss_mib']:.0f}; served <= {TARGETS['served_s']:.0f} s: "
          f"{big['served_s']:.2f} s")
    if not answers:
        return
    rows = []
    for label, figures in answers.items():
        for suite, f in figures.items():
            rows.append([label, suite, f["n"], f"{f['recall']:.3f}", f"{f['median']:,.0f}", f"{f['p90']:,}",
                         f"{f['max']:,}", f"{f['manifest_max']:,}"])
    print("\nselective answers on the synthetic suites: delivered tokens (metadata + manifest + definitions)")
    print(table(["catalog", "suite", "n", "recall", "median", "p90", "max", "manifest max"], rows))
    worst = max(f["max"] for label, figs in answers.items() if "bounded" in label and "whole" not in label
                for f in figs.values())
    print(f"target: selective answer <= {TARGETS['tokens']:,} tokens at every size with the same recall: "
          f"max {worst:,}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--redis-url", default=None)
    ap.add_argument("--no-answers", action="store_true", help="refresh figures only (no recall or tokens)")
    ap.add_argument("--child", nargs=2, metavar=("URL", "ROOT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    runs: dict[int, dict[str, Any]] = {}
    answers: dict[str, dict[str, Any]] = {}
    if not args.no_answers:
        answers["10 agents (bundled)"] = answer_figures(BUNDLED_CATALOG, 10, True)
    with tempfile.TemporaryDirectory(prefix="agentload-scale-") as tmp, redis_server(args.redis_url) as url:
        for n in args.sizes:
            started = time.perf_counter()
            root = make_synthetic_catalog(BUNDLED_CATALOG, Path(tmp) / f"catalog-{n}", n)
            print(f"generated {n:,} agents in {time.perf_counter() - started:.0f} s", flush=True)
            runs[n] = refresh_figures(url, root, args.repeat)
            if not args.no_answers:
                answers[f"{n:,} agents, bounded manifest"] = answer_figures(root, n, True)
                answers[f"{n:,} agents, whole manifest (before)"] = answer_figures(root, n, False)
            print(f"measured {n:,} agents", flush=True)
    print()
    report(args.sizes, runs, answers)


if __name__ == "__main__":
    main()
