"""Installed BMad v6 trees (``_bmad/``): compiled agents and the ``_config/`` manifests.

``bmad-method install`` compiles each ``*.agent.yaml`` into markdown (frontmatter, prose, a
fenced ``<agent>`` XML block); that file is what an assistant loads, so it is the agent's
text and token count. Everything is read by structure (elements, attributes, CSV columns),
never by ids or words of one release. ``ElementTree`` reads the XML once DTDs and entity
declarations are refused; shipped files are not always well-formed, so a linear-time regex
read of the same elements is the fallback rather than a failure.
"""

from __future__ import annotations

import csv
import html
import io
import re
import xml.etree.ElementTree as ET
from typing import Any, NamedTuple

import yaml

from agentload.catalog.agents import _TARGET_KEYS, _TRIGGER, MAX_FIELD_CHARS
from agentload.catalog.models import Agent, MenuItem, Persona, WorkItem
from agentload.catalog.paths import RefResolver
from agentload.catalog.safeyaml import safe_load
from agentload.catalog.workflows import _FRONTMATTER
from agentload.tokens import count_tokens

LAYOUT = "v6-installed"
_PERSONA_FIELDS = ("role", "identity", "communication_style", "principles")
_FILE_KINDS = frozenset({"workflow", "exec", "validate-workflow"})
_UNSAFE = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.I)
_AGENT_OPEN = (re.compile(r"<agent\s+[\w:.-]+\s*="), re.compile(r"<agent(?=[\s/>])"))  # attributed first
_LABEL_CODE = re.compile(r"^\[([^\]\s]{1,12})\]\s*")
_ATTR = re.compile(r"""(?<![\w:.-])([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_TAG = re.compile(r"<[^<>]*>")


class _RawItem(NamedTuple):
    attrs: dict[str, str]
    text: str
    handlers: list[dict[str, str]]


class _RawAgent(NamedTuple):
    attrs: dict[str, str]
    persona: dict[str, str]
    items: list[_RawItem]


def _clean(value: str) -> str:
    """Whitespace collapsed to single spaces, bounded in length (hostile files)."""
    return " ".join(value[: MAX_FIELD_CHARS * 2].split())[:MAX_FIELD_CHARS]


def _child(root: ET.Element, tag: str) -> ET.Element | None:
    """A direct child ``<tag>``, else the first one at any depth."""
    found = root.find(tag)
    return found if found is not None else next(root.iter(tag), None)


def _read_etree(snippet: str) -> _RawAgent:
    """The agent block through ElementTree; raises ``ET.ParseError`` when not well-formed."""
    root = ET.fromstring(snippet)  # noqa: S314 - DTDs and entity declarations refused before
    persona: dict[str, str] = {}
    persona_el = _child(root, "persona")
    if persona_el is not None:
        for field in _PERSONA_FIELDS:
            el = persona_el.find(field)
            if el is not None:
                persona[field] = "".join(el.itertext())
    items: list[_RawItem] = []
    menu = _child(root, "menu")
    for item in menu.findall("item") if menu is not None else []:
        handlers = [dict(h.attrib) for h in item.findall("handler")]
        # a multi item's own label is its text and the text between its handlers
        own = (item.text or "") + "".join(child.tail or "" for child in item)
        text = own if handlers else "".join(item.itertext())
        items.append(_RawItem(dict(item.attrib), text, handlers))
    return _RawAgent(dict(root.attrib), persona, items)


def _open_tag(tag: str) -> re.Pattern[str]:
    """An opening tag whose attribute values may hold ``>``; group 1 is the attribute text.

    Never across a ``<`` (XML forbids it in attributes), so scans cannot overlap: linear time.
    """
    return re.compile(rf"""<{tag}(?=[\s/>])((?:"[^"<]*"|'[^'<]*'|[^'"<>])*)>""")


def _attrs(raw: str) -> dict[str, str]:
    return {m.group(1): html.unescape(m.group(2) if m.group(2) is not None else m.group(3) or "")
            for m in _ATTR.finditer(raw)}


def _region(text: str, tag: str, last: bool = False) -> str | None:
    """The content of the first (or last) ``<tag>`` element, to the end when never closed."""
    matches = list(_open_tag(tag).finditer(text))
    if not matches:
        return None
    match = matches[-1] if last else matches[0]
    end = text.find(f"</{tag}>", match.end())
    return text[match.end(): end if end != -1 else len(text)]


def _inner_text(fragment: str) -> str:
    return html.unescape(_TAG.sub(" ", fragment))


def _read_regex(snippet: str) -> _RawAgent:
    """The same reading as ``_read_etree`` by regular expressions, for malformed blocks."""
    head = _open_tag("agent").match(snippet)
    persona_text = _region(snippet, "persona", last=True) or snippet
    persona: dict[str, str] = {}
    for field in _PERSONA_FIELDS:
        content = _region(persona_text, field)
        if content is not None:
            persona[field] = _inner_text(content)
    items: list[_RawItem] = []
    menu = _region(snippet, "menu", last=True) or ""
    opens = list(_open_tag("item").finditer(menu))
    for i, match in enumerate(opens):
        limit = opens[i + 1].start() if i + 1 < len(opens) else len(menu)
        raw_attrs, close = match.group(1), menu.find("</item>", match.end(), limit)
        content = "" if raw_attrs.rstrip().endswith("/") else menu[match.end(): close if close != -1 else limit]
        handlers = [_attrs(h.group(1)) for h in _open_tag("handler").finditer(content)]
        items.append(_RawItem(_attrs(raw_attrs), _inner_text(content), handlers))
    return _RawAgent(_attrs(head.group(1)) if head else {}, persona, items)


def _target(attrs: dict[str, str]) -> tuple[str, str]:
    """(kind, raw target) from the first target attribute present, or ("", "")."""
    for key in _TARGET_KEYS:
        if attrs.get(key, "").strip():
            return key, _clean(attrs[key])
    return "", ""


def _menu_item(raw: _RawItem, resolve: RefResolver) -> MenuItem:
    cmd = _clean(raw.attrs.get("cmd", ""))
    label = _clean(raw.text)
    match = _TRIGGER.match(cmd)
    label_code = _LABEL_CODE.match(label)
    code = match.group(1) if match else (label_code.group(1) if label_code else "")
    name = (match.group(2) if match else cmd.lstrip("*")).strip().lower()
    if raw.handlers or raw.attrs.get("type", "").strip().lower() == "multi":
        matches = [_clean(h["match"]) for h in raw.handlers if h.get("match", "").strip()]
        targets = [_target(h) for h in raw.handlers]
        files = [(t, resolve(t)) for kind, t in targets if kind in _FILE_KINDS]
        resolved = next(((t, f) for t, f in files if f), None)
        return MenuItem(
            trigger=cmd or " | ".join(matches),
            code=code,
            name=name,
            description="; ".join(filter(None, [label, *matches])),
            target_kind="multi",
            target=resolved[0] if resolved else next((t for _, t in targets if t), ""),
            workflow_file=resolved[1] if resolved else None,
        )
    kind, target = _target(raw.attrs)
    return MenuItem(
        trigger=cmd,
        code=code,
        name=name,
        description=_LABEL_CODE.sub("", label, count=1),
        target_kind=kind,
        target=target,
        workflow_file=resolve(target) if kind in _FILE_KINDS else None,
    )


def _frontmatter(text: str) -> dict[str, Any]:
    match = _FRONTMATTER.match(text.lstrip("\ufeff"))
    if match is None:
        return {}
    try:
        data = safe_load(match.group(1))
    except (yaml.YAMLError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def parse_compiled_agent(path: str, module: str, text: str, resolve: RefResolver) -> Agent:
    """Parse a compiled agent (``_bmad/<module>/agents/**/<id>.md``) into an ``Agent``.

    ``id`` is the file stem; name, title, icon come from the ``<agent>`` attributes, the
    description from ``capabilities`` or else the frontmatter ``description``; persona from
    ``<persona>``; menu from ``<menu>/<item>`` (``type="multi"`` items with ``<handler>``
    children become one ``target_kind="multi"`` item). ``text``/``tokens`` are the whole
    file. Raises ValueError when there is no ``<agent`` element or the text declares a DTD
    or entities; a block ElementTree cannot parse is read by regular expressions instead.
    """
    if _UNSAFE.search(text):
        raise ValueError("DTD or entity declarations are not allowed in an agent file")
    start = _AGENT_OPEN[0].search(text) or _AGENT_OPEN[1].search(text)
    if start is None:
        raise ValueError("no <agent> element: not a compiled agent")
    end = text.rfind("</agent>")
    snippet = text[start.start(): end + len("</agent>")] if end > start.start() else text[start.start():]
    try:
        raw = _read_etree(snippet)
    except ET.ParseError as exc:
        raw = _read_regex(snippet)
        if not raw.items and not any(raw.persona.values()) and not raw.attrs.get("title"):
            raise ValueError(f"the <agent> block is not readable XML ({exc}) and holds no title, persona "
                             "or menu item") from exc
    meta = _frontmatter(text)
    attrs = {k: _clean(v) for k, v in raw.attrs.items()}
    stem = path.rsplit("/", 1)[-1]
    return Agent(
        id=stem.removesuffix(".md"),
        module=module,
        path=path,
        layout=LAYOUT,
        name=attrs.get("name") or _clean(str(meta.get("name") or "")),
        title=attrs.get("title", ""),
        icon=attrs.get("icon", ""),
        description=attrs.get("capabilities") or _clean(str(meta.get("description") or "")),
        persona=Persona(**{f: _clean(raw.persona.get(f, "")) for f in _PERSONA_FIELDS}),
        menu=[_menu_item(item, resolve) for item in raw.items],
        text=text,
        tokens=count_tokens(text),
    )


def _rows(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """(normalised column -> header, rows) of a CSV; headers match case- and punctuation-free."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    try:
        columns = {re.sub(r"[^a-z0-9]", "", (h or "").lower()): h for h in reader.fieldnames or []}
        rows = [{k: (v or "").strip() for k, v in row.items() if isinstance(k, str) and isinstance(v, str | None)}
                for row in reader]
    except csv.Error as exc:  # NUL bytes, oversized fields
        raise ValueError(f"unreadable CSV: {exc}") from exc
    return columns, rows


