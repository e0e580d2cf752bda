"""YAML parsing that a hostile file cannot turn into a memory or CPU bomb.

``yaml.safe_load`` already refuses arbitrary objects; this loader also caps alias
expansion (billion-laughs) and nesting depth, and the reader caps file size and refuses
non-UTF-8 text before parsing.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.events import AliasEvent

MAX_ALIASES = 16  # real catalogs use none; 16 chained pairs still expand to at most 2**8 items
MAX_DEPTH = 50


class UnsafeYaml(ValueError):
    """The document is well-formed but exceeds a safety limit."""


class _LimitedLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: ANN401 - PyYAML API
        if self.check_event(AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise UnsafeYaml(f"more than {MAX_ALIASES} aliases (possible YAML bomb)")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise UnsafeYaml(f"nesting deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_ANCHOR_OR_ALIAS = re.compile(r"(?:^|[\s\[{,:-])[&*][^\s,\]}]")
_COMPACT_NESTING = re.compile(rf"(?m)^(?:[ \t]*-[ \t]+){{{MAX_DEPTH // 2}}}")  # "- - - - x"
_FastLoader: type[Any] | None = getattr(yaml, "CSafeLoader", None)


def _plainly_bounded(text: str) -> bool:
    """True when the text has no anchors/aliases and shallow nesting, so libyaml's fast
    loader cannot be driven into alias expansion or deep recursion."""
    if _ANCHOR_OR_ALIAS.search(text) or _COMPACT_NESTING.search(text):
        return False
    indent = max((len(line) - len(line.lstrip(" ")) for line in text.splitlines()), default=0)
    if indent > 2 * MAX_DEPTH:
        return False
    depth = peak = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            peak = max(peak, depth)
        elif ch in "]}":
            depth -= 1
    return peak <= MAX_DEPTH // 2


def safe_load(text: str) -> Any:  # noqa: ANN401 - YAML documents are untyped
    """Parse one YAML document with ``SafeLoader`` semantics plus the limits above.

    Plain documents (the usual case) go through libyaml's C loader, ten times faster;
    anything with anchors or deep nesting goes through the limited pure-Python loader.
    """
    if _FastLoader is not None and _plainly_bounded(text):
        return yaml.load(text, Loader=_FastLoader)  # noqa: S506 - CSafeLoader is the safe loader
    loader = _LimitedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
