"""The selector end to end on the real catalog: scenario suites, strategies, manifest, accounting."""

from __future__ import annotations

from typing import Any

import pytest
from _fixtures import REQUESTS, STRUCTURED, bundled_catalog, bundled_selector, read_suite

from agentload.catalog import Catalog
from agentload.context import Context, Resolved
from agentload.delivered import compact
from agentload.selection.engine import STRATEGIES, SelectionConfig, Selector
from agentload.selection.manifest import HEADER
from agentload.selection.models import Selection
from agentload.selection.orchestrator import find_orchestrator
from agentload.tokens import count_tokens


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return bundled_catalog()


@pytest.fixture(scope="module")
def selector() -> Selector:
    return bundled_selector()


@pytest.fixture(scope="module")
def orchestrator_id(catalog: Catalog) -> str:
    """The agent whose menu lists the catalog's workflows (an action over a workflow manifest)."""
    listers = [
        a.id for a in catalog.agents.values()
        if any(m.target_kind == "action" and "workflow" in m.target.lower() and "manifest" in m.target.lower()
               for m in a.menu)
    ]
    assert len(listers) == 1, listers
    return listers[0]


def manifest_ids(sel: Selection) -> list[str]:
    lines = sel.manifest.splitlines()
    if not lines:
        return []
    assert lines[0] == HEADER
    assert all(line.startswith("- ") and ": " in line for line in lines[1:])
    return [line[2:].split(":", 1)[0] for line in lines[1:]]


# --- scenario suites ---------------------------------------------------------------------------


def _missed(selector: Selector, suite: list[dict[str, Any]]) -> list[str]:
    missed = []
    for line in suite:
        sel = selector.select(Context(**line["context"]))
        if not set(line["required_agents"]) <= set(sel.agent_ids):
            missed.append(f"{line['id']}: got {sel.agent_ids}, need {line['required_agents']}")
    return missed


def test_given_structured_suite_when_selecting_then_recall_is_one(selector: Selector) -> None:
    suite = read_suite(STRUCTURED)
    assert len(suite) == 64
    assert _missed(selector, suite) == []


def test_given_structured_suite_when_selecting_then_nothing_beyond_the_path_owners_is_loaded(
    selector: Selector,
) -> None:
    extra = [
        (line["id"], sel.agent_ids)
        for line in read_suite(STRUCTURED)
        if (sel := selector.select(Context(**line["context"]))).agent_ids != line["required_agents"]
    ]
    assert extra == []


def test_given_request_suite_when_selecting_then_recall_is_at_least_95_percent(selector: Selector) -> None:
    suite = read_suite(REQUESTS)
    missed = _missed(selector, suite)
    recall = 1 - len(missed) / len(suite)
    assert recall >= 0.95, missed


def test_given_next_workflow_in_path_when_selecting_then_owner_is_loaded(selector: Selector, catalog: Catalog) -> None:
    sel = selector.select(Context(track="bmad-method", field_type="greenfield", next_workflow="create-ux-design"))
    owner = {w.agent for p in catalog.paths for ph in p.phases for w in ph.workflows if w.id == "create-ux-design"}
    assert set(sel.agent_ids) == owner
    assert sel.agents[0].reasons[0].rule == "path:next-workflow"
    assert sel.agents[0].reasons[0].workflow == "create-ux-design"


# --- strategies and accounting -----------------------------------------------------------------


@pytest.mark.parametrize("ctx", [Context(), Context(phase=2, track="bmad-method"), Context(request="build it")])
def test_given_full_strategy_when_selecting_then_every_agent_empty_manifest_zero_reduction(
    selector: Selector, catalog: Catalog, ctx: Context
) -> None:
    sel = selector.select(ctx, "full")
    assert sel.agent_ids == sorted(catalog.agents)
    assert (sel.manifest, sel.manifest_tokens, sel.reduction) == ("", 0, 0.0)
    assert sel.loaded_tokens == sel.baseline_tokens == sel.optimized_tokens == catalog.baseline_tokens
    assert all(a.reasons == [a.reasons[0]] and a.reasons[0].rule == "strategy:full" for a in sel.agents)
    assert sel.strategy == "full"


