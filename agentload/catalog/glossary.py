"""Acronyms a catalog defines itself ("Product Requirements Document (PRD)").

Users write "the product requirements" where a skill says "PRD", or "PRD" where a workflow
spells it out. The catalog's own files define these pairs; mining them keeps retrieval free of a
hand-made thesaurus. A pair counts when the initials of the spelled-out words (small joining
words may be skipped) are exactly the letters of the acronym, in either order of writing:
``Words Words (WW)`` or ``WW (Words Words)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

# cheap anchors first ("(ABC)" and "ABC ("), then the words around them: a single pattern that
# also matched the words took seconds on a 1000-agent catalog (backtracking over every word)
_PAREN_ACRONYM = re.compile(r"\(([A-Z][A-Z0-9]{1,5})s?\)")
_ACRONYM_PAREN = re.compile(r"\b([A-Z][A-Z0-9]{1,5})s?\s*\(([^()\n]{3,80})\)")
_WORDS = re.compile(r"[A-Za-z][\w-]*")
_SMALL = frozenset({"of", "and", "the", "for", "to", "a", "an", "in", "on", "&"})
MAX_TEXT_CHARS = 200_000


def _match(acronym: str, words: list[str]) -> list[str] | None:
    """The shortest tail of ``words`` whose initials spell ``acronym`` (small words skippable)."""
    letters = acronym.lower()
    for start in range(len(words) - 1, -1, -1):
        tail = words[start:]
        initials = "".join(w[0].lower() for w in tail if w.lower() not in _SMALL)
        if initials == letters:
            return tail
        if len(initials) > len(letters):
            return None
    return None


@lru_cache(maxsize=16384)
def _pairs(text: str) -> tuple[tuple[str, str], ...]:
    """(acronym, spelled-out form) pairs one text defines; cached: a refresh re-reads mostly the
    same files."""
    text = text[:MAX_TEXT_CHARS]
    out: list[tuple[str, str]] = []
    for m in _PAREN_ACRONYM.finditer(text):
        before = _WORDS.findall(text[max(0, m.start() - 80):m.start()])[-8:]
        tail = _match(m.group(1), before)
        if tail:
            out.append((m.group(1).lower(), " ".join(tail).lower()))
    for m in _ACRONYM_PAREN.finditer(text):
        words = _WORDS.findall(m.group(2))
        if words and _match(m.group(1), words) == words:
            out.append((m.group(1).lower(), " ".join(words).lower()))
    return tuple(out)


def mine_acronyms(texts: Iterable[str]) -> dict[str, str]:
    """``{"prd": "product requirements document", ...}`` from the given texts (acronyms
    defined two different ways are dropped)."""
    found: dict[str, set[str]] = {}
    for text in dict.fromkeys(texts):
        for acro, spelled in _pairs(text):
            found.setdefault(acro, set()).add(spelled)
    return {a: next(iter(s)) for a, s in sorted(found.items()) if len(s) == 1}


def expand(text: str, acronyms: dict[str, str]) -> str:
    """Extra query words: each acronym's spelled-out form when the acronym is used, and the
    acronym when its first two spelled-out words are used. ``""`` when nothing applies."""
    low = f" {' '.join(re.findall(r'[a-z0-9]+', text.lower()))} "
    extra: list[str] = []
    for acro, spelled in acronyms.items():
        words = re.findall(r"[a-z0-9]+", spelled)
        if f" {acro} " in low or f" {acro}s " in low:
            extra.append(spelled)
        elif len(words) >= 2 and f" {words[0]} {words[1]} " in low:
            extra.append(acro)
    return " ".join(extra)
