"""What progressive disclosure serves beyond the agents: work items (level 2) and their files (level 3).

An agent's menu names work items; a work item's entry file (``SKILL.md``, ``workflow.md``, a
v4 task) names the files a step needs (instructions, templates, checklists, step files,
``references/``). Both are published with each catalog version so that the request path
serves them from Redis like everything else, and only what the catalog reader accepted is
ever published: every file goes through ``read_text``, which refuses paths that leave the
catalog root (``..``, symlinks), oversized and non-UTF-8 files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from agentload.catalog import Catalog
from agentload.catalog.files import CatalogFileError, read_text
from agentload.tokens import count_tokens


def file_payloads(catalog: Catalog, tokens: dict[str, int]) -> Iterable[tuple[str, dict[str, object]]]:
    """(path, payload) per readable file a work item references: what ``load_file`` serves
    (level 3). Read through ``read_text``, so nothing outside the catalog root (``..``,
    symlinks) is ever published; fills ``tokens`` (path -> tokens) for the work items."""
    root = Path(catalog.root)
    for path in sorted({f for item in catalog.work_items.values() for f in item.files}):
        try:
            text = read_text(root, root / path)
        except CatalogFileError:
            continue
        tokens[path] = count_tokens(text)
        yield path, {"path": path, "tokens": tokens[path], "text": text}


def work_item_payloads(catalog: Catalog, file_tokens: Mapping[str, int]) -> Iterable[tuple[str, dict[str, object]]]:
    """(id, payload) per work item whose entry file is readable: what ``load_work_item`` serves
    (level 2 of progressive disclosure): metadata, the entry file's text and the manifest of
    the files it references (path and tokens of each published one, ``file_payloads``)."""
    root = Path(catalog.root)
    for wid, item in sorted(catalog.work_items.items()):
        if not item.entry_file:
            continue
        try:
            text = read_text(root, root / item.entry_file)
        except CatalogFileError:
            continue
        files = [{"path": f, "tokens": file_tokens[f]} for f in item.files if f in file_tokens]
        yield wid, {"id": wid, "kind": item.kind, "name": item.name, "description": item.description,
                    "module": item.module, "phase": item.phase, "required": item.required,
                    "owners": item.owners, "entry_file": item.entry_file, "files": files,
                    "tokens": count_tokens(text), "text": text}
