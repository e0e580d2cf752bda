"""Typed shapes of what a BMad catalog holds: agents, menus, workflows, path files."""

from __future__ import annotations

from pydantic import BaseModel, Field


class MenuItem(BaseModel):
    """One entry of an agent's menu: what the user types and what it runs."""

    trigger: str
    code: str = ""  # short code such as "CP"
    name: str = ""  # fuzzy-match name such as "create-prd"
    description: str = ""
    target_kind: str = ""  # workflow | exec | action | validate-workflow | data | ...
    target: str = ""  # raw target (path with {project-root} or an inline action)
    workflow_file: str | None = None  # catalog-relative path of the workflow file, when resolvable


class Persona(BaseModel):
    role: str = ""
    identity: str = ""
    communication_style: str = ""
    principles: str = ""


class Agent(BaseModel):
    """An agent definition; ``id`` is the file name without ``.agent.yaml``."""

    id: str
    module: str
    path: str  # catalog-relative path of the definition file
    name: str = ""
    title: str = ""
    icon: str = ""
    persona: Persona = Field(default_factory=Persona)
    critical_actions: list[str] = Field(default_factory=list)
    menu: list[MenuItem] = Field(default_factory=list)
    text: str  # the file as shipped: what "loading the agent" puts in context
    tokens: int


class WorkflowInfo(BaseModel):
    """A workflow file the catalog references (menus or path files)."""

    file: str  # catalog-relative path
    name: str = ""
    description: str = ""
    exists: bool = True
    body_excerpt: str = ""  # a bounded excerpt of the workflow's own text, for retrieval


class PathWorkflow(BaseModel):
    """One workflow step of a path file."""

    id: str
    agent: str | None = None
    kind: str = "optional"  # required | optional | recommended | conditional
    condition: str | None = None
    workflow_file: str | None = None
    command: str | None = None
    text: str = ""  # purpose / output / note, for retrieval


class PathPhase(BaseModel):
    phase: int
    name: str = ""
    kind: str = "required"
    condition: str | None = None
    workflows: list[PathWorkflow] = Field(default_factory=list)


class PathFile(BaseModel):
    """A workflow path: which workflows run in which phase for one track and field type."""

    file: str
    stem: str
    track: str | None = None
    field_type: str | None = None
    method_name: str = ""
    description: str = ""
    phases: list[PathPhase] = Field(default_factory=list)


class CatalogError(BaseModel):
    """A file that could not be used, and why; the rest of the catalog still loads."""

    path: str
    reason: str


class Catalog(BaseModel):
    root: str
    agents: dict[str, Agent]
    paths: list[PathFile] = Field(default_factory=list)
    levels: dict[int, dict[str, object]] = Field(default_factory=dict)
    workflows: dict[str, WorkflowInfo] = Field(default_factory=dict)
    errors: list[CatalogError] = Field(default_factory=list)

    @property
    def baseline_tokens(self) -> int:
        """Tokens of loading every agent definition: the cost without selection."""
        return sum(a.tokens for a in self.agents.values())
