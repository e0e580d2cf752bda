"""Inference of missing context fields from the catalog's path files and menus (``resolve``)."""

from __future__ import annotations

import pytest
from _fixtures import bundled_catalog, bundled_selector

from agentload.context import Context, PhaseFacts, Resolved, ResolverData, TrackFacts
from agentload.resolve import _is_ui, build_resolver_data, match_tracks, resolve
from agentload.selection.engine import SelectionConfig, Selector


@pytest.fixture(scope="module")
def data() -> ResolverData:
    return bundled_selector().resolver


@pytest.fixture(scope="module")
def selector() -> Selector:
    return bundled_selector()


def stems(res: Resolved) -> list[str]:
    return [f.rsplit("/", 1)[-1].removesuffix(".yaml") for f in res.files]


def test_given_catalog_when_building_resolver_data_then_every_path_file_and_level_is_represented(
    data: ResolverData,
) -> None:
    cat = bundled_catalog()
    assert sorted(t.file for t in data.tracks) == sorted(p.file for p in cat.paths)
    assert data.level_tracks == SelectionConfig().level_tracks
    for t in data.tracks:
        for wid, owners in t.owners.items():
            assert owners and all(o in cat.agents for o in owners), wid
    for wid, owners in data.menu_owners.items():
        assert all(o in cat.agents for o in owners), wid
    assert all(v in data.aliases for v in data.aliases.values())


@pytest.mark.parametrize(
    ("level", "track", "expected_stems"),
    [
        (4, "enterprise-bmad-method", ["enterprise-brownfield", "enterprise-greenfield"]),
        (2, "bmad-method", ["method-brownfield", "method-greenfield"]),
        (3, "bmad-method", ["method-brownfield", "method-greenfield"]),
    ],
)
def test_given_complexity_level_without_track_when_resolving_then_track_comes_from_level(
    data: ResolverData, level: int, track: str, expected_stems: list[str]
) -> None:
    res = resolve(Context(complexity_level=level, phase=2), data)
    assert res.track == track
    assert stems(res) == expected_stems
    assert any("inferred from complexity level" in n for n in res.notes)


def test_given_explicit_track_and_level_when_resolving_then_explicit_track_wins(data: ResolverData) -> None:
    res = resolve(Context(track="bmad-method", complexity_level=4, phase=2), data)
    assert res.track == "bmad-method" and not any("complexity" in n for n in res.notes)


@pytest.mark.parametrize("alias", ["enterprise", "Enterprise", "enterprise-bmad-method", "enterprise_bmad_method"])
def test_given_track_alias_enterprise_when_resolving_then_enterprise_path_files(
    data: ResolverData, alias: str
) -> None:
    res = resolve(Context(track=alias, phase=3), data)
    assert stems(res) == ["enterprise-brownfield", "enterprise-greenfield"]
    assert res.track == "enterprise-bmad-method"


def test_given_track_name_by_words_when_matching_then_most_specific_files_win(data: ResolverData) -> None:
    assert {t.field_type for t in match_tracks("brownfield enterprise", data.tracks)} == {"brownfield"}
    assert {t.track for t in match_tracks("bmad", data.tracks)} == {"bmad-method"}  # fewest extra words
    assert match_tracks("waterfall", data.tracks) == []


def test_given_field_type_when_resolving_then_paths_are_narrowed(data: ResolverData) -> None:
    res = resolve(Context(track="bmad-method", field_type="Brownfield", phase=0), data)
    assert stems(res) == ["method-brownfield"]
    assert (res.track, res.field_type, res.phase) == ("bmad-method", "brownfield", 0)


def test_given_unknown_field_type_when_resolving_then_it_is_ignored_with_a_note(data: ResolverData) -> None:
    res = resolve(Context(track="bmad-method", field_type="bluefield", phase=2), data)
    assert stems(res) == ["method-brownfield", "method-greenfield"] and res.field_type is None
    assert any("field type 'bluefield' not found" in n for n in res.notes)


def test_given_history_when_resolving_then_phase_and_next_workflow_are_inferred(data: ResolverData) -> None:
    res = resolve(Context(track="bmad-method", field_type="greenfield", workflow_history=["prd"]), data)
    assert (res.phase, res.next_workflow) == (3, "create-architecture")
    assert "phase and next workflow inferred from the history" in res.notes
    ui = resolve(Context(track="bmad-method", field_type="greenfield", workflow_history=["prd"], has_ui=True), data)
    assert (ui.phase, ui.next_workflow) == (2, "create-ux-design")


