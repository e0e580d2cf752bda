"""MCP server: AI clients list agents, get the selection for their context, load agents.

``python -m agentload.mcp_server --transport stdio`` (for a client that spawns it) or
``--transport http --port 8765`` (streamable HTTP at ``/mcp``). It reads the same Redis data
as the HTTP API through ``CatalogStore`` and, like the API, never computes a selection: a
miss enqueues ``agentload.select_text`` by name and waits a bounded time, else answers
``pending`` with the task id. Every tool call adds its figures (calls, errors, latency
histogram, tokens served) to ``keys.MCP_STATS`` through the same in-memory telemetry buffer
as the API (one pipelined write per 50 ms flush), so accounting never delays an answer.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field, ValidationError
from redis.exceptions import OutOfMemoryError, RedisError

from agentload import mcp_search
from agentload.api.lookup import definitions, look_up, record
from agentload.api.problems import NotReady, TooManyMisses, describe, redis_failure, shown
from agentload.api.project_context import ProjectRefused
from agentload.api.runtime import Runtime, close_runtime, open_runtime
from agentload.api.service import NO_CATALOG, NotPrecomputed, UnknownContext, manifest_page
from agentload.delivered import with_delivered
from agentload.mcp_checks import BearerToken, EventStreamAccept, startup_problem
from agentload.mcp_context import OPTION_DEFAULTS, SELECT_SIGNATURE
from agentload.mcp_errors import ClearErrorsServer
from agentload.reader.store import CatalogNotPublished
from agentload.settings import Settings, get_settings

INSTRUCTIONS = (
    "Load only the BMad agents a task needs. Call select_agents with what you know about the "
    "project (track, phase, next workflow, or a free-text request): it returns the agents to load "
    "and a one-line manifest of the others. Then disclose progressively: load_agent for an agent's "
    "definition, load_work_item for the workflow or skill a step runs (its entry file, and the files "
    "it references with their tokens), load_file for one of those files when the step needs it. "
    "In a large catalog the manifest lists only the closest agents: search_catalog finds any other. "
    "Every result reports delivered_tokens: what it adds to your context."
)
logger = logging.getLogger(__name__)
READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
# (JSON metadata, texts sent after it once each, selection event)
Result = tuple[dict[str, Any], list[str], bytes | None]
AGENT_META = ("id", "tokens")  # the rest is in the text; small agents are a few hundred tokens


class AgentloadMCP:
    """The tools over one lazily created runtime (created inside the serving event loop)."""

    def __init__(self, settings: Settings | None = None, log_level: LogLevel = "WARNING") -> None:
        self.settings = settings or get_settings()
        self._runtime: Runtime | None = None
        # the SDK's server with clear argument errors (unknown ones refused) and prompts/get errors
        self.server: MCPServer[Any] = ClearErrorsServer("agentload", instructions=INSTRUCTIONS, version="0.1.0",
                                                        lifespan=self._lifespan, log_level=log_level)
        self.server.add_tool(self.list_agents, name="list_agents", annotations=READ_ONLY, structured_output=False,
                             description="The agent manifest: one line per agent (paged by offset/limit).")
        self.server.add_tool(self.select_agents, name="select_agents", annotations=READ_ONLY,
                             structured_output=False,
                             description="The agents to load for a project context, with reasons and token "
                             "figures. Every field is optional; what you leave out comes from the project's "
                             "stored state (project_id), then its BMad files (project_path, or the served "
                             "project); `project` in the answer says which file gave what.")
        self.server.add_tool(self.load_agent, name="load_agent", annotations=READ_ONLY, structured_output=False,
                             description="One agent's definition file by id: a small JSON header (ids of "
                             "the work items its menu runs), then the file's text.")
        self.server.add_tool(self.load_work_item, name="load_work_item", annotations=READ_ONLY,
                             structured_output=False,
                             description="One workflow, skill or task by id (a selection's `skills`, an "
                             "agent's `work_items`): a JSON header listing the files it references with their "
                             "tokens, then its entry file's text.")
        self.server.add_tool(self.load_file, name="load_file", annotations=READ_ONLY, structured_output=False,
                             description="One file a work item references (a path from load_work_item's "
                             "`files`: instructions, template, checklist, step file), when a step needs it.")
        mcp_search.register(self, READ_ONLY)

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = open_runtime(self.settings)
        return self._runtime

    @asynccontextmanager
    async def _lifespan(self, _: MCPServer[Any]) -> AsyncIterator[None]:
        """Entered once per served transport: flush figures and close clients on the way out."""
        try:
            yield None
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if self._runtime is not None:
            await close_runtime(self._runtime)
            self._runtime = None

    # ------------------------------------------------------------------ tools
    async def list_agents(
        self,
        offset: Annotated[int, Field(description="First agent (in id order)")] = 0,
        limit: Annotated[int, Field(description="Page size")] = 100,
    ) -> CallToolResult:
        return await self.measured("list_agents", lambda: self._list(offset, limit))

    async def select_agents(self, **arguments: Any) -> CallToolResult:  # noqa: ANN401 - see SELECT_SIGNATURE
        """The tool's parameters are the context's fields plus ``SELECT_OPTIONS`` (``mcp_context``)."""
        options = {name: arguments.pop(name, default) for name, default in OPTION_DEFAULTS.items()}
        given = {k: v for k, v in arguments.items() if v not in (None, [])}
        return await self.measured("select_agents", lambda: self._select(given, **options))

    async def load_agent(
        self, agent_id: Annotated[str, Field(description="Agent id from list_agents or select_agents")]
    ) -> CallToolResult:
        return await self.measured("load_agent", lambda: self._load(agent_id))

    async def load_work_item(
        self, work_item_id: Annotated[str, Field(description="Work item id: a skill, workflow or task name")]
    ) -> CallToolResult:
        return await self.measured("load_work_item", lambda: self._load_work_item(work_item_id))

    async def load_file(
        self, path: Annotated[str, Field(description="Catalog-relative path from load_work_item's `files`")]
    ) -> CallToolResult:
        return await self.measured("load_file", lambda: self._load_file(path))

    select_agents.__signature__ = SELECT_SIGNATURE  # type: ignore[attr-defined]  # what the SDK reads

    # ------------------------------------------------------------------ implementations
    async def _list(self, offset: int, limit: int) -> Result:
        if limit < 1 or limit > self.settings.max_page_size or offset < 0:
            raise ToolError(f"limit must be 1..{self.settings.max_page_size} and offset >= 0")
        rt = self.runtime
        version = await rt.store.current_version()
        manifest = await rt.store.get_manifest(version) if version else None
        if version is None or manifest is None:
            raise ToolError(NO_CATALOG)
        return manifest_page(version, manifest, limit, offset), [], None

    async def _select(self, given: dict[str, Any], project_id: str | None, project_path: str | None,
                      include_definitions: bool, wait_ms: int) -> Result:
        rt = self.runtime
        started = time.perf_counter()
        # MCP clients are trusted (stdio: the user's own assistant; HTTP: AGENTLOAD_MCP_TOKEN): no
        # per-client budget on misses, only the global cap on misses in flight
        try:
            looked = await look_up(rt, given, project_id=project_id, project_path=project_path,
                                   wait_ms=max(0, min(wait_ms, self.settings.max_wait_ms)))
        except ValidationError as exc:
            raise ToolError(describe(exc.errors())[0]) from exc
        if looked.pending:
            return {"status": "pending", "task_id": looked.outcome.task_id, "version": looked.outcome.version,
                    "message": "A worker is computing this selection; call select_agents again shortly."}, [], None
        body = {**looked.body(), "status": "ready"}
        texts = [body.pop("manifest")] if body.get("manifest") else []  # as text: no JSON escaping
        if include_definitions:
            texts += [text or "" for text in (await definitions(rt, looked)).values()]
        record(rt, looked, source="mcp", started=started, project=project_id)
        return body, texts, None

    async def _load(self, agent_id: str) -> Result:
        rt = self.runtime
        version = await rt.store.current_version()
        if version is None:
            raise ToolError(NO_CATALOG)
        agent = await rt.store.get_agent(agent_id, version)
        if agent is None:
            raise ToolError(f"unknown agent {shown(agent_id)}; list_agents shows the ids")
        meta = {k: agent[k] for k in AGENT_META if agent.get(k)}
        meta["work_items"] = " ".join(sorted({m["work_item"] for m in agent.get("menu") or [] if m.get("work_item")}))
        return meta, [str(agent.get("text") or "")], None

    async def _load_work_item(self, work_item_id: str) -> Result:
        missing = f"unknown work item {shown(work_item_id)}; select_agents names the ones a task needs"
        return await self._load_text(self.runtime.store.get_work_item, work_item_id, missing)

    async def _load_file(self, path: str) -> Result:
        missing = f"{shown(path)} is not a file of this catalog's work items; load_work_item lists them"
        return await self._load_text(self.runtime.store.get_file, path, missing)

    async def _load_text(self, read: Callable[[str, str], Awaitable[dict[str, Any] | None]], key: str,
                         missing: str) -> Result:
        """A work item or file of the live version: its metadata as the header, its text once."""
        version = await self.runtime.store.current_version()
        if version is None:
            raise ToolError(NO_CATALOG)
        found = await read(key, version)
        if found is None:
            raise ToolError(missing)
        text = str(found.pop("text", "") or "")
        return {**found, "version": version}, [text], None

    # ------------------------------------------------------------------ accounting
    async def measured(self, tool: str, call: Callable[[], Awaitable[Result]]) -> CallToolResult:
        """Run a tool; its answer is a compact JSON header carrying ``delivered_tokens`` (the
        cl100k count of everything this result sends) and then each text once."""
        started = time.perf_counter()
        error, tokens, event = True, 0, None
        try:
            meta, texts, event = await call()
            header, tokens = with_delivered(meta, texts)
            error = False
            return CallToolResult(content=[TextContent(type="text", text=t) for t in (header, *texts)])
        except (UnknownContext, NotPrecomputed, NotReady, CatalogNotPublished, TooManyMisses, ProjectRefused) as exc:
            raise ToolError(str(exc)) from exc
        except OutOfMemoryError as exc:
            raise ToolError("Redis is out of memory: nothing new can be stored; retry later") from exc
        except RedisError as exc:
            logger.warning("tool %s: redis unavailable: %s", tool, exc)
            raise ToolError(f"Redis is unavailable: {redis_failure(exc)}") from exc
        finally:
            self._record(tool, (time.perf_counter() - started) * 1000, error, tokens, event)

    def _record(self, tool: str, ms: float, error: bool, tokens: int, event: bytes | None) -> None:
        telemetry = self.runtime.telemetry  # in memory; flushed to Redis in the background
        telemetry.add_tool(tool, ms, error=error, tokens=tokens)
        if event is not None:
            telemetry.add_event(event)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m agentload.mcp_server", description=__doc__.split("\n")[0])
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--redis-url", default=None, help="overrides AGENTLOAD_REDIS_URL")
    parser.add_argument("--log-level", default="WARNING", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.redis_url:
        settings = settings.model_copy(update={"redis_url": args.redis_url})
    problem = startup_problem(settings)
    if problem:  # say it now, not at the first tool call
        print(f"agentload MCP server: {problem}", file=sys.stderr, flush=True)
        raise SystemExit(2)
    server = AgentloadMCP(settings, log_level=args.log_level).server
    if args.transport == "stdio":
        server.run("stdio")
        return
    import uvicorn

    app = EventStreamAccept(server.streamable_http_app(json_response=True, host=args.host))
    guarded = BearerToken(app, settings.mcp_token) if settings.mcp_token else app
    uvicorn.run(guarded, host=args.host, port=args.port, log_level=args.log_level.lower())


if __name__ == "__main__":
    main()
