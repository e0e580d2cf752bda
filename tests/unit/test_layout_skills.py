"""BMad v6.2+ Agent Skills trees: agents and workflow skills read by structure, their files and
step order. Real trees from ``data/bmad-layouts``; hand-written skills in ``tmp_path``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agentload.catalog.files import read_text
from agentload.catalog.models import Agent, WorkItem
from agentload.catalog.skills import (
    is_agent_skill,
    next_step_file,
    parse_agent_skill,
    parse_workflow_skill,
    split_frontmatter,
    work_files,
)

REPO = Path(__file__).resolve().parents[2]
LAYOUTS = REPO / "data" / "bmad-layouts"
INSTALLED = LAYOUTS / "v6.12.0-installed"
SOURCE = LAYOUTS / "v6.12.0-source"
V604 = LAYOUTS / "v6.0.4-installed"
CREATE_PRD = "_bmad/bmm/workflows/2-plan-workflows/create-prd"


def _read_tree(root: Path, skill_mds: list[Path]) -> tuple[list[Agent], list[WorkItem]]:
    """Every skill folder under ``root`` parsed the way the catalog does it."""
    agents: list[Agent] = []
    skills: list[WorkItem] = []
    for skill_md in sorted(skill_mds):
        folder = skill_md.parent.relative_to(root).as_posix()
        custom_path = skill_md.parent / "customize.toml"
        custom = read_text(root, custom_path) if custom_path.is_file() else None
        text = read_text(root, skill_md)
        if is_agent_skill(folder, custom):
            agents.append(parse_agent_skill(folder, "m", text, custom))
        else:
            skills.append(parse_workflow_skill(folder, "m", text, work_files(root, f"{folder}/SKILL.md")))
    return agents, skills


@pytest.fixture(scope="module")
def installed() -> tuple[list[Agent], list[WorkItem]]:
    return _read_tree(INSTALLED, list((INSTALLED / ".claude" / "skills").glob("*/SKILL.md")))


@pytest.fixture(scope="module")
def source() -> tuple[list[Agent], list[WorkItem]]:
    return _read_tree(SOURCE, [p for d in (SOURCE / "src").glob("*-skills") for p in d.rglob("SKILL.md")])


@pytest.mark.parametrize(
    ("tree", "n_agents", "n_skills", "skill_tokens"),
    [("installed", 5, 24, 47_277), ("source", 5, 45, 66_183)],
)
def test_given_a_skills_tree_when_read_then_agent_and_skill_counts_and_tokens_match_the_readme(
    tree: str, n_agents: int, n_skills: int, skill_tokens: int, request: pytest.FixtureRequest
) -> None:
    agents, skills = request.getfixturevalue(tree)
    assert len(agents) == n_agents
    assert sum(a.tokens for a in agents) == 4_944
    assert len(skills) == n_skills
    assert sum(s.tokens for s in skills) == skill_tokens
    assert all(s.kind == "skill" and s.name and s.entry_file and s.excerpt for s in skills)
    assert len({a.id for a in agents} | {s.id for s in skills}) == n_agents + n_skills


@pytest.mark.parametrize("tree", ["installed", "source"])
def test_given_agent_skills_when_parsed_then_persona_and_menu_come_from_customize_toml(
    tree: str, request: pytest.FixtureRequest
) -> None:
    agents, skills = request.getfixturevalue(tree)
    skill_ids = {s.id for s in skills}
    for agent in agents:
        assert agent.layout == "skills" and agent.path.endswith("/SKILL.md")
        assert agent.files == [agent.path.removesuffix("SKILL.md") + "customize.toml"]
        assert agent.name and agent.title and agent.icon and agent.description
        assert agent.persona.role and agent.persona.identity and "\n" in agent.persona.principles
        assert agent.menu, agent.id
        for item in agent.menu:
            assert item.code and item.trigger == item.code and item.description
            assert item.target_kind in {"skill", "prompt"}
            if item.target_kind == "skill":
                assert item.name == item.target == item.work_item
                assert item.target in skill_ids, f"{agent.id} names missing skill {item.target}"
            else:
                assert item.name == item.code.lower() and item.work_item is None and item.target
    kinds = {m.target_kind for a in agents for m in a.menu}
    assert kinds == {"skill", "prompt"}  # the data has both: prompt items forward to another skill


def test_given_a_skill_with_references_when_listing_work_files_then_all_its_files_and_nothing_else() -> None:
    skills_dir = INSTALLED / ".claude" / "skills"
    folder = next(d for d in sorted(skills_dir.iterdir()) if (d / "references").is_dir())
    rel_folder = folder.relative_to(INSTALLED).as_posix()
    files = work_files(INSTALLED, f"{rel_folder}/SKILL.md")
    on_disk = sorted(p.relative_to(INSTALLED).as_posix() for p in folder.rglob("*")
                     if p.is_file() and p.name not in {"SKILL.md", "customize.toml"})
    assert files == on_disk
    assert any("/references/" in f for f in files)
    assert all(f.startswith(rel_folder + "/") for f in files)


@pytest.mark.parametrize(
    ("entry", "steps"),
    [("workflow-create-prd.md", "steps-c"), ("workflow-validate-prd.md", "steps-v"),
     ("workflow-edit-prd.md", "steps-e")],
)
def test_given_workflows_sharing_a_folder_when_listing_work_files_then_each_gets_its_own_steps(
    entry: str, steps: str
) -> None:
    files = work_files(V604, f"{CREATE_PRD}/{entry}")
    own = sorted(p.relative_to(V604).as_posix() for p in (V604 / CREATE_PRD / steps).iterdir())
    assert set(own) <= set(files)
    step_dirs = {f.split("/")[-2] for f in files if re.search(r"/steps[^/]*/", f)}
    assert step_dirs == {steps}
    assert not any(re.search(r"/workflow[^/]*\.md$", f) for f in files)


def test_given_a_workflow_owning_its_folder_when_listing_work_files_then_siblings_are_included() -> None:
    root = REPO / "data" / "bmad-method-v6"
    entry = next(p for p in sorted(root.rglob("workflow.yaml")) if (p.parent / "instructions.md").is_file())
    files = work_files(root, entry.relative_to(root).as_posix())
    assert entry.parent.relative_to(root).as_posix() + "/instructions.md" in files
    assert entry.relative_to(root).as_posix() not in files


def test_given_a_step_file_workflow_when_walking_next_steps_then_steps_come_in_order_to_the_end() -> None:
    base = V604 / "_bmad" / "bmm" / "workflows"
    steps_dir = sorted(d for d in base.rglob("steps*") if d.is_dir())[0]
    entry = next(p for p in sorted(steps_dir.parent.iterdir()) if re.match(r"workflow.*\.md$", p.name))
    walk: list[str] = []
    current = next_step_file(V604, entry.relative_to(V604).as_posix(), None)
    while current is not None and len(walk) < 50:
        walk.append(current)
        current = next_step_file(V604, entry.relative_to(V604).as_posix(), current)
    numbered = sorted(steps_dir.iterdir(), key=lambda p: p.name)
    assert len(walk) >= 3
    assert walk[0] == numbered[0].relative_to(V604).as_posix()
    assert walk[-1] == numbered[-1].relative_to(V604).as_posix()
    names = [Path(w).name for w in walk]
    assert names == sorted(names) and len(set(names)) == len(names)
    assert all(Path(w).parent == steps_dir.relative_to(V604) for w in walk)


# --- hand-written skills ------------------------------------------------------------------------

SKILL = "---\nname: {name}\ndescription: Does a thing\n---\n\n# Ada — Test Lead\n\nBody text.\n"
AGENT_TOML = """[agent]
icon = "🧪"
role = "Tests"
principles = ["one", "two"]

