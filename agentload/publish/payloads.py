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
from agentload.catalog.skills import next_step_file
from agentload.tokens import count_tokens

MAX_STEPS = 100  # a step chain longer than this (or looping) is cut: a catalog bug, not a workflow


def step_chains(catalog: Catalog) -> dict[str, list[str]]:
    """Per step-file work item (id): its step files in the order the workflow's own files give
    (``next_step_file``: the entry names the first, each step names the next); others are absent."""
    root = Path(catalog.root)
    out: dict[str, list[str]] = {}
    for wid, item in sorted(catalog.work_items.items()):
        if not item.entry_file:
            continue
        chain: list[str] = []
        current = next_step_file(root, item.entry_file, None)
        while current is not None and current not in chain and len(chain) < MAX_STEPS:
            chain.append(current)
            current = next_step_file(root, item.entry_file, current)
        if chain:
            out[wid] = chain
    return out


def next_steps(chains: Mapping[str, list[str]]) -> dict[str, str | None]:
    """Step file -> the step after it (None for a last step), first chain wins for shared files."""
    out: dict[str, str | None] = {}
    for chain in chains.values():
        for i, path in enumerate(chain):
            out.setdefault(path, chain[i + 1] if i + 1 < len(chain) else None)
    return out


def file_payloads(catalog: Catalog, tokens: dict[str, int], chains: Mapping[str, list[str]]
                  ) -> Iterable[tuple[str, dict[str, object]]]:
    """(path, payload) per readable file a work item references: what ``load_file`` serves
    (level 3), with ``next_step`` for step files. Read through ``read_text``, so nothing
    outside the catalog root (``..``, symlinks) is ever published; fills ``tokens`` (path ->
    tokens) for the work items."""
    root = Path(catalog.root)
    following = next_steps(chains)
    paths = {f for item in catalog.work_items.values() for f in item.files} | set(following)
    for path in sorted(paths):
        try:
            text = read_text(root, root / path)
        except CatalogFileError:
            continue
        tokens[path] = count_tokens(text)
        payload: dict[str, object] = {"path": path, "tokens": tokens[path], "text": text}
        if path in following:
            payload["next_step"] = following[path]
        yield path, payload


def work_item_payloads(catalog: Catalog, file_tokens: Mapping[str, int], chains: Mapping[str, list[str]]
                       ) -> Iterable[tuple[str, dict[str, object]]]:
    """(id, payload) per work item whose entry file is readable: what ``load_work_item`` serves
    (level 2 of progressive disclosure): metadata, the entry file's text, the manifest of the
    files it references (path and tokens of each published one, ``file_payloads``) and, for a
    step-file workflow, ``first_step`` (each step file's ``next_step`` leads on)."""
    root = Path(catalog.root)
    for wid, item in sorted(catalog.work_items.items()):
        if not item.entry_file:
            continue
        try:
            text = read_text(root, root / item.entry_file)
        except CatalogFileError:
            continue
        files = [{"path": f, "tokens": file_tokens[f]} for f in item.files if f in file_tokens]
        payload: dict[str, object] = {
            "id": wid, "kind": item.kind, "name": item.name, "description": item.description, "module": item.module,
            "phase": item.phase, "required": item.required, "owners": item.owners, "entry_file": item.entry_file,
            "files": files, "tokens": count_tokens(text), "text": text}
        if wid in chains:
            payload["first_step"] = chains[wid][0]
        yield wid, payload
