"""The closing part of a bounded manifest: what the catalog holds beyond the listed lines.

A bounded manifest lists only the most relevant agents; the rest of the catalog is described
by module (how many agents and work items, a few agent names as examples) together with the
tool that finds any of them (``search_catalog``, ``GET /api/v1/catalog/search``). Its size
depends on the number of modules, not of agents, and it is cut to fit the token budget it
is given (fewer examples, then fewer modules), so it holds at any catalog size.
"""

from __future__ import annotations

from collections import Counter

from agentload.catalog import Agent, Catalog
from agentload.tokens import count_tokens

SEARCH_HINT = "search_catalog <words> finds any other"
#: (modules shown, example names per module), most detailed first
DETAIL = ((8, 3), (8, 1), (8, 0), (3, 0), (1, 0), (0, 0))


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def representatives(catalog: Catalog) -> dict[str, list[str]]:
    """Example agent ids by module, one per kind of work (the work items its menu runs), the
    most central first: named by the most path-file steps, then the longest menu, then the
    shortest id. Neither titles nor personas count, so editing them leaves the summary as it is."""
    named = Counter(w.agent for p in catalog.paths for ph in p.phases for w in ph.workflows if w.agent)

    def rank(a: Agent) -> tuple[int, int, int, str]:
        return -named[a.id], -len(a.menu), len(a.id), a.id

    out: dict[str, list[str]] = {}
    kinds: set[tuple[str, tuple[str, ...]]] = set()  # one example per kind of work: what its menu runs
    for agent in sorted(catalog.agents.values(), key=rank):
        module = agent.module or "other"
        kind = (module, tuple(sorted({m.work_item or m.workflow_file or m.name for m in agent.menu})))
        if kind not in kinds:
            kinds.add(kind)
            out.setdefault(module, []).append(agent.id)
    return out


def module_summary(catalog: Catalog, budget_tokens: int) -> str:
    """The summary text (first line, then ``- module: counts (e.g. names)`` lines), at most
    ``budget_tokens`` tokens when the budget allows its first line at all."""
    examples_of = representatives(catalog)
    agents = Counter(a.module or "other" for a in catalog.agents.values())
    work = Counter(w.module or "other" for w in catalog.work_items.values())
    modules = sorted(set(agents) | set(work), key=lambda m: (-agents[m], -work[m], m))
    first = (f"These are the closest of {_plural(len(catalog.agents), 'agent')} and "
             f"{_plural(len(catalog.work_items), 'work item')}; {SEARCH_HINT}.")
    text = first
    for shown, examples in DETAIL:
        lines = [first + (" By module:" if shown and modules else "")]
        for m in modules[:shown]:
            names = examples_of.get(m, [])[:examples]
            line = f"- {m}: {_plural(agents[m], 'agent')}, {_plural(work[m], 'work item')}"
            lines.append(f"{line} (e.g. {', '.join(names)})" if names else line)
        if shown and len(modules) > shown:
            lines.append(f"- {_plural(len(modules) - shown, 'more module')}")
        text = "\n".join(lines)
        if count_tokens(text) <= budget_tokens:
            return text
    return text
