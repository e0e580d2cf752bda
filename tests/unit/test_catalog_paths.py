"""Path-file variants, module-help tables, level tables and workflow references."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from _fixtures import BUNDLED, PATHS_DIR, copy_catalog

from agentload.catalog import load_catalog
from agentload.catalog.paths import parse_levels, parse_module_help, parse_path_file
from agentload.catalog.workflows import read_workflow, resolve_ref, short_name
from agentload.context import Context
from agentload.selection.engine import Selector

MODULES = {"bmm": "src/modules/bmm", "core": "src/core"}


def resolver(ref: str) -> str | None:
    return resolve_ref(ref, MODULES)


VARIANT_FROM_ONE = """\
method_name: "Variant"
track: "variant-track"
field_type: "greenfield"
phases:
  - phase: 1
    name: "Analysis"
    recommended: true
    workflows:
      - id: "brief"
        recommended: true
        agent: "analyst"
        exec: "{project-root}/_bmad/bmm/workflows/1-analysis/create-product-brief/workflow.md"
      - id: "docs"
        conditional: "if_undocumented"
        agent: "analyst"
        workflow: "{project-root}/_bmad/bmm/workflows/document-project/workflow.yaml"
      - agent: "pm"
        command: "/bmad:bmm:workflows:create-prd"
        required: "yes"
  - phase: 2
    conditional: true
    workflows:
      - id: "ux"
        conditional: "if_has_ui"
        agent: "ux-designer"
        file: "{project-root}/_bmad/bmm/workflows/2-plan-workflows/create-ux-design/workflow.md"
      - id: "arch"
        required: false
        agent: "architect"
"""

VARIANT_UNNUMBERED = """\
phases:
  - name: "first"
    workflows:
      - {name: "alpha", agent: "analyst", optional: true}
  - name: "second"
    phase: "two"
    workflows:
      - {agent: "pm"}
      - "not a mapping"
  - "not a phase"
