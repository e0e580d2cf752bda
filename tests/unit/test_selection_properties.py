"""Property tests: the selector's guarantees hold for any context within validation bounds."""

from __future__ import annotations

from typing import Any

from _fixtures import bundled_catalog, bundled_selector, path_owners, path_workflow_ids
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentload.context import Context
from agentload.selection.manifest import HEADER
from agentload.tokens import count_tokens

CATALOG = bundled_catalog()
SELECTOR = bundled_selector()
AGENTS = sorted(CATALOG.agents)
PATH_WORKFLOWS = path_workflow_ids(CATALOG)
MENU_NAMES = sorted({m.name for a in CATALOG.agents.values() for m in a.menu if m.name})
TRACK_NAMES = sorted({n for t in SELECTOR.resolver.tracks for n in (t.aliases + [t.track or ""]) if n}
                     | set(SELECTOR.resolver.level_tracks.values()))
FIELD_TYPES = sorted({p.field_type for p in CATALOG.paths if p.field_type})
PHASES = sorted({ph.phase for p in CATALOG.paths for ph in p.phases})
ROLES = ["developer", "product_manager", "architect", "designer", "tester", "analyst", "scrum_master",
         "stakeholder", *(a.title for a in CATALOG.agents.values())]
WORDS = sorted({w for a in CATALOG.agents.values() for m in a.menu for w in m.description.split()} | set(MENU_NAMES))

PROPS = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def _or_random(values: list[Any], max_size: int) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.sampled_from(values), st.text(max_size=max_size))


requests = st.one_of(
    st.none(),
    st.text(max_size=300),
    st.lists(st.sampled_from(WORDS + ["then", "and then", ".", ",", "und dann", "plus"]), max_size=25).map(" ".join),
)

contexts = st.fixed_dictionaries(
    {
        "track": _or_random(TRACK_NAMES, 100),
        "field_type": _or_random(FIELD_TYPES, 100),
        "phase": st.one_of(st.none(), st.sampled_from(PHASES), st.integers(0, 20)),
        "complexity_level": st.one_of(st.none(), st.integers(0, 4)),
        "has_ui": st.one_of(st.none(), st.booleans()),
        "user_role": _or_random(ROLES, 100),
        # ids never hold commas (a comma-joined list is refused with a 422-worthy error)
        "workflow_history": st.lists(st.one_of(st.sampled_from(PATH_WORKFLOWS + MENU_NAMES),
                                               st.text(max_size=200).filter(lambda t: "," not in t)),
                                     max_size=12),
        "next_workflow": _or_random(PATH_WORKFLOWS + MENU_NAMES, 200),
        "request": requests,
    }
)


@PROPS
@given(fields=contexts, next_workflow=st.sampled_from(PATH_WORKFLOWS))
def test_given_any_path_workflow_as_next_when_selecting_then_its_owner_is_loaded(
    fields: dict[str, Any], next_workflow: str
) -> None:
    ctx = Context(**{**fields, "next_workflow": next_workflow})
    sel = SELECTOR.select(ctx)
    owners = path_owners(CATALOG, next_workflow)
    assert owners and owners <= set(sel.agent_ids), (ctx, sel.agent_ids, sel.notes)


@PROPS
@given(fields=contexts)
def test_given_any_context_when_selecting_full_then_every_agent_is_returned(fields: dict[str, Any]) -> None:
    sel = SELECTOR.select(Context(**fields), "full")
    assert sel.agent_ids == AGENTS
    assert sel.manifest == "" and sel.reduction == 0.0


@PROPS
@given(fields=contexts, strategy=st.sampled_from(["selective", "cached"]))
def test_given_any_context_when_selecting_then_never_raises_and_accounting_holds(
    fields: dict[str, Any], strategy: str
) -> None:
    sel = SELECTOR.select(Context(**fields), strategy)
    ids = sel.agent_ids
    assert ids and ids == sorted(set(ids)) and set(ids) <= set(AGENTS)
    assert all(a.reasons for a in sel.agents)
    listed = [line[2:].split(":", 1)[0] for line in sel.manifest.splitlines()[1:]]
    assert listed == sorted(set(AGENTS) - set(ids))
    assert not listed or sel.manifest.startswith(HEADER)
    assert sel.manifest_tokens == count_tokens(sel.manifest)
    assert sel.optimized_tokens == sel.loaded_tokens + sel.manifest_tokens
    assert sel.file_reduction == round(1 - sel.optimized_tokens / sel.baseline_tokens, 6)
    assert sel.reduction == round(1 - sel.context_tokens / sel.full_context_tokens, 6)


@PROPS
@given(fields=contexts, role=_or_random(ROLES, 100))
def test_given_no_request_when_only_user_role_differs_then_key_and_selection_are_equal(
    fields: dict[str, Any], role: str | None
) -> None:
    base = {**fields, "request": None}
    a = SELECTOR.select(Context(**base))
    b = SELECTOR.select(Context(**{**base, "user_role": role}))
    assert a.key == b.key and a.agent_ids == b.agent_ids


@PROPS
@given(fields=contexts)
def test_given_same_context_when_selecting_twice_then_selection_is_deterministic(fields: dict[str, Any]) -> None:
    ctx = Context(**fields)
    assert SELECTOR.select(ctx).model_dump() == SELECTOR.select(ctx).model_dump()
