"""Safe file access inside a catalog root.

Every file the catalog reads goes through ``read_text``: it refuses paths that leave the
root (symlinks included), files over a size limit and text that is not UTF-8, so a hostile
or broken catalog produces a clear per-file error instead of a crash or a leak.
"""

from __future__ import annotations

import hashlib
import os
import stat as _stat
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX_BYTES = 1_000_000


class CatalogFileError(ValueError):
    """A file that cannot be used; the message says why."""


@dataclass(frozen=True)
class Fingerprint:
    """Cheap identity of a file (mtime and size) plus its content hash."""

    mtime_ns: int
    size: int
    sha256: str

    def as_str(self) -> str:
        return f"{self.mtime_ns}:{self.size}:{self.sha256}"


def inside_root(root: Path, path: Path) -> bool:
    """Whether ``path``, symlinks resolved, is inside ``root``."""
    real, found = os.path.realpath(root), os.path.realpath(path)
    return found == real or found.startswith(real.rstrip(os.sep) + os.sep)


def check_file(root: Path, path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Refuse a path outside the root, anything but a regular file, and files over the limit."""
    if not inside_root(root, path):
        raise CatalogFileError("path leaves the catalog root (symlink or ..)")
    try:
        st = path.stat()
    except OSError as exc:
        raise CatalogFileError(f"cannot stat: {exc.strerror or exc}") from exc
    if not _stat.S_ISREG(st.st_mode):
        raise CatalogFileError("not a regular file")
    if st.st_size > max_bytes:
        raise CatalogFileError(f"file is {st.st_size} bytes, over the {max_bytes}-byte limit")


class RootGuard:
    """``check_file`` for many files of one root, with one ``realpath`` per folder instead of
    one per file (thousands of agent files share a few folders): a file that is not itself a
    symlink is inside the root exactly when its folder's real path is. One per load or scan, so
    a folder replaced by a symlink between two loads is seen by the next."""

    def __init__(self, root: Path) -> None:
        self.real = os.path.realpath(root)
        self._prefix = self.real.rstrip(os.sep) + os.sep
        self._folders: dict[str, bool] = {}

    def _inside(self, real: str) -> bool:
        return real == self.real or real.startswith(self._prefix)

    def check(self, path: Path | str, max_bytes: int = DEFAULT_MAX_BYTES) -> os.stat_result:
        """The file's stat when ``check_file`` would accept it; raises ``CatalogFileError`` as it does."""
        name = os.fspath(path)
        try:
            st = os.lstat(name)
        except OSError as exc:
            raise CatalogFileError(f"cannot stat: {exc.strerror or exc}") from exc
        if _stat.S_ISLNK(st.st_mode):
            if not self._inside(os.path.realpath(name)):
                raise CatalogFileError("path leaves the catalog root (symlink or ..)")
            try:
                st = os.stat(name)
            except OSError as exc:
                raise CatalogFileError(f"cannot stat: {exc.strerror or exc}") from exc
        else:
            folder = os.path.dirname(name)
            inside = self._folders.get(folder)
            if inside is None:
                inside = self._folders[folder] = self._inside(os.path.realpath(folder))
            if not inside:
                raise CatalogFileError("path leaves the catalog root (symlink or ..)")
        if not _stat.S_ISREG(st.st_mode):
            raise CatalogFileError("not a regular file")
        if st.st_size > max_bytes:
            raise CatalogFileError(f"file is {st.st_size} bytes, over the {max_bytes}-byte limit")
        return st


def read_bytes(root: Path, path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    check_file(root, path, max_bytes)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CatalogFileError(f"cannot read: {exc.strerror or exc}") from exc


def read_text(root: Path, path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    data = read_bytes(root, path, max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogFileError(f"not UTF-8 text (byte {exc.start})") from exc


def fingerprint(path: Path, previous: Fingerprint | None = None, st: os.stat_result | None = None) -> Fingerprint:
    """Fingerprint a file; reuse ``previous``'s hash when mtime and size are unchanged (``st``:
    the file's stat when the caller has just taken it)."""
    st = st if st is not None else path.stat()
    if previous is not None and previous.mtime_ns == st.st_mtime_ns and previous.size == st.st_size:
        return previous
    with path.open("rb") as f:  # streamed: an oversized file costs time, never its size in memory
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    return Fingerprint(st.st_mtime_ns, st.st_size, digest)


def rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()
