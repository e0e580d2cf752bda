"""The selector: structured rules, free-text retrieval, fallback, manifest and accounting.

Order of evidence: the path files (next workflow, phase), then the agents' menus, then the
free-text request; when nothing is confident the catalog's orchestrator is loaded rather
than nothing. Strategies: ``selective`` (default), ``full`` (every agent: the baseline),
``cached`` (same answer, but the serving side only returns precomputed ones).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from agentload.catalog import Catalog
from agentload.context import Context, Resolved
from agentload.delivered import compact
from agentload.resolve import build_resolver_data, resolve
from agentload.selection.manifest import Manifest
from agentload.selection.models import Reason, SelectedAgent, SelectedSkill, Selection
from agentload.selection.orchestrator import find_orchestrator, orchestrators
from agentload.selection.rules import Picks, structured_picks, structured_work
from agentload.selection.skillsel import SkillIndex
from agentload.selection.team import TeamFacts
from agentload.selection.text_pick import TextSelector, split_clauses
from agentload.selection.version import scorer_version
from agentload.settings import Settings
from agentload.tokens import count_tokens

STRATEGIES = ("selective", "full", "cached")


@dataclass
class SelectionConfig:
    """Tunable knobs (from settings); the defaults are what the benchmarks report."""

    manifest_max_tokens: int = 30
    text_close_ratio: float = 0.72
    text_min_score: float = 1.0
    text_max_agents: int = 3
    semantic_weight: float = 0.25  # share of the best lexical score the semantic winner adds (0: off)
    orchestrator_agent: str | None = None
    scorer: str = field(default_factory=scorer_version)  # code + model version: in every digest
    level_tracks: dict[int, str] = field(
        default_factory=lambda: {0: "quick-flow", 1: "quick-flow", 2: "bmad-method",
                                 3: "bmad-method", 4: "enterprise-bmad-method"}
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> SelectionConfig:
        """The knobs as configured for this deployment (``AGENTLOAD_*``)."""
        return cls(
            manifest_max_tokens=settings.manifest_max_tokens,
            text_close_ratio=settings.text_close_ratio,
            text_min_score=settings.text_min_score,
            text_max_agents=settings.text_max_agents,
            semantic_weight=settings.semantic_weight,
            orchestrator_agent=settings.orchestrator_agent,
            level_tracks=dict(settings.level_tracks),
        )


class Selector:
    """Built once per catalog version; ``select`` is pure and thread-safe."""

    def __init__(self, catalog: Catalog, config: SelectionConfig | None = None) -> None:
        self.catalog = catalog
        self.config = config or SelectionConfig()
        self.resolver = build_resolver_data(catalog, self.config.level_tracks)
        self.manifest = Manifest(catalog, self.config.manifest_max_tokens)
        self.orchestrator = find_orchestrator(catalog, self.config.orchestrator_agent)
        self.routers = orchestrators(catalog)
        self.baseline = catalog.baseline_tokens

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
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
        if strategy == "full":
            picks: Picks = {a: [Reason(rule="strategy:full")] for a in sorted(self.catalog.agents)}
            skills: Picks = {s: [Reason(rule="strategy:full")] for s in sorted(self.catalog.skills)}
        else:
            picks = self._picks(resolved)
            skills = self._skill_picks(resolved, picks) if self.catalog.skills else {}
            router = self.team.router_item if not picks and not skills else None
            if router in self.catalog.skills:  # skills layouts have no orchestrator agent: their help skill
                skills[router] = [Reason(rule="fallback:router", workflow=router,
                                         detail="no confident match; this skill advises what to load")]
            elif not picks and not skills:
                resolved = resolved.model_copy(update={"notes": [*resolved.notes, "nothing in the context "
                                                       "selects an agent; the manifest lists every one"]})
        return self._assemble(picks, skills, resolved, strategy)

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
        rank = {aid: float(scores[i]) for i, aid in enumerate(self.text.index.ids)}
        return max(self.routers, key=lambda a: (rank.get(a, 0.0), -self.routers.index(a)))

    def _skill_id(self, wid: str) -> str | None:
        if wid in self.catalog.skills:
            return wid
        return next((s for s in self.catalog.skills if self.resolver.aliases.get(s) == wid), None)

    def _best_owner(self, owners: list[str], request: str | None) -> str:
        if request and len(owners) > 1:
            scores = self.text.index.scores(request)
            rank = {aid: float(scores[i]) for i, aid in enumerate(self.text.index.ids)}
            return max(owners, key=lambda o: rank.get(o, 0.0))
        return owners[0]

    def _picks(self, resolved: Resolved) -> Picks:
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
            if self.team.is_collective(resolved.request):  # the whole team: a router, not a side word's agent
                keep = set(self.team.named(resolved.request)) | set(self.routers)
                found.picks = {a: r for a, r in found.picks.items() if a in keep}
            for agent, reasons in found.picks.items():
                picks.setdefault(agent, []).extend(reasons)
            team = self.team.is_team_question(resolved.request) or self.team.is_routing_question(resolved.request)
            router = self._router_for(resolved.request) if team else None
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
        return picks

    def _assemble(self, picks: Picks, skill_picks: Picks, resolved: Resolved, strategy: str) -> Selection:
        ids = sorted(picks)
        agents = [
            SelectedAgent(id=a, title=self.catalog.agents[a].title,
                          tokens=self.catalog.agents[a].tokens, reasons=picks[a])
            for a in ids
        ]
        skills = [
            SelectedSkill(id=s, tokens=self.catalog.work_items[s].tokens,
                          owners=list(self.catalog.work_items[s].owners), reasons=skill_picks[s])
            for s in sorted(skill_picks)
        ]
        loaded = sum(a.tokens for a in agents) + sum(s.tokens for s in skills)
        text, m_tokens = ("", 0) if strategy == "full" else self.manifest.text(frozenset(ids) | set(skill_picks))
        optimized = loaded + m_tokens
        file_reduction = 1.0 - optimized / self.baseline if self.baseline else 0.0
        selection = Selection(
            agents=agents, skills=skills, manifest=text, manifest_tokens=m_tokens, loaded_tokens=loaded,
            baseline_tokens=self.baseline, optimized_tokens=optimized, file_reduction=round(file_reduction, 6),
            reduction=0.0, strategy=strategy, key=resolved.key(), notes=list(resolved.notes),
            unknown=list(resolved.unknown),
        )
        return self._delivered(selection, resolved, None if strategy == "full" else self.full_context)

    @cached_property
    def full_context(self) -> int:
        """Context tokens of the ``full`` strategy's answer (the baseline of ``reduction``)."""
        return self.select_resolved(self.resolve(Context()), "full").full_context_tokens

    @staticmethod
    def _delivered(selection: Selection, resolved: Resolved, full: int | None) -> Selection:
        """The selection with its delivered-token figures (``Selection`` says which), the
        resolved context included as served; ``full`` None: this is the full answer.

        One token count per selection (this runs for every precomputed selection): the
        metadata is counted once with its own figures guessed from its length. The guess has
        the final figures' number of digits in practice, so the count is exact to within a
        token or two; the served answer states its exact count itself (``delivered_tokens``).
        """
        texts = selection.loaded_tokens + selection.manifest_tokens
        meta = selection.model_dump(mode="json", exclude={"manifest"})
        meta["resolved"] = resolved.served()
        guess = texts + len(compact(meta)) * 2 // 7  # ~3.5 characters a token in compact JSON
        base = full if full is not None else guess
        meta.update(context_tokens=guess, full_context_tokens=base, reduction=round(1.0 - guess / base, 6))
        tokens = count_tokens(compact(meta)) + texts
        base = full if full is not None else tokens
        cut = round(1.0 - tokens / base, 6) if base and selection.baseline_tokens else 0.0
        return selection.model_copy(update={"context_tokens": tokens, "full_context_tokens": base, "reduction": cut})