def parse_workflow_manifest(path: str, text: str, resolve: RefResolver, kind: str) -> list[WorkItem]:
    """``workflow-manifest.csv`` / ``task-manifest.csv`` rows as ``WorkItem``s of ``kind``.

    id = ``name``, name = ``displayName`` or ``name``, entry_file = resolve(``path``) (None
    when it names no known module); phase None, owners empty. Rows without a name are
    skipped. Raises ValueError (naming ``path``) when the CSV has no name or path column.
    """
    columns, rows = _rows(text)
    missing = [c for c in ("name", "path") if c not in columns]
    if missing:
        raise ValueError(f"{path}: no {' or '.join(missing)} column")

    def col(row: dict[str, str], key: str) -> str:
        return row.get(columns[key], "") if key in columns else ""

    return [
        WorkItem(id=wid, kind=kind, name=col(row, "displayname") or wid, description=col(row, "description"),
                 module=col(row, "module"), entry_file=resolve(ref) if (ref := col(row, "path")) else None)
        for row in rows
        if (wid := col(row, "name"))
    ]


def read_install_manifest(text: str) -> tuple[str | None, list[str]]:
    """(version, module names) of ``_bmad/_config/manifest.yaml``.

    Version: ``installation.version``, else the first module's ``version``, else a top-level
    ``version``, else None. Modules may be mappings with ``name`` or plain strings. Raises
    ValueError when the text is not YAML or not a mapping.
    """
    try:
        data = safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"not YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError("install manifest is not a mapping")
    raw_modules: list[Any] = data["modules"] if isinstance(data.get("modules"), list) else []
    scalars = str | int | float
    entries = [e if isinstance(e, dict) else {"name": e} for e in raw_modules if isinstance(e, dict | scalars)]
    names = [str(e["name"]).strip() for e in entries if str(e.get("name") or "").strip()]
    install = data.get("installation")
    version = (install.get("version") if isinstance(install, dict) else None) or next(
        (e["version"] for e in entries if e.get("version")), None) or data.get("version")
    return (str(version).strip() if version else None), names


def parse_agent_manifest(text: str) -> dict[str, dict[str, str]]:
    """``agent-manifest.csv`` rows by their ``name`` column, each row keyed by its own headers.

    Unknown columns are kept; rows without a name are skipped (a later duplicate wins).
    Raises ValueError when there is no name column.
    """
    columns, rows = _rows(text)
    if "name" not in columns:
        raise ValueError("agent manifest has no name column")
    return {row[columns["name"]]: row for row in rows if row.get(columns["name"])}
