"""Find the BMad trees under any path, whatever the layout, and only those.

Users point agentload at a project root (an installed ``_bmad/`` or ``.bmad-core/`` beside their
own ``src/`` and ``docs/``), at an installed folder itself, or at a source tree. Each layout is
recognised by its own structure, never by agent or workflow names:

* **v4** (``.bmad-core/``, ``bmad-core/``, expansion packs): a folder with ``agents/*.md`` and a
  configuration file (``core-config.yaml``, ``install-manifest.yaml`` or, for an expansion pack,
  ``config.yaml``); ``workflows/*.yaml`` are its sequences. Agent copies that installers write
  into tool folders (``.claude/commands/...``) have no configuration file and are not catalog.
* **v6 installed** (``_bmad/``): a folder with ``_config/manifest.yaml``; its module folders hold
  compiled agents (``agents/**/*.md``), workflows and ``module-help.csv``; ``_config`` holds the
  workflow and task manifests.
* **v6 source** (``src/<module>/``, ``src/modules/<module>/``): module folders that carry BMad
  markers (``agents/**/*.agent.yaml``, ``module.yaml``, ``module-help.csv``). A project's own
  ``src/`` has none of them and is ignored.
* **Agent Skills** (v6.2+): skill folders (``<name>/SKILL.md``) under ``src/*-skills/`` in
  source trees, and under the skill folders installers write for AI tools (a hidden folder with
  ``skills/*/SKILL.md``: ``.claude/skills``, ``.cursor/skills``, ...). When the installed tree has
  ``_config/skill-manifest.csv``, only the skills it lists are catalog; without one, the skills
  that read the installation (``{project-root}/_bmad/...``) are (a user's own skills never are).

The walk is bounded in depth, skips dependency and VCS folders and follows no symlinks.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from agentload.catalog.models import Layout
from agentload.catalog.walks import Tree, join_rel, rel_posix

MAX_DEPTH = 4
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__",
                       ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox", "dist", "build",
                       "site-packages", ".idea", ".vscode"})
V4_CONFIGS = ("core-config.yaml", "install-manifest.yaml", "config.yaml")
INSTALLED_CONFIG_DIRS = ("_config", "_cfg")
MODULE_PARTS = ("agents", "workflows", "tasks")
_V4_AGENT_BLOCK = re.compile(r"```ya?ml\s*\n(?:.*\n)*?agent:\s*\n", re.M)
_VERSION = re.compile(r"^\s*version:\s*['\"]?([0-9][^'\"\s]*)", re.M)


@dataclass(frozen=True)
class Discovery:
    """Every file that makes up the catalog under one root, grouped by how it is read.

    All paths are catalog-relative (POSIX). ``modules`` maps a module name to its folder, for
    resolving ``{project-root}/_bmad/<module>/...`` references. ``files()`` lists what the
    refresh fingerprints.
    """

    modules: dict[str, str]
    agent_files: list[tuple[str, str]]  # v6 source *.agent.yaml: (path, module)
    path_files: list[str]  # alpha workflow path files
    help_files: list[str]  # module-help.csv / bmad-help.csv
    level_files: list[str]  # project-levels.yaml
    layouts: list[Layout] = field(default_factory=list)
    v4_agents: list[tuple[str, str, str]] = field(default_factory=list)  # (path, module, tree base)
    v4_workflows: list[str] = field(default_factory=list)
    compiled_agents: list[tuple[str, str]] = field(default_factory=list)  # (path, module)
    manifests: list[tuple[str, str]] = field(default_factory=list)  # (path, "workflow" | "task")
    skills: list[tuple[str, str]] = field(default_factory=list)  # (skill folder, module)
    skill_files: list[str] = field(default_factory=list)  # SKILL.md and customize.toml

    def files(self) -> list[str]:
        """The catalog-relative files whose change can change the catalog (for fingerprints)."""
        return ([p for p, _ in self.agent_files] + self.path_files + self.help_files + self.level_files
                + [p for p, _, _ in self.v4_agents] + self.v4_workflows
                + [p for p, _ in self.compiled_agents] + [p for p, _ in self.manifests] + self.skill_files)


rel = rel_posix


def _parts(path: Path) -> tuple[str, ...]:
    """Sort key giving ``Path``'s own order (by parts) with C-level tuple comparisons: sorting
    10,000 agent files by ``Path.__lt__`` was a third of discovering them."""
    return path.parts


def _rglob(folder: Path, pattern: str) -> list[Path]:
    """``folder.rglob(pattern)`` through ``os.walk`` (a third of the cost at 10,000 files):
    names matching ``pattern`` case-sensitively, files and folders, below ``folder``, without
    entering symlinked folders."""
    found: list[Path] = []
    for top, dirs, files in os.walk(folder):
        found += [Path(top, name) for name in (*dirs, *files) if fnmatch.fnmatchcase(name, pattern)]
    return found


def _rglob_rel(root: Path, folder: Path, pattern: str) -> list[str]:
    """``_rglob`` as catalog-relative POSIX paths in ``Path`` order, without making a ``Path``
    of each (10,000 agent files)."""
    found: list[str] = []
    for top, dirs, files in os.walk(folder):
        base = rel(root, Path(top))
        found += [_join(base, name) for name in (*dirs, *files) if fnmatch.fnmatchcase(name, pattern)]
    return sorted(found, key=lambda f: tuple(f.split("/")))


_join = join_rel


def _dirs(folder: Path) -> list[Path]:
    try:
        return sorted((d for d in folder.iterdir() if d.is_dir() and not d.is_symlink()), key=_parts)
    except OSError:
        return []


def _files(folder: Path, pattern: str) -> list[Path]:
    """Files matching ``pattern``; symlinked files are listed so the reader reports them."""
    return sorted((p for p in folder.glob(pattern) if p.is_file() or p.is_symlink()), key=_parts)


def _walk(root: Path) -> list[Path]:
    """Folders under ``root`` (itself included) to ``MAX_DEPTH``, breadth first, no symlinks."""
    out, level = [root], [root]
    for _ in range(MAX_DEPTH):
        level = [d for parent in level for d in _dirs(parent) if d.name not in SKIP_DIRS]
        out += level
    return out


def _is_v4(d: Path) -> bool:
    if not (d / "agents").is_dir() or not any((d / c).is_file() for c in V4_CONFIGS):
        return False
    for md in _files(d / "agents", "*.md")[:3]:
        try:
            head = md.read_text(encoding="utf-8", errors="replace")[:20_000]
        except OSError:
            continue
        if _V4_AGENT_BLOCK.search(head):
            return True
    return False


def _is_installed(d: Path) -> bool:
    return any((d / c / "manifest.yaml").is_file() for c in INSTALLED_CONFIG_DIRS)


def _is_module(d: Path) -> bool:
    """A source module folder: BMad markers, not just any code folder."""
    return ((d / "module.yaml").is_file() or (d / "module-help.csv").is_file()
            or any((d / "agents").rglob("*.agent.yaml")))


def _version_in(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[:50_000]
    except OSError:
        return None
    if path.suffix == ".json":
        m = re.search(r'"version"\s*:\s*"([^"]+)"', text)
        return m.group(1) if m else None
    m = _VERSION.search(text)
    return m.group(1) if m else None


def _version(root: Path, candidates: list[Path]) -> tuple[str | None, str | None]:
    for c in candidates:
        if c.is_file():
            v = _version_in(c)
            if v:
                return v, rel(root, c)
    return None, None


_INSTALL_REF = re.compile(r"\{project-root\}/[._]?bmad/")


def _refers_to_install(folder: Path) -> bool:
    """A tool-folder skill is BMad's when it runs against the installation (its SKILL.md reads
    ``{project-root}/_bmad/...``): the installer's contract, not a name. A user's own skills don't."""
    try:
        head = (folder / "SKILL.md").read_text(encoding="utf-8", errors="replace")[:50_000]
    except OSError:
        return False
    return bool(_INSTALL_REF.search(head))