[[agent.menu]]
code = "TR"
description = "Run the tests"
prompt = "Run every test and report."
"""


def test_given_a_prompt_only_menu_when_parsing_an_agent_skill_then_the_item_is_a_prompt() -> None:
    agent = parse_agent_skill("x/tester", "core", SKILL.format(name="tester"), AGENT_TOML)
    assert (agent.id, agent.name, agent.title, agent.icon) == ("tester", "Ada", "Test Lead", "🧪")
    assert agent.persona.principles == "one\ntwo"
    [item] = agent.menu
    assert (item.code, item.trigger, item.name, item.target_kind) == ("TR", "TR", "tr", "prompt")
    assert item.target == "Run every test and report." and item.work_item is None


def test_given_no_customize_toml_when_deciding_then_an_agents_parent_makes_an_agent(tmp_path: Path) -> None:
    folder = tmp_path / "src" / "agents" / "helper"
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text(SKILL.format(name="helper"), encoding="utf-8")
    assert is_agent_skill("src/agents/helper", None)
    assert not is_agent_skill("src/plan/helper", None)
    assert not is_agent_skill("src/agents/helper", '[workflow]\nname = "w"\n')
    assert is_agent_skill("src/plan/helper", '[agent]\nname = "A"\n')
    agent = parse_agent_skill("src/agents/helper", "core", SKILL.format(name="helper"), None)
    assert agent.files == [] and agent.menu == [] and agent.name == "Ada"


def test_given_broken_toml_when_deciding_or_parsing_then_value_error() -> None:
    with pytest.raises(ValueError, match="TOML"):
        is_agent_skill("a/b", "[agent\nname = ")
    with pytest.raises(ValueError, match="TOML"):
        parse_agent_skill("a/b", "m", SKILL.format(name="b"), "name = = 1")


def test_given_frontmatter_without_name_when_parsing_then_value_error() -> None:
    text = "---\ndescription: nameless\n---\n# X\n"
    with pytest.raises(ValueError, match="name"):
        parse_agent_skill("a/b", "m", text, AGENT_TOML)
    with pytest.raises(ValueError, match="name"):
        parse_workflow_skill("a/b", "m", text, [])


def test_given_various_headers_when_splitting_frontmatter_then_mapping_and_body() -> None:
    assert split_frontmatter("# no header\n") == ({}, "# no header\n")
    assert split_frontmatter("---\nname: a\n---\nbody\n") == ({"name": "a"}, "body\n")
    assert split_frontmatter("---\n---\nbody") == ({}, "body")
    with pytest.raises(ValueError, match="mapping"):
        split_frontmatter("---\n- a\n- b\n---\nbody")


def test_given_a_symlink_leaving_the_root_when_listing_work_files_then_it_is_not_listed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("secret", encoding="utf-8")
    root = tmp_path / "root"
    skill = root / "skills" / "demo"
    (skill / "references").mkdir(parents=True)
    (skill / "SKILL.md").write_text(SKILL.format(name="demo"), encoding="utf-8")
    (skill / "references" / "guide.md").write_text("guide", encoding="utf-8")
    (skill / "customize.toml").write_text('[workflow]\nname = "demo"\n', encoding="utf-8")
    (skill / ".hidden.md").write_text("hidden", encoding="utf-8")
    (skill / "leak.md").symlink_to(outside / "secret.md")
    (skill / "leakdir").symlink_to(outside, target_is_directory=True)
    assert work_files(root, "skills/demo/SKILL.md") == ["skills/demo/references/guide.md"]
    assert work_files(root, "skills/demo/SKILL.md", limit=0) == []
    assert work_files(root, "skills/missing/SKILL.md") == []


def test_given_hand_written_steps_when_walking_then_frontmatter_text_and_numeric_order_are_followed(
    tmp_path: Path,
) -> None:
    steps = tmp_path / "wf" / "steps"
    steps.mkdir(parents=True)
    (tmp_path / "wf" / "workflow.md").write_text("Start with `{installed_path}/steps/step-01-a.md`.\n")
    (steps / "step-01-a.md").write_text("---\nnextStepFile: './step-03-c.md'\n---\nStep one\n")
    (steps / "step-02-b.md").write_text("Step two\n")
    (steps / "step-03-c.md").write_text("Then load `./step-04-d.md` to go on.\n")
    (steps / "step-04-d.md").write_text("Step four, no pointer\n")
    (steps / "step-05-e.md").write_text("The end. Go back to step-01-a.md if needed.\n")
    walk, current = [], next_step_file(tmp_path, "wf/workflow.md", None)
    while current is not None:
        walk.append(Path(current).name)
        current = next_step_file(tmp_path, "wf/workflow.md", current)
    assert walk == ["step-01-a.md", "step-03-c.md", "step-04-d.md", "step-05-e.md"]
