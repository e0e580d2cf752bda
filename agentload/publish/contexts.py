"""Which contexts a catalog version precomputes, and computing their selections.

The enumeration is derived only from the resolver data (path files, menus, level table), so
it covers every structured context a client can ask for: any track/field combination a
path file names (plus the ``None`` wildcards), every phase, every workflow as the next one,
phase-level contexts with and without a UI, menu-only workflows, and bare tracks (which
select the orchestrator). Many contexts resolve to the same ``Resolved.key()``; the result
is deduplicated on that key, which is also the Redis key the reader computes.
"""

from __future__ import annotations

from collections.abc import Iterator

from agentload.context import MAX_PHASE_NUMBER, Context, Resolved, ResolverData
from agentload.keys import FULL_KEY
from agentload.selection.engine import Selector
from agentload.selection.models import Selection


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


def iter_selections(selector: Selector) -> Iterator[tuple[str, Selection]]:
    """(key, selection) of every structured context, then ``(FULL_KEY, full)``, one at a time:
    a publish writes each as it comes instead of holding a whole version's selections."""
    for key, resolved in structured_resolved(selector).items():
        yield key, selector.select_resolved(resolved)
    yield FULL_KEY, selector.select_resolved(selector.resolve(Context()), "full")


def compute_selections(selector: Selector) -> dict[str, Selection]:
    """Selections by key, ``full`` included (``iter_selections`` collected)."""
    return dict(iter_selections(selector))
