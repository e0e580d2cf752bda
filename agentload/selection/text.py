"""Free-text retrieval: a multi-field BM25 index over what each agent is and does.

Each agent is described by its own files only: title and role (``name`` field), persona,
menu (names and descriptions) and the workflows it runs (names, descriptions, the path
files' purpose notes, and an excerpt of the workflow text). Fields carry different weights
because a word in an agent's title says more than the same word deep in a workflow body.
Postings are numpy arrays, so a query costs a few vector adds per query term even at
thousands of agents.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from agentload.catalog import Agent, Catalog
from agentload.selection.tokenize import tokenize

FIELD_WEIGHTS: dict[str, float] = {"name": 3.0, "menu": 2.0, "workflow": 1.5, "persona": 1.0, "body": 0.4}
K1, B = 1.2, 0.75
_CODE = re.compile(r"\[[A-Z0-9]{1,4}\]\s*")


def agent_fields(agent: Agent, catalog: Catalog, path_owner: dict[str, str]) -> dict[str, str]:
    """The text of each field for one agent, taken from the catalog's files."""
    p = agent.persona
    menu = " ".join(f"{m.name.replace('-', ' ')} {_CODE.sub('', m.description)}" for m in agent.menu)
    wf_text: list[str] = []
    body: list[str] = []
    for item in agent.menu:
        info = catalog.workflows.get(item.workflow_file or "")
        if info is None:
            if item.target_kind == "action":
                wf_text.append(item.target)
            continue
        wf_text.append(f"{info.name.replace('-', ' ')} {info.description}")
        owner = path_owner.get(info.file)
        if owner in (None, agent.id):
            body.append(info.body_excerpt)
    for pf in catalog.paths:
        for ph in pf.phases:
            wf_text += [f"{w.id.replace('-', ' ')} {w.text}" for w in ph.workflows if w.agent == agent.id]
    return {
        "name": f"{agent.title} {p.role} {agent.id.replace('-', ' ')}",
        "persona": f"{p.identity} {p.principles} {p.communication_style}",
        "menu": menu,
        "workflow": " ".join(wf_text),
        "body": " ".join(body),
    }


@dataclass
class _Posting:
    docs: npt.NDArray[np.int32]
    weights: npt.NDArray[np.float64]


class TextIndex:
    """BM25 per field, one shared IDF over agents, scores summed with field weights."""

    def __init__(self, catalog: Catalog, weights: dict[str, float] | None = None) -> None:
        self.weights = weights or FIELD_WEIGHTS
        self.ids = sorted(catalog.agents)
        path_owner = {
            w.workflow_file: w.agent
            for pf in catalog.paths for ph in pf.phases for w in ph.workflows
            if w.workflow_file and w.agent
        }
        docs = [agent_fields(catalog.agents[a], catalog, path_owner) for a in self.ids]
        n = len(self.ids)
        self.postings: dict[str, dict[str, _Posting]] = {}
        df: Counter[str] = Counter()
        per_field_tokens = {f: [Counter(tokenize(d[f])) for d in docs] for f in self.weights}
        for i in range(n):
            df.update({t for f in self.weights for t in per_field_tokens[f][i]})
        self.idf = {t: math.log(1.0 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        for f in self.weights:
            counts = per_field_tokens[f]
            lengths = [sum(c.values()) for c in counts]
            avg = (sum(lengths) / n) if n and sum(lengths) else 1.0
            acc: dict[str, tuple[list[int], list[float]]] = {}
            for i, c in enumerate(counts):
                norm = K1 * (1 - B + B * lengths[i] / avg)
                for term, tf in c.items():
                    d, w = acc.setdefault(term, ([], []))
                    d.append(i)
                    w.append(tf * (K1 + 1) / (tf + norm))
            self.postings[f] = {
                t: _Posting(np.asarray(d, dtype=np.int32), np.asarray(w)) for t, (d, w) in acc.items()
            }

    def scores(self, text: str) -> npt.NDArray[np.float64]:
        """BM25 score of every agent (in ``self.ids`` order) for ``text``."""
        out = np.zeros(len(self.ids))
        for term in set(tokenize(text)):
            idf = self.idf.get(term)
            if idf is None:
                continue
            for f, weight in self.weights.items():
                post = self.postings[f].get(term)
                if post is not None:
                    out[post.docs] += weight * idf * post.weights
        return out

    def field_scores(self, text: str, field: str) -> npt.NDArray[np.float64]:
        """Scores on one field only (used for priors such as the user's role)."""
        out = np.zeros(len(self.ids))
        for term in set(tokenize(text)):
            post = self.postings[field].get(term)
            if post is not None:
                out[post.docs] += self.idf.get(term, 0.0) * post.weights
        return out
