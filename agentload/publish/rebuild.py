"""Incremental builds: the last build's selections are reused where nothing they show changed.

A 10,000-agent catalog precomputes about 15,000 selections; selecting each again costs a few
hundred microseconds, so a refresh after a one-file edit would take seconds. Yet a selection
is a function of the resolver data (path files, menus), of the agents and skills it loads or
lists in its manifest (title, tokens, manifest line, a skill's owners), of the manifest's
summary and routers, of the knobs, and of two version-wide figures (the baseline and the full
answer's size). When the first ones are unchanged for a key, the last build's selection with
the new figures (``accounting.rebased``) is exactly what selecting again gives; a bounded
manifest that lists a reworded line is refigured the same way (which lines it lists does not
depend on their lengths, ``selection.manifest``), so only the selections that load a changed
agent are selected again (and, in a catalog whose manifests are whole, any that lists a
reworded line). A forced refresh starts
from nothing. The memo lives in the worker process (``WorkerState.memo``), next to the parse
cache: one catalog's selections, a few tens of MB at 10,000 agents.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from agentload.context import Resolved
from agentload.keys import FULL_KEY
from agentload.publish.contexts import structured_resolved
from agentload.publish.digests import config_digest, stored_selection
from agentload.selection.accounting import Template, rebased
from agentload.selection.engine import Selector

#: (manifest line, its tokens in a listing, what a loaded one shows: title and tokens, or a
#: skill's tokens and owners)
Signature = tuple[str | None, int, tuple[object, ...]]


def signatures(selector: Selector) -> dict[str, Signature]:
    """What a selection shows of each agent and skill: its manifest line (and that line's
    tokens), and its title and tokens (a skill: tokens and owners)."""
    m = selector.manifest
    out: dict[str, Signature] = {a: (m.lines.get(a), m.listed_tokens(a), (x.title, x.tokens))
                                 for a, x in selector.catalog.agents.items()}
    for sid, item in selector.catalog.skills.items():
        out[sid] = (m.lines.get(sid), m.listed_tokens(sid), (item.tokens, tuple(item.owners)))
    return out


def stamp(selector: Selector) -> str:
    """Digest of what every selection depends on besides its own agents: knobs, resolver data,
    whole or bounded manifest and its summary, routers, the agent and skill ids."""
    h = hashlib.blake2b(digest_size=16)
    m = selector.manifest
    for part in (config_digest(selector.config).encode(), selector.resolver_json, repr(m.bounded).encode(),
                 m.summary.encode(), repr((selector.orchestrator, selector.routers)).encode(),
                 "\0".join(sorted(selector.catalog.agents)).encode(),
                 "\0".join(sorted(selector.catalog.skills)).encode()):
        h.update(part)
        h.update(b"\x1f")
    return h.hexdigest()


@dataclass
class BuildMemo:
    """One build's selections, for the next build of the same catalog in this process."""

    stamp: str
    signatures: dict[str, Signature]
    resolved: dict[str, Resolved]
    # key -> (stored selection: ``codec.stored_selection``, its resolved context as served,
    # its ``accounting.Template``)
    entries: dict[str, tuple[dict[str, Any], dict[str, Any], Template | None]] = field(default_factory=dict)
    reusable: bool = True  # False when a manifest listing was cut by the budget (lengths mattered)
    additive: bool = True  # its manifests' token counts are sums of their lines' (``Manifest``)


class Build:
    """Iterate to get (key, stored selection) of every structured context and ``full`` (the
    JSON form ``codec.stored_selection`` gives, what a publish writes); afterwards ``memo``
    holds this build for the next one and ``reused``/``selected`` say how it went."""

    def __init__(self, selector: Selector, previous: BuildMemo | None = None) -> None:
        self.selector = selector
        self.stamp = stamp(selector)
        self.signatures = signatures(selector)
        same = previous is not None and previous.reusable and previous.stamp == self.stamp
        self.previous = previous if same else None
        self.memo: BuildMemo | None = None
        self.reused = self.selected = 0

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        selector, previous = self.selector, self.previous
        resolved = previous.resolved if previous is not None else structured_resolved(selector)
        before = previous.signatures if previous is not None else {}
        # agents whose loaded form changed, and the token change of each reworded manifest line
        shown = frozenset(a for a, sig in self.signatures.items() if a not in before or before[a][2] != sig[2])
        moved = {a: sig[1] - before[a][1] for a, sig in self.signatures.items()
                 if a in before and before[a][0] != sig[0]}
        additive = selector.manifest.additive and previous is not None and previous.additive
        memo = BuildMemo(self.stamp, self.signatures, resolved, additive=selector.manifest.additive)
        baseline, full = selector.baseline, selector.full_context
        for key, res in resolved.items():
            old = previous.entries.get(key) if previous is not None else None
            delta = self._delta(old[0], shown, moved, additive) if old is not None else None
            if old is not None and delta is not None:
                (stored, template), served = rebased(old[0], old[1], old[2], baseline, full, delta), old[1]
                self.reused += 1
            else:
                selection, served = selector.select_served(res)
                stored, template = stored_selection(selection), selection.rebase_template
                self.selected += 1
            memo.entries[key] = (stored, served, template)
            yield key, stored
        yield FULL_KEY, selector.full_stored
        memo.reusable = not selector.manifest.overflowed
        self.memo = memo

    @staticmethod
    def _delta(old: dict[str, Any], shown: frozenset[str], moved: dict[str, int], additive: bool) -> int | None:
        """How many tokens the stored ``old``'s manifest gains from reworded lines it lists, or
        None when it must be selected again: it loads an agent or skill whose loaded form
        changed, or lists a reworded line (whole manifests: any) that cannot be counted apart."""
        if shown and not shown.isdisjoint([a["id"] for a in old["agents"]] + [s["id"] for s in old["skills"]]):
            return None
        if not moved:
            return 0
        listed = old.get("manifest_ids")
        if listed is None:  # a whole manifest lists every line
            return None
        touched = [moved[a] for a in listed if a in moved]
        if touched and not additive:
            return None
        return sum(touched)
