"""Every BMad tree users have loads: discovery, counts, versions and structured selection.

Expectations come from the trees' README (agent counts, token totals) and from each layout's
own ordering files (help tables, v4 workflow sequences): no agent or workflow is named here.
"""

from __future__ import annotations

import shutil
from functools import lru_cache
from pathlib import Path

import pytest

from agentload.catalog import Catalog, EmptyCatalog, discover, load_catalog, require_agents
from agentload.context import Context, norm_id
from agentload.measure.evaluation import evaluate_one
from agentload.selection.engine import Selector
from agentload.selection.team import TeamFacts

REPO = Path(__file__).resolve().parents[2]
LAYOUTS = REPO / "data" / "bmad-layouts"

# folder -> (layout kind, version, agents, agent tokens, workflow skills, skill entry tokens): README.md
TREES = {
    "v4.44.3-source": ("v4", None, 10, 12_584, 0, 0),
    "v4.44.3-installed": ("v4", "4.44.3", 10, 12_616, 0, 0),
    "v6.0.4-source": ("v6-source", None, 10, 4_936, 0, 0),
    "v6.0.4-installed": ("v6-installed", "6.0.4", 10, 13_090, 0, 0),
    "v6.12.0-source": ("skills-source", None, 5, 4_944, 45, 66_183),
    "v6.12.0-installed": ("skills-installed", "6.12.0", 5, 4_944, 24, 47_277),
}


@lru_cache(maxsize=8)
def tree(name: str) -> Catalog:
    return load_catalog(LAYOUTS / name)


@lru_cache(maxsize=8)
def selector(name: str) -> Selector:
    return Selector(tree(name))


@pytest.mark.parametrize("name", sorted(TREES))
def test_given_each_real_tree_when_loading_then_counts_tokens_and_version_match_its_readme(name: str) -> None:
    kind, version, n_agents, agent_tokens, n_skills, skill_tokens = TREES[name]
    cat = tree(name)
    assert [lay.kind for lay in cat.layouts] == [kind]
    assert cat.layouts[0].version == version
    assert len(cat.agents) == n_agents and cat.layouts[0].agents == n_agents
    assert sum(a.tokens for a in cat.agents.values()) == agent_tokens
    assert len(cat.skills) == n_skills and sum(s.tokens for s in cat.skills.values()) == skill_tokens
    assert cat.baseline_tokens == agent_tokens + skill_tokens
    assert cat.errors == []


def test_given_bundled_alpha_tree_when_loading_then_it_is_one_v6_source_layout() -> None:
    cat = load_catalog(REPO / "data" / "bmad-method-v6")
    assert [lay.kind for lay in cat.layouts] == ["v6-source"] and len(cat.agents) == 10


@pytest.mark.parametrize("name", ["v4.44.3-installed", "v6.0.4-installed", "v6.12.0-installed"])
def test_given_project_root_with_own_src_and_docs_when_discovering_then_only_bmad_folders_are_catalog(
    tmp_path: Path, name: str,
) -> None:
    """Given an installed tree inside a project that also has src/ (with an agents/ folder of
    its own), docs/ and a user's own tool skill, when discovered, then the catalog is the same
    as the tree alone and no project file is part of it."""
    project = tmp_path / "project"
    shutil.copytree(LAYOUTS / name, project, symlinks=True)
    (project / "src" / "app" / "agents").mkdir(parents=True)
    (project / "src" / "app" / "agents" / "router.md").write_text("# our HTTP agents\n```yaml\nagent:\n  x: 1\n```\n")
    (project / "src" / "app" / "main.py").write_text("print('hello')\n")
    (project / "docs").mkdir()
    (project / "docs" / "prd.md").write_text("# PRD\n")
    (project / ".claude" / "skills" / "our-deploy").mkdir(parents=True)
    (project / ".claude" / "skills" / "our-deploy" / "SKILL.md").write_text("---\nname: our-deploy\n---\nDeploy.\n")
    found = discover(project)
    assert not [f for f in found.files() if f.startswith(("src/", "docs/")) or "our-deploy" in f]
    cat = load_catalog(project)
    assert set(cat.agents) == set(tree(name).agents)
    assert set(cat.work_items) == set(tree(name).work_items)


def test_given_folder_without_bmad_when_requiring_agents_then_error_names_root_and_what_was_searched(
    tmp_path: Path,
) -> None:
    (tmp_path / "src" / "app").mkdir(parents=True)
    (tmp_path / "src" / "app" / "main.py").write_text("x = 1\n")
    with pytest.raises(EmptyCatalog) as err:
        require_agents(load_catalog(tmp_path))
    assert str(tmp_path) in str(err.value) and "_bmad" in str(err.value) and ".bmad-core" in str(err.value)


