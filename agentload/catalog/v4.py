"""Read BMad v4 trees (``bmad-core`` and expansion packs) into the shared catalog model.

A v4 agent is a markdown file with one embedded ```yaml block (``agent``, ``persona``,
``commands``, ``dependencies``); what a command runs is only said in prose ("run task
create-doc.md with template prd-tmpl.yaml"). Workflows are ``workflows/*.yaml`` with a
``sequence`` of agent steps naming artifacts, not commands. Releases and expansion packs use
other ids, files and wording, so everything here is read by structure: a command runs a
dependency file when its text names one of the agent's declared dependencies, and a
workflow step maps to the command whose name or named files share the step's artifact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from agentload.catalog.models import Agent, MenuItem, PathFile, PathPhase, PathWorkflow, Persona, WorkItem
from agentload.catalog.paths import NAMED_PHASE_BASE
from agentload.catalog.safeyaml import safe_load
from agentload.tokens import count_tokens

MAX_FIELD_CHARS = 20_000
MAX_ITEMS = 500
_YAML_BLOCK = re.compile(r"^```ya?ml[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
_TOKEN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_TASK_KIND = "tasks"
_ARTIFACT_KEYS = ("uses", "action", "creates", "updates", "validates")
_FILE_NAME = re.compile(r"^[\w.-]+\.[A-Za-z]\w*$")  # "prd.md", not "sharded_docs" (a label)


@dataclass(frozen=True)
class V4Agent:
    """An agent plus its declared dependencies: type -> catalog-relative paths, in order."""

    agent: Agent
    deps: dict[str, list[str]]


def _text(value: Any, depth: int = 0) -> str:  # noqa: ANN401 - YAML scalars
    """A field as text; lists and mappings are flattened, bounded in depth and length."""
    if value is None or depth > 3:
        return ""
    if isinstance(value, list):
        return "\n".join(t for v in value[:200] if (t := _text(v, depth + 1)))[:MAX_FIELD_CHARS]
    if isinstance(value, dict):
        parts = (f"{k}: {_text(v, depth + 1)}" for k, v in list(value.items())[:200])
        return "\n".join(parts)[:MAX_FIELD_CHARS]
    return str(value).strip()[:MAX_FIELD_CHARS]


def _norm(word: str) -> str:
    """``Create_Story`` -> ``create-story``; ``prd.md`` -> ``prd`` (last extension dropped)."""
    word = word.strip().strip(".").lower().replace("_", "-").replace(" ", "-")
    return word.rsplit(".", 1)[0] if "." in word else word


def _stem(path: str) -> str:
    return _norm(path.rsplit("/", 1)[-1])


def _slug(text: str) -> str:
    """``v0_prompt (optional)`` -> ``v0-prompt``; ``classify enhancement scope`` -> hyphenated."""
    return "-".join(w for w in (_norm(t) for t in _TOKEN.findall(text.split("(")[0])) if w)[:80]


def _agent_block(text: str) -> dict[str, Any]:
    """The first fenced YAML block whose document is a mapping with an ``agent`` mapping."""
    for match in _YAML_BLOCK.finditer(text):
        try:
            data = safe_load(match.group(1))
        except yaml.YAMLError:
            continue
        if isinstance(data, dict) and isinstance(data.get("agent"), dict):
            return data
    raise ValueError("no ```yaml block with an 'agent' mapping")


def _commands(raw: Any) -> list[tuple[str, str, bool]]:  # noqa: ANN401 - YAML
    """(name, description, inline) per command: ``{name: text}``, ``"name: text"``,
    ``{name: {description: ...}}``, or a plain mapping of names. ``inline`` marks a command
    whose value is a structure without ``description`` (a procedure written in the agent)."""
    pairs: list[tuple[str, Any]] = []
    items = list(raw.items()) if isinstance(raw, dict) else raw if isinstance(raw, list) else []
    for item in items[:MAX_ITEMS]:
        if isinstance(item, tuple):
            pairs.append(item)
        elif isinstance(item, dict) and item:
            pairs.append(next(iter(item.items())))
        elif isinstance(item, str) and item.strip():
            name, _, desc = item.partition(":")
            pairs.append((name, desc))
    out = []
    for key, value in pairs:
        name = str(key).strip().split(" ")[0].lstrip("*").lower()[:200]
        if isinstance(value, dict) and "description" in value:
            value = value["description"]
        out.append((name, _text(value), isinstance(value, dict | list)))
    return [c for c in out if c[0]]


def _named(description: str, deps: dict[str, list[str]]) -> list[tuple[str, str]]:
    """(type, path) of the dependency files a command's text names, in order of mention.

    A file counts when named with its extension, by a hyphenated stem, or as ``task <stem>``
    / ``<stem> task``."""
    by_file: dict[str, tuple[str, str]] = {}
    by_stem: dict[str, tuple[str, str]] = {}
    for kind, paths in deps.items():
        for path in paths:
            by_file.setdefault(path.rsplit("/", 1)[-1].lower(), (kind, path))
            by_stem.setdefault(_stem(path), (kind, path))
    words = [w.strip(".-").lower() for w in _TOKEN.findall(description)]
    found: list[tuple[str, str]] = []
    for i, word in enumerate(words):
        near_task = "task" in (words[i - 1] if i else "", words[i + 1] if i + 1 < len(words) else "")
        if "." in word:
            hit = by_file.get(word)
        else:
            hit = by_stem.get(_norm(word)) if ("-" in word or "_" in word or near_task) else None
        if hit and hit not in found:
            found.append(hit)
    return found


def _menu_item(name: str, description: str, inline: bool, deps: dict[str, list[str]]) -> MenuItem:
    item = MenuItem(trigger=f"*{name}", name=name, description=description)
    named = [] if inline else _named(description, deps)
    if inline:
        item.target_kind = "action"
    elif named:
        kind, path = next((n for n in named if n[0] == _TASK_KIND), named[0])
        item.target_kind, item.target = "task", path.rsplit("/", 1)[-1]
        item.workflow_file, item.work_item = path, name
    return item


def _deps(data: dict[str, Any], base: str) -> dict[str, list[str]]:
    """``dependencies`` as type -> ``{base}/{type}/{name}`` (names with ``/`` are dropped)."""
    raw: dict[str, Any] = data["dependencies"] if isinstance(data.get("dependencies"), dict) else {}
    prefix = f"{base.strip('/')}/" if base.strip("/") else ""
    deps: dict[str, list[str]] = {}
    for kind, names in list(raw.items())[:MAX_ITEMS]:
        listed = names if isinstance(names, list) else [names]
        files = [n for n in (_text(x) for x in listed[:MAX_ITEMS]) if n and "/" not in n and n not in {".", ".."}]
        deps[str(kind).strip()] = [f"{prefix}{kind}/{n}" for n in files]
    return deps


def _agent_deps(agent: Agent) -> dict[str, list[str]]:
    """An already parsed agent's dependencies, re-read from its text; the tree's base is
    taken from a resolved menu file, else the folder above ``agents/``."""
    known = next((m.workflow_file for m in agent.menu if m.workflow_file), None)
    anchor = known or agent.path
    base = anchor.rsplit("/", 2)[0] if anchor.count("/") >= 2 else ""
    try:
        return _deps(_agent_block(agent.text), base)
    except ValueError:
        return {}


def read_v4_agent(path: str, module: str, text: str, base: str) -> V4Agent:
    """Parse a v4 ``agents/<id>.md``; see ``parse_v4_agent``. ``deps`` maps each dependency
    type to ``f"{base}/{type}/{name}"`` paths (``base`` "" gives ``type/name``)."""
    data = _agent_block(text)
    meta: dict[str, Any] = data["agent"]
    persona_raw: dict[str, Any] = data["persona"] if isinstance(data.get("persona"), dict) else {}
    deps = _deps(data, base)
    principles = [_text(persona_raw.get("focus")), _text(persona_raw.get("core_principles"))]
    persona = Persona(
        role=_text(persona_raw.get("role")), identity=_text(persona_raw.get("identity")),
        communication_style=_text(persona_raw.get("style")), principles="\n".join(p for p in principles if p),
    )
    agent = Agent(
        id=path.rsplit("/", 1)[-1].rsplit(".", 1)[0], module=module, path=path, layout="v4",
        name=_text(meta.get("name")), title=_text(meta.get("title")), icon=_text(meta.get("icon")),
        description=_text(meta.get("whenToUse")), persona=persona,
        menu=[_menu_item(n, d, inline, deps) for n, d, inline in _commands(data.get("commands"))],
        text=text, tokens=count_tokens(text),
    )
    return V4Agent(agent=agent, deps=deps)


def parse_v4_agent(path: str, module: str, text: str, base: str) -> Agent:
    """An ``Agent`` (layout ``v4``, id = file stem) from a v4 agent markdown file.

    Every command becomes a ``MenuItem`` (``*name``); one whose text names a file of the
    agent's ``dependencies`` gets ``target_kind="task"``, ``target`` (first task named, else
    first file), ``workflow_file`` (``{base}/{type}/{name}``) and ``work_item`` = its name.
    Raises ValueError when no YAML block holds an ``agent`` mapping (UnsafeYaml is one).
    """
    return read_v4_agent(path, module, text, base).agent


def v4_work_items(agents: list[Agent], deps: dict[str, dict[str, list[str]]] | None = None) -> dict[str, WorkItem]:
    """One ``task`` WorkItem per command that runs a file, keyed by command name.

    ``deps`` maps agent id -> ``V4Agent.deps``; an agent missing from it has its dependencies
    re-read from ``Agent.text``. Same-named commands of several agents merge: owners and files
    are unioned, the first entry file and description kept. ``tokens`` stays 0 (no file reads).
    """
    items: dict[str, WorkItem] = {}
    for agent in agents:
        own = (deps or {}).get(agent.id)
        own = own if own is not None else _agent_deps(agent) if any(m.work_item for m in agent.menu) else {}
        for entry in agent.menu:
            if not entry.work_item:
                continue
            files = [p for _, p in _named(entry.description, own) if p != entry.workflow_file]
            item = items.setdefault(entry.work_item, WorkItem(
                id=entry.work_item, kind="task", name=entry.name, description=entry.description,
                module=agent.module, entry_file=entry.workflow_file,
            ))
            if not item.owners or item.owners[-1] != agent.id:  # an agent's entries come together: O(1)
                item.owners.append(agent.id)
            item.files += [f for f in files if f not in item.files]
    return items


def _candidates(agent: Agent, deps: dict[str, list[str]]) -> list[tuple[MenuItem, str, bool]]:
    """(command, name, is_file) for every name a step may match: command names and the
    stems of the files each command's text names."""
    out: list[tuple[MenuItem, str, bool]] = []
    for item in agent.menu:
        if not item.target_kind:
            continue
        out.append((item, item.name, False))
        out += [(item, _stem(p), True) for _, p in _named(item.description, deps)]
    return out


