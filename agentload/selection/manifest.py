"""The compact manifest of agents not loaded in full (progressive disclosure).

One line per agent: id, title and its most distinctive capabilities, cut to at most
``max_tokens`` tokens; in skills layouts one line per workflow skill as well. Capabilities
that most agents share (status, party mode...) say nothing about who to load next, so they are left out.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

from agentload.catalog import Agent, Catalog, WorkItem
from agentload.tokens import count_tokens

HEADER = "Other agents (not loaded; request one with load_agent <id>):"


def _capabilities(agent: Agent, common: set[str]) -> list[str]:
    seen: list[str] = []
    for item in agent.menu:
        name = item.name.strip()
        if name and name not in common and name not in seen and len(name) <= 40:
            seen.append(name)
    return seen


def manifest_line(agent: Agent, common: set[str], max_tokens: int) -> str:
    """``- id: Title | cap, cap, ...`` trimmed capability by capability to the token budget."""
    head = f"- {agent.id}: {agent.title or agent.persona.role[:60]}".rstrip()
    caps = _capabilities(agent, common)
    while caps:
        line = f"{head} | {', '.join(caps)}"
        if count_tokens(line) <= max_tokens:
            return line
        caps.pop()
    words = head.split(" ")
    while len(words) > 2 and count_tokens(" ".join(words)) > max_tokens:
        words.pop()
    line = " ".join(words)
    while len(line) > 2 and count_tokens(line) > max_tokens:  # an id longer than the budget
        line = line[:-1]
    return line


def skill_line(item: WorkItem, max_tokens: int) -> str:
    """``- id [skill]: description`` cut word by word to the token budget."""
    words = f"- {item.id} [skill]: {item.description or item.name}".split()
    while len(words) > 3 and count_tokens(" ".join(words)) > max_tokens:
        words.pop()
    return " ".join(words)


def render(lines: dict[str, str], ids: list[str]) -> str:
    """The manifest text for ``ids`` (in order): readers rebuild it from stored lines."""
    return "\n".join([HEADER, *(lines[a] for a in ids)]) if ids else ""


class Manifest:
    """Precomputed manifest lines; ``text(excluded)`` joins the lines of the others."""

    def __init__(self, catalog: Catalog, max_tokens: int = 30) -> None:
        counts = Counter(name for a in catalog.agents.values() for name in {m.name for m in a.menu})
        threshold = max(2, len(catalog.agents) // 2)
        common = {name for name, n in counts.items() if n >= threshold}
        self.lines = {aid: manifest_line(a, common, max_tokens) for aid, a in catalog.agents.items()}
        for sid, item in catalog.skills.items():  # skills layouts: the work, listed like the agents
            self.lines.setdefault(sid, skill_line(item, max_tokens))
        self.order = sorted(self.lines)
        self._text = lru_cache(maxsize=4096)(self._build)
        # cl100k never merges across "\n" followed by "- ", so a manifest's count is the sum of
        # its lines' counts (each with its newline; the last without): exact and O(lines), which
        # matters at 1000 agents where a full count per distinct manifest took ~6 ms.
        self._additive = all(
            line.startswith("- ") and "\n" not in line and "\r" not in line for line in self.lines.values()
        )
        self._header_tokens = count_tokens(HEADER + "\n")
        self._with_nl = {a: count_tokens(line + "\n") for a, line in self.lines.items()}
        self._alone = {a: count_tokens(line) for a, line in self.lines.items()}

    def _build(self, excluded: frozenset[str]) -> tuple[str, int]:
        ids = [a for a in self.order if a not in excluded]
        if not ids:
            return "", 0
        text = render(self.lines, ids)
        if not self._additive:
            return text, count_tokens(text)
        return text, self._header_tokens + sum(self._with_nl[a] for a in ids[:-1]) + self._alone[ids[-1]]

    def text(self, excluded: frozenset[str]) -> tuple[str, int]:
        """(manifest text, its exact token count) for every agent not in ``excluded``."""
        return self._text(excluded)
