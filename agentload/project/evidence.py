"""Finished work shown by the files it left, as BMad's own help task finds it.

BMad's help (``help.md`` in 6.0, the ``bmad-help`` skill later) says: search each workflow's
resolved ``output-location`` for its ``outputs`` and fuzzy-match the files found to the
workflow rows. The catalog carries both (``OutputFacts``: module-help ``outputs`` and
``output-location``, v4 ``creates``); this module does the matching, on words:

* an output's words (``epics and stories`` -> epic, story; ``prd.md`` -> prd) all appear in the
  file's path below the folder (``prds/prd-acme-2025/prd.md``), or
* the file name's own words all belong to the output (``epics.md`` for ``epics and stories``).

A file goes to the outputs it matches with the fewest missing words (``prd.md`` is the PRD's,
not the PRD validation report's). Presence is evidence that the work was done (the help task
says "started"); the notes say which file showed what. Hidden files and ``archive`` folders
(where ``workflow-init`` moves old work) are not evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from agentload.context import OutputFacts
from agentload.project.install import Install

MAX_FILES = 2000  # files looked at in one project (a bounded cost on a big repository)
MAX_DEPTH = 4
STOPWORDS = frozenset({"and", "or", "the", "of", "a", "an", "for", "to", "with", "md", "yaml", "yml"})
ARCHIVE = "archive"
_WORD = re.compile(r"[a-z0-9]+")


def words(text: str, drop: frozenset[str] = frozenset()) -> frozenset[str]:
    """Lower-case words, singular (``stories`` -> ``story``), without numbers or stopwords."""
    out = set()
    for w in _WORD.findall(text.lower()):
        if w.isdigit() or w in STOPWORDS or w in drop:
            continue
        out.add(w[:-3] + "y" if w.endswith("ies") and len(w) > 4 else w[:-1] if w.endswith("s")
                and not w.endswith("ss") and len(w) > 3 else w)
    return frozenset(out)


@dataclass(frozen=True)
class Artifact:
    """A file (or a fact standing for one, e.g. a story past ``backlog`` in a sprint status)."""

    rel: str  # relative to the project
    path_words: frozenset[str]  # every folder below the output folder, and the name
    name_words: frozenset[str]


def _files(folder: Path, limit: int) -> list[Path]:
    out: list[Path] = []
    stack = [(folder, 0)]
    while stack and len(out) < limit:
        here, depth = stack.pop()
        try:
            entries = sorted(here.iterdir(), reverse=True)
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".") or entry.is_symlink():
                continue
            if entry.is_dir() and depth < MAX_DEPTH and entry.name.lower() != ARCHIVE:
                stack.append((entry, depth + 1))
            elif entry.is_file():
                out.append(entry)
    return out[:limit]


def scan(install: Install, folders: list[Path], project_words: frozenset[str]) -> tuple[list[Artifact], list[Path]]:
    """The files under ``folders`` as artifacts, and every folder visited (to watch for changes)."""
    artifacts: list[Artifact] = []
    visited: list[Path] = []
    seen: set[Path] = set()
    for folder in folders:
        if folder in seen or any(folder.is_relative_to(s) for s in seen):
            continue
        seen.add(folder)
        for path in _files(folder, MAX_FILES - len(artifacts)):
            below = path.relative_to(folder).as_posix()
            stem = path.name.rsplit(".", 1)[0]
            artifacts.append(Artifact(install.rel(path), words(below, project_words), words(stem, project_words)))
            visited.append(path.parent)
        visited.append(folder)
    return artifacts, list(dict.fromkeys(visited))


def _cost(output: frozenset[str], art: Artifact) -> int | None:
    """Words of the output the file lacks (None: no match)."""
    if not output:
        return None
    if output <= art.path_words:
        return 0
    if art.name_words and art.name_words <= output:
        return len(output - art.path_words)
    return None


def match(outputs: dict[str, OutputFacts], folders: dict[str, list[Path]], artifacts: list[Artifact],
          root: Path) -> dict[str, str]:
    """Workflow id -> the first file that shows it done. ``folders`` gives each workflow's
    output folders; a file only counts for the workflows that write where it lies."""
    best: dict[int, tuple[int, list[str]]] = {}  # artifact index -> (cost, workflow ids)
    located = [f"{root}/{art.rel}" for art in artifacts]
    for wid, facts in outputs.items():
        places = tuple(f"{p}/" for p in folders.get(wid) or [])
        names = [words(name) for name in facts.names]
        for i, art in enumerate(artifacts):
            if not places or not located[i].startswith(places):
                continue
            costs = [c for name in names if (c := _cost(name, art)) is not None]
            if not costs:
                continue
            held = best.get(i)
            if held is None or min(costs) < held[0]:
                best[i] = (min(costs), [wid])
            elif min(costs) == held[0]:
                held[1].append(wid)
    found: dict[str, str] = {}
    for i, (_, wids) in sorted(best.items()):
        for wid in wids:
            found.setdefault(wid, artifacts[i].rel)
    return found