"""


def test_given_phases_numbered_from_one_with_every_flag_style_when_parsing_then_all_parse() -> None:
    pf = parse_path_file("x/paths/variant.yaml", VARIANT_FROM_ONE, resolver)
    assert (pf.stem, pf.track, pf.field_type, pf.method_name) == ("variant", "variant-track", "greenfield", "Variant")
    assert [ph.phase for ph in pf.phases] == [1, 2]
    assert pf.phases[0].kind == "recommended"
    assert (pf.phases[1].kind, pf.phases[1].condition) == ("conditional", "conditional")
    brief, docs, prd = pf.phases[0].workflows
    assert (brief.kind, brief.workflow_file) == (
        "recommended", "src/modules/bmm/workflows/1-analysis/create-product-brief/workflow.md")
    assert (docs.kind, docs.condition) == ("conditional", "if_undocumented")
    assert docs.workflow_file == "src/modules/bmm/workflows/document-project/workflow.yaml"
    assert (prd.id, prd.kind, prd.workflow_file, prd.command) == (
        "create-prd", "required", None, "/bmad:bmm:workflows:create-prd")
    ux, arch = pf.phases[1].workflows
    assert (ux.kind, ux.condition) == ("conditional", "if_has_ui")
    assert ux.workflow_file == "src/modules/bmm/workflows/2-plan-workflows/create-ux-design/workflow.md"
    assert (arch.kind, arch.workflow_file) == ("optional", None)


def test_given_phases_without_numbers_when_parsing_then_position_numbers_from_zero() -> None:
    pf = parse_path_file("p/unnumbered.yml", VARIANT_UNNUMBERED, resolver)
    assert [ph.phase for ph in pf.phases] == [0, 1]
    assert pf.track is None and pf.field_type is None
    assert pf.phases[0].workflows[0].id == "alpha" and pf.phases[0].workflows[0].kind == "optional"
    assert [w.id for w in pf.phases[1].workflows] == ["step-0"]


@pytest.mark.parametrize("text", ["just text", "phases: nope\n", "- a\n- b\n"])
def test_given_yaml_without_phases_list_when_parsing_path_file_then_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="no 'phases' list"):
        parse_path_file("p.yaml", text, resolver)


def test_given_variant_path_file_in_tree_when_selecting_then_its_facts_drive_the_selection(tmp_path: Path) -> None:
    root = copy_catalog(tmp_path)
    (root / PATHS_DIR / "variant.yaml").write_text(VARIANT_FROM_ONE)
    cat = load_catalog(root)
    assert cat.errors == [] and len(cat.paths) == 5
    sel = Selector(cat)
    by_cmd = sel.select(Context(track="variant-track", next_workflow="create-prd"))
    assert by_cmd.agent_ids == ["pm"]
    phase1 = sel.select(Context(track="variant-track", phase=1))
    assert set(phase1.agent_ids) == {"analyst", "pm"}  # the conditional (non-UI) one counts as required
    phase2 = sel.select(Context(track="variant-track", phase=2, has_ui=True))
    assert phase2.agent_ids == ["ux-designer"]


# --- module-help.csv --------------------------------------------------------------------------

MODULE_HELP = """\
module,phase,name,code,sequence,workflow-file,command,required,agent,options,description,output-location,outputs,
bmm,anytime,Document Project,DP,,{project-root}/_bmad/bmm/workflows/document-project/workflow.yaml,bmad-bmm-document-project,false,analyst,,"Analyze, then document",k,*,
bmm,1-analysis,Brainstorm Project,BP,10,,bmad-brainstorming,false,analyst,,"Guided ideation",a,b,
bmm,2-planning,Create PRD,CP,10,{project-root}/_bmad/bmm/workflows/2-plan-workflows/prd/workflow.md,bmad-bmm-create-prd,true,pm,,"Produce the PRD",a,prd,
bmm,2-planning,Create UX,CU,30,,bmad-bmm-create-ux-design,false,ux-designer,,"UX plan",a,b,
bmm,3-solutioning,,,,,,true,,,"row without agent or name is skipped",,,
bmm,4-implementation,Sprint Planning,SP,10,,bmad-bmm-sprint-planning,TRUE,sm,,"Plan the sprint",a,b,
"""  # noqa: E501 - real module-help rows are long


def test_given_module_help_csv_when_parsing_then_a_trackless_path_file_groups_rows_by_phase() -> None:
    pf = parse_module_help("src/bmm/module-help.csv", MODULE_HELP, resolver)
    assert (pf.stem, pf.track, pf.field_type, pf.method_name) == ("module-help", None, None, "module help")
    assert [ph.phase for ph in pf.phases] == [1, 2, 4]  # "anytime" rows carry no phase
    by_id = {w.id: w for ph in pf.phases for w in ph.workflows}
    assert set(by_id) == {"Brainstorm Project", "Create PRD", "Create UX", "Sprint Planning"}
    assert (by_id["Create PRD"].agent, by_id["Create PRD"].kind) == ("pm", "required")
    assert by_id["Create PRD"].workflow_file == "src/modules/bmm/workflows/2-plan-workflows/prd/workflow.md"
    assert by_id["Create PRD"].command == "bmad-bmm-create-prd"
    assert by_id["Create PRD"].text == "Produce the PRD"
    assert by_id["Sprint Planning"].kind == "required"
    assert by_id["Create UX"].kind == "optional" and by_id["Create UX"].workflow_file is None


@pytest.mark.parametrize("text", ["", "module,phase,name\nbmm,1,x\n"])
def test_given_module_help_without_usable_rows_when_parsing_then_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_module_help("m.csv", text, resolver)


def test_given_module_help_with_bare_install_paths_when_parsing_then_workflow_files_resolve() -> None:
    text = "module,phase,name,workflow-file,required,agent\nbmm,2-planning,Create PRD," \
           "_bmad/bmm/workflows/2-plan-workflows/prd/workflow.md,true,pm\n"
    pf = parse_module_help("src/bmm/module-help.csv", text, resolver)
    assert pf.phases[0].workflows[0].workflow_file == "src/modules/bmm/workflows/2-plan-workflows/prd/workflow.md"


def test_given_module_help_in_later_layout_when_loading_then_it_joins_the_paths_and_drives_selection(
    tmp_path: Path,
) -> None:
    root = tmp_path / "later"
    (root / "src").mkdir(parents=True)
    shutil.copytree(BUNDLED / "src/core", root / "src/core")
    shutil.copytree(BUNDLED / "src/modules/bmm", root / "src/bmm")
    shutil.rmtree(root / "src/bmm/workflows/workflow-status/paths")
    (root / "src/bmm/module-help.csv").write_text(MODULE_HELP)
    cat = load_catalog(root)
    assert cat.errors == []
    assert [p.file for p in cat.paths] == ["src/bmm/module-help.csv"]
    assert cat.paths[0].phases[1].workflows[0].workflow_file == "src/bmm/workflows/2-plan-workflows/prd/workflow.md"
    sel = Selector(cat)
    assert sel.select(Context(next_workflow="create-prd")).agent_ids == ["pm"]
    assert sel.select(Context(next_workflow="bmad-bmm-sprint-planning")).agent_ids == ["sm"]
    assert sel.select(Context(phase=2)).agent_ids == ["pm"]
    assert sel.select(Context(phase=2, has_ui=False, request="plan the ux screens")).agent_ids == [
        "pm", "ux-designer"]


# --- levels and workflow references -----------------------------------------------------------


def test_given_levels_file_when_parsing_then_integer_keys_and_scalars_are_kept() -> None:
    assert parse_levels("levels:\n  0: {title: Tiny}\n  '2': Medium\n  x: skipped\n") == {
        0: {"title": "Tiny"}, 2: {"title": "Medium"}}
    with pytest.raises(ValueError, match="no 'levels' mapping"):
        parse_levels("other: 1\n")


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("{project-root}/_bmad/bmm/workflows/x/workflow.md", "src/modules/bmm/workflows/x/workflow.md"),
        ("{project-root}/bmad/core/tasks/t.xml", "src/core/tasks/t.xml"),
        ("{project-root}/.bmad/core/tasks/t.xml", "src/core/tasks/t.xml"),
        ("{project-root}//_bmad//core/tasks/t.xml", "src/core/tasks/t.xml"),
        ("{project-root}/_bmad/unknown/x.md", None),
        ("{project-root}/_bmad/bmm", None),
        ("relative/path.md", None),
        ("", None),
    ],
)
def test_given_installed_reference_when_resolving_then_source_path_or_none(ref: str, expected: str | None) -> None:
    assert resolve_ref(ref, MODULES) == expected


def test_given_workflow_files_when_reading_then_yaml_markdown_and_missing_are_handled(tmp_path: Path) -> None:
    root = tmp_path
    (root / "y").mkdir()
    (root / "y/workflow.yaml").write_text("name: wy\ndescription: yaml flow\n")
    (root / "y/instructions.md").write_text("Do the yaml thing.")
    (root / "m").mkdir()
    (root / "m/workflow.md").write_text("---\nname: wm\ndescription: md flow\n---\nBody text.\n")
    (root / "m/steps").mkdir()
    (root / "m/steps/step-01.md").write_text("Step one.")
    (root / "n").mkdir()
    (root / "n/workflow.md").write_text("No frontmatter here.")
    (root / "l").mkdir()
    (root / "l/workflow.yaml").write_text("- a list\n")
    (root / "f").mkdir()
    (root / "f/workflow.md").write_text("---\n- listy\n---\nBody.\n")
    y = read_workflow(root, "y/workflow.yaml", 10_000)
    assert (y.name, y.description) == ("wy", "yaml flow") and "Do the yaml thing." in y.body_excerpt
    m = read_workflow(root, "m/workflow.md", 10_000)
    assert (m.name, m.description) == ("wm", "md flow")
    assert "Body text." in m.body_excerpt and "Step one." in m.body_excerpt
    n = read_workflow(root, "n/workflow.md", 10_000)
    assert (n.name, n.body_excerpt) == ("", "No frontmatter here.")
    assert read_workflow(root, "l/workflow.yaml", 10_000).name == ""
    assert read_workflow(root, "f/workflow.md", 10_000).body_excerpt.strip() == "Body."
    missing = read_workflow(root, "gone/workflow.md", 10_000)
    assert missing.exists is False
    assert short_name("a/b/workflow.md") == "b" and short_name("workflow.md") == "workflow.md"


def test_given_markdown_task_without_frontmatter_when_reading_then_heading_and_purpose_describe_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks/fix.md").write_text(
        "<!-- Powered by a banner -->\n\n# Fix Widgets Task\n\n## Purpose\n\n- Mend broken widgets.\n"
        "- Keep the gears turning.\n\n## Steps\n\n1. Look.\n")
    info = read_workflow(tmp_path, "tasks/fix.md", 10_000)
    assert info.name == "Fix Widgets Task"
    assert info.description == "Mend broken widgets. Keep the gears turning."
    assert "banner" not in info.body_excerpt and "1. Look." in info.body_excerpt
    (tmp_path / "tasks/prose.md").write_text("# Prose\n\nOne line\nwrapped.\n\nMore.\n")
    assert read_workflow(tmp_path, "tasks/prose.md", 10_000).description == "One line wrapped."


def test_given_menu_reference_to_missing_workflow_when_loading_then_it_is_recorded_as_not_existing(
    tmp_path: Path,
) -> None:
    root = copy_catalog(tmp_path)
    shutil.rmtree(root / "src/modules/bmm/workflows/testarch/atdd")
    cat = load_catalog(root)
    info = cat.workflows["src/modules/bmm/workflows/testarch/atdd/workflow.yaml"]
    assert info.exists is False and cat.errors == []


# --- agent parsing of unusual field shapes ----------------------------------------------------


def test_given_agent_fields_as_lists_maps_and_deep_nesting_when_parsing_then_text_is_bounded() -> None:
    from agentload.catalog.agents import parse_agent

    text = """\
