"""Linking one agent's menu to the catalog's work items, and remembering how it went.

A menu item that names a workflow file becomes a link to the work item with that file (a
new work item when none has it). A 10,000-agent catalog has tens of thousands of such items
and a refresh after a one-file edit links them all again, to the same work items: the parse
cache keeps each parsed agent's ``AgentLinks``, and an agent whose parse was reused and whose
items name the same existing work items gets what linking gave it last time, without
linking each item again (``build.load_work_items``).
"""

from __future__ import annotations

from dataclasses import dataclass

from agentload.catalog.models import Agent, MenuItem, WorkItem
from agentload.catalog.workflows import short_name
from agentload.context import norm_id


@dataclass(frozen=True, slots=True)
class AgentLinks:
    """How linking went for one parsed agent: the agent it gave (a copy with linked menu items,
    or itself), the work items its menu items named by file, the linked items by (parsed
    item, work item named) and each item's work item id in menu order."""

    agent: Agent
    result: Agent
    named: tuple[str, ...]  # work item id of each item linked by file (``by_file`` or new)
    pairs: dict[tuple[int, str], tuple[MenuItem, MenuItem]]
    works: tuple[str | None, ...]

    def holds(self, by_file: dict[str, str], items: dict[str, WorkItem]) -> bool:
        """Whether linking the same agent now gives the same: each item linked by file is named
        as it was (``by_file``) and its work item exists (none would be created)."""
        return all((by_file.get(m.workflow_file or "") or "") == key[1] and w in items
                   for (key, (m, _)), w in zip(self.pairs.items(), self.named, strict=True))


def link_menu(agent: Agent, by_file: dict[str, str], items: dict[str, WorkItem],
               before: dict[tuple[int, str], tuple[MenuItem, MenuItem]], last: AgentLinks | None
               ) -> tuple[Agent, tuple[str | None, ...], dict[tuple[int, str], tuple[MenuItem, MenuItem]]]:
    """``agent`` with each menu item that names a workflow file linked to its work item (a new
    work item when none has that file), each item's work item id in menu order, and the
    linked items by (parsed item, work item named by file). ``before``: the last load's pairs
    (an unchanged item keeps its linked copy); ``last``: the agent's last linking."""
    menu: list[MenuItem] | None = None  # the linked menu, when linking changes an item
    works: list[str | None] = []
    pairs: dict[tuple[int, str], tuple[MenuItem, MenuItem]] = {}
    for j, m in enumerate(agent.menu):
        work = m.work_item
        if work is None and m.workflow_file:
            named = by_file.get(m.workflow_file)
            seen = before.get((id(m), named or ""))  # the parsed item is kept in the pair: its id stays its own
            if seen is not None and seen[0] is m:
                done = seen[1]
            else:
                done = m.model_copy(update={"work_item": named or norm_id(m.name or short_name(m.workflow_file))})
            pairs[(id(m), named or "")] = (m, done)
            menu = menu if menu is not None else list(agent.menu)
            menu[j] = done
            work = done.work_item or ""
            if work not in items:
                items[work] = WorkItem(id=work, kind="workflow", name=m.name, description=m.description,
                                       module=agent.module, entry_file=m.workflow_file)
                by_file[m.workflow_file] = work
        works.append(work)
    if menu is None:
        return agent, tuple(works), pairs
    # the same parsed agent with the same linked items: the same copy as last time (the items
    # are kept by the copy's menu: their ids stay theirs)
    same = last is not None and last.agent is agent and len(last.result.menu) == len(menu) and all(
        a is b for a, b in zip(last.result.menu, menu, strict=True))
    return (last.result if same and last is not None else agent.model_copy(update={"menu": menu})), \
        tuple(works), pairs
