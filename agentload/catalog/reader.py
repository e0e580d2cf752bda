"""Read a BMad tree into a ``Catalog``: discovery, per-file parsing with a reuse cache.

Layouts: ``src/core``, ``src/modules/<module>/`` and (later v6) ``src/<module>/``. Agents are
the ``*.agent.yaml`` files under a module's own ``agents/`` folder, subfolders included;
example agents elsewhere (reference material inside workflows) are not part of the catalog.
A file that does not parse is skipped and reported; the rest still loads.

``ParseCache`` keeps parsed files keyed by fingerprint so that a refresh re-parses only
what changed.
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


@dataclass
class ParseCache:
    """Parsed results by catalog-relative path, valid while the fingerprint matches."""

    entries: dict[str, tuple[Fingerprint, Any]] = field(default_factory=dict)
    parsed: int = 0  # files actually parsed on the last load (the rest were reused)


@dataclass(frozen=True)
class Discovery:
    modules: dict[str, str]  # module name -> catalog-relative folder
    agent_files: list[tuple[str, str]]  # (relpath, module)
    path_files: list[str]
    help_files: list[str]
    level_files: list[str]


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
    def __init__(self, root: Path, cache: ParseCache, max_bytes: int, modules: dict[str, str]):
        self.root, self.cache, self.max_bytes, self.modules = root, cache, max_bytes, modules
        self.errors: list[CatalogError] = []
        self.seen: set[str] = set()

    def resolve(self, ref: str) -> str | None:
        return resolve_ref(ref, self.modules)

    def parse(self, relpath: str, fn: Any) -> Any:  # noqa: ANN401 - parser-specific results
        """Parse ``relpath`` with ``fn(text)``, reusing the cached result when unchanged."""
        self.seen.add(relpath)
        path = self.root / relpath
        try:
            prev = self.cache.entries.get(relpath)
            check_file(self.root, path, self.max_bytes)
            fp = fingerprint(path, prev[0] if prev else None)
            if prev is not None and prev[0] == fp:
                return prev[1]
            result = fn(read_text(self.root, path, self.max_bytes))
        except (CatalogFileError, ValueError, OSError, TypeError) as exc:
            self.errors.append(CatalogError(path=relpath, reason=_reason(exc)))
            self.cache.entries.pop(relpath, None)
            return None
        except Exception as exc:  # yaml errors and other parser failures: report, keep going
            self.errors.append(CatalogError(path=relpath, reason=_reason(exc)))
            self.cache.entries.pop(relpath, None)
            return None
        self.cache.entries[relpath] = (fp, result)
        self.cache.parsed += 1
        return result


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().replace("\n", " ")
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def load_catalog(
    root: Path | str, cache: ParseCache | None = None, max_file_bytes: int = DEFAULT_MAX_BYTES
) -> Catalog:
    """Load every agent, path file, module-help table, level table and referenced workflow."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"catalog root {root} is not a directory")
    cache = cache if cache is not None else ParseCache()
    cache.parsed = 0
    found = discover(root)
    ld = _Loader(root, cache, max_file_bytes, found.modules)
    agents: dict[str, Agent] = {}
    for relpath, module in found.agent_files:
        agent = ld.parse(relpath, lambda t, p=relpath, m=module: parse_agent(p, m, t, ld.resolve))
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
        info = ld.parse(ref, lambda _t, r=ref: read_workflow(root, r, max_file_bytes))
        if info is not None:
            workflows[ref] = info
    for stale in set(cache.entries) - ld.seen:
        del cache.entries[stale]
    return Catalog(root=str(root), agents=agents, paths=paths, levels=levels,
                   workflows=workflows, errors=ld.errors)


def catalog_files(root: Path | str) -> list[str]:
    """The catalog-relative files whose change can change the catalog (for fingerprints)."""
    found = discover(Path(root))
    return [p for p, _ in found.agent_files] + found.path_files + found.help_files + found.level_files
