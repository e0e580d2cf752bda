"""Installed BMad v6 trees: compiled ``_bmad/*/agents/**/*.md`` agents and ``_config`` manifests.

Real files come from ``data/bmad-layouts/v6.0.4-installed``; the shapes the release does not
ship (``type="multi"`` items, malformed XML, hostile DTDs) are hand-written samples.
"""

from __future__ import annotations

import csv
import io
from functools import lru_cache
from pathlib import Path

import pytest

from agentload.catalog.compiled import (
    parse_agent_manifest,
    parse_compiled_agent,
    parse_workflow_manifest,
    read_install_manifest,
)
from agentload.catalog.models import Agent
from agentload.catalog.workflows import resolve_ref

REPO_ROOT = Path(__file__).resolve().parents[2]
TREE = REPO_ROOT / "data" / "bmad-layouts" / "v6.0.4-installed"
BMAD = TREE / "_bmad"
CONFIG = BMAD / "_config"
README_AGENT_TOKENS = 13_090  # data/bmad-layouts/README.md


def module_map() -> dict[str, str]:
    """``{module: "_bmad/<module>"}`` for every module folder (``_config``, ``_memory`` are not)."""
    return {p.name: f"_bmad/{p.name}" for p in sorted(BMAD.iterdir()) if p.is_dir() and not p.name.startswith("_")}


def resolve(ref: str) -> str | None:
    return resolve_ref(ref, module_map())


def agent_files() -> list[Path]:
    return sorted(BMAD.glob("*/agents/**/*.md"))


def parse_file(file: Path) -> Agent:
    rel = file.relative_to(TREE).as_posix()
    return parse_compiled_agent(rel, rel.split("/")[1], file.read_text(encoding="utf-8"), resolve)


@lru_cache(maxsize=1)
def real_agents() -> tuple[Agent, ...]:
    return tuple(parse_file(f) for f in agent_files())


def compiled(body: str, attrs: str = 'name="Ada" title="Tester" icon="T" capabilities="testing"') -> str:
    """A compiled agent file around ``body`` (the elements inside ``<agent>``)."""
    head = '---\nname: "ada"\ndescription: "From frontmatter"\n---\n\nEmbody.\n\n'
    return f'{head}```xml\n<agent id="x.agent.yaml" {attrs}>\n{body}\n</agent>\n```\n'


PERSONA = """<persona>
  <role>Careful   tester</role>
  <identity>Reads &apos;every&apos; line &amp; more</identity>
  <communication_style>Brief</communication_style>
  <principles>- one - two</principles>
</persona>"""

MULTI_MENU = """<menu>
  <item cmd="MH or fuzzy match on menu or help">[MH] Redisplay Menu Help</item>
  <item type="multi">[CA] Create, [EA] Edit or [VA] Validate an agent
    <handler match="CA or fuzzy match create agent" action="do it inline"></handler>
    <handler match="EA or fuzzy match edit agent" exec="{project-root}/_bmad/bmm/workflows/edit/workflow.md"></handler>
    <handler match="VA or fuzzy match validate agent" workflow="{project-root}/_bmad/core/workflows/v/workflow.yaml"/>
  </item>
</menu>"""


# --- real compiled agents -------------------------------------------------------------------


def test_given_installed_tree_when_parsing_every_compiled_agent_then_ids_are_file_stems_and_tokens_match_readme() -> (
    None
):
    files = agent_files()
    agents = real_agents()
    assert len(files) == 10
    assert any(len(f.relative_to(BMAD).parts) > 3 for f in files), "an agent in a subfolder is included"
    assert [a.id for a in agents] == [f.name.removesuffix(".md") for f in files]
    assert sum(a.tokens for a in agents) == README_AGENT_TOKENS
    for agent, file in zip(agents, files, strict=True):
        assert agent.layout == "v6-installed"
        assert agent.module == file.relative_to(BMAD).parts[0]
        assert agent.text == file.read_text(encoding="utf-8")
        assert agent.name and agent.title and agent.icon and agent.description


def test_given_real_agents_then_each_has_a_persona_role_and_a_menu_with_codes() -> None:
    for agent in real_agents():
        assert agent.persona.role, agent.id
        assert agent.menu, agent.id
        assert agent.critical_actions == []
        for field in (agent.persona.role, agent.persona.identity, agent.persona.communication_style,
                      agent.persona.principles, agent.description):
            assert "&apos;" not in field and "&amp;" not in field and "  " not in field
        for item in agent.menu:
            assert item.trigger and item.code and item.name, (agent.id, item)
            assert not item.description.startswith("["), (agent.id, item)