def test_given_installed_tree_pointed_at_directly_when_loading_then_same_agents(tmp_path: Path) -> None:
    cat = load_catalog(LAYOUTS / "v6.0.4-installed" / "_bmad")
    assert set(cat.agents) == set(tree("v6.0.4-installed").agents)


# --------------------------------------------------------------------------- structured selection
def _help_rows(name: str) -> list[tuple[str, str, str | None, str | None]]:
    """(phase label, work id, owner, kind) of every phase row of the tree's help tables."""
    return [(ph.name, w.id, w.agent, w.kind) for p in tree(name).paths if p.track is None
            for ph in p.phases for w in ph.workflows]


HELP_TREES = ["v6.0.4-source", "v6.0.4-installed", "v6.12.0-source", "v6.12.0-installed"]


@pytest.mark.parametrize("name", HELP_TREES)
def test_given_help_table_work_as_next_workflow_when_selecting_then_its_owner_and_skill_are_loaded(
    name: str,
) -> None:
    rows = [r for r in _help_rows(name) if r[2]]
    assert rows
    for _, wid, owner, _ in rows:
        sel = selector(name).select(Context(next_workflow=wid))
        assert owner in sel.agent_ids, (wid, sel.agent_ids, sel.notes)
        if wid in tree(name).skills:
            assert wid in sel.skill_ids


@pytest.mark.parametrize("name", HELP_TREES)
def test_given_phase_by_number_or_name_when_selecting_then_owners_of_its_required_work_are_loaded(
    name: str,
) -> None:
    phases: dict[str, set[str]] = {}
    for label, _, owner, kind in _help_rows(name):
        if kind == "required" and owner:
            phases.setdefault(label, set()).add(owner)
    assert phases
    for label, owners in phases.items():
        for value in {label, label.split("-", 1)[-1]} | ({int(label.split("-")[0])} if label[0].isdigit() else set()):
            sel = selector(name).select(Context(track="bmad-method", phase=value))
            assert owners <= set(sel.agent_ids), (value, sel.agent_ids, sel.notes)


@pytest.mark.parametrize("name", HELP_TREES)
def test_given_history_along_the_help_order_when_selecting_then_next_required_work_is_inferred(name: str) -> None:
    """The required work in the help tables' own order: with everything before it done, the
    next one is inferred and its owner loaded."""
    cat = tree(name)
    seq = next(p.sequence for p in cat.paths if p.sequence)
    rows = {w.id: w for p in cat.paths for ph in p.phases for w in ph.workflows}
    required = [w for w in seq if rows[w].kind == "required"]
    assert len(required) >= 2
    for i in range(1, len(required)):
        sel = selector(name).select(Context(workflow_history=required[:i]))
        owner = rows[required[i]].agent
        assert any("inferred from the history" in n for n in sel.notes), sel.notes
        if owner:
            assert owner in sel.agent_ids, (required[:i], sel.agent_ids)


@pytest.mark.parametrize("name", ["v4.44.3-source", "v4.44.3-installed"])
def test_given_v4_sequence_when_selecting_by_track_or_history_then_step_agents_follow_the_sequence(
    name: str,
) -> None:
    cat = tree(name)
    for pf in cat.paths:
        steps = [w for ph in pf.phases for w in ph.workflows]
        start = selector(name).select(Context(track=pf.track))
        assert steps[0].agent in start.agent_ids, (pf.file, start.agent_ids, start.notes)
        required = [w for w in steps if w.kind == "required"]
        for i in range(1, len(required)):
            hist = [w.id for w in steps[: steps.index(required[i])]]
            sel = selector(name).select(Context(track=pf.track, workflow_history=hist))
            assert required[i].agent in sel.agent_ids, (pf.file, hist, sel.agent_ids, sel.notes)


def test_given_unknown_history_item_when_selecting_then_a_note_names_it() -> None:
    sel = selector("v6.0.4-installed").select(Context(workflow_history=["no-such-thing-xyz"]))
    assert any("no-such-thing-xyz" in n for n in sel.notes)


def test_given_unknown_phase_name_when_selecting_then_reported_as_unknown() -> None:
    sel = selector("v6.12.0-installed").select(Context(phase="no-such-phase"))
    assert any("no-such-phase" in u for u in sel.unknown)


