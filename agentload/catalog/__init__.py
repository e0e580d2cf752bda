"""The catalog: a BMad tree's agents, workflow paths and levels, read from its own files."""

from agentload.catalog.layouts import Discovery, discover
from agentload.catalog.models import (
    Agent,
    Catalog,
    CatalogError,
    Layout,
    MenuItem,
    PathFile,
    PathPhase,
    PathWorkflow,
    WorkflowInfo,
    WorkItem,
)
from agentload.catalog.reader import EmptyCatalog, ParseCache, catalog_files, load_catalog, require_agents

__all__ = [
    "Agent",
    "Catalog",
    "CatalogError",
    "Discovery",
    "EmptyCatalog",
    "Layout",
    "MenuItem",
    "ParseCache",
    "PathFile",
    "PathPhase",
    "PathWorkflow",
    "WorkflowInfo",
    "WorkItem",
    "catalog_files",
    "discover",
    "load_catalog",
    "require_agents",
]
