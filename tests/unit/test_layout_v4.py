"""BMad v4 reader: agents (markdown + one YAML block), their commands, tasks and workflows.

Real trees come from ``data/bmad-layouts``; hand-written inputs use made-up names so that
nothing here ties the reader to the ids or words of one release.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agentload.catalog.models import Agent
from agentload.catalog.v4 import V4Agent, parse_v4_agent, parse_v4_workflow, read_v4_agent, v4_work_items

LAYOUTS = Path(__file__).resolve().parents[2] / "data" / "bmad-layouts"
TREES = {  # folder -> (tree base relative to the folder, README token total)
    "v4.44.3-source": ("bmad-core", 12_584),
    "v4.44.3-installed": (".bmad-core", 12_616),
}


def load_tree(folder: str) -> tuple[Path, str, dict[str, V4Agent]]:
    root = LAYOUTS / folder
    base = TREES[folder][0]
    read = {}
    for file in sorted((root / base / "agents").glob("*.md")):
        parsed = read_v4_agent(file.relative_to(root).as_posix(), "bmad-core", file.read_text("utf-8"), base)
        read[parsed.agent.id] = parsed
    return root, base, read


@pytest.mark.parametrize("folder", sorted(TREES))
def test_given_a_v4_tree_when_every_agent_is_parsed_then_ids_are_stems_and_tokens_match_readme(folder: str) -> None:
    root, base, read = load_tree(folder)
    stems = sorted(f.stem for f in (root / base / "agents").glob("*.md"))
    assert len(read) == 10
    assert sorted(read) == stems
    assert sum(r.agent.tokens for r in read.values()) == TREES[folder][1]
    for r in read.values():
        assert r.agent.layout == "v4"
        assert r.agent.path == f"{base}/agents/{r.agent.id}.md"
        assert r.agent.text == (root / r.agent.path).read_text("utf-8")
        assert r.agent.menu, "every shipped agent has commands"
        assert all(m.trigger == f"*{m.name}" and m.name == m.name.lower() for m in r.agent.menu)


@pytest.mark.parametrize("folder", sorted(TREES))
def test_given_the_pm_agent_when_parsed_then_task_commands_point_at_its_dependency_files(folder: str) -> None:
    root, base, read = load_tree(folder)
    pm = read["pm"]  # picked by file name: agents/pm.md
    running = [m for m in pm.agent.menu if m.work_item]
    assert running, "pm runs tasks"
    declared = {p for paths in pm.deps.values() for p in paths}
    for item in running:
        assert item.target_kind == "task"
        assert item.work_item == item.name
        assert item.workflow_file in declared
        assert item.workflow_file.startswith(f"{base}/")
    on_disk = [m for m in running if (root / str(m.workflow_file)).is_file()]
    assert on_disk
    if folder.endswith("installed"):  # an install copies every dependency into the tree
        assert on_disk == running
    names = {m.name for m in pm.agent.menu}
    assert {"help", "exit"} <= names, "meta commands are kept"


def test_given_the_installed_tree_when_work_items_are_built_then_each_runs_a_declared_task() -> None:
    root, _, read = load_tree("v4.44.3-installed")
    items = v4_work_items([r.agent for r in read.values()], {k: r.deps for k, r in read.items()})
    assert items
    for item in items.values():
        assert item.kind == "task" and item.phase is None and item.owners
        assert item.entry_file and (root / item.entry_file).is_file()
        assert all((root / f).is_file() for f in item.files)
        for owner in item.owners:
            assert item.id in {m.work_item for m in read[owner].agent.menu}
    shared = [i for i in items.values() if len(i.owners) > 1]
    assert shared, "commands of the same name on several agents merge their owners"


@pytest.mark.parametrize("folder", sorted(TREES))
def test_given_each_v4_workflow_when_parsed_then_steps_name_known_agents_and_their_commands(folder: str) -> None:
    root, base, read = load_tree(folder)
    agents = {k: r.agent for k, r in read.items()}
    deps = {k: r.deps for k, r in read.items()}
    files = sorted((root / base / "workflows").glob("*.yaml"))
    assert len(files) == 6
    for file in files:
        path = file.relative_to(root).as_posix()
        parsed = parse_v4_workflow(path, file.read_text("utf-8"), agents, deps)
        assert parsed.file == path and parsed.stem == file.stem
        assert parsed.track and parsed.field_type in {"greenfield", "brownfield"} and parsed.method_name
        [phase] = parsed.phases
        steps = phase.workflows
        assert steps
        assert len({s.id for s in steps}) == len(steps)
        assert all(s.agent in agents for s in steps)
        assert all(s.kind in {"required", "optional", "conditional"} for s in steps)
        assert all(s.kind == "optional" for s in steps if s.condition)  # conditions make a step optional
        matched = [s for s in steps if s.id in {m.name for m in agents[str(s.agent)].menu}]
        assert matched, f"{path}: no step maps to a command"
        for step in matched:
            assert step.command is not None and step.workflow_file


MADE_UP_AGENT = """\
# zed

