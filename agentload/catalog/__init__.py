"""The catalog: a BMad tree's agents, workflow paths and levels, read from its own files."""

from agentload.catalog.models import (
    Agent,
    Catalog,
    CatalogError,
    MenuItem,
    PathFile,
    PathPhase,
    PathWorkflow,
    WorkflowInfo,
)
from agentload.catalog.reader import ParseCache, catalog_files, discover, load_catalog

__all__ = [
    "Agent",
    "Catalog",
    "CatalogError",
    "MenuItem",
    "ParseCache",
    "PathFile",
    "PathPhase",
    "PathWorkflow",
    "WorkflowInfo",
    "catalog_files",
    "discover",
    "load_catalog",
]