def test_given_cached_strategy_when_selecting_then_same_answer_as_selective(selector: Selector) -> None:
    ctx = Context(track="enterprise", phase=3)
    a, b = selector.select(ctx), selector.select(ctx, "cached")
    assert a.agent_ids == b.agent_ids and a.key == b.key and a.manifest == b.manifest
    assert b.strategy == "cached"


@pytest.mark.parametrize("strategy", ["", "Selective", "fastest", "FULL"])
def test_given_unknown_strategy_when_selecting_then_value_error(selector: Selector, strategy: str) -> None:
    with pytest.raises(ValueError, match="unknown strategy"):
        selector.select(Context(), strategy)
    assert strategy not in STRATEGIES


SAMPLE_CONTEXTS = [
    Context(),
    Context(track="bmad-method", phase=2, has_ui=True),
    Context(track="enterprise", field_type="brownfield", phase=0),
    Context(next_workflow="dev-story"),
    Context(request="I need a PRD and then an architecture"),
    Context(request="workflow status"),
    Context(phase=3, next_workflow="prd", request="tests please", user_role="tester"),
]


@pytest.mark.parametrize("ctx", SAMPLE_CONTEXTS)
def test_given_any_selection_when_accounting_then_tokens_and_reduction_add_up(
    selector: Selector, catalog: Catalog, ctx: Context
) -> None:
    sel = selector.select(ctx)
    assert sel.agent_ids == sorted(set(sel.agent_ids)) and sel.agent_ids
    assert sel.loaded_tokens == sum(catalog.agents[a].tokens for a in sel.agent_ids)
    assert all(a.tokens == catalog.agents[a.id].tokens and a.title == catalog.agents[a.id].title
               for a in sel.agents)
    assert sel.manifest_tokens == count_tokens(sel.manifest)
    assert sel.optimized_tokens == sel.loaded_tokens + sel.manifest_tokens
    assert sel.baseline_tokens == catalog.baseline_tokens
    assert sel.file_reduction == round(1 - sel.optimized_tokens / sel.baseline_tokens, 6)
    # delivered: the compact JSON metadata (stating its own count) + manifest + each text once
    resolved = selector.resolve(ctx).served()
    meta = compact({**sel.model_dump(mode="json", exclude={"manifest"}), "resolved": resolved})
    texts = [sel.manifest] + [catalog.agents[a].text for a in sel.agent_ids]
    exact = count_tokens(meta) + sum(count_tokens(t) for t in texts if t)
    assert abs(sel.context_tokens - exact) <= 2  # counted once, its own figures guessed (engine)
    assert sel.full_context_tokens == selector.select(Context(), "full").context_tokens
    assert sel.reduction == round(1 - sel.context_tokens / sel.full_context_tokens, 6)
    assert 0 < sel.reduction < sel.file_reduction  # the metadata costs tokens; the baseline's less so
    assert all(a.reasons for a in sel.agents)
    assert all(r.rule for a in sel.agents for r in a.reasons)
    assert sel.key == selector.resolve(ctx).key()


@pytest.mark.parametrize("ctx", SAMPLE_CONTEXTS)
def test_given_any_selection_when_reading_manifest_then_it_lists_exactly_the_other_agents(
    selector: Selector, catalog: Catalog, ctx: Context
) -> None:
    sel = selector.select(ctx)
    assert manifest_ids(sel) == sorted(set(catalog.agents) - set(sel.agent_ids))


def test_given_real_catalog_when_building_manifest_then_every_line_fits_the_token_budget(
    selector: Selector, catalog: Catalog
) -> None:
    assert set(selector.manifest.lines) == set(catalog.agents)
    for aid, line in selector.manifest.lines.items():
        assert line.startswith(f"- {aid}: ")
        assert count_tokens(line) <= 30, line
    assert all(f"- {a}:" in selector.manifest.text(frozenset())[0] for a in catalog.agents)
    assert selector.manifest.text(frozenset(catalog.agents)) == ("", 0)


def test_given_smaller_manifest_budget_when_building_then_lines_are_trimmed_to_it(catalog: Catalog) -> None:
    small = Selector(catalog, SelectionConfig(manifest_max_tokens=12))
    for line in small.manifest.lines.values():
        assert count_tokens(line) <= 12, line


