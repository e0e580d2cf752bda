"""Which contexts a catalog version precomputes, and computing their selections.

The enumeration is derived only from the resolver data (path files, menus, level table), so
it covers every structured context a client can ask for: any track/field combination a
path file names (plus the ``None`` wildcards), every phase, every workflow as the next one,
phase-level contexts with and without a UI, menu-only workflows, and bare tracks (which
select the orchestrator). Many contexts resolve to the same ``Resolved.key()``; the result
is deduplicated on that key, which is also the Redis key the reader computes.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

from agentload.context import MAX_PHASE_NUMBER, Context, Resolved, ResolverData
from agentload.selection.engine import Selector
from agentload.selection.manifest import HEADER, Manifest, render
from agentload.selection.models import Selection

FULL_KEY = "full"  # selection_key(v, FULL_KEY) holds the strategy=full selection

#: manifest texts carried from an earlier build: excluded agent ids -> (text, tokens)
Carried = dict[frozenset[str], tuple[str, int]]




def _track_pairs(data: ResolverData) -> list[tuple[str | None, str | None]]:
    pairs: set[tuple[str | None, str | None]] = {(None, None)}
    for t in data.tracks:
        pairs |= {(t.track, t.field_type), (t.track, None), (None, t.field_type)}
    return sorted(pairs, key=lambda p: (p[0] or "", p[1] or ""))


def enumerate_contexts(data: ResolverData) -> Iterator[Context]:
    """Every structured context worth precomputing (with duplicates; dedupe on the key).

    A level whose track has no path file (quick-flow in v6 alpha) only gets its bare
    context: combined with a workflow it would duplicate every menu selection under another
    key (a third of all keys at 1000 agents); such requests are computed on first miss.
    """
    # a phase as a client names it: its number, or its label when the catalog numbers it itself
    # (named phases such as "plan" get internal numbers a context cannot carry)
    phases: list[int | str] = sorted({p.phase if p.phase <= MAX_PHASE_NUMBER else p.label
                                      for t in data.tracks for p in t.phases}, key=str)
    workflows = sorted({w for t in data.tracks for p in t.phases for w in p.all})
    for level in sorted(data.level_tracks):
        yield Context(complexity_level=level)
    for track, field in _track_pairs(data):
        yield Context(track=track, field_type=field)
        for phase in phases:
            for has_ui in (False, True):
                yield Context(track=track, field_type=field, phase=phase, has_ui=has_ui)
        for wid in workflows:
            yield Context(track=track, field_type=field, next_workflow=wid)
    for wid in sorted(set(data.menu_owners) - set(workflows)):  # the others were the (None, None) pair's
        yield Context(next_workflow=wid)


def structured_resolved(selector: Selector) -> dict[str, Resolved]:
    """The distinct resolved contexts of the enumeration, by key."""
    out: dict[str, Resolved] = {}
    for ctx in enumerate_contexts(selector.resolver):
        resolved = selector.resolve(ctx)
        out.setdefault(resolved.key(), resolved)
    return out


class CarriedManifest(Manifest):
    """A ``Manifest`` that answers from an earlier build where the text cannot differ.

    The manifest of an excluded set is the header plus the lines of every *other* agent in
    id order, so it is unchanged when the agent ids are the same and no line outside the
    set changed. Counting its tokens is the costly part of a build at scale (milliseconds
    per text at 1000 agents); everything else is still assembled by the selector itself.
    """

    def __init__(self, fresh: Manifest, old_lines: dict[str, str], carried: Carried) -> None:
        # not calling super().__init__: the lines are the fresh manifest's own
        self.lines, self.order = fresh.lines, fresh.order
        self._fresh = fresh
        self._carried = carried if set(old_lines) == set(fresh.lines) else {}
        self._changed = frozenset(a for a, line in fresh.lines.items() if old_lines.get(a) != line)
        self.reused = 0

    def text(self, excluded: frozenset[str]) -> tuple[str, int]:
        hit = self._carried.get(excluded)
        if hit is not None and self._changed <= excluded:
            self.reused += 1
            return hit
        return self._fresh.text(excluded)


class SlicedManifest(Manifest):
    """A ``Manifest`` that derives each text from the full one instead of re-joining every line.

    A build asks for one manifest per distinct selected set (about a thousand at 1000 agents)
    and ``Manifest`` re-joins and re-sums all the other agents' lines each time, O(agents)
    per text. The manifest of an excluded set is exactly the full manifest (header, then
    ``"\n" + line`` per agent in id order) with the excluded agents' ``"\n" + line`` segments
    cut out, and, when counts are additive, its token count is the full count minus those
    lines' counts (with the last-line adjustment ``Manifest`` itself applies): O(selected).

    Both are read from ``fresh``'s own per-line counts; if they are absent, inconsistent with
    ``fresh.text`` on the full set, or not additive, every call goes to ``fresh`` unchanged.
    """

    def __init__(self, fresh: Manifest) -> None:
        # not calling super().__init__: the lines and their counts are the fresh manifest's own
        self.lines, self.order = fresh.lines, fresh.order
        self._fresh = fresh
        self._memo: dict[frozenset[str], tuple[str, int]] = {}
        self._full, self._full_tokens = fresh.text(frozenset())
        self._start: dict[str, int] = {}  # offset of the "\n" that opens each agent's line
        offset = len(HEADER)
        for a in self.order:
            self._start[a] = offset
            offset += 1 + len(self.lines[a])
        with_nl, alone = getattr(fresh, "_with_nl", None), getattr(fresh, "_alone", None)
        header = getattr(fresh, "_header_tokens", None)
        self._with_nl: dict[str, int] = with_nl if isinstance(with_nl, dict) else {}
        self._alone: dict[str, int] = alone if isinstance(alone, dict) else {}
        self._sliced = (
            bool(self.order) and getattr(fresh, "_additive", False) is True and isinstance(header, int)
            and self._with_nl.keys() == self._alone.keys() == self.lines.keys()
            and offset == len(self._full)
            and self._full == render(self.lines, self.order)
            and self._full_tokens == header + sum(self._with_nl.values())
            - self._with_nl[self.order[-1]] + self._alone[self.order[-1]]
        )

    def text(self, excluded: frozenset[str]) -> tuple[str, int]:
        if not self._sliced:
            return self._fresh.text(excluded)
        hit = self._memo.get(excluded)
        if hit is None:
            hit = self._memo[excluded] = self._cut(excluded)
        return hit

    def _cut(self, excluded: frozenset[str]) -> tuple[str, int]:
        cut = sorted(a for a in excluded if a in self._start)
        if len(cut) == len(self.order):
            return "", 0
        last = next(a for a in reversed(self.order) if a not in excluded)  # few steps: cut is small
        tokens = (self._full_tokens - self._alone[self.order[-1]] + self._with_nl[self.order[-1]]
                  - sum(self._with_nl[a] for a in cut) - self._with_nl[last] + self._alone[last])
        pieces, pos = [], 0
        for a in cut:
            start = self._start[a]
            pieces.append(self._full[pos:start])
            pos = start + 1 + len(self.lines[a])
        pieces.append(self._full[pos:])
        return "".join(pieces), tokens


def compute_selections(
    selector: Selector, previous: tuple[dict[str, str], Carried] | None = None
) -> tuple[dict[str, Selection], Carried, int]:
    """(selections by key incl. ``full``, manifests to carry to the next build, reused count).

    ``previous`` is (manifest lines, carried manifests) of the last build in this process;
    when given, manifests that cannot have changed are reused instead of re-counted. The
    others are cut from the full manifest (``SlicedManifest``), equal to what the selector's
    own manifest returns.
    """
    sliced = SlicedManifest(selector.manifest)
    carrier = CarriedManifest(sliced, *previous) if previous is not None else None
    # a shallow copy answers with the faster manifest; the caller's selector (possibly shared
    # with other threads) is never modified
    work = copy.copy(selector)
    work.manifest = carrier if carrier is not None else sliced
    selections: dict[str, Selection] = {}
    carried: Carried = {}
    for key, resolved in structured_resolved(work).items():
        sel = work.select_resolved(resolved)
        selections[key] = sel
        carried[frozenset(sel.agent_ids)] = (sel.manifest, sel.manifest_tokens)
    selections[FULL_KEY] = work.select_resolved(work.resolve(Context()), "full")
    return selections, carried, carrier.reused if carrier is not None else 0
