"""A project's context read from its own BMad files (``agentload.project``), on copies of the
real installed trees with the files BMad's workflows write (``tests/project_trees.py``)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from _fixtures import bundled_selector, selector_at
from project_trees import LAYOUTS, alpha_project, installed, sprint_status, write

from agentload.context import Context
from agentload.project import ProjectCache, merge, read_project
from agentload.selection.engine import Selector

ALPHA_STATUS = "_bmad-output/planning-artifacts/bmm-workflow-status.yaml"
SPRINT = "_bmad-output/implementation-artifacts/sprint-status.yaml"
PLANNING = "_bmad-output/planning-artifacts"
# the .md status of the alphas before the YAML one (workflow-status-template.md), filled in
ALPHA_MD = """# BMM Workflow Status

## Project Configuration

PROJECT_NAME: acme
PROJECT_TYPE: software
PROJECT_LEVEL: 3
FIELD_TYPE: greenfield
START_DATE: 2025-10-20
WORKFLOW_PATH: greenfield-level-3.yaml

## Current State

CURRENT_PHASE: 3-Solutioning
CURRENT_WORKFLOW: create-architecture
CURRENT_AGENT: architect
PHASE_1_COMPLETE: true
PHASE_2_COMPLETE: true
PHASE_3_COMPLETE: false
PHASE_4_COMPLETE: false

## Next Action

NEXT_ACTION: Design the system architecture
NEXT_COMMAND: /bmad:bmm:workflows:create-architecture
NEXT_AGENT: architect

---

