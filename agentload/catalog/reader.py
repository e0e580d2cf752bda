"""Read BMad trees into a ``Catalog``: discovery, per-file parsing with a reuse cache.

``layouts.discover`` finds the trees under the root (v4, v6 source and installed, Agent
Skills) and ``build`` runs each layout's parser and links the results. A file that does not
parse is skipped and reported; the rest still loads.

``ParseCache`` keeps parsed files keyed by fingerprint so that a refresh re-parses only
what changed. ``load_catalog(..., rehash=True)`` (a forced rebuild) trusts no mtime or size:
every file's content hash is recomputed, and only a file whose bytes *and* parse context are
identical keeps its parse, which is then the same as a fresh one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentload.catalog.build import link, load_agents_and_skills, load_paths, load_work_items
from agentload.catalog.files import (
    DEFAULT_MAX_BYTES,
    CatalogFileError,
    Fingerprint,
    RootGuard,
    fingerprint,
    read_text,
)
from agentload.catalog.glossary import mine_acronyms
from agentload.catalog.layouts import Discovery, describe_search, discover
from agentload.catalog.menus import AgentLinks
from agentload.catalog.models import Agent, Catalog, CatalogError, MenuItem, WorkflowInfo, WorkItem
from agentload.catalog.paths import parse_levels
from agentload.catalog.workflows import read_workflow, resolve_ref

#: what a parse depends on besides the file's bytes (see ``_Loader.parse``)
ParseContext = tuple[object, ...]


@dataclass(frozen=True)
class CacheEntry:
    fingerprint: Fingerprint
    context: ParseContext
    result: Any
    self_contained: bool  # the parse read this file only (a workflow also reads its instructions)


@dataclass
class ParseCache:
    """Parsed results by catalog-relative path, valid while fingerprint and context match."""

    entries: dict[str, CacheEntry] = field(default_factory=dict)
    parsed: int = 0  # files actually parsed on the last load...
    reused: int = 0  # ...and files whose earlier parse was reused
    # menu items as linking completed them (``build.load_work_items``), by (parsed item, work
    # item id): a reload links thousands of unchanged items to the same work again
    linked: dict[tuple[int, str], tuple[MenuItem, MenuItem]] = field(default_factory=dict)
    # how linking went for each parsed agent (``build.AgentLinks``), by parsed agent
    linked_agents: dict[int, AgentLinks] = field(default_factory=dict)


class _Loader:
    def __init__(self, root: Path, cache: ParseCache, max_bytes: int, modules: dict[str, str],
                 rehash: bool = False, known: Mapping[str, str] | None = None):
        self.root, self.cache, self.max_bytes, self.modules = root, cache, max_bytes, modules
        self.rehash = rehash
        self.known = known if not rehash else None
        self.guard = RootGuard(root)  # one realpath per folder, not per file
        # A parse reads more than its file's bytes: references resolve through the module map
        # (a new module folder changes what an unchanged agent file points at) and the size
        # limit applies to the files a workflow pulls in. Both are part of a cached entry.
        self.context: ParseContext = (tuple(sorted(modules.items())), max_bytes)
        self.errors: list[CatalogError] = []
        self.seen: set[str] = set()

    def resolve(self, ref: str) -> str | None:
        return resolve_ref(ref, self.modules)

    def _reusable(self, prev: CacheEntry, fp: Fingerprint, context: ParseContext) -> bool:
        """Whether ``prev`` is what parsing the file now would produce.

        Normally the fingerprint decides (mtime and size unchanged: hash not even recomputed).
        With ``rehash`` the hash was just recomputed from the bytes, so equal hashes mean equal
        input; a parse that also read other files (``self_contained=False``) is redone, since
        their changes are invisible to this file's hash.
        """
        if prev.context != context:
            return False
        if self.rehash:
            return prev.self_contained and prev.fingerprint.sha256 == fp.sha256
        return prev.fingerprint == fp

    def parse(  # noqa: ANN401 - parser-specific results
        self, relpath: str, fn: Any, *, extra: object = None, self_contained: bool = True
    ) -> Any:
        """Parse ``relpath`` with ``fn(text)``, reusing the cached result when unchanged.

        ``extra`` is any further input of ``fn`` besides the text and the loader's context
        (an agent's module); ``self_contained=False`` marks a parse that reads other files.
        """
        self.seen.add(relpath)
        context = (*self.context, extra)
        prev = self.cache.entries.get(relpath)
        if (prev is not None and self.known is not None and prev.context == context
                and self.known.get(relpath) == prev.fingerprint.as_str()):
            self.cache.reused += 1  # fingerprinted by the caller just now, as when it was parsed
            return prev.result
        path = self.root / relpath
        try:
            st = self.guard.check(path, self.max_bytes)
            fp = fingerprint(path, None if self.rehash or prev is None else prev.fingerprint, st)
            if prev is not None and self._reusable(prev, fp, context):
                if prev.fingerprint != fp:  # same bytes, new mtime: keep the cheap check cheap
                    self.cache.entries[relpath] = CacheEntry(fp, context, prev.result, prev.self_contained)
                self.cache.reused += 1
                return prev.result
            result = fn(read_text(self.root, path, self.max_bytes))
        except (CatalogFileError, ValueError, OSError, TypeError) as exc:
            self.errors.append(CatalogError(path=relpath, reason=_reason(exc)))
            self.cache.entries.pop(relpath, None)
            return None
        except Exception as exc:  # yaml errors and other parser failures: report, keep going
            self.errors.append(CatalogError(path=relpath, reason=_reason(exc)))
            self.cache.entries.pop(relpath, None)
            return None
        self.cache.entries[relpath] = CacheEntry(fp, context, result, self_contained)
        self.cache.parsed += 1
        return result


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().replace("\n", " ")
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def load_catalog(
    root: Path | str, cache: ParseCache | None = None, max_file_bytes: int = DEFAULT_MAX_BYTES,
    *, rehash: bool = False, found: Discovery | None = None, known: Mapping[str, str] | None = None,
) -> Catalog:
    """Load every agent, path file, module-help table, level table and referenced workflow.

    ``rehash=True`` is for a forced rebuild: every file's content hash is recomputed (mtime
    and size are not trusted) and a cached parse is kept only for identical bytes in an
    identical context; workflows, whose parse also reads their instruction files, are read
    again. The catalog is the one a fresh ``ParseCache`` would give, without re-parsing the
    YAML of files that did not change. ``found`` is a discovery of ``root`` the caller already
    made (a refresh fingerprints and loads the same file list, walking the tree once), and
    ``known`` the fingerprints (``mtime:size:sha``) it has just taken: a file whose cached parse
    has the same one is reused without being looked at again (ignored with ``rehash``).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"catalog root {root} is not a directory")
    cache = cache if cache is not None else ParseCache()
    cache.parsed = cache.reused = 0
    found = found if found is not None else discover(root)
    ld = _Loader(root, cache, max_file_bytes, found.modules, rehash=rehash, known=known)
    agents, skills = load_agents_and_skills(ld, found)
    paths = load_paths(ld, found, agents)
    levels: dict[int, dict[str, object]] = {}
    for relpath in found.level_files:
        levels.update(ld.parse(relpath, parse_levels) or {})
    items = load_work_items(ld, found, agents, skills, paths)
    workflows: dict[str, WorkflowInfo] = {}
    refs = {m.workflow_file for a in agents.values() for m in a.menu}
    refs |= {w.workflow_file for p in paths for ph in p.phases for w in ph.workflows}
    refs |= {w.entry_file for w in items.values() if w.kind != "skill"}
    for ref in sorted(r for r in refs if r):
        if not (root / ref).is_file():
            workflows[ref] = WorkflowInfo(file=ref, exists=False)
            continue
        info = ld.parse(ref, lambda _t, r=ref: read_workflow(root, r, max_file_bytes), self_contained=False)
        if info is not None:
            workflows[ref] = info
    warnings = link(root, agents, items, paths, max_file_bytes, ld.errors)
    acronyms = mine_acronyms(_texts(root, agents, items, max_file_bytes))
    for stale in set(cache.entries) - ld.seen:
        del cache.entries[stale]
    layouts = [lay.model_copy(update={
        "agents": sum(1 for a in agents.values() if _under(a.path, lay.path)),
        "work_items": sum(1 for w in items.values() if w.entry_file and _under(w.entry_file, lay.path)),
    }) for lay in found.layouts]
    return Catalog(root=str(root), agents=agents, paths=paths, levels=levels, workflows=workflows,
                   work_items=items, layouts=layouts, errors=ld.errors, warnings=warnings, acronyms=acronyms)