# --------------------------------------------------------------------------- warnings, contract
def test_given_help_row_naming_missing_agent_when_loading_then_a_warning_names_file_and_item() -> None:
    cat = tree("v6.0.4-installed")
    agents = set(cat.agents)
    for w in cat.warnings:
        assert w.path and w.reason
    named = [w for w in cat.warnings if "names agent" in w.reason]
    assert named and all(not any(f"'{a}'" in w.reason.split("names agent")[1] for a in agents) for w in named)


def test_given_skill_menu_naming_uninstalled_skill_when_loading_then_warned(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    shutil.copytree(LAYOUTS / "v6.12.0-installed", root, symlinks=True)
    victim = next(s for s in tree("v6.12.0-installed").skills.values() if s.owners)
    shutil.rmtree(root / Path(victim.entry_file or "").parent)
    cat = load_catalog(root)
    assert any(victim.id in w.reason and "not installed" in w.reason for w in cat.warnings)


def test_given_skills_layout_when_evaluating_then_line_has_skills_layout_and_skill_tokens() -> None:
    sel = selector("v6.12.0-installed")
    skill = next(s for s in tree("v6.12.0-installed").skills.values() if s.owners)
    line = evaluate_one(sel, {"id": "x", "context": {"next_workflow": skill.id},
                              "required_agents": skill.owners[:1], "required_skills": [skill.id]})
    assert line["_recall_ok"] is True and line["layout"] == "skills-installed"
    assert line["skills"] == [skill.id]
    agent_tokens = sum(tree("v6.12.0-installed").agents[a].tokens for a in line["agents"])
    assert line["loaded_tokens"] == agent_tokens + skill.tokens
    full = sel.select(Context(next_workflow=skill.id), "full")
    assert full.loaded_tokens == line["baseline_tokens"] == tree("v6.12.0-installed").baseline_tokens
    assert norm_id(skill.id) in {norm_id(s) for s in full.skill_ids}


# --------------------------------------------------------------------------- more layouts
def test_given_v4_expansion_pack_when_discovering_then_its_agents_load_as_v4_expansion(tmp_path: Path) -> None:
    """An expansion pack is agents/*.md with a config.yaml (no core-config.yaml)."""
    pack = tmp_path / "proj" / ".bmad-game-dev"
    (pack / "agents").mkdir(parents=True)
    core = LAYOUTS / "v4.44.3-installed" / ".bmad-core" / "agents"
    for md in sorted(core.glob("*.md"))[:2]:
        (pack / "agents" / f"game-{md.name}").write_text(md.read_text())
    (pack / "config.yaml").write_text("name: bmad-game-dev\nversion: 1.2.3\n")
    cat = load_catalog(tmp_path / "proj")
    assert [(lay.kind, lay.version) for lay in cat.layouts] == [("v4-expansion", "1.2.3")]
    assert len(cat.agents) == 2 and all(a.startswith("game-") for a in cat.agents)


def test_given_skills_installed_for_another_tool_when_discovering_then_found_there_too(tmp_path: Path) -> None:
    """Installers write skills into each tool's own folder; the manifest says which are BMad's."""
    project = tmp_path / "proj"
    shutil.copytree(LAYOUTS / "v6.12.0-installed" / "_bmad", project / "_bmad")
    shutil.copytree(LAYOUTS / "v6.12.0-installed" / ".claude" / "skills", project / ".cursor" / "skills")
    cat = load_catalog(project)
    assert set(cat.agents) == set(tree("v6.12.0-installed").agents)
    assert set(cat.skills) == set(tree("v6.12.0-installed").skills)
    assert [(lay.kind, lay.path) for lay in cat.layouts] == [("skills-installed", ".cursor/skills")]


def test_given_source_tree_with_package_json_when_discovering_then_its_version_is_reported(tmp_path: Path) -> None:
    shutil.copytree(LAYOUTS / "v6.0.4-source" / "src", tmp_path / "repo" / "src")
    (tmp_path / "repo" / "package.json").write_text('{"name": "bmad-method", "version": "6.0.4"}\n')
    cat = load_catalog(tmp_path / "repo")
    assert [(lay.kind, lay.version, lay.version_source) for lay in cat.layouts] == [
        ("v6-source", "6.0.4", "package.json")]


def test_given_comma_joined_history_when_building_context_then_refused_with_how_to_fix() -> None:
    with pytest.raises(ValueError, match="repeat the query parameter"):
        Context(workflow_history=["create-prd,create-architecture"])


# --------------------------------------------------------------------------- found by a newcomer
def test_given_v4_tree_when_a_phase_number_is_asked_then_it_is_unknown_not_every_agent() -> None:
    sel = selector("v4.44.3-installed").select(Context(phase=1))
    assert "phase 1" in sel.unknown and len(sel.agents) <= 1


def test_given_v4_field_type_alone_when_selecting_then_the_first_step_of_its_sequences() -> None:
    cat = tree("v4.44.3-installed")
    firsts = {next(w.agent for ph in p.phases for w in ph.workflows if w.kind == "required")
              for p in cat.paths if p.field_type == "greenfield"}
    sel = selector("v4.44.3-installed").select(Context(field_type="greenfield"))
    assert len(firsts) == 1 and sel.agent_ids == sorted(firsts)


def test_given_menu_entry_on_most_menus_when_next_workflow_then_not_every_owner_is_loaded() -> None:
    sel = selector("v4.44.3-installed")
    generic = max(sel.resolver.menu_owners, key=lambda w: len(sel.resolver.menu_owners[w]))
    assert 2 * len(sel.resolver.menu_owners[generic]) > len(sel.catalog.agents)
    assert len(sel.select(Context(next_workflow=generic)).agents) <= 1


def test_given_skills_tree_when_context_says_nothing_then_its_help_skill_not_an_empty_answer() -> None:
    sel = selector("v6.12.0-installed")
    router = TeamFacts.build(sel.catalog).router_item
    assert router and sel.select(Context()).skill_ids == [router]


def test_given_unowned_skill_as_next_workflow_when_selecting_then_that_skill_is_loaded() -> None:
    sel = selector("v6.12.0-installed")
    for skill in (s for s in sel.catalog.skills.values() if not s.owners):
        got = sel.select(Context(next_workflow=skill.id))
        assert skill.id in got.skill_ids and not got.unknown, (skill.id, got.notes)


def test_given_compiled_agent_with_unreadable_block_when_loading_then_skipped_with_error(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    shutil.copytree(LAYOUTS / "v6.0.4-installed", root)
    victim = next(iter(sorted((root / "_bmad").glob("*/agents/*.md"))))
    victim.write_text('<agent id="x"><persona>unclosed')
    cat = load_catalog(root)
    assert victim.stem not in cat.agents
    assert any(e.path.endswith(victim.name) and "not readable XML" in e.reason for e in cat.errors)


def test_given_skill_with_broken_customize_toml_when_loading_then_error_and_menu_warning_say_so(
    tmp_path: Path,
) -> None:
    root = tmp_path / "proj"
    shutil.copytree(LAYOUTS / "v6.12.0-installed", root)
    victim = next(s for s in tree("v6.12.0-installed").skills.values() if s.owners)
    folder = Path(victim.entry_file or "").parent
    (root / folder / "customize.toml").write_text("x = [\n")
    cat = load_catalog(root)
    assert victim.id not in cat.skills
    assert any(f"{folder}/customize.toml" in e.reason for e in cat.errors)
    assert any(victim.id in w.reason and "failed to load" in w.reason for w in cat.warnings)


def test_given_tool_folder_without_skill_manifest_when_discovering_then_skills_reading_the_install_count(
    tmp_path: Path,
) -> None:
    """No manifest: a skill is BMad's because it reads {project-root}/_bmad/..., whatever its name."""
    project = tmp_path / "proj"
    shutil.copytree(LAYOUTS / "v6.12.0-installed" / ".claude", project / ".claude")
    skills = project / ".claude" / "skills"
    renamed = sorted(skills.iterdir())[0]
    renamed.rename(skills / "zz-renamed-by-user")
    (skills / "my-own").mkdir()
    (skills / "my-own" / "SKILL.md").write_text("---\nname: my-own\ndescription: deploys\n---\nRun make deploy.\n")
    cat = load_catalog(project)
    names = {f.rsplit("/", 2)[-2] for f in discover(project).skill_files}
    assert "zz-renamed-by-user" in names and "my-own" not in names
    assert len(cat.agents) == len(tree("v6.12.0-installed").agents)


def test_given_a_phase_asked_by_name_when_explaining_the_pick_then_the_reason_names_it_as_the_catalog_does() -> None:
    cat = tree("v6.12.0-installed")
    named = [ph.name for p in cat.paths for ph in p.phases if ph.name and not ph.name[0].isdigit()]
    assert named
    sel = selector("v6.12.0-installed").select(Context(phase=named[0]))
    details = [r.detail for a in sel.agents for r in a.reasons if r.rule.startswith("path:phase")]
    assert details and all(d.endswith(f"phase {named[0]}") for d in details), details
