"""YAML parsing that a hostile file cannot turn into a memory or CPU bomb.

``yaml.safe_load`` already refuses arbitrary objects; this loader also caps alias
expansion (billion-laughs) and nesting depth, and the reader caps file size and refuses
non-UTF-8 text before parsing.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import AliasEvent

MAX_ALIASES = 100
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


def safe_load(text: str) -> Any:  # noqa: ANN401 - YAML documents are untyped
    """Parse one YAML document with ``SafeLoader`` semantics plus the limits above."""
    loader = _LimitedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