def test_given_history_with_aliases_when_resolving_then_aliases_count_as_done(data: ResolverData) -> None:
    res = resolve(Context(track="bmad-method", workflow_history=["Create PRD", "architecture"]), data)
    assert res.next_workflow == "create-architecture"
    res = resolve(Context(track="bmad-method", workflow_history=["create-prd", "create-architecture"]), data)
    assert res.next_workflow == "create-epics-and-stories"


def test_given_brownfield_only_history_when_resolving_then_path_is_narrowed_by_history(data: ResolverData) -> None:
    res = resolve(Context(workflow_history=["document-project"]), data)
    assert stems(res) == ["enterprise-brownfield", "method-brownfield"]
    assert "path narrowed by workflow history" in res.notes
    assert (res.field_type, res.next_workflow) == ("brownfield", "prd")


def test_given_complete_history_when_resolving_then_last_phase_and_no_next_workflow(data: ResolverData) -> None:
    done = [w for p in data.tracks[-1].phases for w in p.all]
    res = resolve(Context(track="bmad-method", field_type="greenfield", workflow_history=done), data)
    assert res.next_workflow is None and res.phase == max(p.phase for p in data.tracks[-1].phases)


def test_given_next_workflow_contradicting_phase_when_resolving_then_workflow_phase_wins_with_note(
    data: ResolverData,
) -> None:
    res = resolve(Context(phase=1, next_workflow="create-architecture"), data)
    assert (res.phase, res.next_workflow) == (3, "create-architecture")
    assert any("contradicts next workflow" in n and "workflow's phase wins" in n for n in res.notes)
    assert res.unknown == []


@pytest.mark.parametrize(("given", "canonical"), [
    ("Create PRD", "prd"), ("create-prd", "prd"), ("check-implementation-readiness", "implementation-readiness"),
    ("epics-stories", "create-epics-and-stories"), ("ux-design", "create-ux-design"),
])
def test_given_workflow_alias_as_next_workflow_when_resolving_then_canonical_id(
    data: ResolverData, given: str, canonical: str
) -> None:
    assert resolve(Context(next_workflow=given), data).next_workflow == canonical


def test_given_unknown_workflow_when_resolving_then_unknown_and_note_without_exception(data: ResolverData) -> None:
    res = resolve(Context(next_workflow="summon-dragons", phase=2, track="bmad-method"), data)
    assert res.unknown == ["workflow 'summon-dragons'"]
    assert any("unknown to this catalog" in n for n in res.notes)
    assert res.next_workflow is None and res.phase == 2  # the rest of the context is still used


def test_given_menu_only_workflow_when_resolving_then_no_path_and_menu_owners_are_selected(
    data: ResolverData, selector: Selector
) -> None:
    in_paths = {w for t in data.tracks for w in t.owners}
    menu_only = sorted(set(data.menu_owners) - in_paths)
    assert menu_only
    for wid in menu_only:
        res = resolve(Context(next_workflow=wid, phase=4), data)
        assert res.next_workflow == wid and res.files == [] and res.unknown == []
        assert any("in no path file" in n for n in res.notes)
        sel = selector.select(Context(next_workflow=wid))
        everyone = {a for names in data.menu_owners.values() for a in names}
        if 2 * len(data.menu_owners[wid]) > len(everyone):  # on most menus (help, party mode): says nothing
            assert all(r.rule.startswith("fallback") for a in sel.agents for r in a.reasons), sel.agents
            continue
        assert set(sel.agent_ids) == set(data.menu_owners[wid])
        assert all(r.rule == "menu:next-workflow" for a in sel.agents for r in a.reasons)


def test_given_unknown_phase_when_resolving_then_unknown_and_note(data: ResolverData) -> None:
    res = resolve(Context(phase=17, track="bmad-method"), data)
    assert res.unknown == ["phase 17"] and res.phase is None
    assert res.track == "bmad-method"


def test_given_unknown_track_when_resolving_then_note_and_track_kept(data: ResolverData) -> None:
    res = resolve(Context(track="Quick Flow", phase=1), data)
    assert res.track == "quick-flow" and res.files == [] and res.phase is None
    assert any("has no path file" in n for n in res.notes)


@pytest.mark.parametrize(
    "request_text",
    ["design the screens for the app", "we need a dashboard", "sketch some wireframes", "The UI is ugly",
     "frontend work"],
)
def test_given_ui_words_in_request_when_resolving_then_has_ui_is_inferred(
    data: ResolverData, request_text: str
) -> None:
    res = resolve(Context(track="bmad-method", phase=2, request=request_text), data)
    assert res.has_ui is True
    assert "has_ui inferred from the request" in res.notes


