"""The project context a selection is asked for, and how missing fields are inferred.

``Context`` is the scenario schema (every field optional). ``resolve`` turns it into a
``Resolved`` context using only facts from the catalog (``ResolverData``: its path files,
workflow aliases and the level-to-track convention), so two contexts that must get the same
selection get the same key. The resolver data is small JSON: the API loads it from Redis and
resolves keys without reading catalog files or computing selections.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, field_validator

_WS = re.compile(r"\s+")
_SEP = re.compile(r"[\s_]+")


@lru_cache(maxsize=65536)
def norm_id(value: str) -> str:
    """Canonical form of a track, workflow or field id: lower case, hyphens for spaces
    (memoised: a catalog build normalises the same menu names thousands of times)."""
    return _SEP.sub("-", value.strip().lower())


#: Path files an answer names in its resolved context; ``more_files`` counts the others.
SERVED_FILES = 8
#: The largest phase number a context may give; larger numbers in a catalog are named phases.
MAX_PHASE_NUMBER = 20


def _phase_value(value: int | str | None) -> int | str | None:
    if isinstance(value, str):
        value = value.strip()
        if value.isdigit():
            value = int(value)
        elif not value:
            return None
        elif len(value) > 60:
            raise ValueError("phase names are at most 60 characters")
    if isinstance(value, int) and not 0 <= value <= MAX_PHASE_NUMBER:
        raise ValueError(f"phase numbers are 0-{MAX_PHASE_NUMBER}")
    return value


#: A phase as the catalog names it: a number (0-20) or a label ("2-planning", "planning", "plan").
#: Declared once; the API query, the stored workflow state and the MCP tool use it.
Phase = Annotated[
    int | str | None,
    Field(union_mode="left_to_right", examples=[2, "2-planning"],
          description="Phase of the catalog: a number (0-20) or its name, e.g. 2, \"2-planning\", \"plan\""),
    AfterValidator(_phase_value),
]


class ProjectState(BaseModel):
    """Where a project stands in its BMad path: the part of a context a project keeps between
    calls. Declared once: ``Context`` adds what a caller asks with; the API's stored workflow
    state, its query model and the MCP tool's parameters are derived from these two classes.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    track: str | None = Field(default=None, max_length=100, description="BMad track", examples=["bmad-method"])
    field_type: str | None = Field(default=None, max_length=100, description="greenfield or brownfield",
                                   examples=["greenfield"])
    phase: Phase = None
    complexity_level: int | None = Field(default=None, ge=0, le=4, description="BMad scale level 0-4")
    has_ui: bool | None = Field(default=None, description="Whether the project has a user interface")
    workflow_history: list[str] = Field(default_factory=list, max_length=200,
                                        description="Workflows done so far, oldest first")
    next_workflow: str | None = Field(default=None, max_length=200, description="Workflow about to run",
                                      examples=["prd"])

    @field_validator("workflow_history")
    @classmethod
    def _history_items(cls, value: list[str]) -> list[str]:
        for item in value:
            if len(item) > 200:
                raise ValueError("workflow_history items must be at most 200 characters")
            if "," in item:
                raise ValueError(f"workflow_history item {item[:60]!r} joins several ids with commas: give each "
                                 "as its own item (repeat the query parameter: workflow_history=a&workflow_history=b)")
        return [v.strip() for v in value if v and v.strip()]

    @field_validator("track", "field_type", "next_workflow")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None


class Context(ProjectState):
    """What a client knows about a project at the moment it needs agents."""

    user_role: str | None = Field(default=None, max_length=100, description="Role of the person asking")
    request: str | None = Field(default=None, max_length=4000, description="Free-text request")

    @field_validator("user_role", "request")
    @classmethod
    def _empty_text_is_none(cls, value: str | None) -> str | None:
        return value or None


#: The context's fields, in declaration order: what a selection may be asked with.
CONTEXT_FIELDS: tuple[str, ...] = tuple(Context.model_fields)


class PhaseFacts(BaseModel):
    phase: int
    label: str = ""  # the catalog's own name of the phase, normalised ("2-planning", "plan")
    required: list[str] = Field(default_factory=list)  # workflow ids
    ui: list[str] = Field(default_factory=list)  # conditional on a UI
    all: list[str] = Field(default_factory=list)  # every workflow, in path order


