"""Read a BMad tree into a ``Catalog``: discovery, per-file parsing with a reuse cache.

Layouts: ``src/core``, ``src/modules/<module>/`` and (later v6) ``src/<module>/``. Agents are
the ``*.agent.yaml`` files under a module's own ``agents/`` folder, subfolders included;
example agents elsewhere (reference material inside workflows) are not part of the catalog.
A file that does not parse is skipped and reported; the rest still loads.

``ParseCache`` keeps parsed files keyed by fingerprint so that a refresh re-parses only
what changed. ``load_catalog(..., rehash=True)`` (a forced rebuild) trusts no mtime or size:
every file's content hash is recomputed, and only a file whose bytes *and* parse context are
identical keeps its parse, which is then the same as a fresh one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentload.catalog.agents import AGENT_SUFFIX, parse_agent
from agentload.catalog.files import (
    DEFAULT_MAX_BYTES,
    CatalogFileError,
    Fingerprint,
    check_file,
    fingerprint,
    read_text,
    rel,
)
from agentload.catalog.models import Agent, Catalog, CatalogError, PathFile, WorkflowInfo
from agentload.catalog.paths import parse_levels, parse_module_help, parse_path_file
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


@dataclass(frozen=True)
class Discovery:
    modules: dict[str, str]  # module name -> catalog-relative folder
    agent_files: list[tuple[str, str]]  # (relpath, module)
    path_files: list[str]
    help_files: list[str]
    level_files: list[str]

    def files(self) -> list[str]:
        """The catalog-relative files whose change can change the catalog (for fingerprints)."""
        return [p for p, _ in self.agent_files] + self.path_files + self.help_files + self.level_files


def find_src(root: Path) -> Path:
    return root / "src" if (root / "src").is_dir() else root


def discover(root: Path) -> Discovery:
    """Find modules and the files that make up the catalog, following no outside links."""
    src = find_src(root)
    module_dirs: dict[str, Path] = {}
    if (src / "modules").is_dir():
        for d in sorted((src / "modules").iterdir()):
            if d.is_dir() and not d.is_symlink():
                module_dirs[d.name] = d
    for d in sorted(src.iterdir()) if src.is_dir() else []:
        if d.is_dir() and not d.is_symlink() and d.name != "modules" and d.name not in module_dirs:
            module_dirs[d.name] = d
    modules = {name: rel(root, d) for name, d in module_dirs.items()}
    agents: list[tuple[str, str]] = []
    paths: list[str] = []
    helps: list[str] = []
    levels: list[str] = []
    for name, d in module_dirs.items():
        if (d / "agents").is_dir():
            agents += [(rel(root, p), name) for p in sorted((d / "agents").rglob(f"*{AGENT_SUFFIX}"))]
        paths += [rel(root, p) for p in sorted(d.rglob("workflow-status/paths/*.yaml"))]
        paths += [rel(root, p) for p in sorted(d.rglob("workflow-status/paths/*.yml"))]
        helps += [rel(root, p) for p in sorted(d.rglob("module-help.csv"))]
        levels += [rel(root, p) for p in sorted(d.rglob("project-levels.yaml"))]
    return Discovery(modules, agents, paths, helps, levels)


class _Loader:
    def __init__(self, root: Path, cache: ParseCache, max_bytes: int, modules: dict[str, str],
                 rehash: bool = False):
        self.root, self.cache, self.max_bytes, self.modules = root, cache, max_bytes, modules
        self.rehash = rehash
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
        path = self.root / relpath
        context = (*self.context, extra)
        try:
            prev = self.cache.entries.get(relpath)
            check_file(self.root, path, self.max_bytes)
            fp = fingerprint(path, None if self.rehash or prev is None else prev.fingerprint)
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
    *, rehash: bool = False, found: Discovery | None = None,
) -> Catalog:
    """Load every agent, path file, module-help table, level table and referenced workflow.

    ``rehash=True`` is for a forced rebuild: every file's content hash is recomputed (mtime
    and size are not trusted) and a cached parse is kept only for identical bytes in an
    identical context; workflows, whose parse also reads their instruction files, are read
    again. The catalog is the one a fresh ``ParseCache`` would give, without re-parsing the
    YAML of files that did not change. ``found`` is a discovery of ``root`` the caller already
    made (a refresh fingerprints and loads the same file list, walking the tree once).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"catalog root {root} is not a directory")
    cache = cache if cache is not None else ParseCache()
    cache.parsed = cache.reused = 0
    found = found if found is not None else discover(root)
    ld = _Loader(root, cache, max_file_bytes, found.modules, rehash=rehash)
    agents: dict[str, Agent] = {}
    for relpath, module in found.agent_files:
        agent = ld.parse(relpath, lambda t, p=relpath, m=module: parse_agent(p, m, t, ld.resolve), extra=module)
        if agent is None:
            continue
        if agent.id in agents:
            ld.errors.append(CatalogError(path=relpath, reason=f"duplicate agent id {agent.id!r}"))
            continue
        agents[agent.id] = agent
    paths: list[PathFile] = []
    for relpath in found.path_files:
        pf = ld.parse(relpath, lambda t, p=relpath: parse_path_file(p, t, ld.resolve))
        if pf is not None:
            paths.append(pf)
    for relpath in found.help_files:
        pf = ld.parse(relpath, lambda t, p=relpath: parse_module_help(p, t, ld.resolve))
        if pf is not None:
            paths.append(pf)
    levels: dict[int, dict[str, object]] = {}
    for relpath in found.level_files:
        levels.update(ld.parse(relpath, parse_levels) or {})
    workflows: dict[str, WorkflowInfo] = {}
    refs = {m.workflow_file for a in agents.values() for m in a.menu}
    refs |= {w.workflow_file for p in paths for ph in p.phases for w in ph.workflows}
    for ref in sorted(r for r in refs if r):
        if not (root / ref).is_file():
            workflows[ref] = WorkflowInfo(file=ref, exists=False)
            continue
        info = ld.parse(ref, lambda _t, r=ref: read_workflow(root, r, max_file_bytes), self_contained=False)
        if info is not None:
            workflows[ref] = info
    for stale in set(cache.entries) - ld.seen:
        del cache.entries[stale]
    return Catalog(root=str(root), agents=agents, paths=paths, levels=levels,
                   workflows=workflows, errors=ld.errors)


def catalog_files(root: Path | str) -> list[str]:
    """The catalog-relative files whose change can change the catalog (for fingerprints)."""
    return discover(Path(root)).files()
