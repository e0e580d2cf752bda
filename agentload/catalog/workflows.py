"""Resolve workflow references (``{project-root}/_bmad/<module>/...``) to catalog files.

Agent menus and path files name workflows by their *installed* path; the catalog holds the
*source* layout (``src/core``, ``src/modules/<m>`` or ``src/<m>``). A module map built at
discovery time translates one into the other, whatever the release's layout.
"""

from __future__ import annotations

import re
from pathlib import Path

from agentload.catalog.files import CatalogFileError, read_text
from agentload.catalog.models import WorkflowInfo
from agentload.catalog.safeyaml import safe_load

_INSTALL_PREFIX = re.compile(r"^\{project-root\}/+(?:[._]?bmad/+)?")
_BARE_INSTALL_PREFIX = re.compile(r"^[._]?bmad/+")  # module-help.csv: "_bmad/<module>/..."
_FRONTMATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.M)
_PARAGRAPH = re.compile(r"^(?![#>|`\d])(\S.*?)(?:\n\s*\n|\Z)", re.M | re.S)
_BULLET = re.compile(r"^\s*[-*]\s+", re.M)
DESCRIPTION_CHARS = 600
EXCERPT_CHARS = 4000


def resolve_ref(ref: str, modules: dict[str, str]) -> str | None:
    """Catalog-relative path for an installed-path reference, or None if it names no module."""
    ref = (ref or "").strip()
    if "{project-root}" in ref:
        rest = _INSTALL_PREFIX.sub("", ref)
    elif _BARE_INSTALL_PREFIX.match(ref):
        rest = _BARE_INSTALL_PREFIX.sub("", ref)
    else:
        return None
    module, _, tail = rest.partition("/")
    base = modules.get(module)
    if base is None or not tail:
        return None
    return f"{base}/{tail}"


def _meta_from_text(file: str, text: str) -> tuple[str, str, str]:
    """(name, description, body) of a workflow file in YAML or Markdown-with-frontmatter."""
    if file.endswith((".yaml", ".yml")):
        data = safe_load(text)
        if isinstance(data, dict):
            return str(data.get("name") or ""), str(data.get("description") or ""), ""
        return "", "", ""
    match = _FRONTMATTER.match(text)
    if match:
        meta = safe_load(match.group(1))
        body = text[match.end():]
        if isinstance(meta, dict):
            return str(meta.get("name") or ""), str(meta.get("description") or ""), body
        return "", "", body
    return _markdown_meta(text)


def _markdown_meta(text: str) -> tuple[str, str, str]:
    """A Markdown file without frontmatter (v4 tasks, checklists): its title is the first
    ``#`` heading and its description the first prose paragraph (the "Purpose" in v4)."""
    body = _COMMENT.sub("", text)
    heading = _HEADING.search(body)
    if heading is None:
        return "", "", text
    paragraph = _PARAGRAPH.search(body, heading.end())
    description = " ".join(_BULLET.sub("", paragraph.group(1)).split())[:DESCRIPTION_CHARS] if paragraph else ""
    return heading.group(1), description, body


def read_workflow(root: Path, file: str, max_bytes: int) -> WorkflowInfo:
    """Name, description and a bounded body excerpt of a workflow (its instructions included)."""
    path = root / file
    if not path.is_file():
        return WorkflowInfo(file=file, exists=False)
    text = read_text(root, path, max_bytes)
    name, description, body = _meta_from_text(file, text)
    parts = [body]
    folder = path.parent
    for extra in sorted(folder.glob("instructions*")) + sorted(folder.glob("steps*/*.md"))[:3]:
        if sum(len(p) for p in parts) >= EXCERPT_CHARS:
            break
        try:
            parts.append(read_text(root, extra, max_bytes))
        except CatalogFileError:
            continue
    excerpt = "\n".join(parts)[:EXCERPT_CHARS]
    return WorkflowInfo(file=file, name=name, description=description, body_excerpt=excerpt)


def short_name(file: str) -> str:
    """A workflow's folder name, the id BMad uses when nothing else names it."""
    parts = file.split("/")
    return parts[-2] if len(parts) >= 2 else parts[-1]