agent:
  metadata: {title: [Multi, Title], module: custom}
  persona:
    role: {nested: mapping}
    identity: [[[[[too deep]]]]]
    principles: [one, two]
  critical_actions: [do this, [and, that]]
  menu:
    - trigger: "XY or fuzzy match on cross-check"
      description: [part one, part two]
      validate-workflow: "{project-root}/_bmad/bmm/workflows/x/workflow.yaml"
    - cmd: "*plain"
      data: "{project-root}/_bmad/bmm/data/file.csv"
    - "not a mapping"
"""
    agent = parse_agent("src/modules/bmm/agents/odd.agent.yaml", "bmm", text, resolver)
    assert agent.id == "odd" and agent.module == "custom"
    assert agent.title == "Multi\nTitle"
    assert agent.persona.role == "" and agent.persona.identity == ""
    assert agent.persona.principles == "one\ntwo"
    assert agent.critical_actions == ["do this", "and\nthat"]
    first, second = agent.menu
    assert (first.code, first.name, first.description) == ("XY", "cross-check", "part one\npart two")
    assert first.target_kind == "validate-workflow"
    assert first.workflow_file == "src/modules/bmm/workflows/x/workflow.yaml"
    assert (second.code, second.name, second.target_kind, second.workflow_file) == ("", "plain", "data", None)


def test_given_agent_file_without_agent_mapping_when_parsing_then_value_error() -> None:
    from agentload.catalog.agents import parse_agent

    with pytest.raises(ValueError, match="no top-level 'agent' mapping"):
        parse_agent("a/agents/x.agent.yaml", "m", "agent: just a string\n", resolver)