def _match(step: dict[str, Any], cands: list[tuple[MenuItem, str, bool]]) -> MenuItem | None:
    """Exact names in ``uses``/``action``, then artifacts sharing all their words with a
    name (fewest extra words, file names first), then exact hyphenated names in ``notes``."""
    def exact(text: str, compound_only: bool = False) -> MenuItem | None:
        words = {_norm(w) for w in _TOKEN.findall(text)}
        return next((c for c, n, _ in cands if n in words and ("-" in n or not compound_only)), None)

    if hit := exact(f"{_text(step.get('uses'))} {_text(step.get('action'))}"):
        return hit
    best: tuple[int, int, bool] | None = None
    found: MenuItem | None = None
    for key in _ARTIFACT_KEYS:
        want = set(_slug(_text(step.get(key))).split("-")) - {""}
        for item, name, is_file in cands if want else []:
            have = set(name.split("-"))
            score = (len(want), -len(have - want), is_file)
            if want <= have and (best is None or score > best):
                best, found = score, item
    return found or exact(_text(step.get("notes")), compound_only=True)


def _created_files(step: dict[str, Any]) -> list[str]:
    """The files a step ``creates`` (``prd.md``; v4 saves them in the project's docs folders)."""
    names = (_text(step.get("creates")).split("(")[0]).split()
    return [n for n in names if _FILE_NAME.match(n)]


