"""Keep a project's reading while its files stay as they were.

Reading a project costs a few folder listings and small YAML parses (about a millisecond);
an assistant asks for a selection on every step. A reading is reused while the ``stat`` of
every path it watched (status files, configuration, the folders looked in: a new file changes
its folder's mtime) is unchanged, and for ``max_age_s`` at most: a change in a folder deeper
than those watched is picked up by then.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from agentload.context import ResolverData
from agentload.project.state import ProjectState, read_project

Stamp = tuple[tuple[str, int, int], ...]


def _stamp(paths: list[str]) -> Stamp:
    out = []
    for p in paths:
        try:
            st = Path(p).stat()
            out.append((p, st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((p, -1, -1))
    return tuple(out)


class ProjectCache:
    """Readings by (project folder, catalog version); safe to share between threads."""

    def __init__(self, max_age_s: float = 30.0, size: int = 32) -> None:
        self.max_age_s = max_age_s
        self.size = size
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str], tuple[float, Stamp, ProjectState]] = {}

    def get(self, root: Path, version: str, data: ResolverData) -> ProjectState:
        """The reading of ``root`` for catalog ``version`` (``data`` its resolver facts)."""
        key = (str(root.resolve()), version)
        with self._lock:
            held = self._items.get(key)
        fresh = held is not None and time.monotonic() - held[0] < self.max_age_s
        if held is not None and fresh and _stamp(held[2].watched) == held[1]:
            return held[2]
        state = read_project(root, data)
        stamp = _stamp(state.watched)
        with self._lock:
            while len(self._items) >= self.size:
                self._items.pop(next(iter(self._items)))
            self._items[key] = (time.monotonic(), stamp, state)
        return state
