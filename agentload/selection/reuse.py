"""Reusing a previous selector's resolver data when a catalog reload left its inputs alone.

The resolver data (tracks, aliases, menu owners: ``resolve.build_resolver_data``) is a
function of the path files, the agents' ids and menus, the work items, the referenced
workflows' names and the level-to-track knob. After a one-file edit that touched none of
these (a persona or a description), rebuilding it for a 10,000-agent catalog costs a few
hundred milliseconds for nothing. The loader shares the objects of unchanged files between
two loads (``catalog.reader.ParseCache``), so comparing the inputs is mostly identity checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

from agentload.catalog import Catalog

T = TypeVar("T")


def _same_seq(a: Sequence[T], b: Sequence[T]) -> bool:
    return len(a) == len(b) and all(x is y or x == y for x, y in zip(a, b, strict=True))


def _same_map(a: Mapping[str, T], b: Mapping[str, T]) -> bool:
    """Equal keys in the same order (orders reach the resolver's lists) and equal values."""
    return len(a) == len(b) and all(ka == kb and (va is vb or va == vb)
                                    for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True))


def same_resolver_inputs(new: Catalog, old: Catalog) -> bool:
    """Whether ``build_resolver_data`` gives the same result for ``new`` as for ``old`` (with
    the same level-to-track knob): same path files, agents (ids, order and menus), work items
    and referenced workflows."""
    if not _same_seq(new.paths, old.paths) or not _same_map(new.work_items, old.work_items):
        return False
    if not _same_map(new.workflows, old.workflows) or list(new.agents) != list(old.agents):
        return False
    return all(a is b or a.menu == b.menu for a, b in zip(new.agents.values(), old.agents.values(), strict=True))
