"""The selector: structured rules, free-text retrieval, fallback, manifest and accounting.

Order of evidence: the path files (next workflow, phase), then the agents' menus, then the
free-text request; when nothing is confident the catalog's orchestrator is loaded rather
than nothing. Strategies: ``selective`` (default), ``full`` (every agent: the baseline),
``cached`` (same answer, but the serving side only returns precomputed ones).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from itertools import zip_longest
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from agentload.catalog import Catalog
from agentload.context import Context, Resolved, ResolverData
from agentload.resolve import build_resolver_data, resolve
from agentload.selection.accounting import file_cut, full_stored, with_delivered_figures
from agentload.selection.config import SelectionConfig
from agentload.selection.manifest import Manifest
from agentload.selection.models import STRATEGIES, Reason, SelectedAgent, SelectedSkill, Selection
from agentload.selection.orchestrator import find_orchestrator, ranked_routers, router_scores
from agentload.selection.reuse import same_resolver_inputs
from agentload.selection.rules import Picks, capped, structured_candidates, structured_picks, structured_work
from agentload.selection.skillsel import SkillIndex
from agentload.selection.team import TeamFacts, team_router
from agentload.selection.text_pick import RANKED, TextSelector, split_clauses

__all__ = ["STRATEGIES", "SelectionConfig", "Selector"]


class Selector:
    """Built once per catalog version; ``select`` is pure and thread-safe."""

    manifest: Manifest
    routing: dict[str, float]  # each agent's routing evidence (``router_scores``)

    def __init__(self, catalog: Catalog, config: SelectionConfig | None = None,
                 previous: Selector | None = None) -> None:
        """``previous``: a selector of an earlier load of the catalog to reuse from (``selection.reuse``)."""
        self.catalog = catalog
        self.config = config or SelectionConfig()
        same = previous is not None and same_resolver_inputs(catalog, previous.catalog)
        self.resolver: ResolverData
        if same and previous is not None and previous.config.level_tracks == self.config.level_tracks:
            self.resolver = previous.resolver
            self.__dict__["resolver_json"] = previous.resolver_json  # the cached property, shared
        else:
            self.resolver = build_resolver_data(catalog, self.config.level_tracks)
        self.manifest = Manifest(catalog, self.config.manifest_max_tokens, self.config.manifest_budget_tokens,
                                 self.config.manifest_candidates, previous.manifest if same and previous else None)
        self.routing = router_scores(catalog, (previous.catalog.agents, previous.routing) if previous else None)
        self.routers = ranked_routers(self.routing)
        self.orchestrator = find_orchestrator(catalog, self.config.orchestrator_agent, self.routers)
        self.baseline = catalog.baseline_tokens

    @cached_property
    def resolver_json(self) -> bytes:
        """The resolver data as published (compact JSON), serialised once per version."""
        return orjson.dumps(self.resolver.model_dump(mode="json"), option=orjson.OPT_NON_STR_KEYS)

    @cached_property
    def team(self) -> TeamFacts:
        """How agents are named and which work items serve the team (built on first use)."""
        return TeamFacts.build(self.catalog)

    @cached_property
    def skill_index(self) -> SkillIndex:
        """Built on first use in a catalog with workflow skills."""
        return SkillIndex(self.catalog)

    @cached_property
    def text(self) -> TextSelector:
        """Built on first free-text use: structured-only builds (catalog refresh) skip it."""
        return TextSelector(self.catalog, self.config)

    def resolve(self, ctx: Context) -> Resolved:
        return resolve(ctx, self.resolver)

    def select(self, ctx: Context, strategy: str = "selective") -> Selection:
        return self.select_resolved(self.resolve(ctx), strategy)

    def select_resolved(self, resolved: Resolved, strategy: str = "selective") -> Selection:
        return self.select_served(resolved, strategy)[0]

    def select_served(self, resolved: Resolved, strategy: str = "selective") -> tuple[Selection, dict[str, Any]]:
        """(selection, its resolved context as served: what its figures count). ValueError: unknown strategy."""
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
        ranked: list[str] = []
        if strategy == "full":
            full = [Reason(rule="strategy:full")]  # one list for all: it is only read (thousands of agents)
            picks: Picks = {a: full for a in sorted(self.catalog.agents)}
            skills: Picks = {s: full for s in sorted(self.catalog.skills)}
        else:
            picks, ranked = self._picks(resolved)
            skills = self._skill_picks(resolved, picks) if self.catalog.skills else {}
            if self.manifest.bounded:  # a large catalog: a bounded answer (a small one loads what matches)
                picks, ranked, resolved = capped(picks, ranked, resolved, self.config.max_selected_agents,
                                                 "search_catalog finds")
            router = self.team.router_item if not picks and not skills else None
            if router in self.catalog.skills:  # skills layouts have no orchestrator agent: their help skill
                skills[router] = [Reason(rule="fallback:router", workflow=router,
                                         detail="no confident match; this skill advises what to load")]
            elif not picks and not skills:
                listing = "search_catalog finds any other" if self.manifest.bounded else "the manifest lists every one"
                resolved = resolved.model_copy(update={"notes": [*resolved.notes, "nothing in the context "
                                                       f"selects an agent; {listing}"]})
        return self._assemble(picks, skills, resolved, strategy, ranked)

    def _candidates(self, resolved: Resolved, ranked: list[str]) -> Iterator[str]:
        """Manifest candidates, best first, lazily: the request's ranking, the path around the context, routers."""
        skills: list[str] = []
        if resolved.request and self.catalog.skills:  # skills layouts: the request's skills, turn about
            scores = self.skill_index.scores(resolved.request)
            skills = [self.skill_index.ids[int(i)] for i in np.argsort(-scores)[:RANKED] if scores[i] > 0]
        for pair in zip_longest(ranked, skills):
            yield from (c for c in pair if c is not None)
        yield from structured_candidates(resolved, self.resolver)
        yield from self.routers

    def _skill_picks(self, resolved: Resolved, picks: Picks) -> Picks:
        """Workflow skills the context needs; a picked skill brings an owner if none is loaded."""
        skills: Picks = {}
        for wid in structured_work(resolved, self.resolver):
            sid = self._skill_id(wid)
            if sid:
                skills.setdefault(sid, []).append(Reason(rule="path:work", workflow=wid))
        if resolved.request:
            for sid, is_it in ((self.team.team_item, self.team.is_team_question),
                               (self.team.router_item, self.team.is_routing_question)):
                if sid in self.catalog.skills and is_it(resolved.request):
                    skills.setdefault(sid, []).append(Reason(rule="text:team", detail="serves the team"))
            clauses = split_clauses(resolved.request)
            chosen = frozenset(picks)
            parts = [(resolved.request, chosen)] + [(c, frozenset()) for c in (clauses if len(clauses) > 1 else [])]
            if self.team.is_collective(resolved.request):  # the whole team: its team item, not side words
                parts = []
            for text, boost in parts:  # a clause may ask for another agent's work: no boost there
                for sid, score in self.skill_index.pick(text, boost):
                    skills.setdefault(sid, []).append(Reason(rule="text:skill", score=round(score, 3),
                                                             detail=text[:80]))
        for sid in list(skills):
            owners = [o for o in self.catalog.work_items[sid].owners if o in self.catalog.agents]
            if owners and not set(owners) & picks.keys():
                owner = self._best_owner(owners, resolved.request)
                picks.setdefault(owner, []).append(Reason(rule="skill:owner", workflow=sid,
                                                          detail="runs the selected skill"))
        return skills

    def _router_for(self, request: str) -> str | None:
        """The configured orchestrator, else the routing agent the request matches best."""
        if self.config.orchestrator_agent in self.catalog.agents or len(self.routers) < 2:
            return self.orchestrator
        # a routing question is about intent, not about a specialist's vocabulary: similarity
        # decides when the embedding model is there, the fused lexical rank otherwise
        semantic = self.text.semantic
        scores = semantic.similarity(request) if semantic is not None else self.text.rank(request, None)
        return max(self.routers, key=lambda a: (self._score_of(scores, a), -self.routers.index(a)))

    def _score_of(self, scores: npt.NDArray[np.float64], agent: str) -> float:
        """``agent``'s entry in a per-agent score array (``text.index.ids`` order), 0 if absent."""
        i = self.text.index.position.get(agent)
        return float(scores[i]) if i is not None else 0.0

    def _skill_id(self, wid: str) -> str | None:
        if wid in self.catalog.skills:
            return wid
        return next((s for s in self.catalog.skills if self.resolver.aliases.get(s) == wid), None)

    def _best_owner(self, owners: list[str], request: str | None) -> str:
        if request and len(owners) > 1:
            scores = self.text.index.scores(request)
            return max(owners, key=lambda o: self._score_of(scores, o))
        return owners[0]

    def _picks(self, resolved: Resolved) -> tuple[Picks, list[str]]:
        """(picked agents with reasons, the request's ranking of agents: best first, or [])."""
        ranked: list[str] = []
        picks = structured_picks(resolved, self.resolver)
        picks = {a: r for a, r in picks.items() if a in self.catalog.agents}
        if resolved.request:
            query = resolved.request
            known = resolved.track is not None and any(resolved.track in t.aliases for t in self.resolver.tracks)
            if resolved.track and not resolved.files and not known:  # a track without a path file is a hint
                query = f"{query} {resolved.track.replace('-', ' ')}"
            level = 0 if not picks else (2 if resolved.next_workflow else 1)
            addressed = self.team.addressed(resolved.request)
            if addressed is not None:  # called by persona name: that agent, whatever else matches
                picks.setdefault(addressed, []).append(Reason(rule="text:name", detail="addressed by name"))
                level = max(level, 2)
            found = self.text.select(query, resolved.user_role, level, frozenset(picks))
            ranked = found.ranked
            asks, router, found.picks = team_router(self.team, resolved.request, found.picks, ranked, self.routers)
            router = (router or self._router_for(resolved.request)) if asks else None
            for agent, reasons in found.picks.items():
                picks.setdefault(agent, []).extend(reasons)
            if router is not None:
                picks.setdefault(router, []).append(
                    Reason(rule="text:team", detail="asks for the team or for routing: the orchestrator"))
            if found.ambiguous and not picks.keys() - found.picks.keys() and router is None:
                router = self._router_for(resolved.request)
                if router is not None:
                    picks.setdefault(router, []).append(
                        Reason(rule="text:ambiguous", detail="many agents match equally; the orchestrator routes"))
        if not picks and self.orchestrator is not None:
            picks[self.orchestrator] = [Reason(rule="fallback:orchestrator",
                                               detail="no confident match; the orchestrator can route")]
        return picks, ranked

    def _assemble(self, picks: Picks, skill_picks: Picks, resolved: Resolved, strategy: str,
                  ranked: list[str]) -> tuple[Selection, dict[str, Any]]:
        ids = sorted(picks)
        agents = [
            SelectedAgent.model_construct(id=a, title=self.catalog.agents[a].title,  # catalog values: valid
                          tokens=self.catalog.agents[a].tokens, reasons=picks[a])
            for a in ids
        ]
        skills = [
            SelectedSkill(id=s, tokens=self.catalog.work_items[s].tokens,
                          owners=list(self.catalog.work_items[s].owners), reasons=skill_picks[s])
            for s in sorted(skill_picks)
        ]
        loaded = sum(a.tokens for a in agents) + sum(s.tokens for s in skills)
        text, m_tokens, listed = ("", 0, None) if strategy == "full" else self.manifest.for_selection(
            frozenset(ids) | set(skill_picks), self._candidates(resolved, ranked))
        optimized = loaded + m_tokens
        selection = Selection(
            agents=agents, skills=skills, manifest=text, manifest_ids=listed, manifest_tokens=m_tokens,
            loaded_tokens=loaded, baseline_tokens=self.baseline, optimized_tokens=optimized,
            file_reduction=file_cut(optimized, self.baseline), reduction=0.0, strategy=strategy,
            key=resolved.key(), notes=list(resolved.notes), unknown=list(resolved.unknown),
        )
        served = resolved.served()
        return with_delivered_figures(selection, served, None if strategy == "full" else self.full_context), served

    @cached_property
    def full_stored(self) -> dict[str, Any]:
        """The ``full`` answer in its stored JSON form, made once (``accounting.full_stored``)."""
        resolved = self.resolve(Context())
        return full_stored(self.catalog, resolved.key(), resolved)

    @cached_property
    def full_context(self) -> int:
        """Context tokens of the ``full`` strategy's answer (the baseline of ``reduction``)."""
        return int(self.full_stored["full_context_tokens"])
