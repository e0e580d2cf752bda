"""One walk of a module folder, answering every question discovery asks of it.

Discovery asked a source module's tree five times (its agent files, path files, help tables,
level tables and skills), and at 10,000 agents each pass listed the same 10,000-entry folder
again: a third of a refresh's scan. ``Tree`` walks the folder once (``os.walk``, which enters
no symlinked folder) and answers each question as its own pass would: the same names, the same
order, the same treatment of symlinks.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path


def rel_posix(root: Path, path: Path) -> str:
    """``path`` relative to ``root``, POSIX-style ("" for the root itself); a string cut for
    the paths a walk of ``root`` yields (``relative_to`` dominated discovering 10,000 agents)."""
    base, full = str(root), str(path)
    if os.sep == "/" and full.startswith(base) and full[len(base):len(base) + 1] == "/":
        return full[len(base) + 1:]
    return path.relative_to(root).as_posix() if path != root else ""


def join_rel(base: str, name: str) -> str:
    return f"{base}/{name}" if base else name


class Tree:
    """The folders under ``folder`` (itself included, no symlinked one entered), with their
    sub-folder and file names, walked once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.tops = list(os.walk(folder))

    def rglob(self, pattern: str) -> list[Path]:
        """Names matching ``pattern`` case-sensitively, files and folders, below ``folder``, in
        walk order (``layouts._rglob(folder, pattern)``)."""
        return [Path(top, name) for top, dirs, files in self.tops for name in (*dirs, *files)
                if fnmatch.fnmatchcase(name, pattern)]

    def rglob_rel(self, root: Path, sub: Path, pattern: str) -> list[str] | None:
        """``layouts._rglob_rel(root, sub, pattern)`` for a folder ``sub`` of this tree; None
        when ``sub`` is a symlink (a walk of ``sub`` itself enters it, this one did not)."""
        if sub.is_symlink():
            return None
        base = os.fspath(sub)
        below = base + os.sep
        found: list[str] = []
        for top, dirs, files in self.tops:
            if top == base or top.startswith(below):
                at = rel_posix(root, Path(top))
                found += [join_rel(at, name) for name in (*dirs, *files) if fnmatch.fnmatchcase(name, pattern)]
        return sorted(found, key=lambda f: tuple(f.split("/")))

    def files(self, pattern: str) -> list[Path]:
        """``layouts._files(folder, "**/" + pattern)``: files (and symlinks) matching ``pattern``
        from ``folder`` and every folder below it, as ``Path.glob``'s ``**`` finds them (it
        starts from the same folders: none reached through a symlink)."""
        return sorted((p for top, _, _ in self.tops for p in Path(top).glob(pattern) if p.is_file() or p.is_symlink()),
                      key=lambda p: p.parts)