Some prose before the block.

```yaml
activation-instructions:
  - read this file
agent:
  name: Zed
  id: not-the-file-stem
  title: Widget Smith
  icon: "*"
  whenToUse: Use for forging widgets
  customization: null
persona:
  role: Smith
  style: Terse
  identity: Forger of widgets
  focus: Widgets only
  core_principles:
    - Measure twice
    - Cut once
commands:
  - help: Show commands
  - forge-widget {size}: run task hammer-out.md with template widget-mold.yaml
  - "polish: execute the buff-surface task"
  - inspect:
      description: Run task check-all (checklist widget-audit)
  - sing: Hum a tune from an unknown-score.md sheet
  - dance:
      - step left
      - run task hammer-out.md
  - exit: Leave
dependencies:
  tasks:
    - hammer-out.md
    - buff-surface.md
    - check-all.md
  templates:
    - widget-mold.yaml
  checklists:
    - widget-audit.md
```
"""


def test_given_a_made_up_agent_with_all_command_shapes_when_parsed_then_each_command_is_read() -> None:
    parsed = read_v4_agent("packs/forge/agents/zed.md", "forge", MADE_UP_AGENT, "packs/forge")
    agent = parsed.agent
    assert (agent.id, agent.module, agent.name, agent.title, agent.icon) == ("zed", "forge", "Zed", "Widget Smith", "*")
    assert agent.description == "Use for forging widgets"
    assert agent.persona.communication_style == "Terse"
    assert agent.persona.principles == "Widgets only\nMeasure twice\nCut once"
    assert agent.text == MADE_UP_AGENT and agent.tokens > 0
    menu = {m.name: m for m in agent.menu}
    assert list(menu) == ["help", "forge-widget", "polish", "inspect", "sing", "dance", "exit"]
    assert menu["forge-widget"].trigger == "*forge-widget"
    assert menu["forge-widget"].workflow_file == "packs/forge/tasks/hammer-out.md"
    assert menu["forge-widget"].target == "hammer-out.md"
    assert menu["polish"].workflow_file == "packs/forge/tasks/buff-surface.md"
    assert menu["polish"].description == "execute the buff-surface task"
    assert menu["inspect"].workflow_file == "packs/forge/tasks/check-all.md"
    assert menu["inspect"].work_item == "inspect"
    assert menu["sing"].workflow_file is None, "files outside the agent's dependencies do not resolve"
    assert menu["dance"].target_kind == "action" and menu["dance"].workflow_file is None
    assert menu["help"].target_kind == "" and menu["exit"].work_item is None
    assert parsed.deps["templates"] == ["packs/forge/templates/widget-mold.yaml"]
    assert parse_v4_agent("packs/forge/agents/zed.md", "forge", MADE_UP_AGENT, "packs/forge") == agent

    items = v4_work_items([agent], {"zed": parsed.deps})
    assert sorted(items) == ["forge-widget", "inspect", "polish"]
    assert items["forge-widget"].files == ["packs/forge/templates/widget-mold.yaml"]
    assert items["inspect"].files == ["packs/forge/checklists/widget-audit.md"]
    assert items["polish"].owners == ["zed"] and items["polish"].module == "forge"


def test_given_commands_as_a_plain_mapping_when_parsed_then_every_key_is_a_command() -> None:
    text = "```yaml\nagent:\n  name: Q\ncommands:\n  ask: Ask a question\n  quit: Leave\n```\n"
    agent = parse_v4_agent("t/agents/q.md", "t", text, "t")
    assert [m.trigger for m in agent.menu] == ["*ask", "*quit"]


@pytest.mark.parametrize(
    "text",
    [
        "# just prose, no block\nagent:\n  name: X\n",
        "```yaml\n- agent\n- persona\n```\n",
        "```yaml\nagent: a string, not a mapping\n```\n",
        "```yaml\nagent: [unclosed\n```\n",
    ],
    ids=["no-block", "yaml-list", "agent-not-mapping", "broken-yaml"],
)
def test_given_malformed_agent_files_when_parsed_then_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_v4_agent("t/agents/bad.md", "t", text, "t")


def _made_up_agents() -> tuple[dict[str, Agent], dict[str, dict[str, list[str]]]]:
    parsed = read_v4_agent("packs/forge/agents/zed.md", "forge", MADE_UP_AGENT, "packs/forge")
    return {"zed": parsed.agent}, {"zed": parsed.deps}


WORKFLOW = """\
workflow:
  id: forge-flow
  name: Forge Flow
  description: Make widgets.
  type: greenfield
  sequence:
    - agent: zed
      creates: widget.md
      uses: widget-mold
      notes: "Forge it."
    - agent: various
      updates: everything
    - agent: nobody/zed
      action: buff_surface
      notes: "optional: shine"
    - agent: zed
      updates: widget.md (if needed)
      uses: widget-mold
      condition: needs_rework
    - agent: zed
      action: paint_it_red
      notes: "This step is OPTIONAL for some."
    - step: routing
      condition: by_size
      routes:
        small:
          agent: zed
          uses: widget-audit
        large:
          continue: to_next_step
    - step: workflow_end
      action: done