def _texts(root: Path, agents: dict[str, Agent], items: dict[str, WorkItem], max_bytes: int) -> Iterator[str]:
    """Agent definitions and work items' entry files, for the glossary (unreadable ones skipped:
    the loader has reported them)."""
    yield from (a.text for a in agents.values())
    for entry in sorted({w.entry_file for w in items.values() if w.entry_file}):
        try:
            yield read_text(root, root / entry, max_bytes)
        except (CatalogFileError, OSError):
            continue


class EmptyCatalog(ValueError):
    """The root holds no BMad agent: nothing to select from. The message says where it looked."""


def require_agents(catalog: Catalog) -> Catalog:
    """``catalog`` when it has at least one agent; raises ``EmptyCatalog`` naming the root, the
    layouts found (if any) and what was looked for, with the files that failed to parse."""
    if catalog.agents:
        return catalog
    found = ", ".join(f"{lay.kind} at {lay.path or '.'}" for lay in catalog.layouts)
    failed = "; ".join(f"{e.path}: {e.reason}" for e in catalog.errors[:5])
    parts = [f"found layouts ({found}) but none holds a readable agent" if found
             else describe_search(Path(catalog.root))]
    root = Path(catalog.root)
    if any(root.glob("_config/skill-manifest.csv")) or any(root.glob("*/_config/skill-manifest.csv")):
        parts.append("this installation lists Agent Skills that the installer writes into the project's tool "
                     "folders (.claude/skills/ ...): point at the project root instead")
    if failed:
        parts.append(f"files that failed: {failed}")
    raise EmptyCatalog(f"catalog {catalog.root} has no agents: " + "; ".join(parts))


def _under(path: str, folder: str) -> bool:
    return not folder or path == folder or path.startswith(folder + "/")


def catalog_files(root: Path | str) -> list[str]:
    """The catalog-relative files whose change can change the catalog (for fingerprints)."""
    return discover(Path(root)).files()