def test_given_capabilities_shared_by_most_agents_when_building_manifest_then_they_are_left_out(
    selector: Selector, catalog: Catalog
) -> None:
    counts: dict[str, int] = {}
    for a in catalog.agents.values():
        for name in {m.name for m in a.menu}:
            counts[name] = counts.get(name, 0) + 1
    common = [n for n, c in counts.items() if c >= len(catalog.agents) // 2]
    assert common  # workflow-status is on most menus
    for name in common:
        assert all(name not in line.split(" | ", 1)[-1].split(", ") for line in selector.manifest.lines.values())


# --- orchestrator, fallback, ambiguity ---------------------------------------------------------


def test_given_catalog_when_detecting_orchestrator_then_it_is_the_agent_listing_workflows(
    selector: Selector, catalog: Catalog, orchestrator_id: str
) -> None:
    assert selector.orchestrator == orchestrator_id == find_orchestrator(catalog)


def test_given_orchestrator_override_when_detecting_then_existing_override_wins(catalog: Catalog) -> None:
    other = next(a for a in sorted(catalog.agents) if a != find_orchestrator(catalog))
    assert find_orchestrator(catalog, other) == other
    assert find_orchestrator(catalog, "no-such-agent") == find_orchestrator(catalog)
    sel = Selector(catalog, SelectionConfig(orchestrator_agent=other)).select(Context())
    assert sel.agent_ids == [other]


def test_given_catalog_without_router_when_detecting_orchestrator_then_none(catalog: Catalog) -> None:
    plain = {aid: a.model_copy(update={"menu": [], "title": "Worker"},
                                deep=True) for aid, a in catalog.agents.items()}
    for a in plain.values():
        a.persona.role = "worker"
    assert find_orchestrator(catalog.model_copy(update={"agents": plain})) is None


def test_given_context_with_nothing_when_selecting_then_orchestrator_fallback(
    selector: Selector, orchestrator_id: str
) -> None:
    for ctx in (Context(), Context(user_role="architect"), Context(request="zzqx blorp"), Context(request="the")):
        sel = selector.select(ctx)
        assert sel.agent_ids == [orchestrator_id]
        assert [r.rule for r in sel.agents[0].reasons] == ["fallback:orchestrator"]


def test_given_ambiguous_request_when_selecting_then_orchestrator_is_added(
    catalog: Catalog, orchestrator_id: str
) -> None:
    one = Selector(catalog, SelectionConfig(text_max_agents=1))  # two close candidates: more than may load
    sel = one.select(Context(request="review the document"))
    rules = {a.id: [r.rule for r in a.reasons] for a in sel.agents}
    assert "text:ambiguous" in rules.get(orchestrator_id, [])
    assert len(sel.agent_ids) > 1


def test_given_ambiguous_request_with_structured_owner_when_selecting_then_no_orchestrator(
    selector: Selector, orchestrator_id: str
) -> None:
    sel = selector.select(Context(track="bmad-method", phase=2, request="what is the workflow status"))
    assert orchestrator_id not in sel.agent_ids
    assert "pm" in sel.agent_ids


def test_given_catalog_without_orchestrator_when_nothing_matches_then_selection_is_empty(catalog: Catalog) -> None:
    bare = Selector(catalog.model_copy(update={"agents": {"pm": catalog.agents["pm"]}}))
    bare.orchestrator = None
    sel = bare.select(Context(request="zzqx"))
    assert sel.agent_ids == [] and sel.loaded_tokens == 0


def test_given_empty_catalog_when_selecting_structured_context_then_nothing_and_zero_reduction() -> None:
    sel = Selector(Catalog(root="/nowhere", agents={})).select(Context(track="bmad-method", phase=2))
    assert (sel.agent_ids, sel.manifest, sel.reduction, sel.baseline_tokens) == ([], "", 0.0, 0)


def test_given_empty_catalog_when_selecting_request_then_nothing_and_no_exception() -> None:
    sel = Selector(Catalog(root="/nowhere", agents={})).select(Context(request="anything at all"))
    assert (sel.agent_ids, sel.manifest, sel.reduction, sel.baseline_tokens) == ([], "", 0.0, 0)


# --- combining evidence ------------------------------------------------------------------------


def test_given_phase_and_request_when_selecting_then_request_adds_its_best_agent(selector: Selector) -> None:
    sel = selector.select(Context(track="bmad-method", phase=2, request="write the test plan and test cases"))
    rules = {a.id: {r.rule for r in a.reasons} for a in sel.agents}
    assert "path:phase-required" in rules["pm"]
    text_picks = [a for a, r in rules.items() if "text:bm25" in r]
    assert len(text_picks) == 1


def test_given_next_workflow_and_two_part_request_when_selecting_then_clause_winner_is_added(
    selector: Selector,
) -> None:
    sel = selector.select(Context(next_workflow="prd", request="write the prd and then design the system architecture"))
    assert sel.agent_ids == ["architect", "pm"]
    assert any(r.rule == "text:clause" for a in sel.agents if a.id == "architect" for r in a.reasons)


def test_given_next_workflow_and_single_request_when_selecting_then_only_the_owner(selector: Selector) -> None:
    assert selector.select(Context(next_workflow="prd", request="write the prd")).agent_ids == ["pm"]


def test_given_phase_with_ui_when_selecting_then_ui_owner_joins_with_ui_rule(selector: Selector) -> None:
    sel = selector.select(Context(track="bmad-method", phase=2, has_ui=True))
    rules = {a.id: {r.rule for r in a.reasons} for a in sel.agents}
    assert rules == {"pm": {"path:phase-required"}, "ux-designer": {"path:phase-ui"}}


def test_given_optional_only_phase_when_selecting_then_owners_of_any_workflow(selector: Selector) -> None:
    sel = selector.select(Context(track="bmad-method", phase=1))
    assert sel.agent_ids == ["analyst"]
    assert {r.rule for r in sel.agents[0].reasons} == {"path:phase-any"}


def test_given_track_without_path_file_and_request_when_selecting_then_track_is_a_text_hint(
    selector: Selector,
) -> None:
    sel = selector.select(Context(track="quick-flow", request="small bug fix"))
    assert sel.agent_ids == ["quick-flow-solo-dev"]


def test_given_resolved_context_when_selecting_resolved_then_same_as_select(selector: Selector) -> None:
    ctx = Context(track="bmad-method", workflow_history=["prd"])
    assert selector.select_resolved(selector.resolve(ctx)).agent_ids == selector.select(ctx).agent_ids
    assert selector.select_resolved(Resolved(next_workflow="no-such")).agent_ids == [selector.orchestrator]


@pytest.mark.parametrize(
    "ctx",
    [
        Context(track="enterprise", field_type="greenfield", phase=0),
        Context(track="nonsense", field_type="purple", phase=20, next_workflow="x" * 200),
        Context(phase=4, next_workflow="brainstorm-project", has_ui=True, workflow_history=["sprint-planning"]),
        Context(complexity_level=0, next_workflow="prd"),
        Context(workflow_history=["prd", "prd", "unknown", "document-project"], field_type="greenfield"),
        Context(request="!!! ??? ... 🙂🙂", user_role="🙂"),
        Context(request="und dann; then. plus and also", user_role="product_manager"),
    ],
)
def test_given_contradictory_or_unknown_context_when_selecting_then_never_raises(
    selector: Selector, ctx: Context
) -> None:
    sel = selector.select(ctx)
    assert sel.agent_ids
    assert manifest_ids(sel) == sorted(set(selector.catalog.agents) - set(sel.agent_ids))


def test_given_known_track_without_phase_when_selecting_request_then_track_words_do_not_change_it(
    selector: Selector,
) -> None:
    changed = []
    for line in read_suite(REQUESTS):
        ctx = line["context"]
        if ctx.get("track") or ctx.get("complexity_level") is not None or ctx.get("phase") is not None:
            continue
        plain = selector.select(Context(**ctx)).agent_ids
        with_track = selector.select(Context(**{**ctx, "track": "bmad-method"})).agent_ids
        if with_track != plain:
            changed.append((line["id"], plain, with_track))
    assert changed == []
