"""Which contexts a version precomputes, and computing their selections."""

from __future__ import annotations

from pathlib import Path

from _fixtures import BUNDLED, bundled_selector

from agentload.catalog import load_catalog
from agentload.context import Context
from agentload.keys import FULL_KEY
from agentload.publish.contexts import compute_selections, enumerate_contexts, iter_selections, structured_resolved
from agentload.selection.engine import Selector


def test_given_bundled_catalog_when_enumerating_then_every_path_workflow_has_a_key_per_path_file() -> None:
    selector = bundled_selector()
    resolved = list(structured_resolved(selector).values())
    for track in selector.resolver.tracks:
        for phase in track.phases:
            for wid in phase.all:
                assert any(r.next_workflow == wid and r.files == [track.file] and r.phase == phase.phase
                           for r in resolved), (track.file, wid)


def test_given_bundled_catalog_when_enumerating_then_every_phase_has_ui_and_no_ui_keys() -> None:
    selector = bundled_selector()
    resolved = list(structured_resolved(selector).values())
    for track in selector.resolver.tracks:
        for phase in track.phases:
            here = [r for r in resolved if r.files == [track.file] and r.phase == phase.phase
                    and r.next_workflow is None]
            expected = {False, True} if phase.ui else {None}
            assert {r.has_ui for r in here} == expected, (track.file, phase.phase)


def test_given_bundled_catalog_when_enumerating_then_menu_workflows_and_wildcards_are_covered() -> None:
    selector = bundled_selector()
    keys = structured_resolved(selector)
    contexts = list(enumerate_contexts(selector.resolver))
    assert {c.next_workflow for c in contexts if c.track is None and c.field_type is None} >= set(
        selector.resolver.menu_owners)
    for wid in selector.resolver.menu_owners:
        assert selector.resolve(Context(next_workflow=wid)).key() in keys
    wildcard = [Context(track="bmad-method"), Context(field_type="brownfield", phase=2), Context()]
    assert all(selector.resolve(c).key() in keys for c in wildcard)


def test_given_scenario_like_contexts_when_resolving_then_their_keys_are_precomputed() -> None:
    """Contexts as clients send them (history, level, role) map onto enumerated keys."""
    selector = bundled_selector()
    keys = structured_resolved(selector)
    for track in selector.resolver.tracks:
        done: list[str] = []
        for phase in track.phases:
            for wid in phase.all:
                ctx = Context(track=track.track, field_type=track.field_type, phase=phase.phase,
                              complexity_level=4 if "enterprise" in (track.track or "") else 3,
                              has_ui=True, user_role="developer", workflow_history=list(done),
                              next_workflow=wid)
                assert selector.resolve(ctx).key() in keys, (track.file, wid)
                done.append(wid)
            phase_ctx = Context(track=track.track, field_type=track.field_type, phase=phase.phase,
                                has_ui=False, workflow_history=list(done))
            assert selector.resolve(phase_ctx).key() in keys


def test_given_selector_when_computing_then_selections_are_keyed_by_resolved_key_plus_full() -> None:
    selector = bundled_selector()
    selections = compute_selections(selector)
    assert selections[FULL_KEY].strategy == "full"
    assert len(selections[FULL_KEY].agents) == len(selector.catalog.agents)
    for key, sel in selections.items():
        if key != FULL_KEY:
            assert sel.key == key and sel.strategy == "selective"


def _plain_selections(selector: Selector) -> dict[str, object]:
    """What the selector itself answers for every enumerated key."""
    out: dict[str, object] = {k: selector.select_resolved(r).model_dump(mode="json")
                              for k, r in structured_resolved(selector).items()}
    out[FULL_KEY] = selector.select_resolved(selector.resolve(Context()), "full").model_dump(mode="json")
    return out


def test_given_selector_when_computing_then_selections_equal_the_selectors_own_and_it_is_untouched() -> None:
    selector = bundled_selector()
    manifest = selector.manifest
    selections = compute_selections(selector)
    assert selector.manifest is manifest
    assert {k: s.model_dump(mode="json") for k, s in selections.items()} == _plain_selections(selector)


def test_given_synthetic_catalog_when_computing_then_selections_equal_the_selectors_own(tmp_path: Path) -> None:
    """At scale (hundreds of agents, bounded manifests) the streamed selections are the selector's."""
    from agentload.measure.synthetic import make_synthetic_catalog

    selector = Selector(load_catalog(make_synthetic_catalog(BUNDLED, tmp_path / "syn", 200)))
    selections = dict(iter_selections(selector))
    assert {k: s.model_dump(mode="json") for k, s in selections.items()} == _plain_selections(selector)
    assert selector.manifest.bounded and all(s.manifest_ids is not None for k, s in selections.items()
                                             if k != FULL_KEY)
