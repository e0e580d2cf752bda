"""The ``select_agents`` tool's parameters, derived from the context declared once.

The MCP SDK builds a tool's input schema from its function signature. Writing the context's
fields out again as parameters would be a fourth declaration to keep equal to
``agentload.context.Context``; instead the signature is built here from ``Context``'s fields
(each optional: what the caller leaves out comes from the project) and the tool's own
options, and set as the tool method's ``__signature__``, which ``inspect.signature`` and so
the SDK read.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any, Optional

from mcp.types import CallToolResult
from pydantic import Field

from agentload.context import Context

DEFAULT_WAIT_MS = 2000

#: (name, annotation, default, description) of the options that are not context fields
SELECT_OPTIONS: tuple[tuple[str, Any, Any, str], ...] = (
    ("project_id", str | None, None, "Fill missing fields from its stored state"),
    ("project_path", str | None, None,
     "Fill missing fields from this project folder's BMad files (absolute path; the served project by default)"),
    ("include_definitions", bool, False, "Embed each agent's full text"),
    ("wait_ms", int, DEFAULT_WAIT_MS, "On a cache miss, wait this long for a worker"),
)
OPTION_DEFAULTS: dict[str, Any] = {name: default for name, _, default, _ in SELECT_OPTIONS}


def _parameter(name: str, annotation: Any, default: Any, description: str | None) -> inspect.Parameter:  # noqa: ANN401
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=Annotated[annotation, Field(description=description)])


def select_signature() -> inspect.Signature:
    """``(self, *, <context fields>..., <options>...) -> CallToolResult``."""
    fields = [_parameter(name, Optional[field.annotation], None, field.description)  # noqa: UP045 - a runtime type
              for name, field in Context.model_fields.items()]
    options = [_parameter(*option) for option in SELECT_OPTIONS]
    this = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return inspect.Signature([this, *fields, *options], return_annotation=CallToolResult)


SELECT_SIGNATURE = select_signature()
