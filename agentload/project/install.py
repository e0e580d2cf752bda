"""Where a project keeps BMad: its install folder, configuration and output folders.

A project's progress lives in files BMad's workflows write into folders its configuration
names, so the configuration is read first, as BMad itself reads it:

* v4 (``.bmad-core/core-config.yaml``): every ``*File`` / ``*Location`` value names a document
  or a folder of documents (``prd.prdFile: docs/prd.md``, ``devStoryLocation: docs/stories``);
  their folders are where v4 work leaves its files.
* v6 (``_bmad/<module>/config.yaml``, ``bmad/`` in early alphas): ``output_folder``,
  ``planning_artifacts``, ``implementation_artifacts``, ``project_knowledge`` with
  ``{project-root}`` and ``{output_folder}`` in them.
* v6.2+ skills: the same YAML plus ``_bmad/config.toml`` (``[core]``, ``[modules.*]``) and the
  user and custom overrides, merged in the order BMad's ``resolve_config.py`` merges them.

A value whose variables the configuration leaves unresolved (6.0.4 installs write
``{project-root}/{output_folder}/planning-artifacts`` without an ``output_folder``) is looked
up by its fixed tail (a ``planning-artifacts`` folder in the project). Nothing outside the
project is ever named: a value that leaves it is dropped with a note.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentload.catalog.files import CatalogFileError, inside_root, read_text
from agentload.catalog.safeyaml import safe_load

MAX_CONFIG_BYTES = 200_000
SEARCH_DEPTH = 3  # how deep a folder named by a config value's tail is looked for
SEARCH_DIRS = 2000  # folders visited at most while looking (a big repository stays cheap)
V6_FOLDERS = ("_bmad", "bmad", ".bmad")  # installers' folder names, newest first
V4_FOLDER = ".bmad-core"
TOML_LAYERS = ("config.toml", "config.user.toml", "custom/config.toml", "custom/config.user.toml")
_VAR = re.compile(r"\{([A-Za-z0-9_-]+)\}")


@dataclass
class Install:
    """A project's BMad install: ``kind`` (``v4`` | ``v6``), its folder and flat configuration."""

    root: Path
    kind: str
    folder: str  # relative to the project: ".bmad-core", "_bmad"
    config: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # configuration files read (relative)
    doc_folders: list[Path] = field(default_factory=list)  # v4: where documents go
    notes: list[str] = field(default_factory=list)
    _located: dict[str, Path | None] = field(default_factory=dict)

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix() or "."

    def locate(self, spec: str) -> Path | None:
        """The project folder a config name (``planning_artifacts``, ``project-knowledge``) or a
        path (``{output_folder}/brainstorming``, ``docs``) designates; None when it cannot be
        resolved inside the project or does not exist."""
        spec = spec.strip()
        if spec not in self._located:
            bad = not spec or "://" in spec or " " in spec
            value = self.expand(self.config.get(spec.replace("-", "_"), spec))
            self._located[spec] = None if bad else self._folder(value, spec)
        return self._located[spec]

    def expand(self, value: str, depth: int = 0) -> str:
        """``{project-root}`` dropped, other ``{name}`` replaced from the configuration (3 levels)."""
        value = value.strip().strip('"')
        if value.startswith("{project-root}"):
            value = value.removeprefix("{project-root}").lstrip("/") or "."
        if depth < 3 and _VAR.search(value):
            def sub(m: re.Match[str]) -> str:
                return self.config.get(m.group(1).replace("-", "_"), m.group(0))
            return self.expand(_VAR.sub(sub, value), depth + 1)
        return value

    def _folder(self, value: str, spec: str) -> Path | None:
        if _VAR.search(value):  # a variable nothing defines: its fixed tail, found in the project
            tail = _VAR.split(value)[-1].strip("/")
            return find_folder(self.root, tail, skip=self.folder) if tail else None
        path = (self.root / value).resolve()
        if not inside_root(self.root, path):
            self.notes.append(f"{spec}: its folder leaves the project; not read")
            return None
        return path if path.is_dir() else None