class OutputFacts(BaseModel):
    """What one workflow leaves in a project: names as its catalog gives them ("prd", "epics and
    stories", "prd.md") and the folders it writes to (config names such as ``planning_artifacts``
    or paths; empty: the layout's document folders)."""

    names: list[str]
    locations: list[str] = Field(default_factory=list)


class TrackFacts(BaseModel):
    """The parts of one path file that inference needs."""

    file: str
    track: str | None
    field_type: str | None
    aliases: list[str]  # normalised names that designate this track
    phases: list[PhaseFacts]
    owners: dict[str, list[str]]  # workflow id -> agent ids
    sequence: list[str] = Field(default_factory=list)  # whole-path order, when phases interleave
    outputs: dict[str, OutputFacts] = Field(default_factory=dict)  # workflow id -> what it leaves


class ResolverData(BaseModel):
    """What resolving and structured selection need; built once per catalog version, never
    modified afterwards (the derived lookups below are computed once per instance)."""

    tracks: list[TrackFacts]
    aliases: dict[str, str]  # any known workflow name -> canonical workflow id
    menu_owners: dict[str, list[str]]  # canonical workflow id -> agents with it on their menu
    level_tracks: dict[int, str]
    _menu_agents: int | None = PrivateAttr(default=None)
    _track_pos: dict[str, list[int]] | None = PrivateAttr(default=None)
    _by_alias: dict[str, list[TrackFacts]] | None = PrivateAttr(default=None)
    _on_paths: frozenset[str] | None = PrivateAttr(default=None)

    def tracks_aliased(self, name: str) -> list[TrackFacts]:
        """Tracks one of whose aliases is exactly ``name`` (normalised), in ``tracks`` order:
        a dictionary lookup, where scanning every track per context made a build quadratic."""
        if self._by_alias is None:
            self._by_alias = {}
            for t in self.tracks:
                for a in dict.fromkeys(t.aliases):
                    self._by_alias.setdefault(a, []).append(t)
        return list(self._by_alias.get(name, ()))

    def on_a_path(self, workflow: str) -> bool:
        """Whether any path file runs ``workflow`` (a canonical id)."""
        if self._on_paths is None:
            self._on_paths = frozenset(w for t in self.tracks for w in t.owners)
        return workflow in self._on_paths

    def menu_agent_count(self) -> int:
        """Distinct agents with any workflow on their menu (once: every selection asks)."""
        if self._menu_agents is None:
            self._menu_agents = len({a for names in self.menu_owners.values() for a in names})
        return self._menu_agents

    def tracks_of(self, files: list[str]) -> list[TrackFacts]:
        """The tracks of ``files`` (path files), in ``tracks`` order: O(len(files)), not O(tracks)."""
        if self._track_pos is None:
            self._track_pos = {}
            for i, t in enumerate(self.tracks):
                self._track_pos.setdefault(t.file, []).append(i)
        pos = self._track_pos
        return [self.tracks[i] for i in sorted({i for f in files for i in pos.get(f, ())})]


class Resolved(BaseModel):
    """The selection-relevant part of a context after inference; ``key`` identifies it."""

    files: list[str] = Field(default_factory=list)  # candidate path files
    track: str | None = None
    field_type: str | None = None
    phase: int | None = None
    next_workflow: str | None = None
    has_ui: bool | None = None
    request: str | None = None
    user_role: str | None = None
    notes: list[str] = Field(default_factory=list)
    unknown: list[str] = Field(default_factory=list)  # problems a strict caller reports as 404

    def key(self) -> str:
        """Stable hash of what determines the selection (notes excluded)."""
        parts = self.model_dump(exclude={"notes", "unknown"})
        return hashlib.blake2b(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS), digest_size=12).hexdigest()

    def served(self) -> dict[str, Any]:
        """As answers carry it: what was inferred, without the request text the client sent
        and without the key the selection already states (echoes cost tokens on every answer);
        at most ``SERVED_FILES`` path files, with ``more_files`` counting the rest (a context
        naming no track matches every path file of a catalog)."""
        out = self.model_dump(mode="json", exclude_none=True, exclude={"request"})
        if len(self.files) > SERVED_FILES:
            out["files"], out["more_files"] = self.files[:SERVED_FILES], len(self.files) - SERVED_FILES
        return out


def normalize_request(text: str | None) -> str | None:
    if not text:
        return None
    return _WS.sub(" ", text.strip().lower()) or None
