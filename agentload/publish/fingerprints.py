"""File fingerprints of a catalog root: what the refresh compares to decide "nothing changed".

The files are the catalog's own (``catalog_files``: agents, path files, levels) plus the
workflow files the published version referenced (they feed aliases and text retrieval).
A fingerprint is ``mtime_ns:size:sha256``; the hash is only recomputed when mtime or size
moved, so an unchanged catalog costs one ``stat`` per file. A referenced file that does
not exist is recorded as ``MISSING`` so that creating it later is noticed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from agentload.catalog import Catalog, catalog_files
from agentload.catalog.files import CatalogFileError, Fingerprint, RootGuard, fingerprint
from agentload.catalog.layouts import Discovery

MISSING = "missing"


def parse(value: str | None) -> Fingerprint | None:
    """A stored ``mtime:size:sha`` string back to a ``Fingerprint`` (None if absent/missing)."""
    if not value or value == MISSING:
        return None
    try:
        mtime, size, sha = value.split(":", 2)
        return Fingerprint(int(mtime), int(size), sha)
    except ValueError:
        return None  # unreadable entry: treated as unknown, so the file is hashed again


def fingerprint_files(root: Path, files: Iterable[str], previous: Mapping[str, str]) -> dict[str, str]:
    """Fingerprints of ``files`` (``MISSING`` for absent ones), reusing hashes where possible."""
    out: dict[str, str] = {}
    guard = RootGuard(root)  # one realpath per folder: most of a scan was resolving each file's path
    base = os.fspath(root)
    for relpath in sorted(set(files)):
        path = os.path.join(base, relpath)
        try:
            st = guard.check(path, max_bytes=sys.maxsize)
        except CatalogFileError:
            out[relpath] = MISSING  # absent, or leaving the root (refused by the loader): never read it
            continue
        known = previous.get(relpath)
        if known and known.startswith(f"{st.st_mtime_ns}:{st.st_size}:"):
            out[relpath] = known  # mtime and size unchanged: the stored hash stands (no parsing it)
            continue
        out[relpath] = fingerprint(Path(path), parse(known), st).as_str()
    return out


def _catalog_files(root: Path, found: Discovery | None) -> list[str]:
    return found.files() if found is not None else catalog_files(root)


def scan(root: Path, stored: Mapping[str, str], found: Discovery | None = None) -> dict[str, str]:
    """Current fingerprints of the catalog files and of every file the stored map knows.

    ``found``: the caller's discovery of ``root``, so that one walk of the tree serves the
    scan, the load and the fingerprints of a refresh (and they agree on the file list).
    """
    return fingerprint_files(root, set(_catalog_files(root, found)) | set(stored), stored)


def for_catalog(
    root: Path, catalog: Catalog, known: Mapping[str, str], found: Discovery | None = None
) -> dict[str, str]:
    """Fingerprints describing a loaded catalog: its files plus its referenced workflows."""
    files = set(_catalog_files(root, found)) | set(catalog.workflows)
    out = {f: known[f] for f in files if f in known}
    out.update(fingerprint_files(root, files - set(out), known))
    return out


def changed(new: Mapping[str, str], old: Mapping[str, str]) -> list[str]:
    """Files whose *content* differs (added, removed, or a different hash)."""
    def sha(value: str | None) -> str | None:
        return None if value is None else value.rsplit(":", 1)[-1]

    # equal entries (nearly all of them) are equal contents: only differing ones are split
    return sorted(f for f in new.keys() | old.keys()
                  if (a := new.get(f)) != (b := old.get(f)) and sha(a) != sha(b))


def touched(new: Mapping[str, str], old: Mapping[str, str]) -> bool:
    """True when any entry differs at all (including mtime-only changes)."""
    return dict(new) != dict(old)