def _manifest_skills(path: Path) -> set[str]:
    try:
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8", errors="replace"))))
    except (OSError, csv.Error):
        return set()
    out: set[str] = set()
    for row in rows:
        for key in ("canonicalId", "name"):
            if row.get(key):
                out.add(row[key].strip())
    return out


class _Finder:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.modules: dict[str, str] = {}
        self.found: dict[str, list[tuple[str, ...]]] = {k: [] for k in (
            "agents", "paths", "helps", "levels", "v4", "v4wf", "compiled", "manifests", "skills")}
        self.layouts: list[Layout] = []
        self.claimed: list[Path] = []
        self.skill_names: set[str] = set()
        self.installed_version: tuple[str | None, str | None] = (None, None)

    def claimed_by(self, d: Path) -> bool:
        return any(d == c or c in d.parents for c in self.claimed)

    def v4(self, d: Path) -> None:
        base = rel(self.root, d)
        expansion = (d / "config.yaml").is_file() and not (d / "core-config.yaml").is_file()
        module = d.name.lstrip(".")
        for md in _files(d / "agents", "*.md"):
            self.found["v4"].append((rel(self.root, md), module, base))
        self.found["v4wf"] += [(rel(self.root, p),) for p in _files(d, "workflows/*.y*ml")]
        version = _version(self.root, [d / "install-manifest.yaml", d / "config.yaml", d.parent / "package.json"])
        self.layouts.append(Layout(kind="v4-expansion" if expansion else "v4", path=base,
                                   version=version[0], version_source=version[1]))
        self.claimed.append(d)

    def installed(self, d: Path) -> None:
        cfg = next(d / c for c in INSTALLED_CONFIG_DIRS if (d / c).is_dir())
        self.installed_version = _version(self.root, [cfg / "manifest.yaml"])
        compiled = False
        module_helps: list[str] = []
        for m in _dirs(d):
            if m.name.startswith(("_", ".")):
                continue
            self.modules.setdefault(m.name, rel(self.root, m))
            agents = _files(m, "agents/**/*.md")
            compiled |= bool(agents)
            self.found["compiled"] += [(rel(self.root, a), m.name) for a in agents]
            module_helps += [rel(self.root, p) for p in _files(m, "module-help.csv")]
            self.found["paths"] += [(rel(self.root, p),) for p in _files(m, "**/workflow-status/paths/*.y*ml")]
            self.found["levels"] += [(rel(self.root, p),) for p in _files(m, "**/project-levels.yaml")]
        self.found["helps"] += [(p,) for p in module_helps]
        if not module_helps:  # the merged help table only when modules carry none of their own
            self.found["helps"] += [(rel(self.root, p),) for p in _files(cfg, "bmad-help.csv")]
        for kind in ("workflow", "task"):
            self.found["manifests"] += [(rel(self.root, p), kind) for p in _files(cfg, f"{kind}-manifest.csv")]
        self.skill_names |= _manifest_skills(cfg / "skill-manifest.csv")
        if compiled:
            self.layouts.append(Layout(kind="v6-installed", path=rel(self.root, d),
                                       version=self.installed_version[0],
                                       version_source=self.installed_version[1]))
        for m in _dirs(d):  # skills an installer keeps inside _bmad/<module>/
            if not m.name.startswith(("_", ".")):
                self._skills_under(m, m.name)
        self.claimed.append(d)

    def source(self, src: Path) -> None:
        # once a tree has BMad markers, every folder of src/modules/ is a module, and so is a
        # folder of src/ that has a module's parts (agents/, workflows/, tasks/)
        mods = _dirs(src / "modules") if (src / "modules").is_dir() else []
        mods += [m for m in _dirs(src) if m.name != "modules" and (
            _is_module(m) or any((m / part).is_dir() for part in MODULE_PARTS))]
        yaml_agents = False
        trees = {m: Tree(m) for m in mods}  # each module walked once (``walks``)
        for m, tree in trees.items():
            name = m.name.removesuffix("-skills")
            self.modules.setdefault(name, rel(self.root, m))
            agents = tree.rglob_rel(self.root, m / "agents", "*.agent.yaml")
            agents = _rglob_rel(self.root, m / "agents", "*.agent.yaml") if agents is None else agents
            yaml_agents |= bool(agents)
            self.found["agents"] += [(a, name) for a in agents]
            self.found["paths"] += [(rel(self.root, p),) for p in tree.files("workflow-status/paths/*.y*ml")]
            self.found["helps"] += [(rel(self.root, p),) for p in tree.files("module-help.csv")]
            self.found["levels"] += [(rel(self.root, p),) for p in tree.files("project-levels.yaml")]
        skills_before = len(self.found["skills"])
        for m, tree in trees.items():
            self._skills_under(m, m.name.removesuffix("-skills"), tree)
        if not mods:
            return
        version = _version(self.root, [src.parent / "package.json", src / "package.json"])
        if yaml_agents or len(self.found["skills"]) == skills_before:
            self.layouts.append(Layout(kind="v6-source", path=rel(self.root, src),
                                       version=version[0], version_source=version[1]))
        if len(self.found["skills"]) > skills_before:
            self.layouts.append(Layout(kind="skills-source", path=rel(self.root, src),
                                       version=version[0], version_source=version[1]))
        self.claimed.append(src)

    def _skills_under(self, d: Path, module: str, tree: Tree | None = None) -> None:
        for skill in sorted(_rglob(d, "SKILL.md") if tree is None else tree.rglob("SKILL.md"), key=_parts):
            folder = skill.parent
            if skill.is_symlink() or any(p.name in SKIP_DIRS for p in folder.parents):
                continue
            self.found["skills"].append((rel(self.root, folder), module))

    def tool_skills(self, folders: list[Path]) -> None:
        seen = {f.rsplit("/", 1)[-1] for f, _ in self.found["skills"]}
        for skills_dir in folders:
            added = 0
            for folder in _dirs(skills_dir):
                if not (folder / "SKILL.md").is_file() or folder.name in seen:
                    continue
                wanted = folder.name in self.skill_names if self.skill_names else _refers_to_install(folder)
                if wanted:
                    seen.add(folder.name)
                    self.found["skills"].append((rel(self.root, folder), "installed"))
                    added += 1
            if added:
                self.layouts.append(Layout(kind="skills-installed", path=rel(self.root, skills_dir),
                                           version=self.installed_version[0],
                                           version_source=self.installed_version[1]))


