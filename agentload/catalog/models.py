"""Typed shapes of what a BMad catalog holds: agents, menus, workflows, path files."""

from __future__ import annotations

from pydantic import BaseModel, Field


class MenuItem(BaseModel):
    """One entry of an agent's menu: what the user types and what it runs."""

    trigger: str
    code: str = ""  # short code such as "CP"
    name: str = ""  # fuzzy-match name such as "create-prd"
    description: str = ""
    target_kind: str = ""  # workflow | exec | validate-workflow | action | prompt | skill | task | multi | data
    target: str = ""  # raw target (path with {project-root}, a skill name, an inline action or prompt)
    workflow_file: str | None = None  # catalog-relative path of the workflow file, when resolvable
    work_item: str | None = None  # id of the ``WorkItem`` this entry runs, when the catalog knows it


class Persona(BaseModel):
    role: str = ""
    identity: str = ""
    communication_style: str = ""
    principles: str = ""


class Agent(BaseModel):
    """An agent definition; ``id`` is the layout's own name for it.

    ``pm`` for ``pm.agent.yaml``, ``pm.md`` (v4 and compiled v6), ``bmad-agent-pm`` for the
    skill folder ``bmad-agent-pm/``. ``text`` is the definition file as shipped (what loading
    the agent puts in context); ``files`` are further files of the definition that are read for
    metadata but not delivered (a skill's ``customize.toml``).
    """

    id: str
    module: str
    path: str  # catalog-relative path of the definition file
    layout: str = ""  # the ``Layout.kind`` it was read from
    name: str = ""
    title: str = ""
    icon: str = ""
    description: str = ""  # when to use it: v4 whenToUse, v6 capabilities, a skill's description
    files: list[str] = Field(default_factory=list)
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
    after: list[str] = Field(default_factory=list)  # ids it comes after (module-help ``preceded-by``)
    before: list[str] = Field(default_factory=list)  # ids it comes before (``followed-by``)
    # what it leaves in a project (module-help ``outputs``: "prd", "epics and stories"; v4 ``creates``:
    # "prd.md") and where (module-help ``output-location``: config names or paths; none: the layout's
    # document folders): a project's files then show which work is done
    outputs: list[str] = Field(default_factory=list)
    output_locations: list[str] = Field(default_factory=list)


class PathPhase(BaseModel):
    """One phase of a path; ``phase`` orders phases, ``name`` is the catalog's own label."""

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
    anytime: list[PathWorkflow] = Field(default_factory=list)  # work of no phase (module-help ``anytime``)
    sequence: list[str] = Field(default_factory=list)  # whole-path order when phases interleave


class WorkItem(BaseModel):
    """A unit of work an agent runs: a workflow, an Agent Skill or a task.

    ``id`` is the layout's own name (a skill folder, a ``workflow-manifest.csv`` name, a v4
    task file stem). ``phase`` is the catalog's own label (``"2-planning"``, ``"plan"``,
    ``"anytime"``) or None; ``owners`` the agents whose menus run it; ``entry_file`` the file
    an assistant loads first and ``files`` the files it references (instructions, templates,
    checklists, step files, ``references/``), all catalog-relative; ``tokens`` counts the
    entry file (cl100k_base).
    """

    id: str
    kind: str = "workflow"  # workflow | skill | task
    name: str = ""
    description: str = ""
    module: str = ""
    phase: str | None = None
    required: bool = False
    preceded_by: list[str] = Field(default_factory=list)
    followed_by: list[str] = Field(default_factory=list)
    owners: list[str] = Field(default_factory=list)
    entry_file: str | None = None
    files: list[str] = Field(default_factory=list)
    tokens: int = 0
    excerpt: str = ""  # a bounded excerpt of its own text, for retrieval


class Layout(BaseModel):
    """One BMad tree found under the catalog root, and how it was recognised."""

    kind: str  # v4 | v4-expansion | v6-source | v6-installed | skills-source | skills-installed
    path: str  # catalog-relative folder ("" for the root itself)
    version: str | None = None
    version_source: str | None = None  # the file the version was read from
    agents: int = 0
    work_items: int = 0


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
    work_items: dict[str, WorkItem] = Field(default_factory=dict)
    layouts: list[Layout] = Field(default_factory=list)
    errors: list[CatalogError] = Field(default_factory=list)
    warnings: list[CatalogError] = Field(default_factory=list)  # dangling references, unknown owners
    acronyms: dict[str, str] = Field(default_factory=dict)  # defined by the catalog itself: prd -> ...

    @property
    def skills(self) -> dict[str, WorkItem]:
        """Workflow skills (skills layouts): what ``full`` loads besides the agents."""
        return {k: w for k, w in self.work_items.items() if w.kind == "skill"}

    @property
    def baseline_tokens(self) -> int:
        """Tokens of loading every agent definition, plus every workflow skill's ``SKILL.md``
        in skills layouts: what the ``full`` strategy loads, the cost without selection."""
        return sum(a.tokens for a in self.agents.values()) + sum(w.tokens for w in self.skills.values())