def test_given_explicit_has_ui_false_or_no_ui_words_when_resolving_then_not_inferred(data: ResolverData) -> None:
    explicit = resolve(Context(track="bmad-method", phase=2, has_ui=False, request="design the screens"), data)
    assert explicit.has_ui is False
    plain = resolve(Context(track="bmad-method", phase=2, request="write the requirements"), data)
    assert plain.has_ui is False and "has_ui inferred from the request" not in plain.notes
    no_ui_phase = resolve(Context(track="bmad-method", phase=3, has_ui=True), data)
    assert no_ui_phase.has_ui is None  # phase 3 has no UI workflow: has_ui does not matter


def test_given_contexts_differing_only_in_user_role_without_request_when_keying_then_equal(
    data: ResolverData,
) -> None:
    base = {"track": "bmad-method", "phase": 2, "has_ui": True}
    a = resolve(Context(**base, user_role="architect"), data)
    b = resolve(Context(**base, user_role="tester"), data)
    c = resolve(Context(**base), data)
    assert a.key() == b.key() == c.key()
    with_request = [resolve(Context(**base, user_role=r, request="help"), data) for r in ("architect", "tester")]
    assert with_request[0].key() != with_request[1].key()


def test_given_contexts_with_different_next_workflow_when_keying_then_different(data: ResolverData) -> None:
    a = resolve(Context(track="bmad-method", next_workflow="prd"), data)
    b = resolve(Context(track="bmad-method", next_workflow="create-architecture"), data)
    assert a.key() != b.key()


def test_given_equivalent_spellings_when_keying_then_equal(data: ResolverData) -> None:
    a = resolve(Context(track="enterprise", next_workflow="Create PRD", phase=2), data)
    b = resolve(Context(complexity_level=4, next_workflow="prd"), data)
    assert a.key() == b.key()


def test_given_track_only_when_resolving_then_track_recorded_without_files(data: ResolverData) -> None:
    res = resolve(Context(track="enterprise"), data)
    assert res.track == "enterprise-bmad-method" and res.files == [] and res.phase is None


@pytest.mark.parametrize(
    ("condition", "expected"),
    [("if_has_ui", True), ("if UI needed", True), ("frontend", True), ("if_undocumented", False),
     ("build", False), (None, False), ("", False)],
)
def test_given_condition_text_when_checking_ui_then_only_ui_words_count(condition: str | None, expected: bool) -> None:
    assert _is_ui(condition) is expected


# --- branches that the bundled catalog cannot reach: hand-made resolver data -------------------


def _track(file: str, field: str, phase2: list[str], owners: dict[str, list[str]]) -> TrackFacts:
    return TrackFacts(
        file=file, track="t", field_type=field, aliases=["t", file],
        phases=[PhaseFacts(phase=1, required=["a"], all=["a"]), PhaseFacts(phase=2, required=phase2, all=phase2)],
        owners=owners,
    )


def test_given_paths_diverging_in_same_phase_when_resolving_history_then_only_phase_is_inferred() -> None:
    data = ResolverData(
        tracks=[_track("one", "x", ["b"], {"a": ["p"], "b": ["q"]}),
                _track("two", "y", ["c"], {"a": ["p"], "c": ["r"]})],
        aliases={"a": "a", "b": "b", "c": "c"}, menu_owners={}, level_tracks={})
    res = resolve(Context(workflow_history=["a"]), data)
    assert (res.phase, res.next_workflow) == (2, None)
    assert "phase inferred from the history" in res.notes
    assert res.files == ["one", "two"] and res.field_type is None


def test_given_empty_catalog_when_building_resolver_data_then_nothing_resolves() -> None:
    from agentload.catalog import Catalog

    data = build_resolver_data(Catalog(root="/nowhere", agents={}), {})
    res = resolve(Context(track="x", phase=1, next_workflow="y", workflow_history=["z"]), data)
    assert res.files == [] and res.unknown == ["workflow 'y'"]


def test_given_menu_item_without_name_when_building_resolver_data_then_it_is_skipped() -> None:
    from agentload.catalog import Agent, Catalog, MenuItem

    agent = Agent(id="a", module="m", path="p", text="", tokens=0,
                  menu=[MenuItem(trigger=""), MenuItem(trigger="*go", name="go")])
    data = build_resolver_data(Catalog(root="/r", agents={"a": agent}), {})
    assert data.menu_owners == {"go": ["a"]}


def test_given_resolved_files_lacking_the_phase_when_selecting_then_only_files_with_it_count(
    selector: Selector,
) -> None:
    files = sorted(t.file for t in selector.resolver.tracks if t.track == "bmad-method")
    sel = selector.select_resolved(Resolved(files=files, phase=0))
    assert sel.agent_ids == ["analyst"]  # only the brownfield file has a phase 0
    assert all("brownfield" in r.detail for r in sel.agents[0].reasons)
