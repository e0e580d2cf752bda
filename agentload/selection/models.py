"""What a selection returns: the agents to load in full, why, and the manifest of the rest."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, PrivateAttr, SerializerFunctionWrapHandler, model_serializer

#: loading strategies: the precomputed selection, every agent, or precomputed selections only
STRATEGIES = ("selective", "full", "cached")


class Reason(BaseModel):
    """Why an agent was selected: the rule that fired, the workflow it concerns, its score.

    Serialised without empty fields: a reason is repeated in every answer, and its nulls
    would be tokens the client pays for (``Selection.context_tokens``)."""

    rule: str
    workflow: str | None = None
    score: float | None = None
    detail: str = ""

    @model_serializer(mode="wrap")
    def _without_empty(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if v is not None and v != ""}


class SelectedAgent(BaseModel):
    id: str
    title: str = ""
    tokens: int
    reasons: list[Reason] = Field(default_factory=list)


class SelectedSkill(BaseModel):
    """A workflow skill loaded with the agents (skills layouts): its ``SKILL.md`` in full."""

    id: str
    tokens: int
    owners: list[str] = Field(default_factory=list)  # agents whose menus run it
    reasons: list[Reason] = Field(default_factory=list)


class Selection(BaseModel):
    """A complete answer: selected agents, the manifest text and the token accounting.

    File tokens: ``loaded_tokens`` counts the files of the agents and skills loaded in full;
    ``optimized_tokens = loaded_tokens + manifest_tokens``; ``baseline_tokens`` is what ``full``
    loads; ``file_reduction = 1 - optimized / baseline``.

    Delivered tokens (what lands in the model's context, ``agentload.delivered``):
    ``context_tokens`` is what loading this selection puts in the context: the answer as
    ``select_agents`` sends it with its definitions (the compact JSON metadata, the manifest
    text, each agent's and skill's text once); ``full_context_tokens`` is the same for the
    ``full`` strategy's answer; ``reduction = 1 - context / full_context``. The resolved context
    is counted as served; per-call fields (cache, version, status, the count) are not: about 30 tokens.
    Each served answer states its own exact count (``delivered_tokens``).
    """

    agents: list[SelectedAgent]
    skills: list[SelectedSkill] = Field(default_factory=list)
    manifest: str
    # a bounded manifest's listed lines (``selection.manifest``), None for a whole one: never
    # served (the text is), stored so that readers rebuild the text from the version's lines
    manifest_ids: list[str] | None = Field(default=None, exclude=True)
    manifest_tokens: int
    loaded_tokens: int
    baseline_tokens: int
    optimized_tokens: int
    file_reduction: float = 0.0
    context_tokens: int = 0
    full_context_tokens: int = 0
    reduction: float
    strategy: str
    key: str
    notes: list[str] = Field(default_factory=list)
    unknown: list[str] = Field(default_factory=list)

    _rebase: tuple[int, int] | None = PrivateAttr(default=None)

    @property
    def rebase_template(self) -> tuple[int, int] | None:
        """What ``selection.accounting.rebased`` needs to refigure this selection for another
        baseline without counting it again (None: it counts)."""
        return self._rebase

    def set_rebase_template(self, template: tuple[int, int] | None) -> None:
        self._rebase = template

    @property
    def agent_ids(self) -> list[str]:
        return [a.id for a in self.agents]

    @property
    def skill_ids(self) -> list[str]:
        return [s.id for s in self.skills]
