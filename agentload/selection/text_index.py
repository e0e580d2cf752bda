"""Free-text retrieval: BM25 over what each agent is (persona) and each thing it does.

An agent is indexed as several *units*: one for who it is (title, role, identity,
principles) and one per menu entry (the entry's name and description, the workflow it
runs: name, description, the path files' purpose notes, and an excerpt of the workflow's
own text). A request usually asks for one piece of work, so an agent scores its persona
plus its *best* matching unit; summing over all of an agent's units would favour agents
with long menus. Everything comes from the catalog's files. Postings are numpy arrays, so a
query costs a few vector operations per query term even at thousands of agents.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from agentload.catalog import Agent, Catalog
from agentload.selection.tokenize import tokenize

FIELD_WEIGHTS: dict[str, float] = {"name": 2.0, "about": 1.2, "persona": 0.6, "menu": 2.0, "workflow": 1.5,
                                   "body": 0.5}
PERSONA_FIELDS = ("name", "persona")
K1, B = 1.2, 0.75
MIN_PREFIX = 4
_CODE = re.compile(r"\[[A-Z0-9]{1,4}\]\s*")


Postings = dict[str, tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]]]


def saturations(docs: list[Counter[str]]) -> Iterator[tuple[int, str, float]]:
    """(document, term, BM25 term-frequency saturation) for one field of every document."""
    lengths = [sum(c.values()) for c in docs]
    present = [ln for ln in lengths if ln]
    avg = sum(present) / len(present) if present else 1.0
    for j, c in enumerate(docs):
        norm = K1 * (1 - B + B * lengths[j] / avg)
        for term, tf in c.items():
            yield j, term, tf * (K1 + 1) / (tf + norm)


def bm25f(tokens: dict[str, list[Counter[str]]], weights: dict[str, float]) -> tuple[Postings, dict[str, float]]:
    """Weighted multi-field BM25 over documents given as one term Counter per field and
    document (``tokens[field][doc]``): postings (term -> document indices, scores) and the IDF
    (one document frequency over all fields)."""
    n = len(next(iter(tokens.values()), []))
    df: Counter[str] = Counter()
    for j in range(n):
        df.update({t for f in weights for t in tokens[f][j]})
    idf = {t: math.log(1.0 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
    acc: dict[str, dict[int, float]] = {}
    for f, weight in weights.items():
        for j, term, sat in saturations(tokens[f]):
            slot = acc.setdefault(term, {})
            slot[j] = slot.get(j, 0.0) + weight * idf[term] * sat
    postings = {term: (np.fromiter(slot.keys(), dtype=np.int32, count=len(slot)),
                       np.fromiter(slot.values(), dtype=np.float64, count=len(slot))) for term, slot in acc.items()}
    return postings, idf


@dataclass
class Unit:
    agent: int
    fields: dict[str, str] = field(default_factory=dict)
    work: str | None = None  # the work item or workflow file this menu entry runs


def _units_for(i: int, agent: Agent, catalog: Catalog, path_owner: dict[str, str],
               path_text: dict[str, str]) -> list[Unit]:
    p = agent.persona
    units = [Unit(i, {"name": f"{agent.name} {agent.title} {p.role} {agent.id.replace('-', ' ')}",
                      "about": agent.description,
                      "persona": f"{p.identity} {p.principles}"})]
    for item in agent.menu:
        fields = {"menu": f"{item.name.replace('-', ' ')} {_CODE.sub('', item.description)}"}
        info = catalog.workflows.get(item.workflow_file or "")
        work = catalog.work_items.get(item.work_item or "")
        if work is not None and work.kind == "skill":
            fields["workflow"] = f"{work.name.replace('-', ' ')} {work.description}"
            fields["body"] = work.excerpt
        elif info is not None:
            notes = path_text.get(info.file, "")
            fields["workflow"] = f"{info.name.replace('-', ' ')} {info.description} {notes}"
            if path_owner.get(info.file) in (None, agent.id):
                fields["body"] = info.body_excerpt
        elif item.target_kind == "action":
            fields["workflow"] = item.target
        units.append(Unit(i, fields, item.work_item or item.workflow_file))
    return units


class TextIndex:
    """Unit-level BM25 with one shared IDF (over units); agent score = persona + best unit."""

    def __init__(self, catalog: Catalog, weights: dict[str, float] | None = None) -> None:
        self.weights = weights or FIELD_WEIGHTS
        self.ids = sorted(catalog.agents)
        path_owner: dict[str, str] = {}
        path_text: dict[str, str] = {}
        for pf in catalog.paths:
            for ph in pf.phases:
                for w in ph.workflows:
                    if w.workflow_file and w.agent:
                        path_owner.setdefault(w.workflow_file, w.agent)
                    if w.workflow_file:
                        path_text[w.workflow_file] = f"{w.id.replace('-', ' ')} {w.text}"
        units: list[Unit] = []
        for i, aid in enumerate(self.ids):
            units += _units_for(i, catalog.agents[aid], catalog, path_owner, path_text)
        self.unit_agent = np.asarray([u.agent for u in units], dtype=np.int32)
        self.unit_work = [u.work for u in units]
        starts = np.searchsorted(self.unit_agent, np.arange(len(self.ids) + 1))
        self.agent_units = [(int(starts[i]), int(starts[i + 1])) for i in range(len(self.ids))]
        self.is_persona = np.asarray([("name" in u.fields) for u in units], dtype=bool)
        # each agent's units are contiguous and begin with its persona unit: per-agent figures are
        # one reduceat over ``starts`` (ufunc.at, a scatter, costs several times more per query)
        self.starts = np.asarray(starts[:-1], dtype=np.intp)
        self.position = {aid: i for i, aid in enumerate(self.ids)}
        assert bool(self.is_persona[self.starts].all()) and int(self.is_persona.sum()) == len(self.ids)
        n = len(units)
        tokens = {f: [Counter(tokenize(u.fields.get(f, ""))) for u in units] for f in self.weights}
        self.postings, self.idf = bm25f(tokens, self.weights)
        name_acc: dict[str, tuple[list[int], list[float]]] = {}
        for j, term, sat in saturations(tokens["name"]):
            docs_w = name_acc.setdefault(term, ([], []))
            docs_w[0].append(int(self.unit_agent[j]))
            docs_w[1].append(sat)
        self.name_postings: Postings = {
            t: (np.asarray(d, dtype=np.int32), np.asarray(w)) for t, (d, w) in name_acc.items()
        }
        self.n_units = n
        self.terms = sorted(self.postings)

    def unit_scores(self, text: str, weights: dict[str, float] | None = None) -> npt.NDArray[np.float64]:
        """BM25F score of every unit; ``weights`` (term -> factor, see ``focus``) scales terms."""
        out = np.zeros(self.n_units)
        for term in set(tokenize(text)):
            post = self.postings.get(term) or self._by_prefix(term)
            if post is not None:
                out[post[0]] += post[1] * (weights.get(term, 1.0) if weights else 1.0)
        return out

    def knows(self, term: str) -> bool:
        """Whether a stemmed term matches anything indexed (exactly or as a clipped word)."""
        return term in self.postings or self._by_prefix(term) is not None

    def _by_prefix(self, term: str) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]] | None:
        """A clipped word ("retro", "auth") matches the catalog's longer one ("retrospective",
        "authentication"): the shortest indexed term it begins, for terms of ``MIN_PREFIX``+."""
        if len(term) < MIN_PREFIX:
            return None
        i = bisect.bisect_left(self.terms, term)
        if i < len(self.terms) and self.terms[i].startswith(term):
            return self.postings[self.terms[i]]
        return None

    def scores(self, text: str, weights: dict[str, float] | None = None) -> npt.NDArray[np.float64]:
        """Score of every agent (``self.ids`` order): persona unit + best work unit."""
        u = self.unit_scores(text, weights)
        if not len(self.ids):
            return u[:0]
        persona = u[self.starts]
        u[self.is_persona] = 0.0  # scores are >= 0: an agent with no menu match adds 0
        out: npt.NDArray[np.float64] = persona + np.maximum.reduceat(u, self.starts)
        return out

    def best_work(self, text: str, agents: list[int]) -> dict[int, str | None]:
        """For each of ``agents`` (indices): the work its best-matching menu entry runs."""
        u = self.unit_scores(text)
        if not len(self.ids):
            return {}
        u[self.is_persona] = -1.0  # below any menu score; an agent without a menu "wins" its persona
        top = np.maximum.reduceat(u, self.starts)
        hit = np.flatnonzero(u == top[self.unit_agent])  # units reaching their agent's best, in order
        owner = self.unit_agent[hit]
        first = hit[np.r_[True, owner[1:] != owner[:-1]]]  # each agent's first best unit
        return {a: self.unit_work[int(first[a])] if u[first[a]] > 0 else None for a in agents}

    def field_scores(self, text: str, field_name: str = "name") -> npt.NDArray[np.float64]:
        """Agents' match on their title/role only (used for the user-role prior)."""
        out = np.zeros(len(self.ids))
        for term in set(tokenize(text)):
            post = self.name_postings.get(term)
            if post is not None:
                np.add.at(out, post[0], self.idf.get(term, 0.0) * post[1])
        return out
