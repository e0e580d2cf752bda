"""Clear MCP errors: the SDK's server with argument checks and messages a model can act on.

Why a subclass of the official SDK's ``MCPServer`` rather than checks in each tool: the SDK
validates tool arguments itself, before any tool runs, and as it ships it

* answers a type error with pydantic's multi-line dump and a link to pydantic's docs;
* drops arguments a tool does not take without a word (``offest=5`` pages from 0);
* answers ``prompts/get`` for an unknown prompt or with bad arguments with a ``ValueError``,
  which its dispatcher logs with a traceback and sends as error code 0 (``-32603`` in process);
* echoes an unknown tool's name in full (a 1 MB name comes back as a 1 MB error).

Here a type error names each argument, what it should be and what it got; an unknown argument
is refused, naming it and the arguments the tool takes; ``prompts/get`` problems are JSON-RPC
``INVALID_PARAMS`` (-32602) errors, not logged as crashes. A value echoed back is cut to
``problems.SHOWN_CHARS`` characters and a whole message to ``MAX_MESSAGE_CHARS``.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.shared.exceptions import MCPError
from mcp.types import INTERNAL_ERROR, INVALID_PARAMS, CallToolResult, GetPromptResult, InputRequiredResult
from pydantic import ValidationError

from agentload.api.problems import SHOWN_CHARS, shown

logger = logging.getLogger(__name__)
MAX_MESSAGE_CHARS = 1000


def cut(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``message`` cut to ``limit`` characters, saying how long it was."""
    return message if len(message) <= limit else message[:limit] + f"... ({len(message)} chars)"


def echoed(value: Any) -> str:  # noqa: ANN401 - any JSON value a client sent
    """A client's value as it may appear in an error: a string quoted, anything else as JSON,
    either cut to ``SHOWN_CHARS``."""
    if isinstance(value, str):
        return shown(value)
    return cut(orjson.dumps(value, default=str).decode(), SHOWN_CHARS)


def argument_errors(exc: ValidationError) -> str:
    """One clause per bad argument: ``name: should be <what> (got <value>)``. Errors of one
    argument's alternatives (``int | str``) are joined with "or"; list items are ``name[i]``."""
    by_arg: dict[str, tuple[list[str], Any]] = {}
    for err in exc.errors(include_url=False):
        loc = err.get("loc") or ("arguments",)
        name = str(loc[0]) + "".join(f"[{p}]" for p in loc[1:] if isinstance(p, int))
        if err.get("type") == "missing":
            by_arg[name] = (["required"], None)
            continue
        what = str(err.get("msg", "invalid")).removeprefix("Input should be ").removeprefix("Value should be ")
        wants, _ = by_arg.setdefault(name, ([], err.get("input")))
        if what not in wants:
            wants.append(what)
    clauses = []
    for name, (wants, got) in by_arg.items():
        if wants == ["required"]:
            clauses.append(f"{name}: required, missing")
        else:
            clauses.append(f"{name}: should be {' or '.join(wants)} (got {echoed(got)})")
    return "; ".join(clauses)


class ClearErrorsServer(MCPServer[Any]):
    """``MCPServer`` whose tool and prompt errors say what to fix (see the module docstring)."""

    _arguments: dict[str, frozenset[str]] | None = None

    def add_tool(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401 - the SDK's signature, passed on
        super().add_tool(*args, **kwargs)
        self._arguments = None

    def remove_tool(self, name: str) -> None:
        super().remove_tool(name)
        self._arguments = None

    async def _tool_arguments(self) -> dict[str, frozenset[str]]:
        """Each tool's argument names, from its input schema (read once per set of tools)."""
        if self._arguments is None:
            self._arguments = {t.name: frozenset((t.input_schema or {}).get("properties", {}))
                               for t in await self.list_tools()}
        return self._arguments

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None,  # noqa: ANN401
                        ) -> CallToolResult | InputRequiredResult:
        """The SDK's ``call_tool`` after refusing unknown tools and arguments; its argument
        validation errors rewritten as one clear line. Raises ``ToolError`` (an ``is_error``
        result for the client) like the SDK."""
        tools = await self._tool_arguments()
        known = tools.get(name)
        if known is None:
            raise ToolError(f"Unknown tool {shown(name)}; tools: {', '.join(sorted(tools))}")
        unknown = sorted(set(arguments) - known)
        if unknown:
            raise ToolError(cut(f"Error executing tool {name}: unknown argument{'s' if len(unknown) > 1 else ''} "
                                f"{', '.join(shown(a) for a in unknown)}; {name} takes: "
                                f"{', '.join(sorted(known)) or 'no arguments'}"))
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError:
            raise
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                raise ToolError(cut(f"Error executing tool {name}: invalid arguments: "
                                    f"{argument_errors(exc.__cause__)}")) from exc.__cause__
            raise ToolError(cut(str(exc))) from exc.__cause__

    async def get_prompt(self, name: str, arguments: dict[str, Any] | None = None, context: Any = None,  # noqa: ANN401
                         ) -> GetPromptResult | InputRequiredResult:
        """The SDK's ``get_prompt`` after checking the name and the arguments; a problem with
        either is ``MCPError(INVALID_PARAMS)`` naming it, a prompt that fails to render is
        ``INTERNAL_ERROR`` (logged once, here)."""
        prompts = {p.name: p for p in await self.list_prompts()}
        prompt = prompts.get(name)
        if prompt is None:
            offered = f"prompts: {', '.join(sorted(prompts))}" if prompts else "this server offers no prompts"
            raise MCPError(INVALID_PARAMS, f"unknown prompt {shown(name)}; {offered}")
        takes = {a.name: a.required for a in prompt.arguments or []}
        unknown = sorted(set(arguments or {}) - set(takes))
        missing = sorted(a for a, required in takes.items() if required and a not in (arguments or {}))
        if unknown or missing:
            problems = ([f"unknown argument(s) {', '.join(shown(a) for a in unknown)}"] if unknown else []) + \
                ([f"missing required argument(s) {', '.join(missing)}"] if missing else [])
            raise MCPError(INVALID_PARAMS, cut(f"prompt {name}: {'; '.join(problems)}; it takes: "
                                               f"{', '.join(sorted(takes)) or 'no arguments'}"))
        try:
            return await super().get_prompt(name, arguments, context)
        except ValueError as exc:
            logger.warning("prompt %r failed to render: %r", name, exc.__cause__ or exc)
            raise MCPError(INTERNAL_ERROR, f"prompt {name} failed to render") from exc