def test_given_real_menus_when_resolving_targets_then_every_workflow_file_exists() -> None:
    """All file targets of this release resolve into the tree (none dangles)."""
    items = [(a.id, m) for a in real_agents() for m in a.menu]
    file_items = [m for _, m in items if m.target_kind in {"workflow", "exec", "validate-workflow"}]
    assert file_items, "the menus run workflows"
    assert all(m.workflow_file for m in file_items)
    missing = [(aid, m.workflow_file) for aid, m in items if m.workflow_file and not (TREE / m.workflow_file).is_file()]
    assert missing == []
    assert {m.target_kind for _, m in items} >= {"workflow", "exec", "action"}
    assert all(m.workflow_file is None for _, m in items if m.target_kind in {"action", ""})


def test_given_real_agents_made_malformed_when_parsing_then_fallback_reads_the_same_agent() -> None:
    """A stray unclosed tag breaks ElementTree; the regex reading must agree with it."""
    for file, clean in zip(agent_files(), real_agents(), strict=True):
        text = file.read_text(encoding="utf-8")
        broken_text = text.replace("</activation>", "<br></activation>", 1)
        assert broken_text != text
        rel = file.relative_to(TREE).as_posix()
        broken = parse_compiled_agent(rel, clean.module, broken_text, resolve)
        fields = {"text", "tokens"}
        assert broken.model_dump(exclude=fields) == clean.model_dump(exclude=fields), clean.id


# --- hand-written samples -------------------------------------------------------------------


def test_given_multi_item_with_handlers_when_parsing_then_one_multi_entry_with_first_resolvable_file() -> None:
    agent = parse_compiled_agent("_bmad/bmm/agents/ada.md", "bmm", compiled(PERSONA + MULTI_MENU), resolve)
    assert agent.id == "ada"
    assert (agent.name, agent.title, agent.icon, agent.description) == ("Ada", "Tester", "T", "testing")
    assert agent.persona.role == "Careful tester"
    assert agent.persona.identity == "Reads 'every' line & more"
    simple, multi = agent.menu
    assert (simple.code, simple.name, simple.description) == ("MH", "menu or help", "Redisplay Menu Help")
    assert multi.target_kind == "multi"
    assert multi.code == "CA"
    assert multi.workflow_file == "_bmad/bmm/workflows/edit/workflow.md"
    assert multi.target == "{project-root}/_bmad/bmm/workflows/edit/workflow.md"
    assert "Validate an agent" in multi.description
    for match in ("CA or fuzzy match create agent", "EA or fuzzy match edit agent", "VA or fuzzy match validate agent"):
        assert match in multi.description and match in multi.trigger


def test_given_malformed_xml_when_parsing_then_regex_fallback_still_reads_it() -> None:
    body = PERSONA.replace("Brief", "Brief & <b>bold") + """
<menu>
  <item cmd="CP or fuzzy match on create-plan" exec="{project-root}/_bmad/core/tasks/plan.md">[CP] Plan: a > b
  <item cmd="AX or fuzzy match on ask" action="compare a > b &amp; c">[AX] Ask: anything</item>
  <item type="multi">[T1] One or [T2] Two
    <handler match="T1 or fuzzy match one" workflow="{project-root}/_bmad/nowhere/x.yaml"></handler>
    <handler match="T2 or fuzzy match two" exec="{project-root}/_bmad/core/two.md"></handler>
  </item>
</menu>"""
    agent = parse_compiled_agent("_bmad/core/agents/sub/ada.md", "core", compiled(body), resolve)
    assert agent.persona.role == "Careful tester"
    assert agent.persona.communication_style.startswith("Brief &")
    plan, ask, multi = agent.menu
    assert (plan.code, plan.name, plan.target_kind) == ("CP", "create-plan", "exec")
    assert plan.description == "Plan: a > b"
    assert plan.workflow_file == "_bmad/core/tasks/plan.md"
    assert (ask.target_kind, ask.target, ask.workflow_file) == ("action", "compare a > b & c", None)
    assert multi.target_kind == "multi" and multi.workflow_file == "_bmad/core/two.md"


def test_given_no_capabilities_when_parsing_then_frontmatter_description_is_used() -> None:
    text = compiled(PERSONA + "<menu/>", attrs='name="Ada" title="T" icon="I"')
    agent = parse_compiled_agent("_bmad/core/agents/ada.md", "core", text, resolve)
    assert agent.description == "From frontmatter"
    assert agent.menu == []


@pytest.mark.parametrize(
    "prefix",
    [
        '<!DOCTYPE agent [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>\n',
        '<!ENTITY lol "lol">\n',
        "<!doctype agent>\n",
    ],
)
def test_given_dtd_or_entity_declaration_when_parsing_then_refused(prefix: str) -> None:
    text = compiled(PERSONA).replace("```xml\n", "```xml\n" + prefix)
    with pytest.raises(ValueError, match="DTD or entity"):
        parse_compiled_agent("_bmad/core/agents/ada.md", "core", text, resolve)


