"""What a worker process keeps between tasks: parse caches, selectors, the last build.

Parsing YAML and building a selector are the expensive parts of a refresh and of a worker
selection; both depend only on files (and settings), so a process keeps them: one
``ParseCache`` per catalog root (only changed files are re-parsed) and one ``Selector`` per
catalog version (rebuilt when ``CURRENT_VERSION`` moves), and the last build's selections
(``cache.rebuild``), which the next refresh reuses where nothing they show changed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from agentload.catalog import ParseCache
from agentload.publish.rebuild import BuildMemo
from agentload.publish.reuse import PublishMemo
from agentload.selection.engine import SelectionConfig, Selector
from agentload.settings import Settings

KEEP_SELECTORS = 2  # the current version and the one before it


def selection_config(settings: Settings) -> SelectionConfig:
    """The selector's knobs as configured for this deployment."""
    return SelectionConfig.from_settings(settings)


@dataclass
class WorkerState:
    parse_caches: dict[str, ParseCache] = field(default_factory=dict)
    selectors: dict[str, Selector] = field(default_factory=dict)
    memo: BuildMemo | None = None  # the last build's selections (``cache.rebuild``)
    published: PublishMemo | None = None  # what the last publish wrote (``cache.reuse``)
    lock: threading.Lock = field(default_factory=threading.Lock)  # thread pools share a state

    def parse_cache(self, root: str, fresh: bool = False) -> ParseCache:
        """The root's parse cache; ``fresh`` drops it first.

        A forced refresh keeps it: ``load_catalog(rehash=True)`` re-hashes every file and
        reuses only parses of identical bytes, which equal a fresh parse at a fraction of the cost.
        """
        if fresh or root not in self.parse_caches:
            self.parse_caches[root] = ParseCache()
        return self.parse_caches[root]

    def remember(self, version: str, selector: Selector, memo: BuildMemo | None = None,
                 published: PublishMemo | None = None) -> None:
        """Keep ``selector`` for ``version`` (and the last two only), and ``memo`` and
        ``published`` (when given) as the build and publish the next refresh starts from."""
        self.selectors[version] = selector
        while len(self.selectors) > KEEP_SELECTORS:
            self.selectors.pop(next(iter(self.selectors)))
        if memo is not None:
            self.memo = memo
        if published is not None:
            self.published = published

    def forget_build(self) -> None:
        """Drop the last build and publish: the next refresh selects and sends everything again."""
        self.memo = self.published = None
