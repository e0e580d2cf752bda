"""Journey accounting: delivered tokens per BMad step for three ways of loading a catalog.

A client walks a whole path (each workflow of the catalog's own order: path files, v4
sequences, ``module-help.csv``) and, at each step, puts one of these in the model's context:

- ``everything``: every agent, every work item's entry file and every file they reference;
- ``agents``: the selection for the step and the agents it names (agent-level disclosure);
- ``progressive``: the same, plus the step's work item (its entry file, with the manifest of
  its files) and the file the step starts with (a step-file workflow's first step, else the
  first file its entry file names: the instructions, a template).

Every figure is the ``delivered_tokens`` the MCP server reports for its answers (what lands
in the context, checked against a cl100k count of the bytes by the tests), so the journey
measures the product through the path clients use. Recall is checked on every step: the
selection must hold an owner of the step's work item.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
import redis
from mcp import Client

from agentload.catalog import Catalog, load_catalog
from agentload.catalog.reader import require_agents
from agentload.context import MAX_PHASE_NUMBER, ResolverData, TrackFacts
from agentload.settings import Settings, get_settings
from models import repository

STRATEGIES = ("everything", "agents", "progressive")


class ToolFailed(RuntimeError):
    """An MCP tool answered with an error (the message is the server's)."""


@dataclass
class StepTokens:
    phase: int | str | None
    workflow: str
    agents: list[str]
    work_item: str | None
    file: str | None
    delivered: dict[str, int] = field(default_factory=dict)
    recalled: bool = True


async def call(client: Client, tool: str, args: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(JSON header, texts) of one tool result; ``ToolFailed`` when the server refused."""
    result = await client.call_tool(tool, args)
    texts = [getattr(block, "text", "") for block in result.content]
    if result.is_error:
        raise ToolFailed(f"{tool} {args}: {texts[0] if texts else 'error'}")
    return json.loads(texts[0]), texts[1:]


async def delivered(client: Client, tool: str, args: dict[str, Any]) -> int:
    header, _ = await call(client, tool, args)
    return int(header["delivered_tokens"])


async def everything(client: Client, catalog: Catalog) -> int:
    """Delivered tokens of every agent, work item and referenced file, loaded one by one."""
    total = 0
    for aid in sorted(catalog.agents):
        total += await delivered(client, "load_agent", {"agent_id": aid})
    for wid, item in sorted(catalog.work_items.items()):
        if item.entry_file:
            try:
                total += await delivered(client, "load_work_item", {"work_item_id": wid})
            except ToolFailed:  # an unreadable entry file is not published: nothing to deliver
                continue
    for path in sorted({f for item in catalog.work_items.values() for f in item.files}):
        try:
            total += await delivered(client, "load_file", {"path": path})
        except ToolFailed:
            continue
    return total


def first_named_file(entry_text: str, files: list[dict[str, Any]]) -> str | None:
    """The referenced file the entry text names first (by path, else by file name); else the
    first one the work item lists (a v4 command names its template, not the task it runs)."""
    best: tuple[int, str] | None = None
    for f in files:
        path = str(f["path"])
        name = path.rsplit("/", 1)[-1]
        at = next((i for i in (entry_text.find(path), entry_text.find(name)) if i >= 0), -1)
        if at >= 0 and (best is None or at < best[0]):
            best = (at, path)
    return best[1] if best else (str(files[0]["path"]) if files else None)


async def step_tokens(client: Client, facts: TrackFacts, phase: int | str | None, workflow: str, history: list[str],
                      everything_tokens: int) -> StepTokens:
    """One step: select for the path position, then load what each strategy loads."""
    context: dict[str, Any] = {"next_workflow": workflow, "workflow_history": list(history)}
    context |= {k: v for k, v in (("track", facts.track), ("field_type", facts.field_type),
                                  ("phase", phase)) if v is not None}
    selection, _ = await call(client, "select_agents", context)
    agents = [a["id"] for a in selection.get("agents", [])]
    shown = int(selection["delivered_tokens"])
    for aid in agents:
        shown += await delivered(client, "load_agent", {"agent_id": aid})
    step = StepTokens(phase, workflow, agents, None, None, {"everything": everything_tokens, "agents": shown})
    owners = set(facts.owners.get(workflow, []))  # the path's agent for the step, and the work item's owners
    candidates = [workflow, *(s["id"] for s in selection.get("skills", []))]
    for wid in candidates:
        try:
            header, texts = await call(client, "load_work_item", {"work_item_id": wid})
        except ToolFailed:
            continue
        step.work_item = wid
        shown += int(header["delivered_tokens"])
        owners |= set(header.get("owners") or [])
        step.file = header.get("first_step") or first_named_file(texts[0] if texts else "", header.get("files") or [])
        if step.file:
            shown += await delivered(client, "load_file", {"path": step.file})
        break
    step.recalled = bool(owners & set(agents)) if owners else bool(agents or selection.get("skills"))
    step.delivered["progressive"] = shown
    return step


async def walk_track(client: Client, facts: TrackFacts, everything_tokens: int) -> list[StepTokens]:
    """Every workflow of one track's sequence, in the catalog's order, with the history so far;
    each step names its phase as the context would (number, else the catalog's label)."""
    phase_of: dict[str, int | str | None] = {}
    for ph in facts.phases:
        for w in ph.all:
            phase_of.setdefault(w, ph.phase if ph.phase <= MAX_PHASE_NUMBER else (ph.label or None))
    order = facts.sequence or [w for ph in facts.phases for w in ph.all]
    steps: list[StepTokens] = []
    history: list[str] = []
    for workflow in dict.fromkeys(order):
        steps.append(await step_tokens(client, facts, phase_of.get(workflow), workflow, history, everything_tokens))
        history.append(workflow)
    return steps


async def journey_tokens(client: Client, catalog: Catalog, resolver: ResolverData) -> dict[str, Any]:
    """Per track: its steps and totals per strategy, and the cut of each against everything."""
    base = await everything(client, catalog)
    tracks = []
    for facts in resolver.tracks:
        steps = await walk_track(client, facts, base)
        totals = {s: sum(st.delivered[s] for st in steps) for s in STRATEGIES}
        tracks.append({"track": facts.track, "field_type": facts.field_type, "steps": [asdict(s) for s in steps],
                       "totals": totals, "recall": sum(s.recalled for s in steps) / max(len(steps), 1),
                       "cut": {s: round(1 - totals[s] / totals["everything"], 4) if totals["everything"] else 0.0
                               for s in STRATEGIES}})
    return {"everything_per_step": base, "tracks": tracks}


# ---------------------------------------------------------------- running it on a catalog
async def measure_catalog(root: Path, settings: Settings | None = None) -> dict[str, Any]:
    """Publish ``root`` into a private ``redis-server`` exactly as the preload does and walk
    every track of it through the MCP server (in-process client, the real tools)."""
    from agentload.mcp_server import AgentloadMCP
    from agentload.measure.evaluation import layout_name
    from agentload.publish.refresh import refresh_catalog
    from agentload.publish.state import WorkerState
    from agentload.redis_server import RedisProcess
    from agentload.selection.engine import Selector

    catalog = require_agents(load_catalog(root))
    server = RedisProcess().start()
    try:
        here = (settings or get_settings()).model_copy(update={"redis_url": server.url, "catalog_path": root})
        client = redis.Redis.from_url(server.url)
        try:
            refresh_catalog(client, here, WorkerState(), force=True)
        finally:
            client.close()
        mcp = AgentloadMCP(here)
        try:
            selector = Selector(catalog)
            async with Client(mcp.server) as session:
                result = await journey_tokens(session, catalog, selector.resolver)
        finally:
            await mcp.aclose()
    finally:
        server.stop()
    return {"catalog": str(root), "layout": layout_name(selector), **result}


def ledger_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """``token_optimization`` rows: one per step and strategy, baseline = everything."""
    name = Path(result["catalog"]).name
    rows = []
    for track in result["tracks"]:
        for i, step in enumerate(track["steps"]):
            for strategy in STRATEGIES[1:]:
                rows.append({"strategy": f"journey:{strategy}", "agents": step["agents"],
                             "context_hash": f"journey:{name}:{track['track'] or '-'}:{track['field_type'] or '-'}:"
                                             f"{i:03d}:{step['workflow']}",
                             "baseline_tokens": step["delivered"]["everything"],
                             "optimized_tokens": step["delivered"][strategy]})
    return rows


def format_tokens(result: dict[str, Any]) -> str:
    lines = [f"{result['catalog']} ({result['layout']}): everything = {result['everything_per_step']:,} "
             "delivered tokens per step"]
    for track in result["tracks"]:
        totals, cut = track["totals"], track["cut"]
        lines.append(f"  {track['track'] or '-'}/{track['field_type'] or '-'}: {len(track['steps'])} steps, "
                     f"recall {track['recall']:.2f}; total everything {totals['everything']:,}, "
                     f"agents {totals['agents']:,} (-{cut['agents']:.1%}), "
                     f"progressive {totals['progressive']:,} (-{cut['progressive']:.1%})")
    return "\n".join(lines)


def journey_tokens_main(catalogs: list[Path], *, as_json: bool = False, store: bool = False) -> int:
    """CLI entry (``agentload journey --tokens``): exit 1 when a step missed its agent."""
    settings = get_settings()
    results = [asyncio.run(measure_catalog(root, settings)) for root in catalogs]
    if store:
        repository.insert_token_optimization(settings.database_url, [r for res in results for r in ledger_rows(res)])
    print(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode() if as_json
          else "\n".join(format_tokens(r) for r in results))
    return 0 if all(t["recall"] == 1.0 for res in results for t in res["tracks"]) else 1
