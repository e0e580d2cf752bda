"""Tokenisation for lexical retrieval: lower case, stop words out, English stems."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be been before being below
    between both but by can could did do does doing down during each few for from further had
    has have having he her here hers him his how i if in into is it its itself just let me
    more most my no nor not now of off on once only or other our ours out over own please pls
    same she should so some such than that the their them then there these they this those
    through to too under until up us very was we were what when where which while who whom why
    will with would you your yours u ur can't don't i'm we're it's get got go going want need
    like make lets let's one two thing things stuff someone something anything really actually
    just sure ok okay""".split()
)


@lru_cache(maxsize=1)
def _stemmer() -> Callable[[str], str]:
    try:
        import Stemmer  # PyStemmer: Snowball stemmers, fast C implementation

        stem = Stemmer.Stemmer("english")
        return stem.stemWord  # type: ignore[no-any-return]
    except ImportError:  # pragma: no cover - PyStemmer is a declared dependency
        return lambda w: w


PREFIX = 7  # truncation after stemming: "architect" and "architecture" meet at "archite"


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return _stemmer()(word)[:PREFIX]


def tokenize(text: str) -> list[str]:
    """Stemmed content words of ``text`` (stop words and single letters dropped)."""
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1]