def discover(root: Path) -> Discovery:
    """Find every BMad tree under ``root`` and the files that make up the catalog."""
    finder = _Finder(root)
    tool_skill_dirs: list[Path] = []
    for d in _walk(root):
        if finder.claimed_by(d):
            continue
        if _is_installed(d):
            finder.installed(d)
        elif _is_v4(d):
            finder.v4(d)
        elif (d.name == "src" or d == root) and (
            any(_is_module(m) for m in _dirs(d)) or any(_is_module(m) for m in _dirs(d / "modules"))
        ):
            finder.source(d)
        elif d.name == "skills" and d.parent.name.startswith(".") and _files(d, "*/SKILL.md"):
            tool_skill_dirs.append(d)
    finder.tool_skills([d for d in tool_skill_dirs if not finder.claimed_by(d)])
    skill_files: list[str] = []
    for folder, _ in finder.found["skills"]:
        skill_files.append(_join(folder, "SKILL.md"))
        if (root / folder / "customize.toml").is_file():
            skill_files.append(_join(folder, "customize.toml"))
    f = finder.found
    return Discovery(
        modules=finder.modules,
        agent_files=[(a, m) for a, m in f["agents"]],
        path_files=[p for (p,) in f["paths"]],
        help_files=list(dict.fromkeys(p for (p,) in f["helps"])),
        level_files=[p for (p,) in f["levels"]],
        layouts=finder.layouts,
        v4_agents=[(a, m, b) for a, m, b in f["v4"]],
        v4_workflows=[p for (p,) in f["v4wf"]],
        compiled_agents=[(a, m) for a, m in f["compiled"]],
        manifests=[(p, k) for p, k in f["manifests"]],
        skills=[(s, m) for s, m in f["skills"]],
        skill_files=skill_files,
    )


def describe_search(root: Path) -> str:
    """What ``discover`` looked for, for an error that finds nothing (no path beyond ``root``)."""
    return (f"no BMad agents found under {root} (looked up to {MAX_DEPTH} folders deep for: an installed "
            "_bmad/ with _config/manifest.yaml; a v4 .bmad-core/, bmad-core/ or expansion pack with "
            "agents/*.md and core-config.yaml or config.yaml; a source tree src/<module>/ or "
            "src/modules/<module>/ with agents/*.agent.yaml; Agent Skills under src/*-skills/ or a "
            "tool folder such as .claude/skills/)")


__all__ = ["Discovery", "describe_search", "discover"]
