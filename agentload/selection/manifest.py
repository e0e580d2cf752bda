"""The compact manifest of agents not loaded in full (progressive disclosure), bounded.

One line per agent: id, title and its most distinctive capabilities, cut to at most
``max_tokens`` tokens; in skills layouts one line per workflow skill as well. Capabilities
that most agents share (status, party mode...) say nothing about who to load next, so they
are left out.

A manifest that lists every other agent grows with the catalog (about 27k tokens at 1,000
agents), which would make every answer cost more than loading agents ever saves. So a
selection's manifest is bounded by ``budget_tokens``: while the catalog's whole manifest fits,
it is given whole (the BMad trees shipped today: 220-1,356 tokens, unchanged); past it, the
manifest is *bounded*: the ``candidates`` most relevant lines by the selector's own ranking,
then a summary (``selection.summary``: counts per module, a few names each, and the search
tool that reaches every other line), within the budget at any catalog size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

from agentload.catalog import Agent, Catalog, WorkItem
from agentload.selection.summary import module_summary
from agentload.tokens import count_tokens

HEADER = "Other agents (not loaded; request one with load_agent <id>):"


def _capabilities(agent: Agent, common: set[str]) -> list[str]:
    seen: list[str] = []
    for item in agent.menu:
        name = item.name.strip()
        if name and name not in common and name not in seen and len(name) <= 40:
            seen.append(name)
    return seen


@lru_cache(maxsize=65536)
def _fit(head: str, caps: tuple[str, ...], max_tokens: int) -> str:
    """``head | cap, cap`` trimmed to ``max_tokens``; memoised: a refresh re-derives the lines
    of thousands of unchanged agents, and their counts are most of a manifest's cost."""
    kept = list(caps)
    while kept:
        line = f"{head} | {', '.join(kept)}"
        if count_tokens(line) <= max_tokens:
            return line
        kept.pop()
    words = head.split(" ")
    while len(words) > 2 and count_tokens(" ".join(words)) > max_tokens:
        words.pop()
    line = " ".join(words)
    while len(line) > 2 and count_tokens(line) > max_tokens:  # an id longer than the budget
        line = line[:-1]
    return line


@lru_cache(maxsize=65536)
def line_tokens(line: str) -> tuple[int, int]:
    """(tokens of ``line`` followed by a newline, tokens of ``line`` alone), memoised."""
    return count_tokens(line + "\n"), count_tokens(line)


def manifest_line(agent: Agent, common: set[str], max_tokens: int) -> str:
    """``- id: Title | cap, cap, ...`` trimmed capability by capability to the token budget."""
    head = f"- {agent.id}: {agent.title or agent.persona.role[:60]}".rstrip()
    return _fit(head, tuple(_capabilities(agent, common)), max_tokens)


def skill_line(item: WorkItem, max_tokens: int) -> str:
    """``- id [skill]: description`` cut word by word to the token budget."""
    words = f"- {item.id} [skill]: {item.description or item.name}".split()
    while len(words) > 3 and count_tokens(" ".join(words)) > max_tokens:
        words.pop()
    return " ".join(words)


def render(lines: dict[str, str], ids: list[str]) -> str:
    """The whole-manifest text for ``ids`` (in order): readers rebuild it from stored lines."""
    return "\n".join([HEADER, *(lines[a] for a in ids)]) if ids else ""


def render_bounded(lines: dict[str, str], ids: list[str], summary: str) -> str:
    """A bounded manifest: the header, the lines of ``ids`` (in rank order), the summary."""
    return "\n".join([HEADER, *(lines[a] for a in ids if a in lines), summary])


