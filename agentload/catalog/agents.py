"""Parse one ``*.agent.yaml`` into an ``Agent`` with its exact token count."""

from __future__ import annotations

import re
from typing import Any

from agentload.catalog.models import Agent, MenuItem, Persona
from agentload.catalog.paths import RefResolver
from agentload.catalog.safeyaml import safe_load
from agentload.tokens import count_tokens

AGENT_SUFFIX = ".agent.yaml"
_TRIGGER = re.compile(r"^\s*([A-Za-z0-9*]+)\s+or\s+fuzzy\s+match\s+on\s+(.+?)\s*$", re.I)
_TARGET_KEYS = ("workflow", "exec", "validate-workflow", "action", "tmpl", "data")


MAX_FIELD_CHARS = 20_000


def field_text(value: Any, depth: int = 0) -> str:  # noqa: ANN401 - YAML/TOML scalars
    """A field as text; lists are joined, bounded in depth and length (hostile files)."""
    if value is None or depth > 3:
        return ""
    if isinstance(value, list):
        return "\n".join(field_text(v, depth + 1) for v in value[:200])[:MAX_FIELD_CHARS]
    if isinstance(value, dict):
        return ""
    return str(value).strip()[:MAX_FIELD_CHARS]


def _menu_item(raw: dict[str, Any], resolve: RefResolver) -> MenuItem:
    trigger = field_text(raw.get("trigger") or raw.get("cmd"))
    match = _TRIGGER.match(trigger)
    code, name = (match.group(1), match.group(2)) if match else ("", trigger.lstrip("*"))
    kind, target = "", ""
    for key in _TARGET_KEYS:
        if raw.get(key):
            kind, target = key, field_text(raw[key])
            break
    wf_file = resolve(target) if kind in {"workflow", "exec", "validate-workflow"} else None
    return MenuItem(
        trigger=trigger,
        code=code,
        name=name.strip().lower(),
        description=field_text(raw.get("description")),
        target_kind=kind,
        target=target,
        workflow_file=wf_file,
    )


def agent_id_from_path(path: str) -> str:
    return path.rsplit("/", 1)[-1][: -len(AGENT_SUFFIX)]


def parse_agent(path: str, module: str, text: str, resolve: RefResolver) -> Agent:
    """Parse an agent file; raises ValueError when it is not an agent definition."""
    data = safe_load(text)
    body = data.get("agent") if isinstance(data, dict) else None
    if not isinstance(body, dict):
        raise ValueError("no top-level 'agent' mapping")
    meta: dict[str, Any] = body["metadata"] if isinstance(body.get("metadata"), dict) else {}
    persona_raw: dict[str, Any] = body["persona"] if isinstance(body.get("persona"), dict) else {}
    menu_raw: list[Any] = body["menu"] if isinstance(body.get("menu"), list) else []
    persona = Persona(
        role=field_text(persona_raw.get("role")),
        identity=field_text(persona_raw.get("identity")),
        communication_style=field_text(persona_raw.get("communication_style")),
        principles=field_text(persona_raw.get("principles")),
    )
    actions: list[Any] = body["critical_actions"] if isinstance(body.get("critical_actions"), list) else []
    return Agent(
        id=agent_id_from_path(path),
        module=str(meta.get("module") or module),
        path=path,
        name=field_text(meta.get("name")),
        title=field_text(meta.get("title")),
        icon=field_text(meta.get("icon")),
        persona=persona,
        critical_actions=[field_text(a) for a in actions],
        menu=[_menu_item(m, resolve) for m in menu_raw if isinstance(m, dict)],
        text=text,
        tokens=count_tokens(text),
    )
