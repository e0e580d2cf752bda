"""Safe file access inside a catalog root.

Every file the catalog reads goes through ``read_text``: it refuses paths that leave the
root (symlinks included), files over a size limit and text that is not UTF-8, so a hostile
or broken catalog produces a clear per-file error instead of a crash or a leak.
"""

from __future__ import annotations

import hashlib
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
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


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


def fingerprint(path: Path, previous: Fingerprint | None = None) -> Fingerprint:
    """Fingerprint a file; reuse ``previous``'s hash when mtime and size are unchanged."""
    st = path.stat()
    if previous is not None and previous.mtime_ns == st.st_mtime_ns and previous.size == st.st_size:
        return previous
    with path.open("rb") as f:  # streamed: an oversized file costs time, never its size in memory
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    return Fingerprint(st.st_mtime_ns, st.st_size, digest)


def rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()
