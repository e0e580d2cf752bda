"""Assemble one catalog model from every layout found: agents, work items, owners, warnings.

Each layout has its own parser (``agents`` for v6 ``*.agent.yaml``, ``v4``, ``compiled``,
``skills``); this module runs them through the loader's reuse cache and then links what one
file says about another: menus name work items, help tables name owners and order. Anything
that points at nothing (a menu item whose file is missing, a help row naming an unknown agent)
becomes a catalog warning with the file and the item, so it is seen, never dropped silently.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from agentload.catalog.agents import parse_agent
from agentload.catalog.compiled import parse_compiled_agent, parse_workflow_manifest
from agentload.catalog.files import CatalogFileError, read_text
from agentload.catalog.menus import AgentLinks, link_menu
from agentload.catalog.models import Agent, CatalogError, MenuItem, PathFile, PathWorkflow, WorkItem
from agentload.catalog.paths import parse_module_help, parse_path_file
from agentload.catalog.skills import is_agent_skill, parse_agent_skill, parse_workflow_skill, work_files
from agentload.catalog.v4 import parse_v4_agent, parse_v4_workflow, v4_work_items
from agentload.tokens import count_tokens

if TYPE_CHECKING:
    from agentload.catalog.layouts import Discovery
    from agentload.catalog.reader import _Loader


def _add_agent(agents: dict[str, Agent], agent: Agent | None, relpath: str, ld: _Loader) -> None:
    if agent is None:
        return
    if agent.id in agents:
        ld.errors.append(CatalogError(path=relpath, reason=f"duplicate agent id {agent.id!r} "
                                                          f"(first in {agents[agent.id].path})"))
        return
    # as parsed: ``load_work_items`` puts a copy in its place when linking changes its menu,
    # so the parse cache keeps the original as parsed
    agents[agent.id] = agent


def _skill(ld: _Loader, folder: str, module: str) -> Agent | WorkItem:
    root = ld.root
    custom_path = root / folder / "customize.toml"
    try:
        custom = read_text(root, custom_path, ld.max_bytes) if custom_path.is_file() else None
        is_agent = is_agent_skill(folder, custom)
    except ValueError as exc:  # the error is reported under SKILL.md: say which file it is
        raise ValueError(f"{folder}/customize.toml: {exc}") from exc
    skill_text = read_text(root, root / folder / "SKILL.md", ld.max_bytes)
    if is_agent:
        return parse_agent_skill(folder, module, skill_text, custom)
    entry = f"{folder}/SKILL.md" if folder else "SKILL.md"
    return parse_workflow_skill(folder, module, skill_text, work_files(root, entry))


def load_agents_and_skills(ld: _Loader, found: Discovery) -> tuple[dict[str, Agent], dict[str, WorkItem]]:
    """Every agent of every layout, and the workflow skills (skills layouts)."""
    agents: dict[str, Agent] = {}
    items: dict[str, WorkItem] = {}
    for relpath, module in found.agent_files:
        _add_agent(agents, ld.parse(relpath, lambda t, p=relpath, m=module: parse_agent(p, m, t, ld.resolve),
                                    extra=module), relpath, ld)
    for relpath, module, base in found.v4_agents:
        _add_agent(agents, ld.parse(relpath, lambda t, p=relpath, m=module, b=base: parse_v4_agent(p, m, t, b),
                                    extra=(module, base)), relpath, ld)
    for relpath, module in found.compiled_agents:
        _add_agent(agents, ld.parse(relpath, lambda t, p=relpath, m=module:
                                    parse_compiled_agent(p, m, t, ld.resolve), extra=module), relpath, ld)
    for folder, module in found.skills:
        entry = f"{folder}/SKILL.md"
        parsed = ld.parse(entry, lambda _t, f=folder, m=module: _skill(ld, f, m), extra=module,
                          self_contained=False)
        if isinstance(parsed, Agent):
            _add_agent(agents, parsed, entry, ld)
        elif isinstance(parsed, WorkItem):
            if parsed.id in items:
                ld.errors.append(CatalogError(path=entry, reason=f"duplicate skill {parsed.id!r}"))
            else:
                items[parsed.id] = parsed.model_copy(deep=True)
    return agents, items


def load_paths(ld: _Loader, found: Discovery, agents: dict[str, Agent]) -> list[PathFile]:
    """Alpha path files, help tables and v4 workflow sequences, in that order."""
    paths: list[PathFile] = []
    for relpath in found.path_files:
        paths.append(ld.parse(relpath, lambda t, p=relpath: parse_path_file(p, t, ld.resolve)))
    for relpath in found.help_files:
        paths.append(ld.parse(relpath, lambda t, p=relpath: parse_module_help(p, t, ld.resolve)))
    menus = tuple(sorted((a.id, tuple(m.name for m in a.menu)) for a in agents.values() if a.layout == "v4"))
    for relpath in found.v4_workflows:
        paths.append(ld.parse(relpath, lambda t, p=relpath: parse_v4_workflow(p, t, agents), extra=menus))
    return [p for p in paths if p is not None]  # as parsed: ``link`` copies the ones it changes


def load_work_items(ld: _Loader, found: Discovery, agents: dict[str, Agent],
                    skills: dict[str, WorkItem], paths: list[PathFile]) -> dict[str, WorkItem]:
    """Work items by id: skills, manifest entries, v4 commands, then menu targets (named as
    the track path files name them, else by the menu entry)."""
    items = dict(skills)
    for relpath, kind in found.manifests:
        for item in ld.parse(relpath, lambda t, p=relpath, k=kind: parse_workflow_manifest(p, t, ld.resolve, k),
                             extra=kind) or []:
            items.setdefault(item.id, item.model_copy(deep=True))
    for wid, item in v4_work_items([a for a in agents.values() if a.layout == "v4"]).items():
        items.setdefault(wid, item)
    by_file = {w.workflow_file: w.id for p in paths if p.track for ph in p.phases for w in ph.workflows
               if w.workflow_file}
    by_file.update({w.entry_file: w.id for w in items.values() if w.entry_file})
    owned = {(wid, o) for wid, w in items.items() for o in w.owners}  # a set: thousands of copies share work
    before, linked = ld.cache.linked, dict[tuple[int, str], tuple[MenuItem, MenuItem]]()
    before_agents, linked_agents = ld.cache.linked_agents, dict[int, AgentLinks]()
    for aid, agent in list(agents.items()):
        last = before_agents.get(id(agent))
        if last is not None and last.agent is agent and last.holds(by_file, items):
            # the same parsed agent, naming the same work items, none new: what linking it gave last time
            linked.update(last.pairs)
            done, works = last.result, last.works
        else:
            done, works, pairs = link_menu(agent, by_file, items, before, last)
            linked.update(pairs)
            last = AgentLinks(agent, done, tuple(d.work_item or "" for _, d in pairs.values()), pairs, works)
        linked_agents[id(agent)] = last
        agents[aid] = done
        for work in works:
            if work in items and (work, agent.id) not in owned:
                owned.add((work, agent.id))
                items[work].owners.append(agent.id)
    ld.cache.linked, ld.cache.linked_agents = linked, linked_agents
    return items


def link(root: Path, agents: dict[str, Agent], items: dict[str, WorkItem], paths: list[PathFile],
         max_bytes: int, errors: list[CatalogError]) -> list[CatalogError]:
    """Fill owners, phases and order from help tables; return the warnings found on the way
    (``errors``: the files that failed to parse, so a menu naming one says so)."""
    warnings: list[CatalogError] = []
    exists = _Exists(root)
    failed_skills = {e.path.rsplit("/", 2)[-2] for e in errors if e.path.endswith("/SKILL.md")}
    by_file = {w.entry_file: w.id for w in items.values() if w.entry_file}
    for i, pf in enumerate(paths):
        files = Counter([w.workflow_file for ph in pf.phases for w in ph.workflows]
                        + [w.workflow_file for w in pf.anytime])
        shared = {f for f, n in files.items() if f and n > 1}  # one file, several modes: keep row ids
        own = False  # the parsed path file is shared with the parse cache: copied before any change
        for phase_label, k in [(ph.name or str(ph.phase), k) for k, ph in enumerate(pf.phases)] + [("anytime", -1)]:
            for j in range(len(_flows(pf, k))):
                w = _flows(pf, k)[j]
                by_row_file = None if w.workflow_file in shared else by_file.get(w.workflow_file or "")
                canon = ((by_row_file or (w.id if w.id in items else None))
                         if pf.track is None else (w.id if w.id in items else None))
                changes: dict[str, str | None] = {}
                if canon:
                    if canon != w.id:
                        changes["id"] = canon
                    item = items[canon]
                    item.phase = item.phase or (None if phase_label == "anytime" else phase_label)
                    item.required = item.required or w.kind == "required"
                    item.preceded_by = item.preceded_by or list(w.after)
                    item.followed_by = item.followed_by or list(w.before)
                    if w.agent is None and item.owners:
                        changes["agent"] = item.owners[0]
                named = changes.get("agent", w.agent)
                if named and named not in agents:
                    warnings.append(CatalogError(path=pf.file, reason=f"{changes.get('id', w.id)!r} names agent "
                                                                      f"{named!r}, which is not in the catalog"))
                    changes["agent"] = None
                if changes:
                    if not own:
                        pf, own = pf.model_copy(deep=True), True
                        paths[i] = pf
                    w = _flows(pf, k)[j]
                    if "id" in changes and pf.sequence:
                        pf.sequence = [str(changes["id"]) if s == w.id else s for s in pf.sequence]
                    for name, value in changes.items():
                        setattr(w, name, value)
    for agent in agents.values():
        for m in agent.menu:
            if m.target_kind == "skill" and m.target and m.target not in items:
                state = ("failed to load (see the catalog errors)" if m.target in failed_skills
                         else "is not installed")
                warnings.append(CatalogError(path=agent.path, reason=f"menu item {m.code or m.name!r} runs "
                                                                     f"skill {m.target!r}, which {state}"))
            elif m.workflow_file and not exists(m.workflow_file):
                warnings.append(CatalogError(path=agent.path, reason=f"menu item {m.code or m.name!r} names "
                                                                     f"missing file {m.workflow_file}"))
    for item in items.values():
        if item.kind == "skill" or not item.entry_file:
            continue
        if not exists(item.entry_file):
            warnings.append(CatalogError(path=item.entry_file, reason=f"work item {item.id!r}: entry file missing"))
            continue
        try:
            item.tokens = count_tokens(read_text(root, root / item.entry_file, max_bytes))
        except CatalogFileError as exc:
            warnings.append(CatalogError(path=item.entry_file, reason=f"work item {item.id!r}: {exc}"))
        if not item.files:
            item.files = work_files(root, item.entry_file)
    return warnings


def _flows(pf: PathFile, k: int) -> list[PathWorkflow]:
    """The workflows of phase ``k`` of ``pf`` (its anytime ones for -1)."""
    return pf.anytime if k < 0 else pf.phases[k].workflows


class _Exists:
    """``is_file`` of catalog-relative paths, asked once per path per load (thousands of menus
    name the same few workflow files)."""

    def __init__(self, root: Path) -> None:
        self.root, self.known = root, dict[str, bool]()

    def __call__(self, rel: str) -> bool:
        found = self.known.get(rel)
        if found is None:
            found = self.known[rel] = (self.root / rel).is_file()
        return found


__all__ = ["link", "load_agents_and_skills", "load_paths", "load_work_items"]
