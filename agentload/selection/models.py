"""What a selection returns: the agents to load in full, why, and the manifest of the rest."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Reason(BaseModel):
    """Why an agent was selected: the rule that fired, the workflow it concerns, its score."""

    rule: str
    workflow: str | None = None
    score: float | None = None
    detail: str = ""


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

    ``loaded_tokens`` counts the agents and skills loaded in full;
    ``optimized_tokens = loaded_tokens + manifest_tokens``; ``reduction`` is
    ``1 - optimized / baseline`` (the manifest is counted, as the client pays for it).
    """

    agents: list[SelectedAgent]
    skills: list[SelectedSkill] = Field(default_factory=list)
    manifest: str
    manifest_tokens: int
    loaded_tokens: int
    baseline_tokens: int
    optimized_tokens: int
    reduction: float
    strategy: str
    key: str
    notes: list[str] = Field(default_factory=list)
    unknown: list[str] = Field(default_factory=list)

    @property
    def agent_ids(self) -> list[str]:
        return [a.id for a in self.agents]

    @property
    def skill_ids(self) -> list[str]:
        return [s.id for s in self.skills]