@pytest.mark.parametrize("text", ["---\nname: x\n---\n# Just markdown\n", "<agents><item/></agents>", ""])
def test_given_file_without_agent_element_when_parsing_then_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="no <agent>"):
        parse_compiled_agent("_bmad/core/agents/x.md", "core", text, resolve)


# --- manifests ------------------------------------------------------------------------------


def csv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


@pytest.mark.parametrize("kind", ["workflow", "task"])
def test_given_real_manifest_when_parsing_then_every_entry_file_exists(kind: str) -> None:
    path = CONFIG / f"{kind}-manifest.csv"
    items = parse_workflow_manifest(path.name, path.read_text(encoding="utf-8"), resolve, kind)
    assert [i.id for i in items] == [r["name"] for r in csv_rows(path)]
    assert items
    for item in items:
        assert item.kind == kind and item.name and item.description and item.module in module_map()
        assert item.phase is None and item.owners == []
        assert item.entry_file and (TREE / item.entry_file).is_file(), item


def test_given_real_menus_and_manifests_then_menu_workflow_files_are_mostly_manifest_entries() -> None:
    entries = {
        i.entry_file
        for kind in ("workflow", "task")
        for i in parse_workflow_manifest("m", (CONFIG / f"{kind}-manifest.csv").read_text("utf-8"), resolve, kind)
    }
    menu_files = {m.workflow_file for a in real_agents() for m in a.menu if m.workflow_file}
    assert menu_files & entries


def test_given_manifest_with_other_column_case_when_parsing_then_columns_match() -> None:
    text = "NAME,DisplayName,Description,Module,PATH,extra\nshard,Shard Doc,splits,core,_bmad/core/t/s.xml,x\n,,,,,\n"
    (item,) = parse_workflow_manifest("t.csv", text, resolve, "task")
    assert (item.id, item.name, item.kind, item.entry_file) == ("shard", "Shard Doc", "task", "_bmad/core/t/s.xml")
    assert (item.description, item.module) == ("splits", "core")


@pytest.mark.parametrize("text", ["name,description\nx,y\n", "path,module\n_bmad/core/x.md,core\n", ""])
def test_given_manifest_without_name_or_path_column_when_parsing_then_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="column"):
        parse_workflow_manifest("bad.csv", text, resolve, "workflow")


def test_given_install_manifest_when_reading_then_version_and_modules() -> None:
    assert read_install_manifest((CONFIG / "manifest.yaml").read_text(encoding="utf-8")) == ("6.0.4", ["core", "bmm"])


def test_given_install_manifest_without_installation_version_then_first_module_version_is_used() -> None:
    text = "installation: {}\nmodules:\n  - name: core\n    version: 6.1.0\n  - name: bmm\n    version: 6.0.0\n"
    assert read_install_manifest(text) == ("6.1.0", ["core", "bmm"])
    assert read_install_manifest("modules: [core, bmm]\n") == (None, ["core", "bmm"])
    with pytest.raises(ValueError):
        read_install_manifest("- just\n- a list\n")


def test_given_agent_manifest_when_parsing_then_rows_by_name_point_at_the_compiled_agents() -> None:
    rows = parse_agent_manifest((CONFIG / "agent-manifest.csv").read_text(encoding="utf-8"))
    agents = {a.id: a for a in real_agents()}
    assert set(rows) == set(agents)
    for name, row in rows.items():
        assert resolve(row["path"]) == agents[name].path
        assert row["capabilities"] == agents[name].description
    extra = parse_agent_manifest("Name,whatever\na,1\nb,2,overflow\n,3\n")
    assert extra == {"a": {"Name": "a", "whatever": "1"}, "b": {"Name": "b", "whatever": "2"}}
    with pytest.raises(ValueError):
        parse_agent_manifest("title,icon\nx,y\n")


@pytest.mark.parametrize("broken", [False, True])
def test_given_prose_naming_agent_and_menu_tags_when_parsing_then_the_attributed_block_is_read(broken: bool) -> None:
    """Prose before the block says ``<agent>``; an activation step holds a ``<menu/>`` tag."""
    body = '<activation><step n="1">Show the <menu/> items</step></activation>\n' + PERSONA + MULTI_MENU
    text = compiled(body).replace("Embody.", "Embody the <agent> below.")
    if broken:
        text = text.replace("</activation>", "<br></activation>")
    agent = parse_compiled_agent("_bmad/bmm/agents/ada.md", "bmm", text, resolve)
    assert (agent.name, agent.persona.role) == ("Ada", "Careful tester")
    assert [m.target_kind for m in agent.menu] == ["", "multi"]