def _steps(sequence: list[Any]) -> list[dict[str, Any]]:
    """Sequence entries as dicts; a routing step's ``routes`` become conditional steps."""
    out: list[dict[str, Any]] = []
    for raw in sequence[:MAX_ITEMS]:
        if not isinstance(raw, dict):
            continue
        out.append(raw)
        routes = raw.get("routes") if "agent" not in raw else None
        for route, body in list(routes.items())[:MAX_ITEMS] if isinstance(routes, dict) else []:
            if isinstance(body, dict):
                out.append({**body, "step": route, "condition": f"{_text(raw.get('condition'))}: {route}"})
    return out


def parse_v4_workflow(
    path: str, text: str, agents: dict[str, Agent], deps: dict[str, dict[str, list[str]]] | None = None
) -> PathFile:
    """A ``PathFile`` from a v4 ``workflows/*.yaml``: one phase ``sequence`` whose steps are
    the agent steps in order (``a/b`` -> first known agent; unknown agents and agentless
    steps skipped). Step id = the matched command's name, else the normalised step, action or
    artifact name; repeats get ``-2``, ``-3``. ``deps`` (agent id -> ``V4Agent.deps``) saves
    re-reading each agent's dependencies from its text. Raises ValueError without a
    ``workflow.sequence`` list.
    """
    data = safe_load(text)
    wf = data.get("workflow") if isinstance(data, dict) else None
    if not isinstance(wf, dict) or not isinstance(wf.get("sequence"), list):
        raise ValueError("no 'workflow.sequence' list")
    steps: list[PathWorkflow] = []
    seen: dict[str, int] = {}
    known = dict(deps or {})
    for step in _steps(wf["sequence"]):
        names = _text(step.get("agent")).split("/") if isinstance(step.get("agent"), str) else []
        agent_id = next((a.strip() for a in names if a.strip() in agents), None)
        if agent_id is None:
            continue
        if agent_id not in known:
            known[agent_id] = _agent_deps(agents[agent_id])
        cmd = _match(step, _candidates(agents[agent_id], known[agent_id]))
        fallback = next((_text(step[k]) for k in ("step", *_ARTIFACT_KEYS) if _text(step.get(k))), "step")
        sid = cmd.name if cmd else _slug(fallback) or "step"
        seen[sid] = seen.get(sid, 0) + 1
        notes = _text(step.get("notes"))
        condition = _text(step.get("condition")) or None
        optional = notes.lower().startswith("optional") or str(step.get("optional")).lower() in {"true", "yes"}
        extra = [f"{k}: {_text(step.get(k))}" for k in _ARTIFACT_KEYS if _text(step.get(k))]
        steps.append(PathWorkflow(
            id=sid if seen[sid] == 1 else f"{sid}-{seen[sid]}", agent=agent_id, condition=condition,
            # a v4 condition (user_wants_ai_generation, architecture_suggests_prd_changes) makes a
            # step optional: the sequence goes on without it; the condition text is kept
            kind="optional" if condition or optional else "required",
            workflow_file=cmd.workflow_file if cmd else None, command=cmd.name if cmd else None,
            text="\n".join([notes, *extra]).strip()[:MAX_FIELD_CHARS],
            outputs=_created_files(step),
        ))
    return PathFile(
        file=path, stem=path.rsplit("/", 1)[-1].rsplit(".", 1)[0], track=_text(wf.get("id")) or None,
        field_type=_text(wf.get("type")) or None, method_name=_text(wf.get("name")),
        description=_text(wf.get("description")),
        # a v4 workflow is one ordered sequence, not phases: numbered past any phase a context can
        # name (0-20) and unlabelled, so "phase 1" is reported unknown instead of selecting the lot
        phases=[PathPhase(phase=NAMED_PHASE_BASE, name="", kind="required", workflows=steps)],
    )
