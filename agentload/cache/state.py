"""What a worker process keeps between tasks: parse caches, selectors, the last build.

Parsing YAML and building a selector are the expensive parts of a refresh and of a worker
selection; both depend only on files (and settings), so a process keeps them: one
``ParseCache`` per catalog root (only changed files are re-parsed) and one ``Selector`` per
catalog version (rebuilt when ``CURRENT_VERSION`` moves). The manifests of the last build
are kept so that the next build re-counts only the ones whose text can have changed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from agentload.cache.contexts import Carried
from agentload.catalog import ParseCache
from agentload.selection.engine import SelectionConfig, Selector
from agentload.settings import Settings

KEEP_SELECTORS = 2  # the current version and the one before it


def selection_config(settings: Settings) -> SelectionConfig:
    """The selector's knobs as configured for this deployment."""
    return SelectionConfig.from_settings(settings)


@dataclass
class LastBuild:
    """Manifest lines and texts of the last computed build (input of the next one)."""

    lines: dict[str, str]
    carried: Carried


@dataclass
class WorkerState:
    parse_caches: dict[str, ParseCache] = field(default_factory=dict)
    selectors: dict[str, Selector] = field(default_factory=dict)
    last_build: LastBuild | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)  # thread pools share a state

    def parse_cache(self, root: str, fresh: bool = False) -> ParseCache:
        """The root's parse cache; ``fresh`` drops it first.

        A forced refresh keeps it: ``load_catalog(rehash=True)`` re-hashes every file and
        reuses only parses of identical bytes, which equal a fresh parse at a fraction of the cost.
        """
        if fresh or root not in self.parse_caches:
            self.parse_caches[root] = ParseCache()
        return self.parse_caches[root]

    def remember(self, version: str, selector: Selector, carried: Carried | None = None) -> None:
        self.selectors[version] = selector
        while len(self.selectors) > KEEP_SELECTORS:
            self.selectors.pop(next(iter(self.selectors)))
        if carried is not None:
            self.last_build = LastBuild(lines=dict(selector.manifest.lines), carried=carried)

    def forget_build(self) -> None:
        self.last_build = None