def _walk_dirs(root: Path, skip: str) -> Iterator[tuple[Path, int]]:
    """Folders under ``root`` breadth first, at most ``SEARCH_DIRS``, without hidden ones."""
    queue: list[tuple[Path, int]] = [(root, 0)]
    seen = 0
    while queue and seen < SEARCH_DIRS:
        folder, depth = queue.pop(0)
        seen += 1
        yield folder, depth
        if depth >= SEARCH_DEPTH:
            continue
        try:
            children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())
        except OSError:
            continue
        queue += [(c, depth + 1) for c in children if not c.name.startswith(".") and c.name != skip]


def find_folder(root: Path, tail: str, skip: str = "") -> Path | None:
    """The shallowest folder of the project whose path ends with ``tail`` (``planning-artifacts``)."""
    parts = tuple(p for p in tail.split("/") if p)
    for folder, _ in _walk_dirs(root, skip):
        if folder != root and folder.parts[-len(parts):] == parts:
            return folder
    return None


def find_files(root: Path, names: tuple[str, ...], skip: str = "") -> list[Path]:
    """Files with one of ``names`` anywhere in the project (bounded walk, shallowest first)."""
    return [folder / n for folder, _ in _walk_dirs(root, skip) for n in names if (folder / n).is_file()]


def _flat(data: Any, out: dict[str, str]) -> None:  # noqa: ANN401 - YAML/TOML documents
    for key, value in (data.items() if isinstance(data, dict) else []):
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            out[str(key).replace("-", "_")] = str(value)


def _read(install: Install, path: Path) -> str | None:
    try:
        text = read_text(install.root, path, MAX_CONFIG_BYTES)
    except CatalogFileError as exc:
        install.notes.append(f"{install.rel(path)}: {exc}; not read")
        return None
    install.files.append(install.rel(path))
    return text


def _v6(root: Path, folder: Path) -> Install:
    install = Install(root, "v6", folder.name)
    modules = sorted((p for p in folder.glob("*/config.yaml") if p.parent.name != "_config"),
                     key=lambda p: (p.parent.name != "core", p.parent.name))
    for path in modules:
        text = _read(install, path)
        try:
            _flat(safe_load(text) if text is not None else None, install.config)
        except Exception as exc:  # noqa: BLE001 - any YAML failure is the file's problem, reported
            install.notes.append(f"{install.rel(path)}: not valid YAML ({str(exc).splitlines()[0][:80]})")
    for layer in TOML_LAYERS:
        path = folder / layer
        text = _read(install, path) if path.is_file() else None
        if text is None:
            continue
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            install.notes.append(f"{install.rel(path)}: not valid TOML ({exc})")
            continue
        _flat(data.get("core"), install.config)
        for module in (data.get("modules") or {}).values():
            _flat(module, install.config)
    return install


def _v4(root: Path, folder: Path) -> Install:
    install = Install(root, "v4", folder.name)
    path = folder / "core-config.yaml"
    text = _read(install, path) if path.is_file() else None
    try:
        data = safe_load(text) if text is not None else {}
    except Exception as exc:  # noqa: BLE001 - reported, the install is still used
        install.notes.append(f"{install.rel(path)}: not valid YAML ({str(exc).splitlines()[0][:80]})")
        data = {}
    values: list[str] = []
    for section in [data, *(v for v in data.values() if isinstance(v, dict))] if isinstance(data, dict) else []:
        for key, value in section.items():
            if isinstance(value, str) and str(key).endswith("File"):
                values.append(value.rsplit("/", 1)[0] if "/" in value else ".")
            elif isinstance(value, str) and str(key).endswith("Location"):
                values.append(value)
    for value in dict.fromkeys(values):
        found = install.locate(value)
        if found is not None and not any(found.is_relative_to(d) for d in install.doc_folders):
            install.doc_folders = [d for d in install.doc_folders if not d.is_relative_to(found)] + [found]
    return install


def find_install(root: Path) -> Install | None:
    """The project's BMad install (v6 before v4 when both are there), or None."""
    for name in V6_FOLDERS:
        folder = root / name
        if folder.is_dir() and (any(folder.glob("*/config.yaml")) or (folder / "config.toml").is_file()):
            return _v6(root, folder)
    folder = root / V4_FOLDER
    if folder.is_dir():
        return _v4(root, folder)
    return None