class Manifest:
    """Precomputed manifest lines; ``text(excluded)`` joins the lines of the others, and
    ``for_selection`` gives what a selection carries (whole or bounded, see the module doc)."""

    max_tokens: int
    budget: int
    candidates: int
    lines: dict[str, str]
    order: list[str]
    summary: str
    _common: set[str]
    _agents: dict[str, Agent]

    def __init__(self, catalog: Catalog, max_tokens: int = 30, budget_tokens: int = 1500,
                 candidates: int = 12, previous: Manifest | None = None) -> None:
        """``previous``: the manifest of an earlier load of the same catalog with the same agent
        ids, menus, path files and work items (``selection.reuse``) and the same knobs: the lines
        and summary of the agents it shares (the same objects) are taken from it."""
        if previous is not None and (previous.max_tokens, previous.budget, previous.candidates) != (
                max_tokens, budget_tokens, candidates):
            previous = None
        self.max_tokens, self._agents = max_tokens, catalog.agents
        if previous is not None:  # same menus: the same capabilities are common to most agents
            common = previous._common
        else:
            counts = Counter(name for a in catalog.agents.values() for name in {m.name for m in a.menu})
            threshold = max(2, len(catalog.agents) // 2)
            common = {name for name, n in counts.items() if n >= threshold}
        self._common = common
        before = previous._agents if previous is not None else {}
        self.lines = {aid: previous.lines[aid] if previous is not None and before.get(aid) is a
                      else manifest_line(a, common, max_tokens) for aid, a in catalog.agents.items()}
        for sid, item in catalog.skills.items():  # skills layouts: the work, listed like the agents
            self.lines.setdefault(sid, skill_line(item, max_tokens))
        self.order = previous.order if previous is not None and previous.lines.keys() == self.lines.keys() else sorted(
            self.lines)
        self._text = lru_cache(maxsize=4096)(self._build)
        # cl100k never merges across "\n" followed by "- ", so a manifest's count is the sum of
        # its lines' counts (each with its newline; the last without): exact and O(lines), which
        # matters at 1000 agents where a full count per distinct manifest took ~6 ms.
        self._additive = all(
            line.startswith("- ") and "\n" not in line and "\r" not in line for line in self.lines.values()
        )
        self._header_tokens = count_tokens(HEADER + "\n")
        counted = {a: line_tokens(line) for a, line in self.lines.items()}
        self._with_nl = {a: c[0] for a, c in counted.items()}
        self._alone = {a: c[1] for a, c in counted.items()}
        self.budget, self.candidates = budget_tokens, candidates
        self.full_tokens = self._build(frozenset())[1]
        self.bounded = self.full_tokens > budget_tokens
        # the summary leaves room for every candidate line (each at most max_tokens, plus its
        # newline), so which lines are listed never depends on their lengths: a selection's
        # manifest depends on its listed lines only (what an incremental build relies on)
        room = budget_tokens - self._header_tokens - candidates * (max_tokens + 1)
        # the summary reads ids, modules, menus and path files: the same when every changed agent kept its module
        same = previous is not None and previous.bounded and all(
            before.get(aid) is a or before[aid].module == a.module for aid, a in catalog.agents.items())
        self.summary = (previous.summary if same and previous is not None else module_summary(catalog, room)
                        ) if self.bounded else ""
        # the summary opens with a word: it never shares a token with the line before it
        self.summary_tokens = count_tokens(self.summary)
        self.overflowed = False  # set when the budget, not the candidate count, ended a listing

    @property
    def additive(self) -> bool:
        """Whether a manifest's token count is the sum of its parts' (see ``__init__``)."""
        return self._additive

    def listed_tokens(self, item: str) -> int:
        """Tokens ``item``'s line adds to a manifest that lists it (0 for an unknown id)."""
        return self._with_nl.get(item, 0)

    def _build(self, excluded: frozenset[str]) -> tuple[str, int]:
        ids = [a for a in self.order if a not in excluded]
        if not ids:
            return "", 0
        text = render(self.lines, ids)
        if not self._additive:
            return text, count_tokens(text)
        return text, self._header_tokens + sum(self._with_nl[a] for a in ids[:-1]) + self._alone[ids[-1]]

    def text(self, excluded: frozenset[str]) -> tuple[str, int]:
        """(whole-manifest text, its exact token count) for every agent not in ``excluded``."""
        return self._text(excluded)

    def for_selection(self, excluded: frozenset[str], ranked: Iterable[str] = ()
                      ) -> tuple[str, int, list[str] | None]:
        """(text, exact tokens, listed ids) of a selection's manifest; ``ranked`` are candidate
        ids, most relevant first (read lazily, only as far as needed).

        Whole manifest (listed ids None) while the catalog's fits the budget; otherwise the
        first ``candidates`` ranked ids that are not ``excluded``, as many as fit the budget
        with the summary, then the summary.
        """
        if not self.bounded:
            text, tokens = self.text(excluded)
            return text, tokens, None
        ids: list[str] = []
        used = self._header_tokens + self.summary_tokens
        for a in ranked:
            if len(ids) >= self.candidates:
                break
            if a in excluded or a not in self.lines or a in ids:
                continue
            if used + self._with_nl[a] > self.budget:  # only when the settings leave no room
                self.overflowed = True
                break
            ids.append(a)
            used += self._with_nl[a]
        text = render_bounded(self.lines, ids, self.summary)
        if self._additive:
            return text, used, ids
        tokens = count_tokens(text)
        while ids and tokens > self.budget:  # lines that do not add up: count, drop the last
            self.overflowed = True
            ids.pop()
            text = render_bounded(self.lines, ids, self.summary)
            tokens = count_tokens(text)
        return text, tokens, ids
