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

import orjson

from agentload.context import Resolved
from agentload.keys import FULL_KEY
from agentload.publish.contexts import structured_resolved
from agentload.publish.digests import config_digest, dump_selection, stored_selection
from agentload.selection.accounting import REBASED, Template, rebased, refigured
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


_MARKS = {f: f"\0{f}\0" for f in REBASED}
_MARKED = [orjson.dumps(m) for m in _MARKS.values()]


def stored_form(stored: dict[str, Any]) -> bytes | None:
    """``stored``'s JSON bytes (``dump_selection``) with ``%s`` in place of each ``REBASED``
    figure (and ``%%`` for ``%``): ``form % texts`` is the selection with other figures,
    byte for byte, without serialising the rest again. None if the figures cannot be told
    apart in the bytes (a text holding a mark)."""
    if not all(f in stored for f in REBASED):
        return None
    raw = dump_selection({**stored, **_MARKS})
    at = [raw.find(m) for m in _MARKED]
    if any(raw.count(m) != 1 for m in _MARKED) or at != sorted(at):
        return None
    raw = raw.replace(b"%", b"%%")
    for m in _MARKED:
        raw = raw.replace(m, b"%s")
    return raw


#: a build's ``refigured`` results by (manifest, optimized and loaded tokens, template)
Figures = dict[tuple[int, int, int, Template], tuple[tuple[int | float, ...], tuple[bytes, ...]] | None]


class Entry:
    """One key of a build: its stored selection as last selected or counted (``stored``), its
    resolved context as served, its ``accounting.Template``, its ``stored_form``, and its
    manifest and optimized tokens now (a rebase moves them, ``stored`` keeps its own)."""

    __slots__ = ("form", "manifest", "optimized", "served", "stored", "template")

    def __init__(self, stored: dict[str, Any], served: dict[str, Any], template: Template | None,
                 form: bytes | None, manifest: int | None = None, optimized: int | None = None) -> None:
        self.stored, self.served, self.template, self.form = stored, served, template, form
        self.manifest = int(stored["manifest_tokens"]) if manifest is None else manifest
        self.optimized = int(stored["optimized_tokens"]) if optimized is None else optimized

    def rebased(self, baseline: int, full: int, delta: int, known: Figures | None = None) -> tuple[Entry, bytes]:
        """This selection in a build with ``baseline`` and ``full``, ``delta`` more manifest
        tokens: equal to ``accounting.rebased`` dumped (``dump_selection``), and its entry.
        ``known``: the figures this build already worked out (thousands of selections share
        their numbers and template), filled here."""
        manifest, optimized = self.manifest + delta, self.optimized + delta
        if self.template is not None and self.form is not None:
            inputs = (manifest, optimized, int(self.stored["loaded_tokens"]), self.template)
            if known is not None and inputs in known:
                done = known[inputs]
            else:
                done = refigured(*inputs, baseline, full)
                if known is not None:
                    known[inputs] = done
            if done is not None:
                return Entry(self.stored, self.served, self.template, self.form, manifest, optimized), \
                    self.form % done[1]
        current = {**self.stored, "manifest_tokens": self.manifest, "optimized_tokens": self.optimized}
        stored, template = rebased(current, self.served, self.template, baseline, full, delta)
        return Entry(stored, self.served, template, stored_form(stored)), dump_selection(stored)


@dataclass
class BuildMemo:
    """One build's selections, for the next build of the same catalog in this process."""

    stamp: str
    signatures: dict[str, Signature]
    resolved: dict[str, Resolved]
    entries: dict[str, Entry] = field(default_factory=dict)  # by key
    reusable: bool = True  # False when a manifest listing was cut by the budget (lengths mattered)
    additive: bool = True  # its manifests' token counts are sums of their lines' (``Manifest``)


class Build:
    """Iterate to get (key, stored selection) of every structured context (its JSON bytes,
    ``dump_selection``) and ``full`` (the JSON form ``codec.stored_selection`` gives): what a
    publish writes; afterwards ``memo``
    holds this build for the next one and ``reused``/``selected`` say how it went."""

    def __init__(self, selector: Selector, previous: BuildMemo | None = None) -> None:
        self.selector = selector
        self.stamp = stamp(selector)
        self.signatures = signatures(selector)
        same = previous is not None and previous.reusable and previous.stamp == self.stamp
        self.previous = previous if same else None
        self.memo: BuildMemo | None = None
        self.reused = self.selected = 0

    def __iter__(self) -> Iterator[tuple[str, bytes | dict[str, Any]]]:
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
        known: Figures = {}
        for key, res in resolved.items():
            old = previous.entries.get(key) if previous is not None else None
            delta = self._delta(old.stored, shown, moved, additive) if old is not None else None
            if old is not None and delta is not None:
                entry, value = old.rebased(baseline, full, delta, known)
                self.reused += 1
            else:
                selection, served = selector.select_served(res)
                stored = stored_selection(selection)
                form = stored_form(stored)
                entry = Entry(stored, served, selection.rebase_template, form)
                value = dump_selection(stored)
                self.selected += 1
            memo.entries[key] = entry
            yield key, value
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
