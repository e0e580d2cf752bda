"""Requests about the team rather than one piece of work, and who answers them.

"Get the PM, the architect and UX in one room", "what can you all do?", "who should I talk to
about X?" ask for the team or for routing. Loading whichever agent a side word matches is wrong;
the catalog's own router is right: its orchestrator agent, or, in skills layouts without one,
the work items made for this (a multi-agent discussion, a help/next-step advisor). One router
answers: a catalog may have several (a master executor and an orchestrator), and loading each
one a word matched doubles the cost of a question that one of them answers.

Every fact comes from the catalog: agents are recognised by their own ids, titles and persona
names; the team and router work items by their own descriptions (a team item speaks of several
agents and is nobody's or everybody's; a router item is nobody's and offers help or the next
step). The only fixed words are English and German forms of collective address ("you all",
"the whole team", "alle"), which name no agent, workflow or catalog.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TypeVar

from agentload.catalog import Agent, Catalog, WorkItem

_COLLECTIVE = re.compile(
    r"\b(you all|all of you|y'?all|every(one|body)|whole team|entire team|the team|the others|"
    r"round ?table|ihr alle|alle zusammen|das ganze team|tout le monde|toute l'équipe|todo el equipo)\b", re.I)
# "who should/can/does ...": asking for a person to do something ("who are the players?" is not)
_ROUTING = re.compile(r"\b(who(?:'s)?\s+(?:should|shall|can|could|would|will|does|do|handles?|owns?|takes?|"
                      r"is (?:responsible|in charge))|which (?:of (?:your|the) )?(?:agents?|ones?|roles?|workflows?)|"
                      r"what (can|do) (you|they|the others|every(one|body))|wer|qui|quién)\b", re.I)
ADDRESS_WORDS = 3  # a persona name among the first words addresses the agent ("Winston, ..."; "hey John")
_TEAM_TEXT = re.compile(r"\b(agents|multi-agent|multiple agents?|group discussions?|personas)\b", re.I)
_ROUTER_TEXT = re.compile(r"\b(help|advice|advise|recommend\w*|next (step|skill|workflow)s?|what to do next|"
                          r"guidance)\b", re.I)
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MIN_NAMED_FOR_TEAM = 2
T = TypeVar("T")


def _agent_terms(agent: Agent) -> set[str]:
    """Words that designate an agent in a request: its id, id parts that are not generic, its
    persona name and its title (each as a phrase)."""
    terms = {agent.id.lower(), agent.title.lower()}
    if agent.name and " " not in agent.name.strip():
        terms.add(agent.name.strip().lower())
    return {t for t in terms if len(t) > 1}


@dataclass
class TeamFacts:
    """Precomputed per catalog: how to recognise each agent, and the team/router work items."""

    terms: dict[str, set[str]] = field(default_factory=dict)
    phrases: dict[tuple[str, ...], set[str]] = field(default_factory=dict)  # words of a term -> agents
    names: dict[str, str] = field(default_factory=dict)  # persona name -> agent id
    longest: int = 0  # words in the longest phrase
    first_words: frozenset[str] = frozenset()  # words a phrase begins with
    team_item: str | None = None
    router_item: str | None = None

    @classmethod
    def build(cls, catalog: Catalog) -> TeamFacts:
        facts = cls()
        names: dict[str, list[str]] = {}
        for agent in catalog.agents.values():
            facts.terms[agent.id] = _agent_terms(agent)
            for term in facts.terms[agent.id]:
                words = tuple(_WORD.findall(term))
                if words:
                    facts.phrases.setdefault(words, set()).add(agent.id)
            if agent.name and " " not in agent.name.strip():
                names.setdefault(agent.name.strip().lower(), []).append(agent.id)
        facts.names = {n: ids[0] for n, ids in names.items() if len(ids) == 1}
        facts.longest = max((len(p) for p in facts.phrases), default=0)
        facts.first_words = frozenset(p[0] for p in facts.phrases)
        facts.team_item = _best(catalog, _TEAM_TEXT, shared_ok=True)
        facts.router_item = _best(catalog, _ROUTER_TEXT, shared_ok=False, exclude=facts.team_item)
        return facts

    def named(self, text: str) -> list[str]:
        """Agents the request designates by id, title or persona name, in catalog order (one
        dictionary look-up per word n-gram of the request: cheap at thousands of agents)."""
        words = _WORD.findall(text.lower())
        longest = self.longest
        hits: set[str] = set()
        for i in range(len(words)):
            if words[i] not in self.first_words:  # no phrase begins here
                continue
            for n in range(1, min(longest, len(words) - i) + 1):
                hits |= self.phrases.get(tuple(words[i:i + n]), set())
        if not hits:
            return []
        order = {aid: k for k, aid in enumerate(self.terms)}  # only built when something matched
        return sorted(hits & order.keys(), key=order.__getitem__)

    def addressed(self, text: str) -> str | None:
        """The agent addressed by persona name ("Winston, got a minute?"), if exactly one."""
        words = set(_WORD.findall(text.lower())[:ADDRESS_WORDS])
        hits = {aid for name, aid in self.names.items() if name in words}
        return hits.pop() if len(hits) == 1 else None

    def is_team_question(self, text: str) -> bool:
        return bool(_COLLECTIVE.search(text)) or len(self.named(text)) >= MIN_NAMED_FOR_TEAM

    def is_collective(self, text: str) -> bool:
        """Addressed to the whole team ("everybody", "the whole team"), naming at most one agent."""
        return bool(_COLLECTIVE.search(text)) and len(self.named(text)) < MIN_NAMED_FOR_TEAM

    def is_routing_question(self, text: str) -> bool:
        return bool(_ROUTING.search(text)) and (bool(_COLLECTIVE.search(text)) or "?" in text)


def team_router(facts: TeamFacts, request: str, picks: dict[str, T], ranked: list[str],
                routers: list[str]) -> tuple[bool, str | None, dict[str, T]]:
    """(whether ``request`` is for a router, the router the text picked if any, ``picks`` as
    such a request keeps them). A question to the team or about whom to ask gets one router,
    the text's own pick if it made one (the best ranked), not every router a word matched; a
    question to the whole team, or about whom to ask in a catalog with a router to answer it,
    drops the agents only its side words matched (those it names stay)."""
    named = facts.named(request)
    asks = facts.is_routing_question(request) and bool(routers or facts.router_item)
    if asks or facts.is_collective(request):
        picks = {a: r for a, r in picks.items() if a in set(named) | set(routers)}
    if not (asks or facts.is_team_question(request)):
        return False, None, picks
    rank = {a: i for i, a in enumerate(ranked)}
    picked = sorted((a for a in picks if a in routers), key=lambda a: (rank.get(a, len(rank)), routers.index(a)))
    drop = set(picked[1:]) - set(named)
    return True, (picked[0] if picked else None), {a: r for a, r in picks.items() if a not in drop}


def _best(catalog: Catalog, pattern: re.Pattern[str], *, shared_ok: bool, exclude: str | None = None) -> str | None:
    n_agents = max(len(catalog.agents), 1)
    best, best_hits = None, 0
    for item in sorted(catalog.work_items.values(), key=lambda w: w.id):
        if item.id == exclude or not _eligible(item, n_agents, shared_ok):
            continue
        hits = len(pattern.findall(f"{item.name} {item.description}"))
        if hits > best_hits:
            best, best_hits = item.id, hits
    return best


def _eligible(item: WorkItem, n_agents: int, shared_ok: bool) -> bool:
    owners = len(item.owners)
    return owners == 0 or (shared_ok and owners * 2 >= n_agents)
