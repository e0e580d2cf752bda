"""A project's whole BMad path, walked the way a client walks it, timed step by step.

For every workflow of a track's path file (first phase to implementation, in path order,
from the published resolver data): store the project's workflow state (``PUT``), ask for
the selection (``GET ... ?project_id=``), then load each selected agent over MCP
(``load_agent``) as an AI client would. Each step's times are recorded, so the journey is
both an end-to-end check of API + MCP + Redis and a latency measurement of what a user
actually waits for at each step.

``run_journey`` is the library call; ``journey_main`` prints a report (``agentload journey``).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from contextlib import AsyncExitStack
from typing import Any

import httpx
import orjson
import redis.asyncio as aioredis
from mcp import Client, StdioServerParameters

from agentload import keys
from agentload.context import ResolverData, TrackFacts, norm_id
from agentload.reader.codec import text
from agentload.resolve import match_tracks
from agentload.settings import get_settings

WAIT_MS = 2000


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def summarize(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "p50_ms": _percentile(values, 0.5), "p99_ms": _percentile(values, 0.99),
            "max_ms": round(max(values), 3) if values else None}


async def path_workflows(
    redis_url: str, track: str, field_type: str | None
) -> tuple[TrackFacts, list[tuple[int, str]]]:
    """The path file for ``track``/``field_type`` in the current version, and its
    (phase, workflow) sequence in path order."""
    client = aioredis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        version = text(await client.get(keys.CURRENT_VERSION))
        raw = await client.get(keys.resolver_key(version)) if version else None
    finally:
        await client.aclose()
    if raw is None:
        raise RuntimeError("no catalog version is published in Redis (run the preload first)")
    data = ResolverData.model_validate_json(raw)
    tracks = match_tracks(track, data.tracks)
    if field_type:
        tracks = [t for t in tracks if t.field_type == norm_id(field_type)]
    if not tracks:
        known = sorted({f"{t.track}/{t.field_type}" for t in data.tracks})
        raise ValueError(f"no path file for track {track!r} field {field_type!r}; known: {', '.join(known)}")
    facts = tracks[0]
    return facts, [(p.phase, w) for p in facts.phases for w in p.all]


def mcp_target(mcp: str | list[str], redis_url: str) -> str | StdioServerParameters:
    """A URL (streamable HTTP) as is, or a command line started over stdio."""
    if isinstance(mcp, str) and mcp.startswith(("http://", "https://")):
        return mcp
    argv = mcp.split() if isinstance(mcp, str) else list(mcp)
    env = {**os.environ, "AGENTLOAD_REDIS_URL": redis_url}
    return StdioServerParameters(command=argv[0], args=argv[1:], env=env)


def default_mcp_command() -> list[str]:
    return [sys.executable, "-m", "agentload.mcp_server", "--transport", "stdio"]


async def run_journey(api_base_url: str, mcp: str | list[str] | Client, track: str, field_type: str | None,
                      token: str, *, redis_url: str | None = None, project_id: str | None = None,
                      ) -> dict[str, Any]:
    """Walk every workflow of the path; returns per-step records and a timing summary.

    ``mcp`` is the MCP server's URL, a command to start it over stdio, or a connected
    ``mcp.Client`` to reuse (a long-lived client session, as an AI client keeps one).
    """
    redis_url = redis_url or get_settings().redis_url
    facts, sequence = await path_workflows(redis_url, track, field_type)
    project_id = project_id or f"journey-{uuid.uuid4().hex[:12]}"
    headers = {"Authorization": f"Bearer {token}"}
    steps: list[dict[str, Any]] = []
    started = time.perf_counter()
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(
            httpx.AsyncClient(base_url=api_base_url, headers=headers, timeout=10.0))
        session = mcp if isinstance(mcp, Client) else await stack.enter_async_context(
            Client(mcp_target(mcp, redis_url)))
        history: list[str] = []
        for phase, workflow in sequence:
            steps.append(await _step(http, session, project_id, facts, phase, workflow, history))
            history.append(workflow)
    total_ms = (time.perf_counter() - started) * 1000
    kinds = ("put_ms", "select_ms", "step_ms")
    summary = {k: summarize([s[k] for s in steps]) for k in kinds}
    summary["load_agent_ms"] = summarize([ms for s in steps for ms in s["load_ms"]])
    return {"project_id": project_id, "track": facts.track, "field_type": facts.field_type, "file": facts.file,
            "steps": steps, "summary": summary, "total_ms": round(total_ms, 3),
            "hits": sum(1 for s in steps if s["cache"] == "hit"), "errors": sum(1 for s in steps if s["error"])}


async def _step(http: httpx.AsyncClient, session: Client, project_id: str, facts: TrackFacts, phase: int,
                workflow: str, history: list[str]) -> dict[str, Any]:
    t0 = time.perf_counter()
    state = {"track": facts.track, "field_type": facts.field_type, "phase": phase,
             "workflow_history": list(history), "next_workflow": workflow}
    put = await http.put(f"/api/v1/projects/{project_id}/workflow-state", json=state)
    t1 = time.perf_counter()
    sel = await http.get("/api/v1/agents/optimized-loading", params={"project_id": project_id, "wait_ms": WAIT_MS})
    t2 = time.perf_counter()
    body = sel.json() if sel.headers.get("content-type", "").startswith("application/json") else {}
    agents = [a["id"] for a in body.get("agents", [])] if sel.status_code == 200 else []
    load_ms: list[float] = []
    errors: list[str] = []
    for agent_id in agents:
        a0 = time.perf_counter()
        result = await session.call_tool("load_agent", {"agent_id": agent_id})
        load_ms.append((time.perf_counter() - a0) * 1000)
        if result.is_error:
            errors.append(f"load_agent {agent_id}: {result.content}")
    if put.status_code != 200:
        errors.append(f"PUT {put.status_code}: {put.text[:200]}")
    if sel.status_code != 200:
        errors.append(f"GET {sel.status_code}: {sel.text[:200]}")
    return {"phase": phase, "workflow": workflow, "agents": agents, "cache": body.get("cache"),
            "optimized_tokens": body.get("optimized_tokens"), "baseline_tokens": body.get("baseline_tokens"),
            "put_ms": round((t1 - t0) * 1000, 3), "select_ms": round((t2 - t1) * 1000, 3),
            "load_ms": [round(ms, 3) for ms in load_ms], "step_ms": round((time.perf_counter() - t0) * 1000, 3),
            "error": "; ".join(errors) or None}


def format_report(result: dict[str, Any]) -> str:
    lines = [f"journey {result['project_id']}: {result['track']}/{result['field_type']} ({result['file']})",
             f"{'phase':>5} {'workflow':<28} {'put':>7} {'select':>7} {'loads':>14} {'step':>7}  agents"]
    for s in result["steps"]:
        loads = "+".join(f"{ms:.1f}" for ms in s["load_ms"]) or "-"
        lines.append(f"{s['phase']:>5} {s['workflow'][:28]:<28} {s['put_ms']:7.2f} {s['select_ms']:7.2f} "
                     f"{loads:>14} {s['step_ms']:7.2f}  {','.join(s['agents'])}"
                     + (f"  ERROR {s['error']}" if s["error"] else ""))
    for kind, stats in result["summary"].items():
        lines.append(f"{kind:>14}: n={stats['n']} p50={stats['p50_ms']} ms p99={stats['p99_ms']} ms "
                     f"max={stats['max_ms']} ms")
    lines.append(f"total {result['total_ms']:.1f} ms, {result['hits']}/{len(result['steps'])} hits, "
                 f"{result['errors']} errors")
    return "\n".join(lines)


def journey_main(api_base_url: str | None = None, mcp: str | list[str] | None = None,
                 track: str = "bmad-method", field_type: str | None = "greenfield", token: str | None = None,
                 redis_url: str | None = None, as_json: bool = False) -> int:
    """CLI entry: run one journey against running servers and print it; exit code 1 on errors.

    Defaults come from settings (``api_base_url``, ``api_token``, ``redis_url``); the MCP
    server is started over stdio unless ``mcp`` is a URL or another command.
    """
    settings = get_settings()
    result = asyncio.run(run_journey(api_base_url or settings.api_base_url, mcp or default_mcp_command(), track,
                                     field_type, token or settings.api_token,
                                     redis_url=redis_url or settings.redis_url))
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() if as_json else format_report(result))
    return 1 if result["errors"] else 0
