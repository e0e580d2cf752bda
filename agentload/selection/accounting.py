"""A selection's delivered-token figures, counted so that a rebuild of thousands costs little.

``Selection.context_tokens`` needs one cl100k count of the selection's compact JSON metadata
(50-300 us each; a 10,000-agent catalog precomputes about 15,000 selections). Between two
builds most metadata differ only in their numbers: one edited agent changes the baseline, the
full answer's size and the reductions of every selection, nothing else. cl100k splits every
run of digits into pieces of at most three, each a token of its own that never merges with
its neighbours (its pre-tokenizer matches digits with ``\\p{N}{1,3}`` alone; every 1-3 digit
string is one token, which a unit test checks over all 1,110 of them). So a text's count is
the count of the text with each digit run replaced by ``0``, plus one token per further three
digits: the masked text is counted once and remembered, and a rebuild whose metadata only
changed numbers counts nothing again. Texts with numerals other than ASCII digits are counted
directly.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson

from agentload.delivered import compact
from agentload.tokens import count_tokens

if TYPE_CHECKING:
    from agentload.catalog import Catalog
    from agentload.context import Resolved
    from agentload.selection.models import Selection

_LONG_DIGITS = re.compile(r"[0-9]{4,}")  # runs of more than three digits: more than one token
_DIGITS = re.compile(r"[0-9]+")
MASKED_KEPT = 64  # masked texts remembered: full answers (a megabyte each at 10,000 agents)
#: masked metadata of selections remembered (a kilobyte or two each): a catalog's structured
#: selections (about 15,000 at 10,000 agents) selected again after an edit that changed only
#: numbers in their metadata (an agent's tokens) count nothing again
META_KEPT = 1 << 14
#: ``(L0, C0)`` of a selection's metadata as ``_figures`` counted it: its length less its four
#: varying inputs (manifest and optimized tokens, baseline, file cut), and its token count less
#: those and three varying figures (guessed context, full context, guessed reduction). Numbers
#: are separate tokens (see the module doc; a negative one is not), so another build's figures
#: follow from the numbers alone (``rebased``).
Template = tuple[int, int]
#: fields a stored selection has that its served metadata does not count (the text is counted apart)
NOT_META = frozenset({"manifest", "manifest_ids"})


@lru_cache(maxsize=MASKED_KEPT)
def _masked_count(masked: str) -> int:
    return count_tokens(masked)


def _plain_numerals(text: str) -> bool:
    """True when the only numerals in ``text`` are ASCII digits (the masking's premise)."""
    return text.isascii() or not any(ch.isnumeric() and not ch.isascii() for ch in text)


@lru_cache(maxsize=META_KEPT)
def _meta_count(masked: str) -> int:
    return count_tokens(masked)


def count_masked(text: str, large: bool = True) -> int:
    """``count_tokens(text)``, exactly, with the count of ``text``'s digit-masked form memoised
    (``large``: among the few full answers' texts, else among selections' metadata)."""
    if not _plain_numerals(text):
        return count_tokens(text)
    extra = sum((len(run) - 1) // 3 for run in _LONG_DIGITS.findall(text))
    return (_masked_count if large else _meta_count)(_DIGITS.sub("0", text)) + extra


def file_cut(optimized: int, baseline: int) -> float:
    """``file_reduction``: 1 - optimized / baseline file tokens, rounded as stored (0 without a baseline)."""
    return round(1.0 - optimized / baseline, 6) if baseline else 0.0


def _num(value: int | float) -> str:
    """A number as compact JSON writes it."""
    return orjson.dumps(value).decode()


@lru_cache(maxsize=1 << 14)
def _num_tokens(text: str) -> int:
    return count_tokens(text)


def _template(pre_len: int, counted: int, numbers: tuple[str, ...]) -> Template | None:
    """``(L0, C0)`` from a counted metadata whose seven varying numbers are ``numbers`` (the
    first four in the metadata before its figures were guessed; see ``Template``); None when
    one is negative (its "-" joins the punctuation before it)."""
    if any(n.startswith("-") for n in numbers):
        return None
    return pre_len - sum(len(n) for n in numbers[:4]), counted - sum(_num_tokens(n) for n in numbers)


def _figures(meta: dict[str, Any], texts: int, full: int | None, has_baseline: bool
             ) -> tuple[dict[str, Any], Template | None]:
    """``context_tokens``, ``full_context_tokens`` and ``reduction`` of a selection whose
    metadata (as served, without its manifest; those three at 0) is ``meta`` and whose texts
    count ``texts``, and its ``Template`` (None for the full answer).

    One token count: the metadata is counted once with its own figures guessed from its
    length. The guess has the final figures' number of digits in practice, so the count is
    exact to within a token or two; the served answer states its exact count itself
    (``delivered_tokens``)."""
    pre_len = len(compact(meta))
    guess = texts + pre_len * 2 // 7  # ~3.5 characters a token in compact JSON
    base = full if full is not None else guess
    red = round(1.0 - guess / base, 6)
    meta.update(context_tokens=guess, full_context_tokens=base, reduction=red)
    text = compact(meta)
    counted = count_masked(text, large=full is None)  # full is None: the full answer, large
    tokens = counted + texts
    base = full if full is not None else tokens
    cut = round(1.0 - tokens / base, 6) if base and has_baseline else 0.0
    template = None if full is None else _template(pre_len, counted, tuple(_num(v) for v in (
        meta["manifest_tokens"], meta["optimized_tokens"], meta["baseline_tokens"], meta["file_reduction"],
        guess, full, red)))
    return {"context_tokens": tokens, "full_context_tokens": base, "reduction": cut}, template


def with_delivered_figures(selection: Selection, served: dict[str, Any], full: int | None) -> Selection:
    """The selection with its delivered-token figures (``Selection`` says which), ``served``
    (its resolved context as answers carry it) included; ``full`` None: this is the full answer.
    Its ``rebase_template`` is set (``rebased``)."""
    meta = selection.model_dump(mode="json", exclude={"manifest"})
    meta["resolved"] = served
    texts = selection.loaded_tokens + selection.manifest_tokens
    figures, template = _figures(meta, texts, full, bool(selection.baseline_tokens))
    out = selection.model_copy(update=figures)
    out.set_rebase_template(template)
    return out


#: the figures a rebase changes, in the order a stored selection has them (``Selection``)
REBASED = ("manifest_tokens", "baseline_tokens", "optimized_tokens", "file_reduction", "context_tokens",
           "full_context_tokens", "reduction")


@lru_cache(maxsize=1 << 14)
def _text_tokens(text: bytes) -> int:
    return count_tokens(text.decode())


def refigured(manifest: int, optimized: int, loaded: int, template: Template, baseline: int, full: int
              ) -> tuple[tuple[int | float, ...], tuple[bytes, ...]] | None:
    """The ``REBASED`` figures of a selection with ``manifest``, ``optimized`` and ``loaded``
    tokens and ``template`` in a build with ``baseline`` and ``full``: their values and their
    compact JSON texts, in ``REBASED`` order; None when a number is negative (its "-" joins the
    punctuation before it: the metadata is counted again, ``rebased``). A few number formats,
    no text serialised or counted."""
    cut_files = file_cut(optimized, baseline)
    texts = loaded + manifest
    before = (orjson.dumps(manifest), orjson.dumps(optimized), orjson.dumps(baseline), orjson.dumps(cut_files))
    guess = texts + (template[0] + sum(map(len, before))) * 2 // 7
    red = round(1.0 - guess / full, 6)
    numbers = (*before, orjson.dumps(guess), orjson.dumps(full), orjson.dumps(red))
    if any(n.startswith(b"-") for n in numbers):
        return None
    tokens = template[1] + sum(map(_text_tokens, numbers)) + texts
    reduction = round(1.0 - tokens / full, 6) if baseline else 0.0
    return ((manifest, baseline, optimized, cut_files, tokens, full, reduction),
            (before[0], before[2], before[1], before[3], orjson.dumps(tokens), numbers[5], orjson.dumps(reduction)))


def rebased(stored: dict[str, Any], served: dict[str, Any], template: Template | None, baseline: int, full: int,
            manifest_delta: int = 0) -> tuple[dict[str, Any], Template | None]:
    """A stored selection (``cache.codec.stored_selection``: its JSON form) as a build with
    another ``baseline`` and ``full`` answer, and ``manifest_delta`` more tokens in its manifest
    (lines it lists were reworded), would store it, everything else equal; and its template:
    equal to selecting again and storing that. With a ``template`` no text is serialised or
    counted (``refigured``); without one (or for a negative figure) the metadata is counted
    again."""
    out = dict(stored)
    manifest = int(out["manifest_tokens"]) + manifest_delta
    optimized = int(out["optimized_tokens"]) + manifest_delta
    texts = int(out["loaded_tokens"]) + manifest
    if template is not None:
        done = refigured(manifest, optimized, int(out["loaded_tokens"]), template, baseline, full)
        if done is not None:
            out.update(zip(REBASED, done[0], strict=True))
            return out, template
    # the figures as a fresh selection has them before they are counted (``_figures`` reads them)
    out.update(manifest_tokens=manifest, optimized_tokens=optimized, baseline_tokens=baseline,
               file_reduction=file_cut(optimized, baseline), context_tokens=0, full_context_tokens=0, reduction=0.0)
    meta = {k: v for k, v in out.items() if k not in NOT_META}
    meta["resolved"] = served
    counted, template = _figures(meta, texts, full, bool(baseline))
    out.update(counted)
    return out, template


def full_stored(catalog: Catalog, key: str, resolved: Resolved) -> dict[str, Any]:
    """The ``full`` strategy's answer (every agent and skill, no manifest) in its stored JSON
    form (``cache.codec.stored_selection``), made as plain data: equal to selecting ``full``
    and storing it, without a model per agent (a tenth of a 10,000-agent refresh)."""
    reason = [{"rule": "strategy:full"}]  # one list for all: only read
    agents = [{"id": a, "title": x.title, "tokens": x.tokens, "reasons": reason}
              for a, x in sorted(catalog.agents.items())]
    skills = [{"id": sid, "tokens": w.tokens, "owners": list(w.owners), "reasons": reason}
              for sid, w in sorted(catalog.skills.items())]
    loaded = sum(x.tokens for x in catalog.agents.values()) + sum(w.tokens for w in catalog.skills.values())
    baseline = catalog.baseline_tokens
    out: dict[str, Any] = {
        "agents": agents, "skills": skills, "manifest": "", "manifest_tokens": 0, "loaded_tokens": loaded,
        "baseline_tokens": baseline, "optimized_tokens": loaded, "file_reduction": file_cut(loaded, baseline),
        "context_tokens": 0, "full_context_tokens": 0, "reduction": 0.0, "strategy": "full", "key": key,
        "notes": list(resolved.notes), "unknown": list(resolved.unknown)}
    meta = {k: v for k, v in out.items() if k not in NOT_META}
    meta["resolved"] = resolved.served()
    out.update(_figures(meta, loaded, None, bool(baseline))[0])
    return out