"""


def test_given_a_made_up_workflow_when_parsed_then_steps_map_to_commands_and_various_is_skipped() -> None:
    agents, deps = _made_up_agents()
    parsed = parse_v4_workflow("packs/forge/workflows/forge-flow.yaml", WORKFLOW, agents, deps)
    assert (parsed.track, parsed.field_type, parsed.method_name, parsed.stem) == (
        "forge-flow", "greenfield", "Forge Flow", "forge-flow")
    steps = parsed.phases[0].workflows
    assert [s.id for s in steps] == ["forge-widget", "polish", "forge-widget-2", "paint-it-red", "inspect"]
    assert all(s.agent == "zed" for s in steps), "'various' and the agentless end step are skipped"
    assert [s.kind for s in steps] == ["required", "optional", "optional", "required", "optional"]
    assert [bool(s.condition) for s in steps] == [False, False, True, False, True]
    assert steps[2].condition == "needs_rework"
    assert steps[0].command == "forge-widget" and steps[3].command is None
    assert steps[0].workflow_file == "packs/forge/tasks/hammer-out.md"
    assert "Forge it." in steps[0].text and "widget.md" in steps[0].text


def test_given_a_workflow_without_sequence_when_parsed_then_value_error() -> None:
    agents, _ = _made_up_agents()
    for text in ("workflow:\n  id: x\n", "- a\n- b\n", "workflow:\n  sequence: not-a-list\n"):
        with pytest.raises(ValueError):
            parse_v4_workflow("w.yaml", text, agents)


@pytest.mark.parametrize("folder", sorted(TREES))
def test_given_only_parsed_agents_when_work_items_and_workflows_are_built_then_results_match_explicit_deps(
    folder: str,
) -> None:
    """Callers that cache plain ``Agent`` objects need not keep the dependency maps."""
    root, base, read = load_tree(folder)
    agents = {k: r.agent for k, r in read.items()}
    deps = {k: r.deps for k, r in read.items()}
    assert v4_work_items(list(agents.values())) == v4_work_items(list(agents.values()), deps)
    for file in sorted((root / base / "workflows").glob("*.yaml")):
        text = file.read_text("utf-8")
        assert parse_v4_workflow(file.name, text, agents) == parse_v4_workflow(file.name, text, agents, deps)
