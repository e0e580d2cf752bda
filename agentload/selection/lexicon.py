"""A small thesaurus of software-delivery vocabulary for query expansion.

Users type "docs", "one-pager" or "monolith vs microservices"; the catalog's own files say
"documentation", "brief" and "architecture". Each ring below groups words that mean the
same kind of work in any software methodology. Rings name *kinds of work*, never agents or
workflows of a particular catalog; a request term found in a ring adds the ring's other
words to the query at a reduced weight (see ``TextSelector``).
"""

from __future__ import annotations

import re

RINGS: tuple[tuple[str, ...], ...] = (
    ("docs", "doc", "documentation", "document", "readme", "manual", "guide", "write-up", "writeup"),
    ("architecture", "architectural", "monolith", "microservices", "microservice", "modular",
     "infrastructure", "tech stack", "scalability", "system design"),
    ("requirements", "reqs", "requirement", "prd", "specification", "spec", "specs"),
    ("brainstorm", "brainstorming", "idea", "ideas", "ideation", "flesh out", "half baked"),
    ("brief", "one-pager", "onepager", "vision", "elevator pitch", "overview"),
    ("test", "tests", "testing", "qa", "e2e", "end-to-end", "quality"),
    ("story", "stories", "ticket", "tickets", "user story"),
    ("implement", "implementation", "build", "code", "coding", "develop", "ship"),
    ("review", "audit", "critique", "sanity-check", "assess"),
    ("diagram", "flowchart", "chart", "visualize", "visualization"),
    ("ux", "ui", "user experience", "user interface", "screens", "wireframe", "mockup", "layout"),
    ("research", "market", "competitor", "competitors", "competitive", "landscape"),
    ("retrospective", "retro", "look back", "lessons learned", "post-mortem", "postmortem"),
    ("explain", "explanation", "teach", "tutorial", "walkthrough"),
    ("sprint", "iteration", "sprint planning"),
    ("epic", "epics", "backlog"),
)


# one substring test per ring first: most rings are absent from a request, and the exact test
# below builds four strings per word
_PRESENT = tuple(re.compile("|".join(re.escape(w) for w in ring)) for ring in RINGS)


def expansions(text: str) -> str:
    """The extra words a request implies: every ring member of each ring it mentions."""
    low = f" {text.lower()} "
    extra: list[str] = []
    for ring, present in zip(RINGS, _PRESENT, strict=True):
        if not present.search(low):
            continue
        hit = [w for w in ring if f" {w} " in low or f" {w}s " in low or f" {w}," in low or f" {w}." in low]
        if hit:
            extra += [w for w in ring if w not in hit]
    return " ".join(extra)
