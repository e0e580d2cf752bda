"""Read BMad v6.2+ Agent Skills: every agent and every workflow is a skill folder.

A skill folder holds ``SKILL.md`` (YAML frontmatter ``name``, ``description``, then the body an
assistant loads) and optionally ``customize.toml``, ``references/``, ``assets/`` and step files.
Everything here goes by structure, never by skill names, so other releases and modules read the
same way: an ``[agent]`` table in ``customize.toml`` makes an agent (persona and menu come from
it); without one, a folder under a parent named ``agents`` is an agent (BMad source layout);
anything else is a workflow skill. ``work_files`` and ``next_step_file`` also serve the older
workflow layouts (``workflow.yaml``/``workflow.md`` + step folders), whose files they find from
the folder structure and the paths the files name.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from agentload.catalog.agents import field_text
from agentload.catalog.files import CatalogFileError, inside_root, read_text
from agentload.catalog.models import Agent, MenuItem, Persona, WorkItem
from agentload.catalog.safeyaml import safe_load
from agentload.tokens import count_tokens

EXCERPT_CHARS = 4000
_FRONTMATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(?:(.*?)\r?\n)?---[ \t]*(?:\r?\n|\Z)", re.S)
_HEADING_SPLIT = re.compile(r"\s+[—–-]\s+|:\s+")
_TOKEN = re.compile(r"[\w.{}/-]+")
_EXT = re.compile(r"\.[A-Za-z0-9]{1,8}$")
_ENTRY = re.compile(r"^(?:workflow\.(?:ya?ml|md|xml)|workflow-[\w.-]+\.md|SKILL\.md)$")
_ORDER = re.compile(r"(\d+)([a-z]*)")
_LOAD_VERB = re.compile(r"\b(?:load|read|follow)", re.I)
_TEXT_SUFFIXES = {".md", ".markdown", ".yaml", ".yml", ".xml", ".txt"}


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def split_frontmatter(text: str) -> tuple[dict[str, Any], str]:
    """``(frontmatter mapping, body)`` of a ``---``-fenced YAML header; ``({}, text)`` without one.

    Raises ValueError when the header is not valid YAML or not a mapping.
    """
    match = _FRONTMATTER.match(text)
    if not match:
        return {}, text
    try:
        data = safe_load(match.group(1) or "") or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"frontmatter is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"frontmatter is a {type(data).__name__}, not a mapping")
    return {str(k): v for k, v in data.items()}, text[match.end():]


def _toml(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise ValueError(f"customize.toml is not valid TOML: {exc}") from exc


def is_agent_skill(folder: str, customize_text: str | None) -> bool:
    """True when the skill folder is an agent: its ``customize.toml`` has an ``[agent]`` table,
    or (no customize.toml, or one with neither ``[agent]`` nor ``[workflow]``) its parent folder
    is named ``agents``. Raises ValueError (with the parser's reason) on unparsable TOML."""
    if customize_text is not None:
        data = _toml(customize_text)
        if isinstance(data.get("agent"), dict):
            return True
        if isinstance(data.get("workflow"), dict):
            return False
    return PurePosixPath(folder).parent.name == "agents"


def _heading(body: str) -> tuple[str, str]:
    """``(name, title)`` from the first ``# `` heading: ``# John — Product Manager``."""
    for line in body.splitlines():
        if line.startswith("# "):
            parts = _HEADING_SPLIT.split(line[2:].strip(), maxsplit=1)
            return (parts[0].strip(), parts[1].strip() if len(parts) > 1 else "")
    return "", ""


def _menu_item(raw: dict[str, Any]) -> MenuItem | None:
    code, skill, prompt = field_text(raw.get("code")), field_text(raw.get("skill")), field_text(raw.get("prompt"))
    if not (skill or prompt):
        return None
    kind, target, name = ("skill", skill, skill) if skill else ("prompt", prompt, code.lower())
    return MenuItem(trigger=code or name, code=code, name=name, description=field_text(raw.get("description")),
                    target_kind=kind, target=target, work_item=skill or None)


def parse_agent_skill(folder: str, module: str, skill_text: str, customize_text: str | None) -> Agent:
    """An ``Agent`` (layout ``skills``) from an agent skill's ``SKILL.md`` and ``customize.toml``.

    ``folder`` is the catalog-relative skill folder (the id is its basename). Its cost is the
    SKILL.md. Name, title and icon come from ``[agent]``, else from the first heading and the
    frontmatter; persona and ``[[agent.menu]]`` items (``skill`` or ``prompt``) from ``[agent]``.
    Raises ValueError when the frontmatter is broken or has no ``name``, or the TOML is broken.
    """
    front, body = split_frontmatter(skill_text)
    fm_name = field_text(front.get("name"))
    if not fm_name:
        raise ValueError("SKILL.md frontmatter has no 'name'")
    data = _toml(customize_text) if customize_text is not None else {}
    table: dict[str, Any] = data["agent"] if isinstance(data.get("agent"), dict) else {}
    head_name, head_title = _heading(body)
    menu_raw: list[Any] = table["menu"] if isinstance(table.get("menu"), list) else []
    menu = [_menu_item(m) for m in menu_raw[:200] if isinstance(m, dict)]
    persona = Persona(role=field_text(table.get("role")), identity=field_text(table.get("identity")),
                      communication_style=field_text(table.get("communication_style")),
                      principles=field_text(table.get("principles")))
    return Agent(id=PurePosixPath(folder).name or fm_name, module=module, path=_join(folder, "SKILL.md"),
                 layout="skills", name=field_text(table.get("name")) or head_name or fm_name,
                 title=field_text(table.get("title")) or head_title or field_text(front.get("title")),
                 icon=field_text(table.get("icon")) or field_text(front.get("icon")),
                 description=field_text(front.get("description")),
                 files=[_join(folder, "customize.toml")] if customize_text is not None else [], persona=persona,
                 menu=[m for m in menu if m is not None], text=skill_text, tokens=count_tokens(skill_text))


def parse_workflow_skill(folder: str, module: str, skill_text: str, files: list[str]) -> WorkItem:
    """A ``WorkItem`` (kind ``skill``) from a workflow skill's ``SKILL.md``; ``files`` as given
    (see ``work_files``). Raises ValueError when the frontmatter is broken or has no ``name``."""
    front, body = split_frontmatter(skill_text)
    name = field_text(front.get("name"))
    if not name:
        raise ValueError("SKILL.md frontmatter has no 'name'")
    return WorkItem(id=PurePosixPath(folder).name or name, kind="skill", name=name,
                    description=field_text(front.get("description")), module=module,
                    entry_file=_join(folder, "SKILL.md"), files=list(files), tokens=count_tokens(skill_text),
                    excerpt=body.strip()[:EXCERPT_CHARS])


# --- the files of a work item, and its step order -------------------------------------------


def _read(root: Path, path: Path) -> str:
    try:
        return read_text(root, path) if path.suffix.lower() in _TEXT_SUFFIXES else ""
    except CatalogFileError:
        return ""


def _files_in(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []


def _resolve(root: Path, bases: list[Path], token: str) -> Path | None:
    """The existing file or folder inside ``root`` a path-like token names, from each base folder.

    ``./x``, ``../x`` and bare ``a/b.md`` are relative. Leading placeholders (``{project-root}/``,
    ``{installed_path}/``) are dropped; what follows may carry an install prefix, so a suffix of it
    is accepted only when the dropped part ends with the base folder's own name.
    """
    parts = [p for p in token.split("/") if p not in ("", ".")]
    placeholder = bool(parts) and parts[0].startswith("{")
    while parts and parts[0].startswith("{"):
        parts.pop(0)
    if not parts or token.startswith(("/", "~")) or any("{" in p or "}" in p for p in parts):
        return None
    for base in bases:
        for k in range(len(parts) if placeholder else 1):
            cand = Path(os.path.normpath(base.joinpath(*parts[k:])))
            if (not k or parts[k - 1] == base.name) and cand.exists() and inside_root(root, cand):
                return cand
    return None


def _refs(root: Path, text: str, bases: list[Path]) -> list[Path]:
    """Existing paths the text names (tokens with a ``/`` or a file extension), in order."""
    tokens = (t.rstrip(".") for t in dict.fromkeys(_TOKEN.findall(text[:500_000])))
    hits = (_resolve(root, bases, t) for t in tokens if "/" in t or _EXT.search(t))
    return list(dict.fromkeys(h for h in hits if h is not None))


def _under(path: Path, folder: Path) -> bool:
    return folder in path.parents


def _walk(root: Path, folder: Path, out: dict[Path, None], limit: int) -> None:
    """Files under ``folder``, sorted; skips hidden names, customize.toml, symlinks leaving the
    root, symlinked folders and nested units (a subfolder with its own SKILL.md or workflow)."""
    for child in _files_in(folder):
        if len(out) >= limit or child.name.startswith(".") or child.name == "customize.toml":
            continue
        if child.is_symlink() and (child.is_dir() or not inside_root(root, child)):
            continue
        if child.is_dir() and not any(_ENTRY.match(p.name) for p in _files_in(child)):
            _walk(root, child, out, limit)
        elif child.is_file():
            out.setdefault(child)


def _owns_folder(entry: Path) -> bool:
    """A workflow entry owns its folder when no other entry (``workflow*``, ``SKILL.md``, or for an
    XML entry a sibling XML task) sits beside it; a task file never does."""
    return bool(_ENTRY.match(entry.name)) and not any(
        sib != entry and (_ENTRY.match(sib.name) or sib.suffix == entry.suffix == ".xml")
        for sib in _files_in(entry.parent))


def work_files(root: Path, entry: str, limit: int = 200) -> list[str]:
    """Catalog-relative files (sorted, without the entry) that the work item at ``entry`` uses.

    ``SKILL.md``, or a workflow entry that owns its folder (``workflow.yaml`` beside its
    instructions): every file under its folder. Otherwise (entries sharing a folder, tasks): the
    files the entry names in its folder tree, each whole subfolder it names a file in (its step
    folder), then what those files name in the tree, except other step folders (subfolders with
    numbered files) and other entries. Hidden files, ``customize.toml``, nested units and anything
    outside ``root`` are skipped; at most ``limit`` files; ``[]`` when the entry is not a file.
    """
    root = Path(os.path.normpath(root.absolute()))
    path = Path(os.path.normpath(root / entry))
    if not path.is_file() or not inside_root(root, path):
        return []
    folder, out, named = path.parent, {path: None}, set()
    if path.name == "SKILL.md" or _owns_folder(path):
        _walk(root, folder, out, limit + 1)
    queue = [] if len(out) > 1 else [path]
    while queue and len(out) <= limit:
        current = queue.pop(0)
        for ref in _refs(root, _read(root, current), [current.parent, folder]):
            if not _under(ref, folder) or ref in out or _ENTRY.match(ref.name):
                continue
            sub = folder / ref.relative_to(folder).parts[0]
            if current == path and sub.is_dir():  # the entry names its step folder
                named.add(sub)
                _walk(root, sub, out, limit + 1)
                queue += [p for p in out if p not in queue and p != path and _under(p, sub)]
            elif ref.is_file() and not (sub.is_dir() and sub not in named and _lowest(sub)):
                out.setdefault(ref)
                queue.append(ref)
    files = (p.relative_to(root).as_posix() for p in out if p != path and p.is_file())
    return sorted(f for f in files if not f.rsplit("/", 1)[-1].startswith(".") and
                  not f.endswith("/customize.toml"))[:limit]


def _order(path: Path) -> tuple[int, str, str] | None:
    """Sort key of a numbered step file (``step-02b-x.md`` → (2, "b", name)); None without a number."""
    match = _ORDER.search(path.stem)
    return (int(match.group(1)), match.group(2), path.name) if match else None


def _lowest(folder: Path) -> Path | None:
    steps = [(o, p) for p in _files_in(folder) if p.is_file() and (o := _order(p))]
    return min(steps)[1] if steps else None


def _earliest_after(paths: list[Path], key: tuple[int, str, str] | None) -> Path | None:
    """The lowest-numbered path after ``key``, a higher step number before a variant of the same
    one (after ``step-01``: ``step-02a`` before ``step-01b-continue``)."""
    later = [(o[0] == key[0], o, p) for p in paths if key and (o := _order(p)) and o > key]
    return min(later)[2] if later else None


def next_step_file(root: Path, entry: str, current: str | None) -> str | None:
    """The step file to load next in a step-file workflow (catalog-relative in and out).

    ``current`` None: the first numbered file the entry names in its folder tree, or the
    lowest-numbered file of the first subfolder it names; when it names none, the same through
    the first file of its own folder it names (SKILL.md → workflow.md). Otherwise, among the files
    the current step names in frontmatter keys starting with ``next`` (``nextStepFile``), or else
    on text lines that say load/read/follow, the earliest one numbered after it (see
    ``_earliest_after``); else the next file of its folder in numeric order. None at the end, and
    for paths that do not exist or leave ``root``.
    """
    root = Path(os.path.normpath(root.absolute()))
    start = Path(os.path.normpath(root / entry))
    folder = start.parent
    if current is None:
        hop: Path | None = start
        for _ in range(2):
            refs = [r for r in _refs(root, _read(root, hop), [hop.parent, folder]) if _under(r, folder)] if hop else []
            for found in (r if r.is_file() else _lowest(r) for r in refs):
                if found is not None and found != start and _order(found) is not None:
                    return found.relative_to(root).as_posix()
            hop = next((r for r in refs if r.is_file() and r.parent == folder and r != start), None)
        return None
    cur = Path(os.path.normpath(root / current))
    if not cur.is_file() or not inside_root(root, cur):
        return None
    text, key, bases = _read(root, cur), _order(cur), [cur.parent, folder]
    try:
        front, body = split_frontmatter(text)
    except ValueError:
        front, body = {}, text
    named = [h for k, v in front.items() if k.lower().startswith("next") and isinstance(v, str)
             and (h := _resolve(root, bases, v)) is not None and h.is_file() and h != cur]
    if not named:
        named = [r for line in body.splitlines() if _LOAD_VERB.search(line)
                 for r in _refs(root, line, bases) if r.is_file() and r.parent == cur.parent]
    pick = _earliest_after(named, key) or _earliest_after([p for p in _files_in(cur.parent) if p.is_file()], key)
    if pick is None and key is None and named:
        pick = named[0]
    return pick.relative_to(root).as_posix() if pick is not None else None
