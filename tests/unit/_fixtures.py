"""Shared helpers for the catalog / selection unit tests (not a conftest: plain imports).

The real catalog and selector are built once per process (``lru_cache``) and handed to tests
through module-scoped fixtures, so the whole set stays fast. Nothing here mutates them.
"""

from __future__ import annotations

import json
import shutil
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from agentload.catalog import Catalog, load_catalog
from agentload.selection.engine import Selector

REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLED = REPO_ROOT / "data" / "bmad-method-v6"
SHARED = (REPO_ROOT / ".." / "shared").resolve()
SHARED_CATALOG = SHARED / "bmad-method-v6"
# the suites laid beside the repository when present, else the copy bundled under data/
SCENARIOS = SHARED / "scenarios" if (SHARED / "scenarios").is_dir() else REPO_ROOT / "data" / "scenarios"
STRUCTURED = SCENARIOS / "bmm-structured.jsonl"
REQUESTS = SCENARIOS / "bmm-requests.jsonl"

BMM_AGENTS = "src/modules/bmm/agents"
PATHS_DIR = "src/modules/bmm/workflows/workflow-status/paths"


@lru_cache(maxsize=4)
def catalog_at(root: str) -> Catalog:
    return load_catalog(Path(root))


@lru_cache(maxsize=4)
def selector_at(root: str) -> Selector:
    return Selector(catalog_at(root))


def bundled_catalog() -> Catalog:
    return catalog_at(str(BUNDLED))


def bundled_selector() -> Selector:
    return selector_at(str(BUNDLED))


def require(path: Path, what: str) -> Path:
    """``path`` if it exists, else skip the calling test with a clear reason."""
    if not path.exists():
        pytest.skip(f"{what} not found at {path} (expected next to the repo in ../shared)")
    return path


def read_suite(path: Path) -> list[dict[str, Any]]:
    require(path, f"scenario suite {path.name}")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def copy_catalog(dest: Path, source: Path = BUNDLED) -> Path:
    """A private, writable copy of a catalog tree (for tests that add or break files)."""
    root = dest / "catalog"
    shutil.copytree(source, root, symlinks=True)
    return root


def path_workflow_ids(catalog: Catalog) -> list[str]:
    return sorted({w.id for p in catalog.paths for ph in p.phases for w in ph.workflows})


def path_owners(catalog: Catalog, workflow_id: str) -> set[str]:
    return {
        w.agent
        for p in catalog.paths
        for ph in p.phases
        for w in ph.workflows
        if w.id == workflow_id and w.agent
    }


def minimal_agent_yaml(title: str = "Example Agent", menu: str = "") -> str:
    """The smallest file the agent parser accepts, with an optional raw ``menu:`` block."""
    return (
        "agent:\n"
        "  metadata:\n"
        f'    name: "Example"\n'
        f'    title: "{title}"\n'
        '    icon: "*"\n'
        "  persona:\n"
        '    role: "Example role"\n'
        '    identity: "Example identity"\n'
        '    communication_style: "plain"\n'
        '    principles: "keep it simple"\n'
        + (f"  menu:\n{menu}" if menu else "")
    )