_Last Updated: 2025-10-21_
"""


def selector(tree: str) -> Selector:
    return selector_at(str(LAYOUTS / tree))


def picked(sel: Selector, fields: dict[str, Any]) -> tuple[list[str], list[str]]:
    out = sel.select(Context.model_validate(fields))
    return [a.id for a in out.agents], [s.id for s in out.skills]


def test_given_alpha_status_file_when_reading_then_track_history_phase_and_next_come_from_it(tmp_path: Path) -> None:
    project = alpha_project(tmp_path / "acme", {
        "brainstorm-project": "skipped", "research": "skipped",
        "product-brief": f"{PLANNING}/product-brief-acme-2025-11-03.md", "prd": f"{PLANNING}/prd.md"})
    state = read_project(project, bundled_selector().resolver)
    assert state.install == "_bmad"
    assert state.fields == {"track": "bmad-method", "field_type": "greenfield",
                            "workflow_history": ["product-brief", "prd"], "phase": 3,
                            "next_workflow": "create-architecture"}
    assert state.sources == {ALPHA_STATUS: ["track", "field_type", "workflow_history", "phase", "next_workflow"]}
    assert any("skipped brainstorm-project, research" in n for n in state.notes)
    assert picked(bundled_selector(), state.fields)[0] == ["architect"]


def test_given_alpha_status_with_nothing_done_but_skipped_discovery_when_reading_then_planning_is_next(
    tmp_path: Path,
) -> None:
    project = alpha_project(tmp_path / "acme", {"brainstorm-project": "skipped", "research": "skipped",
                                                "product-brief": "skipped"})
    state = read_project(project, bundled_selector().resolver)
    assert "workflow_history" not in state.fields  # skipped is not done ...
    assert state.fields["next_workflow"] == "prd" and state.fields["phase"] == 2  # ... but passed


def test_given_alpha_md_status_when_reading_then_level_phase_and_next_command_are_used(tmp_path: Path) -> None:
    project = alpha_project(tmp_path / "acme", {}, status_file=False)
    write(project, "_bmad-output/bmm-workflow-status.md", ALPHA_MD)
    state = read_project(project, bundled_selector().resolver)
    assert state.fields == {"field_type": "greenfield", "complexity_level": 3, "next_workflow": "create-architecture",
                            "phase": 3}
    assert state.sources == {"_bmad-output/bmm-workflow-status.md": ["field_type", "complexity_level",
                                                                      "next_workflow", "phase"]}
    assert any("greenfield-level-3" in n and "no path of this catalog" in n for n in state.notes)
    assert picked(bundled_selector(), state.fields)[0] == ["architect"]


def test_given_v604_project_with_documents_and_sprint_status_when_reading_then_outputs_show_the_work_done(
    tmp_path: Path,
) -> None:
    project = installed("v6.0.4-installed", tmp_path / "p")
    for name in ("prd.md", "architecture.md", "epics.md", "implementation-readiness-report-2025-11-03.md"):
        write(project, f"{PLANNING}/{name}")
    sprint_status(project, "v6.0.4-installed", SPRINT)  # the template: a story done, one ready for dev
    sel = selector("v6.0.4-installed")
    state = read_project(project, sel.resolver)
    assert state.fields["workflow_history"] == ["create-prd", "create-architecture", "create-epics-and-stories",
                                                "check-implementation-readiness", "sprint-planning", "create-story"]
    assert state.fields["phase"] == 4 and state.fields["next_workflow"] == "dev-story"
    assert state.sources[f"{PLANNING}/prd.md"] == ["workflow_history:create-prd"]
    assert state.sources[SPRINT] == ["workflow_history:sprint-planning", "workflow_history:create-story", "phase",
                                     "next_workflow"]
    assert f"{SPRINT}: 7 stories (5 backlog, 1 done, 1 ready-for-dev)" in state.notes
    assert picked(sel, state.fields)[0] == ["dev"]


def test_given_v612_skills_project_when_reading_then_the_next_skill_and_its_owner_are_selected(
    tmp_path: Path,
) -> None:
    project = installed("v6.12.0-installed", tmp_path / "shop")
    write(project, f"{PLANNING}/prds/prd-proj612-2026-01-05/prd.md")  # where bmad-prd's customize.toml puts it
    write(project, f"{PLANNING}/architecture/architecture-proj612-2026-01-06/ARCHITECTURE-SPINE.md")
    write(project, f"{PLANNING}/epics.md")
    sprint_status(project, "v6.12.0-installed", SPRINT, {"1-1-user-authentication": "in-progress"})
    sel = selector("v6.12.0-installed")
    state = read_project(project, sel.resolver)
    assert state.fields["workflow_history"] == ["bmad-prd", "bmad-architecture", "bmad-create-epics-and-stories",
                                                "bmad-sprint-planning"]
    assert state.fields["phase"] == "ship" and state.fields["next_workflow"] == "bmad-build"
    assert picked(sel, state.fields) == (["bmad-agent-dev"], ["bmad-build"])


def test_given_v4_project_with_documents_where_core_config_puts_them_when_reading_then_the_story_cycle_is_next(
    tmp_path: Path,
) -> None:
    project = installed("v4.44.3-installed", tmp_path / "p")
    for rel in ("docs/prd.md", "docs/architecture.md", "docs/stories/1.1.story.md"):
        write(project, rel)
    sel = selector("v4.44.3-installed")
    state = read_project(project, sel.resolver)
    assert state.install == ".bmad-core"
    assert {"create-prd", "draft"} <= set(state.fields["workflow_history"])
    assert state.fields["next_workflow"] == "implement-story" and "phase" not in state.fields  # v4 has no phases
    assert "workflow_history:draft" in state.sources["docs/stories/1.1.story.md"]
    assert picked(sel, state.fields)[0] == ["dev"]


def test_given_an_installed_tree_without_progress_when_reading_then_no_fields_and_a_note(tmp_path: Path) -> None:
    project = installed("v6.0.4-installed", tmp_path / "p")
    state = read_project(project, selector("v6.0.4-installed").resolver)
    assert state.fields == {} and state.notes == ["no BMad status file or finished work found"]
    empty = tmp_path / "plain"
    empty.mkdir()
    assert read_project(empty, selector("v6.0.4-installed").resolver).notes == [
        "no BMad install (_bmad/, .bmad-core/) in the project"]
    with pytest.raises(NotADirectoryError):
        read_project(tmp_path / "missing", selector("v6.0.4-installed").resolver)


def test_given_files_and_client_fields_when_merging_then_the_client_wins_and_stale_file_fields_go(
    tmp_path: Path,
) -> None:
    project = alpha_project(tmp_path / "acme", {"product-brief": f"{PLANNING}/brief.md", "prd": f"{PLANNING}/prd.md"})
    sel = bundled_selector()
    state = read_project(project, sel.resolver)
    fields, report = merge({"phase": 2}, state)
    assert fields == {"track": "bmad-method", "field_type": "greenfield", "workflow_history": ["product-brief", "prd"],
                      "phase": 2}  # the files' next workflow would win over the client's phase in resolve
    assert report["from"] == {ALPHA_STATUS: ["track", "field_type", "workflow_history"]}
    assert "files' phase (the client gave it), next_workflow (the client gave phase) not used" in report["notes"]
    assert picked(sel, fields) == picked(sel, {"track": "bmad-method", "field_type": "greenfield", "phase": 2})
    by_level, _ = merge({"complexity_level": 0}, state)
    assert "track" not in by_level and by_level["next_workflow"] == "create-architecture"
    other_track, _ = merge({"track": "enterprise-bmad-method"}, state)
    assert other_track["track"] == "enterprise-bmad-method" and "next_workflow" not in other_track
    assert merge({"request": "draw the screens"}, state)[0]["next_workflow"] == "create-architecture"


@pytest.mark.parametrize(("text", "note"), [
    ("workflow_status: [unclosed\n", "not valid YAML"),
    ("- just\n- a list\n", "not a mapping"),
    (b"\xff\xfe not utf-8", "not UTF-8"),
    ("project_level: eleven\nfield_type: greenfield\nworkflow_status:\n  prd: docs/prd.md\n  made-up: done\n",
     "project level 'eleven' is not 0-4"),
])
def test_given_a_malformed_status_file_when_reading_then_a_note_names_it_and_nothing_breaks(
    tmp_path: Path, text: str | bytes, note: str,
) -> None:
    project = alpha_project(tmp_path / "acme", {}, status_file=False)
    path = project / ALPHA_STATUS
    path.parent.mkdir(parents=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    state = read_project(project, bundled_selector().resolver)
    assert any(n.startswith(ALPHA_STATUS) and note in n for n in state.notes), state.notes
    if "made-up" in str(text):
        assert state.fields["workflow_history"] == ["prd"]
        assert any("not workflows of this catalog: made-up" in n for n in state.notes)


def test_given_broken_config_and_a_folder_outside_the_project_when_reading_then_notes_and_no_escape(
    tmp_path: Path,
) -> None:
    project = installed("v6.0.4-installed", tmp_path / "p")
    outside = tmp_path / "elsewhere"
    write(outside, "sprint-status.yaml", "development_status:\n  1-1-x: done\n")
    write(project, "_bmad/bmm/config.yaml", f"implementation_artifacts: {outside}\nplanning_artifacts: [oops\n")
    write(project, "_bmad/core/config.yaml", f"implementation_artifacts: {outside}\n")
    state = read_project(project, selector("v6.0.4-installed").resolver)
    assert any(n.startswith("_bmad/bmm/config.yaml: not valid YAML") for n in state.notes)
    assert any("leaves the project" in n for n in state.notes)
    assert state.fields == {} and not any(str(outside) in w for w in state.watched)


def test_given_a_cached_reading_when_a_workflow_writes_a_file_then_the_next_reading_sees_it(tmp_path: Path) -> None:
    project = installed("v6.0.4-installed", tmp_path / "p")
    write(project, f"{PLANNING}/prd.md")
    sel = selector("v6.0.4-installed")
    cache = ProjectCache()
    first = cache.get(project, "v1", sel.resolver)
    assert cache.get(project, "v1", sel.resolver) is first  # unchanged files: the same reading
    time.sleep(0.01)
    arch = write(project, f"{PLANNING}/architecture.md")
    os.utime(arch.parent, ns=(time.time_ns(), time.time_ns() + 1_000_000))  # coarse-mtime filesystems
    second = cache.get(project, "v1", sel.resolver)
    assert second.fields["workflow_history"] == ["create-prd", "create-architecture"]
    assert cache.get(project, "v2", sel.resolver) is not second  # another catalog version reads again
